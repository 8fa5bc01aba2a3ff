"""Terminal tables for results, lever effects and the model list."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.table import Table

from ..forecast.headline import (CYCLE_MARK, cycle_range, is_baseline, statistic,
                                 strategic_first)
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


# Marks a forecast taken over a cycle whose rounds disagree (see cycle_range).
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


def results_tables(console: Console, scn: Scenario, fc,
                   detail: bool | None = None, calibrated: bool = False) -> None:
    """Per issue: the lever comparison (with levers), then the trajectories (no levers, or
    ``detail``).  ``fc`` is a :class:`stakes.forecast.Forecast`."""
    results = fc.results
    any_levers = any(r.intervention.kind != "baseline" for r in results)
    from ..scenario.review import as_of_notice

    console.print(f"[bold]{scn.metadata.name}[/bold]"
                  + (f" (as of {scn.metadata.as_of})" if scn.metadata.as_of else ""))
    notice = as_of_notice(scn)
    if notice:
        console.print(notice, markup=False, style="yellow")
    if any_levers:
        lever_comparison(console, scn, fc)
        if not detail:
            console.print("[dim]Trajectories: stakes run --detail; JSON: --format json.[/dim]")
            return
    for issue in scn.issues:
        order = {m: k for k, m in enumerate(strategic_first(r.run.model for r in results))}
        rows = sorted([(r, r.run.issue_ids.index(issue.id)) for r in results
                       if issue.id in r.run.issue_ids], key=lambda rd: order[rd[0].run.model])
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
    base_models = [m for m in strategic_first(r.run.model for r in results) if is_baseline(m)]
    if base_models:
        console.print(f"[dim]{', '.join(base_models)}: non-strategic baselines.[/dim]")
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


def lever_comparison(console: Console, scn: Scenario, fc) -> None:
    """Per issue: rows baseline, levers, plans; per model the forecast and its shift
    against the baseline (the assessment's, computed once); and the actors that ended
    elsewhere than in the baseline."""
    results = fc.results
    cycling = False
    models = strategic_first(r.run.model for r in results)
    labels = list(dict.fromkeys(r.intervention.label for r in results))
    for issue in scn.issues:
        cell: dict[tuple[str, str], str] = {}
        movers: dict[str, dict[str, None]] = {}
        for r in results:
            if issue.id not in r.run.issue_ids:
                continue
            d = r.run.issue_ids.index(issue.id)
            f = float(r.run.forecast[d])
            a = fc.get(r.run.model, r.intervention.label, issue.id)
            shift = None if a is None else a.shift
            value = _fmt(f)
            if cycle_range(r.run, d) is not None:
                value, cycling = value + CYCLE_MARK, True
            if r.intervention.kind == "baseline" or shift is None:
                cell[(r.intervention.label, r.run.model)] = value
            else:
                mark = "  ·" if abs(shift) < 5e-3 else f"{shift:+.1f}"
                cell[(r.intervention.label, r.run.model)] = f"{value} {mark:>6}"
                lever_set = set(a.split.by_lever) if a is not None and a.split else set()
                for who in r.moved_vs_baseline or []:
                    # * marks an actor the lever itself moves, not bargaining
                    name = who + ("*" if who in lever_set else "")
                    movers.setdefault(r.intervention.label, {})[name] = None
        if not cell:
            continue
        t = Table(title=_issue_title(issue), title_justify="left")
        t.add_column("lever / plan")
        for m in models:
            t.add_column(f"{m} (baseline)" if is_baseline(m) else m, justify="right")
        t.add_column("actors moved vs baseline (*: by the lever)")
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


def lever_effects(fc) -> list[dict[str, Any]]:
    """Per issue, model and intervention: forecast, shift against the baseline, movers, and
    the assessment's interval, verdict, imposed/bargained split and flags."""
    out = []
    for a in fc.assessments:
        f = float(a.result.run.forecast[a.result.run.issue_ids.index(a.issue)])
        doc = a.as_dict()
        out.append({
            "issue": a.issue, "model": a.model, "lever": doc["lever"], "plan": doc["plan"],
            "forecast": None if math.isnan(f) else f,
            "shift": None if a.shift is None or math.isnan(a.shift) else a.shift,
            "moved": list(a.result.moved),
            **{k: doc[k] for k in ("statistic", "effect", "effect_verdict", "imposed",
                                   "bargained", "flags")},
        })
    return out


def lever_ranking(console: Console, fc) -> None:
    """Per lever and plan: every (issue, model) it moves, ranked by the size of the effect."""
    th = fc.thresholds
    order = {m: k for k, m in enumerate(fc.models)}
    rows = [a for a in fc.assessments if a.intervention.kind != "baseline"]
    labels = list(dict.fromkeys(a.intervention.label for a in rows))
    fmt = "  {:<21} {:<12} {:>14} {:>17}  {:<10} {}"
    quiet = []
    for label in labels:
        moved = [a for a in rows if a.intervention.label == label and a.moves(th.zero)]
        iv0 = next(a.intervention for a in rows if a.intervention.label == label)
        if not moved:
            quiet.append(iv0.id)
            continue
        moved.sort(key=lambda a: (-abs(a.shift or 0.0), order.get(a.model, 99)))
        issues = len({a.issue for a in moved})
        console.print(f"{iv0.id} ({iv0.kind}): moves {issues} issue{'s' * (issues != 1)}",
                      style="bold", markup=False, highlight=False)
        console.print(fmt.format("issue", "model", "effect", f"{th.level:.0%} interval",
                                 "verdict", "flags"), style="dim", markup=False,
                      highlight=False)
        for a in moved:
            model = a.model + ("*" if is_baseline(a.model) else "")
            console.print(fmt.format(a.issue[:21], model[:12], a.shift_text(),
                                     _span(a.effect, True), a.effect_verdict or "—",
                                     ", ".join(a.flags)), markup=False, highlight=False)
    if quiet:
        _wrap(console, f"No effect on any forecast (beyond {th.zero:.0%} of the scale): "
              + ", ".join(quiet), indent="  ")
    _wrap(console, "* non-strategic baseline. Effects are paired: the lever's members minus "
          f"the baseline's (the same {max(fc.members.values(), default=0)} members).")


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


# --------------------------------------------------------------------------
# The default output of ``stakes run``: one line per issue, one block per lever (100 columns)


def _num(v: float | None, signed: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return f"{v:+.2f}" if signed else f"{v:.2f}"


def _span(iv, signed: bool = False) -> str:
    return "—" if iv is None else f"{_num(iv.lo, signed)} … {_num(iv.hi, signed)}"


def _pivot(names: list[str]) -> str:
    return "—" if not names else names[0] + (f" +{len(names) - 1}" if len(names) > 1 else "")


def _wrap(console: Console, text: str, indent: str = "") -> None:
    import textwrap

    for line in textwrap.wrap(text, width=100, subsequent_indent=indent,
                              break_on_hyphens=False):
        console.print(line, markup=False, highlight=False)


def forecast_summary(console: Console, fc) -> None:
    """The headline model's forecast per issue, then each lever's and plan's effects."""
    from ..scenario.review import as_of_notice

    scn = fc.scenario
    console.print(f"[bold]{scn.metadata.name}[/bold]"
                  + (f" (as of {scn.metadata.as_of})" if scn.metadata.as_of else ""))
    notice = as_of_notice(scn)
    if notice:
        console.print(notice, markup=False, style="yellow")
    models = fc.models
    if not models:
        return
    head = models[0]
    th = fc.thresholds
    n = fc.members.get(head, 0)
    kind = "baseline" if is_baseline(head) else "headline"
    run0 = next(r.run for r in fc.results if r.run.model == head)
    from ..models import BATCHED
    from ..forecast.trust import DEFAULT_MEMBERS
    from ..forecast.pivot import rule_of

    fewer = (f" (fewer than {DEFAULT_MEMBERS}: this scenario's EUM runs are large; "
             "--members N to choose)" if 0 < n < DEFAULT_MEMBERS and fc.auto else "")
    _wrap(console, f"Forecast ({kind}): {statistic(head, run0.options)}. "
          + (f"{th.level:.0%} interval of {n} members drawn from the scenario's uncertainty "
             f"(seed {fc.seed}){fewer}; fragile: interval wider than {th.fragile_width:.0%} "
             "of the scale or not holding the forecast." if n else
             f"No ensemble: no intervals ({head} runs one member at a time; --slow-members N "
             "draws N)." if head not in BATCHED else "No ensemble (--members 0): no intervals."))
    row = "{:<22} {:>12} {:>8} {:>17}  {:<10} {}"
    console.print(row.format("issue", "forecast", "median", f"{th.level:.0%} interval",
                             "verdict", "pivot"), style="bold", markup=False, highlight=False)
    base_rows = fc.rows(head, "baseline")
    for a in base_rows:
        iv = a.forecast
        console.print(row.format(a.issue[:22], a.headline.text(),
                                 _num(iv.median) if iv else "—", _span(iv),
                                 a.verdict or "—", _pivot(a.pivot)),
                      markup=False, highlight=False)
    unmoved = [a.issue for a in base_rows if a.unmoved(th.zero)]
    if unmoved:
        rule = {"median": "the capability × salience weighted median of the positions as "
                "stated", "mean": "the capability × salience weighted mean of the positions "
                "as stated"}.get(rule_of(head, run0.options), "what its rule gives the "
                                 "positions as stated")
        _wrap(console, f"Bargaining moved {head}'s forecast less than {th.zero:.0%} of the "
              f"scale from where it starts, {rule}, on {len(unmoved)} of {len(base_rows)} "
              "issues: " + ", ".join(unmoved) + ".")
    levers = fc.rows(head, "lever")
    if levers:
        console.print()
        console.print(f"Levers and plans: shift of {head}'s forecast against the baseline "
                      "(paired: the same members)", style="bold", markup=False)
        eff = "  {:<22} {:>14} {:>8} {:>17}  {:<10} {}"
        console.print(eff.format("issue", "effect", "median", f"{th.level:.0%} interval",
                                 "verdict", "flags"), style="bold", markup=False,
                      highlight=False)
        labels = list(dict.fromkeys(a.intervention.label for a in levers))
        quiet = []
        for label in labels:
            rows = [a for a in levers if a.intervention.label == label and a.moves(th.zero)]
            iv0 = rows[0].intervention if rows else next(
                a.intervention for a in levers if a.intervention.label == label)
            if not rows:
                quiet.append(iv0.id)
                continue
            rows.sort(key=lambda a: -abs(a.effect.median if a.effect else a.shift or 0.0))
            console.print(f"{iv0.id} ({iv0.kind})", style="bold", markup=False,
                          highlight=False)
            for a in rows:
                e = a.effect
                console.print(eff.format(a.issue[:22], a.shift_text(),
                                         _num(e.median, True) if e else "—",
                                         _span(e, True), a.effect_verdict or "—",
                                         ", ".join(a.flags)),
                              markup=False, highlight=False)
        if quiet:
            _wrap(console, f"No effect on {head} (beyond {th.zero:.0%} of the scale): "
                  + ", ".join(quiet), indent="  ")
    others = [m for m in models if m != head]
    notes = []
    if any(a.headline.cycle is not None for a in fc.assessments if a.model == head):
        notes.append(f"{CYCLE_MARK}: the run ends in a cycle whose rounds disagree; its range "
                     "is shown, not a forecast.")
    if levers:
        notes.append("Flags: mechanical = bargaining adds nothing to what the lever imposes; "
                     "overshoot = the forecast moves further than the lever moved any actor; "
                     "spillover = a joint model moves an issue the lever does not touch.")
    if others:
        notes.append("Other models (" + ", ".join(
            m + (" baseline" if is_baseline(m) else "") for m in others)
            + "): stakes run --detail or --format json.")
    notes.append("Why a forecast came out as it did: stakes explain ISSUE.")
    for note in notes:
        _wrap(console, note)


def explanation_table(console: Console, ex, limit: int = 20) -> None:
    """The narrative of an explanation, then its actors: start -> end, weight, contribution."""
    for line in ex.narrative():
        _wrap(console, line, indent="  ")
    console.print()
    row = "{:<22} {:>8} {:>8} {:>7} {:>13} {:>7}"
    how = "shapley" if ex.contribution_method == "shapley" else "leave-one-out"
    console.print(row.format("actor", "start", "end", "weight", how, "events"), style="bold",
                  markup=False, highlight=False)
    for a in ex.actors[:limit]:
        console.print(row.format(a.actor[:22], _num(a.start), _num(a.end), f"{a.weight:.0%}",
                                 _num(a.contribution, True), a.events),
                      markup=False, highlight=False)
    if len(ex.actors) > limit:
        console.print(f"... {len(ex.actors) - limit} more actors (--format json)",
                      markup=False)
