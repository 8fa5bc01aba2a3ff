"""Does ``stakes sensitivity``'s default N rank the inputs stably where it does not warn?

Runs the Sobol analysis of the default scenario (eum, compromise, median; by actor and by
kind) at N and at 2N, and counts the forecasts whose top-ranked group changes between the
two, and how many of those N's warnings had flagged as not ranked (docs/ensembles.md).

    python benchmarks/sensitivity_ranks.py              # N = 64 (the default) and 128
    python benchmarks/sensitivity_ranks.py --samples 32
"""

from __future__ import annotations

import argparse
import time


def tops(doc) -> dict:
    out = {}
    for r in doc["indices"]:  # sorted by total index within each forecast and grouping
        if r.get("note") or r["ST"] is None:
            continue
        out.setdefault((r["model"], r["issue"], r["by"]), r)
    return out


def main() -> None:
    from stakes.analysis.sensitivity import run_sensitivity
    from stakes.api import load

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=64)
    args = ap.parse_args()
    scn = load(None)
    docs = {}
    for n in (args.samples, 2 * args.samples):
        t = time.perf_counter()
        docs[n] = run_sensitivity(scn, samples=n, models=["eum", "compromise", "median"],
                                  backend="numpy")
        print(f"N = {n}: {time.perf_counter() - t:.1f} s")
    n, m = args.samples, 2 * args.samples
    a, b = tops(docs[n]), tops(docs[m])
    unranked = {(w["model"], w["issue"], w["by"]) for w in docs[n]["warnings"]
                if any("not ranked" in p for p in w["problems"])}
    keys = sorted(set(a) & set(b))
    flips = [k for k in keys if a[k]["group"] != b[k]["group"]]
    print(f"{len(keys)} forecasts x groupings; at N = {n}: {len(unranked)} flagged not ranked, "
          f"{len(docs[n]['warnings'])} with a warning")
    print(f"top-ranked group changes from N = {n} to {m}: {len(flips)}, of which flagged at "
          f"N = {n}: {sum(k in unranked for k in flips)}")


if __name__ == "__main__":
    main()
