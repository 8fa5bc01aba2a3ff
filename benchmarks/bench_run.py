"""Whole-process time of ``stakes run`` on the default scenario, by ensemble size.

``stakes run`` assesses every forecast and lever effect on an ensemble
(``--members``, default 200): this measures what that costs against the
plain runs (``--members 0``), as the user meets it (a fresh process each
time, the store off), wall clock and CPU (user + system) of the child.

    python benchmarks/bench_run.py                    # members 0, 50, 200; 2 repeats
    python benchmarks/bench_run.py --members 0 200 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time


def one(members: int) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "stakes.cli.main", "run", "--no-save",
                    "--members", str(members)], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, nargs="+", default=[0, 50, 200])
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    print(f"cpus {os.cpu_count()}, load {os.getloadavg()[0]:.2f}")
    base = None
    for m in args.members:
        runs = [one(m) for _ in range(args.repeat)]
        wall = min(r[0] for r in runs)
        cpu = min(r[1] for r in runs)
        base = cpu if base is None else base
        print(f"--members {m:>4}: wall {wall:6.2f} s, cpu {cpu:6.2f} s "
              f"({cpu / base:.1f}x the first)")


if __name__ == "__main__":
    main()
