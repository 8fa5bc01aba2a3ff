"""``stakes sweep``, ``sensitivity`` and ``stability`` as a user meets them."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from stakes.cli.main import app
from stakes.kernels.backend import jax_available

runner = CliRunner()
FLAGSHIP = "us-israel-palestine-2023"


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def terminal_stderr(monkeypatch):
    """Make the progress bar draw, as it does in a terminal."""
    import stakes.cli.main as main

    console = Console(stderr=True, force_terminal=True, width=100)
    monkeypatch.setattr(main, "err", console)
    return console


def test_sweep_json_with_progress_bar(terminal_stderr):
    res = invoke("sweep", "ec-emissions", "--runs", "40", "--backend", "numpy", "--format",
                 "json", "--threshold", "7", "--threshold", "emissions=8.5")
    assert res.exit_code == 0, res.output
    assert "sweep 40 runs" in res.stderr  # the bar went to standard error ...
    doc = json.loads(res.stdout)  # ... and standard output is clean JSON
    assert doc["settings"]["runs"] == 40 and doc["settings"]["backend"] == "numpy"
    assert {f["model"] for f in doc["forecasts"]} == {"eum", "compromise", "median"}
    f = next(f for f in doc["forecasts"] if f["model"] == "compromise")
    assert set(f["quantiles"]) == {"0.05", "0.25", "0.5", "0.75", "0.95"}
    assert f["interval"][0] <= f["quantiles"]["0.5"] <= f["interval"][1]
    assert set(f["p_above"]) == {"7", "8.5"}
    assert f["nominal"] == pytest.approx(7.38996, abs=1e-4)
    eum = next(f for f in doc["forecasts"] if f["model"] == "eum")
    assert sum(eum["stops"].values()) == 40
    assert doc["effects"] == []  # the EC scenario has no levers


def test_sweep_table_has_every_issue_and_lever(tmp_path):
    out = tmp_path / "sweep.txt"
    res = invoke("sweep", FLAGSHIP, "--runs", "64", "--model", "compromise", "--model", "median",
                 "--backend", "numpy", "--output", str(out))
    assert res.exit_code == 0, res.output
    text = out.read_text()
    from stakes.api import load

    scn = load(FLAGSHIP)
    for lv in scn.levers:
        assert f" {lv.id} " in text
    for p in scn.plans:
        assert f"plan {p.id}" in text
    for i in scn.issues:
        assert i.name in text


def test_sweep_effects_use_common_random_numbers():
    res = invoke("sweep", FLAGSHIP, "--runs", "50", "--model", "compromise", "--lever",
                 "condition_aid", "--format", "json", "--backend", "numpy")
    doc = json.loads(res.stdout)
    eff = {e["issue"]: e for e in doc["effects"]}
    # The lever cannot reach the UN veto issue: exactly no effect in any member.
    assert eff["un_veto"]["same_as_baseline"] and eff["un_veto"]["interval"] == [0.0, 0.0]
    # On aid conditions the paired effect is narrower than the difference of two
    # independent ensembles would be (the widths of the two forecasts in quadrature):
    # the baseline and the lever share every member's draws.
    aid = eff["aid_conditions"]
    width = {f["intervention"]: f["interval"][1] - f["interval"][0] for f in doc["forecasts"]
             if f["issue"] == "aid_conditions"}
    assert aid["exceeds_noise"]
    independent = math.hypot(width["baseline"], width["lever:condition_aid"])
    assert aid["interval"][1] - aid["interval"][0] < 0.85 * independent


@pytest.mark.skipif(not jax_available(), reason="JAX is not installed (pip install 'stakes[jax]')")
def test_same_seed_same_numbers_on_numpy_and_jax():
    docs = {}
    for be in ("numpy", "jax"):
        res = invoke("sweep", "ec-emissions", "--runs", "64", "--seed", "9", "--backend", be,
                     "--format", "json")
        assert res.exit_code == 0, res.output
        docs[be] = json.loads(res.stdout)
    assert docs["jax"]["settings"]["backend"] == "jax"
    for a, b in zip(docs["numpy"]["forecasts"], docs["jax"]["forecasts"]):
        assert (a["model"], a["issue"]) == (b["model"], b["issue"])
        for q in a["quantiles"]:
            assert a["quantiles"][q] == pytest.approx(b["quantiles"][q], abs=1e-9 * 10)
        assert a["p_above"] == b["p_above"]


def test_sweep_seed_changes_draws_and_repeats_exactly():
    def run(seed):
        res = invoke("sweep", "ec-emissions", "--runs", "30", "--seed", seed, "--model",
                     "compromise", "--format", "json", "--backend", "numpy")
        return json.loads(res.stdout)["forecasts"][0]["quantiles"]

    assert run("1") == run("1")
    assert run("1") != run("2")


def test_sweep_records_in_the_store(tmp_path):
    pytest.importorskip("duckdb")
    store = tmp_path / "runs.duckdb"
    res = invoke("sweep", "ec-emissions", "--runs", "20", "--model", "compromise",
                 "--chunk-size", "8", "--store", str(store), "--format", "json",
                 "--backend", "numpy")
    assert res.exit_code == 0, res.output
    rid = json.loads(res.stdout)["run_id"]
    from stakes.store import Store, read_shards

    with Store(store) as st:
        rec = st.get(rid)
        assert rec.status == "complete" and rec.kind == "ensemble" and rec.n_chunks == 3
        frame = read_shards(st, rid, "forecasts")
    assert sorted(frame["member"].unique()) == list(range(20))


@pytest.mark.parametrize("args, message", [
    (["--backend", "cupy"], "unknown backend"),
    (["--lever", "nope"], "unknown lever"),
    (["--threshold", "abc"], "expected VALUE"),
    (["--quantiles", "x"], "quantiles"),
    (["--format", "csv"], "format"),
    (["--distribution", "cauchy"], "distribution"),
])
def test_sweep_bad_options_are_one_line_errors(args, message):
    res = invoke("sweep", FLAGSHIP, "--runs", "5", "--model", "compromise", *args)
    assert res.exit_code == 2
    assert message in res.stderr and "Traceback" not in res.output


def test_sensitivity_cli_names_inputs():
    res = invoke("sensitivity", "ec-emissions", "--samples", "16", "--model", "compromise",
                 "--by", "kind", "--format", "json", "--backend", "numpy")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    groups = {r["group"] for r in doc["indices"]}
    assert groups == {"position", "salience", "capability"}
    assert doc["settings"]["runs"] == {"kind": 16 * 5}
    table = invoke("sensitivity", "ec-emissions", "--samples", "16", "--model", "median",
                   "--backend", "numpy")
    assert table.exit_code == 0 and "inputs that matter, by actor" in table.stdout
    # the table says where the indices cannot be read, as the JSON's warnings do
    warns = json.loads(invoke("sensitivity", "ec-emissions", "--samples", "16", "--model",
                              "median", "--backend", "numpy", "-f", "json").stdout)["warnings"]
    assert warns and all(w["problems"] for w in warns)
    assert f"warning: the indices of {len(warns)} forecasts cannot be read at N = 16" in \
        table.stdout


def test_stability_cli():
    res = invoke("stability", "ec-emissions", "--runs", "20", "--model", "median", "--format",
                 "json", "--backend", "numpy")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    (issue,) = doc["issues"]
    assert {r["actor"] for r in issue["actors"]} == {"NL", "BE", "LU", "DE", "FR", "IT", "UK",
                                                     "IE", "DK", "GR"}
    assert all(isinstance(r["pivotal"], bool) for r in issue["actors"])
    table = invoke("stability", "ec-emissions", "--runs", "10", "--model", "median",
                   "--backend", "numpy")
    assert table.exit_code == 0 and "pivotal" in table.stdout


def test_python_api_sweep():
    from stakes.analysis.sweep import run_sweep
    from stakes.api import load

    res = run_sweep(load("ec-emissions"), runs=10, models=["median"], backend="numpy")
    f = res.forecasts[("median", "baseline", "emissions")]
    assert f.shape == (10,) and np.isfinite(f).all()


def test_a_nominal_run_ending_in_a_cycle_shows_its_range_not_one_round(tmp_path):
    # The defence treaty's run as written ends in a cycle whose rounds disagree: sweep and
    # stability show the cycle's range, as stakes run does, and never one round as the forecast.
    from stakes.api import load
    from stakes.engine import run_scenario
    from stakes.forecast.headline import headline, range_text
    from stakes.levers import baseline

    runs = {r.run.issue_ids[0]: r.run for r in run_scenario(load(FLAGSHIP), ["eum"],
                                                             interventions=[baseline()])}
    cyc = headline(runs["defense_treaty"], 0).cycle
    assert cyc is not None
    common = ("--runs", "4", "-m", "eum", "--backend", "numpy")
    out = tmp_path / "sweep.json"
    res = invoke("sweep", FLAGSHIP, *common, "--no-levers", "--format", "json", "-o", str(out))
    assert res.exit_code == 0, res.output
    rows = {f["issue"]: f for f in json.loads(out.read_text())["forecasts"]}
    assert rows["defense_treaty"]["nominal_cycle"] == pytest.approx(list(cyc))
    assert all(rows[i]["nominal_cycle"] is None for i in rows if headline(runs[i], 0).cycle
               is None)
    res = invoke("sweep", FLAGSHIP, *common, "--no-levers")
    assert range_text(cyc) in res.output and "its range is shown, not a forecast" in res.output
    out = tmp_path / "stability.json"
    res = invoke("stability", FLAGSHIP, *common, "--format", "json", "-o", str(out))
    assert res.exit_code == 0, res.output
    rows = {r["issue"]: r for r in json.loads(out.read_text())["issues"]}
    assert rows["defense_treaty"]["nominal_cycle"] == pytest.approx(list(cyc))
