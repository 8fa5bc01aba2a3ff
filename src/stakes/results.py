"""Results as the stable JSON contract, as a pandas DataFrame, and per-issue summaries.

JSON contract (kept stable; documented in the README)::

    {"stakes_version": str,
     "scenario": {"name": str, "description": str|null, "as_of": str|null,
                  "as_of_notice": str|null, "issues": [str], "actors": [str]},
     "results": [{"model": str, "issue": str, "options": {...},
                  "lever": str|null, "plan": str|null,
                  "rounds": [{"round": int, "positions": {actor_id: number},
                              "forecast": number, "mean": number}],
                  "forecast": number, "stop": "converged"|"cycle"|"max_rounds",
                  "moved": [actor_id], "moved_vs_baseline": [actor_id]|null,
                  "info": {...}, "statistic": str}],
     "assessments": [{"model": str, "issue": str, "lever": str|null, "plan": str|null,
                      "statistic": str, "baseline_model": bool, "headline": number|null,
                      "cycle_range": [number, number]|null, "interval": {...}|null,
                      "verdict": str|null, "pivot": [actor_id], "shift": number|null,
                      "effect": {...}|null, "effect_verdict": str|null,
                      "imposed": number|null, "bargained": number|null, "flags": [str],
                  "moved_by_lever": [actor_id]|null, "moved_by_bargaining": [actor_id]|null}],
     "assessment_settings": {"members": {model: int}, "seed": int, "thresholds": {...}}}

``statistic`` names the number a model reports as its forecast
(:mod:`stakes.forecast.headline`); ``assessments`` (present when the run was
assessed, as ``stakes run`` does) hold one entry per model, intervention and
issue: the declared headline (null when the run ends in a cycle whose rounds
disagree; ``cycle_range`` then holds the cycle's range), the ensemble
interval, the verdict, the pivotal actors and, for levers and plans, the
shift against the baseline with its paired interval, split into what the
lever imposes and what bargaining adds (:mod:`stakes.forecast`).

For joint (multi-dimensional) models ``issue`` is the list of issue ids and
every number is a list in that order.  Missing numbers are ``null``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from . import __version__
from .engine import Result
from .scenario.schema import Scenario

if TYPE_CHECKING:
    from .forecast import Forecast


def _num(v: Any) -> Any:
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, np.ndarray):
        return [_num(x) for x in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [_num(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _num(x) for k, x in v.items()}
    return v


def _vec(arr: np.ndarray, joint: bool) -> Any:
    arr = np.asarray(arr, dtype=float).reshape(-1)
    return _num(arr) if joint else _num(arr[0])


def result_to_dict(res: Result) -> dict[str, Any]:
    from .forecast.headline import statistic
    from .models import get_model

    run = res.run
    # The shape follows the model's scope (README, JSON contract), not the issue count:
    # a joint model on a one-issue scenario still reports lists.
    joint = get_model(run.model).scope == "joint"
    iv = res.intervention
    return {
        "model": run.model,
        "issue": list(run.issue_ids) if joint else run.issue_ids[0],
        "options": _num(run.options),
        "lever": iv.id if iv.kind == "lever" else None,
        "plan": iv.id if iv.kind == "plan" else None,
        "rounds": [
            {
                "round": rec.round,
                "positions": {a: _vec(p, joint) for a, p in zip(rec.actor_ids, rec.position)},
                "forecast": _vec(rec.forecast, joint),
                "mean": _vec(rec.mean, joint),
            }
            for rec in run.rounds
        ],
        "forecast": _vec(run.forecast, joint),
        "stop": run.stop,
        "moved": list(res.moved),
        "moved_vs_baseline": None if res.moved_vs_baseline is None else list(res.moved_vs_baseline),
        "info": _num(run.info),
        "statistic": statistic(run.model, run.options),
    }


def scenario_header(scn: Scenario) -> dict[str, Any]:
    from .scenario.review import as_of_notice

    md = scn.metadata
    return {
        "name": md.name,
        "description": md.description,
        "as_of": md.as_of.isoformat() if md.as_of else None,
        "as_of_notice": as_of_notice(scn),
        "issues": [i.id for i in scn.issues],
        "actors": [a.id for a in scn.actors],
    }


def to_document(scn: Scenario, results: "Iterable[Result] | Forecast") -> dict[str, Any]:
    """The JSON document of ``results``; with assessments when given a Forecast."""
    from .forecast import Forecast

    doc = {
        "stakes_version": __version__,
        "scenario": scenario_header(scn),
        "results": [result_to_dict(r) for r in results],
    }
    if isinstance(results, Forecast):
        doc["assessments"] = [_num(a.as_dict()) for a in results.assessments]
        doc["assessment_settings"] = _num(results.settings())
    return doc


def to_frame(results: Iterable[Result]):
    """One row per model x intervention x issue x round x actor."""
    import pandas as pd

    rows = []
    for res in results:
        run, iv = res.run, res.intervention
        for rec in run.rounds:
            for a, pos in zip(rec.actor_ids, rec.position):
                for d, iss in enumerate(run.issue_ids):
                    rows.append({
                        "model": run.model,
                        "intervention": iv.label,
                        "issue": iss,
                        "round": rec.round,
                        "actor": a,
                        "position": float(pos[d]),
                        "forecast": float(rec.forecast[d]),
                        "mean": float(rec.mean[d]),
                        "stop": run.stop,
                    })
    return pd.DataFrame(rows, columns=["model", "intervention", "issue", "round", "actor",
                                       "position", "forecast", "mean", "stop"])


def forecasts_by_issue(results: Iterable[Result]) -> dict[str, dict[tuple[str, str], float]]:
    """issue -> {(model, intervention label): forecast}."""
    out: dict[str, dict[tuple[str, str], float]] = {}
    for res in results:
        for d, iss in enumerate(res.run.issue_ids):
            out.setdefault(iss, {})[(res.run.model, res.intervention.label)] = float(
                res.run.forecast[d])
    return out


def baseline_forecasts(results: Iterable[Result]) -> dict[tuple[str, str], float]:
    """The baseline's forecast of each (model, issue): what lever shifts are measured from."""
    base = {}
    for r in results:
        if r.intervention.kind == "baseline":
            for d, iss in enumerate(r.run.issue_ids):
                base[(r.run.model, iss)] = float(r.run.forecast[d])
    return base
