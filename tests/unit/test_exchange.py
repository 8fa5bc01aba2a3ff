"""Exchange model: invariants, options, arithmetics, random rate, levers."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stakes.errors import InputError, ModelError, OptionError
from stakes.kernels.exchange import ExchangeKernel, blend_position, denormalise, normalise
from stakes.models import get_model, make_options
from stakes.models.base import Problem, Schedule
from stakes.models.exchange import Exchange, ExchangeOptions, build_kernel


def _problem(pos, sal, cap, lo=None, hi=None) -> Problem:
    pos, sal, cap = (np.asarray(a, dtype=float) for a in (pos, sal, cap))
    n, d = pos.shape
    return Problem(
        issue_ids=tuple(f"i{k}" for k in range(d)),
        actor_ids=tuple(f"a{k}" for k in range(n)),
        position=pos,
        salience=sal,
        capability=cap,
        lo=np.zeros(d) if lo is None else np.asarray(lo, dtype=float),
        hi=np.full(d, 100.0) if hi is None else np.asarray(hi, dtype=float),
        status_quo=np.full(d, np.nan),
    )


# Four actors on three issues, no exact ties among gains.
POS = [[10, 80, 35], [90, 20, 60], [40, 70, 95], [75, 5, 15]]
SAL = [[0.9, 0.3, 0.55], [0.35, 0.85, 0.45], [0.6, 0.7, 0.25], [0.2, 0.65, 0.8]]
CAP = [[1.0, 1.0, 1.0], [0.7, 0.7, 0.7], [0.45, 0.45, 0.45], [0.3, 0.3, 0.3]]


def _run(problem, schedule=None, seed=0, **opts):
    return Exchange().run(
        problem, ExchangeOptions(**opts), schedule or Schedule.empty(), np.random.default_rng(seed)
    )


# --------------------------------------------------------------------- invariants

_actor = st.tuples(
    st.lists(st.integers(0, 100), min_size=3, max_size=3),
    st.lists(st.integers(5, 100), min_size=3, max_size=3),
    st.integers(5, 100),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_actor, min_size=2, max_size=5), st.sampled_from(["decimal28", "float"]))
def test_outcomes_and_positions_stay_on_the_scale(actors, arithmetic):
    pos = [[float(x) for x in a[0]] for a in actors]
    sal = [[s / 100 for s in a[1]] for a in actors]
    cap = [[a[2] / 100] * 3 for a in actors]
    run = _run(_problem(pos, sal, cap), rounds=3, arithmetic=arithmetic)
    for rec in run.rounds:
        assert np.all((rec.forecast >= -1e-9) & (rec.forecast <= 100 + 1e-9))
        assert np.all((rec.position >= -1e-9) & (rec.position <= 100 + 1e-9))
        assert np.array_equal(rec.forecast, rec.mean)
    for realised in run.info["realised"]:
        for e in realised:
            assert e["gain"] >= 0
            for side in ("x", "y"):
                assert -1e-9 <= e[side]["to"] <= 100 + 1e-9


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(_actor, min_size=1, max_size=5),
    st.lists(st.booleans(), min_size=15, max_size=15),
    st.sampled_from([{}, {"p": 0.9}, {"tie_break": "random"}]),
)
def test_absent_entries_stay_absent(actors, absent, opts):
    pos = np.array([[float(x) for x in a[0]] for a in actors])
    mask = np.array(absent[: pos.size]).reshape(pos.shape)
    mask[mask.all(axis=1), 0] = False  # every actor takes a stance somewhere (a Problem rule)
    pos[mask] = np.nan
    sal = [[s / 100 for s in a[1]] for a in actors]
    cap = [[a[2] / 100] * 3 for a in actors]
    run = _run(_problem(pos, sal, cap), rounds=3, **opts)
    empty = np.isnan(pos).all(axis=0)
    for rec in run.rounds:
        np.testing.assert_array_equal(np.isnan(rec.position), np.isnan(pos))
        np.testing.assert_array_equal(np.isnan(rec.forecast), empty)
        f = rec.forecast[~empty]
        assert np.all((f >= -1e-9) & (f <= 100 + 1e-9))


@settings(max_examples=15, deadline=None)
@given(st.lists(_actor, min_size=2, max_size=4))
def test_own_scale_round_trip(actors):
    """An issue on [2, 12] gives the same run as the same issue mapped to [0, 100]."""
    pos = [[float(x) for x in a[0]] for a in actors]
    sal = [[s / 100 for s in a[1]] for a in actors]
    cap = [[a[2] / 100] * 3 for a in actors]
    base = _run(_problem(pos, sal, cap), rounds=2)
    scaled = [[2 + x / 10 if k == 1 else x for k, x in enumerate(row)] for row in pos]
    other = _run(_problem(scaled, sal, cap, lo=[0, 2, 0], hi=[100, 12, 100]), rounds=2)
    for a, b in zip(base.rounds, other.rounds):
        np.testing.assert_allclose((b.forecast[1] - 2) * 10, a.forecast[1], atol=1e-9)
        np.testing.assert_allclose(b.forecast[[0, 2]], a.forecast[[0, 2]], atol=1e-9)


def test_outcome_is_the_compromise_weighted_mean():
    pb = _problem(POS, SAL, CAP)
    run = _run(pb, rounds=1)
    w = pb.salience * pb.capability
    np.testing.assert_allclose(run.rounds[0].forecast, (w * pb.position).sum(0) / w.sum(0))
    rec = run.rounds[1]
    np.testing.assert_allclose(rec.forecast, (w * rec.position).sum(0) / w.sum(0))


def test_scale_helpers():
    f = normalise("3.0", "0.5", "7")
    assert f == Decimal("38.46153846153846153846153845")
    assert abs(denormalise(f, "0.5", "7") - Decimal(3)) < Decimal("1e-26")
    assert denormalise(0, "0.5", "7") == Decimal("0.5")
    # the blend of spec §4.4 step 5, with the binary constants 0.4 and 0.1
    assert abs(blend_position("0.5", 0, 100) - 30) < Decimal("1e-14")
    assert blend_position("0.5", 0, 100) != 30
    assert blend_position(0.5, 0.0, 100.0, "float") == pytest.approx(30.0)


# --------------------------------------------------------------------- arithmetics


def test_float_and_decimal_agree_on_round_0_and_closely_after():
    pb = _problem(POS, SAL, CAP)
    d = _run(pb, rounds=2)
    f = _run(pb, rounds=2, arithmetic="float")
    np.testing.assert_allclose(f.rounds[0].forecast, d.rounds[0].forecast, rtol=1e-15)
    for rd, rf in zip(d.rounds, f.rounds):
        np.testing.assert_allclose(rf.forecast, rd.forecast, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(rf.position, rd.position, rtol=1e-10, atol=1e-10)
        assert rf.extra.get("exchanges") == rd.extra.get("exchanges")
    assert d.rounds[1].extra["exchanges"] > 0


def test_decimal_inputs_are_exact():
    """Object arrays of decimal text are used as they are."""
    pb = _problem(POS, SAL, CAP)
    text = replace(
        pb,
        position=np.array([[str(v) for v in row] for row in POS], dtype=object),
        salience=np.array([[str(v) for v in row] for row in SAL], dtype=object),
    )
    k1, k2 = build_kernel(pb), build_kernel(text)
    assert k1.position == k2.position and k1.salience == k2.salience
    assert k1.play_round().outcome == k2.play_round().outcome


# --------------------------------------------------------------------- random rate


def test_random_rate_same_seed_same_result():
    pb = _problem(POS, SAL, CAP)
    a = _run(pb, seed=7, rounds=3, p=0.5)
    b = _run(pb, seed=7, rounds=3, p=0.5)
    assert a.info["seed"] == b.info["seed"]
    for ra, rb in zip(a.rounds, b.rounds):
        np.testing.assert_array_equal(ra.position, rb.position)
        np.testing.assert_array_equal(ra.forecast, rb.forecast)
    assert a.info["realised"] == b.info["realised"]


def test_random_rate_changes_the_split_but_not_round_0():
    pb = _problem(POS, SAL, CAP)
    eq = _run(pb, rounds=3)
    runs = [_run(pb, seed=s, rounds=3, p=0.8) for s in range(4)]
    for r in runs:
        np.testing.assert_array_equal(r.rounds[0].forecast, eq.rounds[0].forecast)
    assert any(
        not np.allclose(r.rounds[1].forecast, eq.rounds[1].forecast) for r in runs
    )
    assert len({tuple(np.round(r.forecast, 9)) for r in runs}) > 1
    gains = [
        (e["x"]["gain"], e["y"]["gain"]) for r in runs for e in r.info["realised"][0]
    ]
    assert any(abs(gx - gy) > 1e-9 for gx, gy in gains)  # unequal splits occur


def test_seed_option_fixes_the_draws():
    pb = _problem(POS, SAL, CAP)
    a = Exchange().run(pb, ExchangeOptions(p=0.7, seed=99, rounds=2), Schedule.empty(),
                       np.random.default_rng(1))
    b = Exchange().run(pb, ExchangeOptions(p=0.7, seed=99, rounds=2), Schedule.empty(),
                       np.random.default_rng(2))
    assert a.info["seed"] == b.info["seed"] == 99
    assert a.info["realised"] == b.info["realised"]
    k = build_kernel(pb, ExchangeOptions(p=0.7), random.Random(99))
    res = k.play_round()
    assert [e["gain"] for e in a.info["realised"][0]] == [float(e.gain) for e in res.realised]


def test_p_zero_is_the_equal_gain_model():
    pb = _problem(POS, SAL, CAP)
    a = _run(pb, rounds=4)
    b = _run(pb, rounds=4, p=0.0, seed=123)
    for ra, rb in zip(a.rounds, b.rounds):
        np.testing.assert_array_equal(ra.position, rb.position)
    assert "seed" not in b.info  # no random draws at all
    for realised in a.info["realised"]:
        for e in realised:
            assert e["x"]["gain"] == e["y"]["gain"] == e["gain"]


def test_repetitions_average():
    pb = _problem(POS, SAL, CAP)
    run = _run(pb, seed=3, rounds=2, p=0.6, repetitions=3)
    per = np.array(run.info["outcome_by_repetition"])
    assert per.shape == (3, 3)
    np.testing.assert_allclose(run.forecast, per.mean(axis=0))
    assert len(run.rounds[2].extra["exchanges_by_repetition"]) == 3


def test_random_tie_break_is_reproducible():
    # two identical actors make exact ties
    pos = [[10, 90], [10, 90], [90, 10], [60, 40]]
    sal = [[0.8, 0.4], [0.8, 0.4], [0.3, 0.9], [0.5, 0.5]]
    cap = [[1, 1], [1, 1], [1, 1], [0.5, 0.5]]
    pb = _problem(pos, sal, cap)
    a = _run(pb, seed=1, rounds=2, tie_break="random")
    b = _run(pb, seed=1, rounds=2, tie_break="random")
    assert a.info["realised"] == b.info["realised"]
    k = build_kernel(pb, ExchangeOptions(tie_break="random"), random.Random(5))
    assert k.play_round().ties > 0


# --------------------------------------------------------------------- options and errors


def test_options_are_validated():
    model = get_model("exchange")
    assert isinstance(model, Exchange) and model.scope == "joint"
    assert make_options(model, {}) == ExchangeOptions()
    for bad, text in [
        ({"arithmetic": "float32"}, "arithmetic"),
        ({"carry_over": "none"}, "carry_over"),
        ({"tie_break": "first"}, "tie_break"),
        ({"rounds": -1}, "rounds"),
        ({"p": 1.5}, "p"),
        ({"repetitions": 0}, "repetitions"),
        ({"repetitions": 5}, "repetitions > 1"),
        ({"colour": "red"}, "unknown option"),
    ]:
        with pytest.raises(OptionError, match=text):
            make_options(model, bad)
    make_options(model, {"repetitions": 5, "p": 0.2})


def test_needs_two_issues():
    with pytest.raises(ModelError, match="at least 2 issues"):
        _run(_problem([[10], [90]], [[0.5], [0.5]], [[1], [1]]))


@pytest.mark.parametrize(
    "field, value, text",
    [
        ("salience", 0.0, "saliences > 0"),
        ("capability", 0.0, "capabilities > 0"),
    ],
)
def test_values_the_model_cannot_use_rejected(field, value, text):
    pb = _problem(POS, SAL, CAP)
    arr = getattr(pb, field).copy()
    arr[1, 2] = value
    with pytest.raises(ModelError, match=text) as exc:
        _run(replace(pb, **{field: arr}))
    assert "actor 'a1' on issue 'i2'" in str(exc.value)


@pytest.mark.parametrize(
    "field, value, text",
    [
        ("salience", 1.2, "salience 1.2 lies outside \\[0, 1\\]"),
        ("position", 120.0, "position 120 lies outside the issue's scale"),
        ("capability", np.nan, "capability nan is missing"),
    ],
)
def test_invalid_values_refused_when_the_problem_is_built(field, value, text):
    pb = _problem(POS, SAL, CAP)
    arr = getattr(pb, field).copy()
    arr[1, 2] = value
    with pytest.raises(InputError, match=text) as exc:
        replace(pb, **{field: arr})
    assert "actor 'a1', issue 'i2'" in str(exc.value)


def test_kernel_rejects_zero_salience_too():
    with pytest.raises(ValueError, match="salience must be > 0"):
        ExchangeKernel([[1, 2], [3, 4]], [[0, 1], [1, 1]], [[1, 1], [1, 1]])


# --------------------------------------------------------------------- absent actors


def test_nan_marks_an_absent_actor():
    pos = [row[:] for row in POS]
    pos[3][1] = np.nan
    pb = _problem(pos, SAL, CAP)
    run = _run(pb, rounds=3)
    for rec in run.rounds:
        assert np.isnan(rec.position[3, 1])
        assert np.isfinite(rec.position[3, [0, 2]]).all()
    present = ~np.isnan(pb.position[:, 1])
    w = (pb.salience * pb.capability)[present, 1]
    assert run.rounds[0].forecast[1] == pytest.approx((w * pb.position[present, 1]).sum() / w.sum())
    for realised in run.info["realised"]:
        for e in realised:
            for side in ("x", "y"):
                assert not (e[side]["actor"] == "a3" and e[side]["issue"] == "i1")


# --------------------------------------------------------------------- carry-over and records


def test_carry_over_voting_positions():
    pb = _problem(POS, SAL, CAP)
    run = _run(pb, rounds=3, carry_over="voting_positions")
    for r in range(1, 3):
        np.testing.assert_allclose(
            run.rounds[r + 1].extra["start_outcome"], run.rounds[r].forecast, atol=1e-12
        )
    blend = _run(pb, rounds=2)
    assert not np.allclose(blend.rounds[2].extra["start_outcome"], blend.rounds[1].forecast)


def test_records_are_json_serialisable():
    run = _run(_problem(POS, SAL, CAP), rounds=2)
    json.dumps(run.info)
    json.dumps(run.options)
    for rec in run.rounds:
        json.dumps(rec.extra)
    assert run.stop == "max_rounds"
    assert run.options["arithmetic"] == "decimal28"
    np.testing.assert_array_equal(run.forecast, run.rounds[-1].forecast)
    assert len(run.rounds[1].extra["externalities"]) == 4


def test_zero_rounds():
    run = _run(_problem(POS, SAL, CAP), rounds=0)
    assert len(run.rounds) == 1
    np.testing.assert_array_equal(run.forecast, run.rounds[0].forecast)


# --------------------------------------------------------------------- levers


def test_identity_lever_keeps_the_exact_run():
    pb = _problem(np.array(POS, dtype=float) * [1, 0.065, 1] + [0, 0.5, 0], SAL, CAP,
                  lo=[0, 0.5, 0], hi=[100, 7, 100])
    seen = []

    def step(p):
        seen.append(p.position.copy())
        return p

    base = _run(pb, rounds=4)
    lev = _run(pb, Schedule({2: (step,)}), rounds=4)
    assert len(seen) == 1
    # the lever sees the positions round 2 starts from (own scale)
    assert seen[0].shape == (4, 3)
    for a, b in zip(base.rounds, lev.rounds):
        np.testing.assert_array_equal(a.position, b.position)
        np.testing.assert_array_equal(a.forecast, b.forecast)


def test_lever_removes_an_actor_and_changes_salience():
    pb = _problem(POS, SAL, CAP)

    def drop_a3(p):
        keep = [k for k, a in enumerate(p.actor_ids) if a != "a3"]
        return replace(
            p,
            actor_ids=tuple(p.actor_ids[k] for k in keep),
            position=p.position[keep],
            salience=p.salience[keep],
            capability=p.capability[keep],
        )

    def more_salience(p):
        sal = p.salience.copy()
        sal[0, 0] = 1.0
        return replace(p, salience=sal)

    run = _run(pb, Schedule({1: (drop_a3,), 2: (more_salience,)}), rounds=4)
    assert run.rounds[1].actor_ids == ("a0", "a1", "a2", "a3")
    assert all(r.actor_ids == ("a0", "a1", "a2") for r in run.rounds[2:])
    assert run.rounds[2].position.shape == (3, 3)
    for realised in run.info["realised"][1:]:
        assert all("a3" not in (e["x"]["actor"], e["y"]["actor"]) for e in realised)
    late = _run(pb, Schedule({9: (drop_a3,)}), rounds=3)
    assert late.info["levers_not_applied"] == [9]


def test_lever_changing_issues_is_refused():
    pb = _problem(POS, SAL, CAP)

    def two_issues(p):
        return replace(
            p, issue_ids=p.issue_ids[:2], position=p.position[:, :2], salience=p.salience[:, :2],
            capability=p.capability[:, :2], lo=p.lo[:2], hi=p.hi[:2], status_quo=p.status_quo[:2],
        )

    with pytest.raises(ModelError, match="changed the issues"):
        _run(pb, Schedule({1: (two_issues,)}), rounds=2)


# --------------------------------------------------------------------- events


def test_exchanges_are_recorded_as_events():
    pb = _problem(POS, SAL, CAP)
    run = _run(pb, rounds=3)
    assert run.rounds[0].events == []
    for t, rec in enumerate(run.rounds[1:]):
        realised = run.info["realised"][t]
        assert len(rec.events) == len(realised) == rec.extra["exchanges"]
        for ev, e in zip(rec.events, realised):
            assert ev.kind == "exchange"
            assert ev.actors == (e["x"]["actor"], e["y"]["actor"])
            assert ev.issues == (e["x"]["issue"], e["y"]["issue"])
            for side in (e["x"], e["y"]):
                move = ev.detail["moves"][side["actor"]]
                assert move["shift"] == side["to"] - side["from"] and move["gain"] == side["gain"]
            assert ev.detail["gain"] == e["gain"]
    assert sum(len(r.events) for r in run.rounds) > 0
