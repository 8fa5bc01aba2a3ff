"""Runs and sweeps: start them as jobs, follow and cancel them, read what was recorded.

A run started from the browser is a job (:mod:`stakes.web.jobs`).  With
JavaScript the run form posts through htmx and gets a progress panel that
polls the job and is replaced by the results; without JavaScript the form
posts normally and the browser is sent to the job's page, which reloads
itself (a ``meta refresh``) until the run is recorded and then goes to the
run's page.  Either way the polling is what keeps a job alive: a job nobody
asks about for ``abandon_seconds`` is cancelled.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..errors import OptionError, StakesError
from .common import (check_models, check_run_id, job_error, page, problems_of, read_form,
                     state_of, submit_run)
from .jobs import Job, JobContext
from .state import State, WID_RE

router = APIRouter(include_in_schema=False)
SWEEP_RUNS_MAX = 5000
#: Members per plan of a plan search started here (each plan costs one run per member).
ADVISE_MEMBERS_MAX = 1000
#: Goals of one plan search.
ADVISE_GOALS_MAX = 5


def issue_charts(scn: Any, document: dict[str, Any], issue_id: str) -> tuple[list[Any], list[str]]:
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
    """Forecasts side by side: rows issue x model, columns baseline then each lever / plan.

    Each cell is (forecast, shift from baseline, stop reason, the forecast's cycle range
    and the shift's as text, or None where no cycle leaves them undefined).
    """
    from ..forecast.headline import range_text
    from ..report.build import forecast_table

    df = forecast_table(scn, document)
    columns = list(dict.fromkeys(df["intervention"])) if len(df) else []
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for r in df.itertuples(index=False):
        rows.setdefault((r.issue, r.model), {})[r.intervention] = (
            r.forecast, r.shift, r.stop, range_text(r.cycle) if r.cycle else None,
            range_text(r.shift_range, signed=True) if r.shift_range else None)
    names = {i.id: i.name for i in scn.issues}
    stops: dict[str, int] = {}
    for v in rows.values():
        for cell in v.values():
            stops[str(cell[2])] = stops.get(str(cell[2]), 0) + 1
    return {"columns": columns, "stops": stops,
            "rows": [{"issue": k[0], "issue_name": names.get(k[0], k[0]), "model": k[1],
                      "cells": [v.get(c) for c in columns]} for k, v in rows.items()]}


def run_view(state: State, rid: str, issue: str | None) -> dict[str, Any]:
    """What a run's page shows (cached: a recorded run does not change)."""
    check_run_id(rid)
    rec, scn, doc = state.run(rid)
    if rec.kind != "run":
        return {"rec": rec, "scn": scn, "kind": rec.kind}
    ids = [i.id for i in scn.issues]
    issue = issue if issue in ids else ids[0]

    def build() -> dict[str, Any]:
        charts, notes = issue_charts(scn, doc, issue)
        figs = [{"key": c.key, "section": c.section, "json": c.figure.to_json()}
                for c in charts]
        from ..forecast.explain import why
        from ..forecast.view import trust_view

        return {"figs": figs, "notes": notes, "table": comparison_table(scn, doc),
                "trust": trust_view(scn, doc),
                "why": why(scn, issue, rec.models, options=rec.options, rounds=rec.rounds,
                           seed=rec.seed)}

    view = state.view((rec.id, issue), build) if rec.status == "complete" else build()
    return dict(rec=rec, scn=scn, issue=issue, kind="run", title=f"Run {rec.id}", **view)


# -- starting and following runs ---------------------------------------------


def _run_form(form: Any) -> tuple[list[str], list[str], list[str], int]:
    models = [str(m) for m in form.getlist("model")]
    levers = [str(x) for x in form.getlist("lever")]
    plans = [str(x) for x in form.getlist("plan")]
    from ..engine import SEED_MAX

    raw = str(form.get("seed", "0") or "0").strip()
    # The engine's seed range (stakes.engine.check_seed); the length test comes first so
    # that a 5,000-digit string is never converted.
    if not (raw.isdigit() and len(raw) <= len(str(SEED_MAX)) and int(raw) <= SEED_MAX):
        raise OptionError(f"seed: expected a whole number from 0 to {SEED_MAX}")
    return models, levers, plans, int(raw)


def _count(form: Any, field: str, most: int, default: int = 200) -> int:
    """A whole-number form field (members, runs), its length checked before converting."""
    raw = str(form.get(field, str(default)) or str(default)).strip()
    if not (raw.isdigit() and len(raw) <= 6):
        raise OptionError(f"{field}: expected a whole number from 1 to {most}")
    return int(raw)


@router.post("/w/{wid}/run", response_class=HTMLResponse)
async def web_run(request: Request, wid: str) -> Response:
    state = state_of(request)
    ws = state.workspace(wid)
    form = await read_form(request)
    try:
        models, levers, plans, seed = _run_form(form)
        job = submit_run(state, ws.scenario, models, levers, plans, source=ws.source, seed=seed)
    except StakesError as exc:
        if request.headers.get("hx-request"):
            return page(request, "_problems.html", 200, problems=problems_of(exc))
        return form_error(request, ws, "run", exc, form)
    job.workspace = ws.id  # type: ignore[attr-defined]
    if request.headers.get("hx-request"):
        return page(request, "_job.html", 202, job=job, position=state.pool.position(job))
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


FIELDS = ("seed", "runs", "model", "lever", "plan", "goal", "members")


def form_error(request: Request, ws: Any, form: str, exc: StakesError,
               sent: Any = None) -> Response:
    """The scenario's page again, each problem under the field of the form it concerns."""
    from .common import models_info

    errors: dict[str, list[str]] = {}
    for p in problems_of(exc):
        msg = p["message"]
        head = msg.split(":", 1)[0].strip()
        field = head if head in FIELDS else next(
            (f for f in ("model", "lever", "plan") if f in msg.split("(")[0]), "")
        errors.setdefault(f"{form}:{field}", []).append(msg)
    return page(request, "workspace.html", getattr(exc, "status", 400), ws=ws, scn=ws.scenario,
                title=ws.scenario.metadata.name, models=models_info(),
                default_models=("eum", "compromise", "median"),
                ferr=lambda name: errors.get(name, []),
                sent={f"{form}:{k}": str(v) for k, v in (sent.items() if sent else [])
                      if k in ("seed", "runs", "goal", "members")})


def _job(state: State, jid: str) -> Job:
    job = state.pool.get(jid) if WID_RE.match(jid or "") else None
    if job is None:
        raise HTTPException(404, "no such job (finished jobs are kept for a while only)")
    return job


@router.get("/jobs/{jid}", response_class=HTMLResponse)
def job_page(request: Request, jid: str) -> Response:
    state = state_of(request)
    job = _job(state, jid)
    job.touch()
    fragment = bool(request.headers.get("hx-request"))
    if job.active:
        return page(request, "_job.html" if fragment else "job.html", job=job,
                    position=state.pool.position(job), title=job.title)
    if job.finished_ok:
        rid = job.result.get("run_id") if isinstance(job.result, dict) else None
        if rid is None:
            raise HTTPException(404, "the job recorded nothing")
        if fragment and job.kind == "advise":  # a whole page: htmx goes there
            return Response(status_code=200, headers={"HX-Redirect": f"/runs/{rid}"})
        if fragment:
            return page(request, "_run.html", **run_view(state, rid, None))
        return RedirectResponse(f"/runs/{rid}", status_code=303)
    err = job_error(job)
    if fragment:
        return page(request, "_problems.html", 200, problems=problems_of(err))
    return page(request, "job.html", getattr(err, "status", 400), job=job, position=0,
                title=job.title, problems=problems_of(err))


@router.post("/jobs/{jid}/cancel", response_class=HTMLResponse)
async def job_cancel(request: Request, jid: str) -> Response:
    state = state_of(request)
    await read_form(request)
    job = _job(state, jid)
    state.pool.cancel(jid)
    if request.headers.get("hx-request"):
        import asyncio

        for _ in range(100):  # the worker is ended at its next look (every 50 ms)
            if job.done.is_set():
                break
            await asyncio.sleep(0.05)
        return page(request, "_problems.html", 200,
                    problems=[{"message": "Run cancelled.", "field": None}])
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


# -- sweeps --------------------------------------------------------------------


def submit_sweep(state: State, scn: Any, models: list[str], levers: list[str],
                 plans: list[str], runs: int, seed: int, source: str) -> Job:
    """Queue an ensemble (as ``stakes sweep --save``), recorded here when it is done."""
    from ..engine import interventions_for

    check_models(models)
    state.limits.check_size(scn)
    ivs = interventions_for(scn, levers, plans)
    if not 1 <= runs <= SWEEP_RUNS_MAX:
        raise OptionError(f"runs: expected 1 to {SWEEP_RUNS_MAX}")

    def driver(ctx: JobContext) -> dict[str, Any]:
        from ..store import write_shard

        ctx.progress(0, runs, "members")
        summary, frame = ctx.call("sweep", {"scenario": scn, "models": models, "levers": levers,
                                            "plans": plans, "runs": runs, "seed": seed})
        ctx.progress(runs, runs, "recording")
        spec = {"job": "ensemble", "shard_kind": "forecasts", "runs": runs,
                "chunk_size": runs, "cluster": None, "seed": seed, "rounds": None}
        with state.store() as st:
            rid = st.begin_job(scn, kind="ensemble", spec=spec, n_chunks=1, source=source,
                               command="stakes serve", models=models,
                               interventions=[iv.label for iv in ivs], options={}, seed=seed,
                               rounds=None)
            write_shard(st, rid, "forecasts", 0, frame)
            st.finish_job(rid)
        state.forget_listing()
        return {"run_id": rid, "summary": summary}

    return state.pool.submit("sweep", f"sweep of {scn.metadata.name}: {runs} runs", driver)


@router.post("/w/{wid}/sweep", response_class=HTMLResponse)
async def web_sweep(request: Request, wid: str) -> Response:
    state = state_of(request)
    ws = state.workspace(wid)
    form = await read_form(request)
    try:
        models, levers, plans, seed = _run_form(form)
        runs = _count(form, "runs", SWEEP_RUNS_MAX)
        job = submit_sweep(state, ws.scenario, models, levers, plans, runs, seed, ws.source)
    except StakesError as exc:
        return form_error(request, ws, "sweep", exc, form)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


# -- plan search ---------------------------------------------------------------


def submit_advise(state: State, scn: Any, goals: list[str], model: str, members: int,
                  seed: int, source: str) -> Job:
    """Queue a plan search (as ``stakes advise``), recorded here when it is done."""
    from ..analysis.advise import parse_goal

    check_models([model])
    state.limits.check_size(scn)
    if not goals:
        raise OptionError("goal: give a goal such as settlements>=50")
    if len(goals) > ADVISE_GOALS_MAX:
        raise OptionError(f"goal: at most {ADVISE_GOALS_MAX} goals")
    for g in goals:  # refused here, with its reason, before any work
        try:
            parse_goal(g, scn)
        except OptionError as exc:
            raise OptionError(f"goal: {g}: {str(exc).split(': ', 1)[-1]}") from None
    if not scn.levers:
        raise OptionError("the scenario has no levers to search")
    if not 1 <= members <= ADVISE_MEMBERS_MAX:
        raise OptionError(f"members: expected 1 to {ADVISE_MEMBERS_MAX}")

    def driver(ctx: JobContext) -> dict[str, Any]:
        ctx.progress(0, 1, "plans")
        doc = ctx.call("advise", {"scenario": scn, "goals": goals, "model": model,
                                  "members": members, "seed": seed})
        ctx.progress(1, 1, "recording")
        with state.store() as st:
            rid = st.record_document(scn, doc, kind="advice", models=[model],
                                     interventions=[f"lever:{lv}" for lv in
                                                    doc["levers_searched"]],
                                     options={}, seed=seed, source=source,
                                     command="stakes serve", seconds=doc["seconds"],
                                     spec={"goals": goals, "members": members})
        state.forget_listing()
        return {"run_id": rid}

    return state.pool.submit("advise", f"plan search on {scn.metadata.name}: "
                             f"{', '.join(goals)}", driver)


@router.post("/w/{wid}/advise", response_class=HTMLResponse)
async def web_advise(request: Request, wid: str) -> Response:
    state = state_of(request)
    ws = state.workspace(wid)
    form = await read_form(request)
    try:
        goals = [g.strip() for g in str(form.get("goal", "") or "").split(",") if g.strip()]
        model = str(form.get("model", "eum") or "eum")
        members = _count(form, "members", ADVISE_MEMBERS_MAX)
        _, _, _, seed = _run_form(form)
        job = submit_advise(state, ws.scenario, goals, model, members, seed, ws.source)
    except StakesError as exc:
        return form_error(request, ws, "advise", exc, form)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


def advice_page(state: State, rid: str) -> str:
    """A recorded plan search as the report page, with the app's own scripts and styles."""
    from ..report.advice import render_advice_html

    rec, _, doc = state.run(rid)
    return state.view((rec.id, "advice"), lambda: render_advice_html(
        rec.scenario_name, doc, rec.header(), plotly_src="/static-lib/plotly.min.js",
        asset_base="/static-lib"))


def sweep_table(state: State, rid: str) -> list[dict[str, Any]]:
    """Each (model, lever/plan, issue): nominal-free summary of the recorded members."""
    from ..store import read_shards

    def build() -> list[dict[str, Any]]:
        with state.store() as st:
            rec = st.get(rid)
            kind = (rec.spec or {}).get("shard_kind") or "forecasts"
            frame = read_shards(st, rec.id, kind)
        if not len(frame):
            return []
        value = "forecast" if "forecast" in frame.columns else frame.columns[-1]
        if "round" in frame.columns:  # per-round rows: keep each member's last round
            frame = frame.sort_values("round").groupby(
                ["member", "model", "intervention", "issue"], as_index=False).last()
        g = frame.groupby(["model", "intervention", "issue"], sort=False)[value]
        out = g.quantile([0.05, 0.5, 0.95]).unstack()
        means = g.mean()
        counts = g.count()
        rows = [{"model": k[0], "intervention": k[1], "issue": k[2], "members": int(counts[k]),
                 "mean": float(means[k]), "p05": float(row[0.05]), "p50": float(row[0.5]),
                 "p95": float(row[0.95])} for k, row in out.iterrows()]
        return rows + _effects(frame, value)

    rec, _, _ = state.run(rid)
    if rec.status != "complete":
        return build()
    return state.view((rid, "sweep"), build)


def _effects(frame: Any, value: str) -> list[dict[str, Any]]:
    """Each lever's and plan's effect: member-wise differences from the baseline (the same
    draws), their median and 5–95% range, and the verdict of ``stakes sweep``: the
    effect exceeds the noise when that range excludes 0."""
    wide = frame.pivot_table(index=["member", "model", "issue"], columns="intervention",
                             values=value)
    if "baseline" not in wide.columns:
        return []
    out = []
    for iv in [c for c in wide.columns if c != "baseline"]:
        d = (wide[iv] - wide["baseline"]).dropna()
        for (model, issue), x in d.groupby(level=["model", "issue"], sort=False):
            lo, mid, hi = x.quantile([0.05, 0.5, 0.95])
            out.append({"model": model, "intervention": iv, "issue": issue, "effect": True,
                        "members": int(len(x)), "mean": float(x.mean()), "p05": float(lo),
                        "p50": float(mid), "p95": float(hi),
                        "verdict": "moves the forecast" if lo > 0 or hi < 0
                        else "within the noise"})
    return out


# -- recorded runs -------------------------------------------------------------


@router.get("/runs", response_class=HTMLResponse)
def runs(request: Request) -> Response:
    return page(request, "runs.html", recs=state_of(request).run_listing(), title="Run history")


@router.get("/runs/compare", response_class=HTMLResponse)
def compare(request: Request, a: str = "", b: str = "") -> Response:
    from ..store.compare import compare_runs

    if not a or not b:
        raise HTTPException(400, "choose two runs to compare")
    check_run_id(a)
    check_run_id(b)
    with state_of(request).store() as st:
        cmp = compare_runs(st, a, b)
    return page(request, "compare.html", cmp=cmp, title=f"Runs {a} and {b}")


@router.get("/runs/{rid}", response_class=HTMLResponse)
def run_page(request: Request, rid: str, issue: str | None = None) -> Response:
    state = state_of(request)
    fragment = bool(request.headers.get("hx-request")) and bool(
        request.headers.get("hx-target") == "results")
    view = run_view(state, rid, issue)
    if view["kind"] == "advice":
        return HTMLResponse(advice_page(state, rid))
    if view["kind"] != "run":
        rec, scn = view["rec"], view["scn"]
        table = sweep_table(state, rid)
        return page(request, "sweep.html", rec=rec, scn=scn,
                    rows=[r for r in table if not r.get("effect")],
                    effects=[r for r in table if r.get("effect")], title=f"Sweep {rec.id}")
    return page(request, "_run.html" if fragment else "run.html", **view)


@router.get("/runs/{rid}/run.json")
def run_json(request: Request, rid: str) -> Response:
    check_run_id(rid)
    rec, _, doc = state_of(request).run(rid)
    body: Any = doc if rec.kind == "run" else {"run": rec.header(),
                                               "members": sweep_table(state_of(request), rid)}
    return Response(json.dumps(body, indent=2, allow_nan=False), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="run-{rec.id}.json"'})


@router.get("/runs/{rid}/history.csv")
def run_csv(request: Request, rid: str) -> Response:
    check_run_id(rid)
    with state_of(request).store() as st:
        frame = st.history(rid)
    buf = io.StringIO()
    # every text cell is an id or a model name (no formulas can slip in)
    frame.to_csv(buf, index=False, quoting=csv.QUOTE_MINIMAL)
    return Response(buf.getvalue(), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="run-{rid}.csv"'})


@router.get("/runs/{rid}/report", response_class=HTMLResponse)
def run_report_page(request: Request, rid: str) -> Response:
    """The run's report, in the browser: the report's page with the app's own copies of
    plotly.js and of the report's script and styles (so the strict CSP holds)."""
    from ..report import render_html, report_for_run

    check_run_id(rid)
    state = state_of(request)

    def build() -> str:
        with state.store() as st:
            rep = report_for_run(st, rid)
        return render_html(rep, plotly_src="/static-lib/plotly.min.js", asset_base="/static-lib")

    rec, _, _ = state.run(rid)
    html = state.view((rec.id, "report"), build) if rec.status == "complete" else build()
    return HTMLResponse(html)


@router.get("/runs/{rid}/report.html")
def run_report(request: Request, rid: str) -> Response:
    from ..report import render_html, report_for_run

    check_run_id(rid)
    with state_of(request).store() as st:
        rep = report_for_run(st, rid)
    return Response(render_html(rep), media_type="text/html",
                    headers={"Content-Disposition":
                             f'attachment; filename="report-{rid}.html"'})
