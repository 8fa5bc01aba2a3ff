"""Who a forecast rests on: the pivotal actor, the weight for and against change, each
actor's contribution.

* A median rule (the EUM's median μ, Bueno de Mesquita 1994; the weighted
  median, Black 1958) is decided by the actors at whose position the
  cumulative weight, in position order, reaches half the total: they *tip*
  the median (the heaviest of them is named first).
* A weighted mean (the compromise model, Achen 2006) moves away from a
  reference ``q`` (the status quo, else the scale's midpoint) by
  ``Σ_i w_i/W · (x_i − q)``: with the weights held, the forecast is linear
  in the positions, so actor i's term is its exact Shapley value in the game
  where a coalition's members stand at their positions and the others at
  ``q``.  The pivot is the actor with the largest term.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Forecast rules by model (the EUM's follows its ``forecast`` option).
MEDIAN_RULE = {"median"}
MEAN_RULE = {"compromise"}


def rule_of(model: str, options: dict | None) -> str | None:
    """'median', 'mean' or None (no closed-form rule: leave-one-out only)."""
    if model == "eum":
        return "mean" if (options or {}).get("forecast") == "mean" else "median"
    if model in MEDIAN_RULE:
        return "median"
    if model in MEAN_RULE:
        return "mean"
    return None


def tipping(x: np.ndarray, w: np.ndarray, ids, forecast: float, scale_width: float) -> list[str]:
    """The actors standing where the cumulative weight, in position order, reaches half the
    total (heaviest first: the order among equal positions is arbitrary), then any others
    standing at the forecast."""
    ok = np.isfinite(x) & np.isfinite(w)
    x, w, ids = x[ok], w[ok], [a for a, k in zip(ids, ok) if k]
    if not len(x):
        return []
    order = np.argsort(x, kind="stable")
    cum = np.cumsum(w[order])
    total = cum[-1]
    if total <= 0:
        return []
    k = min(int(np.searchsorted(cum, total / 2.0 * (1 - 1e-12), side="left")), len(x) - 1)
    tol = 1e-6 * max(scale_width, 1.0)
    at_tip = np.abs(x - x[order[k]]) <= tol
    at_fc = np.abs(x - forecast) <= tol
    first = sorted(np.flatnonzero(at_tip), key=lambda j: -w[j])
    rest = sorted(np.flatnonzero(at_fc & ~at_tip), key=lambda j: -w[j])
    return [ids[j] for j in [*first, *rest]]


def mean_terms(x: np.ndarray, w: np.ndarray, ref: float) -> np.ndarray:
    """Each actor's exact share ``w_i/W · (x_i − ref)`` of the weighted mean's distance
    from ``ref`` (NaN positions contribute nothing)."""
    ok = np.isfinite(x) & np.isfinite(w)
    total = float(np.sum(w[ok]))
    out = np.zeros(len(x))
    if total > 0:
        out[ok] = w[ok] / total * (x[ok] - ref)
    return out


@dataclass(frozen=True)
class Balance:
    """Weight standing for moving away from the status quo (towards the forecast's side),
    against it (at the status quo or beyond it on the other side), as shares of the total."""

    towards: float
    against: float
    direction: int  # +1 the forecast lies above the status quo, −1 below, 0 at it


def balance(x: np.ndarray, w: np.ndarray, q: float, forecast: float, scale_width: float
            ) -> Balance | None:
    ok = np.isfinite(x) & np.isfinite(w)
    total = float(np.sum(w[ok]))
    if total <= 0 or not np.isfinite(q):
        return None
    tol = 1e-6 * max(scale_width, 1.0)
    direction = 0 if abs(forecast - q) <= tol else (1 if forecast > q else -1)
    sign = direction or 1  # at the status quo: "for change" means upwards
    up = ok & (sign * (x - q) > tol)
    return Balance(float(np.sum(w[up]) / total), float(1 - np.sum(w[up]) / total), direction)
