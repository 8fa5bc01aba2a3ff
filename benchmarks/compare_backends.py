"""How closely the numpy and JAX backends agree on a sweep of the default scenario.

Both backends see the same draws (common seed); the script counts the
forecasts (member × lever/plan × issue) that differ by more than 1e-9 and
reports the largest difference and each backend's time in this one run.

    python benchmarks/compare_backends.py --runs 300
"""

from __future__ import annotations

import argparse

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default="eum")
    a = ap.parse_args()

    from stakes.analysis.sweep import run_sweep
    from stakes.api import load
    from stakes.engine import interventions_for

    scn = load("us-israel-palestine-2023")
    ivs = interventions_for(scn, "all", "all")
    res = {be: run_sweep(scn, runs=a.runs, seed=a.seed, models=[a.model], interventions=ivs,
                         backend=be) for be in ("numpy", "jax")}
    diffs = np.concatenate([np.abs(res["jax"].forecasts[k] - res["numpy"].forecasts[k])
                            for k in res["numpy"].forecasts])
    off = int(np.sum(diffs > 1e-9))
    qd = np.array([np.abs(np.quantile(res["jax"].forecasts[k], [0.05, 0.5, 0.95])
                          - np.quantile(res["numpy"].forecasts[k], [0.05, 0.5, 0.95]))
                   for k in res["numpy"].forecasts])
    print(f"{a.model}, {a.runs} members, every lever and plan: {diffs.size:,} forecasts; "
          f"{off:,} ({100 * off / diffs.size:.2f}%) differ by more than 1e-9; largest "
          f"{np.max(diffs):.3g}; numpy {res['numpy'].seconds:.1f} s, jax "
          f"{res['jax'].seconds:.1f} s")
    print(f"5%, 50% and 95% quantiles per lever/plan and issue: largest difference "
          f"{qd.max():.3g}, mean {qd.mean():.3g}; {int(np.sum(qd.max(axis=1) > 1e-9))} of "
          f"{len(qd)} lever/plan × issue pairs have a quantile that differs")


if __name__ == "__main__":
    main()
