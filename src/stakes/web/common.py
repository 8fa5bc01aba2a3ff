"""What the web app's routers share: page rendering, lookups, error shapes and run jobs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse

from ..errors import InputError, OptionError, Diagnostic, StakesError
from .jobs import Job, JobContext
from .security import check_form_token
from .state import NAME_RE, RUN_RE, State

UPLOAD_SUFFIXES = (".yaml", ".yml", ".csv", ".tsv", ".txt", ".xml", ".json")


def state_of(request: Request) -> State:
    return request.app.state.stakes


def page(request: Request, template: str, status: int = 200, /, **ctx: Any) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(request, template, ctx,
                                                        status_code=status)


async def read_form(request: Request) -> Any:
    """The posted form, once its token has been checked."""
    st = state_of(request)
    form = await request.form(max_files=1, max_fields=20_000,
                              max_part_size=st.settings.max_upload)
    check_form_token(request, form)
    return form


def packaged() -> dict[str, Path]:
    from ..api import packaged_scenarios

    return packaged_scenarios()


def find_scenario(state: State, kind: str, name: str) -> Path:
    """A library scenario's path, looked up by name in the listing (never joined)."""
    if not NAME_RE.match(name or ""):
        raise HTTPException(404, "no such scenario")
    listing = packaged() if kind == "packaged" else state.user_scenarios() if kind == "user" \
        else {}
    if name not in listing:
        raise HTTPException(404, f"no {kind} scenario named {name!r}")
    return listing[name]


def library_path(state: State, name: str) -> Path:
    if name in packaged():
        return find_scenario(state, "packaged", name)
    return find_scenario(state, "user", name)


def check_run_id(rid: str) -> str:
    if not RUN_RE.match(rid or ""):
        raise HTTPException(404, "no such run")
    return rid


def problems_of(exc: StakesError) -> list[dict[str, Any]]:
    if isinstance(exc, InputError):
        return [{"message": p.message, "line": p.line, "column": p.column, "field": p.field}
                for p in exc.problems]
    return [{"message": str(exc), "line": None, "column": None, "field": None}]


def slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_\-]+", "-", text).strip("-_").lower()[:60]
    return s if s and NAME_RE.match(s) else "scenario"


def fmt(v: Any, signed: bool = False) -> str:
    if v is None:
        return "—"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if f != f:
        return "—"
    return f"{f:+.2f}" if signed else f"{f:.2f}"


def models_info() -> list[dict[str, str]]:
    """Every model: name, title and one line on what it does (its docstring's first)."""
    from ..models import get_model, model_names

    out = []
    for n in model_names():
        m = get_model(n)
        doc = (getattr(m, "__doc__", None) or "").strip().splitlines()
        line = doc[0] if doc else ""
        out.append({"name": n, "title": getattr(m, "title", n), "scope": m.scope,
                    "description": line})
    return out


# -- jobs that the routers start ------------------------------------------


def check_models(models: list[str]) -> None:
    from ..models import model_names

    if not models:
        raise OptionError("choose at least one model")
    unknown = [m for m in models if m not in model_names()]
    if unknown:
        raise OptionError(f"unknown model {unknown[0]!r}; known models: "
                          f"{', '.join(model_names())}")


def submit_run(state: State, scn: Any, models: list[str], levers: list[str], plans: list[str],
               *, source: str, options: dict[str, dict[str, Any]] | None = None,
               rounds: int | None = None, seed: int = 0, record: bool = True) -> Job:
    """Queue a run: one worker step per model (the progress), then record it here.

    The result is ``{"results": Forecast, "run_id": id or None}``: each model's results with
    their assessments (intervals, verdicts), as ``stakes run`` makes them.
    """
    from ..engine import interventions_for

    check_models(models)
    state.limits.check_size(scn)
    interventions_for(scn, levers, plans)  # unknown levers and plans are refused now

    def driver(ctx: JobContext) -> dict[str, Any]:
        from ..forecast import merge

        parts: list[Any] = []
        for k, m in enumerate(models):
            ctx.progress(k, len(models), f"running {m}")
            parts.append(ctx.call("run", {"scenario": scn, "model": m, "levers": levers,
                                          "plans": plans, "options": options,
                                          "rounds": rounds, "seed": seed}))
        ctx.progress(len(models), len(models), "recording")
        results = merge(parts) if parts else []  # a Forecast: results and their assessments
        if not len(results):
            raise OptionError("none of the chosen models can run on this scenario")
        rid = None
        if record:
            with state.store() as st:
                rid = st.record_run(scn, results, models=models, options=options, seed=seed,
                                    rounds=rounds, source=source, command="stakes serve")
            state.forget_listing()
        return {"results": results, "run_id": rid}

    return state.pool.submit("run", f"{scn.metadata.name}: {', '.join(models)}", driver)


def submit_load(state: State, filename: str, data: bytes) -> Job:
    """Queue reading an upload; the result is the scenario (size-checked)."""
    raw = Path(filename or "upload").name[:100] or "upload"
    suffix = Path(raw).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        suffix = ".txt"
    # The readers name a scenario after its file, so the worker's copy keeps the upload's
    # own name: spaces and case kept, anything else that is not a plain character dropped.
    name = re.sub(r"[^\w .()\-]+", "", Path(raw).stem, flags=re.ASCII).strip(" .")[:64]
    name = name or "upload"

    def driver(ctx: JobContext) -> Any:
        ctx.progress(0, 1, "reading the file")
        try:
            scn = ctx.call("load", {"name": name, "suffix": suffix, "data": data})
        except InputError as exc:
            # the worker's temporary path is never shown: the user's file name is
            raise InputError([Diagnostic(p.message, raw, p.line, p.column, p.field)
                              for p in exc.problems]) from None
        state.limits.check_size(scn, raw)
        return scn

    return state.pool.submit("upload", f"reading {raw}", driver,
                             seconds=state.limits.upload_seconds)


async def wait_for(request: Request, job: Job) -> Job:
    """Wait for a job while its client is connected; cancel it if the client goes away."""
    import asyncio

    state = state_of(request)
    while not job.done.is_set():
        job.touch()
        if await request.is_disconnected():
            state.pool.cancel(job.id)
            break
        await asyncio.sleep(0.05)
    return job


def job_error(job: Job) -> StakesError:
    return job.error if job.error is not None else StakesError("the job did not finish")
