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
``bases`` (how many values cite a source), ``sources``, ``actors``, ``issues``,
``levers``, ``plans`` and ``results`` (the forecasts of :data:`RESULT_MODELS`
under the baseline and every lever and plan, as ``stakes levers`` prints them).

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
from ..scenario.schema import Change, Data, Effect, Evidence, Scenario, Value

RESULT_MODELS = ("eum", "compromise", "median")
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
        out = f"{basis.source}: “{basis.quote}”"
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


def _count(values: Iterable[Value | None]) -> tuple[int, int]:
    vals = [v for v in values if v is not None]
    return len(vals), sum(isinstance(v.basis, (Evidence, Data)) for v in vals)


def bases_block(scn: Scenario) -> str:
    n_ps, src_ps = _count([e.position for e in scn.entries] + [e.salience for e in scn.entries])
    n_ec, src_ec = _count(e.capability for e in scn.entries)
    n_ac, src_ac = _count(a.capability for a in scn.actors)
    n_sq, src_sq = _count(i.status_quo for i in scn.issues)
    n_lv = len(scn.levers)
    src_lv = sum(isinstance(lv.basis, (Evidence, Data)) for lv in scn.levers)
    n_ef = sum(len(lv.effects) for lv in scn.levers)
    src_ef = sum(isinstance(e.basis, (Evidence, Data)) for lv in scn.levers for e in lv.effects)
    return (f"Of the {n_ps} positions and saliences, {src_ps} cite a source and "
            f"{n_ps - src_ps} are judgments; of the {n_ec} issue-specific capabilities, "
            f"{src_ec} cite a source; so do {src_ac} of the {n_ac} actor capabilities, "
            f"{src_sq} of the {n_sq} status quos, {src_lv} of the {n_lv} levers and "
            f"{src_ef} of their {n_ef} effects (the rest are judgments).")


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
    entries = [e for e in scn.entries if e.issue == issue.id]
    rows, overrides = [], []
    for e in entries:
        actor = scn.actor(e.actor)
        if e.capability is not None:
            here = f"**{_num(e.capability.value)}**"
            overrides.append(f"- `{e.actor}` {_num(e.capability.value)}: "
                             f"{basis_text(e.capability.basis)}")
        else:
            here = _num(actor.capability.value) if actor.capability else "—"
        if not actor.present:
            here += " (absent until added)"
        rows.append([f"`{e.actor}`", _num(e.position.value), _num(e.salience.value), here,
                     basis_text(e.position.basis), basis_text(e.salience.basis)])
    out += _table(["actor", "position", "salience", "capability here", "basis of position",
                   "basis of salience"], rows)
    if overrides:
        out += ["", "Capability set for this issue (bold above):", "", *overrides]
    have = {e.actor for e in entries}
    absent = [a.id for a in scn.actors if a.id not in have]
    if absent:
        out += ["", f"No entry (takes no part in this issue): {_ids(absent)}."]
    return out


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
            parts += [f"- **Basis:** {basis_text(plan.basis)}", ""]
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
    from ..engine import interventions_for, run_scenario

    results = run_scenario(scn, models, interventions=interventions_for(scn, "all", "all"),
                           seed=seed, skip_inapplicable=True)
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


BLOCKS: dict[str, Callable[[Scenario], str]] = {
    "summary": summary_block,
    "bases": bases_block,
    "sources": sources_block,
    "actors": actors_block,
    "issues": issues_block,
    "levers": levers_block,
    "plans": plans_block,
    "results": results_block,
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
