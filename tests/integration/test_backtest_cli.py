"""``stakes backtest deu3`` as a user runs it: on a small synthetic file and on DEU III."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from stakes.backtest.deu3 import ACTOR_IDS, COLUMNS
from stakes.cli.main import app

runner = CliRunner()
DEU3 = (Path(__file__).resolve().parents[2] / ".." / "shared" / "reference"
        / "blksv-predictioneers-game" / "deu3.csv").resolve()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def synthetic_file(path: Path, n_proposals: int = 12, seed: int = 0) -> Path:
    """Proposals of 1–3 issues; outcome = salience-weighted mean of positions + noise."""
    rng = np.random.default_rng(seed)
    lines = ["\t".join(f'"{c}"' for c in COLUMNS)]
    lines.append("\t".join('"1.0"' if c[1:] in ACTOR_IDS and c.startswith("p") else ""
                           for c in COLUMNS))
    k = 0
    for p in range(n_proposals):
        for j in range(1 + p % 3):
            k += 1
            cells = {"prnr": f'"d00{p:03d}"', "isnr": f'"d00{p:03d}i{j}"',
                     "proc": '"COD"' if p % 2 else '"CNS"', "counvte": '"QMV"',
                     "intro": '"26-01-00"', "finact": "999"}
            actors = ACTOR_IDS[:2] + tuple(rng.choice(ACTOR_IDS[2:17], 6, replace=False))
            x = rng.integers(0, 11, len(actors)) * 10.0
            s = rng.integers(1, 11, len(actors)) * 10.0
            for a, xv, sv in zip(actors, x, s):
                cells[f"p{a}"], cells[f"s{a}"] = f"{xv:g}", f"{sv:g}"
            out = float(np.clip((x * s).sum() / s.sum() + rng.normal(0, 8), 0, 100))
            cells["out"] = f"{out:.0f}"
            if k % 2:
                cells["rp"] = "0"
            lines.append("\t".join(cells.get(c, "") for c in COLUMNS))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_synthetic_json(tmp_path):
    f = synthetic_file(tmp_path / "syn.csv")
    res = invoke("backtest", "deu3", f, "--model", "nbs", "-c", "equal", "-c", "qmv",
                 "--folds", "4", "-j", "1", "--format", "json",
                 "--forecasts", tmp_path / "fc.csv")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["data"]["scored"] == 24 and doc["capabilities"] == ["equal", "qmv"]
    rows = {(r["model"], r["capability"], r["procedure"]): r for r in doc["rows"]}
    assert rows[("status-quo", "-", "all")]["n"] == 12
    assert rows[("nbs", "qmv", "all")]["n"] == 12
    assert rows[("compromise", "equal", "all")]["n"] == 24
    assert rows[("compromise", "equal", "COD")]["n"] + rows[("compromise", "equal", "CNS")]["n"] \
        == 24
    # The synthetic outcome is the salience-weighted mean plus noise of sd 8.
    assert rows[("compromise", "equal", "all")]["mae"] < 10
    stacks = {s["name"]: s for s in doc["stacking"]["results"]}
    assert set(stacks) == {"models", "influence", "models+influence"}
    for s in stacks.values():
        assert s["n"] == 24 and 0 <= s["coverage"] <= 1 and s["mean_width"] > 0
        assert sum(s["weights"].values()) == pytest.approx(1)
    table = (tmp_path / "fc.csv").read_text().splitlines()
    assert len(table) == 25 and "models lo" in table[0] and "models fold" in table[0]


def test_synthetic_csv_and_calibration_file(tmp_path):
    # The documented way to make the packaged calibration: CSV output and the error models.
    f = synthetic_file(tmp_path / "syn.csv")
    res = invoke("backtest", "deu3", f, "-c", "qmv", "--no-stack", "-j", "1", "-f", "csv",
                 "-o", tmp_path / "out.csv", "--write-calibration", tmp_path / "cal.json")
    assert res.exit_code == 0, res.output
    rows = (tmp_path / "out.csv").read_text().splitlines()
    assert rows[0].startswith("model,") and len(rows) > 3
    cal = json.loads((tmp_path / "cal.json").read_text())
    assert "compromise" in cal["models"] and cal["models"]["compromise"]["n"] == 24


def test_synthetic_table_and_markdown(tmp_path):
    f = synthetic_file(tmp_path / "syn.csv")
    res = invoke("backtest", "deu3", f, "--model", "none", "-c", "equal", "--folds", "3",
                 "-j", "1")
    assert res.exit_code == 0, res.output
    assert "all procedures" in res.output and "procedure COD" in res.output
    assert "80% cover" in res.output
    res = invoke("backtest", "deu3", f, "--model", "none", "-c", "gdp", "--no-stack",
                 "-f", "markdown", "-j", "1")
    assert res.exit_code == 0, res.output
    assert "| model | capability | n | MAE |" in res.output
    assert "Combined" not in res.output


@pytest.mark.parametrize("args, fragment", [
    (("-c", "votes"), "--capability 'votes': expected one of equal, qmv, population, gdp"),
    (("--institutions", "all"), "--institutions 'all'"),
    (("--model", "nope"), "unknown model 'nope'"),
    (("--set", "eum.bogus=1", "--model", "eum"), "eum.bogus: unknown option"),
    (("--format", "xml"), "--format 'xml'"),
    (("--folds", "50"), "--folds 50: only 12 groups"),
])
def test_option_errors(tmp_path, args, fragment):
    f = synthetic_file(tmp_path / "syn.csv")
    res = invoke("backtest", "deu3", f, "-j", "1", *args)
    assert res.exit_code == 2
    assert fragment in res.output
    assert "Traceback" not in res.output


def test_input_errors_one_line_each(tmp_path):
    f = synthetic_file(tmp_path / "syn.csv")
    lines = f.read_text().splitlines()
    cells = lines[3].split("\t")
    cells[COLUMNS.index("out")] = "abc"
    cells[COLUMNS.index("pcom")] = "-5"
    lines[3] = "\t".join(cells)
    f.write_text("\n".join(lines) + "\n")
    res = invoke("backtest", "deu3", f, "-j", "1")
    assert res.exit_code == 2
    assert f"error: {f}:4: pcom: -5 outside [0, 100]" in res.output
    assert f"error: {f}:4: out: 'abc' is not a number" in res.output
    res = invoke("backtest", "deu3", tmp_path / "none.csv")
    assert res.exit_code == 2 and "no such file" in res.output


def test_real_file_baselines_and_eum():
    if not DEU3.exists():
        pytest.skip(f"DEU III extract not available: {DEU3} (needs ../shared/reference beside "
                    "the repository)")
    # EUM runs 353 issues in a few seconds; the slower joint models are left to the docs run.
    res = invoke("backtest", "deu3", DEU3, "--model", "eum", "-c", "equal", "-f", "json",
                 "-j", "1", "--no-distributions")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    rows = {(r["model"], r["capability"], r["procedure"]): r for r in doc["rows"]}
    assert rows[("compromise", "equal", "all")]["mae"] == pytest.approx(23.68, abs=0.01)
    assert rows[("mean", "-", "all")]["mae"] == pytest.approx(23.71, abs=0.01)
    assert rows[("median", "equal", "all")]["mae"] == pytest.approx(28.36, abs=0.01)
    assert rows[("status-quo", "-", "all")]["mae"] == pytest.approx(51.11, abs=0.01)
    assert rows[("eum", "equal", "all")]["n"] == 353
    for s in doc["stacking"]["results"]:
        assert s["n"] == 353
        assert 0.7 <= s["coverage"] <= 0.9


def test_subsets_cache_and_into(tmp_path):
    f = synthetic_file(tmp_path / "syn.csv", n_proposals=20)
    base = ("backtest", "deu3", f, "--model", "eum", "-c", "equal", "--folds", "3", "-j", "1",
            "-f", "json")
    res = invoke(*base, "--issues", "10")
    doc = json.loads(res.stdout)
    # Whole proposals: proposals of 1, 2, 3, 1, 2 issues make 9, the next (3) makes 12.
    assert doc["data"]["scored"] == 12 and "subset: first 12 issues" in doc["data"]["notes"][-1]
    res = invoke(*base, "--fold", "1", "--folds", "4", "--no-stack")
    sub = json.loads(res.stdout)
    res = invoke(*base, "--fold", "1", "--folds", "4", "--no-stack", "--cache", tmp_path / "c")
    cold = json.loads(res.stdout)
    assert list((tmp_path / "c").glob("*.json"))  # one file per model x capability
    res = invoke(*base, "--fold", "1", "--folds", "4", "--no-stack", "--cache", tmp_path / "c")
    warm = json.loads(res.stdout)
    assert sub["rows"] == cold["rows"] == warm["rows"]
    assert 0 < sub["data"]["scored"] < 40
    # A damaged cache file is recomputed, not trusted.
    for p in (tmp_path / "c").glob("*.json"):
        p.write_text("{broken")
    res = invoke(*base, "--fold", "1", "--folds", "4", "--no-stack", "--cache", tmp_path / "c")
    assert json.loads(res.stdout)["rows"] == sub["rows"]
    res = invoke(*base, "--fold", "4", "--folds", "4")
    assert res.exit_code == 2 and "--fold 4: expected 0..3" in res.output
    # --into replaces the marked block and nothing else.
    page = tmp_path / "page.md"
    page.write_text("intro\n<!-- BEGIN TABLE -->\nSTALE TABLE\n<!-- END TABLE -->\nafter\n")
    res = invoke("backtest", "deu3", f, "--model", "none", "-c", "equal", "--folds", "3",
                 "-j", "1", "--into", page)
    assert res.exit_code == 0, res.output
    text = page.read_text()
    assert text.startswith("intro\n<!-- BEGIN TABLE -->\nDEU III backtest") and \
        text.endswith("<!-- END TABLE -->\nafter\n") and "STALE" not in text
    assert "| forecast | n | MAE | CRPS |" in text and "comparisons are made" in text
    page.write_text("no markers\n")
    res = invoke("backtest", "deu3", f, "--model", "none", "-c", "equal", "--no-stack",
                 "-j", "1", "--into", page)
    assert res.exit_code == 2 and "no <!-- BEGIN TABLE -->" in res.output
    assert page.read_text() == "no markers\n"


def test_distributions_and_comparisons_in_json(tmp_path):
    f = synthetic_file(tmp_path / "syn.csv", n_proposals=30)
    res = invoke("backtest", "deu3", f, "--model", "none", "-c", "qmv", "--folds", "5",
                 "-j", "1", "-f", "json")
    doc = json.loads(res.stdout)
    dist = {d["name"]: d for d in doc["distributions"]}
    assert set(dist) == {"status-quo|-", "mean|-", "compromise|qmv", "median|qmv", "models",
                         "influence", "models+influence"}
    for d in dist.values():
        assert 0 <= d["cover50"] <= d["cover80"] <= d["cover90"] <= 1
        assert sum(d["pit"]) == d["n"] and len(d["cover80_folds"]) == 5
        assert d["crps"] <= d["mae"] + 1e-9  # a spread-out forecast never loses to its point
    comp = doc["comparisons"]
    assert comp["reference"] == "compromise|qmv" and comp["count"] == len(comp["results"])
    for c in comp["results"]:
        assert c["lo"] <= c["mean"] <= c["hi"] and c["lo_adj"] <= c["lo"]


def test_holdout_scored_once_per_version(tmp_path):
    f = synthetic_file(tmp_path / "syn.csv", n_proposals=30)
    held = tmp_path / "held.json"
    held.write_text(json.dumps({"issues": [f"d00{p:03d}i{j}" for p in range(0, 30, 5)
                                           for j in range(3)]}))
    results = tmp_path / "res.jsonl"
    args = ("backtest", "holdout", f, "--holdout", held, "--results", results, "-c", "qmv",
            "--folds", "4", "-j", "1")
    res = invoke(*args)
    assert res.exit_code == 0, res.output
    lines = results.read_text().splitlines()
    rows = [json.loads(x) for x in lines]
    names = {r["model"] for r in rows}
    assert {"compromise|qmv", "eum|qmv", "influence"} <= names
    comp = next(r for r in rows if r["model"] == "compromise|qmv")
    assert comp["n"] == 12 and 0 <= comp["cover80"] <= 1
    assert all(len(r["version"]) == 16 for r in rows)
    res = invoke(*args)
    assert res.exit_code == 0 and "already scored under this version" in res.output
    assert results.read_text().splitlines() == lines  # nothing rewritten, nothing added
    results.write_text(results.read_text() + "garbage\n")
    res = invoke(*args)
    assert res.exit_code == 2 and f"{results}:{len(lines) + 1}: not a held-out result" \
        in res.output


def test_forecasts_file_with_a_held_out_set(tmp_path):
    f = synthetic_file(tmp_path / "syn.csv", n_proposals=24)
    held = tmp_path / "held.json"
    held.write_text(json.dumps({"issues": ["d00000i0", "d00001i0", "d00001i1"]}))
    res = invoke("backtest", "deu3", f, "--model", "none", "-c", "qmv", "--folds", "4",
                 "-j", "1", "-f", "json", "--holdout", held, "--forecasts", tmp_path / "fc.csv")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["stacking"]["held_out_issues"] == 3
    assert doc["stacking"]["development_issues"] == doc["data"]["scored"] - 3
    assert all(s["n"] == doc["data"]["scored"] - 3 for s in doc["stacking"]["results"])
    import csv

    rows = list(csv.DictReader(open(tmp_path / "fc.csv")))
    assert len(rows) == doc["data"]["scored"]
    for r in rows:
        held_out = r["issue"] in {"d00000i0", "d00001i0", "d00001i1"}
        assert (r["influence"] == "") == held_out
        assert (r["compromise|qmv dist80 lo"] == "") == held_out
        if not held_out:
            assert float(r["compromise|qmv dist80 lo"]) <= float(r["compromise|qmv dist80 hi"])
