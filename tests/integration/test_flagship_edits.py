"""The typical edits the flagship page documents load and run.

``docs/scenarios/us-israel-palestine-2023.md`` (*Updating it*) names them: bring an
actor in, and change a capability.  Each is made here the way a user makes it, on the
file's data, and the edited scenario is loaded through the same checks as a file and
run through the engine.
"""

from __future__ import annotations

import copy
import math
from importlib import resources

import pytest
from typer.testing import CliRunner

from stakes.cli.main import app
from stakes.engine import interventions_for, run_scenario
from stakes.scenario.arrays import capability_of
from stakes.scenario.review import review
from stakes.scenario.yaml_io import dumps_scenario, parse_text, scenario_from_data

NAME = "us-israel-palestine-2023.yaml"
SENTENCE = "Oman hosted indirect talks between the US and Iran in 2023, which gives it a channel."


@pytest.fixture(scope="module")
def data() -> dict:
    text = (resources.files("stakes.data") / "scenarios" / NAME).read_text(encoding="utf-8")
    return parse_text(text, NAME)[0]


def _finite(results) -> None:
    assert results
    for r in results:
        assert all(math.isfinite(float(v)) for v in r.run.forecast), r.run.model


def test_bring_a_new_actor_in(data: dict) -> None:
    d = copy.deepcopy(data)
    d["actors"].append({"id": "oman", "name": "Oman",
                        "capability": {"value": 0.15, "basis": {"kind": "judgment",
                                                                "rationale": SENTENCE}}})
    for issue, pos in (("ceasefire", 90), ("negotiation_format", 67)):
        d["entries"].append({"actor": "oman", "issue": issue,
                             "position": {"value": pos, "basis": {"kind": "judgment",
                                                                  "rationale": SENTENCE}},
                             "salience": {"value": 0.4, "basis": {"kind": "judgment",
                                                                  "rationale": SENTENCE}}})
    scn = scenario_from_data(d, file="edited.yaml")
    assert review(scn) == []
    res = run_scenario(scn, ["eum", "median", "smp"], issues=["ceasefire", "negotiation_format"])
    _finite(res)
    assert any("oman" in r.run.rounds[0].actor_ids for r in res)
    # the arena's `others` weight applies to the newcomer until it is listed there
    assert capability_of(scn, "oman", "ceasefire") == pytest.approx(0.15 * 0.05)


def test_set_an_actor_present_that_a_lever_brings_in(data: dict) -> None:
    """The edit that used to fail: an actor kept out until a lever adds it, set present."""
    d = copy.deepcopy(data)
    qatar = next(a for a in d["actors"] if a["id"] == "qatar")
    qatar["present"] = False
    lever = next(lv for lv in d["levers"] if lv["id"] == "ceasefire_and_conference")
    lever["effects"].append({"add_actor": "qatar"})
    absent = scenario_from_data(d, file="edited.yaml")
    qatar["present"] = True  # the documented edit
    scn = scenario_from_data(d, file="edited.yaml")
    found = [str(f) for f in review(scn)]
    assert any("brings in 'qatar', which is already present" in f for f in found)
    ivs = interventions_for(scn, ["ceasefire_and_conference"])
    for s in (absent, scn):
        res = run_scenario(s, ["eum", "exchange"], interventions=ivs, issues=None)
        _finite(res)
    res = run_scenario(scn, ["median"], issues=["ceasefire"])
    assert "qatar" in res[0].run.rounds[0].actor_ids


def test_change_a_capability(data: dict, tmp_path) -> None:
    d = copy.deepcopy(data)
    qatar = next(a for a in d["actors"] if a["id"] == "qatar")
    before = scenario_from_data(copy.deepcopy(d))
    qatar["capability"]["value"] = 0.5
    scn = scenario_from_data(d, file="edited.yaml")
    assert capability_of(scn, "qatar", "ceasefire") == pytest.approx(
        2 * capability_of(before, "qatar", "ceasefire"))
    path = tmp_path / "edited.yaml"
    path.write_text(dumps_scenario(scn), encoding="utf-8")
    res = CliRunner().invoke(app, ["run", str(path), "--no-levers", "--no-save", "-m", "eum",
                                   "-m", "smp"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "as of 2023-11-27" in res.output
