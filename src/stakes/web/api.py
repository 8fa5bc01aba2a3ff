"""The JSON API: the Python API's operations over HTTP, long work as jobs."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ..engine import SEED_MAX
from ..errors import InputError
from .common import (check_run_id, job_error, library_path, models_info,
                     problems_of, state_of, submit_run, wait_for)
from .jobs import Job
from .pages import library
from .runs import SWEEP_RUNS_MAX, submit_sweep
from .state import MAX_UPLOAD, WID_RE

router = APIRouter(prefix="/api")


class RunRequest(BaseModel):
    """A run: a library scenario by name (or scenario YAML text), models, levers and plans."""

    scenario: str | None = Field(None, max_length=64, description="Library scenario name; "
                                 "default: the packaged default scenario.")
    scenario_yaml: str | None = Field(None, max_length=MAX_UPLOAD,
                                      description="Scenario YAML text instead of a name.")
    models: list[str] = Field(default_factory=lambda: ["eum", "compromise", "median"],
                              max_length=32)
    levers: list[str] | str = Field(default_factory=list, description="Lever ids, or 'all'.")
    plans: list[str] | str = Field(default_factory=list, description="Plan ids, or 'all'.")
    options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    rounds: int | None = Field(None, ge=1, le=100_000)
    seed: int = Field(0, ge=0, le=SEED_MAX)  # the engine's range (check_seed)
    record: bool = Field(True, description="Record the run in the run store.")


class JobRequest(RunRequest):
    """A job: a run (as ``POST /api/run``) or a sweep of ``runs`` members."""

    kind: Literal["run", "sweep"] = "run"
    runs: int = Field(200, ge=1, le=SWEEP_RUNS_MAX, description="Members of a sweep.")


class ValidateRequest(BaseModel):
    yaml: str = Field(max_length=MAX_UPLOAD)


def _scenario(request: Request, body: RunRequest) -> tuple[Any, str]:
    from ..api import DEFAULT_SCENARIO
    from ..scenario.yaml_io import loads_scenario

    state = state_of(request)
    if body.scenario_yaml is not None:
        scn, source = loads_scenario(body.scenario_yaml, "scenario.yaml"), "api:yaml"
    else:
        name = body.scenario or DEFAULT_SCENARIO
        scn, source = state.scenario_file(library_path(state, name)), name
    state.limits.check_size(scn, "scenario.yaml" if body.scenario_yaml is not None else None)
    return scn, source


def _start(request: Request, body: JobRequest | RunRequest) -> Job:
    scn, source = _scenario(request, body)
    levers = [lv.id for lv in scn.levers] if body.levers == "all" else list(body.levers)
    plans = [p.id for p in scn.plans] if body.plans == "all" else list(body.plans)
    state = state_of(request)
    if isinstance(body, JobRequest) and body.kind == "sweep":
        return submit_sweep(state, scn, list(body.models), levers, plans, body.runs, body.seed,
                            source)
    job = submit_run(state, scn, list(body.models), levers, plans, source=source,
                     options=body.options, rounds=body.rounds, seed=body.seed,
                     record=body.record)
    job.scenario = scn  # type: ignore[attr-defined]
    return job


@router.get("/scenarios", tags=["scenarios"])
def api_scenarios(request: Request) -> list[dict[str, Any]]:
    """The scenario library: packaged scenarios and the user's."""
    return library(state_of(request))


@router.get("/scenarios/{name}", tags=["scenarios"])
def api_scenario(request: Request, name: str) -> dict[str, Any]:
    """One library scenario as JSON (the scenario schema)."""
    state = state_of(request)
    scn = state.scenario_file(library_path(state, name))
    return scn.model_dump(mode="json", exclude_none=True)


@router.get("/models", tags=["runs"])
def api_models() -> list[dict[str, Any]]:
    """Every model: name, title, scope and a one-line description."""
    return models_info()


@router.post("/validate", tags=["scenarios"])
def api_validate(request: Request, body: ValidateRequest) -> dict[str, Any]:
    """Validate scenario YAML text: every problem with its line, column and field."""
    from ..scenario.yaml_io import loads_scenario

    try:
        scn = loads_scenario(body.yaml, "scenario.yaml")
        state_of(request).limits.check_size(scn, "scenario.yaml")
    except InputError as exc:
        return {"ok": False, "problems": problems_of(exc)}
    return {"ok": True, "problems": [], "scenario": {"name": scn.metadata.name,
            "actors": len(scn.actors), "issues": len(scn.issues)}}


@router.post("/run", tags=["runs"])
async def api_run(request: Request, body: RunRequest) -> Any:
    """Run models on a scenario and wait; the response is the CLI's JSON run contract plus
    the stored run's id (``run_id``, null when not recorded).  The run is a job: it is
    cancelled if the client disconnects before it ends."""
    from starlette.concurrency import run_in_threadpool

    from ..results import to_document

    job = await wait_for(request, await run_in_threadpool(_start, request, body))
    if not job.done.is_set():
        return Response(status_code=499)
    if not job.finished_ok:
        raise job_error(job)
    doc = await run_in_threadpool(to_document, job.scenario,  # type: ignore[attr-defined]
                                  job.result["results"])
    return {**doc, "run_id": job.result["run_id"]}


@router.post("/jobs", tags=["jobs"], status_code=202)
async def api_job_start(request: Request, body: JobRequest) -> dict[str, Any]:
    """Start a run or sweep without waiting; follow it at ``GET /api/jobs/{id}``.  A job
    nobody asks about for a while is cancelled (its client has gone away)."""
    from starlette.concurrency import run_in_threadpool

    job = await run_in_threadpool(_start, request, body)
    return _describe(request, job)


def _job(request: Request, jid: str) -> Job:
    job = state_of(request).pool.get(jid) if WID_RE.match(jid or "") else None
    if job is None:
        raise HTTPException(404, "no such job")
    return job


def _describe(request: Request, job: Job) -> dict[str, Any]:
    out = job.describe()
    out["queue_position"] = state_of(request).pool.position(job)
    if job.finished_ok and isinstance(job.result, dict):
        out["run_id"] = job.result.get("run_id")
    if job.error is not None:
        out["problems"] = problems_of(job.error)
    return out


@router.get("/jobs/{jid}", tags=["jobs"])
def api_job(request: Request, jid: str) -> dict[str, Any]:
    """A job: state (queued, running, done, failed, cancelled), progress, its run's id."""
    job = _job(request, jid)
    job.touch()
    return _describe(request, job)


@router.post("/jobs/{jid}/cancel", tags=["jobs"])
def api_job_cancel(request: Request, jid: str) -> dict[str, Any]:
    """Cancel a job (its worker process is ended) and answer once it has stopped."""
    job = _job(request, jid)
    state_of(request).pool.cancel(jid)
    job.done.wait(timeout=10)  # a sync route: this waits in a worker thread, not the loop
    return _describe(request, job)


@router.get("/runs", tags=["runs"])
def api_runs(request: Request, limit: int = 100) -> list[dict[str, Any]]:
    """Recorded runs, newest first (their settings; not their documents)."""
    return [r.header() for r in state_of(request).run_listing(max(1, min(limit, 1000)))]


@router.get("/runs/{rid}", tags=["runs"])
def api_run_get(request: Request, rid: str) -> dict[str, Any]:
    """A recorded run: its settings and its document (the JSON run contract); for a sweep,
    each model, lever/plan and issue's member quantiles."""
    from .runs import sweep_table

    check_run_id(rid)
    rec, _, doc = state_of(request).run(rid)
    if rec.kind != "run":
        return {"run": rec.header(), "document": None,
                "members": sweep_table(state_of(request), rid)}
    return {"run": rec.header(), "document": doc}


@router.get("/runs/{a}/compare/{b}", tags=["runs"])
def api_compare(request: Request, a: str, b: str) -> dict[str, Any]:
    """Two recorded runs compared: differing inputs and forecasts side by side."""
    from ..store.compare import compare_runs

    check_run_id(a)
    check_run_id(b)
    with state_of(request).store() as st:
        return compare_runs(st, a, b)


@router.get("/health", tags=["meta"])
def health() -> dict[str, Any]:
    from .. import __version__

    return {"ok": True, "version": __version__}
