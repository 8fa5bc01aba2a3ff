"""Checks that span several parts of a scenario (ids, references, ranges).

Pydantic validates each part on its own; these checks need the whole
scenario.  Each problem comes back with the path of the offending field so
that the loader can point at its line in the file.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterator

from .schema import Basis, Data, Evidence, Scenario, Value, basis_kind

Path = tuple[str | int, ...]
Finding = tuple[Path, str]


def _duplicates(items: list, key: str, where: str) -> Iterator[Finding]:
    counts = Counter(getattr(x, key) for x in items)
    seen: set[str] = set()
    for k, item in enumerate(items):
        ident = getattr(item, key)
        if counts[ident] > 1 and ident in seen:
            yield (where, k, key), f"duplicate {key} {ident!r}"
        seen.add(ident)


def valued_fields(scn: Scenario) -> Iterator[tuple[Path, str, Value | None]]:
    """Every number of the scenario that needs a basis: (path, what it is, value)."""
    for k, a in enumerate(scn.actors):
        yield ("actors", k, "capability"), f"capability of actor {a.id!r}", a.capability
    for k, i in enumerate(scn.issues):
        yield ("issues", k, "status_quo"), f"status quo of issue {i.id!r}", i.status_quo
    for k, e in enumerate(scn.entries):
        for f in ("position", "salience", "capability"):
            yield ("entries", k, f), f"{f} of {e.actor!r} on {e.issue!r}", getattr(e, f)


def bases(scn: Scenario) -> Iterator[tuple[Path, Basis]]:
    """Every basis given anywhere in the scenario, with the path of its field."""
    for path, _, v in valued_fields(scn):
        if v is not None and v.basis is not None:
            yield (*path, "basis"), v.basis
    for k, lv in enumerate(scn.levers):
        if lv.basis is not None:
            yield ("levers", k, "basis"), lv.basis
        for m, eff in enumerate(lv.effects):
            if eff.basis is not None:
                yield ("levers", k, "effects", m, "basis"), eff.basis
    for k, p in enumerate(scn.plans):
        if p.basis is not None:
            yield ("plans", k, "basis"), p.basis
    for path, _, b in structure_bases(scn):
        if b is not None:
            yield (*path, "basis"), b
    for part, items in (("levers", scn.levers), ("plans", scn.plans)):
        for k, item in enumerate(items):
            if item.feasibility_basis is not None:
                yield (part, k, "feasibility_basis"), item.feasibility_basis


def structure_bases(scn: Scenario) -> Iterator[tuple[Path, str, Basis | None]]:
    """The bases of the scenario's structure: arenas, channels and expectations."""
    for k, i in enumerate(scn.issues):
        if i.arena is None:
            continue
        for part in ("authority", "influence"):
            for m, mem in enumerate(getattr(i.arena, part)):
                yield (("issues", k, "arena", part, m), f"{part} of {mem.actor!r} on {i.id!r}",
                       mem.basis)
        if i.arena.basis is not None or i.arena.others > 0:
            yield ("issues", k, "arena"), f"weight of the others on {i.id!r}", i.arena.basis
    if scn.channels is not None:
        for part in ("closed", "open"):
            for m, rule in enumerate(getattr(scn.channels, part)):
                yield ("channels", part, m), f"{part} channel rule {m}", rule.basis
    for k, ex in enumerate(scn.expectations):
        yield ("expectations", k), f"expectation {ex.id!r}", ex.basis


#: Where an author's recommendation may serve as a basis: what should be done
#: justifies a lever, a plan or an expectation about a lever, never a fact.
_RECOMMENDATION_OK = ("levers", "plans", "expectations")


def _in_range(path: Path, v: Value | None, lo: float, hi: float, what: str) -> Iterator[Finding]:
    if v is None:
        return
    if not lo <= v.value <= hi:
        yield (*path, "value"), f"{what} {v.value:g} is outside [{lo:g}, {hi:g}]"
    if v.range is not None and not (lo <= v.range[0] and v.range[1] <= hi):
        yield (*path, "range"), f"range [{v.range[0]:g}, {v.range[1]:g}] leaves [{lo:g}, {hi:g}]"


def check(scn: Scenario) -> list[Finding]:
    """Every cross-field problem of ``scn``; empty when the scenario is sound."""
    out: list[Finding] = []
    out += _duplicates(scn.actors, "id", "actors")
    out += _duplicates(scn.issues, "id", "issues")
    out += _duplicates(scn.metadata.sources, "id", "metadata")  # path fixed below
    out = [
        ((("metadata", "sources", *p[1:]) if p[0] == "metadata" else p), m) for p, m in out
    ]
    out += _duplicates(scn.levers, "id", "levers")
    out += _duplicates(scn.plans, "id", "plans")

    actors = {a.id: a for a in scn.actors}
    issues = {i.id: i for i in scn.issues}
    sources = {s.id for s in scn.metadata.sources}
    levers = {lv.id for lv in scn.levers}

    for k, a in enumerate(scn.actors):
        out += _in_range(("actors", k, "capability"), a.capability, 0, float("inf"), "capability")

    for k, i in enumerate(scn.issues):
        out += _in_range(("issues", k, "status_quo"), i.status_quo, i.scale.min, i.scale.max,
                         "status quo")

    pairs: Counter[tuple[str, str]] = Counter()
    has_cap_everywhere: dict[str, bool] = {}
    for k, e in enumerate(scn.entries):
        path = ("entries", k)
        if e.actor not in actors:
            out.append(((*path, "actor"), f"unknown actor {e.actor!r}"))
        if e.issue not in issues:
            out.append(((*path, "issue"), f"unknown issue {e.issue!r}"))
        pairs[(e.actor, e.issue)] += 1
        if pairs[(e.actor, e.issue)] == 2:
            out.append(((*path,), f"second entry for actor {e.actor!r} on issue {e.issue!r}"))
        if e.issue in issues:
            sc = issues[e.issue].scale
            out += _in_range((*path, "position"), e.position, sc.min, sc.max, "position")
        out += _in_range((*path, "salience"), e.salience, 0.0, 1.0, "salience")
        out += _in_range((*path, "capability"), e.capability, 0, float("inf"), "capability")
        ok = e.capability is not None
        has_cap_everywhere[e.actor] = has_cap_everywhere.get(e.actor, True) and ok

    for k, a in enumerate(scn.actors):
        if a.capability is None and not has_cap_everywhere.get(a.id, False):
            out.append((("actors", k), f"actor {a.id!r} has no capability (give one on the "
                                       "actor or on each of its entries)"))

    for path, b in bases(scn):
        if isinstance(b, (Evidence, Data)) and b.source not in sources:
            out.append(((*path, "source"), f"unknown source {b.source!r} (not in metadata.sources)"))

    if scn.affinity is not None:
        # Unset entries keep the identity (KTAB), so an actor's own weight is 1
        # unless it is given.
        given: dict[tuple[str, str], float] = {}
        for k, af in enumerate(scn.affinity):
            for f in ("actor", "toward"):
                if getattr(af, f) not in actors:
                    out.append((("affinity", k, f), f"unknown actor {getattr(af, f)!r}"))
            if (af.actor, af.toward) in given:
                out.append((("affinity", k), f"second affinity of {af.actor!r} toward {af.toward!r}"))
            given[(af.actor, af.toward)] = af.weight
        rows: dict[str, float] = {}
        for (a, b), w in given.items():
            rows[a] = rows.get(a, 0.0 if (a, a) in given else 1.0) + w
        for actor_id, total in rows.items():
            if total > 1 + 1e-12:
                out.append((("affinity",), f"affinities of actor {actor_id!r} sum to {total:g} > 1"))

    for k, lv in enumerate(scn.levers):
        for m, eff in enumerate(lv.effects):
            path = ("levers", k, "effects", m)
            for f in ("actor", "add_actor", "remove_actor"):
                ref = getattr(eff, f)
                if ref is not None and ref not in actors:
                    out.append(((*path, f), f"unknown actor {ref!r}"))
            for n, iss in enumerate(eff.issues or []):
                if iss not in issues:
                    out.append(((*path, "issues", n), f"unknown issue {iss!r}"))
            if eff.salience is not None and eff.salience.set is not None:
                if not 0 <= eff.salience.set <= 1:
                    out.append(((*path, "salience", "set"), "salience must be within [0, 1]"))
            if eff.capability is not None and eff.capability.set is not None:
                if eff.capability.set < 0:
                    out.append(((*path, "capability", "set"), "capability must be >= 0"))

    for k, p in enumerate(scn.plans):
        for m, step in enumerate(p.steps):
            if step.lever not in levers:
                out.append((("plans", k, "steps", m, "lever"), f"unknown lever {step.lever!r}"))

    for path, b in bases(scn):
        if basis_kind(b) == "recommendation" and path[0] not in _RECOMMENDATION_OK:
            out.append(((*path, "shows"), "an author's recommendation is not evidence of an "
                        "actor's current stance or of the status quo (it can justify a lever "
                        "or a plan); quote what the actor says or does, or make it a judgment"))

    out += _check_structure(scn, actors, issues, levers)
    return out


def _check_structure(scn: Scenario, actors: dict, issues: dict, levers: set) -> list[Finding]:
    out: list[Finding] = []
    for k, i in enumerate(scn.issues):
        if i.arena is None:
            continue
        seen: set[str] = set()
        for part in ("authority", "influence"):
            for m, mem in enumerate(getattr(i.arena, part)):
                path = ("issues", k, "arena", part, m, "actor")
                if mem.actor not in actors:
                    out.append((path, f"unknown actor {mem.actor!r}"))
                if mem.actor in seen:
                    out.append((path, f"actor {mem.actor!r} is listed twice in the arena"))
                seen.add(mem.actor)
    if scn.channels is not None:
        for part in ("closed", "open"):
            for m, rule in enumerate(getattr(scn.channels, part)):
                for side in ("between", "and"):
                    for n, a in enumerate(rule.between if side == "between" else
                                          (rule.and_ or [])):
                        if a not in actors:
                            out.append((("channels", part, m, side, n), f"unknown actor {a!r}"))
    plans = {p.id for p in scn.plans}
    out += _duplicates(scn.expectations, "id", "expectations")
    for k, ex in enumerate(scn.expectations):
        path = ("expectations", k)
        if ex.issue not in issues:
            out.append(((*path, "issue"), f"unknown issue {ex.issue!r}"))
        else:
            sc = issues[ex.issue].scale
            for f in ("min", "max"):
                v = getattr(ex, f)
                if v is not None and not sc.min <= v <= sc.max:
                    out.append(((*path, f), f"{f} {v:g} is outside the scale "
                                            f"[{sc.min:g}, {sc.max:g}] of {ex.issue!r}"))
        if ex.lever is not None and ex.lever not in levers:
            out.append(((*path, "lever"), f"unknown lever {ex.lever!r}"))
        if ex.plan is not None and ex.plan not in plans:
            out.append(((*path, "plan"), f"unknown plan {ex.plan!r}"))
    return out
