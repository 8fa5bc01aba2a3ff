"""The web app in a real headless browser: open, run, edit, compare levers, upload.

Each main page is screenshotted (into docs/img with STAKES_SCREENSHOTS=docs/img).
"""

from __future__ import annotations

import re

from stakes.api import DEFAULT_SCENARIO, load

RUN_TIMEOUT = 60_000  # ms; only keeps a broken app from hanging the suite (a run now draws
# its 200-member ensemble too)


def open_default(page):
    page.goto("/")
    page.click(f"#open-{DEFAULT_SCENARIO}")
    page.wait_for_url(re.compile(r"/w/[0-9a-f]{32}$"))


def run_and_wait(page):
    page.click("#run-button")
    page.wait_for_selector("#results section.run .chart .main-svg", timeout=RUN_TIMEOUT)
    return page.locator("#results section.run").get_attribute("id")


def test_open_run_and_see_the_chart(page, shot):
    page.goto("/")
    assert page.locator(f"#open-{DEFAULT_SCENARIO}").is_visible()
    shot(page, "library")
    open_default(page)
    scn = load(DEFAULT_SCENARIO)
    assert page.locator("#actors tbody tr").count() == len(scn.actors)
    assert page.locator("#issues tbody tr").count() == len(scn.issues) == 11
    run_and_wait(page)
    assert page.locator("#forecast-table tbody tr").count() >= 11
    assert page.locator(".chart .main-svg").count() >= 2  # plotly drew the charts
    page.evaluate("document.querySelector('#forecast-table').scrollIntoView()")
    shot(page, "run")
    # another issue's charts, swapped in by htmx
    page.select_option("#chart-issue", index=2)
    page.wait_for_function("document.querySelector('#chart-issue') && "
                           "document.querySelector('#chart-issue').selectedIndex === 2")
    page.wait_for_selector(".chart .main-svg")
    assert page.js_errors == []


def test_change_a_salience_and_rerun(page, shot):
    open_default(page)
    first = run_and_wait(page)
    page.click("#edit-link")
    page.wait_for_selector("#entries")
    row = page.locator("#entries tbody tr").first
    sal = row.locator("input[name$='.salience']")
    sal.fill("1.5")
    page.click("#save-button")
    err = page.locator(".field-error").first
    assert "outside [0, 1]" in err.inner_text()
    assert "invalid" in (row.locator("input[name$='.salience']").get_attribute("class") or "")
    shot(page, "editor-error")
    page.locator("#entries tbody tr").first.locator("input[name$='.salience']").fill("0.05")
    page.click("#save-button")
    page.wait_for_selector("#saved")
    shot(page, "editor")
    page.click("#back-to-run")
    assert "changed" in page.locator("main").inner_text()
    second = run_and_wait(page)
    assert first != second
    page.goto("/runs")
    page.click("#compare-button")
    page.wait_for_selector("#input-diff")
    assert "salience" in page.locator("#input-diff").inner_text()
    shot(page, "compare-runs")


def test_compare_a_lever(page, shot):
    open_default(page)
    page.locator("#run-form input[name=model][value=eum]").uncheck()
    page.locator("input[name=lever]").first.check()
    page.locator("input[name=plan]").first.check()
    run_and_wait(page)
    heads = page.locator("#forecast-table thead th").all_inner_texts()
    assert heads[2] == "baseline"
    assert any(h.startswith("Lever: ") for h in heads)
    assert any(h.startswith("Plan: ") for h in heads)
    page.wait_for_selector(".chart[data-section=levers] .main-svg")
    page.evaluate("document.querySelector('.chart[data-section=levers]').scrollIntoView()")
    shot(page, "levers")
    with page.expect_download() as dl:
        page.click("#dl-report")
    assert dl.value.suggested_filename.startswith("report-")
    page.click("#view-report")
    page.wait_for_selector("figure .chart .main-svg")
    # every chart is drawn, under the app's strict Content-Security-Policy
    page.wait_for_function("() => [...document.querySelectorAll('[data-figure]')].every("
                           "c => c.querySelector('.main-svg'))", timeout=RUN_TIMEOUT)
    assert page.js_errors == []
    page.goto("/runs")
    assert page.locator("#runs-table tbody tr").count() >= 1
    shot(page, "history")


def test_malformed_upload_shows_error_by_its_line(page, shot, tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("stakes: 1\nmetadata:\n  name: broken\nactors:\n  - id: a\n    name: A\n"
                   "    capability: lots\nissues: []\n", encoding="utf-8")
    page.goto("/")
    page.set_input_files("#upload-file", str(bad))
    page.click("#upload-button")
    page.wait_for_selector("#annotated")
    msg = page.locator("tr.msg[data-line='7']")
    assert msg.count() >= 1 and "capability" in msg.first.inner_text()
    # the message sits right below line 7
    assert page.locator("#line-7 + tr.msg").count() == 1
    shot(page, "upload-error")


def test_actor_named_script_is_shown_as_text(page, tmp_path):
    from stakes.api import load
    from stakes.scenario.yaml_io import dumps_scenario

    scn = load("ec-emissions")
    actors = list(scn.actors)
    actors[0] = actors[0].model_copy(update={"name": "<script>alert(1)</script>"})
    f = tmp_path / "xss.yaml"
    f.write_text(dumps_scenario(scn.model_copy(update={"actors": actors})), encoding="utf-8")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto("/")
    page.set_input_files("#upload-file", str(f))
    page.click("#upload-button")
    page.wait_for_url(re.compile(r"/w/[0-9a-f]{32}$"))
    assert "<script>alert(1)</script>" in page.locator("#actors").inner_text()
    page.locator("#run-form input[name=model][value=eum]").uncheck()
    run_and_wait(page)
    assert dialogs == []


def test_plan_search_from_the_scenario_page(page, shot):
    open_default(page)
    page.click("#advise summary")
    page.fill("#advise-goal", "settlements>=500")
    page.click("#advise-button")
    err = page.locator(".field-error").first
    assert "outside the issue's scale" in err.inner_text()
    page.click("#advise summary") if not page.locator("#advise-goal").is_visible() else None
    page.fill("#advise-goal", "settlements>=50")
    page.select_option("#advise-model", "median")
    page.fill("#advise-members", "20")
    page.click("#advise-button")
    page.wait_for_url(re.compile(r"/runs/\w+$"), timeout=RUN_TIMEOUT)
    page.wait_for_selector("[data-chart='cost-front'] .main-svg", timeout=RUN_TIMEOUT)
    text = page.locator("main").inner_text()
    assert "Cost front" in text and "settlement_freeze_timeline" in text
    shot(page, "plan-search")
    assert page.js_errors == []


def test_the_run_page_says_why(page):
    open_default(page)
    run_and_wait(page)
    why = page.locator("#why")
    assert "Why: eum on us_recognition" in why.inner_text()
    assert "Pivot:" in why.inner_text() and "Round 1:" in why.inner_text()
    assert page.js_errors == []
