"""Plan search on scenarios whose answers are known by construction."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from stakes.analysis.advise import (
    Candidate,
    Scorer,
    advise,
    cost_of,
    orderings,
    parse_goal,
    plan_order,
    wilson,
)
from stakes.cli.main import app
from stakes.engine import run_scenario
from stakes.errors import OptionError
from stakes.scenario.yaml_io import loads_scenario

# Baseline compromise on x: (0 + 40 + 50) / 3 = 30.  Only `big` lifts it past 50 alone;
# `small_b` and `small_c` together reach 46.7; `elsewhere` touches issue y only.
SCENARIO = (Path(__file__).resolve().parents[1] / "data" / "plan_search.yaml").read_text()


@pytest.fixture(scope="module")
def scn():
    return loads_scenario(SCENARIO)


def _levers(scn, ids):
    return scn.model_copy(update={"levers": [lv for lv in scn.levers if lv.id in ids]})


def _brute_force(scn, goal, scorer, cand, model="compromise"):
    """Share of members meeting ``goal``, each member run through the one-run engine."""
    iv = cand.intervention(scn, "brute")
    hits = []
    for row in scorer.values:
        mscn = scorer.space.scenario_for(row)
        res = run_scenario(mscn, [model], interventions=[iv], issues=[goal.issue])
        f = {goal.issue: res[0].run.forecast}
        hits.append(bool(goal.met(f, f)[0]))
    return float(np.mean(hits))


def test_goal_parsing_refuses_bad_goals(scn):
    assert parse_goal("x >= 50", scn).value == 50
    assert parse_goal("x<=2.5e1", scn).op == "<="
    for bad in ("z>=1", "x>=500", "x=5", "x>=", ">=5"):
        with pytest.raises(OptionError):
            parse_goal(bad, scn)


def test_exhaustive_search_finds_the_known_best_plan_and_matches_brute_force(scn):
    small = _levers(scn, {"big", "small_b", "small_c", "elsewhere"})
    goal = parse_goal("x>=50", small)
    adv = advise(small, [goal], model="compromise", members=40, seed=3, orders=False,
                 persuade=False)
    assert adv.method == "exhaustive"
    assert adv.left_out == ["elsewhere"]  # it cannot reach x
    assert adv.evaluated == 2**3 - 1  # every non-empty subset of the three levers on x
    best = adv.ranked[0]
    assert "big" in best.candidate.levers
    # No plan without `big` reaches 50 in most members; every plan with it does.
    scorer = Scorer(small, [goal], "compromise", members=40, seed=3)
    for k in range(1, 4):
        for subset in itertools.combinations(["big", "small_b", "small_c"], k):
            cand = Candidate(tuple((lv, 0) for lv in subset))
            got = scorer.score([cand])[0]
            assert got.p_goals == _brute_force(small, goal, scorer, cand)
            if "big" in subset:
                assert got.p_goals > 0.9
            else:
                assert got.p_goals < 0.5


def test_eum_scores_match_the_one_run_engine(scn):
    small = _levers(scn, {"big", "small_b", "small_c"})
    goal = parse_goal("x>=45", small)
    scorer = Scorer(small, [goal], "eum", members=12, seed=1)
    for subset in (("small_b",), ("small_b", "small_c"), ("big",)):
        cand = Candidate(tuple((lv, 0) for lv in subset))
        assert scorer.score([cand])[0].p_goals == _brute_force(small, goal, scorer, cand, "eum")


def test_costs_give_a_pareto_front(scn):
    small = _levers(scn, {"big", "small_b", "small_c"})
    goal = parse_goal("x>=45", small)
    adv = advise(small, [goal], model="compromise", members=60, seed=0, orders=False,
                 persuade=False, top=10)
    assert cost_of(small, ["big", "small_b"]) == 6
    front = adv.front
    # Sorted by cost, each point on the front buys a strictly higher success share.
    costs = [s.cost for s in front]
    ps = [s.p_goals for s in front]
    assert costs == sorted(costs) and all(b > a for a, b in zip(ps, ps[1:]))
    everything = adv.ranked
    for s in everything:  # nothing on the front is beaten on both counts
        for f in front:
            assert not (s.p_goals >= f.p_goals and s.cost <= f.cost
                        and (s.p_goals > f.p_goals or s.cost < f.cost))
    # A budget of 2 rules out `big`.
    capped = advise(small, [goal], model="compromise", members=60, seed=0, budget=2,
                    orders=False, persuade=False)
    assert all("big" not in s.candidate.levers for s in capped.ranked)
    assert all(s.cost <= 2 for s in capped.ranked)


def test_without_costs_plan_size_is_the_cost(scn):
    bare = scn.model_copy(update={"levers": [lv.model_copy(update={"cost": None})
                                             for lv in scn.levers]})
    assert cost_of(bare, ["big", "small_b", "small_c"]) == 3


def test_order_matters_when_levers_do_not_commute(scn):
    # set a to 80 then shift by 30 → 100 (clipped); the other way → 80.  Mean 63.3 vs 56.7.
    goal = parse_goal("x>=60", scn)
    spread = plan_order(scn, "set_then_shift", [goal], model="compromise", members=80, seed=2)
    assert spread.exhaustive and len(spread.scores) == 3  # all at once + two orderings
    assert spread.best.candidate.levers == ("set_a", "shift_a")
    assert spread.worst.candidate.levers == ("shift_a", "set_a")
    assert spread.p_range[1] - spread.p_range[0] > 0.5
    assert spread.matters()


def test_order_does_not_matter_when_levers_commute(scn):
    goal = parse_goal("x>=45", scn)
    scorer = Scorer(scn, [goal], "compromise", members=50, seed=0)
    from stakes.analysis.advise import order_spread

    spread = order_spread(scorer, ["small_b", "small_c"])
    assert len({s.p_goals for s in spread.scores}) == 1
    assert not spread.matters()


def test_orderings_sample_when_there_are_too_many():
    cands, exhaustive = orderings(list("abcdefg"), seed=0, limit=30)
    assert not exhaustive
    assert len(cands) == 31 and len({c.steps for c in cands}) == 31
    again, _ = orderings(list("abcdefg"), seed=0, limit=30)
    assert [c.steps for c in again] == [c.steps for c in cands]


def test_who_to_work_on_ranks_the_heaviest_actor_first(scn):
    heavy = scn.model_copy(update={"actors": [
        a.model_copy(update={"capability": a.capability.model_copy(update={"value": 4.0})})
        if a.id == "c" else a for a in scn.actors]})
    # Baseline (0 + 40 + 4*50) / 6 = 40; the goal sits just above it.
    goal = parse_goal("x>=43", heavy)
    adv = advise(_levers(heavy, {"small_b"}), [goal], model="compromise", members=80, seed=0,
                 orders=False)
    moves = [p for p in adv.persuasion if p.what == "position"]
    assert moves[0].actor == "c"
    # Moving a position toward the goal never lowers a weighted mean's success share.
    assert all(p.gain >= 0 for p in moves)


def test_imposed_part_of_a_baseline_is_everything(scn):
    goal = parse_goal("x>=50", scn)
    adv = advise(_levers(scn, {"big"}), [goal], model="compromise", members=20, orders=False,
                 persuade=False)
    s = adv.ranked[0]
    assert s.bargained_share("x") == pytest.approx(0.0, abs=1e-12)
    assert s.mechanical


def test_wilson_interval_contains_the_share():
    lo, hi = wilson(30, 100)
    assert lo < 0.3 < hi
    assert wilson(0, 50)[0] == 0.0 and wilson(50, 50)[1] == 1.0


def test_cli_json_and_refusals(tmp_path, scn):
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO)
    runner = CliRunner()
    res = runner.invoke(app, ["advise", str(path), "--goal", "x>=50", "--model", "compromise",
                              "--members", "30", "--format", "json", "--no-save"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["method"] == "exhaustive" and doc["goals"] == ["x>=50"]
    # set_a alone moves a to 80: (80 + 40 + 50) / 3 = 56.7, at cost 1, the cheapest sure plan.
    assert [st["lever"] for st in doc["ranked"][0]["plan"]] == ["set_a"]
    assert {"p_goals", "p_interval", "cost", "bargained_share", "side_effects"} <= set(
        doc["ranked"][0])
    res = runner.invoke(app, ["advise", str(path), "--goal", "x>=500"])
    assert res.exit_code == 2
    assert "outside the issue's scale" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["advise", str(path), "--goal", "x>=60", "--model", "compromise",
                              "--members", "30", "--plan", "set_then_shift"])
    assert res.exit_code == 0, res.output
    assert "order matters" in res.output


def test_a_goal_for_an_actor_counts_members_where_it_is_better_off(scn):
    from stakes.analysis.advise import actor_goal

    goal = actor_goal("a", scn)  # a stands at 0 on x and 10 on y
    assert goal.issues == ("x", "y")
    small = _levers(scn, {"big", "small_b", "elsewhere"})
    adv = advise(small, [goal], model="compromise", members=40, seed=0, orders=False,
                 persuade=False)
    by = {s.candidate.levers: s for s in adv.ranked}
    # Moving b further from a on x never helps a; a's own move to 90 on x hurts it.
    assert by[("small_b",)].p_goals == 0.0
    assert by[("big",)].p_goals == 0.0
    scorer = Scorer(small, [goal], "compromise", members=40, seed=0)
    s = scorer.score([Candidate((("small_b", 0),))])[0]
    assert s.p_goals == 0.0 and s.toward < 0
    with pytest.raises(OptionError):
        actor_goal("nobody", scn)


def test_python_api_parses_goals(scn):
    import stakes

    adv = stakes.advise(_levers(scn, {"big", "small_b"}), ["x>=50"], model="compromise",
                        members=20, orders=False, persuade=False)
    assert adv.goals[0].label == "x>=50" and adv.ranked[0].candidate.levers[0] == "big"


def test_lever_values_are_exact_shapley_values_that_add_up(scn):
    small = _levers(scn, {"big", "small_b", "small_c"})
    goal = parse_goal("x>=45", small)
    adv = advise(small, [goal], model="compromise", members=60, seed=0, orders=False,
                 persuade=False, top=10)
    assert adv.lever_values_exact
    scorer = Scorer(small, [goal], "compromise", members=60, seed=0)
    full = scorer.score([Candidate((("big", 0), ("small_b", 0), ("small_c", 0)))])[0]
    # Efficiency: the values add up to the whole plan's gain over the baseline.
    assert sum(adv.lever_values.values()) == pytest.approx(full.p_goals - adv.baseline_p)
    assert max(adv.lever_values, key=adv.lever_values.get) == "big"


@pytest.mark.parametrize("extra", [{}, {"forecast": "mean"}, {"median_tie": "midpoint"}])
def test_imposed_rule_is_the_models_round_zero_forecast(scn, extra):
    # the search's batched imposed part and the one-run split of `stakes run` agree
    from stakes.analysis.advise import imposed_rule
    from stakes.forecast.effects import round0
    from stakes.levers import intervention_for_lever

    rule_model, rule_opts = imposed_rule(scn, "eum", extra, None)
    for lever in ("big", "small_c", "set_a"):
        iv = intervention_for_lever(scn, lever)
        got = run_scenario(scn, [rule_model], options={rule_model: rule_opts},
                           interventions=[iv], issues=["x"])[0].run.forecast[0]
        want = round0(scn, "eum", ("x",), iv, options={"eum": extra}["eum"])[0][0]
        assert got == pytest.approx(want, abs=1e-12)


def test_members_whose_cycle_straddles_the_goal_are_counted_against_the_one_run_engine():
    # The default scenario's defence treaty cycles in many members; a member counts when
    # its cycle's rounds fall on both sides of the goal, read off each member's own
    # recorded run.
    from stakes.api import load
    from stakes.forecast.headline import cycle_range
    from stakes.levers import baseline

    scn = load(None)
    goal = parse_goal("defense_treaty>=50", scn)
    scorer = Scorer(scn, [goal], "eum", members=24, seed=0)
    straddle = []
    for row in scorer.values:
        mscn = scorer.space.scenario_for(row)
        run = run_scenario(mscn, ["eum"], interventions=[baseline()],
                           issues=["defense_treaty"])[0].run
        rng = cycle_range(run, 0)
        straddle.append(rng is not None and rng[0] < 50 <= rng[1])
    assert any(straddle)  # the check reads members that do straddle
    assert scorer.base_cycle == pytest.approx(np.mean(straddle))
    cand = Candidate((("allen_plan", 0),))
    assert scorer.score([cand])[0].p_cycle is not None
    # a model without rounds has no cycles to judge
    assert Scorer(scn, [parse_goal("defense_treaty>=50", scn)], "compromise",
                  members=4).base_cycle is None
