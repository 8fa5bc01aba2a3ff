"""Predictive distributions, their calibration, and the clustered comparison: known answers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stakes.backtest import distribution as D
from stakes.backtest.calibration import calibrate_one
from stakes.backtest.compare import clustered_difference
from stakes.ledger import crps_discrete


def synthetic(n: int, em: D.ErrorModel, seed: int = 0):
    """Issues with 6 actors on whole-number positions, outcomes drawn from ``em`` itself."""
    rng = np.random.default_rng(seed)
    pos = rng.integers(0, 11, (n, 6)) * 10.0
    pos[rng.random((n, 6)) < 0.2] = np.nan
    pos[:, 0] = rng.integers(0, 11, n) * 10.0  # at least one position per issue
    sal = rng.integers(1, 11, (n, 6)) * 10.0
    w = np.where(np.isnan(pos), 0.0, sal)
    m = np.nansum(pos * w, axis=1) / w.sum(axis=1)
    share = D.position_support(pos, w)
    sp = D.spread(m, pos, sal)
    p = D.predictive(em, m, share, sp)
    u = rng.random(n)[:, None]
    y = np.argmax(np.cumsum(p, axis=1) >= u, axis=1).astype(float)
    return m, pos, sal, w, share, sp, y


TRUE = D.ErrorModel(a=6.0, s=0.4, pi=0.5, tau=1.0, beta=1.0, ends=0.05)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.5, 30), st.floats(0, 2), st.floats(0, 0.9),
       st.floats(0.1, 5), st.floats(0, 3))
def test_predictive_is_a_distribution(seed, a, s, pi, tau, beta):
    em = D.ErrorModel(a=a, s=s, pi=pi, tau=tau, beta=beta, ends=min(0.1, 1 - pi))
    m, pos, sal, w, share, sp, _ = synthetic(5, TRUE, seed)
    p = D.predictive(em, m, share, sp)
    assert p.shape == (5, 101)
    assert np.all(p >= -1e-12)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.floats(0, 100))
def test_grid_crps_equals_the_general_formula(seed, y):
    m, pos, sal, w, share, sp, _ = synthetic(1, TRUE, seed)
    p = D.predictive(TRUE, m, share, sp)
    grid = D.crps(p, np.array([y]))[0]
    assert grid == pytest.approx(crps_discrete(D.GRID, p[0], y), abs=1e-9)


def test_crps_of_a_point_mass_is_the_absolute_error():
    p = np.zeros((1, 101))
    p[0, 30] = 1.0
    assert D.crps(p, np.array([72.0]))[0] == pytest.approx(42.0)
    assert crps_discrete(np.array([30.0]), np.array([1.0]), 72.0) == pytest.approx(42.0)


def test_interval_score_formula():
    # Gneiting & Raftery (2007): width + (2/alpha) × distance outside.
    s = D.interval_score(np.array([20.0, 20.0]), np.array([60.0, 60.0]),
                         np.array([40.0, 70.0]), 0.8)
    np.testing.assert_allclose(s, [40.0, 40.0 + 10 * 10.0])


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.05, 0.99), st.floats(0.05, 3.0))
def test_interval_is_the_shortest_that_holds_the_level(seed, level, conc):
    p = np.random.default_rng(seed).dirichlet(np.full(101, conc), size=3)
    lo, hi = D.interval(p, level)
    F = np.concatenate([np.zeros((3, 1)), np.cumsum(p, axis=1)], axis=1)
    rows = np.arange(3)
    held = F[rows, hi.astype(int) + 1] - F[rows, lo.astype(int)]
    assert np.all(held >= level - 1e-9)
    # No interval one point shorter holds the level (a sliding window over the grid).
    for r in rows:
        w = int(hi[r] - lo[r])
        if w > 0:
            assert np.max(F[r, w:] - F[r, :102 - w]) < level - 1e-12
    clo, chi = D.central_interval(p, level)
    assert np.all(hi - lo <= chi - clo)


def test_interval_takes_in_an_end_whose_mass_is_worth_its_width():
    # 15% at 0 and the rest spread over 3–32: the central 64% interval starts above 0
    # (0 holds less than 18%); the shortest takes 0 in, [0, 20] against 23 points without.
    p = np.zeros((1, 101))
    p[0, 0] = 0.15
    p[0, 3:33] = 0.85 / 30
    assert D.central_interval(p, 0.64)[0][0] > 0
    lo, hi = D.interval(p, 0.64)
    assert (lo[0], hi[0]) == (0, 20)


def test_fit_recovers_calibrated_intervals_and_flat_pit():
    m, pos, sal, w, share, sp, y = synthetic(1500, TRUE, 1)
    em = D.fit(m[:1000], share[:1000], sp[:1000], y[:1000])
    p = D.predictive(em, m[1000:], share[1000:], sp[1000:])
    for lv in D.LEVELS:
        lo, hi = D.interval(p, em.level_for(lv))
        cover = np.mean((y[1000:] >= lo) & (y[1000:] <= hi))
        assert abs(cover - lv) < 0.06, (lv, cover)
    counts = np.histogram(D.pit(p, y[1000:]), bins=5, range=(0, 1))[0]
    assert counts.min() > 70 and counts.max() < 130  # 100 each when calibrated
    # The fitted model scores as well as the one that made the data, on new issues.
    true = D.crps(D.predictive(TRUE, m[1000:], share[1000:], sp[1000:]), y[1000:]).mean()
    assert D.crps(p, y[1000:]).mean() < true * 1.03


def test_calibration_never_sees_the_test_fold():
    m, pos, sal, w, share, sp, y = synthetic(300, TRUE, 2)
    folds = np.arange(300) % 5
    a = calibrate_one("x", m, None, pos, sal, w, y, folds)
    y2 = y.copy()
    y2[folds == 3] = np.random.default_rng(9).integers(0, 101, (folds == 3).sum())
    b = calibrate_one("x", m, None, pos, sal, w, y2, folds)
    np.testing.assert_array_equal(a.P[folds == 3], b.P[folds == 3])
    assert not np.array_equal(a.P[folds == 0], b.P[folds == 0])


def test_clustered_difference_known_shift_and_width():
    rng = np.random.default_rng(0)
    clusters = np.repeat(np.arange(60), 5)
    ref = rng.random(300) * 10
    same = clustered_difference(ref, ref, clusters)
    assert same.mean == 0 and same.lo == 0 and same.hi == 0
    shifted = clustered_difference(ref + 2.0, ref, clusters)
    assert shifted.mean == pytest.approx(2.0) and shifted.lo == pytest.approx(2.0)
    # Noise shared within a proposal: the clustered interval is wider than one that
    # treats the 300 issues as independent.
    noise = np.repeat(rng.normal(0, 3, 60), 5)
    d = clustered_difference(ref + noise, ref, clusters)
    iid = clustered_difference(ref + noise, ref, np.arange(300))
    assert d.lo < d.mean < d.hi
    assert (d.hi - d.lo) > 1.5 * (iid.hi - iid.lo)
    # Bonferroni over 20 comparisons widens the interval.
    adj = clustered_difference(ref + noise, ref, clusters, m=20)
    assert adj.lo_adj < adj.lo and adj.hi_adj > adj.hi
