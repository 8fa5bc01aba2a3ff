"""Out-of-fold predictive distributions, their calibration, and the honest comparison.

For each model (under one capability option: the Council's voting weights where
they were run) and each combination, the error model of
:mod:`~stakes.backtest.distribution` is fitted on the training folds only and
applied to the test fold; for a combination, its training-fold forecasts are
themselves out of fold (nested cross-validation), so the error model learns the
size of errors it will really make.  Coverage, CRPS, interval scores and the PIT
are measured on the test folds.

Every forecast is then compared with the vote-weighted compromise (Achen 2006;
Thomson et al. 2006), pairwise on the issues both forecast, by a bootstrap
clustered by proposal (:mod:`~stakes.backtest.compare`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from . import distribution as D
from .compare import Difference, clustered_difference
from .deu3 import capability_vector
from .runner import BacktestRun
from .stacking import StackResult

PIT_BINS = 10


@dataclass
class Calibrated:
    """Out-of-fold distributions of one forecast, and what they score."""

    name: str
    point: np.ndarray
    P: np.ndarray  # (n, 101); rows without a forecast are NaN
    models: dict[int, D.ErrorModel]  # per test fold, fitted on the other folds
    folds: np.ndarray
    lo: dict[float, np.ndarray] = field(default_factory=dict)
    hi: dict[float, np.ndarray] = field(default_factory=dict)

    @property
    def ok(self) -> np.ndarray:
        return ~np.isnan(self.point)


def primary_capability(run: BacktestRun) -> str:
    """The capability under which models get distributions: Council votes when run."""
    return "qmv" if "qmv" in run.capabilities else run.capabilities[0]


def issue_inputs(run: BacktestRun, cap: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions, saliences, and salience × capability weights of every issue."""
    pos = np.array([i.position for i in run.issues])
    sal = np.array([np.nan_to_num(i.salience) for i in run.issues])
    ccap = "equal" if cap == "-" else cap
    capv = np.array([capability_vector(run.data, i, ccap, run.institutions)
                     for i in run.issues])
    return pos, sal, sal * capv


def calibrate_one(name: str, point: np.ndarray, train_point: dict[int, np.ndarray] | None,
                  pos: np.ndarray, sal: np.ndarray, weight: np.ndarray, y: np.ndarray,
                  folds: np.ndarray) -> Calibrated:
    """Fit on the training folds, predict the test fold, for every fold.

    ``train_point[k]`` gives the forecasts to learn from when fold k is the test
    fold (a combination's nested out-of-fold forecasts); by default the forecasts
    themselves (a model fits nothing to the outcomes).
    """
    n = len(y)
    share = D.position_support(pos, weight)
    P = np.full((n, 101), np.nan)
    fitted = {}
    cal = Calibrated(name, point, P, fitted, folds)
    for k in np.unique(folds):
        test = (folds == k) & ~np.isnan(point)
        train = folds != k
        m_tr = point if train_point is None else train_point[int(k)]
        em = D.fit(m_tr[train], share[train], D.spread(m_tr[train], pos[train], sal[train]),
                   y[train])
        fitted[int(k)] = em
        if test.any():
            P[test] = D.predictive(em, point[test], share[test],
                                   D.spread(point[test], pos[test], sal[test]))
            for lv in D.LEVELS:
                lo, hi = D.interval(P[test], em.level_for(lv))
                cal.lo.setdefault(lv, np.full(n, np.nan))[test] = lo
                cal.hi.setdefault(lv, np.full(n, np.nan))[test] = hi
    return cal


def calibrate_all(run: BacktestRun, stacks: list[StackResult]) -> list[Calibrated]:
    """One capability per model, and every combination, each out of fold."""
    y = run.outcome
    cap = primary_capability(run)
    pos, sal, w = issue_inputs(run, cap)
    folds = stacks[0].folds
    out = []
    for fc, c in run.columns():
        if c not in ("-", cap):
            continue
        out.append(calibrate_one(f"{fc.label}|{c}", run.forecasts[(fc.label, c)], None,
                                 pos, sal, w, y, folds))
    for s in stacks:
        out.append(calibrate_one(s.name, s.forecast, s.inner, pos, sal, w, y, folds))
    return out


def endpoints(y: np.ndarray) -> np.ndarray:
    return (y <= 0) | (y >= 100)


def coverage(cal: Calibrated, y: np.ndarray, level: float, mask: np.ndarray | None = None
             ) -> float:
    ok = cal.ok & (True if mask is None else mask)
    if not ok.any():
        return float("nan")
    lo, hi = cal.lo[level][ok], cal.hi[level][ok]
    return float(np.mean((y[ok] >= lo) & (y[ok] <= hi)))


def calibration_rows(cals: list[Calibrated], run: BacktestRun) -> list[dict[str, Any]]:
    """Per forecast: CRPS, coverage at each level, at the ends and by fold, width, PIT."""
    y = run.outcome
    ends = endpoints(y)
    rows = []
    for cal in cals:
        ok = cal.ok
        P = cal.P[ok]
        folds = sorted(cal.models)
        fold_of = cal.folds
        pos = np.array([i.position for i in run.issues])[ok]
        at_pos = np.any(pos == y[ok][:, None], axis=1)
        yi = np.rint(y[ok]).astype(int)
        p_true = P[np.arange(len(yi)), yi]
        # The position given the highest probability, among the actors' positions.
        share = D.position_support(pos, np.ones_like(pos))
        modal = np.argmax(np.where(share > 0, P, -1.0), axis=1)
        rows.append({
            "name": cal.name, "n": int(ok.sum()),
            "crps": float(D.crps(P, y[ok]).mean()),
            "mae": float(np.abs(cal.point[ok] - y[ok]).mean()),
            **{f"cover{int(lv * 100)}": coverage(cal, y, lv) for lv in D.LEVELS},
            "cover80_ends": coverage(cal, y, 0.8, ends),
            "n_ends": int((ok & ends).sum()),
            "cover80_folds": [coverage(cal, y, 0.8, fold_of == k) for k in folds],
            "width80": float(np.mean(cal.hi[0.8][ok] - cal.lo[0.8][ok])),
            "p_outcome": float(p_true[at_pos].mean()) if at_pos.any() else float("nan"),
            "modal_hit": float(np.mean(modal == yi)),
            "pit": np.histogram(D.pit(P, y[ok]), bins=PIT_BINS, range=(0, 1))[0].tolist(),
            "params": {int(k): m.as_dict() for k, m in cal.models.items()},
        })
    return rows


@dataclass(frozen=True)
class Comparison:
    candidate: str
    reference: str
    measure: str  # "abs error", "CRPS", "interval score 80%"
    diff: Difference


def comparisons(run: BacktestRun, stacks: list[StackResult], cals: list[Calibrated],
                seed: int = 0) -> tuple[str, list[Comparison]]:
    """Every forecast against the vote-weighted compromise, paired and clustered.

    Absolute error for every model, capability and combination; CRPS for every
    forecast with a distribution, against the compromise's own calibrated
    distribution and against its point forecast (whose CRPS is its absolute
    error); the 80% interval score against the trivial interval from the lowest to
    the highest actor position around the compromise.
    """
    y = run.outcome
    clusters = np.array([i.proposal for i in run.issues])
    ref_name = f"compromise|{primary_capability(run)}"
    ref = run.forecasts[("compromise", primary_capability(run))]
    ref_ae = np.abs(ref - y)
    pos = np.array([i.position for i in run.issues])
    rng_lo, rng_hi = np.nanmin(pos, axis=1), np.nanmax(pos, axis=1)
    ref_is = D.interval_score(rng_lo, rng_hi, y, 0.8)
    ref_cal = next(c for c in cals if c.name == ref_name)
    ref_crps = _crps(ref_cal, y)
    jobs: list[tuple[str, str, str, np.ndarray, np.ndarray]] = []
    for fc, c in run.columns():
        name = f"{fc.label}|{c}"
        if name != ref_name:
            jobs.append((name, ref_name, "abs error", np.abs(run.forecasts[(fc.label, c)] - y),
                         ref_ae))
    for s in stacks:
        jobs.append((s.name, ref_name, "abs error", np.abs(s.forecast - y), ref_ae))
    for cal in cals:
        cr = _crps(cal, y)
        jobs.append((cal.name, f"{ref_name} (point)", "CRPS", cr, ref_ae))
        if cal.name != ref_name:
            jobs.append((cal.name, ref_name, "CRPS", cr, ref_crps))
        isc = np.where(cal.ok, D.interval_score(cal.lo[0.8], cal.hi[0.8], y, 0.8), np.nan)
        jobs.append((cal.name, f"{ref_name} (range)", "interval score 80%", isc, ref_is))
    m = len(jobs)
    out = [Comparison(a, b, meas, clustered_difference(x, r, clusters, label=f"{a}|{b}|{meas}",
                                                       m=m, seed=seed))
           for a, b, meas, x, r in jobs]
    return ref_name, out


def _crps(cal: Calibrated, y: np.ndarray) -> np.ndarray:
    out = np.full(len(y), np.nan)
    out[cal.ok] = D.crps(cal.P[cal.ok], y[cal.ok])
    return out


def restrict(run: BacktestRun, keep: np.ndarray) -> BacktestRun:
    """The run on a subset of its issues (e.g. without the pre-registered held-out set)."""
    return replace(run, issues=[i for i, k in zip(run.issues, keep) if k],
                   forecasts={k: v[keep] for k, v in run.forecasts.items()})


def fit_for_scenarios(run: BacktestRun, note: str) -> dict[str, Any]:
    """Error models fitted on every issue of ``run`` (one per model, by model name), for
    intervals on any scenario (``stakes run --calibrated``, ``stakes seal``)."""
    y = run.outcome
    cap = primary_capability(run)
    pos, sal, w = issue_inputs(run, cap)
    share = D.position_support(pos, w)
    models: dict[str, Any] = {}
    for fc, c in run.columns():
        # One error model per model with its default options (a row with options set
        # by --set is labelled "model*" and left out); "mean" is the unweighted compromise.
        if c not in ("-", cap) or fc.label.endswith("*"):
            continue
        m = run.forecasts[(fc.label, c)]
        key = fc.label
        em = D.fit(m, share, D.spread(m, pos, sal), y)
        models[key] = {"n": int((~np.isnan(m)).sum()), **em.as_dict()}
    return {"calibrated_on": note, "issues": len(y), "capability": cap, "grid": "0..100",
            "models": models}
