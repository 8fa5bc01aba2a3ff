"""Compare two recorded runs: what differs in their inputs, and how their forecasts differ."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from .catalog import RunRecord, Store

if TYPE_CHECKING:  # pragma: no cover
    from ..scenario.schema import Scenario

# Lists whose items are matched by these fields rather than by their place.
_KEYS: dict[str, tuple[str, ...]] = {
    "actors": ("id",), "issues": ("id",), "sources": ("id",), "levers": ("id",),
    "plans": ("id",), "entries": ("actor", "issue"), "affinity": ("actor", "toward"),
}
ABSENT = "(absent)"


def _flatten(node: Any, path: str, leaves: dict[str, Any], items: set[str]) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            _flatten(v, f"{path}.{k}" if path else str(k), leaves, items)
        return
    if isinstance(node, list):
        name = path.rsplit(".", 1)[-1].split("[")[-1]
        keys = _KEYS.get(name)
        if keys and all(isinstance(x, dict) and all(k in x for k in keys) for x in node):
            for x in node:
                p = f"{path}[{'/'.join(str(x[k]) for k in keys)}]"
                items.add(p)
                _flatten(x, p, leaves, items)
            return
        if all(not isinstance(x, (dict, list)) for x in node):
            leaves[path] = list(node)
            return
        for i, x in enumerate(node):
            _flatten(x, f"{path}[{i}]", leaves, items)
        return
    leaves[path] = node


def scenario_diff(a: "Scenario", b: "Scenario") -> list[tuple[str, Any, Any]]:
    """(field, value in a, value in b) for every scenario field that differs.

    Actors, issues, entries, levers, plans, sources and affinities are matched
    by their ids (an entry by ``actor/issue``), so reordering them is no change;
    one that exists on one side only is reported once, not field by field.
    """
    la: dict[str, Any] = {}
    lb: dict[str, Any] = {}
    ia: set[str] = set()
    ib: set[str] = set()
    _flatten(a.model_dump(mode="json", exclude_none=True), "", la, ia)
    _flatten(b.model_dump(mode="json", exclude_none=True), "", lb, ib)
    only = (ia - ib) | (ib - ia)
    out: list[tuple[str, Any, Any]] = []
    for p in sorted(ia - ib):
        out.append((p, "present", ABSENT))
    for p in sorted(ib - ia):
        out.append((p, ABSENT, "present"))

    def under_only(path: str) -> bool:
        return any(path == o or path.startswith(o + ".") or path.startswith(o + "[")
                   for o in only)

    for p in sorted(set(la) | set(lb), key=lambda s: (s.split(".")[0], s)):
        va, vb = la.get(p, ABSENT), lb.get(p, ABSENT)
        if va != vb and not under_only(p):
            out.append((p, va, vb))
    return out


def _effective_options(doc: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for res in (doc or {}).get("results", []):
        out.setdefault(res["model"], res.get("options") or {})
    return out


def input_differences(ra: RunRecord, rb: RunRecord, sa: "Scenario",
                      sb: "Scenario") -> list[dict[str, Any]]:
    """Every input of the two runs that differs, as {field, a, b}."""
    rows: list[dict[str, Any]] = []

    def add(field: str, va: Any, vb: Any) -> None:
        rows.append({"field": field, "a": va, "b": vb})

    if ra.scenario_hash != rb.scenario_hash:
        for p, va, vb in scenario_diff(sa, sb):
            add(f"scenario: {p}", va, vb)
    for name in ("models", "interventions", "seed", "rounds", "stakes_version"):
        va, vb = getattr(ra, name), getattr(rb, name)
        if va != vb:
            add(name, va, vb)
    ea, eb = _effective_options(ra.document), _effective_options(rb.document)
    for model in sorted(set(ea) & set(eb)):
        for opt in sorted(set(ea[model]) | set(eb[model])):
            va, vb = ea[model].get(opt, ABSENT), eb[model].get(opt, ABSENT)
            if va != vb:
                add(f"option {model}.{opt}", va, vb)
    if ra.kind != rb.kind:
        add("kind", ra.kind, rb.kind)
    if ra.spec and rb.spec and ra.spec != rb.spec:
        for k in sorted(set(ra.spec or {}) | set(rb.spec or {})):
            va, vb = (ra.spec or {}).get(k, ABSENT), (rb.spec or {}).get(k, ABSENT)
            if va != vb:
                add(f"sweep {k}", va, vb)
    return rows


def forecast_differences(store: Store, a: str, b: str) -> list[dict[str, Any]]:
    """Forecasts side by side: {issue, model, intervention, a, b, change} for the union."""
    fa, fb = store.forecasts(a), store.forecasts(b)
    key = ["issue", "model", "intervention"]
    merged = fa.merge(fb, on=key, how="outer", suffixes=("_a", "_b"), sort=False)
    rows = []
    for r in merged.itertuples(index=False):
        va = _f(getattr(r, "forecast_a"))
        vb = _f(getattr(r, "forecast_b"))
        rows.append({"issue": r.issue, "model": r.model, "intervention": r.intervention,
                     "a": va, "b": vb,
                     "change": None if va is None or vb is None else vb - va})
    order = {k: i for i, k in enumerate(dict.fromkeys(
        list(fa["issue"]) + list(fb["issue"])))}
    rows.sort(key=lambda d: order.get(d["issue"], 0))
    return rows


def _f(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def compare_runs(store: Store, a: str, b: str) -> dict[str, Any]:
    """The comparison of runs ``a`` and ``b`` as JSON-safe data."""
    ra = store.get(a, document=True)
    rb = store.get(b, document=True)
    sa, sb = store.scenario(ra.id), store.scenario(rb.id)
    return {
        "a": ra.header(),
        "b": rb.header(),
        "same_scenario": ra.scenario_hash == rb.scenario_hash,
        "inputs": input_differences(ra, rb, sa, sb),
        "forecasts": forecast_differences(store, ra.id, rb.id),
    }
