"""``stakes seal`` and ``stakes grade`` as a user runs them, on a stored run of a packaged
scenario; an altered, removed or reordered record is refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from stakes.cli.main import app
from stakes.ledger import crps_discrete
from stakes.store import open_store

runner = CliRunner()
SCENARIO = "EC car emission standards (1989)"


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def stored(tmp_path) -> tuple[Path, str]:
    store = tmp_path / "store"
    res = invoke("run", "ec-emissions", "--no-levers", "--store", store, "-o",
                 tmp_path / "run.txt")
    assert res.exit_code == 0, res.output
    with open_store(store, read_only=True) as st:
        return store, st.runs()[0].id


def outcomes(path: Path, value: float, date: str = "2099-01-01") -> Path:
    path.write_text("scenario,issue,value,date,source\n"
                    f"{SCENARIO},emissions,{value},{date},Council minutes p. 3\n")
    return path


def test_seal_then_grade(tmp_path, stored):
    store, rid = stored
    ledger = tmp_path / "ledger.jsonl"
    res = invoke("seal", rid, "--store", store, "-l", ledger, "-q", "emissions>=8")
    assert res.exit_code == 0, res.output
    res = invoke("seal", rid, "--store", store, "-l", ledger, "--points")
    assert res.exit_code == 0, res.output
    recs = [json.loads(x) for x in ledger.read_text().splitlines()]
    assert len(recs) == 2 and recs[0]["prev"] is None and recs[1]["prev"] == recs[0]["hash"]
    first = recs[0]
    assert first["run"] == rid and first["scenario"]["name"] == SCENARIO
    assert len(first["scenario"]["hash"]) == 64 and len(first["document_sha256"]) == 64
    assert first["seed"] == 0 and first["stakes_version"]
    assert {f["model"] for f in first["forecasts"]} == {"eum", "compromise", "median"}
    for f in first["forecasts"]:
        d = f["distribution"]
        assert sum(d["p"]) == pytest.approx(1, abs=1e-4)
        assert 4 <= min(d["values"]) and max(d["values"]) <= 10  # the scale
        lo, hi = f["interval80"]
        assert 4 <= lo <= f["point"] <= hi <= 10
    q = {a["model"]: a["p"] for a in first["questions"]}
    assert set(q) == {"eum", "compromise", "median"} and all(0 <= p <= 1 for p in q.values())
    assert "distribution" not in recs[1]["forecasts"][0]

    res = invoke("grade", ledger, outcomes(tmp_path / "out.csv", 8.5), "-f", "json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    rows = doc["forecasts"]
    assert len(rows) == 6 and doc["late"] == 0
    by = {(r["record"], r["model"]): r for r in rows}
    for f in first["forecasts"]:
        r = by[(first["hash"][:12], f["model"])]
        assert r["abs_error"] == pytest.approx(abs(f["point"] - 8.5))
        d = f["distribution"]
        assert r["crps"] == pytest.approx(crps_discrete(np.array(d["values"]),
                                                        np.array(d["p"]), 8.5))
        assert r["hit80"] == (f["interval80"][0] <= 8.5 <= f["interval80"][1])
    for f in recs[1]["forecasts"]:  # points: CRPS is the absolute error, no interval
        r = by[(recs[1]["hash"][:12], f["model"])]
        assert r["crps"] == pytest.approx(abs(f["point"] - 8.5)) and r["hit80"] is None
    for b in doc["questions"]:
        assert b["happened"] and b["brier"] == pytest.approx((q[b["model"]] - 1) ** 2)
    assert doc["summary"]["eum"]["n"] == 2 and doc["summary"]["eum"]["n_questions"] == 1
    res = invoke("grade", ledger, tmp_path / "out.csv")
    assert res.exit_code == 0 and "Summary" in res.output


def test_outcome_known_before_sealing_is_flagged_and_left_out(tmp_path, stored):
    store, rid = stored
    ledger = tmp_path / "ledger.jsonl"
    assert invoke("seal", rid, "--store", store, "-l", ledger).exit_code == 0
    res = invoke("grade", ledger, outcomes(tmp_path / "o.csv", 7, "2001-01-01"), "-f", "json")
    doc = json.loads(res.stdout)
    assert doc["late"] == 3 and all(r["late"] for r in doc["forecasts"])
    assert all(v["n"] == 0 for v in doc["summary"].values())


@pytest.mark.parametrize("tamper, message", [
    (lambda lines: [lines[0].replace('"point":7.0', '"point":9.0', 1), lines[1]],
     "ledger.jsonl:1: hash: record of run"),
    (lambda lines: [lines[1]], "ledger.jsonl:1: prev: the record before this one"),
    (lambda lines: [lines[1], lines[0]], "ledger.jsonl:1: prev:"),
    (lambda lines: [lines[0], "{not json"], "ledger.jsonl:2: not a JSON record"),
])
def test_tampered_ledger_is_refused(tmp_path, stored, tamper, message):
    store, rid = stored
    ledger = tmp_path / "ledger.jsonl"
    for _ in range(2):
        assert invoke("seal", rid, "--store", store, "-l", ledger).exit_code == 0
    lines = ledger.read_text().splitlines()
    assert '"point":7.0' in lines[0]  # the EUM's forecast, sealed
    ledger.write_text("\n".join(tamper(lines)) + "\n")
    before = ledger.read_bytes()
    res = invoke("grade", ledger, outcomes(tmp_path / "o.csv", 8))
    assert res.exit_code == 2 and message in res.output, res.output
    assert "Traceback" not in res.output and "Summary" not in res.output
    # Nor is anything appended to a ledger that does not check out.
    res = invoke("seal", rid, "--store", store, "-l", ledger)
    assert res.exit_code == 2 and ledger.read_bytes() == before


@pytest.mark.parametrize("text, message", [
    ("scenario,issue,value,date\nx,emissions,8,2030-01-01\n", "o.csv:1: missing column(s) "
     "source"),
    ("scenario,issue,value,date,source\nx,emissions,eight,2030-01-01,s\n",
     "o.csv:2:3: value: 'eight' is not a number"),
    ("scenario,issue,value,date,source\nx,emissions,8,1/2/2030,s\n",
     "o.csv:2:4: date: '1/2/2030' is not a date (YYYY-MM-DD)"),
    ("scenario,issue,value,date,source\nx,emissions,8,2030-01-01,\n",
     "o.csv:2:5: source: empty"),
    ("scenario,issue,value,date,source\nx,emissions,8\n", "o.csv:2: 3 fields, expected 5"),
])
def test_outcome_file_errors(tmp_path, stored, text, message):
    store, rid = stored
    ledger = tmp_path / "ledger.jsonl"
    assert invoke("seal", rid, "--store", store, "-l", ledger).exit_code == 0
    (tmp_path / "o.csv").write_text(text)
    res = invoke("grade", ledger, tmp_path / "o.csv")
    assert res.exit_code == 2 and message in res.output, res.output
    assert "Traceback" not in res.output


def test_seal_errors(tmp_path, stored):
    store, rid = stored
    ledger = tmp_path / "ledger.jsonl"
    res = invoke("seal", "nope", "--store", store, "-l", ledger)
    assert res.exit_code == 2 and "no run 'nope'" in res.output
    res = invoke("seal", rid, "--store", store, "-l", ledger, "-q", "emissions>>3")
    assert res.exit_code == 2 and "expected ISSUE>=VALUE" in res.output
    res = invoke("seal", rid, "--store", store, "-l", ledger, "-q", "tax>=3")
    assert res.exit_code == 2 and "no issue 'tax'" in res.output
    assert not ledger.exists()
