"""Baselines: compromise, weighted median / Condorcet winner, status quo (spec §5)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stakes.engine import run_scenario
from stakes.models.baselines import condorcet_winners, weighted_median


def _forecast(scn, model, **opts):
    (res,) = run_scenario(scn, [model], options={model: opts} if opts else None)
    return res.run.forecast[0], res.run


def test_ec_round0_baselines(ec_scenario):
    # spec §2.11: c·s-weighted mean 7.390, weighted median 7, Condorcet winner 7.
    mean, _ = _forecast(ec_scenario, "compromise")
    assert mean == pytest.approx(7.390, abs=5e-4)
    med, run = _forecast(ec_scenario, "median")
    assert med == 7
    assert run.info["condorcet_winners"] == [[7.0]]


def test_compromise_weight_options(ec_scenario):
    eq, _ = _forecast(ec_scenario, "compromise", weights="equal")
    assert eq == pytest.approx(np.mean([4, 7, 4, 4, 10, 10, 10, 7, 4, 7]))
    s_only, _ = _forecast(ec_scenario, "compromise", weights="s")
    x = np.array([4, 7, 4, 4, 10, 10, 10, 7, 4, 7.0])
    s = np.array([0.8, 0.4, 0.2, 0.8, 0.6, 0.6, 0.9, 0.1, 1.0, 0.7])
    assert s_only == pytest.approx((x * s).sum() / s.sum())


def test_median_ties():
    x = np.array([0.0, 10.0])
    w = np.array([1.0, 1.0])
    assert weighted_median(x, w, "lower") == 0.0
    assert weighted_median(x, w, "midpoint") == 5.0
    assert weighted_median(np.array([3.0, 1.0, 2.0]), np.ones(3)) == 2.0


def test_status_quo_needs_one(ec_scenario):
    from stakes.errors import ModelError

    with pytest.raises(ModelError, match="gives no status quo"):
        run_scenario(ec_scenario, ["status-quo"])


finite = st.floats(0, 100, allow_nan=False)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(finite, st.floats(0.01, 10), st.floats(0.01, 1)), min_size=1,
                max_size=12))
def test_weighted_median_is_a_condorcet_winner(rows):
    x = np.array([r[0] for r in rows])
    w = np.array([r[1] * r[2] for r in rows])
    med = weighted_median(x, w)
    winners = condorcet_winners(x, w)
    assert np.any(np.isclose(winners, med, atol=1e-9))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(finite, st.floats(0.01, 10)), min_size=1, max_size=12),
       st.floats(0.001, 1000))
def test_scaling_weights_changes_nothing(rows, k):
    x = np.array([r[0] for r in rows])
    w = np.array([r[1] for r in rows])
    assert weighted_median(x, w) == weighted_median(x, w * k)
