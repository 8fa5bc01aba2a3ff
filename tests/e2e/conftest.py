"""End-to-end fixtures: the app under uvicorn on a free loopback port, and headless chromium.

The browser is Debian's ``chromium`` driven by Playwright from PyPI (browser
downloads are not used); the tests skip, saying why, when either is missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("STAKES_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
# Screenshots for the docs are refreshed only on request (STAKES_SCREENSHOTS=docs/img),
# so that a test run never rewrites tracked files.
SHOTS_ENV = "STAKES_SCREENSHOTS"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_app(tmp_path_factory):
    """The app under uvicorn on a free loopback port: (app, base URL)."""
    pytest.importorskip("fastapi", reason="the web app needs the 'web' extra (fastapi)")
    uvicorn = pytest.importorskip("uvicorn", reason="the web app needs uvicorn")
    from stakes.web.app import create_app

    tmp = tmp_path_factory.mktemp("web")
    app = create_app(store=tmp / "runs.duckdb", scenario_dir=tmp / "scenarios")
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the web server did not start")
        time.sleep(0.05)
    yield app, f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def server(live_app):
    return live_app[1]


@pytest.fixture(scope="session")
def browser():
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright is not installed (pip install playwright)")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    ctx = browser.new_context(viewport={"width": 1200, "height": 800}, base_url=server)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.js_errors = errors  # type: ignore[attr-defined]
    yield pg
    ctx.close()


@pytest.fixture
def shot(tmp_path):
    """Screenshots the page: into $STAKES_SCREENSHOTS (e.g. docs/img) when set, else a tmp dir.

    Taking it also checks that the page renders to an image.
    """
    target = Path(os.environ.get(SHOTS_ENV) or tmp_path)

    def take(page, name: str) -> None:
        target.mkdir(parents=True, exist_ok=True)
        path = target / f"web-{name}.png"
        page.screenshot(path=str(path), full_page=False)
        assert path.stat().st_size > 0

    return take
