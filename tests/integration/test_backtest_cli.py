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
                 "-j", "1")
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
