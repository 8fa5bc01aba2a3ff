"""Plan search throughput: candidate plans scored per second on the default scenario.

Scores every plan built from the levers that reach the goal (63 for settlements>=50),
each on the same members, with the EUM; numpy and, when installed, JAX, in one run.

    python benchmarks/advise_throughput.py [--members 200] [--goal settlements>=50]

A plan's score costs one EUM run per member on each goal issue it changes, plus the
imposed-part rule (a weighted median); plans whose levers act alike on the goal issue
share their runs.
"""

from __future__ import annotations

import argparse
import itertools
import time

from stakes.analysis.advise import Candidate, Scorer, parse_goal, reaches_goal
from stakes.api import load


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=200)
    ap.add_argument("--goal", default="settlements>=50")
    ap.add_argument("--repeat", type=int, default=2, help="timed passes per backend (best)")
    args = ap.parse_args()
    scn = load(None)
    goal = parse_goal(args.goal, scn)
    backends = ["numpy"]
    try:
        import jax  # noqa: F401

        backends.append("jax")
    except ImportError:
        print("jax not installed: numpy only")
    for name in backends:
        scorer = Scorer(scn, [goal], "eum", members=args.members, seed=0, backend=name)
        reach = [lv.id for lv in scn.levers if reaches_goal(scn, lv, [goal.issue], False)]
        cands = [Candidate(tuple((lv, 0) for lv in c)) for k in range(1, len(reach) + 1)
                 for c in itertools.combinations(reach, k)]
        scorer.score(cands[:2])  # JAX compiles once per shape
        best = float("inf")
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            scorer.score(cands)
            best = min(best, time.perf_counter() - t0)
        print(f"{name:5s}: {len(cands)} plans x {args.members} members in {best:.2f} s = "
              f"{len(cands) / best:.1f} plans/s, {len(cands) * args.members / best:,.0f} "
              "plan-members/s")


if __name__ == "__main__":
    main()
