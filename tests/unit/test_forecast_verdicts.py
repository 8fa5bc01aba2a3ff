"""Verdicts and flags on small constructed scenarios whose answer is known."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from stakes.engine import interventions_for, run_scenario
from stakes.forecast import Thresholds, assess, statistic, strategic_first
from stakes.forecast.effects import split
from stakes.forecast.trust import Interval, effect_verdict, forecast_verdict
from stakes.scenario.yaml_io import loads_scenario

PIVOT = """
stakes: 1
metadata: {name: pivot}
actors:
- {id: decider, name: Decider, capability: 10}
- {id: left, name: Left, capability: 1}
- {id: right, name: Right, capability: 1}
issues:
- {id: x, name: X, status_quo: 0}
entries:
- {actor: decider, issue: x, position: 30, salience: 0.9}
- {actor: left, issue: x, position: 10, salience: 0.5}
- {actor: right, issue: x, position: 70, salience: 0.5}
levers:
- id: sway
  name: the decider changes its mind
  effects: [{actor: decider, position: {set: 60}}]
- id: nudge
  name: Left cares less
  effects: [{actor: left, salience: {set: 0.1}}]
"""


def _assess(text, models, members=40, **kw):
    scn = loads_scenario(text)
    res = run_scenario(scn, models, interventions=interventions_for(scn, "all", "all"),
                       skip_inapplicable=False)
    return assess(scn, res, members=members, **kw)


@pytest.mark.parametrize("model", ["eum", "median"])
def test_a_lever_that_only_moves_the_pivot_is_mechanical(model):
    fc = _assess(PIVOT, [model])
    base = fc.get(model, "baseline", "x")
    assert base.pivot[0] == "decider"
    assert base.headline.value == pytest.approx(30.0)
    a = fc.get(model, "lever:sway", "x")
    assert a.shift == pytest.approx(30.0)
    assert a.split.imposed == pytest.approx(30.0) and a.split.bargained == pytest.approx(0.0)
    assert "mechanical" in a.flags and "overshoot" not in a.flags
    # the decider is moved by the lever itself, not by bargaining
    doc = a.as_dict()
    assert "decider" in doc["moved_by_lever"] and "decider" not in doc["moved_by_bargaining"]
    # the lever's effect on every member is the decider's move: settled, narrow
    assert a.effect_verdict == "robust"


def test_an_effect_bargaining_adds_to_is_not_mechanical():
    flags = split(20.0, 5.0, 10.0, width=100, joint=False, touched=True, zero=0.01,
                  spill=0.05).flags
    assert flags == ("overshoot",)
    assert split(0.0, 0.0, 10.0, width=100, joint=False, touched=True, zero=0.01,
                 spill=0.05).flags == ()


def test_a_two_cycle_is_cycling_and_shows_its_range_not_its_mean():
    # The default scenario's defense treaty issue: the EUM ends in a 2-cycle whose rounds
    # disagree (18.71 / 22.89); the scenario asks for the cycle mean.
    from stakes.api import load

    scn = load(None)
    res = run_scenario(scn, ["eum"], issues=["defense_treaty"])
    fc = assess(scn, res, members=0)
    a = fc.get("eum", "baseline", "defense_treaty")
    assert res[0].run.stop == "cycle" and res[0].run.info["cycle_length"] == 2
    assert a.verdict == "cycling"
    assert a.headline.value is None
    lo, hi = a.headline.cycle
    assert lo < float(res[0].run.forecast[0]) < hi  # the mean that no round produced
    assert a.headline.text() == f"{lo:.2f}–{hi:.2f}↻"


NO_DEAL = """
stakes: 1
metadata: {name: no deal}
actors:
- {id: a, name: A, capability: 1}
- {id: b, name: B, capability: 1}
issues:
- {id: x, name: X, status_quo: 50}
entries:
- {actor: a, issue: x, position: 0, salience: 0.8}
- {actor: b, issue: x, position: 100, salience: 0.8}
"""


def test_nbs_with_no_feasible_agreement_is_degenerate():
    # Any move from the status quo hurts one of the two: the NBS keeps the status quo
    # in the nominal run and in every member.
    fc = _assess(NO_DEAL, ["nbs", "compromise"])
    a = fc.get("nbs", "baseline", "x")
    assert a.headline.value == pytest.approx(50.0)
    assert a.forecast.lo == pytest.approx(50.0) and a.forecast.hi == pytest.approx(50.0)
    assert a.verdict == "degenerate"
    # the compromise lands on 50 too, nominally, but not in every member
    c = fc.get("compromise", "baseline", "x")
    assert c.headline.value == pytest.approx(50.0) and c.verdict != "degenerate"


SPILL = """
stakes: 1
metadata: {name: spill}
actors:
- {id: a, name: A, capability: 1}
- {id: b, name: B, capability: 1}
- {id: c, name: C, capability: 1}
issues:
- {id: x, name: X, status_quo: 20}
- {id: y, name: Y, status_quo: 50}
entries:
- {actor: a, issue: x, position: 0, salience: 0.9}
- {actor: b, issue: x, position: 100, salience: 0.2}
- {actor: c, issue: x, position: 40, salience: 0.5}
- {actor: a, issue: y, position: 90, salience: 0.2}
- {actor: b, issue: y, position: 10, salience: 0.6}
- {actor: c, issue: y, position: 60, salience: 0.5}
levers:
- id: cx
  name: C gives way on X
  effects: [{actor: c, issues: [x], position: {set: 0}}]
"""


def test_a_joint_model_moving_an_untouched_issue_is_spillover():
    fc = _assess(SPILL, ["exchange"], members=0)
    y = fc.get("exchange", "lever:cx", "y")
    assert abs(y.shift) > 0.05 * 100
    assert "spillover" in y.flags
    x = fc.get("exchange", "lever:cx", "x")
    assert "spillover" not in x.flags  # the lever touches x
    # with a threshold above the shift, no spillover
    fc2 = _assess(SPILL, ["exchange"], members=0,
                  thresholds=Thresholds(spillover=abs(y.shift) / 100 + 0.01))
    assert "spillover" not in fc2.get("exchange", "lever:cx", "y").flags


def _iv(lo, hi, med=None):
    return Interval(None, (lo + hi) / 2 if med is None else med, lo, hi, 100, 0.8)


def test_verdict_thresholds():
    th = Thresholds()
    assert forecast_verdict(100, cycling=False, degenerate=False, iv=_iv(10, 30), th=th) == \
        "robust"
    assert forecast_verdict(100, cycling=False, degenerate=False, iv=_iv(10, 40), th=th) == \
        "fragile"
    assert forecast_verdict(100, cycling=True, degenerate=False, iv=_iv(10, 12), th=th) == \
        "cycling"
    assert forecast_verdict(100, cycling=True, degenerate=True, iv=None, th=th) == "degenerate"
    # an effect whose sign is not settled is fragile however narrow
    assert effect_verdict(100, cycling=False, degenerate=False, iv=_iv(-3, 4), th=th) == \
        "fragile"
    assert effect_verdict(100, cycling=False, degenerate=False, iv=_iv(-0.5, 4), th=th) == \
        "robust"


def test_strategic_models_first_and_baselines_named():
    assert strategic_first(["compromise", "median", "eum", "smp"]) == \
        ["eum", "smp", "compromise", "median"]
    assert "non-strategic baseline" in statistic("compromise")
    assert statistic("eum") == "EUM: BDM's median μ after bargaining"
    assert "mean" in statistic("eum", {"forecast": "mean"})


def test_paired_effects_use_common_members():
    # Left caring less moves the compromise in every member alike: the paired effect keeps
    # the nominal effect's sign, over the same members as the baseline's interval.
    fc = _assess(PIVOT, ["eum", "compromise"], members=30)
    a = fc.get("compromise", "lever:nudge", "x")
    assert a.effect.members == 30
    b = fc.get("compromise", "baseline", "x")
    assert not math.isclose(b.forecast.lo, b.forecast.hi)
    assert np.sign(a.shift) == np.sign(a.effect.median)


def test_an_interval_that_does_not_hold_the_forecast_makes_it_fragile():
    th = Thresholds()
    inside = Interval(20.0, 20.0, 10.0, 30.0, 100, 0.8)
    outside = Interval(5.0, 20.0, 10.0, 30.0, 100, 0.8)
    assert forecast_verdict(100, cycling=False, degenerate=False, iv=inside, th=th) == "robust"
    assert forecast_verdict(100, cycling=False, degenerate=False, iv=outside, th=th) == \
        "fragile"
    assert effect_verdict(100, cycling=False, degenerate=False,
                          iv=Interval(0.0, 2.0, 1.0, 3.0, 100, 0.8), th=th) == "fragile"
    assert effect_verdict(100, cycling=False, degenerate=False,
                          iv=Interval(1.0, 2.0, 1.0, 3.0, 100, 0.8), th=th) == "robust"


EDGE = (Path(__file__).resolve().parents[1] / "data" / "edge.yaml").read_text()


def test_a_pivot_at_the_end_of_the_scale_gives_a_forecast_its_members_do_not_hold():
    # The weighted median is the decider's 0.  Under uncertainty a position at the end of
    # the scale can only move inwards, so every member's median lies above 0: the interval
    # is narrow, yet the number the run gives is not one the members give.
    from stakes.forecast import explain

    fc = _assess(EDGE, ["median"], members=40)
    a = fc.get("median", "baseline", "x")
    assert a.headline.value == 0.0
    assert a.forecast.lo > 0.0 and a.forecast.width < 0.25 * 100
    assert a.verdict == "fragile"
    text = " ".join(explain.explain(fc.scenario, "x", model="median", members=40).narrative())
    assert "the forecast lies outside it" in text


def test_smp_lever_effects_are_split_though_smp_runs_at_least_two_turns():
    # The imposed part is read off round 0 of a short run; SMP refuses fewer turns than its
    # min_turns (2), so the short run must ask for that many, not 1.
    fc = _assess(PIVOT, ["smp"], members=0)
    a = fc.get("smp", "lever:sway", "x")
    assert a.split is not None
    assert a.split.imposed + a.split.bargained == pytest.approx(a.shift)


def test_before_bargaining_is_round_zero_and_unmoved_compares_it_with_the_forecast():
    fc = _assess(EDGE, ["eum", "median"], members=0)
    a = fc.get("eum", "baseline", "x")
    # the decider holds most of the weight at 0: no round moves the median
    assert a.before == a.result.run.rounds[0].forecast[0] == 0.0
    assert a.headline.value == 0.0 and a.unmoved(0.01)
    assert a.as_dict()["before_bargaining"] == 0.0
    # the rules themselves have no rounds to move anything
    assert fc.get("median", "baseline", "x").before is None
    assert not fc.get("median", "baseline", "x").unmoved(0.01)


def test_unmoved_uses_the_zero_threshold():
    fc = _assess(EDGE, ["eum"], members=0)
    a = fc.get("eum", "baseline", "x")
    a.before = 0.5  # half a percent of the 0-100 scale from the forecast
    assert a.unmoved(0.01) and not a.unmoved(0.001)
    a.headline = type(a.headline)(a.model, a.issue, a.headline.statistic, False, None,
                                  (0.0, 1.0))
    assert not a.unmoved(0.5)  # a cycle has no single forecast to compare


def test_a_shift_between_cycles_is_their_range_and_is_not_judged_as_one_number():
    from stakes.forecast.headline import Headline, shift_range

    def h(value=None, cycle=None):
        return Headline("eum", "x", "s", False, value, cycle)

    assert shift_range(h(30.0), h(5.0)) is None
    assert shift_range(h(cycle=(10.0, 20.0)), h(5.0)) == (5.0, 15.0)
    assert shift_range(h(30.0), h(cycle=(10.0, 20.0))) == (10.0, 20.0)
    assert shift_range(h(cycle=(10.0, 20.0)), h(cycle=(0.0, 4.0))) == (6.0, 20.0)

    # On the default scenario the Allen plan's run and the baseline both cycle on the
    # defence treaty: the effect is a range, flagged cycling, and not called overshoot.
    from stakes.api import load

    scn = load(None)
    res = run_scenario(scn, ["eum"], issues=["defense_treaty"],
                       interventions=interventions_for(scn, ["allen_plan"], None))
    fc = assess(scn, res, members=0)
    a = fc.get("eum", "lever:allen_plan", "defense_treaty")
    lo, hi = a.shift_range
    assert lo < hi and a.effect_verdict == "cycling"
    assert "overshoot" in a.split.flags  # what the single number would have said
    assert a.flags == ["cycling"]
    assert a.shift_text() == f"{lo:+.2f}–{hi:+.2f}↻"
    assert a.as_dict()["shift_range"] == [lo, hi]
