"""The JAX backend's arithmetic power (``_JaxNamespace.pow_nonneg``) against numpy.

The EUM round computes fractional powers as exp(ρ · log b) (``stakes.kernels.eum._pow``).
Under JAX the log and exp are written as arithmetic (fdlibm's algorithms) so that XLA
vectorises them; they must give the numbers numpy's ``exp(rho * log(base))`` gives, to
the rounding of the formula itself, and the same special values.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stakes.kernels.backend import get_backend, jax_available

pytestmark = pytest.mark.skipif(not jax_available(), reason="the jax extra is not installed")


def _pow(base, rho):
    import jax

    xp = get_backend("jax").xp
    fn = jax.jit(lambda b, r: xp.pow_nonneg(b, r))
    return np.asarray(fn(np.asarray(base, dtype=float), np.asarray(rho, dtype=float)))


def _reference(base, rho):
    with np.errstate(divide="ignore"):
        return np.exp(rho * np.log(base))


def _ulps_apart(a, b):
    return np.abs(a.view(np.int64) - b.view(np.int64))


def test_matches_numpy_over_the_eum_domain():
    # Bases in [0, 1] (distances over Δ and 0.5 ± d/2) and exponents of eq. 33.
    rng = np.random.default_rng(7)
    base = np.concatenate([rng.uniform(0, 1, 200_000), np.linspace(0, 1, 1001)])
    rho = rng.uniform(0.5, 2.0, base.size)
    got, want = _pow(base, rho), _reference(base, rho)
    normal = want > 1e-300
    # exp(ρ log b) inherits log b's rounding, amplified by |ρ log b|; both codes
    # round their own log and exp correctly to within one unit in the last place.
    rel = np.abs(got[normal] - want[normal]) / want[normal]
    assert rel.max() < 1e-14
    assert np.median(_ulps_apart(got[normal], want[normal])) <= 1
    assert np.all(got[~normal] <= 1e-300)


def test_special_values():
    base = np.array([0.0, 1.0, 0.5, 0.25, 2.0, 1e300, 1e-300, 1.0])
    rho = np.array([0.7, 1.3, 1.0, 0.5, 3.0, 2.0, 0.5, 0.5])
    got = _pow(base, rho)
    assert got[0] == 0.0 and got[1] == 1.0 and got[7] == 1.0
    assert got[2] == 0.5 and got[3] == 0.5
    assert got[4] == _reference(2.0, 3.0)  # 2³ as exp(3 log 2), as numpy rounds it
    assert got[5] == np.inf
    np.testing.assert_allclose(got[6], _reference(1e-300, 0.5), rtol=1e-13)


@settings(max_examples=50, deadline=None)
@given(st.floats(min_value=1e-300, max_value=1e6), st.floats(min_value=0.05, max_value=20.0))
def test_any_positive_base_and_exponent(b, r):
    want = float(_reference(np.array(b), np.array(r)))
    got = float(_pow(np.array(b), np.array(r)))
    if want == 0.0 or not np.isfinite(want) or want < 1e-300:
        assert got == want or (got < 1e-300 and want < 1e-300)
    else:
        assert abs(got - want) <= 1e-13 * want
