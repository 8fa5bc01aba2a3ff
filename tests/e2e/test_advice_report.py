"""A recorded plan search becomes an HTML report that draws in a real browser."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from stakes.cli.main import app

SCENARIO = (Path(__file__).resolve().parents[1] / "data" / "plan_search.yaml").read_text()


def test_recorded_search_reports_its_front_orders_and_persuasion(browser, tmp_path):
    scn = tmp_path / "s.yaml"
    scn.write_text(SCENARIO)
    store = tmp_path / "runs.duckdb"
    runner = CliRunner()
    res = runner.invoke(app, ["advise", str(scn), "--goal", "x>=60", "--model", "compromise",
                              "--members", "30", "--store", str(store)])
    assert res.exit_code == 0, res.output
    rid = re.search(r"recorded plan search (\w+)", res.output).group(1)
    html = tmp_path / "advice.html"
    res = runner.invoke(app, ["report", rid, "--html", str(html), "--store", str(store)])
    assert res.exit_code == 0, res.output
    text = html.read_text()
    assert "Cost front" in text and "Who to work on" in text and "set_a" in text
    ctx = browser.new_context(viewport={"width": 1200, "height": 800})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(html.as_uri())
    charts = page.locator("[data-figure]")
    n = charts.count()
    assert n >= 3  # the cost front, at least one ordering chart, who to work on
    page.wait_for_function(f"document.querySelectorAll('.chart .main-svg').length >= {n}")
    assert not errors
    ctx.close()
