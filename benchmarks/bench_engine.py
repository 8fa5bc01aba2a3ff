"""Engine speed against another source tree, in one invocation (docs/performance.md).

Two figures, each measured in a fresh process per source tree and compared as
a ratio (above 1 = this tree is faster); the trees alternate over ``--trials`` fresh
processes each and the best figure of each is kept, which damps other load on a shared
machine:

* one EUM run on Sultan.csv through ``stakes.engine.run_scenario`` (the
  round records included), best of ``--repeats``; and one recorded EUM run of
  20 random actors for 10 full rounds (``EUM().run``), in this tree also without
  building its events (the offers of every round);
* ensemble throughput: runs per second of a 20-actor EUM with a 10-round
  limit and its stopping rules on, numpy, and JAX when installed.

    python benchmarks/bench_engine.py                     # this tree only
    git archive BASE src | tar -x -C /tmp/base             # a tree to compare with
    python benchmarks/bench_engine.py --against /tmp/base/src
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SULTAN = HERE.parent / ".." / "shared" / "reference" / "jmckib-bdm-scholz" / "Sultan.csv"
N_ACTORS, ROUNDS, SEED = 20, 10, 0


def _best(fn, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def _eum_batch():
    """The batched EUM with stopping rules, through whichever entry point the tree has."""
    try:
        from stakes.models.eum import run_eum_members  # this tree's engine

        return lambda x, c, s, backend: run_eum_members(x, c, s, max_rounds=ROUNDS,
                                                        backend=backend)
    except ImportError:
        from stakes.kernels.batched import EUMSettings, run_eum_batch  # before the driver

        return lambda x, c, s, backend: run_eum_batch(x, c, s, EUMSettings(max_rounds=ROUNDS),
                                                      backend)


def measure(repeats: int, runs: int) -> dict:
    from stakes.engine import run_scenario
    from stakes.kernels.backend import get_backend, jax_available
    from stakes.readers import load_any

    out: dict = {}
    if SULTAN.exists():
        scn = load_any(SULTAN)
        run_scenario(scn, ["eum"])  # warm-up
        best, med = _best(lambda: run_scenario(scn, ["eum"]), repeats)
        out["sultan_eum_s"] = best
        out["sultan_eum_median_s"] = med
    rng = np.random.default_rng(SEED)
    from stakes.models.base import Problem, Schedule
    from stakes.models.eum import EUM, EUMOptions

    # A single recorded run that goes the distance: 20 actors, 10 rounds.
    pb = Problem(("i",), tuple(f"a{k}" for k in range(N_ACTORS)),
                 rng.uniform(0, 100, (N_ACTORS, 1)), rng.uniform(0.1, 1.0, (N_ACTORS, 1)),
                 rng.uniform(0.1, 1.0, (N_ACTORS, 1)), np.zeros(1), np.full(1, 100.0),
                 np.full(1, np.nan))
    opts = EUMOptions(max_rounds=ROUNDS, tol=0.0, cycle_detection=False)
    one = lambda: EUM().run(pb, opts, Schedule.empty(), np.random.default_rng(0))
    one()
    out["eum_20_actors_10_rounds_s"] = _best(one, repeats)[0]
    try:  # the same run without building its events (trees that record them)
        from stakes.models.eum import EUMRounds

        offers = EUMRounds._offers
        EUMRounds._offers = lambda self, *a: []
        try:
            out["eum_20_actors_10_rounds_no_events_s"] = _best(one, repeats)[0]
        finally:
            EUMRounds._offers = offers
    except ImportError:
        pass
    x = rng.uniform(0, 100, (runs, N_ACTORS))
    c = rng.uniform(0.1, 1.0, (runs, N_ACTORS))
    s = rng.uniform(0.1, 1.0, (runs, N_ACTORS))
    batch = _eum_batch()
    for name in ("numpy", "jax"):
        if name == "jax" and not jax_available():
            continue
        be = get_backend(name)
        batch(x[:64], c[:64], s[:64], be)  # compile (JAX) outside the timing
        best, _ = _best(lambda be=be: batch(x, c, s, be), max(2, repeats // 3))
        out[f"ensemble_{name}_runs_per_s"] = runs / best
    return out


def _child(src: str, repeats: int, runs: int) -> dict:
    env = dict(os.environ, PYTHONPATH=src)
    cmd = [sys.executable, __file__, "--worker", "--repeats", str(repeats), "--runs", str(runs)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", help="src folder of the tree to compare with")
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--runs", type=int, default=4000)
    ap.add_argument("--trials", type=int, default=3,
                    help="fresh processes per tree, alternating; the best figure of each kept")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(measure(args.repeats, args.runs)))
        return
    here = str(HERE.parent / "src")
    trees = {"this": here} if not args.against else {"other": args.against, "this": here}
    # Trees alternate, so that a burst of other load on a shared machine hits both.
    figures: dict[str, dict] = {name: {} for name in trees}
    for _ in range(args.trials):
        for name, src in trees.items():
            for k, v in _child(src, args.repeats, args.runs).items():
                best = max if "per_s" in k else min
                figures[name][k] = best(figures[name].get(k, v), v)
    keys = list(figures["this"])
    print(f"{'figure':32} " + " ".join(f"{t:>12}" for t in figures)
          + ("   other/this" if args.against else ""))
    for k in keys:
        row = f"{k:32} " + " ".join(f"{figures[t].get(k, float('nan')):12.4g}" for t in figures)
        if args.against and k in figures["other"]:
            a, b = figures["other"][k], figures["this"][k]
            # times: other/this; rates: this/other; above 1 means this tree is faster
            ratio = b / a if "per_s" in k else a / b
            row += f"   {ratio:10.3f}"
        print(row)


if __name__ == "__main__":
    main()
