"""The round driver's records: lever timing in the records, and the EUM's offers as events."""

from __future__ import annotations

import numpy as np
import pytest

from stakes.engine import interventions_for, run_scenario
from stakes.models.base import Problem, Schedule
from stakes.models.eum import EUM, EUMOptions
from stakes.scenario.yaml_io import loads_scenario

# EC emissions example (Bueno de Mesquita 1994; Scholz et al. 2011; spec §2.11).
ACTORS = ["NL", "BE", "LU", "DE", "FR", "IT", "UK", "IE", "DK", "GR"]
C = np.array([0.08, 0.08, 0.03, 0.16, 0.16, 0.16, 0.16, 0.05, 0.05, 0.08])
X = np.array([4, 7, 4, 4, 10, 10, 10, 7, 4, 7], dtype=float)
S = np.array([0.8, 0.4, 0.2, 0.8, 0.6, 0.6, 0.9, 0.1, 1.0, 0.7])


def ec_run(**opts):
    pb = Problem(("emissions",), tuple(ACTORS), X[:, None], S[:, None], C[:, None],
                 np.array([4.0]), np.array([10.0]), np.array([np.nan]))
    return EUM().run(pb, EUMOptions(**opts), Schedule.empty(), np.random.default_rng(0))


def test_round_one_offers_are_recorded_with_the_accepted_ones():
    run = ec_run(max_rounds=3)
    assert run.rounds[0].events == []
    events = run.rounds[1].events
    assert events and all(e.kind == "offer" and e.issues == ("emissions",) for e in events)
    accepted = {e.actors[1]: e for e in events if e.detail["accepted"]}
    # Belgium takes France's compromise (Italy's equal offer comes second), Luxembourg
    # loses a conflict to Belgium, Ireland one to Luxembourg (spec §2.11).
    assert set(accepted) == {"BE", "LU", "IE"}
    be = accepted["BE"]
    assert be.actors == ("FR", "BE") and be.detail["type"] == "compromise"
    assert be.detail["eu_receiver"] == pytest.approx(-0.11483, abs=1e-5)
    assert be.detail["eu_proposer"] == pytest.approx(0.24330, abs=1e-5)
    assert be.detail["position"] == pytest.approx(8.41593, abs=1e-5)
    assert accepted["LU"].actors == ("BE", "LU") and accepted["LU"].detail["type"] == "conflict"
    assert accepted["IE"].actors == ("LU", "IE") and accepted["IE"].detail["position"] == 4.0


def test_every_record_agrees_with_its_events_and_matrices():
    run = ec_run(max_rounds=10)
    for before, rec in zip(run.rounds, run.rounds[1:]):
        new = dict(zip(rec.actor_ids, rec.position[:, 0]))
        old = dict(zip(before.actor_ids, before.position[:, 0]))
        taken = {}
        for e in rec.events:
            proposer, receiver = e.actors
            i, j = rec.actor_ids.index(receiver), rec.actor_ids.index(proposer)
            assert e.detail["eu_receiver"] == rec.eu_challenge[i, j]
            assert e.detail["eu_proposer"] == rec.eu_challenged[i, j]
            if e.detail["accepted"]:
                assert receiver not in taken  # one accepted offer per receiver
                taken[receiver] = e.detail["position"]
        for a in rec.actor_ids:
            assert new[a] == taken.get(a, old[a])


SCENARIO = """
stakes: 1
metadata: {name: driver test}
actors:
- {id: a, name: A, capability: 1}
- {id: b, name: B, capability: 1}
- {id: c, name: C, capability: 2}
- {id: late, name: Latecomer, capability: 4, present: false}
issues:
- {id: x, name: X}
entries:
- {actor: a, issue: x, position: 0, salience: 1}
- {actor: b, issue: x, position: 50, salience: 1}
- {actor: c, issue: x, position: 100, salience: 0.5}
- {actor: late, issue: x, position: 90, salience: 1}
levers:
- {id: push, name: push, effects: [{actor: a, position: {add: 30}}]}
- {id: enter, name: enter, round: 2, effects: [{add_actor: late}]}
- {id: never, name: never, round: 99, effects: [{actor: a, position: {set: 100}}]}
"""


def test_round_zero_record_holds_the_round_zero_lever():
    scn = loads_scenario(SCENARIO)
    res = run_scenario(scn, ["eum"], interventions=interventions_for(scn, ["push"]))
    base, push = res
    assert base.run.rounds[0].position[0, 0] == 0.0
    assert push.run.rounds[0].position[0, 0] == 30.0


def test_levers_act_after_their_round_and_late_ones_are_reported():
    scn = loads_scenario(SCENARIO)
    res = run_scenario(scn, ["eum"], options={"eum": {"max_rounds": 20}},
                       interventions=interventions_for(scn, ["enter", "never"]))
    by = {r.intervention.label: r.run for r in res}
    enter = by["lever:enter"]
    assert [len(r.actor_ids) for r in enter.rounds[:4]] == [3, 3, 3, 4]
    assert enter.info["rounds_run"] >= 3  # no stop before the lever has acted
    never = by["lever:never"]
    assert never.info["levers_not_applied"] == [99]
    assert never.forecast.tolist() == by["baseline"].forecast.tolist()


def test_an_unrecorded_ensemble_knows_the_range_of_the_cycle_a_member_ends_in():
    # The default scenario's defence treaty ends in a cycle whose rounds disagree: the
    # driver's range for the member equals the one read off the recorded run's rounds.
    from stakes.analysis.ensemble import Ensemble
    from stakes.analysis.uncertainty import input_space
    from stakes.api import load
    from stakes.forecast.headline import cycle_range
    from stakes.levers import baseline

    scn = load()
    res = run_scenario(scn, ["eum"], interventions=[baseline()])
    runs = {r.run.issue_ids[0]: r.run for r in res}
    recorded = cycle_range(runs["defense_treaty"], 0)
    assert recorded is not None
    space = input_space(scn)
    ev = Ensemble(space, ["eum"], [baseline()], backend=None).evaluate(
        space.nominal[None, :], members=[-1])
    for (model, label, iss, wo), (lo, hi) in ev.cycles.items():
        rng = cycle_range(runs[iss], 0)
        if rng is None:
            assert not (np.isfinite(lo[0]) and hi[0] - lo[0] > 5e-3), iss
        else:
            assert (lo[0], hi[0]) == pytest.approx(rng, abs=1e-9), iss
