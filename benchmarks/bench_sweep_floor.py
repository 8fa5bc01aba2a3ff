"""Where the flagship sweep's time goes: the EUM rounds it needs and what one costs compiled.

    python benchmarks/bench_sweep_floor.py [--runs 1000] [--scale 10000] [--backend jax]

1. Runs the default scenario's sweep in this process (``run_sweep``: eum, compromise and
   median under the baseline and every lever and plan, seed 1, ``--runs`` members), counting
   the member-rounds the round driver hands the backend, per actor count, padded tiles
   included, and timing the sweep and its backend calls.
2. Times the backend's compiled round per member at each of those actor counts, on full
   tiles with several in flight, as the driver submits them.
3. Prints, scaled to ``--scale`` members, the compute floor (member-rounds × cost per
   member-round, summed over the actor counts) next to the measured sweep.

The floor is what the EUM's own arithmetic costs on this machine, before any stopping
rule, compaction, draw or summary is counted: a sweep cannot take less time than it
without a cheaper round, fewer rounds or more cores.
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import time

import numpy as np

import stakes.models.eum as eum_model
from stakes.analysis.sweep import run_sweep
from stakes.api import load
from stakes.engine import interventions_for
from stakes.kernels import batched
from stakes.kernels.backend import get_backend
from stakes.kernels.eum import KernelOptions


def count_rounds(runs: int, backend: str) -> tuple[dict[int, int], float, float, int]:
    """Member-rounds per actor count of one sweep; its wall seconds, backend seconds, tasks."""
    counts: collections.Counter[int] = collections.Counter()
    spent = [0.0]
    inner = eum_model.run_rounds

    def counted(be, x, c, s, lo, delta, n_rounds, opts, delta_fixed):
        padded = sum(size for _, _, size in batched._tiles(be, len(x)))
        counts[x.shape[-1]] += padded * n_rounds
        t0 = time.perf_counter()
        try:
            return inner(be, x, c, s, lo, delta, n_rounds, opts, delta_fixed)
        finally:
            spent[0] += time.perf_counter() - t0

    scn = load()
    ivs = interventions_for(scn, "all", "all")
    eum_model.run_rounds = counted
    try:
        t0 = time.perf_counter()
        res = run_sweep(scn, runs=runs, seed=1, interventions=ivs, backend=backend)
        wall = time.perf_counter() - t0
    finally:
        eum_model.run_rounds = inner
    return dict(counts), wall, spent[0], len(res.forecasts)


def round_cost(backend: str, n: int, tiles: int = 8, repeat: int = 5) -> float:
    """Seconds per member-round of the compiled round at n actors (best of ``repeat``)."""
    be = get_backend(backend)
    rng = np.random.default_rng(n)
    t = be.tile
    x = rng.uniform(0, 100, (t, n))
    c = rng.uniform(0.1, 1.0, (t, n))
    s = rng.uniform(0.1, 1.0, (t, n))
    lo = x.min(axis=1)
    delta = x.max(axis=1) - lo
    opts = KernelOptions()

    def batch():
        handles = [be.submit(x, c, s, lo, delta, n_rounds=1, opts=opts, delta_fixed=True)
                   for _ in range(tiles)]
        for h in handles:
            be.fetch(h)

    batch()  # compile, or load from the cache
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        batch()
        best = min(best, time.perf_counter() - t0)
    return best / (tiles * t)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000, help="members of the counted sweep")
    ap.add_argument("--scale", type=int, default=10_000, help="members to scale the figures to")
    ap.add_argument("--backend", default="jax")
    args = ap.parse_args(argv)
    print(f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}")
    counts, wall, spent, tasks = count_rounds(args.runs, args.backend)
    k = args.scale / args.runs
    print(f"sweep --runs {args.runs} ({args.backend}, {tasks} forecast series): {wall:.1f} s, "
          f"of which {spent:.1f} s in backend calls (compilation included)")
    print(f"{'actors':>6}{'member-rounds':>16}{'us/member-round':>17}{'floor s':>10}")
    floor = 0.0
    for n in sorted(counts):
        cost = round_cost(args.backend, n)
        sec = counts[n] * k * cost
        floor += sec
        print(f"{n:>6}{counts[n] * k:>16,.0f}{cost * 1e6:>17.2f}{sec:>10.1f}")
    total = sum(counts.values()) * k
    print(f"at {args.scale} members: {total:,.0f} member-rounds; compute floor {floor:.1f} s; "
          f"this sweep scaled: {wall * k:.1f} s (its fixed start-up scaled too)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
