"""Benchmark of the EUM kernel (``stakes.kernels.eum``).

1. Time per run (10 rounds) against the number of actors, on random inputs
   with a fixed seed, single runs and batched runs.
2. stakes against the loop-per-pair reference (``eum_loop_reference.py``) on
   the 17-actor ``Sultan.csv`` (10 rounds), with the ratio measured in the same
   run and a check that both give the same positions.

Usage: ``python benchmarks/bench_eum.py [--repeats N]``.  Prints markdown.
Timings are the best of N repeats (the least disturbed by other load) and
the median.
"""

from __future__ import annotations

import argparse
import csv
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from eum_loop_reference import reference_run  # noqa: E402

from stakes.kernels.eum import KernelOptions, iterate_rounds, run_eum  # noqa: E402

ROUNDS = 10
SEED = 20110
SULTAN = HERE.parent / ".." / "shared" / "reference" / "jmckib-bdm-scholz" / "Sultan.csv"
# A public pure-Python replication needs about 70 s for Sultan × 10 rounds on a 2-core machine.
PUBLIC_PURE_PYTHON_S = 70.0


def timed(fn, repeats: int) -> tuple[float, float]:
    """(best, median) wall time of ``fn()`` in seconds."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def random_issue(rng: np.random.Generator, n: int):
    return rng.uniform(0, 100, n), rng.uniform(0.05, 1, n), rng.uniform(0.05, 1, n)


def single(x, c, s):
    return run_eum(x, c, s, max_rounds=ROUNDS, tol=0.0, cycle_detection=False)


def scaling_table(repeats: int) -> list[str]:
    rng = np.random.default_rng(SEED)
    batch = 64
    lines = [
        f"### EUM time per run, {ROUNDS} rounds, random inputs (seed {SEED})",
        "",
        "| actors | stakes single run, best (ms) | median (ms) "
        f"| batched B={batch}, per run (ms) |",
        "|---:|---:|---:|---:|",
    ]
    for n in (10, 20, 50, 100):
        x, c, s = random_issue(rng, n)
        single(x, c, s)  # warm-up
        reps = repeats if n < 100 else max(3, repeats // 4)
        best, med = timed(lambda: single(x, c, s), reps)
        xb, cb, sb = (np.stack(v) for v in zip(*(random_issue(rng, n) for _ in range(batch))))
        nb = batch if n < 100 else 16
        xb, cb, sb = xb[:nb], cb[:nb], sb[:nb]
        opts = KernelOptions()
        bbest, _ = timed(lambda: iterate_rounds(np, xb, cb, sb, ROUNDS, opts), max(3, reps // 4))
        label = f"{bbest / nb * 1e3:.2f}" + ("" if nb == batch else f" (B={nb})")
        lines.append(f"| {n} | {best * 1e3:.2f} | {med * 1e3:.2f} | {label} |")
    return lines


def read_bdm_csv(path: Path):
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    x = np.array([float(r["Position"]) for r in rows])
    c = np.array([float(r["Capability"]) for r in rows])
    s = np.array([float(r["Salience"]) for r in rows])
    return x, c, s


def sultan_table(repeats: int) -> list[str]:
    path = SULTAN.resolve()
    if not path.exists():
        return [f"Sultan comparison skipped: {path} not found."]
    x, c, s = read_bdm_csv(path)
    n = len(x)
    single(x, c, s)
    best, med = timed(lambda: single(x, c, s), repeats)
    ref_best, ref_med = timed(lambda: reference_run(x, c, s, ROUNDS), max(2, repeats // 10))
    ours = single(x, c, s).positions
    theirs = np.array(reference_run(x, c, s, ROUNDS))
    diff = float(np.max(np.abs(ours - theirs)))
    return [
        f"### Sultan.csv ({n} actors × {ROUNDS} rounds)",
        "",
        "| implementation | best (ms) | median (ms) | ratio to stakes (best) |",
        "|---|---:|---:|---:|",
        f"| stakes (numpy kernel) | {best * 1e3:.2f} | {med * 1e3:.2f} | 1 |",
        f"| loop-per-pair reference (same equations, plain Python) | {ref_best * 1e3:.1f} "
        f"| {ref_med * 1e3:.1f} | {ref_best / best:.0f}× |",
        "| public pure-Python replication (quoted, not run here) "
        f"| ≈{PUBLIC_PURE_PYTHON_S * 1e3:.0f} | – | ≈{PUBLIC_PURE_PYTHON_S / best:.0f}× |",
        "",
        f"Largest position difference stakes vs loop reference: {diff:.1e}.",
        f"Requirement: at least 1000× faster than {PUBLIC_PURE_PYTHON_S:.0f} s, i.e. under "
        f"{PUBLIC_PURE_PYTHON_S:.0f} ms per run: "
        f"{'met' if best < PUBLIC_PURE_PYTHON_S / 1000 else 'NOT met'} ({best * 1e3:.2f} ms).",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    print(f"Python {platform.python_version()}, numpy {np.__version__}, "
          f"{platform.machine()}, {platform.processor() or 'cpu'}")
    print()
    print("\n".join(scaling_table(args.repeats)))
    print()
    print("\n".join(sultan_table(args.repeats)))


if __name__ == "__main__":
    main()
