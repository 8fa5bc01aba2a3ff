"""Batched drivers: many runs of a single-issue model at once.

Each function here takes arrays with a leading batch axis ``B`` (one row per
run, ``n`` actors per row) and returns one forecast per run, identical to
what the model's own ``run`` returns for that row (to rounding).

EUM (Bueno de Mesquita 1994; Scholz et al. 2011).  The round step is
:func:`stakes.kernels.eum.eum_round`, run by a :mod:`backend <.backend>`;
this module adds the stopping rules of spec §2.9 for every run
separately.  Runs that stop are removed from the batch after each round (the
batch is compacted on the host), so a run costs the rounds it needs and the
batch ends with its slowest run.  Runs from several jobs (issues, levers)
with the same number of actors share one batch, so that the tail of one job
fills the tiles of another.  Lever steps are host callbacks applied between
rounds to all runs of a job at once; no stopping rule applies before the last
lever, exactly as in :class:`stakes.models.eum.EUM`.

The compromise, median and Nash bargaining kernels are written against an
array namespace ``xp`` (numpy or ``jax.numpy``); they are cheap next to the
EUM and are normally run with numpy.

This module imports nothing but numpy (and, through the backend, JAX).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from .backend import Backend, get_backend
from .eum import CYCLE_QUANTUM, KernelOptions, median_position

# Stop codes of EUMBatchResult.stop.
MAX_ROUNDS, CONVERGED, CYCLE = 0, 1, 2
STOP_NAMES = ("max_rounds", "converged", "cycle")

# A lever step: (x, c, s) of every run of a job -> the transformed arrays (the
# number of columns may change when actors enter or leave).
LeverFn = Callable[[np.ndarray, np.ndarray, np.ndarray],
                   tuple[np.ndarray, np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class EUMSettings:
    """Everything but the per-round options that decides a run (spec §2.9, 2.10)."""

    opts: KernelOptions = KernelOptions()
    max_rounds: int = 50
    tol: float = 1e-6
    cycle_detection: bool = True
    delta_fixed: bool = True
    forecast: str = "median"  # "median" | "mean"
    cycle_forecast: str = "last"  # "last" | "cycle_mean"

    def __post_init__(self) -> None:
        if self.max_rounds < 1:
            raise ValueError(f"max_rounds={self.max_rounds}; expected at least 1")
        if self.forecast not in ("median", "mean"):
            raise ValueError(f"forecast={self.forecast!r}; expected median or mean")
        if self.cycle_forecast not in ("last", "cycle_mean"):
            raise ValueError(f"cycle_forecast={self.cycle_forecast!r}; expected last or cycle_mean")


@dataclass
class EUMJob:
    """Runs of one issue under one lever schedule: arrays (B, n) and lever steps by round."""

    x: np.ndarray
    c: np.ndarray
    s: np.ndarray
    levers: Mapping[int, LeverFn] = field(default_factory=dict)


@dataclass
class EUMBatchResult:
    forecast: np.ndarray  # (B,)
    stop: np.ndarray  # (B,) int8: MAX_ROUNDS, CONVERGED or CYCLE
    rounds: np.ndarray  # (B,) rounds run
    cycle_length: np.ndarray  # (B,) 0 unless stop == CYCLE

    def stop_names(self) -> list[str]:
        return [STOP_NAMES[k] for k in self.stop]


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


# --------------------------------------------------------------------------
# EUM with stopping rules


def weighted_mean_rows(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Row-wise Σ w x / Σ w, or the plain mean where the weights sum to 0."""
    tot = np.sum(w, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.sum(w * x, axis=-1) / tot
    return np.where(tot > 0, mean, np.mean(x, axis=-1))


def _forecast(settings: EUMSettings, x, c, s, med=None) -> np.ndarray:
    w = c * s
    if settings.forecast == "mean":
        return weighted_mean_rows(x, w)
    if med is not None:
        return med
    return median_position(np, x, w, tie=settings.opts.median_tie)


def _keys(x: np.ndarray, origin: np.ndarray, quantum: np.ndarray) -> np.ndarray:
    """Positions rounded to 1e-9·Δ (as :class:`stakes.kernels.eum.StopTracker` does)."""
    steps = np.round((x - origin[:, None]) / quantum[:, None])
    return np.clip(steps, -2.0**62, 2.0**62).astype(np.int64)


@dataclass
class _Pool:
    """Runs that have passed their last lever, all with the same number of actors."""

    x: np.ndarray
    c: np.ndarray
    s: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    t0: np.ndarray  # round of the restart (the last lever, or 0)
    out: np.ndarray  # flat index into the result arrays
    fc0: np.ndarray  # forecast recorded at round t0


def _prelude(backend: Backend, job: EUMJob, st: EUMSettings):
    """Rounds up to the job's last lever; returns the state at the restart."""
    x = np.asarray(job.x, dtype=float)
    c = np.asarray(job.c, dtype=float)
    s = np.asarray(job.s, dtype=float)
    if x.ndim != 2 or x.shape != c.shape or x.shape != s.shape:
        raise ValueError(f"EUM batch: x, c, s must share one (B, n) shape; got "
                         f"{x.shape}, {c.shape}, {s.shape}")
    if x.shape[1] == 0:
        raise ValueError("EUM batch: no actor takes a position")
    lo = np.min(x, axis=-1)
    hi = np.max(x, axis=-1)
    fc = _forecast(st, x, c, s)
    t = 0
    for r in sorted(k for k in job.levers if k < st.max_rounds):
        if r > t:
            pos, med = run_rounds(backend, x, c, s, lo, hi - lo, r - t, st.opts, st.delta_fixed)
            x = pos[-1]
            fc = _forecast(st, x, c, s, med[-1])
            t = r
        x, c, s = (np.asarray(a, dtype=float) for a in job.levers[r](x, c, s))
        if x.shape[1] == 0:
            raise ValueError(f"EUM batch: no actor is left after the lever at round {r}")
        lo = np.minimum(lo, np.min(x, axis=-1))
        hi = np.maximum(hi, np.max(x, axis=-1))
    return x, c, s, lo, hi, t, fc


def run_eum_jobs(
    jobs: Sequence[EUMJob],
    settings: EUMSettings = EUMSettings(),
    backend: Backend | str = "numpy",
    on_done: Callable[[int], None] | None = None,
) -> list[EUMBatchResult]:
    """Run every job to its stopping rule; one result per job.

    ``on_done(k)`` is called whenever k more runs have stopped.
    """
    be = get_backend(backend) if isinstance(backend, str) else backend
    st = settings
    sizes = [len(j.x) for j in jobs]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    total = int(offsets[-1])
    forecast = np.full(total, np.nan)
    stop = np.zeros(total, dtype=np.int8)
    rounds = np.zeros(total, dtype=np.int64)
    cycle = np.zeros(total, dtype=np.int64)

    pools: dict[int, list[_Pool]] = {}
    for k, job in enumerate(jobs):
        if sizes[k] == 0:
            continue
        x, c, s, lo, hi, t0, fc = _prelude(be, job, st)
        b = len(x)
        pools.setdefault(x.shape[1], []).append(_Pool(
            x, c, s, lo, hi, np.full(b, t0, dtype=np.int64),
            np.arange(offsets[k], offsets[k] + b), fc))

    for parts in pools.values():
        pool = _Pool(*(np.concatenate([getattr(p, f) for p in parts])
                       for f in _Pool.__dataclass_fields__))
        _finish_pool(be, pool, st, forecast, stop, rounds, cycle, on_done)

    return [EUMBatchResult(forecast[a:b], stop[a:b], rounds[a:b], cycle[a:b])
            for a, b in zip(offsets[:-1], offsets[1:])]


def _hash_keys(key: np.ndarray) -> np.ndarray:
    """One 64-bit number per row of cycle keys (B, n) -> (B,): a prefilter only.

    A fixed random odd multiplier per column, summed with wrap-around.  Equal
    rows give equal numbers; a match is then confirmed on the keys themselves,
    so a collision costs a comparison, never a wrong stop.
    """
    return np.sum(key.view(np.uint64) * _hash_multipliers(key.shape[-1]), axis=-1,
                  dtype=np.uint64)


@functools.lru_cache(maxsize=None)
def _hash_multipliers(n: int) -> np.ndarray:
    mult = np.random.default_rng(2011).integers(1, 2**63, size=n, dtype=np.uint64)
    mult |= np.uint64(1)
    mult.flags.writeable = False
    return mult


def _finish_pool(be: Backend, p: _Pool, st: EUMSettings, forecast, stop, rounds, cycle,
                 on_done) -> None:
    """Rounds after the restart, each run until its own stopping rule (spec §2.9).

    Mirrors :class:`stakes.models.eum.EUM` and its ``StopTracker``: before
    each round a run without disagreement stops ("converged", with the
    forecast last recorded); after it, a run converges when no position moved
    more than tol·Δ, and cycles when its rounded positions repeat a round
    since the restart.

    The runs still going are compacted after every round; their histories
    (forecasts, cycle keys) stay where they were written, addressed by each
    run's ``row``, so that compaction copies (B, n) arrays only.  A repeat is
    looked for among the rows' 64-bit key hashes and confirmed on the keys.
    """
    span = p.hi - p.lo
    origin = np.min(p.x, axis=-1)
    quantum = np.where(span > 0, CYCLE_QUANTUM * span, 1.0)
    horizon = int(st.max_rounds - p.t0.min()) + 1  # the restart, then each round after it
    size = len(p.x)
    fc_hist = np.full((size, horizon), np.nan)
    fc_hist[:, 0] = p.fc0
    if st.cycle_detection:
        key_hist = np.zeros((size, horizon, p.x.shape[1]), dtype=np.int64)
        hash_hist = np.zeros((size, horizon), dtype=np.uint64)
        key_hist[:, 0] = _keys(p.x, origin, quantum)
        hash_hist[:, 0] = _hash_keys(key_hist[:, 0])
    state = {"x": p.x, "c": p.c, "s": p.s, "lo": p.lo, "span": span, "t0": p.t0, "out": p.out,
             "origin": origin, "quantum": quantum, "row": np.arange(size)}

    def drop(ended, code, final, at, length):
        idx = state["out"][ended]
        forecast[idx] = final[ended]
        stop[idx] = code[ended]
        rounds[idx] = state["t0"][ended] + at
        cycle[idx] = length[ended]
        keep = ~ended
        for name, v in state.items():
            state[name] = v[keep]
        if on_done is not None:
            on_done(int(ended.sum()))

    k = 0  # rounds run since the restart
    while len(state["x"]):
        x = state["x"]
        none = np.zeros(len(x), dtype=np.int64)
        spread = np.max(x, axis=-1) - np.min(x, axis=-1)
        flat = spread == 0.0
        if flat.any():  # no disagreement left: the model stops before the round
            drop(flat, np.full(len(x), CONVERGED, dtype=np.int8), fc_hist[state["row"], k], k,
                 none)
            if not len(state["x"]):
                break
            x = state["x"]
            spread = spread[~flat]
            none = none[~flat]
        c, s, lo, span, t0, row = (state[f] for f in ("c", "s", "lo", "span", "t0", "row"))
        delta = span if st.delta_fixed else spread
        pos, med = run_rounds(be, x, c, s, lo, span, 1, st.opts, st.delta_fixed)
        new = pos[0]
        if not np.isfinite(new).all():
            # Never silently: a non-finite position would poison every statistic.
            raise FloatingPointError(f"EUM batch ({be.name}): a round produced a "
                                     "non-finite position")
        fc = _forecast(st, new, c, s, med[0])
        fc_hist[row, k + 1] = fc
        conv = np.max(np.abs(new - x), axis=-1, initial=0.0) <= st.tol * delta
        length = none
        cyc = np.zeros(len(x), dtype=bool)
        if st.cycle_detection:
            key = _keys(new, state["origin"], state["quantum"])
            digest = _hash_keys(key)
            match = hash_hist[row, : k + 1] == digest[:, None]
            maybe = np.flatnonzero(match.any(axis=-1) & ~conv)
            if len(maybe):
                same = match[maybe] & np.all(key_hist[row[maybe], : k + 1]
                                             == key[maybe, None, :], axis=-1)
                hit = same.any(axis=-1)
                cyc[maybe[hit]] = True
                length = none.copy()
                length[maybe[hit]] = (k + 1) - np.argmax(same[hit], axis=-1)
            key_hist[row, k + 1] = key
            hash_hist[row, k + 1] = digest
        maxed = (t0 + k + 1 >= st.max_rounds) & ~conv & ~cyc
        final = fc
        if st.cycle_forecast == "cycle_mean" and cyc.any():
            final = fc.copy()
            for ln in np.unique(length[cyc]):
                sel = cyc & (length == ln)
                final[sel] = np.mean(fc_hist[row[sel], k + 2 - ln: k + 2], axis=1)
        state["x"] = new
        ended = conv | cyc | maxed
        if ended.any():
            code = np.where(conv, CONVERGED, np.where(cyc, CYCLE, MAX_ROUNDS)).astype(np.int8)
            drop(ended, code, final, k + 1, length)
        k += 1


def run_eum_batch(x, c, s, settings: EUMSettings = EUMSettings(),
                  backend: Backend | str = "numpy",
                  levers: Mapping[int, LeverFn] | None = None) -> EUMBatchResult:
    """One job: ``B`` runs of one issue, each to its stopping rule."""
    return run_eum_jobs([EUMJob(x, c, s, dict(levers or {}))], settings, backend)[0]


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
    """Weights of the baselines: cs, s, c or equal (spec §5.1)."""
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
    """Row-wise weighted mean; the plain mean where the weights sum to 0 (Achen 2006)."""
    tot = xp.sum(w, axis=-1)
    safe = xp.where(tot > 0, tot, 1.0)
    return xp.where(tot > 0, xp.sum(w * x, axis=-1) / safe, xp.mean(x, axis=-1))


def weighted_median(xp, x, w, tie: str = "lower"):
    """Row-wise weighted median, as :func:`stakes.models.baselines.weighted_median`.

    The first sorted position at which the cumulative weight reaches half the
    total; with ``midpoint``, an exact half averages with the next distinct
    position (Thomson et al. 2006; spec §5.2).
    """
    n = x.shape[-1]
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

    Batched form of :func:`stakes.models.nbs.solve_issue`: the bisection on
    the sign of the objective's slope runs for every row at once, each row
    frozen once its interval stops shrinking.  ``q`` is (B,) or a scalar.
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
