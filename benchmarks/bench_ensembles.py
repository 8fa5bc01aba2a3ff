"""Benchmarks of the batched EUM ensembles (docs/ensembles.md shows the figures).

Each ratio is measured within one invocation, on the same inputs:

* runs per second of a 20-actor EUM with a 10-round limit (the model's
  stopping rules on) at 10^3 .. 10^6 runs, chunked as ``stakes sweep`` does,
  with the peak resident memory of the process that ran them;
* batched vs one run at a time (the EUM model's own ``run``);
* numpy vs JAX on the CPU;
* the default scenario's sweep (every lever and plan) in members per second.

Every size runs in a fresh process, so that its peak memory is its own.

    python benchmarks/bench_ensembles.py                       # all, up to 10^5 runs
    python benchmarks/bench_ensembles.py --sizes 1000 1000000 --backends jax
    python benchmarks/bench_ensembles.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np

N_ACTORS = 20
ROUNDS = 10
SEED = 0


def _inputs(start: int, stop: int, n: int = N_ACTORS):
    """Random issues: positions on 0-100, capabilities and saliences, drawn per block."""
    block = 4096
    parts = []
    for b in range(start // block, (stop - 1) // block + 1):
        rng = np.random.default_rng([SEED, b])
        x = rng.uniform(0, 100, (block, n))
        c = rng.uniform(0.1, 1.0, (block, n))
        s = rng.uniform(0.1, 1.0, (block, n))
        a, z = max(start - b * block, 0), min(stop - b * block, block)
        parts.append((x[a:z], c[a:z], s[a:z]))
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker(backend: str, runs: int, chunk: int) -> dict:
    """Runs of the 20-actor, 10-round EUM, chunk by chunk; forecasts kept (runs,)."""
    from stakes.kernels.backend import get_backend
    from stakes.models.eum import EUMOptions, run_eum_members

    be = get_backend(backend)
    st = EUMOptions(max_rounds=ROUNDS)
    warm = _inputs(0, min(runs, be.tile))
    run_eum_members(*warm, st, be)  # compile (JAX) and warm caches outside the timing
    forecasts = np.empty(runs)
    rounds = 0
    t0 = time.perf_counter()
    for a in range(0, runs, chunk):
        b = min(runs, a + chunk)
        res = run_eum_members(*_inputs(a, b), st, be)
        forecasts[a:b] = res.forecast
        rounds += int(res.rounds.sum())
    dt = time.perf_counter() - t0
    return {"backend": be.name, "runs": runs, "seconds": dt, "runs_per_s": runs / dt,
            "mean_rounds": rounds / runs, "peak_rss_mib": _peak_mib(), "chunk": chunk,
            "checksum": float(np.nansum(forecasts))}


def one_at_a_time(runs: int) -> dict:
    """The EUM model's own run, one issue at a time, against both batched backends."""
    from stakes.kernels.backend import jax_available
    from stakes.models.base import Problem, Schedule
    from stakes.models.eum import EUM, EUMOptions, run_eum_members

    x, c, s = _inputs(0, runs)
    opts = EUMOptions(max_rounds=ROUNDS)
    model = EUM()
    t0 = time.perf_counter()
    single = []
    for b in range(runs):
        pb = Problem(("i",), tuple(f"a{k}" for k in range(N_ACTORS)), x[b][:, None],
                     s[b][:, None], c[b][:, None], np.zeros(1), np.full(1, 100.0),
                     np.full(1, np.nan))
        single.append(model.run(pb, opts, Schedule.empty(), np.random.default_rng(0)).forecast[0])
    t_single = time.perf_counter() - t0
    out = {"runs": runs, "one_at_a_time_s": t_single}
    for be in ("numpy", "jax") if jax_available() else ("numpy",):
        run_eum_members(x[:64], c[:64], s[:64], opts, be)
        t0 = time.perf_counter()
        res = run_eum_members(x, c, s, opts, be)
        out[f"batched_{be}_s"] = time.perf_counter() - t0
        out[f"ratio_{be}"] = t_single / out[f"batched_{be}_s"]
        out[f"max_diff_{be}"] = float(np.max(np.abs(res.forecast - np.array(single))))
    return out


def flagship(runs: int, backend: str) -> dict:
    """``stakes sweep`` of the default scenario with every lever and plan."""
    from stakes.analysis.sweep import run_sweep
    from stakes.api import load
    from stakes.engine import interventions_for

    scn = load("us-israel-palestine-2023")
    ivs = interventions_for(scn, "all", "all")
    out = {"runs": runs, "backend": backend}
    for label, models in (("eum", ["eum"]), ("compromise+median", ["compromise", "median"])):
        run_sweep(scn, runs=4, models=models, interventions=ivs, backend=backend)  # warm
        res = run_sweep(scn, runs=runs, models=models, interventions=ivs, backend=backend)
        out[label] = {"seconds": res.seconds, "members_per_s": runs / res.seconds,
                      "tasks": len(res.ensemble.tasks), "peak_rss_mib": res.peak_rss_mib}
    return out


def _sub(*args: str) -> dict:
    cmd = [sys.executable, __file__, "--worker", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    ap.add_argument("--backends", nargs="+", default=["numpy", "jax"])
    ap.add_argument("--numpy-max", type=int, default=10_000,
                    help="largest size run with numpy (it is about 4x slower)")
    ap.add_argument("--chunk", type=int, default=16_384, help="runs per chunk")
    ap.add_argument("--single", type=int, default=200, help="runs of the one-at-a-time test")
    ap.add_argument("--flagship", type=int, default=100, help="members of the scenario sweep")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        kind, *rest = a.worker
        if kind == "eum":
            doc = worker(rest[0], int(rest[1]), int(rest[2]))
        elif kind == "single":
            doc = one_at_a_time(int(rest[0]))
        else:
            doc = flagship(int(rest[0]), rest[1])
        print(json.dumps(doc))
        return

    from stakes.kernels.backend import jax_available

    backends = [b for b in a.backends if b != "jax" or jax_available()]
    info = {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "platform": platform.platform()}
    if jax_available():
        import importlib.metadata as md

        info["jax"] = md.version("jax")
    print(f"# EUM ensembles: {N_ACTORS} actors, {ROUNDS}-round limit; {info}")
    sizes = []
    print("\n| backend | runs | seconds | runs/s | mean rounds | peak RSS (MiB) |")
    print("|---|---:|---:|---:|---:|---:|")
    for be in backends:
        for n in a.sizes:
            if be == "numpy" and n > a.numpy_max:
                continue
            r = _sub("eum", be, str(n), str(a.chunk))
            sizes.append(r)
            print(f"| {be} | {n:,} | {r['seconds']:.2f} | {r['runs_per_s']:,.0f} | "
                  f"{r['mean_rounds']:.2f} | {r['peak_rss_mib']:,.0f} |", flush=True)
    by = {(r["backend"], r["runs"]): r for r in sizes}
    common = [n for n in a.sizes if ("numpy", n) in by and ("jax", n) in by]
    if common:
        n = max(common)
        print(f"\nJAX vs numpy on the CPU at {n:,} runs: "
              f"{by[('jax', n)]['runs_per_s'] / by[('numpy', n)]['runs_per_s']:.2f}x")
    single = {}
    if a.single:
        single = _sub("single", str(a.single))
        print(f"\nBatched vs one run at a time ({a.single} runs; the model's own run "
              f"{single['one_at_a_time_s']:.2f} s):")
        for be in backends:
            if f"ratio_{be}" in single:
                print(f"  {be}: {single[f'batched_{be}_s']:.2f} s, {single[f'ratio_{be}']:.1f}x "
                      f"faster (largest difference {single[f'max_diff_{be}']:.1e})")
    flag = {}
    if a.flagship:
        for be in backends:
            flag[be] = _sub("flagship", str(a.flagship), be)
            f = flag[be]
            print(f"\nDefault scenario, every lever and plan, {a.flagship} members, {be}: "
                  f"EUM {f['eum']['members_per_s']:.1f} members/s ({f['eum']['tasks']} tasks); "
                  f"compromise+median {f['compromise+median']['members_per_s']:,.0f} members/s")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"info": info, "sizes": sizes, "single": single, "flagship": flag}, fh,
                      indent=2)


if __name__ == "__main__":
    main()
