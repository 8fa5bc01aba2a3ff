"""Levers and plans applied through the engine."""

from __future__ import annotations

import numpy as np
import pytest

from stakes.engine import interventions_for, run_scenario
from stakes.scenario.yaml_io import loads_scenario

SCENARIO = """
stakes: 1
metadata: {name: lever test}
actors:
- {id: a, name: A, capability: 1}
- {id: b, name: B, capability: 1}
- {id: c, name: C, capability: 2}
- {id: late, name: Latecomer, capability: 4, present: false}
issues:
- {id: x, name: X, status_quo: 0}
- {id: y, name: Y}
entries:
- {actor: a, issue: x, position: 0, salience: 1}
- {actor: b, issue: x, position: 50, salience: 1}
- {actor: c, issue: x, position: 100, salience: 0.5}
- {actor: a, issue: y, position: 20, salience: 0.5}
- {actor: b, issue: y, position: 40, salience: 0.5}
- {actor: late, issue: x, position: 100, salience: 1}
levers:
- id: push
  name: Push a
  effects: [{actor: a, issues: [x], position: {add: 30}}]
- id: care
  name: c cares
  effects: [{actor: c, salience: {set: 1}}]
- id: clip
  name: overshoot
  effects: [{actor: a, position: {add: 1000}}]
- id: enter
  name: latecomer enters
  round: 2
  effects: [{add_actor: late}]
- id: leave
  name: c leaves
  effects: [{remove_actor: c}]
- id: power
  name: b gains power on x
  effects: [{actor: b, issues: x, capability: {scale: 3}}]
plans:
- id: both
  name: push then enter
  steps: [{lever: push}, {lever: enter, round: 1}]
"""


@pytest.fixture
def scn():
    return loads_scenario(SCENARIO)


def forecasts(scn, model, *levers, plans=()):
    res = run_scenario(scn, [model], interventions=interventions_for(scn, list(levers), list(plans)))
    return {(r.intervention.label, r.run.issue_ids[0]): float(r.run.forecast[0]) for r in res}


def test_baseline_uses_present_actors_only(scn):
    f = forecasts(scn, "compromise")
    # (0*1 + 50*1 + 100*2*0.5) / (1 + 1 + 1) = 50
    assert f[("baseline", "x")] == pytest.approx(50)
    assert f[("baseline", "y")] == pytest.approx(30)


def test_position_salience_capability_changes(scn):
    f = forecasts(scn, "compromise", "push", "care", "power")
    assert f[("lever:push", "x")] == pytest.approx((30 + 50 + 100) / 3)
    assert f[("lever:push", "y")] == pytest.approx(30)  # the lever names issue x only
    assert f[("lever:care", "x")] == pytest.approx((0 + 50 + 200) / 4)
    assert f[("lever:power", "x")] == pytest.approx((0 + 150 + 100) / 5)


def test_positions_are_clipped_to_the_scale(scn):
    f = forecasts(scn, "compromise", "clip")
    assert f[("lever:clip", "x")] == pytest.approx((100 + 50 + 100) / 3)


def test_actors_enter_and_leave(scn):
    f = forecasts(scn, "compromise", "enter", "leave")
    assert f[("lever:enter", "x")] == pytest.approx((0 + 50 + 100 + 400) / 7)
    assert f[("lever:enter", "y")] == pytest.approx(30)  # no stance on y: stays out there
    assert f[("lever:leave", "x")] == pytest.approx(25)


def test_plan_applies_its_steps_in_order(scn):
    f = forecasts(scn, "compromise", plans=["both"])
    assert f[("plan:both", "x")] == pytest.approx((30 + 50 + 100 + 400) / 7)


def test_unknown_lever_and_plan_are_refused(scn):
    from stakes.errors import OptionError

    with pytest.raises(OptionError, match="unknown lever 'nope'"):
        interventions_for(scn, ["nope"])
    with pytest.raises(OptionError, match="unknown plan 'nope'"):
        interventions_for(scn, None, ["nope"])


def test_same_seed_same_numbers(scn):
    a = run_scenario(scn, ["compromise", "median"], seed=3)
    b = run_scenario(scn, ["compromise", "median"], seed=3)
    assert [r.run.forecast.tolist() for r in a] == [r.run.forecast.tolist() for r in b]


def test_joint_problem_marks_missing_entries(scn):
    from stakes.scenario.arrays import to_problem

    pb = to_problem(scn, missing="nan")
    assert pb.actor_ids == ("a", "b", "c")
    assert np.isnan(pb.position[2, 1])
    assert to_problem(scn, missing="drop").actor_ids == ("a", "b")
