"""Properties of the EUM kernel and model (stakes.kernels.eum, stakes.models.eum)."""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stakes.errors import InputError, ModelError, OptionError
from stakes.kernels.eum import (
    KernelOptions,
    eum_round,
    first_round,
    iterate_rounds,
    run_eum,
    win_votes,
)
from stakes.models import get_model, make_options
from stakes.models.base import Problem, Schedule
from stakes.models.eum import EUM, EUMOptions

_REF_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "eum_loop_reference.py"
_spec = importlib.util.spec_from_file_location("eum_loop_reference", _REF_PATH)
loopref = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(loopref)

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Option sets covering every value of every per-round option at least once.
OPTION_SETS = [
    {},
    {"prob": "paper"},
    {"vote_risk": False, "median_tie": "midpoint"},
    {"target_salience": "literal", "eu_perspective": "actor"},
    {"Q": 0.4, "T": "eftekhari"},
    {"Q": 0.0, "T": "1"},
    {"Q": 0.7, "T": "0", "prob": "paper"},
    {"compromise": "eu_weighted", "capitulation": True},
    {"capitulation": True, "prob": "paper"},
    {"offer_priority": "bdm_smallest_move"},
    {"offer_priority": "bdm_smallest_move", "compromise": "eu_weighted", "prob": "paper"},
    {"risk_domain": "positions"},
    {"risk_domain": "positions", "prob": "paper", "Q": 0.5},
]


def random_issue(seed: int, n: int, *, duplicates: bool = True):
    """Continuous random inputs; positions drawn from a small pool so that actors share them."""
    rng = np.random.default_rng(seed)
    pool = rng.uniform(-5.0, 20.0, size=max(2, n - 1) if duplicates else n)
    x = rng.choice(pool, size=n) if duplicates else pool
    if np.ptp(x) == 0:
        x = pool[: n] if len(pool) >= n else np.resize(pool, n)
    c = rng.uniform(0.05, 1.0, size=n)
    s = rng.uniform(0.05, 1.0, size=n)
    return x.astype(float), c, s


seeds = st.integers(0, 2**32 - 1)
sizes = st.integers(2, 7)
option_sets = st.sampled_from(OPTION_SETS)


# ---------------------------------------------------------------- invariants


@FAST
@given(seeds, sizes, option_sets, st.booleans())
def test_positions_stay_within_initial_range(seed, n, opts, delta_fixed):
    x, c, s = random_issue(seed, n)
    tr = run_eum(x, c, s, max_rounds=8, delta_fixed=delta_fixed, **opts)
    tol = 1e-12 * max(1.0, np.ptp(x))
    assert np.all(tr.positions >= x.min() - tol)
    assert np.all(tr.positions <= x.max() + tol)
    assert np.all(np.isfinite(tr.risk))
    assert np.all((tr.risk >= 0.5 - 1e-12) & (tr.risk <= 2.0 + 1e-12))


@FAST
@given(seeds, sizes, option_sets, st.randoms(use_true_random=False))
def test_permuting_actors_permutes_the_result(seed, n, opts, rnd):
    x, c, s = random_issue(seed, n)
    perm = np.array(rnd.sample(range(n), n))
    a = run_eum(x, c, s, max_rounds=6, tol=0.0, cycle_detection=False, **opts)
    b = run_eum(x[perm], c[perm], s[perm], max_rounds=6, tol=0.0, cycle_detection=False, **opts)
    np.testing.assert_allclose(b.positions, a.positions[:, perm], atol=1e-9)
    np.testing.assert_allclose(b.risk, a.risk[:, perm], atol=1e-9)
    np.testing.assert_allclose(b.medians, a.medians, atol=1e-9)


@FAST
@given(seeds, sizes, option_sets, st.floats(1e-3, 1e3))
def test_scaling_capabilities_changes_nothing(seed, n, opts, factor):
    x, c, s = random_issue(seed, n)
    a = run_eum(x, c, s, max_rounds=6, **opts)
    b = run_eum(x, c * factor, s, max_rounds=6, **opts)
    np.testing.assert_allclose(b.positions, a.positions, atol=1e-9)
    np.testing.assert_allclose(b.means, a.means, atol=1e-9)
    assert a.stop == b.stop


@FAST
@given(st.floats(-100, 100), st.integers(1, 6), seeds)
def test_no_disagreement_returns_immediately(pos, n, seed):
    _, c, s = random_issue(seed, n)
    tr = run_eum(np.full(n, pos), c, s)
    assert tr.stop == "converged"
    assert tr.positions.shape == (1, n)
    assert tr.delta == 0.0
    problem = make_problem(np.full(n, pos), c, s)
    run = EUM().run(problem, EUMOptions(), Schedule.empty(), np.random.default_rng(0))
    assert run.stop == "converged" and len(run.rounds) == 1
    assert run.forecast[0] == pos


@FAST
@given(seeds, st.integers(2, 6), st.integers(2, 4), option_sets, st.booleans())
def test_batch_equals_single_runs(seed, n, batch, opts, delta_fixed):
    issues = [random_issue(seed + b, n) for b in range(batch)]
    x, c, s = (np.stack([iss[k] for iss in issues]) for k in range(3))
    kopts = KernelOptions(**opts)
    traj, risk, med = iterate_rounds(np, x, c, s, 4, kopts, delta_fixed=delta_fixed)
    for b in range(batch):
        t1, r1, m1 = iterate_rounds(np, x[b:b + 1], c[b:b + 1], s[b:b + 1], 4, kopts,
                                    delta_fixed=delta_fixed)
        np.testing.assert_allclose(traj[:, b], t1[:, 0], atol=1e-12)
        np.testing.assert_allclose(risk[:, b], r1[:, 0], atol=1e-12)
        np.testing.assert_allclose(med[:, b], m1[:, 0], atol=1e-12)


@FAST
@given(seeds, sizes, option_sets, st.booleans())
def test_kernel_equals_loop_per_pair_reference(seed, n, opts, delta_fixed):
    x, c, s = random_issue(seed, n)
    kopts = KernelOptions(**opts)
    ref = np.array(loopref.reference_run(x, c, s, 4, delta_fixed=delta_fixed, **opts))
    traj, _, _ = iterate_rounds(np, x[None], c[None], s[None], 4, kopts, delta_fixed=delta_fixed)
    np.testing.assert_allclose(traj[:, 0], ref, atol=1e-9, rtol=0)
    # Round-1 internals as well.
    lo, delta = float(x.min()), float(np.ptp(x))
    rr = loopref.reference_round(x, c, s, lo, delta, **opts)
    kr = first_round(x, c, s, **opts)
    np.testing.assert_allclose(kr.risk, rr["risk"], atol=1e-9)
    np.testing.assert_allclose(kr.exposure, rr["exposure"], atol=1e-9)
    np.testing.assert_allclose(kr.prob, rr["prob"], atol=1e-9)
    np.testing.assert_allclose(kr.e_ij, rr["e_ij"], atol=1e-9)
    np.testing.assert_allclose(kr.e_ji, rr["e_ji"], atol=1e-9)
    assert kr.median == pytest.approx(rr["median"], abs=1e-12)


@FAST
@given(seeds, st.integers(2, 90), st.integers(1, 3))
def test_sorted_and_dense_vote_sums_agree(seed, n, batch):
    rng = np.random.default_rng(seed)
    pool = rng.uniform(0, 1, size=max(2, n // 2))
    x = rng.choice(pool, size=(batch, n))
    w = rng.uniform(0, 1, size=(batch, n))
    r = rng.uniform(0.5, 2.0, size=(batch, n))
    u = (np.abs(x[..., :, None] - x[..., None, :]) / 1.0) ** r[..., :, None]
    dense = win_votes(np, x, u, w, "dense")
    fast = win_votes(np, x, u, w, "sorted")
    np.testing.assert_allclose(fast, dense, atol=1e-12 * max(1.0, n))


def test_large_issue_runs_and_is_bounded():
    x, c, s = random_issue(7, 100, duplicates=False)
    tr = run_eum(x, c, s, max_rounds=3)
    assert tr.positions.shape == (4, 100)
    assert np.all((tr.positions >= x.min()) & (tr.positions <= x.max()))


def test_round_step_makes_no_inplace_changes():
    x, c, s = random_issue(3, 6)
    x0, c0, s0 = x.copy(), c.copy(), s.copy()
    eum_round(np, x[None], c[None], s[None], np.array([x.min()]), np.array([np.ptp(x)]))
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(c, c0)
    np.testing.assert_array_equal(s, s0)


# ---------------------------------------------------------------- the model

EC_X = np.array([4, 7, 4, 4, 10, 10, 10, 7, 4, 7], dtype=float)
EC_C = np.array([0.08, 0.08, 0.03, 0.16, 0.16, 0.16, 0.16, 0.05, 0.05, 0.08])
EC_S = np.array([0.8, 0.4, 0.2, 0.8, 0.6, 0.6, 0.9, 0.1, 1.0, 0.7])


def make_problem(x, c, s, ids=None, scale=None) -> Problem:
    n = len(x)
    return Problem(
        issue_ids=("q",),
        actor_ids=tuple(ids or (f"a{k}" for k in range(n))),
        position=np.asarray(x, float)[:, None],
        salience=np.asarray(s, float)[:, None],
        capability=np.asarray(c, float)[:, None],
        # by default a scale as wide as the positions, never empty (the EUM's Δ ignores it)
        lo=np.array([float(np.min(x)) if scale is None else scale[0]]),
        hi=np.array([float(np.max(x)) if np.ptp(x) > 0 else float(np.min(x)) + 1.0]
                    if scale is None else [scale[1]]),
        status_quo=np.array([np.nan]),
    )


def run(problem, schedule=None, **opts):
    return EUM().run(problem, EUMOptions(**opts), schedule or Schedule.empty(),
                     np.random.default_rng(0))


def test_model_registry_and_option_errors():
    model = get_model("eum")
    assert model.name == "eum" and model.scope == "issue"
    assert make_options(model, {"T": 1}).T == "1"
    for bad in ({"prob": "other"}, {"Q": 1.5}, {"max_rounds": 0}, {"nonsense": 1},
                {"forecast": "mode"}, {"tol": -1}):
        with pytest.raises(OptionError):
            make_options(model, bad)
    for name, field in EUMOptions.model_fields.items():
        assert "source:" in (field.description or ""), name


def test_model_refuses_bad_input():
    with pytest.raises(ModelError):
        p = make_problem(EC_X, EC_C, EC_S)
        run(replace(p, issue_ids=("a", "b"), position=np.c_[EC_X, EC_X],
                    salience=np.c_[EC_S, EC_S], capability=np.c_[EC_C, EC_C],
                    lo=np.repeat(p.lo, 2), hi=np.repeat(p.hi, 2),
                    status_quo=np.repeat(p.status_quo, 2)))
    bad = EC_X.copy()
    bad[2] = np.nan
    with pytest.raises(InputError):
        run(make_problem(bad, EC_C, EC_S))
    with pytest.raises(InputError):
        run(make_problem(EC_X, EC_C, EC_S * 2))


def test_model_stop_rules_and_info():
    # Belgium cycles 9.0174 -> 6.8743 -> 4 (benchmarks/eum_loop_reference.py gives the same).
    cyc = run(make_problem(EC_X, EC_C, EC_S), Q=0.5)
    assert cyc.stop == "cycle" and cyc.info["cycle_length"] == 3
    assert "cycle of length 3" in cyc.info["stop_detail"]
    assert cyc.info["delta"] == 6.0
    mean_fc = run(make_problem(EC_X, EC_C, EC_S), Q=0.5, cycle_forecast="cycle_mean")
    expect = np.mean([r.forecast[0] for r in mean_fc.rounds[-3:]])
    assert mean_fc.forecast[0] == pytest.approx(expect)
    conv = run(make_problem(EC_X, EC_C, EC_S), offer_priority="bdm_smallest_move")
    assert conv.stop == "converged"
    last, prev = conv.rounds[-1].position, conv.rounds[-2].position
    assert np.max(np.abs(last - prev)) <= 1e-6 * 6.0
    capped = run(make_problem(EC_X, EC_C, EC_S), max_rounds=7)
    assert capped.stop == "max_rounds" and len(capped.rounds) == 8
    assert all(len(r.extra["risk"]) == 10 for r in capped.rounds[1:])
    assert "risk" not in capped.rounds[0].extra
    assert capped.options["max_rounds"] == 7


def test_positions_risk_domain_runs():
    out = run(make_problem(EC_X, EC_C, EC_S), risk_domain="positions", max_rounds=5)
    assert out.stop in ("converged", "cycle", "max_rounds")
    r = np.array(out.rounds[1].extra["risk"])
    assert np.all((r >= 0.5) & (r <= 2.0))


def test_lever_applies_to_current_positions_and_restarts():
    seen = {}

    def move_uk(p: Problem) -> Problem:
        seen["positions"] = p.position.copy()
        pos = p.position.copy()
        pos[p.actor_ids.index("UK"), 0] = 4.0
        return p.with_positions(pos)

    ids = ["NL", "BE", "LU", "DE", "FR", "IT", "UK", "IE", "DK", "GR"]
    problem = make_problem(EC_X, EC_C, EC_S, ids)
    base = run(problem, max_rounds=6)
    lev = run(problem, Schedule({2: (move_uk,)}), max_rounds=6)
    # Rounds 0..2 are untouched; the lever saw the positions after round 2.
    for k in range(3):
        np.testing.assert_array_equal(lev.rounds[k].position, base.rounds[k].position)
    np.testing.assert_array_equal(seen["positions"], base.rounds[2].position)
    # Round 3 starts from the lever's positions, with Δ of the initial range.
    start = seen["positions"][:, 0].copy()
    start[ids.index("UK")] = 4.0
    step = eum_round(np, start[None], EC_C[None], EC_S[None], np.array([4.0]), np.array([6.0]))
    np.testing.assert_allclose(lev.rounds[3].position[:, 0], step.position[0])
    assert lev.info["delta"] == 6.0  # the lever stayed inside the range: Δ kept


def test_lever_widening_range_and_no_stop_before_last_lever():
    def spread(p: Problem) -> Problem:
        pos = p.position.copy()
        pos[0, 0] = 0.0
        pos[1, 0] = 10.0
        return p.with_positions(pos)

    problem = make_problem([5.0, 5.0, 5.0], [1.0, 0.5, 0.2], [0.9, 0.5, 0.3], scale=(0, 10))
    out = run(problem, Schedule({3: (spread,)}), max_rounds=20)
    # Δ = 0 at the start, yet the run waits for the lever at round 3.
    assert len(out.rounds) > 4
    assert out.info["delta"] == 10.0
    np.testing.assert_array_equal(out.rounds[3].position[:, 0], [5.0, 5.0, 5.0])
    assert out.stop in ("converged", "cycle", "max_rounds")


def test_lever_removing_an_actor():
    def drop_uk(p: Problem) -> Problem:
        keep = [k for k, a in enumerate(p.actor_ids) if a != "UK"]
        return replace(p, actor_ids=tuple(p.actor_ids[k] for k in keep),
                       position=p.position[keep], salience=p.salience[keep],
                       capability=p.capability[keep])

    ids = ["NL", "BE", "LU", "DE", "FR", "IT", "UK", "IE", "DK", "GR"]
    out = run(make_problem(EC_X, EC_C, EC_S, ids), Schedule({1: (drop_uk,)}), max_rounds=4)
    assert "UK" in out.rounds[1].actor_ids
    assert "UK" not in out.rounds[2].actor_ids
    assert out.rounds[2].position.shape == (9, 1)
    assert len(out.rounds[2].extra["risk"]) == 9


@FAST
@given(seeds, st.integers(1, 40), st.integers(1, 80), st.integers(1, 3))
def test_generic_count_below_matches_searchsorted(seed, n, m, batch):
    # The sort-only form is what array libraries without a batched searchsorted use.
    from types import SimpleNamespace

    from stakes.kernels.eum import _count_below

    rng = np.random.default_rng(seed)
    xs = np.sort(rng.choice(rng.uniform(0, 1, max(1, n // 2)), size=(batch, n)), axis=-1)
    q = rng.choice(np.r_[xs.ravel(), rng.uniform(-0.5, 1.5, m)], size=(batch, m))
    generic = SimpleNamespace(
        argsort=np.argsort, concatenate=np.concatenate, cumsum=np.cumsum,
        take_along_axis=np.take_along_axis,
    )
    np.testing.assert_array_equal(_count_below(generic, xs, q), _count_below(np, xs, q))
