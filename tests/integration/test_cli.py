"""The command line as a user meets it: exit codes, one-line errors, the JSON contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stakes.cli.main import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_run_default_scenario_table():
    res = invoke("run", "--no-save", "--members", "40")
    assert res.exit_code == 0, res.output
    text = res.output
    assert "Forecast (headline): EUM: BDM's median μ after bargaining" in text
    assert "80% interval of 40 members" in text
    assert all(len(line) <= 100 for line in text.splitlines())
    # one line per issue: headline, median, interval, verdict, pivot
    from stakes.api import load

    rows = {line.split()[0]: line for line in text.splitlines()
            if line[:1].strip() and line.split()[0] in {i.id for i in load(None).issues}}
    assert len(rows) == 11
    assert all(any(v in line for v in ("robust", "fragile", "cycling", "degenerate"))
               for line in rows.values())
    # the EUM's 2-cycle on the defence treaty is shown as its range, flagged
    assert "↻" in rows["defense_treaty"] and "cycling" in rows["defense_treaty"]
    # then one block per lever or plan, with effects and flags
    assert "recognition_conditional_elections (lever)" in text and "mechanical" in text


def test_run_json_contract():
    res = invoke("run", "ec-emissions", "--model", "compromise", "--model", "median",
                 "--format", "json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    # the contract adds keys, never removes or renames them
    assert {"stakes_version", "scenario", "results"} <= set(doc)
    assert {"assessments", "assessment_settings"} <= set(doc)
    assert doc["scenario"]["name"].startswith("EC car emission")
    r = doc["results"][0]
    assert {"model", "issue", "options", "rounds", "forecast", "stop", "lever", "plan"} <= set(r)
    assert r["model"] == "compromise" and r["issue"] == "emissions"
    assert r["lever"] is None and r["plan"] is None
    assert r["rounds"][0]["round"] == 0
    assert set(r["rounds"][0]["positions"]) == {"NL", "BE", "LU", "DE", "FR", "IT", "UK", "IE",
                                                "DK", "GR"}
    assert r["forecast"] == pytest.approx(7.38996, abs=1e-4)
    assert r["stop"] in ("converged", "cycle", "max_rounds")


@pytest.mark.parametrize(
    "args, fragment",
    [
        (("run", "ec-emissions", "--model", "nope"), "unknown model 'nope'"),
        (("run", "ec-emissions", "--model", "compromise", "--set", "compromise.weights=xx"),
         "compromise.weights: Input should be"),
        (("run", "ec-emissions", "--model", "compromise", "--set", "compromise.bogus=1"),
         "compromise.bogus: unknown option"),
        (("run", "ec-emissions", "--model", "compromise", "--set", "weights=cs"),
         "expected MODEL.OPTION=VALUE"),
        (("run", "ec-emissions", "--model", "compromise", "--set", "median.weights=cs"),
         "model 'median' is not being run"),
        (("run", "ec-emissions", "--format", "xml"), "--format 'xml'"),
        (("run", "no/such/file.yaml"), "no/such/file.yaml: no such file"),
        (("run", "ec-emissions", "--lever", "nope"), "unknown lever 'nope'"),
        (("levers", "ec-emissions"), "defines no levers or plans"),
    ],
)
def test_bad_options_exit_2_with_one_line(args, fragment):
    res = invoke(*args)
    assert res.exit_code == 2
    assert fragment in res.stderr
    assert "Traceback" not in res.output + res.stderr


def test_invalid_scenario_reports_line_and_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "stakes: 1\nmetadata: {name: x}\nactors:\n- {id: a, name: A, capability: 1}\n"
        "issues:\n- {id: i, name: I}\nentries:\n"
        "- {actor: a, issue: i, position: 50, salience: 1.5}\n"
        "- {actor: zz, issue: i, position: 50, salience: 0.5}\n",
        encoding="utf-8",
    )
    res = invoke("run", str(bad), "--model", "compromise")
    assert res.exit_code == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert f"error: {bad}:8:38: entries[0].salience.value: salience 1.5 is outside [0, 1]" in lines
    assert f"error: {bad}:9:4: entries[1].actor: unknown actor 'zz'" in lines


def test_models_lists_every_model_with_options():
    res = invoke("models", "--format", "json")
    assert res.exit_code == 0
    doc = json.loads(res.stdout)
    names = {m["name"] for m in doc}
    assert {"compromise", "median", "status-quo", "nbs", "nbs-joint", "eum"} <= names
    eum = next(m for m in doc if m["name"] == "eum")
    assert eum["options"]["prob"]["default"] == "scholz_code"


def test_new_writes_a_template_that_runs(tmp_path):
    target = tmp_path / "mine.yaml"
    res = invoke("new", str(target))
    assert res.exit_code == 0
    res = invoke("run", str(target), "--model", "compromise", "--format", "json")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    labels = {(r["lever"], r["plan"]) for r in doc["results"]}
    assert labels == {(None, None), ("pressure", None), (None, "campaign")}
    res = invoke("new", str(target))
    assert res.exit_code == 2 and "exists" in res.stderr


LEVERS = """
stakes: 1
metadata: {name: levers}
actors:
- {id: d, name: D, capability: 10}
- {id: l, name: L, capability: 1}
- {id: r, name: R, capability: 1}
issues:
- {id: x, name: X, status_quo: 0}
- {id: y, name: Y, status_quo: 0}
entries:
- {actor: d, issue: x, position: 30, salience: 0.9}
- {actor: l, issue: x, position: 10, salience: 0.5}
- {actor: r, issue: x, position: 70, salience: 0.5}
- {actor: d, issue: y, position: 50, salience: 0.9}
- {actor: l, issue: y, position: 20, salience: 0.5}
levers:
- {id: big, name: big, effects: [{actor: d, issues: [x], position: {set: 90}},
                                 {actor: d, issues: [y], position: {set: 60}}]}
- {id: none, name: none, effects: [{actor: r, issues: [x], salience: {set: 0.5}}]}
"""


def test_levers_ranks_every_issue_a_lever_moves(tmp_path):
    path = tmp_path / "levers.yaml"
    path.write_text(LEVERS)
    res = invoke("levers", str(path), "--members", "20")
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    start = lines.index("big (lever): moves 2 issues")
    block = [ln.split() for ln in lines[start + 2:start + 8] if ln.startswith("  ")]
    # ranked by the size of the effect: x (+60) before y (+10), every model
    assert [b[0] for b in block] == ["x"] * 3 + ["y"] * 3
    assert "No effect on any forecast (beyond 1% of the scale): none" in res.output
    res = invoke("levers", str(path), "--members", "20", "-f", "json")
    rows = json.loads(res.stdout)
    big_x = next(r for r in rows if r["lever"] == "big" and r["issue"] == "x"
                 and r["model"] == "median")
    assert big_x["shift"] == pytest.approx(60.0) and big_x["flags"] == ["mechanical"]
    assert big_x["effect"]["members"] == 20 and big_x["imposed"] == pytest.approx(60.0)


def test_run_says_where_bargaining_left_the_forecast_at_its_start(tmp_path):
    path = Path(__file__).resolve().parents[1] / "data" / "edge.yaml"
    res = invoke("run", str(path), "--no-save", "-m", "eum", "--members", "0")
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert ("Bargaining moved eum's forecast less than 1% of the scale from where it starts, "
            "the capability × salience weighted median of the positions as stated, on 1 of 1 "
            "issues: x.") in text
    res = invoke("explain", str(path), "x", "--members", "0")
    assert "Before any round the forecast rule gives 0.00; bargaining adds +0.00." in res.output
