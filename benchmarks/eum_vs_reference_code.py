"""The EUM kernel beside the replication code of Scholz et al. (2011), on random inputs.

The replication code is not part of this repository. Point ``--peer`` at a Python 3 copy of
``bdm_scholz_model.py`` (the fork dmasad/bdm-scholz-expected-utility-model at d7c7bba runs
unchanged; jmckib's original is Python 2)::

    python benchmarks/eum_vs_reference_code.py --peer PATH/bdm_scholz_model.py --seeds 0 1 2

For each seed it draws 400 issues of 4-7 actors with integer positions on 0-10 and
capabilities and saliences rounded to 0.01, runs 10 rounds in both codes (and in
``benchmarks/eum_loop_reference.py``), and prints how many trajectories part by more than
1e-9, and for each the smallest non-zero distance between two actors in the round before
they part (docs/models/eum.md, "Differences that remain").
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np

from stakes.kernels.eum import KernelOptions, iterate_rounds

HERE = Path(__file__).resolve().parent


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def peer_run(peer, x, c, s, rounds: int) -> np.ndarray:
    rows = [{"Actor": f"a{i}", "Capability": c[i], "Salience": s[i], "Position": x[i]}
            for i in range(len(x))]
    model = peer.BDMScholzModel(rows, verbose=False)
    out = [[a.x for a in model.actors]]
    for _ in range(rounds):
        model.update_risk_aversions()
        model.update_positions()
        out.append([a.x for a in model.actors])
    return np.array(out, dtype=float)


def smallest_gap(positions: np.ndarray) -> float:
    gaps = np.abs(positions[:, None] - positions[None, :])
    gaps = gaps[gaps > 0]
    return float(gaps.min()) if gaps.size else float("inf")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peer", type=Path, required=True, help="Python 3 bdm_scholz_model.py")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--issues", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--set", dest="sets", action="append", default=[],
                    help="kernel option NAME=VALUE, e.g. capitulation=true (default: defaults)")
    args = ap.parse_args(argv)
    peer = _load(args.peer, "bdm_scholz_model")
    loopref = _load(HERE / "eum_loop_reference.py", "eum_loop_reference")
    opts = {}
    for item in args.sets:
        key, _, raw = item.partition("=")
        opts[key] = {"true": True, "false": False}.get(raw, raw)
    kopts = KernelOptions(**opts)
    total = kernel_parts = loop_parts = skipped = 0
    for seed in args.seeds:
        rng = np.random.default_rng(seed)
        for t in range(args.issues):
            n = int(rng.integers(4, 8))
            x = rng.integers(0, 11, size=n).astype(float)
            if np.ptp(x) == 0:
                x[0], x[1] = 0.0, 10.0
            c = np.round(rng.uniform(0.05, 1.0, size=n), 2)
            s = np.round(rng.uniform(0.05, 1.0, size=n), 2)
            try:
                ref = peer_run(peer, x, c, s, args.rounds)
            except ZeroDivisionError:  # the peer divides by S_max - S_min unguarded
                skipped += 1
                continue
            total += 1
            traj, _, _ = iterate_rounds(np, x[None], c[None], s[None], args.rounds, kopts)
            loop = np.array(loopref.reference_run(x, c, s, args.rounds, **opts))
            if np.max(np.abs(loop - ref)) > 1e-9:
                loop_parts += 1
            differs = np.any(np.abs(traj[:, 0] - ref) > 1e-9, axis=1)
            if differs.any():
                kernel_parts += 1
                r = int(np.argmax(differs))
                print(f"seed {seed} issue {t}: parts in round {r}; smallest gap between "
                      f"actors before it {smallest_gap(ref[r - 1]):.3g}; largest difference "
                      f"{np.max(np.abs(traj[:, 0] - ref)):.4g}")
    print(f"{total} issues ({skipped} skipped: the peer divides by zero), {args.rounds} rounds, "
          f"options {opts or 'default'}")
    print(f"kernel parts from the reference code on {kernel_parts}; "
          f"loop reference on {loop_parts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
