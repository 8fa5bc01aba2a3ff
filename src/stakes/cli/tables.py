"""Terminal tables for results, lever effects and the model list."""

from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np
from rich.console import Console
from rich.table import Table

from ..engine import Result
from ..scenario.schema import Scenario

MAX_TRAJECTORY = 8


def _fmt(v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return f"{v:.2f}"


def _trajectory(values: list[float]) -> str:
    if len(values) <= MAX_TRAJECTORY:
        shown = values
        return " → ".join(_fmt(v) for v in shown)
    head = values[: MAX_TRAJECTORY - 2]
    return " → ".join(_fmt(v) for v in head) + " → … → " + _fmt(values[-1])


def _baseline_forecasts(results: Iterable[Result]) -> dict[tuple[str, str], float]:
    base = {}
    for r in results:
        if r.intervention.kind == "baseline":
            for d, iss in enumerate(r.run.issue_ids):
                base[(r.run.model, iss)] = float(r.run.forecast[d])
    return base


def results_tables(console: Console, scn: Scenario, results: list[Result]) -> None:
    """One table per issue: each model under each intervention, with its trajectory."""
    base = _baseline_forecasts(results)
    any_levers = any(r.intervention.kind != "baseline" for r in results)
    console.print(f"[bold]{scn.metadata.name}[/bold]"
                  + (f" (as of {scn.metadata.as_of})" if scn.metadata.as_of else ""))
    for issue in scn.issues:
        rows = [(r, r.run.issue_ids.index(issue.id)) for r in results
                if issue.id in r.run.issue_ids]
        if not rows:
            continue
        sc = issue.scale
        ends = f"{_fmt(sc.min)} = {sc.min_label or 'min'} … {_fmt(sc.max)} = {sc.max_label or 'max'}"
        sq = f"; status quo {_fmt(issue.status_quo.value)}" if issue.status_quo else ""
        t = Table(title=f"{issue.name} [dim]({issue.id}; {ends}{sq})[/dim]", title_justify="left",
                  show_lines=False)
        t.add_column("model")
        if any_levers:
            t.add_column("lever / plan")
        t.add_column("forecast", justify="right")
        if any_levers:
            t.add_column("shift", justify="right")
        t.add_column("stop")
        t.add_column("trajectory (forecast by round)")
        t.add_column("moved")
        for r, d in rows:
            f = float(r.run.forecast[d])
            traj = _trajectory([float(rec.forecast[d]) for rec in r.run.rounds])
            cells = [r.run.model]
            if any_levers:
                cells.append("baseline" if r.intervention.kind == "baseline"
                             else f"{r.intervention.kind} {r.intervention.id}")
            cells.append(_fmt(f))
            if any_levers:
                b = base.get((r.run.model, issue.id))
                shift = "" if b is None or r.intervention.kind == "baseline" else f"{f - b:+.2f}"
                cells.append(shift)
            stop = r.run.stop
            if r.run.stop == "cycle" and "stop_detail" in r.run.info:
                stop += f" ({r.run.info['stop_detail']})"
            cells += [stop, traj, ", ".join(r.moved[:6]) + (" …" if len(r.moved) > 6 else "")]
            t.add_row(*cells)
        console.print(t)


def lever_effects(results: list[Result]) -> list[dict[str, Any]]:
    """Per issue, model and intervention: forecast, shift against the baseline, movers."""
    base = _baseline_forecasts(results)
    out = []
    for r in results:
        for d, iss in enumerate(r.run.issue_ids):
            f = float(r.run.forecast[d])
            b = base.get((r.run.model, iss))
            out.append({
                "issue": iss, "model": r.run.model,
                "lever": r.intervention.id if r.intervention.kind == "lever" else None,
                "plan": r.intervention.id if r.intervention.kind == "plan" else None,
                "forecast": None if math.isnan(f) else f,
                "shift": None if b is None or math.isnan(f - b) else f - b,
                "moved": list(r.moved),
            })
    return out


def lever_table(console: Console, scn: Scenario, results: list[Result]) -> None:
    """Rows: levers and plans; columns: issue x model shifts against the baseline."""
    base = _baseline_forecasts(results)
    models = list(dict.fromkeys(r.run.model for r in results))
    labels = list(dict.fromkeys(r.intervention.label for r in results))
    shifts: dict[tuple[str, str, str], float] = {}
    for r in results:
        for d, iss in enumerate(r.run.issue_ids):
            b = base.get((r.run.model, iss))
            if b is not None:
                shifts[(r.intervention.label, iss, r.run.model)] = float(r.run.forecast[d]) - b
    for model in models:
        t = Table(title=f"Shift of each forecast against the baseline — model {model}",
                  title_justify="left")
        t.add_column("lever / plan")
        for issue in scn.issues:
            t.add_column(issue.id, justify="right")
        row = ["baseline forecast"] + [_fmt(base.get((model, i.id), float("nan")))
                                       for i in scn.issues]
        t.add_row(*row, style="bold")
        for label in labels:
            if label == "baseline":
                continue
            cells = [label.replace(":", " ")]
            for issue in scn.issues:
                v = shifts.get((label, issue.id, model))
                cells.append("—" if v is None else ("0" if abs(v) < 5e-3 else f"{v:+.2f}"))
            t.add_row(*cells)
        console.print(t)


def models_table(console: Console, models: list) -> None:
    for m in models:
        t = Table(title=f"[bold]{m.name}[/bold] — {m.title} ({m.scope}; "
                  f"{'; '.join(m.references) or 'no reference'})", title_justify="left")
        t.add_column("option")
        t.add_column("default")
        t.add_column("description")
        for k, f in m.Options.model_fields.items():
            t.add_row(k, repr(f.default), f.description or "")
        console.print(t)
