"""What changed between two versions of a scenario (``stakes diff OLD NEW``).

Values are matched by what they are (``position of 'us_exec' on 'un_veto'``),
not by their place in the file, so reordering a file changes nothing.  Each
changed value is listed with the basis of both versions; the headline
forecasts of both are compared per model and issue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

from .check import valued_fields
from .schema import Basis, Evidence, Judgment, Scenario, Value, basis_kind


@dataclass(frozen=True)
class Change:
    what: str
    old: str
    new: str
    old_basis: str
    new_basis: str


def basis_text(b: Basis | None, width: int = 70) -> str:
    """A basis in one short line: its kind, then its quote, rationale or source."""
    kind = basis_kind(b)
    if isinstance(b, Evidence):
        body = f'{b.source} "{b.quote}"'
    elif isinstance(b, Judgment):
        body = b.rationale
    elif b is not None:
        body = b.source
    else:
        return "none"
    text = f"{kind}: {body}"
    return text if len(text) <= width else text[: width - 1] + "…"


def _value_text(v: Value | None) -> str:
    if v is None:
        return "—"
    text = f"{v.value:g}"
    if v.range is not None:
        text += f" [{v.range[0]:g}, {v.range[1]:g}]"
    if v.sd is not None:
        text += f" ±{v.sd:g}"
    return text


def _values(scn: Scenario) -> dict[str, Value | None]:
    return {what: v for _, what, v in valued_fields(scn)}


def _structure(scn: Scenario) -> dict[str, tuple[str, Basis | None]]:
    """Arena weights, channel rules, levers, plans, expectations and actors' presence."""
    out: dict[str, tuple[str, Basis | None]] = {}
    for i in scn.issues:
        if i.arena is not None:
            for m in i.arena.authority:
                out[f"authority of {m.actor!r} on {i.id!r}"] = (
                    f"{1.0 if m.weight is None else m.weight:g}", m.basis)
            for m in i.arena.influence:
                out[f"influence of {m.actor!r} on {i.id!r}"] = (f"{m.weight:g}", m.basis)
            out[f"weight of the others on {i.id!r}"] = (f"{i.arena.others:g}", i.arena.basis)
    if scn.channels is not None:
        out["channels"] = (f"default {scn.channels.default}, "
                           f"{len(scn.channels.closed_pairs(a.id for a in scn.actors))} "
                           "closed pairs", None)
    for a in scn.actors:
        out[f"actor {a.id!r}"] = ("present" if a.present else "through a lever", None)
    for lv in scn.levers:
        out[f"lever {lv.id!r}"] = (_dump([e.model_dump(exclude_none=True, exclude={"basis"})
                                          for e in lv.effects]), lv.basis)
    for p in scn.plans:
        out[f"plan {p.id!r}"] = (" → ".join(s.lever for s in p.steps), p.basis)
    for ex in scn.expectations:
        out[f"expectation {ex.id!r}"] = (ex.describe(), ex.basis)
    return out


def _dump(effects: list[dict[str, Any]]) -> str:
    parts = []
    for e in effects:
        if "add_actor" in e or "remove_actor" in e:
            parts.append(next(f"{k} {v}" for k, v in e.items()))
            continue
        ch = next((f"{k} {next(iter(e[k]))} {next(iter(e[k].values())):g}"
                   for k in ("position", "salience", "capability") if k in e), "")
        iss = ",".join(e.get("issues") or ["all"])
        parts.append(f"{e['actor']} {ch} on {iss}")
    return "; ".join(parts)


def changes(old: Scenario, new: Scenario) -> list[Change]:
    """Every value and structural element that differs, with both bases."""
    out = []
    ov, nv = _values(old), _values(new)
    for what in dict.fromkeys([*ov, *nv]):
        a, b = ov.get(what), nv.get(what)
        same_value = _value_text(a) == _value_text(b)
        same_basis = (a.basis if a else None) == (b.basis if b else None)
        if not (same_value and same_basis):
            out.append(Change(what, _value_text(a), _value_text(b),
                              basis_text(a.basis if a else None),
                              basis_text(b.basis if b else None)))
    os_, ns = _structure(old), _structure(new)
    for what in dict.fromkeys([*os_, *ns]):
        a, b = os_.get(what), ns.get(what)
        if a != b:
            out.append(Change(what, a[0] if a else "—", b[0] if b else "—",
                              basis_text(a[1]) if a else "—", basis_text(b[1]) if b else "—"))
    return out


@dataclass(frozen=True)
class Moved:
    model: str
    issue: str
    old: float | None
    new: float | None

    @property
    def shift(self) -> float | None:
        if self.old is None or self.new is None or math.isnan(self.old) or math.isnan(self.new):
            return None
        return self.new - self.old


def headline_moves(old: Scenario, new: Scenario, models: Iterable[str],
                   seed: int = 0) -> list[Moved]:
    """The baseline forecast of every model on every issue of either scenario, old and new."""
    from ..engine import run_scenario

    models = list(models)

    def forecasts(scn: Scenario) -> dict[tuple[str, str], float]:
        res = run_scenario(scn, models, seed=seed, skip_inapplicable=True)
        return {(r.model, iss): float(r.run.forecast[d])
                for r in res for d, iss in enumerate(r.run.issue_ids)}

    fo, fn = forecasts(old), forecasts(new)
    issues = list(dict.fromkeys([*(i.id for i in old.issues), *(i.id for i in new.issues)]))
    return [Moved(m, iss, fo.get((m, iss)), fn.get((m, iss)))
            for iss in issues for m in models
            if (m, iss) in fo or (m, iss) in fn]
