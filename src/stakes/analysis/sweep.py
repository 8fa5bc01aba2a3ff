"""Monte Carlo sweeps: the forecast distribution of every model, issue, lever and plan.

``run_sweep`` draws ``runs`` members from the scenario's uncertainty
(:mod:`.uncertainty`), evaluates every model under the baseline and every
requested lever and plan on each member (:mod:`.ensemble`; common random
numbers), and keeps one forecast per member, model, intervention and issue.
Members are processed in chunks whose size follows a memory budget, so the
memory in use depends on the chunk and on ``runs`` × tasks × 8 bytes of
kept forecasts only.  ``summarize`` turns the forecasts into quantiles,
probabilities of crossing thresholds and lever effects with intervals (the
quantiles of the paired differences lever − baseline, member by member).
"""

from __future__ import annotations

import math
import resource
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Collection, Protocol, Sequence

import numpy as np

from .. import __version__
from ..engine import DEFAULT_MODELS
from ..errors import ModelError, OptionError
from ..forecast.headline import disagreeing
from ..kernels.backend import get_backend, resolve
from ..driver import STOP_NAMES
from ..levers import Intervention, baseline
from ..scenario.schema import Scenario, Uncertainty
from .ensemble import Ensemble, Evaluation, progress_ticker
from .uncertainty import InputSpace, input_space

if TYPE_CHECKING:  # pragma: no cover
    from .cluster import ClusterSpec

DEFAULT_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
DEFAULT_INTERVAL = 0.9
MAX_CHUNK = 65_536
# Without --chunk-size, a cluster sweep is cut into at least this many chunks per worker.
CHUNKS_PER_WORKER = 4


# Below this many EUM runs (members × tasks) ``auto`` picks numpy: JAX's start-up
# (loading or compiling one executable per actor count) costs more than it saves.
AUTO_JAX_MIN_RUNS = 20_000


def backend_for(name: str, eum_runs: int | None = None):
    """The array backend by name (``auto``, ``numpy``, ``jax``), errors as OptionError.

    ``auto`` is JAX when it is installed and the ensemble has at least
    :data:`AUTO_JAX_MIN_RUNS` EUM runs (when ``eum_runs`` is given), else numpy.
    """
    try:
        if name == "auto" and eum_runs is not None and eum_runs < AUTO_JAX_MIN_RUNS:
            return get_backend("numpy")
        return get_backend(resolve(name))
    except (ValueError, ImportError) as exc:
        raise OptionError(f"--backend {name}: {exc}") from None


def eum_runs(ens: Ensemble, members: int) -> int:
    return members * sum(1 for t in ens.tasks.values() if t.model == "eum")


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB."""
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / (1024.0 * 1024.0) if sys.platform == "darwin" else kb / 1024.0


def chunk_size_for(ens: Ensemble, runs: int, memory_gib: float) -> int:
    """Members per chunk so that a chunk's working arrays fit in ``memory_gib``.

    Per member: its input values (twice: variates and values), and for each
    EUM task the cycle-detection history (rounds × actors int64), the
    forecast history and a few (n,) arrays; tiles sent to the backend are
    bounded separately by the tile size.
    """
    m = len(ens.space.slots)
    per = 16 * m + 16 * len(ens.tasks)
    for key, task in ens.tasks.items():
        if task.model == "eum":
            spec = next(s for s in ens.specs if s.name == "eum")
            n = len(ens.space.views[task.issue].present) + 2
            r = spec.options.max_rounds + 1
            per += 8 * r * (n + 1) + 80 * n
    budget = memory_gib * 2**30 * 0.5  # half: numpy temporaries come and go beside them
    return int(max(64, min(runs, MAX_CHUNK, budget // per)))


def _chunks(runs: int, size: int) -> list[tuple[int, int, int]]:
    """(index, first member, end) of each chunk."""
    return [(k, a, min(runs, a + size)) for k, a in enumerate(range(0, runs, size))]


class ShardSink(Protocol):
    """Where a cluster sweep's chunks go: a folder the workers write to, and a catalog."""

    def begin(self, n_chunks: int, chunk_size: int) -> str:
        """Prepare the record; return the folder the workers write shards into."""

    def register(self, chunk: int, meta: dict[str, Any]) -> None:
        """Register one chunk's shard, written by a worker."""


@dataclass
class SweepResult:
    scenario: Scenario
    space: InputSpace
    ensemble: Ensemble
    runs: int
    seed: int
    backend: str
    chunk_size: int
    forecasts: dict[tuple[str, str, str], np.ndarray]
    nominal: dict[tuple[str, str, str], float]
    stops: dict[tuple[str, str, str], dict[str, int]]
    shared: dict[tuple[str, str, str], bool]
    seconds: float
    peak_rss_mib: float
    interventions: list[Intervention] = field(default_factory=list)
    cluster: str | None = None  # where the chunks ran, when not in this process
    # the nominal run's cycle range where it ends in a cycle whose rounds disagree: what
    # the model reports for it (last round or cycle mean) is then no forecast
    nominal_cycles: dict[tuple[str, str, str], tuple[float, float]] = field(
        default_factory=dict)

    @property
    def models(self) -> list[str]:
        return [s.name for s in self.ensemble.specs]


def run_sweep(
    scn: Scenario,
    *,
    runs: int,
    seed: int = 0,
    models: Sequence[str] = DEFAULT_MODELS,
    interventions: Sequence[Intervention] | None = None,
    options: dict[str, dict[str, Any]] | None = None,
    rounds: int | None = None,
    backend: str = "auto",
    settings: Uncertainty | None = None,
    chunk_size: int | None = None,
    memory_gib: float = 2.0,
    skip_inapplicable: bool = True,
    progress: Callable[[int, int], None] | None = None,
    on_chunk: Callable[[int, int, int, Evaluation], None] | None = None,
    cluster: "ClusterSpec | None" = None,
    shards: "ShardSink | None" = None,
    done: Collection[int] = (),
    restore: Callable[[int, int, int], Evaluation] | None = None,
) -> SweepResult:
    """Draw ``runs`` members and evaluate every model and intervention on each.

    ``progress(done, total)`` reports work units (one per member and task);
    ``on_chunk(k, start, stop, evaluation)`` is called after each chunk of a
    local sweep.  With ``cluster`` the chunks run on Dask workers
    (:mod:`.cluster`); ``shards`` then has each worker write its chunk's
    Parquet shard and the driver register it.  Either way the forecasts are
    the same: a member's inputs depend only on ``seed`` and its index.

    Resuming a recorded sweep: chunks listed in ``done`` are not computed again;
    ``restore(k, start, stop)`` returns their recorded forecasts and stop codes
    (:func:`evaluation_from_frame`).  ``chunk_size`` must then be the recorded one.
    """
    from ..engine import check_seed

    seed = check_seed(seed)
    if runs < 1:
        raise OptionError(f"--runs {runs}: expected at least 1")
    if chunk_size is not None and chunk_size < 1:
        raise OptionError(f"--chunk-size {chunk_size}: expected at least 1")
    if not memory_gib > 0:
        raise OptionError(f"--memory {memory_gib}: expected a positive number of GiB")
    backend_for(backend)  # an unknown or missing backend fails before any work
    t0 = time.perf_counter()
    space = input_space(scn, settings)
    ivs = list(interventions or [baseline()])
    if not any(iv.kind == "baseline" for iv in ivs):
        ivs.insert(0, baseline())
    ens = Ensemble(space, models, ivs, options=options, rounds=rounds, backend=None,
                   skip_inapplicable=skip_inapplicable, engine_seed=seed)
    be = ens.backend = backend_for(backend, eum_runs(ens, runs))
    if not ens.plan:
        raise OptionError("nothing to run: " + ("; ".join(ens.skipped) or "no model applies"))
    size = min(chunk_size or chunk_size_for(ens, runs, memory_gib), runs)
    total = (runs + 1) * ens.units_per_member
    tick = progress_ticker(total, progress)

    try:
        nominal_eval = ens.evaluate(space.nominal[None, :], tick, members=[-1])
    except ValueError as exc:
        # The batched kernels refuse input that leaves them nothing to compute (a lever
        # that removes every actor, ...); the one-run engine names the reason.
        from ..engine import run_scenario

        run_scenario(scn, models, options=options, interventions=ivs, rounds=rounds, seed=seed,
                     skip_inapplicable=skip_inapplicable)
        raise ModelError(f"sweep: {exc}") from None
    nominal = {k[:3]: float(v[0]) for k, v in nominal_eval.forecasts.items()}
    nominal_cycles = {k[:3]: rng for k, (lo, hi) in nominal_eval.cycles.items()
                      if (rng := disagreeing(lo[0], hi[0])) is not None}
    forecasts = {k[:3]: np.full(runs, np.nan) for k in nominal_eval.forecasts}
    stop_codes = {k[:3]: np.zeros(runs, dtype=np.int8) for k in nominal_eval.stops}
    shared = {k[:3]: v for k, v in nominal_eval.shared.items()}
    done = set(done)
    if done and restore is None:
        raise OptionError("resuming a sweep needs the recorded chunks (restore)")

    def keep(ev: Evaluation, a: int, b: int) -> None:
        for k, v in ev.forecasts.items():
            forecasts[k[:3]][a:b] = v
        for k, v in ev.stops.items():
            stop_codes[k[:3]][a:b] = v

    for chunk, a, b in _chunks(runs, size):
        if chunk in done:
            keep(restore(chunk, a, b), a, b)  # type: ignore[misc]
            tick((b - a) * ens.units_per_member)
    if cluster is None:
        for chunk, a, b in _chunks(runs, size):
            if chunk in done:
                continue
            values = space.draw(seed, a, b)
            ev = _evaluate(ens, values, tick, range(a, b))
            keep(ev, a, b)
            if on_chunk is not None:
                on_chunk(chunk, a, b, ev)
    else:
        from .cluster import SweepJob, client_for, new_token, run_chunks

        job = SweepJob(new_token(), scn, space.settings, tuple(models), tuple(ivs), options,
                       rounds, be.name, skip_inapplicable, seed, __version__)
        with client_for(cluster) as client:
            if chunk_size is None and not done:
                # Keep every worker busy and balance the load: a few chunks each.
                workers = max(1, len(client.scheduler_info()["workers"]))
                size = max(1, min(size, -(-runs // (CHUNKS_PER_WORKER * workers))))
            chunks = _chunks(runs, size)
            folder = shards.begin(len(chunks), size) if shards is not None else None
            todo = [c for c in chunks if c[0] not in done]
            for res in run_chunks(client, job, todo, folder):
                for k, v in res.forecasts.items():
                    forecasts[k][res.start:res.stop] = v
                for k, v in res.stops.items():
                    stop_codes[k][res.start:res.stop] = v
                if shards is not None:
                    shards.register(res.chunk, res.shard)
                tick((res.stop - res.start) * ens.units_per_member)
    for (model, label, iss), f in forecasts.items():
        bad = np.flatnonzero(~np.isfinite(f))
        if len(bad) or not math.isfinite(nominal[(model, label, iss)]):
            under = "the baseline" if label == "baseline" else label.replace(":", " ")
            which = (f"{len(bad)} of {runs} members (first: member {int(bad[0])})" if len(bad)
                     else "the scenario as written")
            raise ModelError(f"{model}: under {under}, the forecast on issue {iss} is not a "
                             f"number for {which}; a sweep reports numbers only")
    stops = {k: {STOP_NAMES[i]: int(c) for i, c in enumerate(np.bincount(v, minlength=3))}
             for k, v in stop_codes.items()}
    return SweepResult(scn, space, ens, runs, seed, be.name, size, forecasts, nominal, stops,
                       shared, time.perf_counter() - t0, peak_rss_mib(), ivs,
                       cluster.label if cluster is not None else None, nominal_cycles)


def _evaluate(ens: Ensemble, values, tick, members) -> Evaluation:
    try:
        return ens.evaluate(values, tick, members=members)
    except ValueError as exc:
        # the batched kernels refuse input that leaves them nothing to compute (e.g. a
        # lever that removes every actor): a refusal with the kernel's reason
        raise ModelError(f"sweep: {exc}") from None


# --------------------------------------------------------------------------
# Summaries


def _finite(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def _qkey(q: float) -> str:
    return f"{q:g}"


def _iv_fields(iv: Intervention) -> dict[str, Any]:
    return {"intervention": iv.label,
            "lever": iv.id if iv.kind == "lever" else None,
            "plan": iv.id if iv.kind == "plan" else None}


def summarize(
    res: SweepResult,
    *,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    interval: float = DEFAULT_INTERVAL,
    thresholds: dict[str | None, list[float]] | None = None,
) -> dict[str, Any]:
    """The sweep as a JSON-ready document (see docs/ensembles.md for its fields)."""
    if not 0 < interval < 1:
        raise OptionError(f"--interval {interval}: expected a number between 0 and 1")
    for q in quantiles:
        if not 0 <= q <= 1:
            raise OptionError(f"quantile {q}: expected a number between 0 and 1")
    thresholds = thresholds or {}
    issues = [i.id for i in res.scenario.issues]
    for iss in thresholds:
        if iss is not None and iss not in issues:
            raise OptionError(f"--threshold {iss}=...: unknown issue (issues: {', '.join(issues)})")
    lo_q, hi_q = (1 - interval) / 2, 1 - (1 - interval) / 2
    by_label = {iv.label: iv for iv in res.interventions}
    forecasts, effects = [], []
    for (model, label, iss), f in res.forecasts.items():
        iv = by_label[label]
        qs = np.quantile(f, list(quantiles) + [lo_q, hi_q])
        thr = list(thresholds.get(None, [])) + list(thresholds.get(iss, []))
        rec = {
            "model": model, **_iv_fields(iv), "issue": iss,
            "nominal": _finite(res.nominal[(model, label, iss)]),
            "nominal_cycle": (list(res.nominal_cycles[(model, label, iss)])
                              if (model, label, iss) in res.nominal_cycles else None),
            "mean": _finite(float(np.mean(f))), "sd": _finite(float(np.std(f, ddof=1)))
            if len(f) > 1 else 0.0,
            "quantiles": {_qkey(q): _finite(v) for q, v in zip(quantiles, qs)},
            "interval": [_finite(qs[-2]), _finite(qs[-1])],
            "p_above": {f"{t:g}": float(np.mean(f > t)) for t in thr},
        }
        if (model, label, iss) in res.stops:
            rec["stops"] = res.stops[(model, label, iss)]
        forecasts.append(rec)
        if iv.kind == "baseline":
            continue
        base = res.forecasts[(model, "baseline", iss)]
        d = f - base
        dq = np.quantile(d, [0.5, lo_q, hi_q])
        n = len(d)
        effects.append({
            "model": model, **_iv_fields(iv), "issue": iss,
            "nominal": _finite(res.nominal[(model, label, iss)]
                               - res.nominal[(model, "baseline", iss)]),
            "nominal_cycling": (model, label, iss) in res.nominal_cycles
            or (model, "baseline", iss) in res.nominal_cycles,
            "mean": _finite(float(np.mean(d))),
            "se": _finite(float(np.std(d, ddof=1) / math.sqrt(n))) if n > 1 else None,
            "median": _finite(dq[0]),
            "interval": [_finite(dq[1]), _finite(dq[2])],
            "p_positive": float(np.mean(d > 0)),
            "p_negative": float(np.mean(d < 0)),
            "exceeds_noise": bool(dq[1] > 0 or dq[2] < 0),
            "same_as_baseline": bool(res.shared.get((model, label, iss), False)),
        })
    return {
        "stakes_version": __version__,
        "scenario": {"name": res.scenario.metadata.name},
        "settings": {
            "runs": res.runs, "seed": res.seed, "backend": res.backend, "models": res.models,
            "interventions": [iv.label for iv in res.interventions],
            "uncertainty": res.space.settings.model_dump(),
            "random_inputs": int(len(res.space.random_index)),
            "quantiles": list(quantiles), "interval": interval,
            "chunk_size": res.chunk_size,
            "cluster": res.cluster,
            "options": {s.name: s.options.model_dump() for s in res.ensemble.specs},
        },
        "skipped": res.ensemble.skipped,
        "forecasts": forecasts,
        "effects": effects,
        "tasks": len(res.ensemble.tasks),
        "seconds": res.seconds,
        "peak_rss_mib": res.peak_rss_mib,
    }


def member_frame(res_or_eval: Evaluation, start: int, stop: int):
    """A chunk's forecasts in long form (member, model, intervention, issue, forecast, stop);
    ``stop`` is the EUM stop code (:data:`~stakes.driver.STOP_NAMES`), -1 for
    models without one."""
    import pandas as pd

    members = np.arange(start, stop)
    frames = []
    for key, f in res_or_eval.forecasts.items():
        model, label, iss = key[:3]
        stop_codes = res_or_eval.stops.get(key)
        frames.append(pd.DataFrame({
            "member": members, "model": model, "intervention": label, "issue": iss,
            "forecast": np.asarray(f, dtype=float),
            "stop": (np.full(len(members), -1, dtype=np.int8) if stop_codes is None
                     else np.asarray(stop_codes, dtype=np.int8))}))
    return pd.concat(frames, ignore_index=True)


def evaluation_from_frame(frame, start: int, stop: int) -> Evaluation:
    """A recorded chunk (rows of :func:`member_frame` for members ``start .. stop − 1``)
    back as an :class:`Evaluation` keyed by (model, intervention, issue)."""
    part = frame[(frame["member"] >= start) & (frame["member"] < stop)]
    n = stop - start
    forecasts: dict[tuple[str, str, str], np.ndarray] = {}
    stops: dict[tuple[str, str, str], np.ndarray] = {}
    for (model, label, iss), g in part.groupby(["model", "intervention", "issue"], sort=False):
        g = g.sort_values("member")
        members = g["member"].to_numpy()
        if len(members) != n or not np.array_equal(members, np.arange(start, stop)):
            raise OptionError(f"the recorded chunk of members {start}..{stop - 1} is "
                              f"incomplete for {model}/{label}/{iss}")
        forecasts[(model, label, iss)] = g["forecast"].to_numpy(dtype=float)
        if "stop" in g and int(g["stop"].iloc[0]) >= 0:
            stops[(model, label, iss)] = g["stop"].to_numpy(dtype=np.int8)
    return Evaluation(forecasts, stops)
