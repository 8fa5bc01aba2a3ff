"""Markdown tables of a scenario page, generated from the scenario file.

A scenario page mixes hand-written prose with tables that restate the file:
actors, issues and every entry with its basis, levers, plans, and the lever
results of the engine.  The tables live between marker comments::

    <!-- generated:start actors -->
    ...
    <!-- generated:end actors -->

and :func:`update_page` replaces what lies between each pair, leaving the rest
of the page alone, so the page cannot drift from the file unnoticed.

Blocks: ``summary`` (the counts of actors, issues, entries, levers, plans),
``dated`` (the date the scenario describes), ``bases`` (values by what their basis
rests on), ``sources``, ``actors``, ``issues`` (with each issue's decision arena and
the capabilities derived from it), ``channels``, ``levers``, ``plans``,
``results`` (the forecasts of :data:`RESULT_MODELS` under the baseline and every
lever and plan, as ``stakes levers`` prints them), ``expectations`` (each
expectation against each model) and ``findings`` (per issue, what can be said:
see :func:`findings_block`).

Regenerate a page (``--check`` only compares, exiting 1 when the page is stale)::

    python -m stakes.report.scenario_doc SCENARIO PAGE.md [--check]
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path
from typing import Callable, Iterable, Sequence

from ..errors import InputError
from ..scenario.arrays import capability_of
from ..scenario.schema import Change, Data, Effect, Evidence, Scenario, basis_kind

RESULT_MODELS = ("eum", "compromise", "median", "smp", "exchange")
#: Joint models whose sensitivity to single actors the ``tipping`` block measures.
JOINT_MODELS = ("smp", "exchange")
#: A baseline shift above this many scale points, when one actor is left out, is reported.
TIP_ABOVE = 10.0
#: Baseline forecasts of all models within this many scale points count as agreeing.
AGREE_WITHIN = 15.0
#: A forecast within this distance of the dominant decider's position restates the arena.
MECHANICAL_WITHIN = 1.0
RESULT_SEED = 0
_MARK = re.compile(r"<!-- generated:(start|end) ([A-Za-z0-9_-]+) -->")


# --- formatting --------------------------------------------------------------


def _num(v: float) -> str:
    return f"{v:g}"


def _cell(text: str) -> str:
    """Table-cell safe: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def basis_text(basis) -> str:
    """A basis as one line of markdown: the quote with its source, or the judgment."""
    if basis is None:
        return "*no basis given*"
    if isinstance(basis, Evidence):
        shows = f" ({basis.shows})" if basis.shows else ""
        out = f"{basis.source}{shows}: “{basis.quote}”"
        return out + (f" — {basis.note}" if basis.note else "")
    if isinstance(basis, Data):
        return f"{basis.source} (data)" + (f" — {basis.note}" if basis.note else "")
    return f"*judgment:* {basis.rationale}"


def _ids(ids: Iterable[str]) -> str:
    return ", ".join(f"`{i}`" for i in ids)


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


# --- blocks from the file ----------------------------------------------------


def _entering(scn: Scenario) -> dict[str, str]:
    """Absent actors -> the first lever that adds them."""
    out: dict[str, str] = {}
    for lv in scn.levers:
        for eff in lv.effects:
            if eff.add_actor and eff.add_actor not in out:
                out[eff.add_actor] = lv.id
    return out


def summary_block(scn: Scenario) -> str:
    absent = [a for a in scn.actors if not a.present]
    enter = _entering(scn)
    present = len(scn.actors) - len(absent)
    how = ""
    if absent:
        names = " and ".join(a.name for a in absent)
        via = sorted({enter[a.id] for a in absent if a.id in enter})
        how = (f" ({present} present at the start; {names} "
               f"{'enter' if len(absent) > 1 else 'enters'}"
               + (f" through {_ids(via)}" if via else " through a lever") + ")")
    return (f"It has **{len(scn.actors)} actors**{how}, **{len(scn.issues)} issues**, "
            f"{len(scn.entries)} actor–issue entries, **{len(scn.levers)} levers** and "
            f"**{len(scn.plans)} plans**.")


def bases_block(scn: Scenario) -> str:
    """How many values rest on what: an actor's statement or conduct, an author's
    description, a judgment (recommendations justify levers only)."""
    from collections import Counter

    from ..scenario.check import valued_fields

    kinds = Counter(basis_kind(v.basis) for _, _, v in valued_fields(scn) if v is not None)
    total = sum(kinds.values())
    names = {"statement": "an actor's own statement", "conduct": "an actor's reported conduct",
             "description": "an author's description of the actor",
             "evidence": "a quote that does not say what it shows", "data": "a data source",
             "judgment": "a judgment naming the fact it rests on", "none": "no basis"}
    parts = [f"{kinds[k]} on {names[k]}" for k in names if kinds.get(k)]
    levers = Counter(basis_kind(e.basis) for lv in scn.levers for e in lv.effects)
    lv_text = ", ".join(f"{n} {k}" for k, n in sorted(levers.items()))
    return (f"Of the {total} capabilities, status quos, positions and saliences, "
            + "; ".join(parts) + f". The {sum(levers.values())} lever effects rest on: "
            f"{lv_text}.")


def sources_block(scn: Scenario) -> str:
    rows = [[f"`{s.id}`", s.title, s.author or "", s.outlet or "", s.date or "",
             f"`{s.file}`" if s.file else ""] for s in scn.metadata.sources]
    return "\n".join(_table(["id", "title", "author", "outlet", "date", "file"], rows))


def actors_block(scn: Scenario) -> str:
    enter = _entering(scn)
    rows = []
    for a in scn.actors:
        who = a.name + (f": {a.description}" if a.description else "")
        if a.present:
            present = "yes"
        elif a.id in enter:
            present = f"**no** (enters via `{enter[a.id]}`)"
        else:
            present = "**no**"
        cap = a.capability
        rows.append([f"`{a.id}`", who, present, _num(cap.value) if cap else "—",
                     basis_text(cap.basis) if cap else ""])
    return "\n".join(_table(["id", "actor", "present", "capability", "basis"], rows))


def _issue_section(scn: Scenario, k: int, issue) -> list[str]:
    sc = issue.scale
    out = [f"### {k}. {issue.name} (`{issue.id}`)", ""]
    if issue.description:
        out += [issue.description, ""]
    lo = f"**{_num(sc.min)}:** {_sentence(sc.min_label)}" if sc.min_label else f"**{_num(sc.min)}**"
    hi = f"**{_num(sc.max)}:** {_sentence(sc.max_label)}" if sc.max_label else f"**{_num(sc.max)}**"
    out.append(f"- {lo} {hi}")
    if sc.unit:
        out.append(f"- **Anchors:** {_sentence(sc.unit)}")
    if issue.status_quo is not None:
        out.append(f"- **Status quo: {_num(issue.status_quo.value)}.** "
                   f"{basis_text(issue.status_quo.basis)}")
    else:
        out.append("- **Status quo:** none given.")
    out.append("")
    out += _arena_lines(scn, issue)
    entries = [e for e in scn.entries if e.issue == issue.id]
    rows, overrides = [], []
    for e in entries:
        actor = scn.actor(e.actor)
        if e.capability is not None:
            overrides.append(f"- `{e.actor}` {_num(e.capability.value)}: "
                             f"{basis_text(e.capability.basis)}")
        here = _num(round(capability_of(scn, e.actor, issue.id), 4))
        if e.capability is not None:
            here = f"**{here}**"
        if not actor.present:
            here += " (absent until added)"
        rows.append([f"`{e.actor}`", _num(e.position.value), _num(e.salience.value), here,
                     basis_text(e.position.basis), basis_text(e.salience.basis)])
    out += _table(["actor", "position", "salience", "capability used", "basis of position",
                   "basis of salience"], rows)
    if overrides:
        out += ["", "Capability set for this issue (bold above):", "", *overrides]
    have = {e.actor for e in entries}
    absent = [a.id for a in scn.actors if a.id not in have]
    if absent:
        out += ["", f"No entry (takes no part in this issue): {_ids(absent)}."]
    return out


def _arena_lines(scn: Scenario, issue) -> list[str]:
    """Who decides the issue, and each listed actor's weight with its basis."""
    arena = issue.arena
    if arena is None:
        return ["Who decides: not stated; every actor's capability counts in full.", ""]
    out = ["**Who decides** (capability used = the actor's capability × its weight here):", ""]
    rows = []
    for role, members in (("authority", arena.authority), ("influence", arena.influence)):
        for m in members:
            w = 1.0 if m.weight is None else m.weight
            rows.append([role, f"`{m.actor}`", _num(w), basis_text(m.basis)])
    rows.append(["others", "every other actor", _num(arena.others), basis_text(arena.basis)])
    return out + _table(["role", "actor", "weight", "basis"], rows) + [""]


def issues_block(scn: Scenario) -> str:
    parts: list[str] = []
    for k, issue in enumerate(scn.issues, 1):
        if parts:
            parts.append("")
        parts += _issue_section(scn, k, issue)
    return "\n".join(parts)


def _change(what: str, ch: Change) -> str:
    if ch.set is not None:
        return f"{what} set {_num(ch.set)}"
    if ch.add is not None:
        return f"{what} add {ch.add:+g}"
    return f"{what} × {_num(ch.scale)}"  # type: ignore[arg-type]


def _effect_row(eff: Effect) -> list[str]:
    if eff.add_actor:
        return [f"add `{eff.add_actor}`", "its issues", "enters the game", basis_text(eff.basis)]
    if eff.remove_actor:
        return [f"remove `{eff.remove_actor}`", "all", "leaves the game", basis_text(eff.basis)]
    changes = [_change(k, getattr(eff, k)) for k in ("position", "salience", "capability")
               if getattr(eff, k) is not None]
    where = _ids(eff.issues) if eff.issues else "all"
    return [f"`{eff.actor}`", where, "; ".join(changes), basis_text(eff.basis)]


def levers_block(scn: Scenario) -> str:
    parts: list[str] = []
    for lv in scn.levers:
        if parts:
            parts.append("")
        parts += [f"### `{lv.id}`: {lv.name}", ""]
        if lv.description:
            parts += [lv.description, ""]
        parts.append(f"- **Proposed in:** {basis_text(lv.basis)}")
        if lv.feasibility is not None:
            parts.append(f"- **Feasibility:** {lv.feasibility}"
                         + (f" — {basis_text(lv.feasibility_basis)}"
                            if lv.feasibility_basis is not None else ""))
        if lv.round:
            parts.append(f"- **Applies before round:** {lv.round}")
        parts.append("")
        parts += _table(["effect", "on issues", "change", "basis"],
                        [_effect_row(e) for e in lv.effects])
    return "\n".join(parts)


def plans_block(scn: Scenario) -> str:
    parts: list[str] = []
    for plan in scn.plans:
        if parts:
            parts.append("")
        parts += [f"### `{plan.id}`: {plan.name}", ""]
        if plan.description:
            parts += [plan.description, ""]
        if plan.basis is not None:
            parts += [f"- **Basis:** {basis_text(plan.basis)}"]
        if plan.feasibility is not None:
            parts += [f"- **Feasibility:** {plan.feasibility}"
                      + (f" — {basis_text(plan.feasibility_basis)}"
                         if plan.feasibility_basis is not None else "")]
        parts.append("")
        rows = []
        for k, step in enumerate(plan.steps, 1):
            rnd = step.round if step.round is not None else scn.lever(step.lever).round
            rows.append([str(k), f"`{step.lever}`", str(rnd)])
        parts += _table(["step", "lever", "round"], rows)
    return "\n".join(parts)


# --- the results block -------------------------------------------------------


def results_block(scn: Scenario, models: Sequence[str] = RESULT_MODELS,
                  seed: int = RESULT_SEED) -> str:
    """Per issue: every model's forecast under the baseline and each lever and plan,
    with its shift against the baseline ("·" for none) and the actors that end
    elsewhere than in the baseline run (any model), as ``stakes levers`` prints them."""
    results = _runs(scn, tuple(models), seed)
    from ..results import baseline_forecasts

    base = baseline_forecasts(results)
    labels = list(dict.fromkeys(r.intervention.label for r in results))
    parts: list[str] = []
    for issue in scn.issues:
        cell: dict[tuple[str, str], str] = {}
        movers: dict[str, dict[str, None]] = {}
        for r in results:
            if issue.id not in r.run.issue_ids:
                continue
            f = float(r.run.forecast[r.run.issue_ids.index(issue.id)])
            b = base.get((r.run.model, issue.id))
            if math.isnan(f):
                text = "—"
            elif r.intervention.kind == "baseline" or b is None:
                text = f"{f:.2f}"
            else:
                shift = f - b
                text = f"{f:.2f} ·" if abs(shift) < 5e-3 else f"{f:.2f} ({shift:+.1f})"
            cell[(r.intervention.label, r.run.model)] = text
            if r.intervention.kind != "baseline":
                for a in r.moved_vs_baseline or []:
                    movers.setdefault(r.intervention.label, {})[a] = None
        if not cell:
            continue
        sc = issue.scale
        sq = f"; status quo {_num(issue.status_quo.value)}" if issue.status_quo else ""
        if parts:
            parts.append("")
        parts += [f"#### {issue.name} (`{issue.id}`; {_num(sc.min)}–{_num(sc.max)}{sq})", ""]
        rows = []
        for label in labels:
            if not any((label, m) in cell for m in models):
                continue
            moved = list(movers.get(label, {}))
            shown = _ids(moved[:5]) + (f" +{len(moved) - 5}" if len(moved) > 5 else "")
            name = "**baseline**" if label == "baseline" else label.replace(":", " `") + "`"
            rows.append([name, *[cell.get((label, m), "—") for m in models], shown])
        parts += _table(["lever / plan", *models, "actors moved vs baseline"], rows)
    return "\n".join(parts)


_RUNS: dict[tuple, list] = {}


def _runs(scn: Scenario, models: tuple[str, ...] = RESULT_MODELS, seed: int = RESULT_SEED):
    """Every model under the baseline and every lever and plan, computed once per page."""
    from ..engine import interventions_for, run_scenario

    key = (scn.model_dump_json(), models, seed)
    if key not in _RUNS:
        _RUNS.clear()
        _RUNS[key] = run_scenario(scn, list(models),
                                  interventions=interventions_for(scn, "all", "all"),
                                  seed=seed, skip_inapplicable=True)
    return _RUNS[key]


def dated_block(scn: Scenario) -> str:
    as_of = scn.metadata.as_of
    if as_of is None:
        return "The scenario states no date."
    return (f"The scenario describes the situation as of **{as_of.isoformat()}** and nothing "
            "after it. `stakes run`, `stakes check` and reports print that date, with a notice "
            "when it lies more than a year before the day they run.")


def channels_block(scn: Scenario) -> str:
    ch = scn.channels
    if ch is None:
        return "The scenario states no channels: every pair of actors can bargain directly."
    shut = ch.closed_pairs(a.id for a in scn.actors)
    lines = [f"Every pair of actors is **{ch.default}** unless a rule below says otherwise; "
             f"{len(shut)} pairs cannot bargain directly (the exchange model makes no exchange "
             "between them and SMP lets neither challenge the other).", ""]
    rows = []
    for part in ("closed", "open"):
        for rule in getattr(ch, part):
            rows.append([part, _ids(rule.between), _ids(rule.and_) if rule.and_ else "each other",
                         basis_text(rule.basis)])
    return "\n".join(lines + _table(["rule", "between", "and", "basis"], rows))


def _verdicts(scn: Scenario, models: Sequence[str] = RESULT_MODELS):
    from ..scenario.review import evaluate

    return evaluate(scn, _runs(scn, tuple(models)), models)


def _verdict_cell(v) -> str:
    if v.status == "not run":
        return "—"
    mark = {"met": "met", "failed": "**FAILED**", "cycling": "*cycling*"}[v.status]
    return f"{mark} {v.judged}"


def expectations_block(scn: Scenario, models: Sequence[str] = RESULT_MODELS) -> str:
    """Per issue, each expectation against each model (forecast, or shift for a direction)."""
    if not scn.expectations:
        return "The scenario states no expectations."
    by = {(v.expectation.id, v.model): v for v in _verdicts(scn, models)}
    met = sum(v.status == "met" for v in by.values())
    failed = sum(v.status == "failed" for v in by.values())
    cycling = sum(v.status == "cycling" for v in by.values())
    parts = [f"{met} model × expectation pairs met, **{failed} failed**"
             + (f", {cycling} cycling (met in some rounds of a cycle, not in others)"
                if cycling else "")
             + f" ({len(scn.expectations)} expectations, {len(models)} models)."
             + (" ↻: the run ends in a cycle whose rounds disagree; its range is shown and "
                "each of its rounds is judged." if any(
                    "↻" in v.judged for v in by.values() if v.status != "not run") else "")]
    for issue in scn.issues:
        exs = [ex for ex in scn.expectations if ex.issue == issue.id]
        if not exs:
            continue
        parts += ["", f"#### {issue.name} (`{issue.id}`)", ""]
        rows = [[f"`{ex.id}`: {ex.describe().split(': ', 1)[1]}"
                 + ("" if ex.intervention == "baseline" else f" ({ex.intervention})"),
                 *[_verdict_cell(by[(ex.id, m)]) for m in models], ex.reason]
                for ex in exs]
        parts += _table(["expectation", *models, "reason"], rows)
    return "\n".join(parts)


def findings_block(scn: Scenario, models: Sequence[str] = RESULT_MODELS) -> str:
    """Per issue, what the baseline runs support, stated only where it is robust.

    A baseline result is stated as a finding only when (1) every model's forecast lies
    within :data:`AGREE_WITHIN` points of the others, (2) every model meets the issue's
    baseline expectations, (3) no single actor left out moves a joint model there by more
    than :data:`TIP_ABOVE` points, and (4) it is not mechanical: not every forecast sits
    within :data:`MECHANICAL_WITHIN` of the position of the actor with the most capability
    on the issue (the arena's dominant decider), in which case it restates the arena.
    Otherwise the block says which of these fails.
    """
    from ..results import baseline_forecasts
    from ..scenario.arrays import to_problem

    base = baseline_forecasts(_runs(scn, tuple(models)))
    verdicts = _verdicts(scn, models)
    tipped: dict[str, list[tuple[str, str, float]]] = {}
    for m, rows in _tips(scn, [m for m in JOINT_MODELS if m in models]).items():
        for actor, iss, v in rows:
            # leaving out a holder of formal authority should move the result
            if _role(scn, actor, iss) != "authority":
                tipped.setdefault(iss, []).append((m, actor, v))
    lines = []
    for issue in scn.issues:
        fc = {m: base[(m, issue.id)] for m in models if (m, issue.id) in base}
        if not fc:
            continue
        vals = list(fc.values())
        spread = max(vals) - min(vals)
        shown = ", ".join(f"{m} {v:.1f}" for m, v in fc.items())
        failed = [v for v in verdicts if v.expectation.issue == issue.id
                  and v.expectation.intervention == "baseline" and v.status == "failed"]
        pb = to_problem(scn, (issue.id,))
        top = int(max(range(pb.n), key=lambda k: pb.capability[k, 0]))
        top_id, top_pos = pb.actor_ids[top], float(pb.position[top, 0])
        at_top = [m for m, v in fc.items() if abs(v - top_pos) <= MECHANICAL_WITHIN]
        mechanical = len(at_top) == len(fc)
        head = f"- **{issue.name}** ({shown})."
        if failed:
            who = ", ".join(sorted({f"{v.model} ({v.expectation.id})" for v in failed}))
            lines.append(f"{head} Fails the expectations: {who}; no finding is stated.")
        elif spread > AGREE_WITHIN:
            lines.append(f"{head} The models disagree (spread {spread:.1f} points); no "
                         "finding is stated.")
        elif tipped.get(issue.id):
            who = ", ".join(f"{m} by {v:.1f} without `{a}`"
                            for m, a, v in sorted(tipped[issue.id], key=lambda t: -t[2])[:3])
            lines.append(f"{head} The models agree (spread {spread:.1f} points) but an actor "
                         f"without authority here tips a joint model: {who}; no finding is "
                         "stated.")
        elif mechanical:
            lines.append(f"{head} Mechanical: every forecast is the position of "
                         f"`{top_id}` ({top_pos:g}), the actor with the most capability here "
                         "(see its arena); it restates the arena, not a result.")
        else:
            note = (f" {', '.join(at_top)} {'sits' if len(at_top) == 1 else 'sit'} at the "
                    f"position of `{top_id}` ({top_pos:g}), the actor with the most capability "
                    "here." if at_top else "")
            lines.append(f"{head} Robust across the models (spread {spread:.1f} points) and "
                         f"within the expectations.{note}")
    lever_lines = []
    for ex in scn.expectations:
        if ex.intervention == "baseline":
            continue
        vs = [v for v in verdicts if v.expectation.id == ex.id and v.status != "not run"]
        bad = [v.model for v in vs if v.status == "failed"]
        what = f"`{ex.intervention.split(':', 1)[1]}` on {ex.issue} ({ex.describe().split(': ', 1)[1]})"
        if not bad:
            lever_lines.append(f"- {what}: met by every model.")
        elif len(bad) == len(vs):
            lever_lines.append(f"- {what}: **failed by every model**.")
        else:
            lever_lines.append(f"- {what}: failed by {', '.join(bad)}; met by "
                               f"{', '.join(v.model for v in vs if v.status == 'met')}.")
    out = ["Baseline, per issue:", "", *lines]
    if lever_lines:
        out += ["", "Levers, per expectation:", "", *lever_lines]
    return "\n".join(out)


def _role(scn: Scenario, actor: str, issue_id: str) -> str:
    arena = scn.issue(issue_id).arena
    if arena is None:
        return "—"
    if any(m.actor == actor for m in arena.authority):
        return "authority"
    return "influence" if any(m.actor == actor for m in arena.influence) else "other"


_TIPS: dict[tuple, dict] = {}


def _tips(scn: Scenario, models: Sequence[str] = JOINT_MODELS) -> dict:
    """{model: [(actor, issue, shift)]}: baseline shifts above :data:`TIP_ABOVE` when one
    present actor is left out (each in turn), computed once per page."""
    import numpy as np

    from ..engine import run_scenario

    key = (scn.model_dump_json(), tuple(models))
    if key in _TIPS:
        return _TIPS[key]
    out: dict[str, list] = {}
    for m in models:
        base = run_scenario(scn, [m], seed=RESULT_SEED)[0].run
        out[m] = []
        for a in (a for a in scn.actors if a.present):
            without = scn.model_copy(update={"actors": [
                x.model_copy(update={"present": False}) if x.id == a.id else x
                for x in scn.actors]})
            run = run_scenario(without, [m], seed=RESULT_SEED)[0].run
            shift = np.abs(np.asarray(run.forecast) - np.asarray(base.forecast))
            out[m] += [(a.id, iss, float(v)) for iss, v in zip(base.issue_ids, shift)
                       if v > TIP_ABOVE]
    _TIPS.clear()
    _TIPS[key] = out
    return out


def tipping_block(scn: Scenario, models: Sequence[str] = JOINT_MODELS) -> str:
    """For each joint model, the actors whose absence moves a baseline forecast by more than
    :data:`TIP_ABOVE` points: the model is run once with every present actor and once
    without each (as ``stakes stability`` does over an ensemble)."""
    tips = _tips(scn, models)
    n = sum(a.present for a in scn.actors)
    lines = []
    for m in models:
        worst: dict[str, tuple[str, float]] = {}
        for actor, iss, v in tips[m]:
            if actor not in worst or v > worst[actor][1]:
                worst[actor] = (iss, v)
        rows = []
        for actor, (iss, v) in sorted(worst.items(), key=lambda kv: -kv[1][1]):
            cap = scn.actor(actor).capability
            rows.append([f"`{actor}`", _num(cap.value) if cap else "—", f"`{iss}`", f"{v:.1f}",
                         "yes" if scn.entry(actor, iss) is not None else "**no**",
                         _role(scn, actor, iss)])
        lines += ["", f"**{m}**: {len(rows)} of {n} actors move a forecast by more than "
                  f"{TIP_ABOVE:g} points when left out.", ""]
        if rows:
            lines += _table(["left out", "capability", "issue moved most", "shift",
                             "has a stance there", "role there"], rows)
    return "\n".join(lines).lstrip("\n")


BLOCKS: dict[str, Callable[[Scenario], str]] = {
    "summary": summary_block,
    "dated": dated_block,
    "bases": bases_block,
    "sources": sources_block,
    "actors": actors_block,
    "issues": issues_block,
    "levers": levers_block,
    "plans": plans_block,
    "results": results_block,
    "channels": channels_block,
    "expectations": expectations_block,
    "findings": findings_block,
    "tipping": tipping_block,
}


# --- the page ----------------------------------------------------------------


def block_names(page: str) -> list[str]:
    """The generated blocks of a page, in order; checks that the markers pair up."""
    names: list[str] = []
    open_: str | None = None
    for m in _MARK.finditer(page):
        kind, name = m.groups()
        if kind == "start":
            if open_ is not None:
                raise InputError(f"generated block {open_!r} is not closed before {name!r} starts")
            if name in names:
                raise InputError(f"generated block {name!r} appears twice")
            open_ = name
        else:
            if open_ != name:
                raise InputError(f"'generated:end {name}' without a matching start")
            names.append(name)
            open_ = None
    if open_ is not None:
        raise InputError(f"generated block {open_!r} is never closed")
    unknown = [n for n in names if n not in BLOCKS]
    if unknown:
        raise InputError(f"unknown generated block(s) {', '.join(unknown)} "
                         f"(known: {', '.join(BLOCKS)})")
    return names


def render_blocks(scn: Scenario, names: Iterable[str]) -> dict[str, str]:
    return {n: BLOCKS[n](scn) for n in names}


def update_page(page: str, blocks: dict[str, str]) -> str:
    """``page`` with the text between each block's markers replaced by ``blocks[name]``
    (blocks not given are left as they are)."""
    block_names(page)

    def sub(m: re.Match) -> str:
        name = m.group(1)
        if name not in blocks:
            return m.group(0)
        return (f"<!-- generated:start {name} -->\n{blocks[name].rstrip()}\n"
                f"<!-- generated:end {name} -->")

    pattern = re.compile(r"<!-- generated:start ([A-Za-z0-9_-]+) -->.*?"
                         r"<!-- generated:end \1 -->", re.S)
    return pattern.sub(sub, page)


def regenerate(scn: Scenario, page: str) -> str:
    """The page with every generated block rebuilt from ``scn``."""
    return update_page(page, render_blocks(scn, block_names(page)))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m stakes.report.scenario_doc",
        description="Rewrite the generated blocks of a scenario page from the scenario.")
    ap.add_argument("scenario", help="scenario file or packaged scenario name")
    ap.add_argument("page", type=Path, help="markdown page with generated:start/end markers")
    ap.add_argument("--check", action="store_true",
                    help="only compare; exit 1 when the page differs from the scenario")
    args = ap.parse_args(argv)
    from ..api import load

    old = args.page.read_text(encoding="utf-8")
    new = regenerate(load(args.scenario), old)
    if args.check:
        if new != old:
            print(f"{args.page} is out of date; run: python -m stakes.report.scenario_doc "
                  f"{args.scenario} {args.page}", file=sys.stderr)
            return 1
        return 0
    if new != old:
        args.page.write_text(new, encoding="utf-8")
        print(f"rewrote {args.page}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
