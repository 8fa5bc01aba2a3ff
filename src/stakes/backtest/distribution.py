"""Predictive distributions over an issue scale: point mass on actors' positions and ends.

Most DEU III outcomes (64%) equal some actor's stated position, and 31% lie at an end
of the 0–100 scale, so a forecast that is only a point (or a point ± a symmetric
width) misdescribes the task.  Here every forecast becomes a distribution on the
grid 0, 1, …, 100 (DEU positions and outcomes are whole numbers; a scenario's scale is
mapped onto the grid) mixing two parts around a model's point forecast ``m``:

* **which position wins** (probability ``pi``): an actor's position ``v`` wins with
  probability proportional to ``share(v)**beta * exp(-|v - m| / (tau * b))``, where
  ``share(v)`` is the share of capability × salience held by the actors standing at
  ``v``: the spirit of KTAB's probabilistic Condorcet elections (Wise & Bankes 2015),
  with support and closeness to the forecast in place of pairwise votes;
* **a compromise elsewhere** (``1 - pi``): a Laplace error around ``m`` of scale
  ``b = a + s * spread``, where ``spread`` is the salience-weighted mean distance of
  the positions from ``m``; the tails beyond 0 and 100 are censored onto the ends,
  which is how the ends get point mass where the forecast lies near them.

* **an extreme position** (``ends``): the lowest or the highest stated position, each
  weighted by its closeness to ``m`` as above: outcomes at an end of the scale are
  more common (31%) than the share of support standing there suggests.

The parameters ``(a, s, pi, tau, beta, ends)`` are fitted by minimising the mean CRPS
(Gneiting & Raftery 2007) on issues whose outcomes are known; the backtest fits them
on training folds only (docs/backtest.md).  Intervals are the shortest intervals holding
the distribution's probability at a nominal level that is itself recalibrated on the
training issues (discrete distributions over-cover at their nominal level).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import minimize

GRID = np.arange(101, dtype=float)
LEVELS = (0.5, 0.8, 0.9)


@dataclass(frozen=True)
class ErrorModel:
    """Parameters of the predictive distribution (module docstring), and the nominal
    levels that give the target coverage on the issues it was fitted on."""

    a: float = 8.0  # error scale where the actors agree (points of the 0–100 scale)
    s: float = 0.5  # error scale per point of spread
    pi: float = 0.5  # probability that an actor's position wins outright
    tau: float = 0.5  # closeness kernel of the position part, in units of the error scale
    beta: float = 1.0  # how much support matters to which position wins
    ends: float = 0.1  # probability that one of the two extreme positions wins
    nominal: tuple[tuple[float, float], ...] = ()  # (target level, level to ask for)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["nominal"] = [list(x) for x in self.nominal]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ErrorModel":
        d = dict(d)
        d["nominal"] = tuple(tuple(float(v) for v in x) for x in d.get("nominal", ()))
        return cls(**d)

    def level_for(self, level: float) -> float:
        for target, use in self.nominal:
            if abs(target - level) < 1e-9:
                return use
        return level


def spread(m: np.ndarray, pos: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Weighted mean distance of the positions (NaN: absent) from each forecast ``m``."""
    w = np.where(np.isnan(pos), 0.0, np.nan_to_num(weight))
    dev = np.abs(np.nan_to_num(pos) - m[:, None])
    tot = w.sum(axis=1)
    cnt = (~np.isnan(pos)).sum(axis=1)
    plain = np.where(np.isnan(pos), 0.0, dev).sum(axis=1) / np.maximum(cnt, 1)
    return np.where(tot > 0, (w * dev).sum(axis=1) / np.where(tot > 0, tot, 1.0), plain)


def position_support(pos: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """(n, 101) share of weight standing at each grid point (positions rounded to it)."""
    n = pos.shape[0]
    ok = ~np.isnan(pos)
    idx = np.clip(np.rint(np.nan_to_num(pos)), 0, 100).astype(int)
    w = np.where(ok, np.nan_to_num(weight), 0.0)
    # An issue on which every present actor has weight 0 falls back to counting actors.
    none = w.sum(axis=1) <= 0
    w[none] = ok[none].astype(float)
    out = np.zeros((n, 101))
    np.add.at(out, (np.repeat(np.arange(n), pos.shape[1]), idx.ravel()), w.ravel())
    tot = out.sum(axis=1, keepdims=True)
    return out / np.where(tot > 0, tot, 1.0)


class Prepared:
    """What the distribution needs that does not depend on the parameters."""

    def __init__(self, m: np.ndarray, share: np.ndarray, sprd: np.ndarray):
        self.m = np.clip(np.asarray(m, dtype=float), 0, 100)[:, None]
        self.sprd = np.asarray(sprd, dtype=float)[:, None]
        self.dist = np.abs(GRID[None, :] - self.m)
        self.upper = np.append(GRID, 100.5)[None, :] - 0.5 - self.m
        self.has = share > 0
        self.logshare = np.where(self.has, np.log(np.where(self.has, share, 1.0)), 0.0)
        self.any = self.has.any(axis=1)
        rows = np.arange(len(share))
        first = np.argmax(self.has, axis=1)
        last = 100 - np.argmax(self.has[:, ::-1], axis=1)
        self.ends = (rows, first, last)

    def __call__(self, em: ErrorModel) -> np.ndarray:
        b = np.maximum(em.a + em.s * self.sprd, 1e-3)
        z = self.upper / b
        edges = np.where(z < 0, 0.5 * np.exp(np.minimum(z, 0)),
                         1 - 0.5 * np.exp(-np.maximum(z, 0)))
        edges[:, 0], edges[:, -1] = 0.0, 1.0  # censoring: the tails fall on the ends
        cont = np.diff(edges, axis=1)
        kern = np.where(self.has, np.exp(em.beta * self.logshare - self.dist / (em.tau * b)),
                        0.0)
        tot = kern.sum(axis=1, keepdims=True)
        # Without positions (an empty issue) everything goes to the compromise part.
        posm = np.where(self.any[:, None], kern / np.where(tot > 0, tot, 1.0), cont)
        # The extreme positions, each weighted by its closeness to the forecast.
        rows, first, last = self.ends
        ext = np.zeros_like(cont)
        bb = b[:, 0] * em.tau
        ext[rows, first] += np.exp(-self.dist[rows, first] / bb)
        ext[rows, last] += np.exp(-self.dist[rows, last] / bb)
        etot = ext.sum(axis=1, keepdims=True)
        ext = np.where(self.any[:, None] & (etot > 0), ext / np.where(etot > 0, etot, 1.0), cont)
        rest = max(0.0, 1 - em.pi - em.ends)
        return rest * cont + em.pi * posm + em.ends * ext


def predictive(em: ErrorModel, m: np.ndarray, share: np.ndarray, sprd: np.ndarray
               ) -> np.ndarray:
    """(n, 101) probabilities of each grid point as the outcome."""
    return Prepared(m, share, sprd)(em)


def crps(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """CRPS of grid distributions against outcomes (any real y in 0–100).

    On the unit grid the CDF is a step function, so the integral of (F − 1{·≥y})²
    is exact: F is constant on [g, g + 1) and the indicator changes once at y.
    """
    y = np.asarray(y, dtype=float)[:, None]
    F = np.cumsum(p, axis=1)[:, :100]
    lo = GRID[None, :100]
    # Length of [g, g + 1) below y and above it.
    below = np.clip(y - lo, 0.0, 1.0)
    return (below * F ** 2 + (1 - below) * (F - 1) ** 2).sum(axis=1)


def crps_point(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """CRPS of a point forecast: its absolute error."""
    return np.abs(np.asarray(x, dtype=float) - np.asarray(y, dtype=float))


def quantile(p: np.ndarray, q: float) -> np.ndarray:
    """Smallest grid point with F >= q (per row)."""
    F = np.cumsum(p, axis=1)
    return GRID[np.argmax(F >= q - 1e-12, axis=1)]


def central_interval(p: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Central interval [F⁻¹((1−level)/2), F⁻¹((1+level)/2)]."""
    return quantile(p, (1 - level) / 2), quantile(p, (1 + level) / 2)


def interval(p: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Shortest grid interval [lo, hi] holding probability ≥ ``level`` (per row).

    With point masses the central interval cuts an end of the scale off whenever the
    end holds less than (1 − level)/2, however close the rest of the interval comes to
    it; the shortest interval (the highest-density region when it is one piece; Hyndman
    1996) takes the end in when its mass is worth its width.  Ties go to the interval
    holding more probability.
    """
    p = np.asarray(p, dtype=float)
    n = p.shape[0]
    Fb = np.hstack([np.zeros((n, 1)), np.cumsum(p, axis=1)])  # Fb[:, j] = P(X < j)
    # Offsetting row r by 2r makes all rows one sorted array: one searchsorted finds,
    # for every row and lower end, the first upper end that holds the level.
    off = 2.0 * np.arange(n)[:, None]
    need = Fb[:, :101] + level - 1e-12
    j = np.searchsorted((Fb + off).ravel(), (need + off).ravel()).reshape(n, 101)
    j -= 102 * np.arange(n)[:, None]
    ok = need <= Fb[:, 101:102]
    hi = np.clip(j - 1, 0, 100)
    mass = np.take_along_axis(Fb, hi + 1, axis=1) - Fb[:, :101]
    key = np.where(ok, (hi - GRID[None, :]) * 4.0 - mass, np.inf)
    best = np.argmin(key, axis=1)
    lo = GRID[best]
    hi = hi[np.arange(n), best].astype(float)
    return lo, hi


def interval_score(lo: np.ndarray, hi: np.ndarray, y: np.ndarray, level: float) -> np.ndarray:
    """Interval score of a central (level) interval (Gneiting & Raftery 2007, eq. 43)."""
    alpha = 1 - level
    return (hi - lo) + (2 / alpha) * (np.maximum(lo - y, 0) + np.maximum(y - hi, 0))


def pit(p: np.ndarray, y: np.ndarray, seed: int = 0) -> np.ndarray:
    """Randomised PIT of integer outcomes: F(y−1) + V·p(y), V uniform (Czado et al. 2009)."""
    yi = np.clip(np.rint(y), 0, 100).astype(int)
    F = np.cumsum(p, axis=1)
    rows = np.arange(len(yi))
    below = np.where(yi > 0, F[rows, np.maximum(yi - 1, 0)], 0.0)
    v = np.random.default_rng(seed).uniform(size=len(yi))
    return below + v * p[rows, yi]


_START = np.array([math.log(8.0), math.log(0.5), 0.0, math.log(0.5), 1.0, -1.0])


def _unpack(th: np.ndarray) -> ErrorModel:
    th = np.clip(th, -8.0, 8.0)  # keeps exp() finite wherever the optimiser wanders
    # The three mixture weights through a softmax (the compromise part's logit is 0).
    z = np.exp(np.array([0.0, th[2], th[5]]) - max(0.0, th[2], th[5]))
    z /= z.sum()
    return ErrorModel(a=float(np.exp(th[0])), s=float(np.exp(th[1])), pi=float(z[1]),
                      tau=float(np.exp(th[3])), beta=float(np.clip(th[4], 0.0, 5.0)),
                      ends=float(z[2]))


def fit(m: np.ndarray, share: np.ndarray, sprd: np.ndarray, y: np.ndarray,
        levels: tuple[float, ...] = LEVELS) -> ErrorModel:
    """Minimum-CRPS parameters on these issues, and the nominal levels that cover them."""
    ok = ~np.isnan(m) & ~np.isnan(y)
    m, share, sprd, y = m[ok], share[ok], sprd[ok], y[ok]
    if len(y) < 10:
        return ErrorModel(nominal=tuple((lv, lv) for lv in levels))

    prep = Prepared(m, share, sprd)
    below = np.clip(y[:, None] - GRID[None, :100], 0.0, 1.0)

    def loss(th: np.ndarray) -> float:
        F = np.cumsum(prep(_unpack(th)), axis=1)[:, :100]
        return float((below * F ** 2 + (1 - below) * (F - 1) ** 2).sum(axis=1).mean())

    res = minimize(loss, _START, method="Nelder-Mead",
                   options={"xatol": 1e-2, "fatol": 1e-3, "maxiter": 400})
    em = _unpack(res.x)
    p = prep(em)
    nominal = []
    for lv in levels:
        # The smallest nominal level whose intervals cover at least the target share of
        # these issues (coverage grows with the level in steps).
        use = lv
        for cand in np.arange(0.05, 0.995, 0.01):
            lo, hi = interval(p, float(cand))
            if np.mean((y >= lo) & (y <= hi)) >= lv:
                use = float(round(cand, 2))
                break
        nominal.append((lv, use))
    return ErrorModel(em.a, em.s, em.pi, em.tau, em.beta, em.ends, tuple(nominal))


# --- intervals on any scenario, from the error models fitted on DEU III ---------------

CALIBRATION = "calibration-deu3.json"  # in stakes.data; written by stakes backtest deu3


def load_calibration(path: str | None = None) -> dict:
    import json
    from importlib import resources

    if path is None:
        text = (resources.files("stakes.data") / CALIBRATION).read_text(encoding="utf-8")
    else:
        from pathlib import Path

        text = Path(path).read_text(encoding="utf-8")
    return json.loads(text)


def scenario_distribution(calib: dict, model: str, forecast: float, position: np.ndarray,
                          salience: np.ndarray, capability: np.ndarray, lo: float, hi: float
                          ) -> tuple[np.ndarray, np.ndarray, ErrorModel]:
    """(values on the issue's scale, probabilities, error model) of one forecast.

    The scale is mapped onto the 0–100 grid the error models were fitted on; a
    model without an error model of its own gets the compromise's.
    """
    entry = calib["models"].get(model) or calib["models"]["compromise"]
    em = ErrorModel.from_dict({k: v for k, v in entry.items() if k != "n"})
    width = hi - lo
    to_grid = lambda x: (np.asarray(x, dtype=float) - lo) / width * 100.0  # noqa: E731
    pos = to_grid(position)[None, :]
    sal = np.nan_to_num(np.asarray(salience, dtype=float))[None, :]
    w = sal * np.nan_to_num(np.asarray(capability, dtype=float))[None, :]
    m = to_grid([forecast])
    p = predictive(em, m, position_support(pos, w), spread(m, pos, sal))[0]
    return lo + GRID / 100.0 * width, p, em


def scale_interval(values: np.ndarray, p: np.ndarray, em: ErrorModel, level: float
                   ) -> tuple[float, float]:
    lo, hi = interval(p[None, :], em.level_for(level))
    idx = np.searchsorted(GRID, [lo[0], hi[0]])
    return float(values[idx[0]]), float(values[idx[1]])


def scenario_issue_distribution(calib: dict, scn, issue_id: str, model: str, forecast: float
                                ) -> tuple[np.ndarray, np.ndarray, ErrorModel]:
    """:func:`scenario_distribution` for an issue of a scenario (its present actors)."""
    from ..scenario.arrays import to_problem

    pr = to_problem(scn, [issue_id])
    return scenario_distribution(calib, model, forecast, pr.position[:, 0], pr.salience[:, 0],
                                 pr.capability[:, 0], float(pr.lo[0]), float(pr.hi[0]))
