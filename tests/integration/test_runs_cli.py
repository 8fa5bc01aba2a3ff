"""``stakes runs ...`` and ``stakes report`` as a user meets them."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from typer.testing import CliRunner

from stakes.api import scenario_path
from stakes.cli.main import app
from stakes.engine import run_scenario
from stakes.scenario.yaml_io import load_yaml_scenario, loads_scenario
from stakes.store import Store, record_run, scenario_hash

runner = CliRunner()
MODELS = ["eum", "compromise", "median"]


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """The default scenario run twice, the second time with Denmark caring less."""
    path = tmp_path_factory.mktemp("store") / "runs.duckdb"
    scn = load_yaml_scenario(scenario_path("ec-emissions"))
    a = record_run(path, scn, run_scenario(scn, MODELS), models=MODELS, source="ec-emissions")
    entries = [e.model_copy(update={"salience": e.salience.model_copy(update={"value": 0.3})})
               if e.actor == "DK" else e for e in scn.entries]
    changed = scn.model_copy(update={"entries": entries})
    b = record_run(path, changed, run_scenario(changed, MODELS), models=MODELS,
                   source="changed.yaml", label="Denmark cares less")
    return path, a, b, scn, changed


@pytest.fixture
def two_runs(recorded, tmp_path, monkeypatch):
    """A private copy of the recorded store for each test."""
    path, a, b, scn, changed = recorded
    shutil.copy(path, tmp_path / "runs.duckdb")
    monkeypatch.setenv("STAKES_STORE", str(tmp_path / "runs.duckdb"))
    monkeypatch.chdir(tmp_path)
    return a, b, scn, changed


def test_list_and_show(two_runs):
    a, b, _, _ = two_runs
    res = invoke("runs", "list")
    assert res.exit_code == 0, res.output
    assert a in res.output and b in res.output
    assert res.output.index(b) < res.output.index(a)  # newest first
    doc = json.loads(invoke("runs", "list", "--format", "json").stdout)
    assert [d["id"] for d in doc] == [b, a]
    res = invoke("runs", "show", b[:5])
    assert res.exit_code == 0 and "Denmark cares less" in res.output
    doc = json.loads(invoke("runs", "show", "--format", "json").stdout)
    assert doc["id"] == b and {f["model"] for f in doc["forecasts"]} == set(MODELS)


def test_compare_shows_the_changed_salience_and_the_forecasts(two_runs):
    a, b, _, _ = two_runs
    res = invoke("runs", "compare")  # the two latest runs
    assert res.exit_code == 0, res.output
    out = re.sub(r"\s+", " ", res.output)
    assert f"A = {a}" in out and f"B = {b}" in out
    assert "Inputs that differ" in out and "DK/emissions" in out and "salience" in out
    assert "1.0" in out and "0.3" in out
    doc = json.loads(invoke("runs", "compare", a, b, "--format", "json").stdout)
    assert doc["inputs"] == [{"field": "scenario: entries[DK/emissions].salience.value",
                              "a": 1.0, "b": 0.3}]
    comp = next(r for r in doc["forecasts"] if r["model"] == "compromise")
    assert comp["a"] == pytest.approx(7.38996, abs=1e-4)
    assert comp["change"] == pytest.approx(comp["b"] - comp["a"]) and comp["change"] > 0.1


def test_compare_identical_inputs(two_runs, tmp_path):
    _, _, scn, _ = two_runs
    c = record_run(None, scn, run_scenario(scn, MODELS), models=MODELS)
    res = invoke("runs", "compare", two_runs[0], c)
    assert res.exit_code == 0 and "Inputs: identical" in res.output


def test_export(two_runs, tmp_path):
    a, b, scn, changed = two_runs
    doc = json.loads(invoke("runs", "export", a).stdout)
    assert set(doc) == {"stakes_version", "scenario", "results"}
    assert doc["results"][0]["rounds"][0]["round"] == 0
    res = invoke("runs", "export", b, "--what", "history")
    header, first = res.stdout.splitlines()[:2]
    assert header.split(",") == ["run_id", "model", "intervention", "issue", "round", "actor",
                                 "position", "forecast", "mean", "stop"]
    assert first.startswith(b)
    res = invoke("runs", "export", b, "--what", "scenario", "-o", str(tmp_path / "again.yaml"))
    assert res.exit_code == 0
    again = loads_scenario((tmp_path / "again.yaml").read_text())
    assert scenario_hash(again) == scenario_hash(changed)
    res = invoke("runs", "export", b, "--what", "forecasts", "-o", str(tmp_path / "f.parquet"))
    assert res.exit_code == 0
    import pandas as pd

    assert len(pd.read_parquet(tmp_path / "f.parquet")) == 3


@pytest.mark.parametrize("args, fragment", [
    (("runs", "show", "zzzzzz"), "no run 'zzzzzz'"),
    (("runs", "export", "--what", "nope"), "--what 'nope'"),
    (("runs", "export", "--what", "history", "--format", "parquet"), "needs --output"),
    (("runs", "export", "--what", "members"), "has no sweep members"),
    (("runs", "list", "--format", "xml"), "--format 'xml'"),
    (("runs", "delete", "latest"), "add --yes"),
    (("report", "--actor", "XX"), "--actor XX: not in the scenario"),
    (("report", "--png-engine", "gd"), "--png-engine 'gd'"),
])
def test_errors_are_one_line_and_exit_2(two_runs, args, fragment):
    res = runner.invoke(app, list(args))
    assert res.exit_code == 2, res.output
    assert fragment in res.output
    assert "Traceback" not in res.output


def test_missing_store(tmp_path, monkeypatch):
    monkeypatch.setenv("STAKES_STORE", str(tmp_path / "none.duckdb"))
    res = runner.invoke(app, ["runs", "list"])
    assert res.exit_code == 2 and "no run store" in res.output


def test_delete(two_runs):
    a, b, _, _ = two_runs
    res = invoke("runs", "delete", a, "--yes")
    assert res.exit_code == 0
    with Store(read_only=True) as st:
        assert [r.id for r in st.runs()] == [b]


def test_report_html_and_png(two_runs, tmp_path):
    from stakes.report.html import plotly_file_name

    a, b, _, _ = two_runs
    res = invoke("report", b, "--html", str(tmp_path / "r.html"), "--actor", "BE")
    assert res.exit_code == 0, res.output
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    # positions (eum; compromise and median have no rounds), actor map, quadrant map
    assert page.count("data-figure=") == 3
    assert len(page) < 1_500_000  # the library is one shared file beside the page
    assert (tmp_path / plotly_file_name()).stat().st_size > 1_000_000
    assert "How Belgium sees the others" in page
    assert "Denmark on Year emission standards apply: salience" in page
    # why, as `stakes explain` tells it: the EC example's round 1 (spec §2.11)
    assert "<h3>Why</h3>" in page and "BE compromises with FR on emissions" in page
    res = invoke("report")  # the latest run, default file name
    assert res.exit_code == 0 and (tmp_path / f"report-{b}.html").exists()
    scn = two_runs[2]
    c = record_run(None, scn, run_scenario(scn, ["compromise"]), models=["compromise"])
    res = invoke("report", c, "--png", str(tmp_path / "img"))
    assert res.exit_code == 0
    names = sorted(p.name for p in (tmp_path / "img").iterdir())
    assert names == ["actors-emissions.png", "evidence.png"]
    assert "no perceptual quadrant map" in res.output.lower()


def _browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.mark.skipif(_browser() is None, reason="no Chromium on this machine to open the page")
def test_html_report_draws_every_chart_in_a_browser_offline(two_runs, tmp_path):
    import subprocess

    _, b, _, _ = two_runs
    assert invoke("report", b, "--html", str(tmp_path / "r.html")).exit_code == 0
    # Every request would go to a closed local port: the page must need none.
    res = subprocess.run(
        [_browser(), "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--proxy-server=http://127.0.0.1:9",
         "--virtual-time-budget=15000", "--dump-dom", (tmp_path / "r.html").as_uri()],
        capture_output=True, text=True, timeout=120)
    dom = res.stdout
    figures = dom.count("data-chart=")
    assert figures == 3
    # plotly draws each chart as SVG with its title in a 'gtitle' element
    assert dom.count('class="gtitle"') == figures
    assert dom.count('class="plot-container plotly"') == figures
