"""Batched kernels: many runs of a single-issue model at once.

Each function here takes arrays with a leading batch axis ``B`` (one row per
run, ``n`` actors per row) and is written against an array namespace ``xp``
(numpy or ``jax.numpy``).  A single run is a batch of one: the models call
these same functions.

* EUM rounds (Bueno de Mesquita 1994; Scholz et al. 2011): :func:`run_rounds`
  runs k rounds of :func:`stakes.kernels.eum.eum_round` on every run, in tiles
  through a :mod:`backend <.backend>`; the stopping rules and levers are the
  round driver's (:mod:`stakes.driver`).
* The baselines (compromise, weighted median; spec §5.1, 5.2) and the Nash
  bargaining solution on one issue (spec §5.4), the only implementations of
  each, used by :mod:`stakes.models.baselines`, :mod:`stakes.models.nbs` and
  the ensembles.

This module imports nothing but numpy (and, through the backend, JAX).
"""

from __future__ import annotations

import numpy as np

from .backend import Backend, get_backend
from .eum import KernelOptions

# --------------------------------------------------------------------------
# Tiles


def _tiles(backend: Backend, count: int) -> list[tuple[int, int, int]]:
    """(start, stop, size) of the calls that cover ``count`` runs.

    A padded backend compiles once per shape, so calls have ``tile`` or
    ``small_tile`` runs; a small remainder goes in small tiles when they cost
    less than one padded large tile (small tiles run about 1.7 times slower
    per run on a 2-core CPU: less parallel work per call).
    """
    big, small = backend.tile, backend.small_tile
    out = []
    start = 0
    while count - start >= big:
        out.append((start, start + big, big))
        start += big
    rem = count - start
    if rem > 0:
        if not backend.pads:
            out.append((start, count, rem))
        else:
            n_small = -(-rem // small)
            if n_small * small * 1.7 < big:
                for k in range(n_small):
                    a = start + k * small
                    out.append((a, min(count, a + small), small))
            else:
                out.append((start, count, big))
    return out


def run_rounds(backend: Backend, x, c, s, lo, delta, n_rounds: int, opts: KernelOptions,
               delta_fixed: bool) -> tuple[np.ndarray, np.ndarray]:
    """``n_rounds`` rounds of every run, in tiles: positions (R, B, n), medians (R, B)."""
    count = len(x)
    handles = []
    for a, b, size in _tiles(backend, count):
        idx = np.arange(a, b)
        if size > b - a:  # pad with copies of the tile's first run
            idx = np.concatenate([idx, np.full(size - (b - a), a)])
        handles.append((b - a, backend.submit(x[idx], c[idx], s[idx], lo[idx], delta[idx],
                                              n_rounds=n_rounds, opts=opts,
                                              delta_fixed=delta_fixed)))
    pos, med = [], []
    for real, h in handles:  # submit every tile first: JAX runs them while we wait
        p, m = backend.fetch(h)
        pos.append(p[:, :real])
        med.append(m[:, :real])
    n = x.shape[-1]
    if not pos:
        return np.zeros((n_rounds, 0, n)), np.zeros((n_rounds, 0))
    return np.concatenate(pos, axis=1), np.concatenate(med, axis=1)


def eum_fixed_rounds(x, c, s, n_rounds: int, opts: KernelOptions = KernelOptions(),
                     backend: Backend | str = "numpy", delta_fixed: bool = True) -> np.ndarray:
    """Positions after exactly ``n_rounds`` rounds (no stopping rules), (B, n).

    The plain kernel throughput, for benchmarks: with JAX the rounds of a
    tile run inside one compiled ``lax.scan``.
    """
    be = get_backend(backend) if isinstance(backend, str) else backend
    x = np.asarray(x, dtype=float)
    lo = np.min(x, axis=-1)
    pos, _ = run_rounds(be, x, np.asarray(c, float), np.asarray(s, float), lo,
                        np.max(x, axis=-1) - lo, n_rounds, opts, delta_fixed)
    return pos[-1]


# --------------------------------------------------------------------------
# Baselines and the Nash bargaining solution (spec §5.1, 5.2, 5.4)


def weights(xp, c, s, how: str):
    """Weights of the baselines (cs, s, c or equal; spec §5.1) and of the NBS (spec §5.4)."""
    if how == "cs":
        return c * s
    if how == "s":
        return s
    if how == "c":
        return c
    if how == "equal":
        return xp.ones_like(c)
    raise ValueError(f"weights={how!r}; expected cs, s, c or equal")


def compromise(xp, x, w):
    """Row-wise weighted mean; the plain mean where the weights sum to 0 (Achen 2006).

    NaN for rows without actors (a lever may remove every one).
    """
    if x.shape[-1] == 0:
        return xp.full(x.shape[:-1], xp.nan)
    tot = xp.sum(w, axis=-1)
    safe = xp.where(tot > 0, tot, 1.0)
    return xp.where(tot > 0, xp.sum(w * x, axis=-1) / safe, xp.mean(x, axis=-1))


def weighted_median(xp, x, w, tie: str = "lower"):
    """Row-wise weighted median.

    The first sorted position at which the cumulative weight reaches half the
    total; with ``midpoint``, an exact half averages with the next distinct
    position (Thomson et al. 2006; spec §5.2).
    """
    n = x.shape[-1]
    if n == 0:  # no actor left (a lever may remove every one)
        return xp.full(x.shape[:-1], xp.nan)
    order = xp.argsort(x, axis=-1, stable=True)
    xs = xp.take_along_axis(x, order, axis=-1)
    ws = xp.take_along_axis(w, order, axis=-1)
    total = xp.sum(ws, axis=-1, keepdims=True)
    ws = xp.where(total <= 0, 1.0, ws)
    total = xp.where(total <= 0, float(n), total)
    cum = xp.cumsum(ws, axis=-1)
    half = total / 2.0
    reach = cum >= half * (1 - 1e-12)
    k = xp.where(xp.any(reach, axis=-1), xp.argmax(reach, axis=-1), n - 1)
    med = xp.take_along_axis(xs, k[..., None], axis=-1)[..., 0]
    if tie == "lower":
        return med
    if tie != "midpoint":
        raise ValueError(f"median_tie={tie!r}; expected lower or midpoint")
    ck = xp.take_along_axis(cum, k[..., None], axis=-1)[..., 0]
    exact = xp.abs(ck - half[..., 0]) <= 1e-12 * total[..., 0]
    later = (xp.arange(n) > k[..., None]) & (xs > med[..., None])
    nxt = xp.min(xp.where(later, xs, xp.inf), axis=-1)
    return xp.where(exact & xp.any(later, axis=-1), 0.5 * (med + nxt), med)


NBS_ITERATIONS = 200


def nbs_issue(xp, x, s, w, q, lo: float, hi: float, kappa: int):
    """Row-wise Nash bargaining solution on one issue (Nash 1950; spec §5.4).

    On one issue actor i gains exactly when |y − x_i| < |q − x_i|, so the
    feasible set is an interval, on which the objective is concave: its
    (sub)gradient falls through zero exactly once, and bisection on its sign
    reaches float precision, which a search on the flat objective itself
    cannot (about sqrt(eps) in the location).  The bisection runs for every
    row at once, each row frozen once its interval stops shrinking.  Actors
    with zero weight or salience are indifferent, not veto players.  ``q`` is (B,) or a scalar.
    Returns (solution (B,), feasible (B,) bool); infeasible rows get q.
    """
    q = xp.zeros(x.shape[:-1]) + q
    active = (w > 0) & (s > 0)
    r = xp.abs(q[..., None] - x)
    left = xp.maximum(lo, xp.max(xp.where(active, x - r, -xp.inf), axis=-1))
    right = xp.minimum(hi, xp.min(xp.where(active, x + r, xp.inf), axis=-1))
    ok = xp.any(active, axis=-1) & (left < right)
    rk = r**kappa

    def slope(y):
        dev = y[..., None] - x
        gain = s * (rk - xp.abs(dev) ** kappa)
        dgain = -s * kappa * xp.abs(dev) ** (kappa - 1) * xp.sign(dev)
        term = xp.where(active, w * dgain / xp.where(active, gain, 1.0), 0.0)
        return xp.sum(term, axis=-1)

    a = xp.where(ok, left, 0.0)
    b = xp.where(ok, right, 1.0)
    live = ok
    # Rows that are infeasible or already frozen may divide by a zero gain;
    # their slope is never used (the scalar solver divides the same way).
    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(NBS_ITERATIONS):
            mid = 0.5 * (a + b)
            live = live & (mid > a) & (mid < b)
            up = slope(mid) > 0
            a = xp.where(live & up, mid, a)
            b = xp.where(live & ~up, mid, b)
    return xp.where(ok, 0.5 * (a + b), q), ok
