"""Whole-process time of ``stakes run`` against the peer programs, as ratios, and the sweep.

    python benchmarks/bench_whole_process.py [--repeat 5] [--sweep-runs 10000]
        [--jmckib PATH/bdm_scholz_model.py] [--smpc PATH/smpc] [--decide-python PATH]

A user runs a process: this times the whole of it, interpreter start and imports included,
for ``stakes run FILE --no-save --model M [--rounds R]`` on the peers' own inputs
(``../shared/reference``), median of ``--repeat`` runs, and divides each peer's
whole-process time by it:

* jmckib/bdm-scholz-expected-utility-model (Scholz et al. 2011's replication code) on
  ``Sultan.csv``, 10 rounds; ``--jmckib`` points at a Python 3 copy of
  ``bdm_scholz_model.py`` (the fork dmasad/bdm-scholz-expected-utility-model);
* KTAB's ``smpc --logmin --csv FILE`` on ``dummyData-a040.csv`` and ``SOE-Competitive.csv``;
* decide-exchange-model 2022.1.28 on ``cop21.csv``, 10 rounds, through
  ``benchmarks/decide_oracle/run_decide.py`` in its own environment (``.decide-venv``,
  ``STAKES_DECIDE_PYTHON`` or ``--decide-python``).

A peer that cannot be run here is compared with its whole-process time measured earlier
on these machines (``RECORDED``), and the output says so.  Whether the results are equal
is the golden tests' business (docs/performance.md names them); this script only times.

``--sweep-runs N`` also times ``stakes sweep --runs N`` on the default scenario (every
lever and plan), once, with its peak resident memory; ``--sweep-runs 0`` skips it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "reference"

# Whole-process seconds of the peers, measured on these 2-core machines (issue 15).
RECORDED = {
    "jmckib": 70.2,
    "smpc-a040": 10.1,
    "smpc-SOE-Competitive": 10.2,
}

# The jmckib code drives itself from a CSV; this is its own main loop, 10 rounds.
_JMCKIB_DRIVER = """
import csv, importlib.util, sys
spec = importlib.util.spec_from_file_location("bdm", sys.argv[1])
bdm = importlib.util.module_from_spec(spec); spec.loader.exec_module(bdm)
rows = []
for r in csv.DictReader(open(sys.argv[2])):
    rows.append({"Actor": r["Actor"], "Capability": float(r["Capability"]),
                 "Position": float(r["Position"]), "Salience": float(r["Salience"])})
model = bdm.BDMScholzModel(rows, verbose=False)
for _ in range(int(sys.argv[3])):
    model.update_risk_aversions()
    model.update_positions()
print([a.x for a in model.actors])
"""


@dataclass
class Case:
    key: str
    peer: str
    path: Path
    args: list[str]
    goal: float


# The peers give one point forecast; `--members 0` asks stakes for the same (its default
# adds an interval from a 200-member ensemble, work the peers do not do).
CASES = [
    Case("jmckib", "jmckib replication", REFERENCE / "jmckib-bdm-scholz" / "Sultan.csv",
         ["--model", "eum", "--rounds", "10", "--members", "0"], 150.0),
    Case("smpc-a040", "KTAB smpc --logmin", REFERENCE / "ktab" / "dummyData-a040.csv",
         ["--model", "smp"], 20.0),
    Case("smpc-SOE-Competitive", "KTAB smpc --logmin", REFERENCE / "ktab" / "SOE-Competitive.csv",
         ["--model", "smp"], 20.0),
    Case("decide-cop21", "decide-exchange-model", REFERENCE / "decide-exchange-model" / "cop21.csv",
         ["--model", "exchange", "--rounds", "10"], 20.0),
]


def timed(cmd: list[str], env: dict | None = None) -> dict:
    """Wall and CPU seconds and peak RSS (MiB) of one process, which must succeed."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.stderr.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{err[-2000:]}")
    rss_kib = usage.ru_maxrss / 1024 if sys.platform == "darwin" else usage.ru_maxrss
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "rss_mib": rss_kib / 1024}


def median_of(cmd: list[str], repeat: int, env: dict | None = None) -> dict:
    runs = [timed(cmd, env) for _ in range(repeat)]
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]} | {"runs": len(runs)}


def stakes_command() -> list[str]:
    """The ``stakes`` console script beside this interpreter, else ``python -m``."""
    script = Path(sys.executable).with_name("stakes")
    return [str(script)] if script.exists() else [sys.executable, "-m", "stakes.cli.main"]


def decide_python(arg: str | None) -> Path | None:
    env = arg or os.environ.get("STAKES_DECIDE_PYTHON")
    path = Path(env) if env else REPO / ".decide-venv" / "bin" / "python"
    return path if path.exists() else None


def peer_command(case: Case, args) -> list[str] | None:
    if case.key == "jmckib" and args.jmckib:
        return [sys.executable, "-c", _JMCKIB_DRIVER, args.jmckib, str(case.path), "10"]
    if case.key.startswith("smpc") and args.smpc:
        return [args.smpc, "--logmin", "--csv", str(case.path)]
    if case.key == "decide-cop21":
        py = decide_python(args.decide_python)
        if py is not None:
            return [str(py), str(REPO / "benchmarks" / "decide_oracle" / "run_decide.py"),
                    str(case.path), "--rounds", "10", "--realised-rounds", "none"]
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="stakes runs per case (median)")
    ap.add_argument("--peer-repeat", type=int, default=1, help="runs of a peer (median)")
    ap.add_argument("--jmckib", help="a Python 3 bdm_scholz_model.py")
    ap.add_argument("--smpc", help="KTAB's smpc executable")
    ap.add_argument("--decide-python", help="python of decide-exchange-model's environment")
    ap.add_argument("--sweep-runs", type=int, default=10_000,
                    help="members of the timed default-scenario sweep (0: none)")
    ap.add_argument("--sweep-backend", default="auto")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args(argv)

    stakes = stakes_command()
    # As after ``pip install``: bytecode is compiled once and kept (an environment that
    # forbids writing it would time the compiler on every start).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(REPO / "src")
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "src" / "stakes")],
                   check=True, env=env)
    out = {"python": platform.python_version(),
           "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
           "load_average_start": os.getloadavg()[0], "cases": {}}
    print(f"{'case':<22}{'stakes s':>9}{'cpu s':>7}{'peer s':>9}  {'peer from':<10}"
          f"{'ratio':>8}{'goal':>7}")
    for case in CASES:
        if not case.path.exists():
            print(f"{case.key:<22}input not found: {case.path}")
            continue
        cmd = stakes + ["run", os.path.relpath(case.path), "--no-save", *case.args]
        timed(cmd, env)  # warm the file cache; not counted
        mine = median_of(cmd, args.repeat, env)
        peer_cmd = peer_command(case, args)
        if peer_cmd is not None:
            peer = median_of(peer_cmd, args.peer_repeat)
            peer_s, source = peer["wall_s"], "measured"
        elif case.key in RECORDED:
            peer_s, source = RECORDED[case.key], "recorded"
        else:
            peer_s, source = None, "not run"
        ratio = peer_s / mine["wall_s"] if peer_s else None
        out["cases"][case.key] = {"command": " ".join(["stakes"] + cmd[len(stakes):]),
                                  "stakes": mine, "peer": case.peer, "peer_s": peer_s,
                                  "peer_source": source, "ratio": ratio, "goal": case.goal}
        print(f"{case.key:<22}{mine['wall_s']:>9.3f}{mine['cpu_s']:>7.2f}"
              + (f"{peer_s:>9.2f}" if peer_s else f"{'-':>9}") + f"  {source:<10}"
              + (f"{ratio:>7.{0 if ratio >= 10 else 2}f}x" if ratio else f"{'-':>8}")
              + f"{case.goal:>6.0f}x")
    if any(c["peer_source"] == "recorded" for c in out["cases"].values()):
        print("recorded: the peer is not installed here; its whole-process time measured "
              "earlier on these machines (issue 15)")
    if args.sweep_runs > 0:
        with tempfile.TemporaryDirectory() as tmp:
            cmd = stakes + ["sweep", "--runs", str(args.sweep_runs), "--seed", "1",
                            "--backend", args.sweep_backend, "--format", "json",
                            "--output", str(Path(tmp) / "sweep.json")]
            sweep = timed(cmd, env)
            doc = json.loads((Path(tmp) / "sweep.json").read_text())
        sweep |= {"command": " ".join(["stakes"] + cmd[len(stakes):-2]), "tasks": doc["tasks"],
                  "backend": doc["settings"]["backend"],
                  "chunk_size": doc["settings"]["chunk_size"]}
        out["sweep"] = sweep
        print(f"sweep --runs {args.sweep_runs} ({sweep['backend']}, {sweep['tasks']} tasks): "
              f"{sweep['wall_s']:.1f} s wall, {sweep['cpu_s']:.1f} s CPU, "
              f"peak {sweep['rss_mib']:.0f} MiB")
    out["load_average_end"] = os.getloadavg()[0]
    print(f"load average {out['load_average_start']:.2f} -> {out['load_average_end']:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
