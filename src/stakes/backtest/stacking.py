"""Combining forecasts: stacking with grouped cross-validation, and conformal intervals.

Stacking (Wolpert 1992; Breiman 1996) learns how much to trust each model from
issues whose outcomes are known.  Here the combination is convex (non-negative
weights that sum to 1), so a stacked forecast stays within the range of its
inputs and each weight reads as a share of trust.  The default fit minimises
the absolute error, the score the DEU literature reports; ``nnls`` minimises the
squared error (Breiman 1996's non-negative least squares).

No leakage: folds hold whole proposals (the issues of one legislative proposal
are decided together and share actors' alignments), the weights used on a test
fold are fitted on the other folds only, and the interval width for a test fold
is the conformal quantile (Vovk et al. 2005; Lei et al. 2018) of residuals that
the training folds themselves produce out of fold (nested cross-validation).
The test fold's outcomes are used only to score.

Missing inputs: a model that cannot forecast an issue (e.g. one that needs a
status quo) leaves a NaN.  Each test issue gets a stack fitted on the training
issues that have every input the test issue has, using just those inputs.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal, Sequence

import numpy as np
from scipy.optimize import linprog, nnls
from scipy.sparse import csr_matrix, hstack, identity, vstack

from ..errors import ModelError, OptionError
from .metrics import IntervalScore, Score, interval_score, score

Loss = Literal["lad", "nnls"]


def grouped_folds(groups: Sequence[str], k: int, seed: int = 0) -> np.ndarray:
    """Fold number (0..k-1) of every row; all rows of a group share one fold.

    Groups are taken in a seeded random order and each goes to the fold with the
    fewest rows so far, so folds are balanced in rows, not only in groups.
    """
    groups = list(groups)
    uniq = sorted(set(groups))
    if k < 2:
        raise OptionError(f"--folds {k}: need at least 2 folds")
    if k > len(uniq):
        raise OptionError(f"--folds {k}: only {len(uniq)} groups (proposals) to spread over folds")
    size = Counter(groups)
    load = np.zeros(k)
    fold_of: dict[str, int] = {}
    for j in np.random.default_rng(seed).permutation(len(uniq)):
        g = uniq[int(j)]
        f = int(np.argmin(load))
        fold_of[g] = f
        load[f] += size[g]
    return np.array([fold_of[g] for g in groups], dtype=int)


def fit_weights(A: np.ndarray, y: np.ndarray, loss: Loss = "lad") -> np.ndarray:
    """Convex weights w (w >= 0, sum 1) minimising Σ|y − Aw| (lad) or Σ(y − Aw)² (nnls)."""
    A = np.asarray(A, dtype=float)
    y = np.asarray(y, dtype=float)
    n, k = A.shape
    if n == 0:
        raise ModelError("stacking: no training rows")
    if k == 1:
        return np.ones(1)
    if loss == "nnls":
        # The sum-to-one constraint as a heavily weighted extra row.
        lam = 1e3 * max(1.0, float(np.abs(A).max())) * math.sqrt(n)
        w, _ = nnls(np.vstack([A, np.full((1, k), lam)]), np.append(y, lam))
        return w / w.sum() if w.sum() > 0 else np.full(k, 1.0 / k)
    if loss != "lad":
        raise OptionError(f"stacking loss {loss!r}: expected lad or nnls")
    # min Σ(u + v)  s.t.  A w + u − v = y,  Σ w = 1,  w, u, v >= 0
    c = np.concatenate([np.zeros(k), np.ones(2 * n)])
    eye = identity(n, format="csr")
    a_eq = vstack([hstack([csr_matrix(A), eye, -eye]),
                   csr_matrix(np.concatenate([np.ones(k), np.zeros(2 * n)])[None, :])])
    res = linprog(c, A_eq=a_eq, b_eq=np.append(y, 1.0), bounds=(0, None), method="highs")
    if res.status != 0:
        raise ModelError(f"stacking: the weight fit failed ({res.message})")
    w = np.clip(res.x[:k], 0.0, None)
    return w / w.sum()


def conformal_quantile(scores: np.ndarray, alpha: float) -> float:
    """The ⌈(m+1)(1−α)⌉-th smallest of m scores (split-conformal; Lei et al. 2018)."""
    s = np.sort(np.asarray(scores, dtype=float)[~np.isnan(scores)])
    m = len(s)
    rank = math.ceil((m + 1) * (1.0 - alpha))
    if m == 0 or rank > m:
        return math.inf
    return float(s[rank - 1])


class _Stacker:
    """Fits, per availability pattern of the inputs, on a set of training rows."""

    def __init__(self, F: np.ndarray, y: np.ndarray, loss: Loss, min_rows: int):
        self.F, self.y, self.loss, self.min_rows = F, y, loss, min_rows
        self.avail = ~np.isnan(F)
        self.always = self.avail.all(axis=0)
        if not self.always.any():
            raise ModelError("stacking needs at least one forecast available on every issue")
        self._cache: dict[tuple[bytes, bytes], tuple[np.ndarray, np.ndarray]] = {}

    def fit(self, train: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(columns used, weights) for inputs ``cols`` on rows ``train``."""
        key = (np.packbits(train).tobytes(), np.packbits(cols).tobytes())
        if key not in self._cache:
            rows = train & self.avail[:, cols].all(axis=1)
            use = cols
            if rows.sum() < self.min_rows + int(cols.sum()):
                use, rows = self.always, train
            idx = np.flatnonzero(use)
            w = fit_weights(self.F[np.ix_(rows, idx)], self.y[rows], self.loss)
            self._cache[key] = (idx, w)
        return self._cache[key]

    def predict(self, train: np.ndarray, test: np.ndarray) -> np.ndarray:
        out = np.full(len(self.y), np.nan)
        test_idx = np.flatnonzero(test)
        patterns: dict[bytes, list[int]] = {}
        for i in test_idx:
            patterns.setdefault(np.packbits(self.avail[i]).tobytes(), []).append(i)
        for rows in patterns.values():
            idx, w = self.fit(train, self.avail[rows[0]])
            out[rows] = self.F[np.ix_(rows, idx)] @ w
        return out


@dataclass
class StackResult:
    """Out-of-fold forecasts and intervals of one stack, with their scores."""

    name: str
    inputs: tuple[str, ...]
    forecast: np.ndarray  # out of fold
    lo: np.ndarray
    hi: np.ndarray
    folds: np.ndarray
    score: Score
    interval: IntervalScore
    alpha: float
    weights: dict[str, float] = field(default_factory=dict)  # fitted on all issues
    weights_n: int = 0  # issues the reported weights were fitted on
    # Per test fold k: out-of-fold forecasts of the training rows (nested CV), so that
    # anything fitted to the stack's errors on fold k never sees fold k.
    inner: dict[int, np.ndarray] = field(default_factory=dict)


def cross_validated_stack(
    name: str,
    F: np.ndarray,
    inputs: Sequence[str],
    y: np.ndarray,
    folds: np.ndarray,
    *,
    loss: Loss = "lad",
    alpha: float = 0.2,
    scale: np.ndarray | None = None,
    bounds: tuple[float, float] = (0.0, 100.0),
    min_rows: int = 20,
) -> StackResult:
    """Grouped cross-validation of a convex stack, with (1 − alpha) conformal intervals.

    ``scale`` (positive, one per row, computed without outcomes) makes the
    intervals adaptive: the conformity score is |residual| / scale, so the
    interval is forecast ± q·scale (normalised conformal; Lei et al. 2018).
    """
    F = np.asarray(F, dtype=float)
    y = np.asarray(y, dtype=float)
    if F.shape != (len(y), len(inputs)):
        raise ModelError(f"stacking: {F.shape} inputs for {len(y)} issues and {len(inputs)} names")
    if not 0 < alpha < 1:
        raise OptionError(f"interval level: alpha {alpha} outside (0, 1)")
    scale = np.ones(len(y)) if scale is None else np.asarray(scale, dtype=float)
    if np.any(~(scale > 0)):
        raise ModelError("stacking: interval scales must be positive")
    st = _Stacker(F, y, loss, min_rows)
    pred = np.full(len(y), np.nan)
    lo = np.full(len(y), np.nan)
    hi = np.full(len(y), np.nan)
    fold_ids = np.unique(folds)
    inners: dict[int, np.ndarray] = {}
    for k in fold_ids:
        test = folds == k
        train = ~test
        pred[test] = st.predict(train, test)[test]
        inner = np.full(len(y), np.nan)
        for j in fold_ids:
            if j == k:
                continue
            held = folds == j
            inner[held] = st.predict(train & ~held, held)[held]
        inners[int(k)] = inner
        q = conformal_quantile(np.abs(y[train] - inner[train]) / scale[train], alpha)
        lo[test] = np.clip(pred[test] - q * scale[test], *bounds)
        hi[test] = np.clip(pred[test] + q * scale[test], *bounds)
    # Descriptive weights: the stack a user would apply to a new issue that has
    # every input of the most common pattern, fitted on all issues.
    common = Counter(np.packbits(r).tobytes() for r in st.avail).most_common(1)[0][0]
    cols = np.unpackbits(np.frombuffer(common, dtype=np.uint8))[: F.shape[1]].astype(bool)
    everyone = np.ones(len(y), dtype=bool)
    idx, w = st.fit(everyone, cols)
    used = int((everyone & st.avail[:, idx].all(axis=1)).sum())
    weights = {inputs[i]: float(v) for i, v in zip(idx, w) if v > 1e-6}
    return StackResult(name, tuple(inputs), pred, lo, hi, folds, score(pred, y),
                       interval_score(lo, hi, y), alpha, weights, used, inners)
