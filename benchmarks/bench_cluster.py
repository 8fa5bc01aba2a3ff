"""Scaling of a sweep on a local Dask cluster, against the same sweep in one process.

The default scenario's baseline EUM sweep (every issue, no levers), numpy
backend, run in this process and then on local clusters of 1, 2, ... worker
processes (one thread each, loopback only). Each ratio is measured in this
one invocation; the forecasts of every cluster run are checked to be
identical to the in-process run's.

    python benchmarks/bench_cluster.py                 # 400 members, 1 and 2 workers
    python benchmarks/bench_cluster.py --runs 2000 --workers 1 2 4
"""

from __future__ import annotations

import argparse
import os
import platform

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=400)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    from stakes.analysis.cluster import ClusterSpec
    from stakes.analysis.sweep import run_sweep
    from stakes.api import load
    from stakes.engine import interventions_for

    scn = load("us-israel-palestine-2023")
    ivs = interventions_for(scn)

    def sweep(cluster=None):
        return run_sweep(scn, runs=a.runs, seed=a.seed, models=["eum"], interventions=ivs,
                         backend="numpy", cluster=cluster)

    print(f"# {a.runs} members, baseline EUM on 11 issues, numpy; {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")
    local = sweep()
    print("\n| where | chunks of | seconds | vs in-process | identical |")
    print("|---|---:|---:|---:|---|")
    print(f"| in-process | {local.chunk_size} | {local.seconds:.1f} | 1.00 | — |")
    for n in a.workers:
        res = sweep(ClusterSpec(workers=n))
        same = all(np.array_equal(local.forecasts[k], res.forecasts[k], equal_nan=True)
                   for k in local.forecasts)
        print(f"| local cluster, {n} worker{'s' if n > 1 else ''} | {res.chunk_size} | "
              f"{res.seconds:.1f} | {local.seconds / res.seconds:.2f} | {same} |", flush=True)
    print("\nCluster times include starting the workers and each worker building the "
          "ensemble once.")


if __name__ == "__main__":
    main()
