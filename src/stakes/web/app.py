"""The browser app behind ``stakes serve``: FastAPI, Jinja2 templates, htmx and plotly.js.

Everything runs on the user's machine with the engine, store and report code
of the CLI, so the numbers and charts are the same.  Pages are rendered on
the server; htmx (vendored) swaps in run results without a page reload and
plotly.js (from the installed ``plotly`` package) draws the report's charts.
Every page also works without JavaScript.

The routes live in routers: :mod:`.pages` (library, uploads, the working
copy), :mod:`.runs` (runs and sweeps as jobs, recorded runs) and :mod:`.api`
(the JSON API).  Parsing uploads and running models happen in worker
processes (:mod:`.jobs`), never on the server's event loop, under time,
memory and size limits; :mod:`.security` guards every request.

Working copies: opening a scenario makes an in-memory working copy keyed by
a random id; edits are validated with the scenario loader's own checks and
only a valid scenario replaces the copy.  The user's scenarios are YAML
files in one folder; uploads that load are saved there as our YAML.

Safety: names of scenarios, runs and working copies are matched against
strict patterns and looked up in listings (never joined into paths);
every user string is escaped by Jinja2's autoescaping; errors reach the
user as messages, never tracebacks or server paths.
"""

from __future__ import annotations

import logging
import os
import re
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator, Iterable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import StakesError
from .common import fmt, page, problems_of
from .jobs import Limits
from .security import DEFAULT_HOSTS, FIELD, Guard, form_token
from .state import MAX_UPLOAD, Settings, State

log = logging.getLogger("stakes.web")

HERE = Path(__file__).parent
# What a message may not show: absolute paths on this machine (the store, temp folders).
_PATH = re.compile(r"(?<![\w.])(?:/[\w.\-]+){2,}/?|[A-Za-z]:\\[^\s'\"]+")


def clean(message: str) -> str:
    """A message without this machine's paths (they say nothing to a browser user)."""
    return _PATH.sub("…", message)


def create_app(store: str | os.PathLike | None = None,
               scenario_dir: str | os.PathLike | None = None,
               max_upload: int = MAX_UPLOAD, *,
               hosts: Iterable[str] = DEFAULT_HOSTS,
               limits: Limits | None = None, warm_workers: bool = True) -> FastAPI:
    """The app.  ``warm_workers``: start the worker processes with the app rather than
    with the first job (which then waits a second or two for its worker)."""
    settings = Settings(store=Path(store) if store else None,
                        scenario_dir=Path(scenario_dir) if scenario_dir else None,
                        max_upload=max_upload, hosts=tuple(hosts), limits=limits or Limits())
    state = State(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.pool.start(warm=warm_workers)
        try:
            yield
        finally:
            state.pool.close()

    app = FastAPI(title="stakes", version=__version__,
                  description="Forecast multi-actor political bargaining: the JSON API of "
                  "`stakes serve`. Run documents follow the CLI's JSON run contract.",
                  docs_url=None, redoc_url=None, openapi_url="/api/openapi.json",
                  lifespan=lifespan)
    app.state.stakes = state
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals.update(fmt=fmt, version=__version__, csrf_token=form_token,
                                 csrf_field=FIELD, limits=settings.limits)
    app.state.templates = templates
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    # the request body may be a little larger than the file it carries (form framing)
    app.add_middleware(Guard, hosts=settings.hosts, max_body=max_upload + 64 * 1024)

    from . import api, pages, runs

    app.include_router(pages.router)
    app.include_router(runs.router)
    app.include_router(api.router)

    def wants_json(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        log.error("error serving %s", request.url.path, exc_info=exc)
        msg = "something went wrong on the server; the details are in its log"
        if wants_json(request):
            return JSONResponse({"error": msg, "problems": []}, status_code=500)
        return HTMLResponse("<!DOCTYPE html><title>Error</title><h1>Error</h1><p>"
                            + msg + "</p>", status_code=500)

    @app.exception_handler(StakesError)
    async def stakes_error(request: Request, exc: StakesError) -> Response:
        from ..store import StoreError

        status = getattr(exc, "status", None) or (
            404 if isinstance(exc, StoreError) and "no run" in str(exc) else 400)
        problems = [{**p, "message": clean(p["message"])} for p in problems_of(exc)]
        if wants_json(request):
            return JSONResponse({"error": problems[0]["message"] if len(problems) == 1 else
                                 f"{len(problems)} problems", "problems": problems},
                                status_code=status)
        if request.headers.get("hx-request"):
            return page(request, "_problems.html", 200, problems=problems)
        return page(request, "error.html", status, title="Cannot do that",
                    message="; ".join(p["message"] for p in problems), problems=problems)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        msg = clean(str(exc.detail))
        if wants_json(request):
            return JSONResponse({"error": msg, "problems": []}, status_code=exc.status_code)
        title = {404: "Not found", 403: "Refused", 413: "Too large"}.get(exc.status_code,
                                                                         "Cannot do that")
        return page(request, "error.html", exc.status_code, title=title, message=msg)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        problems = [{"message": clean(str(e.get("msg", "invalid"))), "line": None,
                     "column": None, "field": ".".join(str(x) for x in e.get("loc", ())
                                                       if x != "body")}
                    for e in exc.errors()]
        if wants_json(request):
            return JSONResponse({"error": "invalid request", "problems": problems},
                                status_code=422)
        return page(request, "error.html", 422, title="Invalid request",
                    message="; ".join(f"{p['field']}: {p['message']}" for p in problems))

    @app.get("/static-lib/plotly.min.js", include_in_schema=False)
    def plotly_js() -> Response:
        return Response(state.plotly_js(), media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/static-lib/report.css", include_in_schema=False)
    def report_css() -> Response:
        from ..report.html import CSS

        return Response(CSS, media_type="text/css",
                        headers={"Cache-Control": "public, max-age=3600"})

    @app.get("/static-lib/report.js", include_in_schema=False)
    def report_js() -> Response:
        from ..report.html import DRAW_JS

        return Response(DRAW_JS, media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=3600"})

    @app.get("/static-lib/plotly.css", include_in_schema=False)
    def plotly_css() -> Response:
        return Response(state.plotly_css(), media_type="text/css",
                        headers={"Cache-Control": "public, max-age=86400"})

    return app
