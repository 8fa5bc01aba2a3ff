"""The browser app behind ``stakes serve``: FastAPI, Jinja2 templates, htmx and plotly.js.

Everything runs on the user's machine with the engine, store and report code
of the CLI, so the numbers and charts are the same.  Pages are rendered on
the server; htmx (vendored) swaps in run results without a page reload and
plotly.js (from the installed ``plotly`` package) draws the report's charts.

Working copies: opening a scenario makes an in-memory working copy keyed by
a random id; edits are validated with the scenario loader's own checks and
only a valid scenario replaces the copy.  The user's scenarios are YAML
files in one folder; uploads that load are saved there as our YAML.

Safety: names of scenarios, runs and working copies are matched against
strict patterns and looked up in listings (never joined into paths);
uploads are size-limited; every user string is escaped by Jinja2's
autoescaping; errors reach the user as messages, never tracebacks.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import secrets
import tempfile
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from .. import __version__
from ..errors import InputError, OptionError, Problem, StakesError

log = logging.getLogger("stakes.web")

HERE = Path(__file__).parent
MAX_UPLOAD = 2 * 1024 * 1024
MAX_WORKSPACES = 256
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$")
RUN_RE = re.compile(r"^[A-Za-z0-9]{1,32}$")
WID_RE = re.compile(r"^[a-f0-9]{32}$")
UPLOAD_SUFFIXES = (".yaml", ".yml", ".csv", ".tsv", ".txt", ".xml", ".json")
SCENARIOS_ENV = "STAKES_SCENARIOS"


# --------------------------------------------------------------------------
# state


@dataclass
class Workspace:
    """A working copy of a scenario, edited in the browser."""

    id: str
    scenario: Any  # stakes.scenario.schema.Scenario
    source: str
    dirty: bool = False
    last_run: str | None = None
    created: float = field(default_factory=time.time)


@dataclass
class Settings:
    store: Path | None = None  # None: $STAKES_STORE or the user data directory
    scenario_dir: Path | None = None
    max_upload: int = MAX_UPLOAD


class State:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.workspaces: OrderedDict[str, Workspace] = OrderedDict()
        self.lock = threading.Lock()
        self.store_lock = threading.Lock()
        self._plotly_js: bytes | None = None

    # working copies ------------------------------------------------------
    def new_workspace(self, scn: Any, source: str) -> Workspace:
        ws = Workspace(secrets.token_hex(16), scn, source)
        with self.lock:
            self.workspaces[ws.id] = ws
            while len(self.workspaces) > MAX_WORKSPACES:
                self.workspaces.popitem(last=False)
        return ws

    def workspace(self, wid: str) -> Workspace:
        if not WID_RE.match(wid or ""):
            raise HTTPException(404, "no such working copy")
        with self.lock:
            ws = self.workspaces.get(wid)
            if ws is not None:
                self.workspaces.move_to_end(wid)
        if ws is None:
            raise HTTPException(404, "this working copy has expired; open the scenario again")
        return ws

    # the run store -------------------------------------------------------
    @contextmanager
    def store(self, read_only: bool = False) -> Iterator[Any]:
        """The run store, opened for one operation (so that the CLI can use it in between)."""
        from ..store import Store
        from ..store.catalog import resolve_store_path

        with self.store_lock:
            if read_only and not resolve_store_path(self.settings.store).exists():
                yield None
                return
            st = Store(self.settings.store, read_only=False)
            try:
                yield st
            finally:
                st.close()

    # the user's scenarios ------------------------------------------------
    def scenario_dir(self) -> Path:
        if self.settings.scenario_dir is not None:
            return Path(self.settings.scenario_dir)
        env = os.environ.get(SCENARIOS_ENV, "").strip()
        if env:
            return Path(env).expanduser()
        from platformdirs import user_data_dir

        return Path(user_data_dir("stakes", appauthor=False)) / "scenarios"

    def user_scenarios(self) -> dict[str, Path]:
        folder = self.scenario_dir()
        if not folder.is_dir():
            return {}
        return {p.stem: p for p in sorted(folder.glob("*.yaml"))
                if p.is_file() and NAME_RE.match(p.stem)}

    def plotly_js(self) -> bytes:
        if self._plotly_js is None:
            from plotly.offline import get_plotlyjs

            self._plotly_js = get_plotlyjs().encode("utf-8")
        return self._plotly_js


# --------------------------------------------------------------------------
# helpers


def _packaged() -> dict[str, Path]:
    from ..api import packaged_scenarios

    return packaged_scenarios()


def _find_scenario(state: State, kind: str, name: str) -> Path:
    """A library scenario's path, looked up by name in the listing (never joined)."""
    if not NAME_RE.match(name or ""):
        raise HTTPException(404, "no such scenario")
    listing = _packaged() if kind == "packaged" else state.user_scenarios() if kind == "user" else {}
    if name not in listing:
        raise HTTPException(404, f"no {kind} scenario named {name!r}")
    return listing[name]


def _load_path(path: Path) -> Any:
    from ..readers import load_any

    return load_any(path)


def _check_run_id(rid: str) -> str:
    if not RUN_RE.match(rid or ""):
        raise HTTPException(404, "no such run")
    return rid


def _problems(exc: StakesError) -> list[dict[str, Any]]:
    if isinstance(exc, InputError):
        return [{"message": p.message, "line": p.line, "column": p.column, "field": p.field}
                for p in exc.problems]
    return [{"message": str(exc), "line": None, "column": None, "field": None}]


def _scenario_data(scn: Any) -> dict[str, Any]:
    return scn.model_dump(mode="json", exclude_none=True)


def _validate_data(data: dict[str, Any], file: str) -> Any:
    from ..scenario.yaml_io import scenario_from_data

    return scenario_from_data(data, None, file)


def _field_errors(exc: InputError) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in exc.problems:
        out.setdefault(p.field or "", []).append(p.message)
    return out


def _errors_for(errors: dict[str, list[str]], name: str) -> list[str]:
    """Messages for the input called ``name``: its own field and anything below it."""
    out = []
    for f, msgs in errors.items():
        if f == name or f.startswith(name + ".") or f.startswith(name + "["):
            out.extend(msgs)
    return out


def _number(raw: str) -> Any:
    raw = (raw or "").strip()
    if raw == "":
        return None
    try:
        return float(raw)
    except ValueError:
        return raw  # left as text: validation names the field


def _set_value(node: dict[str, Any], key: str, raw: str, optional: bool = False) -> None:
    """Set ``node[key]``'s number, keeping its basis and uncertainty."""
    v = _number(raw)
    if v is None and optional:
        node.pop(key, None)
        return
    old = node.get(key)
    if isinstance(v, str):
        node[key] = v  # the schema names it: "expected a number, got the text ..."
    elif isinstance(old, dict):
        old = dict(old)
        old["value"] = v
        node[key] = old
    else:
        node[key] = v


def _slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_\-]+", "-", text).strip("-_").lower()[:60]
    return s if s and NAME_RE.match(s) else "scenario"


def _basis_text(v: Any) -> str:
    b = getattr(v, "basis", None) if v is not None else None
    if b is None:
        return ""
    if b.kind == "evidence":
        return f"evidence ({b.source}): “{b.quote}”"
    if b.kind == "judgment":
        return f"judgment: {b.rationale}"
    return f"data ({b.source})" + (f": {b.note}" if b.note else "")


def run_models(scn: Any, models: list[str], levers: list[str], plans: list[str],
               options: dict[str, dict[str, Any]] | None = None, rounds: int | None = None,
               seed: int = 0) -> list[Any]:
    from ..engine import interventions_for, run_scenario
    from ..models import model_names

    if not models:
        raise OptionError("choose at least one model")
    unknown = [m for m in models if m not in model_names()]
    if unknown:
        raise OptionError(f"unknown model {unknown[0]!r}; known models: "
                          f"{', '.join(model_names())}")
    ivs = interventions_for(scn, levers, plans)
    return run_scenario(scn, models, options=options, interventions=ivs, rounds=rounds,
                        seed=seed, skip_inapplicable=True)


def _issue_charts(scn: Any, document: dict[str, Any], issue_id: str) -> tuple[list[Any], list[str]]:
    """The report's charts for one issue (the report's code, on that issue alone)."""
    from ..report import build_report

    issue = scn.issue(issue_id)
    sub = scn.model_copy(update={"issues": [issue],
                                 "entries": [e for e in scn.entries if e.issue == issue_id]})

    def on_issue(res: dict[str, Any]) -> bool:
        iss = res["issue"]
        return iss == issue_id if isinstance(iss, str) else False

    doc = {**document, "results": [r for r in document.get("results", []) if on_issue(r)]}
    rep = build_report(sub, doc)
    charts = [c for c in rep.charts if c.section in ("positions", "actors", "levers", "quadrant")]
    order = {"positions": 0, "levers": 1, "actors": 2, "quadrant": 3}
    charts.sort(key=lambda c: order[c.section])
    return charts, rep.notes


def comparison_table(scn: Any, document: dict[str, Any]) -> dict[str, Any]:
    """Forecasts side by side: rows issue x model, columns baseline then each lever / plan."""
    from ..report.build import forecast_table

    df = forecast_table(scn, document)
    columns = list(dict.fromkeys(df["intervention"])) if len(df) else []
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for r in df.itertuples(index=False):
        rows.setdefault((r.issue, r.model), {})[r.intervention] = (r.forecast, r.shift)
    names = {i.id: i.name for i in scn.issues}
    return {"columns": columns,
            "rows": [{"issue": k[0], "issue_name": names.get(k[0], k[0]), "model": k[1],
                      "cells": [v.get(c) for c in columns]} for k, v in rows.items()]}


def _fmt(v: Any, signed: bool = False) -> str:
    if v is None:
        return "—"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if f != f:
        return "—"
    return f"{f:+.2f}" if signed else f"{f:.2f}"


# --------------------------------------------------------------------------
# the JSON API's bodies


class RunRequest(BaseModel):
    """A run: a library scenario by name (or scenario YAML text), models, levers and plans."""

    scenario: str | None = Field(None, description="Library scenario name; default: the "
                                 "packaged default scenario.")
    scenario_yaml: str | None = Field(None, max_length=MAX_UPLOAD,
                                      description="Scenario YAML text instead of a name.")
    models: list[str] = Field(default_factory=lambda: ["eum", "compromise", "median"])
    levers: list[str] | str = Field(default_factory=list, description="Lever ids, or 'all'.")
    plans: list[str] | str = Field(default_factory=list, description="Plan ids, or 'all'.")
    options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    rounds: int | None = Field(None, ge=1, le=100_000)
    seed: int = 0
    record: bool = Field(True, description="Record the run in the run store.")


class ValidateRequest(BaseModel):
    yaml: str = Field(max_length=MAX_UPLOAD)


# --------------------------------------------------------------------------
# the app


def create_app(store: str | os.PathLike | None = None,
               scenario_dir: str | os.PathLike | None = None,
               max_upload: int = MAX_UPLOAD) -> FastAPI:
    settings = Settings(store=Path(store) if store else None,
                        scenario_dir=Path(scenario_dir) if scenario_dir else None,
                        max_upload=max_upload)
    state = State(settings)
    app = FastAPI(title="stakes", version=__version__,
                  description="Forecast multi-actor political bargaining: the JSON API of "
                  "`stakes serve`. Run documents follow the CLI's JSON run contract.",
                  docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    app.state.stakes = state
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals.update(fmt=_fmt, version=__version__)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    def page(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, ctx, status_code=status)

    # -- security headers and errors -------------------------------------

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            origin = request.headers.get("origin")
            host = request.headers.get("host", "")
            if origin and origin != "null" and origin.split("://", 1)[-1] != host:
                return PlainTextResponse("cross-site request refused", status_code=403)
            length = request.headers.get("content-length")
            if length and length.isdigit() and int(length) > settings.max_upload + 64 * 1024:
                return _too_large(request, settings.max_upload)
        try:
            response = await call_next(request)
        except Exception:  # noqa: BLE001 - the user sees a message, the log the traceback
            log.exception("error serving %s", request.url.path)
            response = _internal(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' "
            "'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
        return response

    def _wants_json(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    def _too_large(request: Request, limit: int) -> Response:
        msg = f"the upload is too large (limit {limit // 1024} KiB)"
        if _wants_json(request):
            return JSONResponse({"error": msg, "problems": []}, status_code=413)
        return page(request, "error.html", 413, title="Too large", message=msg)

    def _internal(request: Request) -> Response:
        msg = "something went wrong on the server; the details are in its log"
        if _wants_json(request):
            return JSONResponse({"error": msg, "problems": []}, status_code=500)
        return HTMLResponse("<!DOCTYPE html><title>Error</title><h1>Error</h1><p>"
                            + msg + "</p>", status_code=500)

    @app.exception_handler(StakesError)
    async def stakes_error(request: Request, exc: StakesError) -> Response:
        from ..store import StoreError

        status = 404 if isinstance(exc, StoreError) and "no run" in str(exc) else 400
        problems = _problems(exc)
        if _wants_json(request):
            return JSONResponse({"error": problems[0]["message"] if len(problems) == 1 else
                                 f"{len(problems)} problems", "problems": problems},
                                status_code=status)
        if request.headers.get("hx-request"):
            return page(request, "_problems.html", 200, problems=problems)
        return page(request, "error.html", status, title="Cannot do that",
                    message="; ".join(p["message"] for p in problems), problems=problems)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if _wants_json(request):
            return JSONResponse({"error": str(exc.detail), "problems": []},
                                status_code=exc.status_code)
        return page(request, "error.html", exc.status_code, title="Not found"
                    if exc.status_code == 404 else "Error", message=str(exc.detail))

    @app.exception_handler(404)
    async def not_found(request: Request, exc: Exception) -> Response:
        detail = getattr(exc, "detail", "not found")
        if _wants_json(request):
            return JSONResponse({"error": str(detail), "problems": []}, status_code=404)
        return page(request, "error.html", 404, title="Not found", message=str(detail))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        problems = [{"message": e.get("msg", "invalid"), "line": None, "column": None,
                     "field": ".".join(str(x) for x in e.get("loc", ()))} for e in exc.errors()]
        if _wants_json(request):
            return JSONResponse({"error": "invalid request", "problems": problems},
                                status_code=422)
        return page(request, "error.html", 422, title="Invalid request",
                    message="; ".join(f"{p['field']}: {p['message']}" for p in problems))

    # -- static plotly.js ------------------------------------------------

    @app.get("/static-lib/plotly.min.js", include_in_schema=False)
    def plotly_js() -> Response:
        return Response(state.plotly_js(), media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=86400"})

    # -- library ---------------------------------------------------------

    def library() -> list[dict[str, Any]]:
        from ..api import DEFAULT_SCENARIO

        items = []
        for kind, listing in (("packaged", _packaged()), ("user", state.user_scenarios())):
            for name in sorted(listing):
                items.append({"kind": kind, "name": name,
                              "default": kind == "packaged" and name == DEFAULT_SCENARIO})
        items.sort(key=lambda d: (not d["default"], d["kind"] != "packaged", d["name"]))
        return items

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request) -> Response:
        return page(request, "library.html", items=library(), title="Scenario library",
                    max_upload=settings.max_upload)

    @app.post("/open/{kind}/{name}", include_in_schema=False)
    def open_scenario(kind: str, name: str) -> Response:
        scn = _load_path(_find_scenario(state, kind, name))
        ws = state.new_workspace(scn, f"{kind}:{name}")
        return RedirectResponse(f"/w/{ws.id}", status_code=303)

    # -- upload ----------------------------------------------------------

    async def _read_upload(upload: UploadFile) -> bytes:
        data = await upload.read(settings.max_upload + 1)
        if len(data) > settings.max_upload:
            raise HTTPException(413, f"the file is too large (limit "
                                     f"{settings.max_upload // 1024} KiB)")
        return data

    def _parse_upload(filename: str, data: bytes) -> Any:
        suffix = Path(filename or "").suffix.lower()
        if suffix not in UPLOAD_SUFFIXES:
            suffix = ".txt"
        with tempfile.TemporaryDirectory(prefix="stakes-upload-") as tmp:
            path = Path(tmp) / f"upload{suffix}"
            path.write_bytes(data)
            try:
                return _load_path(path)
            except InputError as exc:
                shown = Path(filename or "upload").name[:100] or "upload"
                raise InputError([Problem(p.message, shown, p.line, p.column, p.field)
                                  for p in exc.problems]) from None

    def _save_user(scn: Any, wanted: str) -> str:
        from ..scenario.yaml_io import dumps_scenario, write_atomic

        folder = state.scenario_dir()
        base = _slug(wanted)
        name, k = base, 1
        existing = state.user_scenarios()
        while name in existing or name in _packaged():
            k += 1
            name = f"{base[:56]}-{k}"
        write_atomic(folder / f"{name}.yaml", dumps_scenario(scn))
        return name

    @app.post("/upload", response_class=HTMLResponse, include_in_schema=False)
    async def upload(request: Request, file: UploadFile = File(...)) -> Response:
        try:
            data = await _read_upload(file)
        except HTTPException as exc:
            return page(request, "upload.html", exc.status_code, title="Upload",
                        filename=file.filename, error=str(exc.detail), lines=[], problems=[])
        try:
            scn = _parse_upload(file.filename or "upload", data)
        except (InputError, OptionError) as exc:
            return page(request, "upload.html", 400, title="Upload", filename=file.filename,
                        **_annotated(data, exc))
        name = _save_user(scn, Path(file.filename or "").stem or scn.metadata.name)
        ws = state.new_workspace(scn, f"user:{name}")
        return RedirectResponse(f"/w/{ws.id}", status_code=303)

    def _annotated(data: bytes | str, exc: StakesError) -> dict[str, Any]:
        """The uploaded text, line by line, with each problem beside its line."""
        problems = _problems(exc)
        text = data if isinstance(data, str) else data.decode("utf-8", errors="replace")
        lines = text.splitlines()
        if len(lines) > 5000 or "\x00" in text:
            lines = []
        by_line: dict[int, list[dict[str, Any]]] = {}
        loose = []
        for p in problems:
            if p["line"] and 1 <= p["line"] <= len(lines):
                by_line.setdefault(p["line"], []).append(p)
            else:
                loose.append(p)
        return {"lines": [{"no": i + 1, "text": t, "problems": by_line.get(i + 1, [])}
                          for i, t in enumerate(lines)],
                "problems": problems, "loose": loose, "error": None}

    # -- working copy ----------------------------------------------------

    @app.get("/w/{wid}", response_class=HTMLResponse, include_in_schema=False)
    def workspace(request: Request, wid: str) -> Response:
        from ..models import model_names

        ws = state.workspace(wid)
        return page(request, "workspace.html", ws=ws, scn=ws.scenario, title=ws.scenario.metadata.name,
                    models=model_names(), default_models=("eum", "compromise", "median"))

    @app.get("/w/{wid}/edit", response_class=HTMLResponse, include_in_schema=False)
    def edit(request: Request, wid: str, issue: str | None = None) -> Response:
        ws = state.workspace(wid)
        return _edit_page(request, ws, issue, None, {})

    def _edit_page(request: Request, ws: Workspace, issue: str | None,
                   data: dict[str, Any] | None, errors: dict[str, list[str]],
                   status: int = 200, saved: bool = False) -> Response:
        scn = ws.scenario
        ids = [i.id for i in scn.issues]
        issue = issue if issue in ids else ids[0]
        data = data if data is not None else _scenario_data(scn)
        actor_names = {a["id"]: a.get("name", a["id"]) for a in data.get("actors", [])}
        rows = []
        for k, e in enumerate(data.get("entries", [])):
            if e.get("issue") != issue:
                continue
            try:
                obj = scn.entries[k] if k < len(scn.entries) else None
            except Exception:  # noqa: BLE001
                obj = None

            def val(key: str) -> Any:
                v = e.get(key)
                return v.get("value") if isinstance(v, dict) else v

            rows.append({"k": k, "actor": e.get("actor"), "name": actor_names.get(e.get("actor")),
                         "position": val("position"), "salience": val("salience"),
                         "capability": val("capability"),
                         "basis": {f: _basis_text(getattr(obj, f, None)) if obj else ""
                                   for f in ("position", "salience", "capability")}})
        return page(request, "edit.html", status, ws=ws, scn=scn, data=data, issue=issue,
                    rows=rows, errors=errors, err=lambda n: _errors_for(errors, n), saved=saved,
                    title=f"Edit: {scn.metadata.name}")

    @app.post("/w/{wid}/edit", response_class=HTMLResponse, include_in_schema=False)
    async def save_edit(request: Request, wid: str) -> Response:
        ws = state.workspace(wid)
        form = await request.form()
        issue = str(form.get("issue", ""))
        data = _scenario_data(ws.scenario)
        for key, raw in form.multi_items():
            raw = str(raw)
            m = re.fullmatch(r"(entries|actors|issues)\[(\d+)\]\.([a-z_]+)(?:\.([a-z_]+))?", key)
            if not m:
                if key == "metadata.name":
                    data["metadata"]["name"] = raw
                continue
            part, k, fld, sub = m.group(1), int(m.group(2)), m.group(3), m.group(4)
            items = data.get(part, [])
            if k >= len(items):
                continue
            node = items[k]
            if part == "entries" and fld in ("position", "salience", "capability") and not sub:
                _set_value(node, fld, raw, optional=fld == "capability")
            elif part == "actors" and fld == "name":
                node["name"] = raw
            elif part == "actors" and fld == "capability":
                _set_value(node, fld, raw, optional=True)
            elif part == "issues" and fld == "name":
                node["name"] = raw
            elif part == "issues" and fld == "scale" and sub in ("min", "max"):
                node.setdefault("scale", {})[sub] = _number(raw)
            elif part == "issues" and fld == "status_quo":
                _set_value(node, fld, raw, optional=True)
        try:
            scn = _validate_data(data, "working copy")
        except InputError as exc:
            return _edit_page(request, ws, issue, data, _field_errors(exc), status=422)
        ws.scenario, ws.dirty = scn, True
        return _edit_page(request, ws, issue, None, {}, saved=True)

    @app.get("/w/{wid}/source", response_class=HTMLResponse, include_in_schema=False)
    def source(request: Request, wid: str) -> Response:
        from ..scenario.yaml_io import dumps_scenario

        ws = state.workspace(wid)
        return page(request, "source.html", ws=ws, text=dumps_scenario(ws.scenario), lines=[],
                    problems=[], loose=[], title=f"YAML: {ws.scenario.metadata.name}")

    @app.post("/w/{wid}/source", response_class=HTMLResponse, include_in_schema=False)
    def save_source(request: Request, wid: str, text: str = Form(..., max_length=MAX_UPLOAD)
                    ) -> Response:
        from ..scenario.yaml_io import loads_scenario

        ws = state.workspace(wid)
        try:
            scn = loads_scenario(text.replace("\r\n", "\n"), "scenario.yaml")
        except InputError as exc:
            return page(request, "source.html", 422, ws=ws, text=text,
                        title=f"YAML: {ws.scenario.metadata.name}", **_annotated(text, exc))
        ws.scenario, ws.dirty = scn, True
        return RedirectResponse(f"/w/{ws.id}", status_code=303)

    @app.post("/w/{wid}/save", include_in_schema=False)
    def save_copy(wid: str, name: str = Form("", max_length=64)) -> Response:
        ws = state.workspace(wid)
        saved = _save_user(ws.scenario, name or ws.scenario.metadata.name)
        ws.source, ws.dirty = f"user:{saved}", False
        return RedirectResponse(f"/w/{ws.id}", status_code=303)

    @app.get("/w/{wid}/scenario.yaml", include_in_schema=False)
    def scenario_yaml(wid: str) -> Response:
        from ..scenario.yaml_io import dumps_scenario

        ws = state.workspace(wid)
        return Response(dumps_scenario(ws.scenario), media_type="application/yaml",
                        headers={"Content-Disposition":
                                 f'attachment; filename="{_slug(ws.scenario.metadata.name)}.yaml"'})

    # -- runs ------------------------------------------------------------

    def _record(scn: Any, results: list[Any], models: list[str], source: str,
                options: dict | None = None, rounds: int | None = None, seed: int = 0) -> str:
        with state.store() as st:
            return st.record_run(scn, results, models=models, options=options, seed=seed,
                                 rounds=rounds, source=source, command="stakes serve")

    @app.post("/w/{wid}/run", response_class=HTMLResponse, include_in_schema=False)
    async def web_run(request: Request, wid: str) -> Response:
        ws = state.workspace(wid)
        form = await request.form()
        models = [str(m) for m in form.getlist("model")]
        levers = [str(x) for x in form.getlist("lever")]
        plans = [str(x) for x in form.getlist("plan")]
        from starlette.concurrency import run_in_threadpool

        scn = ws.scenario
        results = await run_in_threadpool(run_models, scn, models, levers, plans)
        if not results:
            raise OptionError("none of the chosen models can run on this scenario")
        rid = await run_in_threadpool(_record, scn, results, models, ws.source)
        ws.last_run = rid
        return await run_in_threadpool(_run_view, request, rid, None, True)

    def _run_view(request: Request, rid: str, issue: str | None, fragment: bool) -> Response:
        _check_run_id(rid)
        with state.store() as st:
            rec = st.get(rid, document=True)
            scn = st.scenario(rec.id)
        doc = rec.document or {"results": []}
        ids = [i.id for i in scn.issues]
        issue = issue if issue in ids else ids[0]
        charts, notes = _issue_charts(scn, doc, issue)
        figs = [{"key": c.key, "section": c.section, "json": c.figure.to_json()} for c in charts]
        ctx = dict(rec=rec, scn=scn, issue=issue, figs=figs, notes=notes,
                   table=comparison_table(scn, doc), title=f"Run {rec.id}")
        return page(request, "_run.html" if fragment else "run.html", **ctx)

    @app.get("/runs", response_class=HTMLResponse, include_in_schema=False)
    def runs(request: Request) -> Response:
        with state.store(read_only=True) as st:
            recs = st.runs(limit=200) if st is not None else []
        return page(request, "runs.html", recs=recs, title="Run history")

    @app.get("/runs/compare", response_class=HTMLResponse, include_in_schema=False)
    def compare(request: Request, a: str = "", b: str = "") -> Response:
        from ..store.compare import compare_runs

        if not a or not b:
            raise HTTPException(400, "choose two runs to compare")
        _check_run_id(a)
        _check_run_id(b)
        with state.store() as st:
            cmp = compare_runs(st, a, b)
        return page(request, "compare.html", cmp=cmp, title=f"Runs {a} and {b}")

    @app.get("/runs/{rid}", response_class=HTMLResponse, include_in_schema=False)
    def run_page(request: Request, rid: str, issue: str | None = None) -> Response:
        fragment = bool(request.headers.get("hx-request")) and bool(
            request.headers.get("hx-target") == "results")
        return _run_view(request, rid, issue, fragment)

    @app.get("/runs/{rid}/run.json", include_in_schema=False)
    def run_json(rid: str) -> Response:
        _check_run_id(rid)
        with state.store() as st:
            rec = st.get(rid, document=True)
        return Response(json.dumps(rec.document, indent=2, allow_nan=False),
                        media_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="run-{rec.id}.json"'})

    @app.get("/runs/{rid}/history.csv", include_in_schema=False)
    def run_csv(rid: str) -> Response:
        _check_run_id(rid)
        with state.store() as st:
            frame = st.history(rid)
        buf = io.StringIO()
        # every text cell is an id or a model name (no formulas can slip in)
        frame.to_csv(buf, index=False, quoting=csv.QUOTE_MINIMAL)
        return Response(buf.getvalue(), media_type="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="run-{rid}.csv"'})

    @app.get("/runs/{rid}/report.html", include_in_schema=False)
    def run_report(rid: str) -> Response:
        from ..report import render_html, report_for_run

        _check_run_id(rid)
        with state.store() as st:
            rep = report_for_run(st, rid)
        return Response(render_html(rep), media_type="text/html",
                        headers={"Content-Disposition":
                                 f'attachment; filename="report-{rid}.html"'})

    # -- JSON API --------------------------------------------------------

    @app.get("/api/scenarios", tags=["scenarios"])
    def api_scenarios() -> list[dict[str, Any]]:
        """The scenario library: packaged scenarios and the user's."""
        return library()

    @app.get("/api/scenarios/{name}", tags=["scenarios"])
    def api_scenario(name: str) -> dict[str, Any]:
        """One library scenario as JSON (the scenario schema)."""
        return _scenario_data(_load_path(_library_path(name)))

    def _library_path(name: str) -> Path:
        if name in _packaged():
            return _find_scenario(state, "packaged", name)
        return _find_scenario(state, "user", name)

    @app.get("/api/models", tags=["runs"])
    def api_models() -> list[dict[str, Any]]:
        """Every model: name, title, scope."""
        from ..models import get_model, model_names

        return [{"name": n, "title": get_model(n).title, "scope": get_model(n).scope}
                for n in model_names()]

    @app.post("/api/validate", tags=["scenarios"])
    def api_validate(body: ValidateRequest) -> dict[str, Any]:
        """Validate scenario YAML text: every problem with its line, column and field."""
        from ..scenario.yaml_io import loads_scenario

        try:
            scn = loads_scenario(body.yaml, "scenario.yaml")
        except InputError as exc:
            return {"ok": False, "problems": _problems(exc)}
        return {"ok": True, "problems": [], "scenario": {"name": scn.metadata.name,
                "actors": len(scn.actors), "issues": len(scn.issues)}}

    @app.post("/api/run", tags=["runs"])
    def api_run(body: RunRequest) -> dict[str, Any]:
        """Run models on a scenario; the response is the CLI's JSON run contract plus the
        stored run's id (``run_id``, null when not recorded)."""
        from ..api import DEFAULT_SCENARIO
        from ..results import to_document
        from ..scenario.yaml_io import loads_scenario

        if body.scenario_yaml is not None:
            scn, source = loads_scenario(body.scenario_yaml, "scenario.yaml"), "api:yaml"
        else:
            name = body.scenario or DEFAULT_SCENARIO
            scn, source = _load_path(_library_path(name)), name
        levers = [lv.id for lv in scn.levers] if body.levers == "all" else list(body.levers)
        plans = [p.id for p in scn.plans] if body.plans == "all" else list(body.plans)
        results = run_models(scn, list(body.models), levers, plans, body.options, body.rounds,
                             body.seed)
        doc = to_document(scn, results)
        rid = None
        if body.record and results:
            rid = _record(scn, results, list(body.models), source, body.options, body.rounds,
                          body.seed)
        return {**doc, "run_id": rid}

    @app.get("/api/runs", tags=["runs"])
    def api_runs(limit: int = 100) -> list[dict[str, Any]]:
        """Recorded runs, newest first (their settings; not their documents)."""
        with state.store(read_only=True) as st:
            return [r.header() for r in st.runs(limit=max(1, min(limit, 1000)))] if st else []

    @app.get("/api/runs/{rid}", tags=["runs"])
    def api_run_get(rid: str) -> dict[str, Any]:
        """A recorded run: its settings and its document (the JSON run contract)."""
        _check_run_id(rid)
        with state.store() as st:
            rec = st.get(rid, document=True)
        return {"run": rec.header(), "document": rec.document}

    @app.get("/api/runs/{a}/compare/{b}", tags=["runs"])
    def api_compare(a: str, b: str) -> dict[str, Any]:
        """Two recorded runs compared: differing inputs and forecasts side by side."""
        from ..store.compare import compare_runs

        _check_run_id(a)
        _check_run_id(b)
        with state.store() as st:
            return compare_runs(st, a, b)

    @app.get("/api/health", tags=["meta"])
    def health() -> dict[str, Any]:
        return {"ok": True, "version": __version__}

    return app

