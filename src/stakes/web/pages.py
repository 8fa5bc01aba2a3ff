"""Library, uploads and the working copy: open, edit (form or YAML), save to the library."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ..errors import InputError, StakesError
from .common import (find_scenario, job_error, models_info, packaged, page,
                     problems_of, read_form, slug, state_of, submit_load, wait_for)
from .state import NAME_RE, State, Workspace

router = APIRouter(include_in_schema=False)
FORM_KEY = re.compile(r"(entries|actors|issues)\[(\d{1,6})\]\.([a-z_]+)(?:\.([a-z_]+))?")


def library(state: State) -> list[dict[str, Any]]:
    from ..api import DEFAULT_SCENARIO

    items = []
    for kind, listing in (("packaged", packaged()), ("user", state.user_scenarios())):
        for name in sorted(listing):
            items.append({"kind": kind, "name": name,
                          "default": kind == "packaged" and name == DEFAULT_SCENARIO})
    items.sort(key=lambda d: (not d["default"], d["kind"] != "packaged", d["name"]))
    return items


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    state = state_of(request)
    return page(request, "library.html", items=library(state), title="Scenario library",
                max_upload=state.settings.max_upload, limits=state.limits)


@router.post("/open/{kind}/{name}")
async def open_scenario(request: Request, kind: str, name: str) -> Response:
    await read_form(request)
    state = state_of(request)
    path = find_scenario(state, kind, name)
    scn = await run_in_threadpool(state.scenario_file, path)  # ours: trusted, quick to read
    ws = state.new_workspace(scn, f"{kind}:{name}")
    return RedirectResponse(f"/w/{ws.id}", status_code=303)


# -- upload ----------------------------------------------------------------


def annotated(data: bytes | str, exc: StakesError) -> dict[str, Any]:
    """The uploaded text, line by line, with each problem beside its line."""
    problems = problems_of(exc)
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


def save_new(state: State, scn: Any, wanted: str) -> str:
    """Save an upload under a name of its own: the wanted one, or the first free ``-k``."""
    from ..scenario.yaml_io import dumps_scenario

    text = dumps_scenario(scn)
    base = slug(wanted)
    taken = packaged()
    for k in range(1, 1000):
        name = base if k == 1 else f"{base[:56]}-{k}"
        if name not in taken and state.write_scenario(name, text, overwrite=False):
            return name
    raise HTTPException(409, "too many scenarios of that name; rename the file")


@router.post("/upload", response_class=HTMLResponse)
async def upload(request: Request) -> Response:
    state = state_of(request)
    form = await read_form(request)
    file = form.get("file")
    if file is None or isinstance(file, str):
        return page(request, "upload.html", 400, title="Upload", filename="",
                    error="choose a file to upload", lines=[], problems=[])
    filename = (file.filename or "upload").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    data = await file.read(state.settings.max_upload + 1)
    if len(data) > state.settings.max_upload:
        return page(request, "upload.html", 413, title="Upload", filename=filename,
                    error=f"the file is too large (limit {state.settings.max_upload // 1024} "
                    "KiB)", lines=[], problems=[])
    job = await wait_for(request, submit_load(state, filename, data))
    if not job.done.is_set():
        return Response(status_code=499)
    # what is left is quick but not free (a large file's annotated page, writing the
    # scenario): done in a thread, so that the event loop only waits
    return await run_in_threadpool(_upload_done, request, state, job, filename, data)


def _upload_done(request: Request, state: State, job: Any, filename: str,
                 data: bytes) -> Response:
    from pathlib import Path

    if not job.finished_ok:
        err = job_error(job)
        status = getattr(err, "status", 400)
        if isinstance(err, InputError):
            return page(request, "upload.html", 400, title="Upload", filename=filename,
                        **annotated(data, err))
        return page(request, "upload.html", status, title="Upload", filename=filename,
                    error=str(err), lines=[], problems=[])
    scn = job.result
    name = save_new(state, scn, Path(filename).stem or scn.metadata.name)
    ws = state.new_workspace(scn, f"user:{name}")
    return RedirectResponse(f"/w/{ws.id}", status_code=303)


# -- working copy ----------------------------------------------------------


@router.get("/w/{wid}", response_class=HTMLResponse)
def workspace(request: Request, wid: str) -> Response:
    ws = state_of(request).workspace(wid)
    return page(request, "workspace.html", ws=ws, scn=ws.scenario,
                title=ws.scenario.metadata.name, models=models_info(),
                default_models=("eum", "compromise", "median"), ferr=lambda name: [],
                sent={})


def _scenario_data(scn: Any) -> dict[str, Any]:
    return scn.model_dump(mode="json", exclude_none=True)


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


def _basis_words(b: dict[str, Any]) -> str:
    if b.get("kind") == "evidence":
        return f"evidence ({b.get('source')}): “{b.get('quote')}”"
    if b.get("kind") == "judgment":
        return f"judgment: {b.get('rationale')}"
    return f"data ({b.get('source')})" + (f": {b.get('note')}" if b.get("note") else "")


def _set_value(node: dict[str, Any], key: str, raw: str, optional: bool = False) -> None:
    """Set ``node[key]``'s number, keeping its uncertainty.

    A value that changes keeps its old basis only as history: the quote that
    supported the old number does not support the new one, so the basis
    becomes the analyst's judgment, naming the edit and quoting the old basis.
    """
    v = _number(raw)
    if v is None and optional:
        node.pop(key, None)
        return
    old = node.get(key)
    if isinstance(v, str):
        node[key] = v  # the schema names it: "expected a number, got the text ..."
        return
    old_value = old.get("value") if isinstance(old, dict) else old
    if old_value is not None and isinstance(old_value, (int, float)) and float(old_value) == v:
        return  # unchanged: keep everything
    if isinstance(old, dict):
        new = dict(old)
        new["value"] = v
        basis = old.get("basis")
        if isinstance(basis, dict):
            was = _basis_words(basis)
            if basis.get("kind") == "judgment" and str(basis.get("rationale", "")).startswith(
                    "edited in the web app"):
                was = str(basis.get("rationale"))
            new["basis"] = {"kind": "judgment",
                            "rationale": f"edited in the web app from {old_value:g} to {v:g}; "
                                         f"earlier basis: {was}"[:2000]}
        node[key] = new
    else:
        node[key] = v


def _basis_text(v: Any) -> str:
    b = getattr(v, "basis", None) if v is not None else None
    if b is None:
        return ""
    return _basis_words(b.model_dump(mode="json"))


def _edited(v: Any) -> bool:
    b = getattr(v, "basis", None) if v is not None else None
    return b is not None and b.kind == "judgment" and b.rationale.startswith(
        "edited in the web app")


@router.get("/w/{wid}/edit", response_class=HTMLResponse)
def edit(request: Request, wid: str, issue: str | None = None) -> Response:
    ws = state_of(request).workspace(wid)
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
        obj = scn.entries[k] if k < len(scn.entries) else None

        def val(key: str) -> Any:
            v = e.get(key)
            return v.get("value") if isinstance(v, dict) else v

        fields = ("position", "salience", "capability")
        rows.append({"k": k, "actor": e.get("actor"), "name": actor_names.get(e.get("actor")),
                     "position": val("position"), "salience": val("salience"),
                     "capability": val("capability"),
                     "basis": {f: _basis_text(getattr(obj, f, None)) if obj else ""
                               for f in fields},
                     "edited": {f: _edited(getattr(obj, f, None)) if obj else False
                                for f in fields}})
    return page(request, "edit.html", status, ws=ws, scn=scn, data=data, issue=issue,
                rows=rows, errors=errors, err=lambda n: _errors_for(errors, n), saved=saved,
                title=f"Edit: {scn.metadata.name}")


@router.post("/w/{wid}/edit", response_class=HTMLResponse)
async def save_edit(request: Request, wid: str) -> Response:
    ws = state_of(request).workspace(wid)
    form = await read_form(request)
    return await run_in_threadpool(_save_edit, request, ws, form)


def _save_edit(request: Request, ws: Workspace, form: Any) -> Response:
    from ..scenario.yaml_io import scenario_from_data

    issue = str(form.get("issue", ""))
    data = _scenario_data(ws.scenario)
    for key, raw in form.multi_items():
        raw = str(raw)
        m = FORM_KEY.fullmatch(key)
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
        scn = scenario_from_data(data, None, "working copy")
    except InputError as exc:
        return _edit_page(request, ws, issue, data, _field_errors(exc), status=422)
    ws.scenario, ws.dirty = scn, True
    return _edit_page(request, ws, issue, None, {}, saved=True)


@router.get("/w/{wid}/source", response_class=HTMLResponse)
def source(request: Request, wid: str) -> Response:
    from ..scenario.yaml_io import dumps_scenario

    ws = state_of(request).workspace(wid)
    return page(request, "source.html", ws=ws, text=dumps_scenario(ws.scenario), lines=[],
                problems=[], loose=[], title=f"YAML: {ws.scenario.metadata.name}")


@router.post("/w/{wid}/source", response_class=HTMLResponse)
async def save_source(request: Request, wid: str) -> Response:
    ws = state_of(request).workspace(wid)
    form = await read_form(request)
    return await run_in_threadpool(_save_source, request, ws, str(form.get("text", "")))


def _save_source(request: Request, ws: Workspace, text: str) -> Response:
    from ..scenario.yaml_io import loads_scenario

    try:
        scn = loads_scenario(text.replace("\r\n", "\n"), "scenario.yaml")
        state_of(request).limits.check_size(scn, "scenario.yaml")
    except InputError as exc:
        return page(request, "source.html", 422, ws=ws, text=text,
                    title=f"YAML: {ws.scenario.metadata.name}", **annotated(text, exc))
    ws.scenario, ws.dirty = scn, True
    return RedirectResponse(f"/w/{ws.id}", status_code=303)


@router.post("/w/{wid}/save", response_class=HTMLResponse)
async def save_copy(request: Request, wid: str) -> Response:
    """Save to the library; a name already in use is overwritten only when confirmed."""
    state = state_of(request)
    ws = state.workspace(wid)
    form = await read_form(request)
    return await run_in_threadpool(_save_copy, request, state, ws, form)


def _save_copy(request: Request, state: State, ws: Workspace, form: Any) -> Response:
    from ..scenario.yaml_io import dumps_scenario

    wanted = str(form.get("name", "") or ws.scenario.metadata.name)[:64]
    name = slug(wanted)
    overwrite = str(form.get("overwrite", "")) == "yes"
    error = None
    if name in packaged():
        error = f"“{name}” is the name of a packaged scenario; choose another name"
    elif not NAME_RE.match(name):
        error = "use letters, digits, '-' and '_' (up to 64)"
    if error:
        return page(request, "save.html", 400, ws=ws, name=wanted, error=error, exists=False,
                    title="Save to my library")
    if not state.write_scenario(name, dumps_scenario(ws.scenario), overwrite=overwrite):
        return page(request, "save.html", 409, ws=ws, name=name, error=None, exists=True,
                    title="Save to my library")
    ws.source, ws.dirty = f"user:{name}", False
    return RedirectResponse(f"/w/{ws.id}?saved={name}", status_code=303)


@router.get("/w/{wid}/scenario.yaml")
def scenario_yaml(request: Request, wid: str) -> Response:
    from ..scenario.yaml_io import dumps_scenario

    ws = state_of(request).workspace(wid)
    return Response(dumps_scenario(ws.scenario), media_type="application/yaml",
                    headers={"Content-Disposition":
                             f'attachment; filename="{slug(ws.scenario.metadata.name)}.yaml"'})
