"""A scripted attack on ``stakes serve``: hostile uploads, foreign origins and hosts, forged
forms, streamed bodies, racing saves, abandoned and cancelled jobs.

Each test states what an attacker tries and asserts the app's answer.  The
slow-input tests use a real uvicorn server on loopback, so that "another
client is served while the hostile job runs" is checked over real sockets.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi", reason="the web app needs the 'web' extra (fastapi)")
httpx = pytest.importorskip("httpx", reason="the web tests need httpx")

from fastapi.testclient import TestClient  # noqa: E402

from stakes.web.app import create_app  # noqa: E402
from stakes.web.jobs import Limits  # noqa: E402
from stakes.fuzz import entity_xml  # noqa: E402
from stakes.fuzz import large_ktab_csv as ktab_csv  # noqa: E402

HANG_GUARD = 600  # polls of 0.05 s: only keeps a broken app from hanging the suite




def bdm_csv(n: int) -> bytes:
    rows = ["Actor,Capability,Position,Salience"]
    rows += [f"A{i},{1 + i % 50},{i % 100},0.{1 + i % 9}" for i in range(n)]
    return ("\n".join(rows) + "\n").encode()


def token(client) -> str:
    return client.cookies.get("stakes_csrf", "")


@pytest.fixture
def app(tmp_path):
    return create_app(store=tmp_path / "runs.duckdb", scenario_dir=tmp_path / "scenarios",
                      max_upload=256 * 1024,
                      limits=Limits(workers=2, upload_seconds=20, abandon_seconds=3),
                      warm_workers=False)


@pytest.fixture
def client(app):
    with TestClient(app, base_url="http://127.0.0.1") as c:
        c.get("/api/health")
        yield c


def open_ws(client, name="ec-emissions") -> str:
    r = client.post(f"/open/packaged/{name}", data={"csrf_token": token(client)},
                    follow_redirects=False)
    assert r.status_code == 303
    return r.headers["location"]


def wait_state(get_job, states, guard=HANG_GUARD):
    for _ in range(guard):
        job = get_job()
        if job is not None and job["state"] in states:
            return job
        time.sleep(0.05)
    raise AssertionError(f"the job never reached {states}")


# -- hosts -------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["evil.example", "attacker.test:8000", "127.0.0.1.nip.io",
                                  "localhost.evil.example", "[::2]:8000", ""])
def test_foreign_host_names_are_refused(client, host):
    """DNS rebinding: a page on a name that resolves to 127.0.0.1 sends its own Host."""
    for method, path in (("GET", "/"), ("GET", "/api/runs"), ("POST", "/api/validate")):
        r = client.request(method, path, headers={"Host": host}, json={"yaml": "x"})
        assert r.status_code == 400, (method, path, host)
        assert "host" in r.text


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.1:8000", "localhost:1234", "[::1]:80"])
def test_loopback_host_names_are_served(client, host):
    assert client.get("/api/health", headers={"Host": host}).status_code == 200


def test_allowed_hosts_are_configurable(tmp_path):
    app = create_app(store=tmp_path / "r.duckdb", scenario_dir=tmp_path / "s",
                     hosts=["stakes.internal"], warm_workers=False)
    with TestClient(app, base_url="http://stakes.internal") as c:
        assert c.get("/api/health").status_code == 200
        assert c.get("/api/health", headers={"Host": "127.0.0.1"}).status_code == 400


# -- origins and form tokens ---------------------------------------------------------


def _state_changing(client) -> list[tuple[str, dict]]:
    ws = open_ws(client)
    tok = {"csrf_token": token(client)}
    return [
        ("/open/packaged/ec-emissions", {"data": tok}),
        ("/upload", {"data": tok, "files": {"file": ("x.yaml", b"stakes: 1\n")}}),
        (f"{ws}/edit", {"data": {**tok, "metadata.name": "planted"}}),
        (f"{ws}/source", {"data": {**tok, "text": "stakes: 1\n"}}),
        (f"{ws}/save", {"data": {**tok, "name": "planted"}}),
        (f"{ws}/run", {"data": {**tok, "model": "median"}}),
        (f"{ws}/sweep", {"data": {**tok, "model": "median", "runs": "5"}}),
        ("/jobs/0123456789abcdef0123456789abcdef/cancel", {"data": tok}),
        ("/api/run", {"json": {"models": ["median"]}}),
        ("/api/jobs", {"json": {"models": ["median"]}}),
        ("/api/validate", {"json": {"yaml": "stakes: 1\n"}}),
    ]


@pytest.mark.parametrize("headers", [
    {"Origin": "null"},  # a sandboxed iframe or a data: URL
    {"Origin": "https://evil.example"},
    {"Origin": "http://127.0.0.1:9999"},  # another port is another origin
    {"Origin": "http://127.0.0.1.evil.example"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
    {"Referer": "https://evil.example/page"},
])
def test_cross_site_writes_are_refused_everywhere(client, tmp_path, headers):
    for path, kw in _state_changing(client):
        r = client.post(path, headers=headers, follow_redirects=False, **kw)
        assert r.status_code == 403, (path, headers, r.status_code)
        assert "cross-site" in r.text
    # nothing was planted in the library
    assert [s for s in client.get("/api/scenarios").json() if s["kind"] == "user"] == []
    assert not (tmp_path / "scenarios").exists() or not list((tmp_path / "scenarios").iterdir())


def test_same_origin_writes_pass(client):
    r = client.post("/api/validate", json={"yaml": "stakes: 1\n"},
                    headers={"Origin": "http://127.0.0.1", "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 200


@pytest.mark.parametrize("sent", [None, "", "0" * 32, "not-the-token"])
def test_forms_without_this_browsers_token_are_refused(client, sent):
    ws = open_ws(client)
    data = {"name": "planted"} if sent is None else {"name": "planted", "csrf_token": sent}
    r = client.post(f"{ws}/save", data=data, follow_redirects=False)
    assert r.status_code == 403 and "reload the page" in r.text
    r = client.post(f"{ws}/save", data={"name": "mine", "csrf_token": token(client)},
                    follow_redirects=False)
    assert r.status_code == 303


def test_the_token_cookie_is_strict(client):
    fresh = TestClient(client.app, base_url="http://127.0.0.1")
    r = fresh.get("/")
    cookie = r.headers["set-cookie"]
    assert "stakes_csrf=" in cookie and "SameSite=Strict" in cookie and "HttpOnly" in cookie
    assert f'value="{fresh.cookies.get("stakes_csrf")}"' in r.text  # the forms carry it


# -- headers -----------------------------------------------------------------------


def test_security_headers_on_every_answer(client):
    for path in ("/", "/api/health", "/static/style.css", "/nope", "/runs"):
        r = client.get(path)
        csp = r.headers["content-security-policy"]
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
        assert r.headers["x-frame-options"] == "DENY"


# -- bodies --------------------------------------------------------------------------


def test_declared_and_streamed_bodies_over_the_limit_are_refused(client):
    big = b"x" * (400 * 1024)
    r = client.post("/api/validate", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413

    def chunks():  # no Content-Length: sent with chunked transfer encoding
        for _ in range(100):
            yield b"y" * 8192

    r = client.post("/api/validate", content=chunks(),
                    headers={"content-type": "application/json"})
    assert r.status_code == 413 and "too large" in r.json()["error"]
    boundary = "b0undary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            "filename=\"a.yaml\"\r\n\r\n").encode()

    def form_chunks():
        yield head
        for _ in range(100):
            yield b"z" * 8192

    r = client.post("/upload", content=form_chunks(),
                    headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 413


# -- bad values get a 4xx with a message ----------------------------------------------


def test_bad_values_are_4xx_with_a_message(client):
    r = client.post("/api/run", json={"scenario": "ec-emissions", "models": ["median"],
                                      "seed": -1})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "seed"
    ws = open_ws(client)
    under = r'class="seed invalid"[^>]*></label><div class="field-error" data-field="{}">([^<]*)<'
    for seed in ("-1", "9" * 5000, "1.5"):
        r = client.post(f"{ws}/run", data={"model": "median", "seed": seed,
                                           "csrf_token": token(client)})
        m = re.search(under.format("run:seed"), r.text)
        assert r.status_code == 400 and m and "whole number" in m.group(1)
        assert 'name="seed" value="{}"'.format(seed) in r.text  # what was typed is kept
    r = client.post(f"{ws}/sweep", data={"model": "median", "runs": "-5",
                                         "csrf_token": token(client)})
    m = re.search(under.format("sweep:runs"), r.text)
    assert r.status_code == 400 and m and "runs" in m.group(1)
    r = client.post(f"{ws}/run", data={"lever": "nope", "model": "median",
                                       "csrf_token": token(client)})
    assert r.status_code == 400 and 'data-field="run:lever"' in r.text
    r = client.post(f"{ws}/edit", data={f"entries[{'9' * 5000}].salience": "0.5",
                                        "csrf_token": token(client)})
    assert r.status_code == 200  # an index that is no entry's is ignored
    r = client.post(f"{ws}/run", data={"model": "nope", "csrf_token": token(client)})
    assert r.status_code == 400 and re.search(
        r'data-field="run:model">unknown model', r.text)
    assert client.get("/jobs/zzz").status_code == 404


def test_messages_never_show_server_paths(client, tmp_path):
    root = str(tmp_path)
    for r in (client.get("/runs/ABCDEF"), client.get("/api/runs/ABCDEF"),
              client.get("/runs/ABCDEF/history.csv"), client.get("/runs/ABCDEF/report.html"),
              client.post("/upload", data={"csrf_token": token(client)},
                          files={"file": ("bad.csv", b"Actor,Capability\nx,1\n")}),
              client.post("/upload", data={"csrf_token": token(client)},
                          files={"file": ("bad.xml", b"<Scenario><name>x</name>")})):
        assert 400 <= r.status_code < 500, r.status_code
        assert root not in r.text and "/tmp/" not in r.text and "stakes-upload" not in r.text


# -- saving ----------------------------------------------------------------------------


def test_racing_saves_under_one_name_keep_one_file_and_ask(client, tmp_path):
    ws = open_ws(client)
    tok = token(client)

    def save(_):
        return client.post(f"{ws}/save", data={"name": "same", "csrf_token": tok},
                           follow_redirects=False).status_code

    with ThreadPoolExecutor(10) as ex:
        codes = list(ex.map(save, range(10)))
    assert sorted(codes) == [303] + [409] * 9
    files = sorted(p.name for p in (tmp_path / "scenarios").iterdir())
    assert files == ["same.yaml"]  # no copies, no temporary files left
    r = client.post(f"{ws}/save", data={"name": "same", "csrf_token": tok})
    assert r.status_code == 409 and "Overwrite" in r.text and 'id="overwrite-button"' in r.text
    r = client.post(f"{ws}/save", data={"name": "same", "overwrite": "yes", "csrf_token": tok},
                    follow_redirects=False)
    assert r.status_code == 303
    r = client.post(f"{ws}/save", data={"name": "ec-emissions", "csrf_token": tok})
    assert r.status_code == 400 and "packaged" in r.text


def test_uploads_are_named_after_their_file(client):
    for name in ("Middle East talks.csv", "tariffs.tsv"):
        sep = "," if name.endswith(".csv") else "\t"
        body = sep.join(["Actor", "Capability", "Position", "Salience"]) + "\n" + "".join(
            sep.join([f"A{i}", str(10 + i), str(10 * i), "0.5"]) + "\n" for i in range(4))
        r = client.post("/upload", data={"csrf_token": token(client)},
                        files={"file": (name, body.encode())}, follow_redirects=False)
        assert r.status_code == 303, r.text
    names = {s["name"] for s in client.get("/api/scenarios").json() if s["kind"] == "user"}
    assert names == {"middle-east-talks", "tariffs"}
    # and the run history names them so too
    ws = r.headers["location"]
    r = client.post(f"{ws}/run", data={"model": "median", "csrf_token": token(client)},
                    follow_redirects=False)
    for _ in range(HANG_GUARD):
        if client.get(r.headers["location"], follow_redirects=False).status_code == 303:
            break
        time.sleep(0.05)
    assert [h["scenario"]["name"] for h in client.get("/api/runs").json()] == ["tariffs"]
    r = client.post("/upload", data={"csrf_token": token(client)},
                    files={"file": ("../../etc/Middle East talks.csv", body.encode())},
                    follow_redirects=False)
    assert r.status_code == 303
    assert client.get(r.headers["location"]).text.count("Middle East talks") >= 1


# -- limits ----------------------------------------------------------------------------


def test_scenarios_over_the_size_limits_are_refused(client):
    r = client.post("/upload", data={"csrf_token": token(client)},
                    files={"file": ("huge.csv", bdm_csv(5000))})
    assert r.status_code == 400 and "at most 500" in r.text
    r = client.post("/api/validate", json={"yaml": "stakes: 1\n"})
    assert r.status_code == 200


# -- slow and hostile input, on a real server ------------------------------------------


@pytest.fixture
def live(tmp_path):
    uvicorn = pytest.importorskip("uvicorn")
    app = create_app(store=tmp_path / "runs.duckdb", scenario_dir=tmp_path / "scenarios",
                     limits=Limits(workers=2, upload_seconds=60, abandon_seconds=3))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    for _ in range(HANG_GUARD):
        if srv.started:
            break
        time.sleep(0.05)
    yield app, f"http://127.0.0.1:{port}"
    srv.should_exit = True
    th.join(timeout=20)


def _jobs(app, kind):
    pool = app.state.stakes.pool
    with pool.cond:
        return [j for j in pool.jobs.values() if j.kind == kind]


def test_a_hostile_xml_upload_does_not_stall_other_clients(live):
    app, base = live
    hostile = entity_xml(6)  # ~450 bytes; the entities expand to 10 million characters
    out: dict = {}

    def attacker():
        with httpx.Client(base_url=base, timeout=120) as c:
            c.get("/")
            out["upload"] = c.post("/upload", data={"csrf_token": c.cookies["stakes_csrf"]},
                                   files={"file": ("evil.xml", hostile)})

    th = threading.Thread(target=attacker)
    th.start()
    job = None
    for _ in range(HANG_GUARD):
        jobs = _jobs(app, "upload")
        if jobs and jobs[0].state != "queued":
            job = jobs[0]
            break
        time.sleep(0.05)
    assert job is not None
    with httpx.Client(base_url=base, timeout=120) as other:
        pages = [other.get(p) for p in ("/", "/runs", "/api/scenarios", "/api/health")]
        run = other.post("/api/run", json={"scenario": "ec-emissions", "models": ["median"],
                                           "record": False})
    assert [p.status_code for p in pages] == [200] * 4 and run.status_code == 200
    if job.state == "running":
        # the parse was still going while another client got every page and a run
        assert "upload" not in out
        app.state.stakes.pool.cancel(job.id)  # no need to wait for the time limit here
    th.join(timeout=120)
    r = out["upload"]
    assert 400 <= r.status_code < 500 and "Traceback" not in r.text
    assert "/tmp/" not in r.text


def test_cancel_ends_a_running_job_and_its_worker(live):
    app, base = live
    with httpx.Client(base_url=base, timeout=60) as c:
        c.get("/")
        tok = c.cookies["stakes_csrf"]
        r = c.post("/upload", data={"csrf_token": tok},
                   files={"file": ("long.csv", ktab_csv(250, 20))}, follow_redirects=False)
        assert r.status_code == 303
        job = c.post("/api/jobs", json={"scenario": "long", "models": ["eum"],
                                        "rounds": 1000}).json()
        assert job.get("state") in ("queued", "running"), job
        wait_state(lambda: c.get(f"/api/jobs/{job['id']}").json(), {"running"})
        workers = app.state.stakes.pool.workers
        pids = {w.proc.pid for w in workers if w.proc is not None}
        done = c.post(f"/api/jobs/{job['id']}/cancel").json()
        assert done["state"] == "cancelled" and done["run_id"] is None if "run_id" in done \
            else done["state"] == "cancelled"
        # the worker that ran it was ended (a fresh one replaces it when needed)
        alive = {w.proc.pid for w in workers if w.proc is not None and w.proc.poll() is None}
        assert pids - alive
        # the server is fine: the next run works
        r = c.post("/api/run", json={"scenario": "ec-emissions", "models": ["median"],
                                     "record": False})
        assert r.status_code == 200


def test_a_client_that_goes_away_cancels_its_job(live):
    app, base = live
    with httpx.Client(base_url=base, timeout=60) as c:
        c.get("/")
        r = c.post("/upload", data={"csrf_token": c.cookies["stakes_csrf"]},
                   files={"file": ("long.csv", ktab_csv(250, 20))}, follow_redirects=False)
        assert r.status_code == 303
    # a synchronous run whose client disconnects
    host, port = base.rsplit("/", 1)[-1].split(":")
    body = b'{"scenario": "long", "models": ["eum"], "rounds": 1000}'
    s = socket.create_connection((host, int(port)))
    s.sendall(b"POST /api/run HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
              + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    for _ in range(HANG_GUARD):
        jobs = _jobs(app, "run")
        if jobs and jobs[0].state == "running":
            break
        time.sleep(0.05)
    s.close()
    job = _jobs(app, "run")[0]
    assert job.done.wait(timeout=60)
    assert job.state == "cancelled"
    # a job started through the API and never asked about again is cancelled too
    with httpx.Client(base_url=base, timeout=60) as c:
        jid = c.post("/api/jobs", json={"scenario": "long", "models": ["eum"],
                                        "rounds": 1000}).json()["id"]
    job = app.state.stakes.pool.get(jid)
    assert job.done.wait(timeout=60)
    assert job.state == "cancelled" and "nobody was waiting" in str(job.error)


def test_job_pages_follow_a_run_without_javascript(client):
    ws = open_ws(client)
    r = client.post(f"{ws}/run", data={"model": "median", "csrf_token": token(client)},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/jobs/")
    job_url = r.headers["location"]
    for _ in range(HANG_GUARD):
        r = client.get(job_url, follow_redirects=False)
        if r.status_code == 303:
            break
        assert 'http-equiv="refresh"' in r.text and 'id="cancel-button"' in r.text
        time.sleep(0.05)
    assert re.fullmatch(r"/runs/\w+", r.headers["location"])
    page = client.get(r.headers["location"]).text
    assert 'id="forecast-table"' in page and "data-stop=" in page
