"""Terminal tables for results, lever effects and the model list."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.table import Table

from ..engine import Result
from ..results import baseline_forecasts
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


def cycle_range(run, d: int) -> tuple[float, float] | None:
    """Lowest and highest forecast over the rounds of the cycle a run ended in, when they
    differ: the reported forecast (e.g. a cycle mean) is then no round's forecast."""
    length = run.info.get("cycle_length") if run.stop == "cycle" else None
    if not length:
        return None
    values = [float(rec.forecast[d]) for rec in run.rounds[-int(length):]]
    lo, hi = min(values), max(values)
    return (lo, hi) if hi - lo > 5e-3 else None


# Marks a forecast taken over a cycle whose rounds disagree (see cycle_range).
CYCLE_MARK = "↻"
CYCLE_NOTE = (f"{CYCLE_MARK}: the run ends in a cycle whose rounds disagree; the forecast is no "
              "round's forecast\n   (stakes run --detail shows the cycle's range)")


def _issue_title(issue) -> str:
    sc = issue.scale
    ends = f"{_fmt(sc.min)} = {sc.min_label or 'min'} … {_fmt(sc.max)} = {sc.max_label or 'max'}"
    sq = f"; status quo {_fmt(issue.status_quo.value)}" if issue.status_quo else ""
    who = (f"; decided by {', '.join(m.actor for m in issue.arena.authority)}"
           if issue.arena is not None else "")
    return f"[bold]{issue.name}[/bold] [dim]({issue.id}; {ends}{sq}{who})[/dim]"


def _short_list(names: list[str], limit: int = 5) -> str:
    return ", ".join(names[:limit]) + (f" +{len(names) - limit}" if len(names) > limit else "")


def results_tables(console: Console, scn: Scenario, results: list[Result],
                   detail: bool | None = None, calibrated: bool = False) -> None:
    """Per issue: the trajectories (no levers, or ``detail``), else the lever comparison."""
    any_levers = any(r.intervention.kind != "baseline" for r in results)
    from ..scenario.review import as_of_notice

    console.print(f"[bold]{scn.metadata.name}[/bold]"
                  + (f" (as of {scn.metadata.as_of})" if scn.metadata.as_of else ""))
    notice = as_of_notice(scn)
    if notice:
        console.print(notice, markup=False, style="yellow")
    if any_levers and not detail:
        lever_comparison(console, scn, results)
        console.print("[dim]Trajectories: stakes run --detail; JSON: --format json.[/dim]")
        return
    for issue in scn.issues:
        rows = [(r, r.run.issue_ids.index(issue.id)) for r in results
                if issue.id in r.run.issue_ids]
        if not rows:
            continue
        t = Table(title=_issue_title(issue), title_justify="left")
        t.add_column("model")
        if any_levers:
            t.add_column("lever / plan")
        t.add_column("forecast", justify="right")
        if calibrated:
            t.add_column("80% interval*", justify="right")
        t.add_column("stop")
        t.add_column("trajectory (forecast by round)")
        t.add_column("moved")
        for r, d in rows:
            traj = _trajectory([float(rec.forecast[d]) for rec in r.run.rounds])
            cells = [r.run.model]
            if any_levers:
                cells.append(r.intervention.label)
            stop = r.run.stop
            if r.run.info.get("cycle_length"):
                stop += f" ({r.run.info['cycle_length']})"
            forecast = _fmt(float(r.run.forecast[d]))
            rng = cycle_range(r.run, d)
            if rng is not None:
                forecast += f" (cycle {_fmt(rng[0])}–{_fmt(rng[1])})"
            cells.append(forecast)
            if calibrated:
                cells.append(_calibrated(scn, issue.id, r.run.model, float(r.run.forecast[d])))
            cells += [stop, traj, _short_list(r.moved)]
            t.add_row(*cells)
        console.print(t)
    if calibrated:
        console.print("[dim]* 80% interval (the shortest holding 80%) from the model's error on EU legislative "
                      "bargaining (DEU III, out of fold: docs/backtest.md); it assumes this "
                      "scenario's model errors are like those.[/dim]")


def _calibrated(scn: Scenario, issue_id: str, model: str, forecast: float) -> str:
    from ..backtest.distribution import (load_calibration, scale_interval,
                                         scenario_issue_distribution)

    values, p, em = scenario_issue_distribution(load_calibration(), scn, issue_id, model,
                                                forecast)
    lo, hi = scale_interval(values, p, em, 0.8)
    return f"{_fmt(lo)}–{_fmt(hi)}"


def lever_comparison(console: Console, scn: Scenario, results: list[Result]) -> None:
    """Per issue: rows baseline, levers, plans; per model the forecast and its shift
    against the baseline; and the actors that ended elsewhere than in the baseline."""
    base = baseline_forecasts(results)
    cycling = False
    models = list(dict.fromkeys(r.run.model for r in results))
    labels = list(dict.fromkeys(r.intervention.label for r in results))
    for issue in scn.issues:
        cell: dict[tuple[str, str], str] = {}
        movers: dict[str, dict[str, None]] = {}
        for r in results:
            if issue.id not in r.run.issue_ids:
                continue
            d = r.run.issue_ids.index(issue.id)
            f = float(r.run.forecast[d])
            b = base.get((r.run.model, issue.id))
            value = _fmt(f)
            if cycle_range(r.run, d) is not None:
                value, cycling = value + CYCLE_MARK, True
            if r.intervention.kind == "baseline" or b is None:
                cell[(r.intervention.label, r.run.model)] = value
            else:
                shift = f - b
                mark = "  ·" if abs(shift) < 5e-3 else f"{shift:+.1f}"
                cell[(r.intervention.label, r.run.model)] = f"{value} {mark:>6}"
                for a in r.moved_vs_baseline or []:
                    movers.setdefault(r.intervention.label, {})[a] = None
        if not cell:
            continue
        t = Table(title=_issue_title(issue), title_justify="left")
        t.add_column("lever / plan")
        for m in models:
            t.add_column(m, justify="right")
        t.add_column("actors moved vs baseline")
        for label in labels:
            if not any((label, m) in cell for m in models):
                continue
            title = label.replace(":", " ")
            t.add_row(title, *[cell.get((label, m), "—") for m in models],
                      _short_list(list(movers.get(label, {}))),
                      style="bold" if label == "baseline" else None)
        console.print(t)
    if cycling:
        console.print(f"[dim]{CYCLE_NOTE}[/dim]")


def lever_effects(results: list[Result]) -> list[dict[str, Any]]:
    """Per issue, model and intervention: forecast, shift against the baseline, movers."""
    base = baseline_forecasts(results)
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
