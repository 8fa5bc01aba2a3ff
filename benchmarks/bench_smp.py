"""Time SMP: random scenarios by actors x dimensions, and two KTAB sample scenarios.

Usage:  python benchmarks/bench_smp.py [--repeat 3] [--turns 20] [--quick]

Random scenarios run exactly ``--turns`` turns (min_turns = max_turns) so that
the times are comparable across sizes.  The KTAB scenarios (SOE-Competitive,
34 actors; dummyData-a040, 40 actors; from ../shared/reference/ktab) run with
the default options to the stop test, end to end through the reader and the
SMP model.  KTAB 1.4's ``smpc --logmin`` takes about 10 s on each of these two
on a 2-core machine; the last column is that 10 s divided by the stakes time.
Prints markdown tables; times are the best of ``--repeat`` runs, wall clock
(the speed-up uses it) and CPU time of this process (steadier on a busy machine).
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np

from stakes.models.base import Problem, Schedule
from stakes.models.smp import SMP, SMPOptions
from stakes.readers.ktab import ktab_to_problem, read_ktab

KTAB_DIR = (Path(__file__).resolve().parents[1] / ".." / "shared" / "reference" / "ktab").resolve()
KTAB_SECONDS = 10.0  # smpc --logmin, KTAB 1.4, 2-core machine (quoted; docs/performance.md)


def random_problem(seed: int, n: int, d: int) -> Problem:
    g = np.random.default_rng(seed)
    sal = g.uniform(0.1, 1.0, (n, d))
    sal = sal / sal.sum(axis=1, keepdims=True) * g.uniform(0.5, 1.0, (n, 1))
    cap = g.uniform(5, 150, n)
    return Problem(
        issue_ids=tuple(f"d{k}" for k in range(d)),
        actor_ids=tuple(f"a{i}" for i in range(n)),
        position=100 * g.random((n, d)),
        salience=sal,
        capability=np.repeat(cap[:, None], d, axis=1),
        lo=np.zeros(d),
        hi=np.full(d, 100.0),
        status_quo=np.full(d, np.nan),
    )


def best_time(fn, repeat: int):
    """Best wall-clock and best CPU time (this process) over ``repeat`` calls."""
    best, best_cpu, out = np.inf, np.inf, None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return best, best_cpu, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--turns", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="fewer sizes")
    args = ap.parse_args()
    model = SMP()
    print(f"Python {platform.python_version()}, numpy {np.__version__}, "
          f"{platform.machine()}, best of {args.repeat}\n")

    actors = [10, 20, 40] if args.quick else [10, 20, 40, 80, 160]
    dims = [1, 3] if args.quick else [1, 3, 6]
    fixed = SMPOptions(min_turns=args.turns, max_turns=args.turns)
    print(f"## Random scenarios, {args.turns} turns each\n")
    print("| actors | dims | seconds | CPU seconds | ms / turn |")
    print("|---:|---:|---:|---:|---:|")
    for n in actors:
        for d in dims:
            p = random_problem(n * 10 + d, n, d)
            t, cpu, r = best_time(
                lambda: model.run(p, fixed, Schedule.empty(), np.random.default_rng(0)),
                args.repeat,
            )
            turns = r.info["n_turns"]
            print(f"| {n} | {d} | {t:.3f} | {cpu:.3f} | {1000 * t / turns:.1f} |")

    print("\n## KTAB sample scenarios, default options, to the stop test\n")
    print("| scenario | actors | dims | states | seconds | CPU seconds | KTAB smpc (s) "
          "| speed-up |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in ("SOE-Competitive.csv", "dummyData-a040.csv"):
        path = KTAB_DIR / name
        if not path.exists():
            print(f"| {name} | (not found: {path}) | | | | | | |")
            continue

        def once():
            problem = ktab_to_problem(read_ktab(path))
            return problem, model.run(problem, SMPOptions(), Schedule.empty(),
                                      np.random.default_rng(0))

        t, cpu, (problem, r) = best_time(once, args.repeat)
        print(f"| {name} | {problem.n} | {problem.dims} | {r.info['n_states']} | {t:.3f} | "
              f"{cpu:.3f} | ~{KTAB_SECONDS:.0f} | {KTAB_SECONDS / t:.0f}x |")


if __name__ == "__main__":
    main()
