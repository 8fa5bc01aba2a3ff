"""The web app and its JSON API, through FastAPI's TestClient."""

from __future__ import annotations

import asyncio
import re
import threading
import time

import pytest

pytest.importorskip("fastapi", reason="the web app needs the 'web' extra (fastapi)")
pytest.importorskip("httpx", reason="the web tests need httpx")

from fastapi.testclient import TestClient  # noqa: E402

from stakes.api import DEFAULT_SCENARIO  # noqa: E402
from stakes.web.app import create_app  # noqa: E402

XSS = "<script>alert(1)</script>"


@pytest.fixture
def app(tmp_path):
    return create_app(store=tmp_path / "runs.duckdb", scenario_dir=tmp_path / "scenarios",
                      max_upload=64 * 1024, warm_workers=False)


class FormClient(TestClient):
    """A client that sends its form token with every form, as the app's pages do."""

    def post(self, url, *args, data=None, files=None, **kw):
        if data is not None or files is not None:
            data = dict(data or {})
            data.setdefault("csrf_token", self.cookies.get("stakes_csrf", ""))
        return super().post(url, *args, data=data, files=files, **kw)


@pytest.fixture
def client(app):
    with FormClient(app, base_url="http://127.0.0.1") as c:
        c.get("/api/health")  # the form token's cookie
        yield c


def open_ws(client, name="ec-emissions") -> str:
    r = client.post(f"/open/packaged/{name}", data={}, follow_redirects=False)
    assert r.status_code == 303
    return r.headers["location"]


def web_run(client, ws, data, path="run"):
    """Start a run as the page's htmx form does and poll its job until the result is in."""
    r = client.post(f"{ws}/{path}", data=data, headers={"HX-Request": "true"})
    m = re.search(r'id="job-(\w+)"', r.text)
    if m is None:
        return r
    assert r.status_code == 202
    for _ in range(3000):  # only guards against a hang
        r = client.get(f"/jobs/{m.group(1)}", headers={"HX-Request": "true"})
        if 'id="job-' not in r.text:
            return r
        time.sleep(0.05)
    raise AssertionError("the job never finished")


def test_library_lists_packaged_scenarios(client):
    r = client.get("/")
    assert r.status_code == 200
    assert DEFAULT_SCENARIO in r.text and "ec-emissions" in r.text
    names = [s["name"] for s in client.get("/api/scenarios").json()]
    assert names[0] == DEFAULT_SCENARIO


def test_openapi_schema_lists_the_api(client):
    spec = client.get("/api/openapi.json").json()
    for path in ("/api/run", "/api/scenarios", "/api/runs/{rid}", "/api/validate"):
        assert path in spec["paths"]
    assert "RunRequest" in spec["components"]["schemas"]


def test_api_run_follows_the_cli_contract(client):
    from stakes import run
    from stakes.api import load
    from stakes.results import to_document

    body = {"scenario": "ec-emissions", "models": ["compromise", "median"]}
    doc = client.post("/api/run", json=body).json()
    assert {"stakes_version", "scenario", "results", "run_id"} <= set(doc)
    # the run is assessed as stakes run assesses it: one entry per model, issue, intervention
    assert {(a["model"], a["issue"]) for a in doc["assessments"]} == {
        ("compromise", "emissions"), ("median", "emissions")}
    assert all(a["interval"]["members"] == 200 and a["verdict"] in ("robust", "fragile")
               for a in doc["assessments"])
    scn = load("ec-emissions")
    ref = to_document(scn, run(scn, models=["compromise", "median"]))
    assert [r["forecast"] for r in doc["results"]] == [r["forecast"] for r in ref["results"]]
    got = client.get(f"/api/runs/{doc['run_id']}").json()
    assert got["document"]["results"] == doc["results"]
    assert any(r["id"] == doc["run_id"] for r in client.get("/api/runs").json())


def test_api_run_with_lever_and_compare(client):
    scn = client.get(f"/api/scenarios/{DEFAULT_SCENARIO}").json()
    lever = scn["levers"][0]["id"]
    a = client.post("/api/run", json={"models": ["median"]}).json()
    b = client.post("/api/run", json={"models": ["median"], "levers": [lever]}).json()
    assert {r["lever"] for r in b["results"]} == {None, lever}
    cmp = client.get(f"/api/runs/{a['run_id']}/compare/{b['run_id']}").json()
    assert cmp["same_scenario"] is True
    assert any(d["field"] == "interventions" for d in cmp["inputs"])


def test_api_errors_are_messages(client):
    r = client.post("/api/run", json={"scenario": "ec-emissions", "models": ["nope"]})
    assert r.status_code == 400 and "unknown model" in r.json()["error"]
    r = client.post("/api/run", json={"scenario": "ec-emissions", "levers": ["nope"]})
    assert r.status_code == 400 and "unknown lever" in r.json()["error"]
    r = client.post("/api/validate", json={"yaml": "metadata:\n  name: x\nactors: [\n"})
    body = r.json()
    assert body["ok"] is False and body["problems"][0]["line"] is not None
    assert "Traceback" not in r.text


def test_web_run_edit_and_rerun(client):
    ws = open_ws(client, DEFAULT_SCENARIO)
    r = web_run(client, ws, {"model": ["compromise", "median"], "lever": ["condition_aid"]})
    assert r.status_code == 200
    assert 'id="forecast-table"' in r.text and "data-figure=" in r.text
    assert "<th>Lever: " in r.text  # the lever's column beside the baseline's
    # the same headlines, intervals and verdicts as stakes run, strategic models first
    assert 'id="trust-table"' in r.text and 'id="effects-table"' in r.text
    verdicts = re.findall(r'<tr data-verdict="(\w+)">', r.text)
    assert len(verdicts) == 2 * 11 and set(verdicts) <= {"robust", "fragile", "cycling",
                                                          "degenerate"}
    assert "condition_aid" in r.text.split('id="effects-table"')[1].split("</table>")[0]
    first = re.search(r'id="run-(\w+)"', r.text).group(1)
    # change a salience: entry 0, then re-run
    page = client.get(f"{ws}/edit").text
    name = re.search(r'name="(entries\[\d+\]\.salience)"', page).group(1)
    r = client.post(f"{ws}/edit", data={name: "0.05", "issue": ""})
    assert r.status_code == 200 and 'id="saved"' in r.text
    r = web_run(client, ws, {"model": ["compromise"]})
    second = re.search(r'id="run-(\w+)"', r.text).group(1)
    cmp = client.get("/runs/compare", params={"a": first, "b": second})
    assert cmp.status_code == 200 and "salience" in cmp.text


def test_edit_errors_are_shown_next_to_the_field(client):
    ws = open_ws(client)
    page = client.get(f"{ws}/edit").text
    name = re.search(r'name="(entries\[\d+\]\.salience)"', page).group(1)
    r = client.post(f"{ws}/edit", data={name: "7"})
    assert r.status_code == 422
    # the message sits right after the offending input
    m = re.search(re.escape(f'name="{name}"') + r'[^>]*class="invalid">\s*<div class="field-error"'
                  r'[^>]*>([^<]*)<', r.text)
    assert m and "outside [0, 1]" in m.group(1)
    r = client.post(f"{ws}/edit", data={name: "abc"})
    assert r.status_code == 422 and "expected a number" in r.text


def test_downloads(client):
    ws = open_ws(client)
    r = web_run(client, ws, {"model": ["compromise"]})
    rid = re.search(r'id="run-(\w+)"', r.text).group(1)
    doc = client.get(f"/runs/{rid}/run.json").json()
    assert doc["results"][0]["model"] == "compromise"
    csv = client.get(f"/runs/{rid}/history.csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("run_id,model,intervention,issue,round")
    view = client.get(f"/runs/{rid}/report")
    assert view.status_code == 200 and "data-figure=" in view.text
    # the report shows the run page's headlines and verdicts: one source, the assessments
    page_rows = re.findall(r'<tr data-verdict="(\w+)">', r.text)
    report_rows = re.findall(r"<tr data-verdict='(\w+)'>", view.text)
    assert report_rows and report_rows == page_rows
    # the in-app report loads its scripts and styles as files (the CSP allows no inline code)
    assert "<script>" not in view.text and "<style>" not in view.text
    assert len(view.text) < 1_500_000
    for asset in ("/static-lib/report.js", "/static-lib/report.css", "/static-lib/plotly.css"):
        assert client.get(asset).status_code == 200
    rep = client.get(f"/runs/{rid}/report.html")
    assert rep.status_code == 200 and "<!DOCTYPE html>" in rep.text
    assert "attachment" in rep.headers["content-disposition"]
    assert "\nstakes: 1\n" in client.get(f"{ws}/scenario.yaml").text
    assert client.get("/runs").status_code == 200


def test_malformed_upload_shows_error_by_its_line(client):
    bad = (b"stakes: 1\nmetadata:\n  name: bad\nactors:\n  - id: a\n    name: A\n"
           b"    capability: lots\n")
    r = client.post("/upload", files={"file": ("bad.yaml", bad, "application/yaml")})
    assert r.status_code == 400
    rows = re.findall(r'<tr class="msg" data-line="(\d+)">', r.text)
    assert "7" in rows  # capability: lots
    assert "Traceback" not in r.text


def test_upload_of_a_peer_format_loads(client, tmp_path):
    from stakes.api import load
    from stakes.scenario.yaml_io import dumps_scenario

    text = dumps_scenario(load("ec-emissions")).encode()
    r = client.post("/upload", files={"file": ("my ec.yaml", text)}, follow_redirects=False)
    assert r.status_code == 303
    assert any(s["kind"] == "user" for s in client.get("/api/scenarios").json())


def test_upload_size_limit(client):
    big = b"#" * (70 * 1024)
    r = client.post("/upload", files={"file": ("big.yaml", big)})
    assert r.status_code == 413 and "too large" in r.text


@pytest.mark.parametrize("path", [
    "/open/packaged/..%2F..%2Fetc%2Fpasswd", "/open/user/..", "/open/../../etc/passwd",
    "/api/scenarios/..%2F..%2Fetc%2Fpasswd", "/api/scenarios/%2Fetc%2Fpasswd",
    "/runs/..%2F..%2Fetc", "/runs/abc%25/run.json", "/api/runs/..", "/w/../../etc/passwd",
    "/w/0123456789abcdef0123456789abcdef", "/static/..%2F..%2Fapp.py",
])
def test_no_path_traversal(client, path):
    r = client.post(path, data={}) if path.startswith("/open") else client.get(path)
    assert r.status_code in (404, 405)
    assert "root:" not in r.text and "Traceback" not in r.text and "def create_app" not in r.text


def test_user_strings_are_escaped(client):
    from stakes.api import load
    from stakes.scenario.yaml_io import dumps_scenario

    scn = load("ec-emissions")
    actors = list(scn.actors)
    actors[0] = actors[0].model_copy(update={"name": XSS})
    scn = scn.model_copy(update={"actors": actors,
                                 "metadata": scn.metadata.model_copy(update={"name": XSS})})
    r = client.post("/upload", files={"file": ("x.yaml", dumps_scenario(scn).encode())},
                    follow_redirects=False)
    ws = r.headers["location"]
    for url in (ws, f"{ws}/edit", f"{ws}/source"):
        text = client.get(url).text
        assert XSS not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    r = web_run(client, ws, {"model": ["compromise"]})
    assert XSS not in r.text
    rid = re.search(r'id="run-(\w+)"', r.text).group(1)
    assert XSS not in client.get(f"/runs/{rid}").text
    assert XSS not in client.get("/runs").text
    # a malformed upload echoes its text escaped
    r = client.post("/upload", files={"file": ("e.yaml", f"metadata: [{XSS}\n".encode())})
    assert XSS not in r.text


def test_errors_never_leak_tracebacks(app, monkeypatch):
    import stakes.web.pages as pages

    def boom(*a, **k):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(pages, "packaged", boom)
    with TestClient(app, raise_server_exceptions=False, base_url="http://127.0.0.1") as c:
        for path in ("/", "/api/scenarios"):
            r = c.get(path)
            assert r.status_code == 500
            assert "secret internals" not in r.text and "Traceback" not in r.text


def test_cross_site_posts_are_refused(client):
    r = client.post("/api/run", json={"models": ["median"]},
                    headers={"Origin": "https://evil.example"})
    assert r.status_code == 403


def test_short_load_has_no_errors(app):
    """20 concurrent clients for 3 s over the ASGI app: zero errors."""
    import httpx

    async def main() -> tuple[int, int]:
        transport = httpx.ASGITransport(app=app)
        ok = errors = 0
        stop = time.perf_counter() + 3.0
        paths = ["/", "/api/scenarios", "/api/health", "/runs"]

        async def worker(k: int) -> None:
            nonlocal ok, errors
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
                i = k
                while time.perf_counter() < stop:
                    r = await c.get(paths[i % len(paths)])
                    i += 1
                    if r.status_code == 200:
                        ok += 1
                    else:
                        errors += 1

        await asyncio.gather(*(worker(k) for k in range(20)))
        return ok, errors

    # a thread of its own: a browser test's event loop may be running in this one
    out: list[tuple[int, int]] = []
    th = threading.Thread(target=lambda: out.append(asyncio.run(main())))
    th.start()
    th.join(60)
    ok, errors = out[0]
    assert errors == 0 and ok > 20


def test_serve_binds_to_loopback_by_default(monkeypatch, tmp_path):
    import typer
    import uvicorn
    from typer.testing import CliRunner

    from stakes.cli.serve import register

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw, app=app))
    cli = typer.Typer()
    cli.command("noop")(lambda: None)
    register(cli)
    r = CliRunner().invoke(cli, ["serve", "--store", str(tmp_path / "r.duckdb")])
    assert r.exit_code == 0, r.output
    assert seen["host"] == "127.0.0.1" and seen["port"] == 8000
    r = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--port", "9000"])
    assert seen["host"] == "0.0.0.0" and "warning" in r.output


def test_an_edited_value_keeps_its_old_basis_as_history_not_support(client):
    from stakes.api import load
    from stakes.scenario.yaml_io import loads_scenario

    scn = load(DEFAULT_SCENARIO)
    k, e = next((k, e) for k, e in enumerate(scn.entries)
                if e.position.basis is not None and e.position.basis.kind == "evidence")
    lo, hi = scn.issue(e.issue).scale.min, scn.issue(e.issue).scale.max
    new = hi if e.position.value != hi else lo
    ws = open_ws(client, DEFAULT_SCENARIO)
    r = client.post(f"{ws}/edit", data={f"entries[{k}].position": str(new),
                                        f"entries[{k}].salience": str(e.salience.value),
                                        "issue": e.issue})
    assert r.status_code == 200 and 'id="saved"' in r.text
    assert 'data-edited="position"' in r.text and 'data-edited="salience"' not in r.text
    edited = loads_scenario(client.get(f"{ws}/scenario.yaml").text, "s.yaml").entries[k]
    assert edited.position.value == new
    basis = edited.position.basis
    assert basis.kind == "judgment"  # the quote no longer supports the value...
    assert basis.rationale.startswith(f"edited in the web app from {e.position.value:g} to "
                                      f"{new:g}")
    assert e.position.basis.quote in basis.rationale  # ...but is kept as its history
    assert edited.salience == e.salience  # an unchanged value keeps its evidence


def test_models_are_named_with_a_line_on_what_they_do(client):
    models = client.get("/api/models").json()
    assert all(m["description"] and m["title"] for m in models)
    import html

    page = html.unescape(client.get(open_ws(client)).text)
    for m in models:
        assert m["description"] in page


def test_sweeps_recorded_by_the_cli_are_shown(app, client):
    from typer.testing import CliRunner

    from stakes.cli.main import app as cli

    store = app.state.stakes.settings.store
    res = CliRunner().invoke(cli, ["sweep", "ec-emissions", "--runs", "20", "-m", "compromise",
                                   "--store", str(store), "--no-progress"])
    assert res.exit_code == 0, res.output
    rid = next(r["id"] for r in client.get("/api/runs").json() if r["kind"] == "ensemble")
    page = client.get(f"/runs/{rid}")
    assert page.status_code == 200 and 'id="sweep-table"' in page.text
    members = client.get(f"/api/runs/{rid}").json()["members"]
    assert members and all(m["members"] == 20 for m in members)
    assert {m["model"] for m in members} == {"compromise"}
    assert all(m["p05"] <= m["p50"] <= m["p95"] for m in members)
    assert client.get(f"/runs/{rid}/run.json").json()["members"] == members


def test_a_sweep_started_in_the_web_app(client):
    ws = open_ws(client)
    r = client.post(f"{ws}/sweep", data={"model": ["compromise", "median"], "runs": "30"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/jobs/")
    job = r.headers["location"]
    for _ in range(3000):  # only guards against a hang
        r = client.get(job, follow_redirects=False)
        if r.status_code != 200:
            break
        time.sleep(0.05)
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"]).text
    assert 'id="sweep-table"' in page and "ec-emissions" in client.get("/runs").text
    rows = re.findall(r"<tr><td>(\w+)</td><td>(\w+)</td><td>baseline</td><td class=\"num\">30<",
                      page)
    assert {m for _, m in rows} == {"compromise", "median"}


def test_the_yaml_editor_takes_what_the_upload_limit_takes(tmp_path):
    from stakes.api import load
    from stakes.scenario.yaml_io import dumps_scenario

    app = create_app(store=tmp_path / "r.duckdb", scenario_dir=tmp_path / "s",
                     warm_workers=False)
    with FormClient(app, base_url="http://127.0.0.1") as c:
        c.get("/")
        ws = open_ws(c)
        text = dumps_scenario(load("ec-emissions"))
        text += "# " + "x" * (1_500_000 - len(text)) + "\n"  # 1.5 MB: over the old 1 MiB
        r = c.post(f"{ws}/source", data={"text": text}, follow_redirects=False)
        assert r.status_code == 303, r.text[:300]


def test_a_sweep_shows_each_levers_effect_and_verdict(app, client):
    from typer.testing import CliRunner

    from stakes.cli.main import app as cli

    store = app.state.stakes.settings.store
    res = CliRunner().invoke(cli, ["sweep", DEFAULT_SCENARIO, "--runs", "40", "-m", "median",
                                   "--store", str(store), "--no-progress"])
    assert res.exit_code == 0, res.output
    rid = next(r["id"] for r in client.get("/api/runs").json() if r["kind"] == "ensemble")
    rows = client.get(f"/api/runs/{rid}").json()["members"]
    effects = [r for r in rows if r.get("effect")]
    assert effects and {r["verdict"] for r in effects} <= {"moves the forecast",
                                                           "within the noise"}
    for r in effects:  # the verdict is the 5-95% range's
        assert (r["verdict"] == "moves the forecast") == (r["p05"] > 0 or r["p95"] < 0)
    page = client.get(f"/runs/{rid}").text
    assert 'id="effects-table"' in page and page.count('class="verdict"') == len(effects)


def test_serve_passes_its_limits_and_host_names_to_the_app(monkeypatch, tmp_path):
    import typer
    import uvicorn
    from typer.testing import CliRunner

    from stakes.cli.serve import register

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw, app=app))
    cli = typer.Typer()
    cli.command("noop")(lambda: None)
    register(cli)
    r = CliRunner().invoke(cli, ["serve", "--store", str(tmp_path / "r.duckdb"),
                                 "--allow-host", "stakes.lan", "--max-actors", "40",
                                 "--max-cells", "400", "--workers", "3", "--job-seconds", "9",
                                 "--upload-seconds", "4", "--job-memory", "512"])
    assert r.exit_code == 0, r.output
    state = seen["app"].state.stakes
    lim = state.limits
    assert (lim.max_actors, lim.max_cells, lim.workers, lim.job_seconds, lim.upload_seconds,
            lim.memory_mb) == (40, 400, 3, 9, 4, 512)
    assert set(state.settings.hosts) == {"stakes.lan", "127.0.0.1"}
    with FormClient(seen["app"], base_url="http://stakes.lan") as c:
        assert c.get("/api/health").status_code == 200
        assert c.get("/api/health", headers={"Host": "localhost"}).status_code == 400
