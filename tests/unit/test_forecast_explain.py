"""``stakes explain``: pivot, balance, contributions and the rounds' events."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from test_forecast_verdicts import PIVOT  # pytest puts this folder on the path
from typer.testing import CliRunner

from stakes.cli.main import app
from stakes.forecast.explain import describe, explain
from stakes.forecast.pivot import mean_terms, tipping
from stakes.models.base import Event
from stakes.models.eum import EUM
from stakes.scenario.yaml_io import loads_scenario

runner = CliRunner()


def test_offers_are_told_as_the_spec_tells_the_ec_example():
    # The EC example's round 1 (docs/spec/eum.md, "Round-1 events", from each receiver's
    # point of view).  Events name the proposer first, then the receiver.
    evs = [Event("offer", ("FR", "BE"), ("emissions",), {"type": "compromise",
                                                          "position": 8.41593}),
           Event("offer", ("BE", "LU"), ("emissions",), {"type": "conflict", "position": 7}),
           Event("offer", ("LU", "IE"), ("emissions",), {"type": "conflict",
                                                         "accepted": False})]
    assert describe(evs[0]) == "BE compromises with FR on emissions (position 8.42)"
    assert describe(evs[1]) == "LU loses a conflict to BE on emissions (position 7)"
    assert describe(evs[2]) == "IE loses a conflict to LU (not accepted) on emissions"
    assert describe(Event("exchange", ("a", "b"), ("x", "y"), {"gain": 0.25})) == \
        "a and b exchange on x, y (gain 0.25)"
    assert describe(Event("mystery", ("a",), (), {"k": 1})) == "mystery: a (k 1)"


def test_tipping_actor_and_exact_mean_shares():
    x = np.array([10.0, 30.0, 70.0])
    w = np.array([1.0, 5.0, 1.0])
    assert tipping(x, w, ["l", "d", "r"], 30.0, 100)[0] == "d"
    terms = mean_terms(x, w, ref=0.0)
    # the shares add up to the weighted mean's distance from the reference
    assert terms.sum() == pytest.approx(np.average(x, weights=w))


def test_explain_names_the_pivot_and_the_balance():
    scn = loads_scenario(PIVOT)
    ex = explain(scn, "x", model="eum")
    assert ex.pivot[0] == "decider"
    assert ex.forecast == pytest.approx(30.0)
    assert ex.contribution_method == "leave-one-out"
    # everyone stands above the status quo 0: all weight is for moving up
    assert ex.balance.towards == pytest.approx(1.0) and ex.balance.direction == 1
    text = "\n".join(ex.narrative())
    assert "Pivot: decider" in text and "tips the median" in text


def test_compromise_contributions_are_shapley_and_sum_to_the_move():
    scn = loads_scenario(PIVOT)
    ex = explain(scn, "x", model="compromise")
    assert ex.contribution_method == "shapley"
    total = sum(a.contribution for a in ex.actors)
    assert total == pytest.approx(ex.forecast - 0.0)


def test_explain_tells_the_ec_examples_first_round_as_the_spec_does():
    # spec §2.11: in round 1 Belgium compromises with France; Luxembourg and Ireland lose
    # conflicts (the EUM's own events, recorded by the engine)
    from stakes.api import load

    ex = explain(load("ec-emissions"), "emissions", model="eum", members=0)
    text = "\n".join(ex.narrative())
    assert "Round 1: BE compromises with FR on emissions" in text
    assert "Round 1: LU loses a conflict to BE on emissions" in text
    assert re.search(r"Round 1: IE loses a conflict to \w+ on emissions", text)
    round1 = [ev for r, ev in ex.events if r == 1 and ev.detail.get("accepted")]
    # one accepted offer per actor that moved in round 1, each at the position it moved to
    assert {ev.actors[1] for ev in round1} == {"BE", "LU", "IE"}


def test_explain_command_table_and_json(tmp_path):
    path = tmp_path / "pivot.yaml"
    path.write_text(PIVOT)
    res = runner.invoke(app, ["explain", str(path), "x", "--lever", "sway", "--members", "20"],
                        catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "Pivot: decider" in res.output and "mechanical" in res.output
    assert all(len(line) <= 100 for line in res.output.splitlines())
    res = runner.invoke(app, ["explain", str(path), "x", "--lever", "sway", "--members", "20",
                              "-f", "json"], catch_exceptions=False)
    doc = json.loads(res.stdout)
    assert doc["pivot"][0] == "decider" and doc["flags"] == ["mechanical"]
    assert doc["imposed"] == pytest.approx(30.0) and doc["interval"]["members"] == 20
    assert {a["actor"] for a in doc["actors"]} == {"decider", "left", "right"}


@pytest.mark.parametrize("args, fragment", [
    (["explain", "nope"], "unknown issue 'nope'"),
    (["explain", "us_recognition", "--lever", "nope"], "unknown lever 'nope'"),
    (["explain", "a", "b", "c"], "expected [SCENARIO] ISSUE"),
])
def test_explain_refusals(args, fragment):
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and fragment in res.output and "Traceback" not in res.output
