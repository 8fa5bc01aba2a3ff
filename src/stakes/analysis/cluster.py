"""Sweeps on a Dask cluster: chunks of members evaluated by distributed workers.

The driver cuts a sweep into chunks of members, exactly as a local sweep
does, and submits one Dask task per chunk.  A worker rebuilds the ensemble
once per sweep (kept in a small per-process cache), draws the chunk's members
from ``(seed, member)`` (:meth:`.uncertainty.InputSpace.draw`) and evaluates
them, so a chunk's forecasts do not depend on which worker ran it, how many
workers there are, or how the sweep was cut.

When the sweep is recorded, each worker writes its chunk as its own Parquet
shard (one writer per file; the name is fixed by the chunk index and the file
is renamed into place, so a chunk computed twice replaces, never duplicates)
and returns the file's size and checksum; only the driver writes to the
catalog (DuckDB allows one writer), registering each chunk once.

Worker loss: Dask's scheduler recomputes a task whose worker died before
returning its result (``distributed.scheduler.allowed-failures`` deaths of
the same task are tolerated, 3 by default); the driver keeps one result per
chunk index, so nothing is counted twice.  Shards are written to a folder
every worker can reach: the store's shard folder on this machine for a local
cluster, a shared filesystem for a remote one.
"""

from __future__ import annotations

import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from ..errors import OptionError
from ..levers import Intervention
from ..scenario.schema import Scenario, Uncertainty

# Seconds to wait for a scheduler to answer before giving up with a clear error.
CONNECT_TIMEOUT_S = 15


@dataclass(frozen=True)
class SweepJob:
    """Everything a worker needs to evaluate chunks of one sweep (sent with each chunk)."""

    token: str
    scenario: Scenario
    settings: Uncertainty
    models: tuple[str, ...]
    interventions: tuple[Intervention, ...]
    options: dict[str, dict[str, Any]] | None
    rounds: int | None
    backend: str  # resolved by the driver, so that every worker uses the same one
    skip_inapplicable: bool
    seed: int
    version: str  # the driver's stakes version: every worker must run the same


@dataclass
class ChunkResult:
    chunk: int
    start: int
    stop: int
    forecasts: dict[tuple[str, str, str], np.ndarray]
    stops: dict[tuple[str, str, str], np.ndarray]
    shard: dict[str, Any] | None  # file name, rows, bytes, sha256, seconds
    worker_pid: int


def new_token() -> str:
    return uuid.uuid4().hex


# One ensemble per sweep and worker process: building it costs about as much as
# a small chunk.  Two sweeps at most are kept.
_ENSEMBLES: dict[str, Any] = {}


def _ensemble_for(job: SweepJob):
    ens = _ENSEMBLES.get(job.token)
    if ens is None:
        import socket

        from .. import __version__
        from ..kernels.backend import get_backend
        from .ensemble import Ensemble
        from .uncertainty import input_space

        where = socket.gethostname()
        if job.version != __version__:
            raise OptionError(f"worker on {where} runs stakes {__version__}, the driver "
                              f"{job.version}: install the same version on every worker")
        try:
            backend = get_backend(job.backend)
        except (ImportError, ValueError) as exc:
            raise OptionError(f"worker on {where}: backend {job.backend} unavailable ({exc}); "
                              "install it on the workers or pass --backend numpy") from None

        space = input_space(job.scenario, job.settings)
        ens = Ensemble(space, job.models, job.interventions, options=job.options,
                       rounds=job.rounds, backend=None,
                       skip_inapplicable=job.skip_inapplicable, engine_seed=job.seed)
        ens.backend = backend
        while len(_ENSEMBLES) >= 2:
            _ENSEMBLES.pop(next(iter(_ENSEMBLES)))
        _ENSEMBLES[job.token] = ens
    return ens


def evaluate_chunk(job: SweepJob, chunk: int, start: int, stop: int,
                   shard_dir: str | None = None) -> ChunkResult:
    """Evaluate members ``start .. stop − 1``; write their shard into ``shard_dir`` if given."""
    import os

    t0 = time.perf_counter()
    ens = _ensemble_for(job)
    values = ens.space.draw(job.seed, start, stop)
    ev = ens.evaluate(values, None, members=range(start, stop))
    shard = None
    if shard_dir is not None:
        from ..store.shards import write_shard_file
        from .sweep import member_frame

        shard = write_shard_file(Path(shard_dir), "forecasts", chunk,
                                 member_frame(ev, start, stop))
        shard["seconds"] = time.perf_counter() - t0
    return ChunkResult(chunk, start, stop, {k[:3]: v for k, v in ev.forecasts.items()},
                       {k[:3]: v for k, v in ev.stops.items()}, shard, os.getpid())


@dataclass(frozen=True)
class ClusterSpec:
    """Where chunks run: an existing scheduler's address, or a local cluster of N workers."""

    scheduler: str | None = None
    workers: int | None = None

    def __post_init__(self) -> None:
        if self.scheduler is not None and self.workers is not None:
            raise OptionError("give --scheduler or --workers, not both")
        if self.scheduler is None and self.workers is None:
            raise OptionError("a cluster needs --scheduler ADDRESS or --workers N")
        if self.workers is not None and self.workers < 1:
            raise OptionError(f"--workers {self.workers}: expected at least 1")

    @property
    def label(self) -> str:
        return self.scheduler if self.scheduler else f"local cluster, {self.workers} workers"


@contextmanager
def client_for(spec: ClusterSpec) -> Iterator[Any]:
    """A ``distributed.Client``: connected to ``spec.scheduler`` or to a new local cluster.

    The local cluster listens on loopback only, one single-threaded worker
    process per worker (the kernels use the cores through numpy/XLA), no dashboard.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise OptionError(f"Dask's distributed package is needed for a cluster sweep: {exc}")
    if spec.scheduler is not None:
        try:
            client = Client(spec.scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise OptionError(f"--scheduler {spec.scheduler}: cannot connect "
                              f"({type(exc).__name__}: {exc})") from None
        try:
            try:
                client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
            except (TimeoutError, OSError):
                raise OptionError(f"--scheduler {spec.scheduler}: no worker joined within "
                                  f"{CONNECT_TIMEOUT_S} s (start some with `dask worker "
                                  f"{spec.scheduler}`)") from None
            yield client
        finally:
            client.close()
        return
    cluster = LocalCluster(n_workers=spec.workers, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address="127.0.0.1:0",
                           silence_logs=40)
    client = Client(cluster, set_as_default=False)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def run_chunks(client: Any, job: SweepJob, chunks: Sequence[tuple[int, int, int]],
               shard_dir: str | None = None) -> Iterator[ChunkResult]:
    """Submit one task per chunk; yield each chunk's result once, as it completes."""
    from distributed import as_completed

    futures = [client.submit(evaluate_chunk, job, k, a, b, shard_dir, pure=False,
                             key=f"stakes-chunk-{job.token}-{k}")
               for k, a, b in chunks]
    seen: set[int] = set()
    try:
        for fut in as_completed(futures, loop=client.loop):
            res: ChunkResult = fut.result()
            if res.chunk in seen:  # pragma: no cover - each future completes once
                continue
            seen.add(res.chunk)
            yield res
    finally:
        for fut in futures:
            fut.release()
