"""Report charts on synthetic inputs, the evidence table, the HTML page and the PNG export."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stakes.api import scenario_path
from stakes.engine import interventions_for, run_scenario
from stakes.results import to_document
from stakes.scenario.schema import Issue, Scale
from stakes.scenario.yaml_io import load_yaml_scenario

charts = pytest.importorskip("stakes.report.charts")
from stakes.report import build_report, render_html, write_pngs  # noqa: E402
from stakes.report.build import evidence_table, lever_effects, quadrant_points  # noqa: E402

TEMPLATE = Path(__file__).resolve().parents[2] / "src" / "stakes" / "data" / "template.yaml"
ISSUE = Issue(id="tax", name="Top tax rate",
              scale=Scale(min=0, max=100, min_label="none", max_label="high", unit="percent"))


@pytest.fixture(scope="module")
def ec():
    return load_yaml_scenario(scenario_path("ec-emissions"))


@pytest.fixture(scope="module")
def template():
    return load_yaml_scenario(TEMPLATE)


def assert_readable(fig):
    """Title, both axis titles, and a name for every legend entry."""
    lay = fig.layout
    assert lay.title.text and len(re.sub("<[^>]+>", "", lay.title.text)) > 10
    assert lay.xaxis.title.text, "x axis has no title"
    assert lay.yaxis.title.text, "y axis has no title"
    for tr in fig.data:
        if tr.showlegend is not False:
            assert tr.name, f"a {tr.type} trace without a legend name"


# -- fan chart -------------------------------------------------------------


def test_fan_quantiles_by_round_carry_stopped_members_forward():
    # member m has forecast m at every round; member 4 stops after round 1
    rows = [(m, r, float(m)) for m in range(4) for r in range(3)] + [(4, 0, 4.0), (4, 1, 8.0)]
    members = pd.DataFrame(rows, columns=["member", "round", "forecast"])
    q = charts.fan_quantiles(members)
    assert q["round"].tolist() == [0, 1, 2]
    # round 2: values 0, 1, 2, 3 and member 4's last value, 8
    expect = np.quantile([0, 1, 2, 3, 8], [0.05, 0.25, 0.5, 0.75, 0.95])
    assert q.iloc[2][["q05", "q25", "q50", "q75", "q95"]].to_numpy() == pytest.approx(expect)
    assert q.iloc[0]["q50"] == pytest.approx(2.0)


def test_fan_chart_bands_and_legend():
    q = pd.DataFrame({"round": [0, 1, 2], "q05": [1, 2, 3], "q25": [2, 3, 4], "q50": [3, 4, 5],
                      "q75": [4, 5, 6], "q95": [5, 6, 7]})
    fig = charts.fan_chart(ISSUE, q, model="eum", n_members=200, nominal=[3, 3.5, 4])
    assert_readable(fig)
    names = [t.name for t in fig.data if t.showlegend is not False]
    assert names == ["Middle 90% of members (5th–95th percentile)",
                     "Middle 50% of members (25th–75th percentile)",
                     "Median of the members", "Scenario as written"]
    assert [t.fill for t in fig.data[:4]] == [None, "tonexty", None, "tonexty"]
    assert "percent" in fig.layout.yaxis.title.text
    assert "200 members" in fig.layout.title.text + fig.layout.title.subtitle.text


# -- tornado ---------------------------------------------------------------


def test_tornado_sorted_by_total_effect_with_intervals():
    ind = pd.DataFrame({"input": ["a", "b", "c"], "S1": [0.1, 0.5, 0.02],
                        "S1_conf": [0.02, 0.05, 0.01], "ST": [0.2, 0.7, 0.05],
                        "ST_conf": [0.03, 0.06, 0.02]})
    fig = charts.tornado_chart(ind, title="Tax: which inputs drive the forecast")
    assert_readable(fig)
    total, first = fig.data[0], fig.data[1]
    assert list(total.y) == ["c", "a", "b"]  # largest at the top of a horizontal chart
    assert list(total.x) == [0.05, 0.2, 0.7]
    assert list(first.error_x.array) == [0.01, 0.02, 0.05]
    assert "Whiskers" in fig.data[-1].name
    assert fig.layout.xaxis.range[1] >= 1.0


def test_tornado_without_intervals_and_top_n():
    ind = pd.DataFrame({"input": [f"x{k}" for k in range(30)], "S1": np.linspace(0, .3, 30),
                        "ST": np.linspace(0, .6, 30)})
    fig = charts.tornado_chart(ind, top=10)
    assert len(fig.data) == 2 and len(fig.data[0].y) == 10
    assert fig.data[0].y[-1] == "x29"


# -- other charts ----------------------------------------------------------


def test_positions_chart_gaps_and_forecast():
    fig = charts.positions_chart(ISSUE, [0, 1, 2], {"a": [10, 20, 30], "b": [50, None, None]},
                                 [30, 25, 30], names={"a": "Alpha", "b": "b"},
                                 mean=[30, 25, 30], model="eum")
    assert_readable(fig)
    assert [t.name for t in fig.data] == ["Alpha (a)", "b", "Forecast (eum)"]  # mean == forecast
    assert list(fig.data[1].y) == [50, None, None]
    assert "Round" in fig.layout.xaxis.title.text


def test_actor_map_groups_actors_at_one_point():
    fig = charts.actor_map_chart(ISSUE, ["a", "b", "c"], [10, 10, 90], [1, 1, 2], [.5, .5, .5],
                                 names={"a": "Alpha", "b": "Beta"},
                                 forecasts={"eum": 40.0, "median": 40.0}, status_quo=0)
    assert_readable(fig)
    actors = fig.data[0]
    assert list(actors.text) == ["Alpha, Beta", "c"]
    assert [t.name for t in fig.data[1:]] == ["Forecast: eum (40.00)", "Forecast: median (40.00)",
                                             "Status quo (0.00)"]
    # coinciding forecasts stay visible: different dashes and widths
    assert fig.data[1].line.dash != fig.data[2].line.dash
    assert fig.data[1].line.width > fig.data[2].line.width


def test_lever_effects_chart_with_and_without_intervals():
    eff = pd.DataFrame({"intervention": ["Lever: A", "Lever: A", "Plan: B", "Plan: B"],
                        "model": ["eum", "median", "eum", "median"],
                        "effect": [1.0, -0.5, 2.0, 0.0]})
    fig = charts.lever_effects_chart(ISSUE, eff)
    assert_readable(fig)
    assert fig.data[0].name == "Range across models"
    assert list(fig.data[0].base) == [-0.5, 0.0] and list(fig.data[0].x) == [1.5, 2.0]
    eff["lo"], eff["hi"] = eff["effect"] - 0.25, eff["effect"] + 0.5
    fig = charts.lever_effects_chart(ISSUE, eff, interval="90% of members")
    assert_readable(fig)
    names = [t.name for t in fig.data]
    assert "Range across models" not in names and "Whiskers: 90% of members" in names
    eum = fig.data[0]
    assert list(eum.error_x.array) == [0.5, 0.5] and list(eum.error_x.arrayminus) == [0.25, 0.25]
    assert "percent" in fig.layout.xaxis.title.text


@pytest.mark.golden
def test_quadrant_points_reproduce_belgium_round_1(ec):
    """spec §2.11 (b): Belgium's perceptual quadrant, round 1 (tolerance 1e-3)."""
    others, x, y = quadrant_points(ec, "emissions", "BE")
    got = dict(zip(others, zip(x, y)))
    expected = {"LU": (0.606, 0.242), "FR": (-0.115, 0.243), "IT": (-0.115, 0.243),
                "NL": (-0.473, 0.242), "DE": (-0.473, 0.242), "UK": (-0.655, 0.243),
                "DK": (-0.832, 0.242), "IE": (0.0, 0.0), "GR": (0.0, 0.0)}
    assert set(got) == set(expected)
    for a, (ex, ey) in expected.items():
        assert got[a][0] == pytest.approx(ex, abs=1e-3), a
        assert got[a][1] == pytest.approx(ey, abs=1e-3), a


def test_quadrant_chart(ec):
    others, x, y = quadrant_points(ec, "emissions", "BE")
    fig = charts.quadrant_chart("Belgium", "Emission standards", others, x, y)
    assert_readable(fig)
    regions = [t.name for t in fig.data if t.fill == "toself"]
    assert len(regions) == 5 and any("Compromise" in r for r in regions)
    points = fig.data[-1]
    assert "IE, GR" in list(points.text)  # both at Belgium's own position
    assert fig.layout.xaxis.range[0] == -fig.layout.xaxis.range[1]


# -- evidence ----------------------------------------------------------------


def test_evidence_table_lists_every_input_with_its_basis(template, ec):
    t = evidence_table(template)
    assert list(t.columns) == charts.EVIDENCE_COLUMNS
    pos = t[t["input"] == "Government on Top income tax rate: position"].iloc[0]
    assert pos["basis"] == "evidence" and pos["source"].startswith("src1: Title of the article")
    assert "a sentence copied verbatim" in pos["quote or rationale"]
    sal = t[t["input"] == "Opposition on Top income tax rate: salience"].iloc[0]
    assert sal["basis"] == "judgment"
    assert sal["quote or rationale"] == "Its programme lists taxes as one issue among six."
    assert (t["input"] == "Top income tax rate: status quo").any()
    assert (t["input"] == "Lever Opposition campaign").any()
    e = evidence_table(ec)
    assert len(e) == 10 + 2 * 10  # capabilities, then position and salience of every entry
    assert (e["basis"] == "none given").sum() == 20


# -- the report, the page and the images --------------------------------------


@pytest.fixture(scope="module")
def template_report(template):
    ivs = interventions_for(template, "all", "all")
    results = run_scenario(template, ["eum", "compromise", "median"], interventions=ivs)
    doc = to_document(template, results)
    members = pd.DataFrame(
        [(m, model, iv, "tax", r, 10.0 + m + r, 0.0, 10.0 + m + 2)
         for m in range(20) for model in ("compromise",) for iv in ("baseline", "lever:pressure")
         for r in range(3)],
        columns=["member", "model", "intervention", "issue", "round", "forecast", "mean",
                 "final"])
    sobol = pd.DataFrame({"issue": "tax", "model": "compromise", "input": ["gov salience",
                                                                            "opp position"],
                          "S1": [0.6, 0.3], "S1_conf": [0.05, 0.04], "ST": [0.65, 0.35],
                          "ST_conf": [0.05, 0.05]})
    return build_report(template, doc, header={"id": "abc12345", "seed": 0},
                        members=members, sobol=sobol)


def test_report_has_every_chart_its_data_allow(template_report):
    sections = {c.section for c in template_report.charts}
    assert sections == {"positions", "actors", "quadrant", "levers", "fan", "sobol", "evidence"}
    # models without rounds get no positions-by-round chart, and the report says so
    assert [c.key for c in template_report.section("positions")] == ["positions-tax-eum"]
    assert any("No positions-by-round chart for compromise, median" in n
               for n in template_report.notes)
    for c in template_report.charts:
        if c.section != "evidence":
            assert_readable(c.figure)
    keys = [c.key for c in template_report.charts]
    assert len(keys) == len(set(keys))


def test_lever_effects_with_member_intervals(template, template_report):
    members = pd.DataFrame(
        [(m, "compromise", iv, "tax", 0, 0.0, 0.0, float(m) + (5 if iv != "baseline" else 0))
         for m in range(10) for iv in ("baseline", "lever:pressure", "plan:campaign")],
        columns=["member", "model", "intervention", "issue", "round", "forecast", "mean",
                 "final"])
    results = run_scenario(template, ["compromise"],
                           interventions=interventions_for(template, "all", "all"))
    eff = lever_effects(template, to_document(template, results), "tax", members)
    assert list(eff["intervention"]) == ["Lever: Opposition campaign", "Plan: Campaign plan"]
    assert eff["lo"].tolist() == pytest.approx([5.0, 5.0])
    assert eff["hi"].tolist() == pytest.approx([5.0, 5.0])


def test_html_is_self_contained(template_report):
    page = render_html(template_report)
    assert page.startswith("<!DOCTYPE html>")
    # no resource is fetched from anywhere: no src= or href= to another place
    assert not re.search(r"""<script[^>]+src\s*=""", page)
    assert not re.search(r"""<link[^>]+href\s*=\s*["']?https?:""", page)
    assert not re.search(r"""<img[^>]+src\s*=\s*["']?https?:""", page)
    assert "plotly.js" in page[:5_000_000] and len(page) > 1_000_000  # the library is inlined
    n_charts = sum(1 for c in template_report.charts if c.section != "evidence")
    assert page.count("data-figure=") == n_charts
    assert "a sentence copied verbatim from the source" in page  # the evidence table
    assert "abc12345" in page


def test_png_export(template_report, tmp_path):
    from stakes.report.build import Report

    small = Report(title="t", subtitle="", header={}, forecasts=template_report.forecasts,
                   evidence=template_report.evidence,
                   charts=[c for c in template_report.charts
                           if c.section in ("levers", "fan", "sobol", "evidence")])
    files = write_pngs(small, tmp_path / "img")
    assert sorted(f.name for f in files) == sorted(f"{c.key}.png" for c in small.charts)
    for f in files:
        data = f.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_png_engine_errors(template_report, tmp_path):
    from stakes.errors import OptionError
    from stakes.report.png import save_png

    fig = template_report.charts[0].figure
    with pytest.raises(OptionError, match="expected one of"):
        save_png(fig, tmp_path / "x.png", engine="gd")
    import importlib.util

    if importlib.util.find_spec("kaleido") is None:
        with pytest.raises(OptionError, match="needs the kaleido package"):
            save_png(fig, tmp_path / "x.png", engine="kaleido")


def test_long_scale_descriptions_move_to_the_subtitle():
    long_issue = Issue(id="cf", name="Cease-fire", scale=Scale(
        min=0, max=100, unit="0 = war resumes; 50 = a truce of several weeks; 100 = a "
        "permanent cease-fire that ends the war", min_label="war", max_label="peace"))
    assert charts.position_title(long_issue) == "Position on Cease-fire (0 to 100)"
    assert charts.scale_note(long_issue).startswith("Scale: 0 = war resumes")
    assert charts.scale_note(ISSUE) is None
    assert charts.position_title(ISSUE) == ("Position on Top tax rate "
                                            "(percent; 0 = none, 100 = high)")
    fig = charts.positions_chart(long_issue, [0, 1], {"a": [1, 2]}, [1, 2], model="eum")
    assert "Scale: 0 = war resumes" in fig.layout.title.subtitle.text.replace("<br>", " ")
    assert "Position on Cease-fire (0 to 100)" == fig.layout.yaxis.title.text


def test_long_lever_names_are_shortened_and_kept_distinct():
    name = "Lever: " + "a very long description of what the lever does " * 2
    eff = pd.DataFrame({"intervention": [name, name + "!", "Plan: short"],
                        "model": ["eum"] * 3, "effect": [1.0, 2.0, 0.0]})
    fig = charts.lever_effects_chart(ISSUE, eff)
    labels = list(fig.data[0].y)
    assert len(set(labels)) == 3 and all(len(lb) <= 53 for lb in labels)
    assert labels[0].endswith("…") and labels[2] == "Plan: short"
    assert list(fig.data[0].customdata) == [name, name + "!", "Plan: short"]  # full on hover


def test_the_default_scenarios_report_page_is_small():
    """The page for the default scenario's default run stays under 1.5 MB: the charting
    library is a shared file beside it, and each chart's figure is compact JSON."""
    from stakes.api import DEFAULT_SCENARIO, load, run
    from stakes.results import to_document

    scn = load(DEFAULT_SCENARIO)
    rep = build_report(scn, to_document(scn, run(scn)))
    page = render_html(rep, plotly_src="plotly.min.js")
    assert len(page.encode("utf-8")) < 1_500_000
    assert page.count("data-figure=") == sum(1 for c in rep.charts if c.section != "evidence")
    assert "<script src='plotly.min.js'></script>" in page


def test_every_actor_gets_its_own_colour():
    from stakes.report.charts import PALETTE, color

    colours = [color(k) for k in range(60)]
    assert colours[:len(PALETTE)] == list(PALETTE)
    assert len(set(colours)) == 60
    assert all(len(c) == 7 and c.startswith("#") for c in colours)


def test_a_cycling_run_shows_its_cycle_range_in_the_results_table():
    # The default scenario's defence treaty: the EUM's baseline and the Allen plan's run end
    # in cycles whose rounds disagree; the table shows their ranges, never the cycle's mean.
    from stakes.api import load
    from stakes.forecast.headline import headline, range_text, shift_range
    from stakes.report.build import forecast_table
    from stakes.report.html import _forecast_html

    scn = load(None)
    res = run_scenario(scn, ["eum"], issues=["defense_treaty"],
                       interventions=interventions_for(scn, ["allen_plan"], None))
    doc = to_document(scn, res)
    df = forecast_table(scn, doc)
    base = headline(res[0].run, 0)
    lever = headline(res[1].run, 0)
    assert base.cycle is not None and lever.cycle is not None
    rows = {r.intervention: r for r in df.itertuples(index=False)}
    assert len(rows) == 2
    b, lv = (rows[k] for k in rows)
    assert b.cycle == pytest.approx(base.cycle) and b.shift_range is None
    assert lv.shift_range == pytest.approx(shift_range(lever, base))
    html = _forecast_html(type("R", (), {"forecasts": df})())
    assert range_text(base.cycle, 3) in html
    assert range_text(shift_range(lever, base), 3, signed=True) in html
    assert f"{float(res[0].run.forecast[0]):.3f}" not in html  # the cycle's mean
