"""Time the exchange model on COP21 (15 actors, 13 issues, 10 rounds).

    .venv/bin/python benchmarks/bench_exchange.py [--repeat 3] [--rounds 10] [--no-decide]

Times ``Exchange().run`` (reader output to finished ModelRun) in both
arithmetics, best of ``--repeat`` runs, wall-clock and CPU time.  When the
decide environment exists (``STAKES_DECIDE_PYTHON`` or ``.decide-venv/bin/python``,
see ``benchmarks/decide_oracle/README.md``), decide-exchange-model runs the same
input in the same session through ``decide_oracle/run_decide.py`` and the ratio
decide / stakes is reported (decide's time covers its round loop only, not
reading the file or starting Python).  Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "reference" / "decide-exchange-model"


def decide_python() -> Path | None:
    env = os.environ.get("STAKES_DECIDE_PYTHON")
    path = Path(env) if env else REPO / ".decide-venv" / "bin" / "python"
    return path if path.exists() else None


def time_stakes(path: Path, arithmetic: str, rounds: int, repeat: int) -> dict:
    from stakes.models.base import Schedule
    from stakes.models.exchange import Exchange, ExchangeOptions
    from stakes.readers.decide import decide_to_problem, read_decide

    problem = decide_to_problem(read_decide(path))
    opts = ExchangeOptions(arithmetic=arithmetic, rounds=rounds)
    walls, cpus = [], []
    run = None
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        run = Exchange().run(problem, opts, Schedule.empty(), np.random.default_rng(0))
        cpus.append(time.process_time() - c0)
        walls.append(time.perf_counter() - w0)
    counts = [r.extra["exchanges"] for r in run.rounds[1:]]
    return {"wall_s": min(walls), "cpu_s": min(cpus), "exchanges": counts}


def time_decide(py: Path, path: Path, rounds: int) -> dict:
    script = REPO / "benchmarks" / "decide_oracle" / "run_decide.py"
    out = subprocess.run(
        [str(py), str(script), str(path), "--rounds", str(rounds), "--realised-rounds", "none"],
        check=True, capture_output=True, text=True,
    )
    res = json.loads(out.stdout)
    counts = [h["exchanges"] for h in res["history"][1:]]
    return {"wall_s": res["seconds"], "cpu_s": res["cpu_seconds"], "exchanges": counts}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", default=str(REFERENCE / "cop21.csv"))
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-decide", action="store_true")
    args = ap.parse_args(argv)
    path = Path(args.input)
    if not path.exists():
        print(f"input not found: {path}", file=sys.stderr)
        return 2
    result = {
        "input": path.name,
        "rounds": args.rounds,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
    for arith in ("decimal28", "float"):
        result[f"stakes_{arith}"] = time_stakes(path, arith, args.rounds, args.repeat)
    py = None if args.no_decide else decide_python()
    if py is not None:
        d = time_decide(py, path, args.rounds)
        result["decide"] = d
        s = result["stakes_decimal28"]
        result["ratio_wall"] = d["wall_s"] / s["wall_s"]
        result["ratio_cpu"] = d["cpu_s"] / s["cpu_s"]
        result["same_exchange_counts"] = d["exchanges"] == s["exchanges"]
    print(f"{'run':<20}{'wall s':>10}{'cpu s':>10}")
    for key in ("stakes_decimal28", "stakes_float", "decide"):
        if key in result:
            print(f"{key:<20}{result[key]['wall_s']:>10.3f}{result[key]['cpu_s']:>10.3f}")
    if "ratio_cpu" in result:
        print(
            f"decide / stakes decimal28: {result['ratio_wall']:.1f}x wall, "
            f"{result['ratio_cpu']:.1f}x cpu; same exchange counts: "
            f"{result['same_exchange_counts']}"
        )
    else:
        print(
            "decide environment not found: no comparison "
            "(see benchmarks/decide_oracle/README.md)"
        )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
