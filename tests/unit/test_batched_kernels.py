"""Batched kernels (stakes.kernels.batched, stakes.kernels.backend) and the round driver.

* a member of a batch run by the driver (records off, members pooled and
  retired) gives what the EUM model gives on it alone (a batch of one with
  records on), levers included;
* the batched compromise is the weighted mean;
* numpy and JAX agree to 1e-9 of the scale on the round step, and on whole
  runs except where a near-tie flips one of the model's discrete choices;
* cutting a sweep into chunks does not change a single number.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stakes import driver
from stakes.engine import interventions_for, run_scenario
from stakes.kernels import batched as kb
from stakes.kernels.backend import get_backend, jax_available
from stakes.kernels.eum import KernelOptions, eum_round
from stakes.models.base import Problem, Schedule
from stakes.models.eum import EUM, EUMOptions, run_eum_members

FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
needs_jax = pytest.mark.skipif(not jax_available(),
                               reason="JAX is not installed (pip install 'stakes[jax]')")

SYNTHETIC = """
stakes: 1
metadata: {name: "Synthetic levers"}
actors:
  - {id: A, name: A, capability: 1.0}
  - {id: B, name: B, capability: {value: 0.6, sd: 0.2}}
  - {id: C, name: C, capability: 0.9}
  - {id: D, name: D, capability: 0.3}
  - {id: E, name: E, capability: 0.5}
  - {id: F, name: F, capability: 0.8, present: false}
issues:
  - {id: x, name: X, scale: {min: 0, max: 100}, status_quo: 20}
  - {id: y, name: Y, scale: {min: 0, max: 10}, status_quo: {value: 5, sd: 1}}
entries:
  - {actor: A, issue: x, position: 10, salience: 0.9}
  - {actor: B, issue: x, position: {value: 40, range: [30, 50]}, salience: 0.5}
  - {actor: C, issue: x, position: 70, salience: {value: 0.7, sd: 0.2}}
  - {actor: D, issue: x, position: 95, salience: 0.4}
  - {actor: E, issue: x, position: 55, salience: 0.6, capability: 1.5}
  - {actor: F, issue: x, position: 30, salience: 0.8}
  - {actor: A, issue: y, position: 2, salience: 0.3}
  - {actor: B, issue: y, position: 8, salience: 0.9}
  - {actor: C, issue: y, position: 6, salience: 0.5}
  - {actor: D, issue: y, position: 1, salience: 0.8}
levers:
  - id: push
    name: push
    effects:
      - {actor: A, position: {add: 15}}
      - {actor: B, issues: [x], salience: {scale: 0.5}}
  - id: enter
    name: enter
    round: 1
    effects: [{add_actor: F}]
  - id: leave
    name: leave
    round: 2
    effects: [{remove_actor: D}]
  - id: boost
    name: boost
    effects:
      - {actor: C, capability: {scale: 2}}
      - {actor: E, issues: [x], position: {set: 90}}
  - id: late
    name: late
    round: 60
    effects: [{actor: A, position: {set: 0}}]
plans:
  - id: combo
    name: combo
    steps: [{lever: push}, {lever: enter, round: 3}, {lever: leave}]
"""


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    from stakes.api import load

    path = tmp_path_factory.mktemp("scn") / "synthetic.yaml"
    path.write_text(SYNTHETIC)
    return load(path)


def _problem(x, c, s, lo=0.0, hi=100.0):
    n = len(x)
    return Problem(("i",), tuple(f"a{k}" for k in range(n)), x[:, None], s[:, None], c[:, None],
                   np.array([lo]), np.array([hi]), np.array([np.nan]))


def _random_batch(seed, b, n, grid=True):
    rng = np.random.default_rng(seed)
    if grid:  # shared positions make ties, the hard case of the stopping rules
        x = rng.choice(np.linspace(0, 100, 11), size=(b, n))
    else:
        x = rng.uniform(0, 100, size=(b, n))
    return x, rng.uniform(0.05, 2.0, size=(b, n)), rng.uniform(0.0, 1.0, size=(b, n))


OPTION_SETS = [
    {},
    {"cycle_forecast": "cycle_mean"},
    {"forecast": "mean", "delta_fixed": False},
    {"max_rounds": 7, "prob": "paper", "median_tie": "midpoint"},
    {"cycle_detection": False, "max_rounds": 12, "offer_priority": "bdm_smallest_move"},
    {"Q": 0.5, "tol": 1e-3},
]


@pytest.mark.parametrize("optd", OPTION_SETS)
def test_batch_member_equals_batch_of_one(optd):
    x, c, s = _random_batch(1, 40, 8)
    o = EUMOptions(**optd)
    res = run_eum_members(x, c, s, o, "numpy")
    for b in range(len(x)):
        run = EUM().run(_problem(x[b], c[b], s[b]), o, Schedule.empty(), np.random.default_rng(0))
        assert res.forecast[b] == pytest.approx(run.forecast[0], abs=1e-12)
        assert res.stop_names()[b] == run.stop
        assert res.rounds[b] == run.info["rounds_run"] == len(run.rounds) - 1
        assert res.cycle_length[b] == (run.info["cycle_length"] or 0)


def test_cycle_hashes_only_prefilter(monkeypatch):
    """With every key hashing alike, the stops are still the exact-key ones."""
    x, c, s = _random_batch(3, 60, 7)
    o = EUMOptions(cycle_forecast="cycle_mean")
    exact = run_eum_members(x, c, s, o)
    assert (exact.stop == driver.CYCLE).any() and (exact.stop != driver.CYCLE).any()
    monkeypatch.setattr(driver, "_hash_keys", lambda key: np.zeros(len(key), dtype=np.uint64))
    colliding = run_eum_members(x, c, s, o)
    np.testing.assert_array_equal(colliding.stop, exact.stop)
    np.testing.assert_array_equal(colliding.rounds, exact.rounds)
    np.testing.assert_array_equal(colliding.cycle_length, exact.cycle_length)
    np.testing.assert_array_equal(colliding.forecast, exact.forecast)


def test_batched_eum_handles_no_disagreement_and_one_actor():
    x = np.array([[30.0, 30.0, 30.0], [10.0, 50.0, 90.0]])
    c = np.ones_like(x)
    s = np.full_like(x, 0.5)
    res = run_eum_members(x, c, s)
    assert res.stop_names()[0] == "converged" and res.rounds[0] == 0 and res.flat[0]
    assert res.forecast[0] == 30.0
    one = run_eum_members(np.array([[42.0]]), np.ones((1, 1)), np.ones((1, 1)))
    assert one.forecast[0] == 42.0 and one.rounds[0] == 0
    with pytest.raises(ValueError, match="no actor"):
        run_eum_members(np.zeros((2, 0)), np.zeros((2, 0)), np.zeros((2, 0)))


def test_driver_levers_past_the_limit_are_reported_and_never_applied():
    x, c, s = _random_batch(5, 6, 5, grid=False)

    def set_zero(m):
        return driver.Members(m.ids, np.zeros_like(m.x), m.c, m.s)

    late = run_eum_members(x, c, s, levers={10: set_zero}, max_rounds=10)
    plain = run_eum_members(x, c, s, max_rounds=10)
    assert late.timing.info() == {"levers_not_applied": [10]}
    np.testing.assert_array_equal(late.forecast, plain.forecast)
    # A lever at round 3 that removes all disagreement: every member stops there.
    flat = run_eum_members(x, c, s, levers={3: set_zero}, max_rounds=10)
    assert flat.timing.info() == {}
    assert (flat.rounds == 3).all() and flat.flat.all()


@pytest.mark.parametrize("eum_options", [{}, {"cycle_forecast": "cycle_mean", "max_rounds": 20}])
def test_ensemble_equals_model_runs_with_levers(synthetic, eum_options):
    """Every model, lever and plan (actors entering and leaving, lever rounds past the limit)."""
    from stakes.analysis.ensemble import Ensemble
    from stakes.analysis.uncertainty import input_space

    space = input_space(synthetic)
    ivs = interventions_for(synthetic, "all", "all")
    models = ["eum", "compromise", "median", "nbs", "status-quo"]
    opts = {"eum": eum_options, "median": {"median_tie": "midpoint"}}
    ens = Ensemble(space, models, ivs, options=opts, backend=get_backend("numpy"))
    assert not ens.skipped
    # Work is shared: fewer tasks than (model, intervention, issue) triples.
    assert len(ens.tasks) < len(ens.plan)
    values = space.draw(3, 0, 4)
    ev = ens.evaluate(values)
    for m in range(len(values)):
        mscn = space.scenario_for(values[m])
        for r in run_scenario(mscn, models, options=opts, interventions=ivs):
            key = (r.run.model, r.intervention.label, r.run.issue_ids[0], None)
            assert ev.forecasts[key][m] == pytest.approx(r.run.forecast[0], abs=1e-9), key


def test_signature_sharing(synthetic):
    from stakes.analysis.ensemble import signature

    ivs = {iv.label: iv for iv in interventions_for(synthetic, "all", "all")}
    base = ivs["baseline"]
    # "late" (round 60) is past the EUM's round limit: the baseline's task.
    assert signature(synthetic, ivs["lever:late"], "x", "eum", 50) == \
        signature(synthetic, base, "x", "eum", 50)
    # ... but the baselines apply it.
    assert signature(synthetic, ivs["lever:late"], "x", "median", None) != \
        signature(synthetic, base, "x", "median", None)
    # "enter" adds F, who has no stance on y: nothing changes there, except
    # that the EUM may not stop before round 1.
    assert signature(synthetic, ivs["lever:enter"], "y", "median", None) == ()
    assert signature(synthetic, ivs["lever:enter"], "y", "eum", 50) == ((), (1,))


@given(st.integers(0, 10_000), st.integers(1, 12))
@FAST
def test_batched_compromise_is_the_weighted_mean(seed, n):
    rng = np.random.default_rng(seed)
    x = rng.choice(np.linspace(0, 10, 6), size=(5, n))
    w = rng.choice([0.0, 0.5, 1.0, 2.0], size=(5, n))
    comp = kb.compromise(np, x, w)
    for b in range(5):
        tot = w[b].sum()
        ref = (w[b] * x[b]).sum() / tot if tot > 0 else x[b].mean()
        assert comp[b] == pytest.approx(ref, abs=1e-12)


@given(st.integers(1, 3000))
@FAST
def test_tiles_cover_every_run_once(count):
    for name in ("numpy",) + (("jax",) if jax_available() else ()):
        be = get_backend(name)
        tiles = kb._tiles(be, count)
        assert tiles[0][0] == 0 and tiles[-1][1] == count
        assert all(a[1] == b[0] for a, b in zip(tiles, tiles[1:]))
        assert all(size >= stop - start for start, stop, size in tiles)
        if be.pads:
            assert {size for *_, size in tiles} <= {be.tile, be.small_tile}


def test_chunking_does_not_change_results(synthetic):
    from stakes.analysis.sweep import run_sweep

    ivs = interventions_for(synthetic, "all", "all")
    kw = dict(runs=30, seed=5, models=["eum", "median"], interventions=ivs, backend="numpy")
    whole = run_sweep(synthetic, chunk_size=30, **kw)
    cut = run_sweep(synthetic, chunk_size=7, **kw)
    assert cut.chunk_size == 7 and whole.chunk_size == 30
    assert whole.forecasts.keys() == cut.forecasts.keys()
    for k in whole.forecasts:
        np.testing.assert_array_equal(whole.forecasts[k], cut.forecasts[k])


# --------------------------------------------------------------------------
# numpy vs JAX


@needs_jax
@pytest.mark.parametrize("optd", [{}, {"prob": "paper", "Q": 0.5, "compromise": "eu_weighted"},
                                  {"risk_domain": "positions"}])
def test_jax_round_agrees_with_numpy(optd):
    opts = EUMOptions(**optd).kernel()
    x, c, s = _random_batch(7, 64, 12, grid=False)
    lo = x.min(axis=1)
    delta = x.max(axis=1) - lo
    ref = eum_round(np, x, c, s, lo, delta, opts)
    pos, med = get_backend("jax").eum_rounds(x, c, s, lo, delta, n_rounds=1, opts=opts,
                                             delta_fixed=True)
    np.testing.assert_allclose(pos[0], ref.position, rtol=0, atol=1e-9 * 100)
    from stakes.kernels.eum import median_position

    np.testing.assert_allclose(med[0], median_position(np, ref.position, c * s), atol=1e-9)


@needs_jax
def test_jax_namespace_round_equals_numpy_round_functions():
    """The rewritten product of the JAX namespace is the same sum."""
    be = get_backend("jax")
    rng = np.random.default_rng(0)
    a = rng.uniform(size=(3, 1, 5))
    b = rng.uniform(size=(3, 5, 25))
    np.testing.assert_allclose(np.asarray(be.xp.matmul(a, b)), a @ b, rtol=1e-13)
    a2 = rng.uniform(size=(3, 4, 5))
    np.testing.assert_allclose(np.asarray(be.xp.matmul(a2, b)), a2 @ b, rtol=1e-13)


@needs_jax
def test_jax_runs_agree_with_numpy():
    """Whole runs with stopping rules, 20 actors, 10 rounds.

    The EUM's choices are discrete (equal positions, strict inequalities
    between expected utilities), so a last-bit difference can flip one of
    them in a rare run; every other run agrees to 1e-9 of the scale.
    """
    x, c, s = _random_batch(11, 300, 20, grid=False)
    a = run_eum_members(x, c, s, max_rounds=10, backend="numpy")
    b = run_eum_members(x, c, s, max_rounds=10, backend="jax")
    close = np.abs(a.forecast - b.forecast) <= 1e-9 * 100
    assert close.mean() >= 0.99
    assert np.array_equal(a.stop[close], b.stop[close])
    assert np.array_equal(a.rounds[close], b.rounds[close])


@needs_jax
def test_batched_jax_kernels_agree_with_numpy():
    import jax.numpy as jnp

    x, c, s = _random_batch(2, 16, 9)
    w = c * s
    for tie in ("lower", "midpoint"):
        np.testing.assert_allclose(np.asarray(kb.weighted_median(jnp, x, w, tie)),
                                   kb.weighted_median(np, x, w, tie), atol=1e-12)
    np.testing.assert_allclose(np.asarray(kb.compromise(jnp, x, w)), kb.compromise(np, x, w),
                               atol=1e-12)
    q = np.full(len(x), 20.0)
    sol_j, ok_j = kb.nbs_issue(jnp, x, s, w, q, 0.0, 100.0, 2)
    sol_n, ok_n = kb.nbs_issue(np, x, s, w, q, 0.0, 100.0, 2)
    np.testing.assert_array_equal(np.asarray(ok_j), ok_n)
    np.testing.assert_allclose(np.asarray(sol_j), sol_n, atol=1e-9)


def test_unknown_backend_is_an_option_error():
    from stakes.analysis.sweep import backend_for
    from stakes.errors import OptionError

    with pytest.raises(OptionError, match="unknown backend"):
        backend_for("cupy")


def test_fixed_rounds_equal_kernel_loop():
    from stakes.kernels.eum import iterate_rounds

    x, c, s = _random_batch(4, 10, 7)
    traj, _, _ = iterate_rounds(np, x, c, s, 5, KernelOptions())
    np.testing.assert_array_equal(kb.eum_fixed_rounds(x, c, s, 5), traj[-1])
