"""Accuracy of point and interval forecasts against known outcomes.

The DEU literature scores forecasts by the mean absolute error on the 0–100
scale (Thomson et al. 2006; Achen 2006); the median absolute error and the
share within 10 points show whether a mean is carried by a few large misses.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

WITHIN = 10.0


@dataclass(frozen=True)
class Score:
    n: int
    mae: float
    median_ae: float
    within10: float  # share of issues with |error| <= 10

    def as_dict(self) -> dict:
        return asdict(self)


def score(forecast: np.ndarray, outcome: np.ndarray, mask: np.ndarray | None = None) -> Score:
    """Score the issues where both forecast and outcome exist (and ``mask`` holds)."""
    forecast = np.asarray(forecast, dtype=float)
    outcome = np.asarray(outcome, dtype=float)
    ok = ~np.isnan(forecast) & ~np.isnan(outcome)
    if mask is not None:
        ok &= np.asarray(mask, dtype=bool)
    err = np.abs(forecast[ok] - outcome[ok])
    if len(err) == 0:
        return Score(0, float("nan"), float("nan"), float("nan"))
    return Score(int(len(err)), float(err.mean()), float(np.median(err)),
                 float(np.mean(err <= WITHIN)))


@dataclass(frozen=True)
class IntervalScore:
    n: int
    coverage: float  # share of outcomes inside [lo, hi]
    mean_width: float


def interval_score(lo: np.ndarray, hi: np.ndarray, outcome: np.ndarray,
                   mask: np.ndarray | None = None) -> IntervalScore:
    lo, hi, outcome = (np.asarray(a, dtype=float) for a in (lo, hi, outcome))
    ok = ~np.isnan(lo) & ~np.isnan(hi) & ~np.isnan(outcome)
    if mask is not None:
        ok &= np.asarray(mask, dtype=bool)
    if not ok.any():
        return IntervalScore(0, float("nan"), float("nan"))
    inside = (outcome[ok] >= lo[ok]) & (outcome[ok] <= hi[ok])
    return IntervalScore(int(ok.sum()), float(inside.mean()), float(np.mean(hi[ok] - lo[ok])))
