"""Paired comparisons with a bootstrap clustered by proposal.

The issues of one proposal are decided together, so their errors are not
independent; resampling issues one by one would understate the uncertainty of a
mean difference.  The cluster (block) bootstrap resamples whole proposals with
replacement (Cameron, Gelbach & Miller 2008; Field & Welsh 2007) and reads the 95%
interval off the percentiles of the resampled mean differences.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

B = 4000


@dataclass(frozen=True)
class Difference:
    """Mean of (candidate loss − reference loss) over the issues both forecast."""

    n: int
    clusters: int
    mean: float
    lo: float  # 95% percentile interval
    hi: float
    lo_adj: float  # the interval at level 1 − 0.05/m (Bonferroni over m comparisons)
    hi_adj: float


def _seed(label: str, seed: int) -> int:
    # The same comparison gets the same resamples whatever else is compared.
    return int.from_bytes(hashlib.sha256(f"{seed}:{label}".encode()).digest()[:8], "little")


def clustered_difference(cand: np.ndarray, ref: np.ndarray, clusters: np.ndarray, *,
                         label: str = "", m: int = 1, seed: int = 0, b: int = B) -> Difference:
    """Paired mean difference ``cand − ref`` with clustered-bootstrap 95% intervals."""
    cand, ref = np.asarray(cand, dtype=float), np.asarray(ref, dtype=float)
    ok = ~np.isnan(cand) & ~np.isnan(ref)
    d = cand[ok] - ref[ok]
    if len(d) == 0:
        nan = float("nan")
        return Difference(0, 0, nan, nan, nan, nan, nan)
    _, cid = np.unique(np.asarray(clusters)[ok], return_inverse=True)
    c = int(cid.max()) + 1
    sums = np.bincount(cid, weights=d, minlength=c)
    counts = np.bincount(cid, minlength=c).astype(float)
    rng = np.random.default_rng(_seed(label, seed))
    draws = rng.multinomial(c, np.full(c, 1.0 / c), size=b).astype(float)
    means = (draws @ sums) / (draws @ counts)
    adj = 0.05 / max(1, m)
    lo, hi, lo_a, hi_a = np.quantile(means, [0.025, 0.975, adj / 2, 1 - adj / 2])
    return Difference(int(len(d)), c, float(d.mean()), float(lo), float(hi), float(lo_a),
                      float(hi_a))
