"""The round driver: one loop that runs an iterative model on a batch of members.

A model hands the driver its mathematics (:class:`RoundModel`: rounds of
every member, the forecast it reads off positions, what a round record
holds); the driver owns everything the rounds share (spec §2.9):

* lever transforms at their rounds (:mod:`stakes.levers.timing`: a lever at
  round r acts on the state before round r + 1; levers at or past the round
  limit are reported, never applied);
* the stopping rules, per member: no disagreement left (before a round), no
  position moved more than tol·Δ, or the rounded positions repeat a round
  since the last restart (a cycle); they restart after every lever and never
  end a run before its last lever;
* retiring finished members: the batch is compacted after every round, so a
  member costs the rounds it needs and the batch ends with its slowest one;
  members of several jobs (issues, levers) with the same number of actors
  share one batch;
* round records with the model's events, when asked (single runs); an
  ensemble runs the same loop with records off.

Δ is the range of the initial positions, widened when a lever moves a position
outside the range seen so far (so every distance stays within Δ), or each
round's own spread when Δ is not fixed (Scholz et al. 2011).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .kernels.backend import Backend, get_backend
from .levers.timing import LeverTiming, lever_timing
from .models.base import RoundRecord

# Stop codes, per member.
MAX_ROUNDS, CONVERGED, CYCLE = 0, 1, 2
STOP_NAMES = ("max_rounds", "converged", "cycle")
# Positions are rounded to this fraction of Δ before cycle detection (spec §2.9).
CYCLE_QUANTUM = 1e-9


@dataclass(frozen=True)
class StopRule:
    """The stopping rules of spec §2.9 and the round limit."""

    max_rounds: int = 50
    tol: float = 1e-6
    cycle_detection: bool = True
    delta_fixed: bool = True
    cycle_forecast: str = "last"  # "last" | "cycle_mean"

    def __post_init__(self) -> None:
        if self.max_rounds < 1:
            raise ValueError(f"max_rounds={self.max_rounds}; expected at least 1")
        if self.cycle_forecast not in ("last", "cycle_mean"):
            raise ValueError(f"cycle_forecast={self.cycle_forecast!r}; expected last or "
                             "cycle_mean")


@dataclass(frozen=True)
class Members:
    """The arrays of one job, (B, n), for the actors ``ids`` in force."""

    ids: tuple[str, ...]
    x: np.ndarray
    c: np.ndarray
    s: np.ndarray


# A lever transform between rounds (see stakes.levers.compile); it may add or
# remove actors.
Lever = Callable[[Members], Members]


@dataclass
class Job:
    """Members of one issue under one intervention: their arrays and lever transforms."""

    members: Members
    levers: Mapping[int, Lever] = field(default_factory=dict)


@dataclass
class Steps:
    """What ``RoundModel.rounds`` returns for k rounds of B members."""

    position: np.ndarray  # (k, B, n) after each round
    forecast: np.ndarray  # (k, B) the forecast quantity of each round's positions
    detail: list[Any] | None = None  # per round, the model's own data (records only)


class RoundModel(Protocol):
    """An iterative model's mathematics, as the driver calls it."""

    def rounds(self, backend: Backend, x, c, s, lo, span, k: int, delta_fixed: bool,
               record: bool) -> Steps: ...

    def forecast(self, x, c, s) -> np.ndarray: ...

    def record(self, round_: int, ids: tuple[str, ...], x, c, s, forecast: float,
               detail: Any, member: int) -> RoundRecord: ...


@dataclass
class JobResult:
    """Per member of a job: forecast, stop code, rounds run, cycle length."""

    forecast: np.ndarray  # (B,)
    stop: np.ndarray  # (B,) int8 stop codes
    rounds: np.ndarray  # (B,)
    cycle_length: np.ndarray  # (B,) 0 unless stop == CYCLE
    flat: np.ndarray  # (B,) bool: converged because no disagreement was left
    delta: np.ndarray  # (B,) Δ of the last round
    delta_initial: np.ndarray  # (B,)
    timing: LeverTiming
    records: list[list[RoundRecord]] | None = None  # per member, when recorded
    # per member ending in a cycle: the lowest and highest forecast over the cycle's
    # rounds (NaN for the others): what is reported for a cycle is no round's forecast, or
    # only one of them
    cycle_lo: np.ndarray | None = None
    cycle_hi: np.ndarray | None = None

    def stop_names(self) -> list[str]:
        return [STOP_NAMES[k] for k in self.stop]


def _keys(x: np.ndarray, origin: np.ndarray, quantum: np.ndarray) -> np.ndarray:
    """Positions counted in quanta of 1e-9·Δ from the restart's lowest position."""
    steps = np.round((x - origin[:, None]) / quantum[:, None])
    return np.clip(steps, -2.0**62, 2.0**62).astype(np.int64)


def _hash_keys(key: np.ndarray) -> np.ndarray:
    """One 64-bit number per row of cycle keys (B, n) -> (B,): a prefilter only.

    A fixed random odd multiplier per column, summed with wrap-around.  Equal
    rows give equal numbers; a match is then confirmed on the keys themselves,
    so a collision costs a comparison, never a wrong stop.
    """
    return np.sum(key.view(np.uint64) * _hash_multipliers(key.shape[-1]), axis=-1,
                  dtype=np.uint64)


@functools.cache
def _hash_multipliers(n: int) -> np.ndarray:
    mult = np.random.default_rng(2011).integers(1, 2**63, size=n, dtype=np.uint64)
    mult |= np.uint64(1)
    mult.flags.writeable = False
    return mult


@dataclass
class _Pool:
    """Members past their last lever, all with the same number of actors."""

    x: np.ndarray
    c: np.ndarray
    s: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    t0: np.ndarray  # round of the restart (the last lever, or 0)
    out: np.ndarray  # flat index into the result arrays
    fc0: np.ndarray  # forecast recorded at round t0


class _Out:
    """The result arrays of every member of every job, flat."""

    def __init__(self, total: int, record: bool):
        self.forecast = np.full(total, np.nan)
        self.stop = np.zeros(total, dtype=np.int8)
        self.rounds = np.zeros(total, dtype=np.int64)
        self.cycle = np.zeros(total, dtype=np.int64)
        self.flat = np.zeros(total, dtype=bool)
        self.delta = np.zeros(total)
        self.delta0 = np.zeros(total)
        self.cycle_lo = np.full(total, np.nan)
        self.cycle_hi = np.full(total, np.nan)
        self.records: list[list[RoundRecord]] | None = (
            [[] for _ in range(total)] if record else None)
        self.ids: list[tuple[str, ...]] = [()] * total


def _apply(lever: Lever, ids, x, c, s, r: int):
    m = lever(Members(ids, x, c, s))
    x, c, s = (np.asarray(a, dtype=float) for a in (m.x, m.c, m.s))
    if x.shape[1] == 0:
        raise ValueError(f"no actor is left after the lever at round {r}")
    return m.ids, x, c, s


def _prelude(be: Backend, model: RoundModel, job: Job, rule: StopRule, out: _Out,
             first: int, record: bool):
    """Rounds up to the job's last lever (no stopping rule applies); the state at the restart."""
    m = job.members
    x, c, s = (np.asarray(a, dtype=float) for a in (m.x, m.c, m.s))
    if x.ndim != 2 or x.shape != c.shape or x.shape != s.shape:
        raise ValueError(f"x, c, s must share one (B, n) shape; got {x.shape}, {c.shape}, "
                         f"{s.shape}")
    if x.shape[1] == 0:
        raise ValueError("no actor takes a position")
    ids = tuple(m.ids)
    b = len(x)
    idx = np.arange(first, first + b)
    lo = np.min(x, axis=-1)
    hi = np.max(x, axis=-1)
    out.delta0[idx] = hi - lo
    timing = lever_timing(job.levers, rule.max_rounds)
    if timing.acts_before(0):
        ids, x, c, s = _apply(job.levers[0], ids, x, c, s, 0)
        lo, hi = np.minimum(lo, np.min(x, axis=-1)), np.maximum(hi, np.max(x, axis=-1))
    fc = model.forecast(x, c, s)
    if record:
        for k in range(b):
            out.records[first + k].append(model.record(0, ids, x[k], c[k], s[k], fc[k], None, k))
    t = 0
    for r in timing.applied:
        if r == 0:
            continue
        steps = model.rounds(be, x, c, s, lo, hi - lo, r - t, rule.delta_fixed, record)
        if record:
            for i in range(r - t):
                for k in range(b):
                    out.records[first + k].append(model.record(
                        t + i + 1, ids, steps.position[i, k], c[k], s[k],
                        steps.forecast[i, k], steps.detail[i], k))
        x, fc, t = steps.position[-1], steps.forecast[-1], r
        ids, x, c, s = _apply(job.levers[r], ids, x, c, s, r)
        lo, hi = np.minimum(lo, np.min(x, axis=-1)), np.maximum(hi, np.max(x, axis=-1))
    for k in idx:
        out.ids[k] = ids
    return timing, _Pool(x, c, s, lo, hi, np.full(b, t, dtype=np.int64), idx, fc)


def drive(jobs: Sequence[Job], model: RoundModel, rule: StopRule = StopRule(),
          backend: Backend | str = "numpy", *, record: bool = False,
          on_done: Callable[[int], None] | None = None) -> list[JobResult]:
    """Run every member of every job to its stopping rule; one result per job.

    ``record``: keep round records (with the model's events) for every
    member.  ``on_done(k)`` is called whenever k more members have stopped.
    """
    be = get_backend(backend) if isinstance(backend, str) else backend
    sizes = [len(j.members.x) for j in jobs]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    out = _Out(int(offsets[-1]), record)
    timings = []
    pools: dict[int, list[_Pool]] = {}
    for k, job in enumerate(jobs):
        if sizes[k] == 0:
            timings.append(lever_timing(job.levers, rule.max_rounds))
            continue
        timing, pool = _prelude(be, model, job, rule, out, int(offsets[k]), record)
        timings.append(timing)
        pools.setdefault(pool.x.shape[1], []).append(pool)
    merged = [parts[0] if len(parts) == 1 else _Pool(
        *(np.concatenate([getattr(p, f) for p in parts]) for f in _Pool.__dataclass_fields__))
        for parts in pools.values()]
    threads = _threads(be, record, sum(len(p.x) for p in merged))
    if threads == 1:
        for pool in merged:
            _finish(be, model, pool, rule, out, record, on_done)
    else:
        # Members are independent (a member's numbers never depend on which others share
        # its batch), so each pool is cut in ``threads`` contiguous parts, finished side by
        # side: numpy releases the GIL in the array work that dominates a round.
        from concurrent.futures import ThreadPoolExecutor
        from threading import Lock

        lock = Lock()

        def done(k: int) -> None:
            with lock:
                on_done(k)

        parts = [part for pool in merged for part in _cut(pool, 2 * threads)]
        with ThreadPoolExecutor(threads) as ex:
            for f in [ex.submit(_finish, be, model, part, rule, out, record,
                                done if on_done is not None else None) for part in parts]:
                f.result()
    return [JobResult(out.forecast[a:b], out.stop[a:b], out.rounds[a:b], out.cycle[a:b],
                      out.flat[a:b], out.delta[a:b], out.delta0[a:b], timing,
                      out.records[a:b] if record else None, out.cycle_lo[a:b],
                      out.cycle_hi[a:b])
            for a, b, timing in zip(offsets[:-1], offsets[1:], timings)]


#: Members below which an ensemble is finished in one thread (threads cost more than they
#: save on small batches).
THREAD_MIN_MEMBERS = 256


def _threads(be: Backend, record: bool, members: int) -> int:
    """Threads to finish the pools in: up to the cores this process may use, for numpy
    ensembles large enough (recorded runs and compiled backends keep one)."""
    import os

    if record or be.name != "numpy" or members < THREAD_MIN_MEMBERS:
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, int(os.environ.get("STAKES_THREADS", cores))))


def _cut(p: _Pool, k: int) -> list[_Pool]:
    """``p`` in up to ``k`` contiguous parts of near-equal size."""
    n = len(p.x)
    if k <= 1 or n < 2 * 32:
        return [p]
    bounds = np.linspace(0, n, min(k, n // 32) + 1).astype(int)
    return [_Pool(*(getattr(p, f)[a:b] for f in _Pool.__dataclass_fields__))
            for a, b in zip(bounds[:-1], bounds[1:])]


def _finish(be: Backend, model: RoundModel, p: _Pool, rule: StopRule, out: _Out, record: bool,
            on_done) -> None:
    """Rounds after the restart, each member until its own stopping rule (spec §2.9).

    Before each round a member without disagreement stops ("converged", with
    the forecast last recorded); after it, a member converges when no position
    moved more than tol·Δ, and cycles when its rounded positions repeat a
    round since the restart.

    The members still going are compacted after every round; their histories
    (forecasts, cycle keys) stay where they were written, addressed by each
    member's ``row``, so that compaction copies (B, n) arrays only.  A repeat
    is looked for among the rows' 64-bit key hashes and confirmed on the keys.
    """
    span = p.hi - p.lo
    origin = np.min(p.x, axis=-1)
    quantum = np.where(span > 0, CYCLE_QUANTUM * span, 1.0)
    horizon = int(rule.max_rounds - p.t0.min()) + 1  # the restart, then each round after it
    size = len(p.x)
    fc_hist = np.full((size, horizon), np.nan)
    fc_hist[:, 0] = p.fc0
    if rule.cycle_detection:
        key_hist = np.zeros((size, horizon, p.x.shape[1]), dtype=np.int64)
        hash_hist = np.zeros((size, horizon), dtype=np.uint64)
        key_hist[:, 0] = _keys(p.x, origin, quantum)
        hash_hist[:, 0] = _hash_keys(key_hist[:, 0])
    state = {"x": p.x, "c": p.c, "s": p.s, "lo": p.lo, "span": span, "t0": p.t0, "out": p.out,
             "origin": origin, "quantum": quantum, "row": np.arange(size)}

    def drop(ended, code, final, at, length, delta):
        idx = state["out"][ended]
        out.forecast[idx] = final[ended]
        out.stop[idx] = code[ended]
        out.rounds[idx] = state["t0"][ended] + at
        out.cycle[idx] = length[ended]
        out.delta[idx] = delta[ended]
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
        if flat.any():  # no disagreement left: stop before the round
            out.flat[state["out"][flat]] = True
            delta = state["span"] if rule.delta_fixed else spread
            drop(flat, np.full(len(x), CONVERGED, dtype=np.int8), fc_hist[state["row"], k], k,
                 none, delta)
            if not len(state["x"]):
                break
            x = state["x"]
            spread = spread[~flat]
            none = none[~flat]
        c, s, lo, span, t0, row = (state[f] for f in ("c", "s", "lo", "span", "t0", "row"))
        delta = span if rule.delta_fixed else spread
        steps = model.rounds(be, x, c, s, lo, span, 1, rule.delta_fixed, record)
        new = steps.position[0]
        if not np.isfinite(new).all():
            # Never silently: a non-finite position would poison every statistic.
            raise FloatingPointError(f"round driver ({be.name}): a round produced a "
                                     "non-finite position")
        fc = steps.forecast[0]
        fc_hist[row, k + 1] = fc
        if record:
            for b, o in enumerate(state["out"]):
                out.records[o].append(model.record(int(t0[b]) + k + 1, out.ids[o], new[b], c[b],
                                                   s[b], fc[b], steps.detail[0], b))
        conv = np.max(np.abs(new - x), axis=-1, initial=0.0) <= rule.tol * delta
        length = none
        cyc = np.zeros(len(x), dtype=bool)
        if rule.cycle_detection:
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
        maxed = (t0 + k + 1 >= rule.max_rounds) & ~conv & ~cyc
        final = fc
        if cyc.any():
            if rule.cycle_forecast == "cycle_mean":
                final = fc.copy()
            for ln in np.unique(length[cyc]):
                sel = cyc & (length == ln)
                over = fc_hist[row[sel], k + 2 - ln: k + 2]  # the forecasts of the cycle
                idx = state["out"][sel]
                out.cycle_lo[idx] = np.min(over, axis=1)
                out.cycle_hi[idx] = np.max(over, axis=1)
                if rule.cycle_forecast == "cycle_mean":
                    final[sel] = np.mean(over, axis=1)
        state["x"] = new
        ended = conv | cyc | maxed
        if ended.any():
            code = np.where(conv, CONVERGED, np.where(cyc, CYCLE, MAX_ROUNDS)).astype(np.int8)
            drop(ended, code, final, k + 1, length, delta)
        k += 1
