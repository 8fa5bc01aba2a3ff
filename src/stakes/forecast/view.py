"""Assessments as rows for pages (the web app's run page, the HTML report).

Pages read a run from the store's document, so this reads the document's
``assessments`` (the JSON form of :class:`stakes.forecast.Assessment`); the
numbers and words are the ones ``stakes run`` prints.
"""

from __future__ import annotations

from typing import Any

from .headline import is_baseline, range_text, strategic_first


def _span(iv: dict | None, signed: bool = False) -> str:
    if not iv:
        return "—"
    f = "{:+.2f}" if signed else "{:.2f}"
    return f"{f.format(iv['lo'])} … {f.format(iv['hi'])}"


def _value(a: dict) -> str:
    if a.get("cycle_range"):
        return range_text(a["cycle_range"])
    return "—" if a.get("headline") is None else f"{a['headline']:.2f}"


def _shift(a: dict) -> str:
    if a.get("shift_range"):
        return range_text(a["shift_range"], signed=True)
    return "—" if a.get("shift") is None else f"{a['shift']:+.2f}"


def trust_view(scn: Any, document: dict[str, Any]) -> dict[str, Any] | None:
    """Headline rows (baseline, every model, strategic first) and effect rows (levers and
    plans that move a forecast); None for a document without assessments."""
    rows = document.get("assessments")
    if not rows:
        return None
    settings = document.get("assessment_settings") or {}
    zero = float((settings.get("thresholds") or {}).get("zero", 0.01))
    width = {i.id: float(i.scale.max - i.scale.min) for i in scn.issues}
    names = {i.id: i.name for i in scn.issues}
    order = {m: k for k, m in enumerate(strategic_first(a["model"] for a in rows))}
    issue_order = {i.id: k for k, i in enumerate(scn.issues)}

    def key(a):
        return (order[a["model"]], issue_order.get(a["issue"], 0))

    heads, effects = [], []
    for a in sorted(rows, key=key):
        iv = a.get("interval")
        base = {"model": a["model"], "baseline_model": is_baseline(a["model"]),
                "statistic": a["statistic"], "issue": a["issue"],
                "issue_name": names.get(a["issue"], a["issue"])}
        if a["lever"] is None and a["plan"] is None:
            heads.append({**base, "forecast": _value(a),
                          "median": "—" if not iv else f"{iv['median']:.2f}",
                          "interval": _span(iv), "verdict": a.get("verdict") or "—",
                          "pivot": ", ".join(a.get("pivot") or []) or "—"})
            continue
        e = a.get("effect")
        tol = zero * width.get(a["issue"], 1.0)
        if abs(a.get("shift") or 0.0) <= tol and (not e or abs(e["median"]) <= tol):
            continue
        effects.append({**base, "intervention": a["lever"] or a["plan"],
                        "kind": "lever" if a["lever"] else "plan",
                        "shift": _shift(a),
                        "median": "—" if not e else f"{e['median']:+.2f}",
                        "interval": _span(e, True), "verdict": a.get("effect_verdict") or "—",
                        "flags": ", ".join(a.get("flags") or [])})
    members = settings.get("members") or {}
    return {"headlines": heads, "effects": effects, "members": members,
            "thresholds": settings.get("thresholds") or {}}
