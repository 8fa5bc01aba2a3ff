"""The fuzz generator at scale: N seeded malformed files through the loaders and the models.

Runs ``python -m stakes.fuzz`` (the generator and checker of ``stakes.fuzz``; the CI
sample is its first 2,000 files of seed 0) over ``--count`` files in worker processes,
each with its address space capped and an alarm per file, and prints the counts by
outcome and format, the defects (tracebacks, bad refusals, NaN results, hangs, runs over
the memory cap) and the time per file.

    python benchmarks/fuzz_inputs.py                     # 10,000 files, 2 workers
    python benchmarks/fuzz_inputs.py --count 100000 --workers 2 --json fuzz.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--memory-mib", type=int, default=2048)
    ap.add_argument("--json", metavar="FILE", help="also write the full result here")
    a = ap.parse_args()
    cmd = [sys.executable, "-m", "stakes.fuzz", "--seed", str(a.seed), "--start", str(a.start),
           "--count", str(a.count), "--workers", str(a.workers), "--time-limit",
           str(a.time_limit), "--memory-mib", str(a.memory_mib)]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        return r.returncode
    doc = json.loads(r.stdout)
    if a.json:
        with open(a.json, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2)
    print(f"{platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} cpus; seed {a.seed}, files {a.start}..{a.start + a.count - 1}, "
          f"{a.workers} workers, {a.time_limit:g} s per file, +{a.memory_mib} MiB per worker")
    print(f"files: {doc['files']}   wall: {wall:.0f} s   "
          f"({1000 * wall * a.workers / max(1, doc['files']):.1f} ms per file per worker)")
    for k, v in sorted(doc["counts"].items()):
        print(f"  {k:12s} {v:8d}")
    print(f"slowest file: {doc['slowest']['file']} ({doc['slowest']['seconds']:.2f} s)")
    print("by format:")
    for k, v in doc["by_format"].items():
        print(f"  {k:40s} {v:8d}")
    print(f"defects: {len(doc['defects'])}")
    for d in doc["defects"][:50]:
        print(f"  {d['index']:7d} {d['outcome']:12s} {d['file']}: {d['detail']}")
    return 1 if doc["defects"] else 0


if __name__ == "__main__":
    sys.exit(main())
