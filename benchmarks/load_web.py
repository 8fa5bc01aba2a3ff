"""Bounded load test of ``stakes serve`` on loopback.

Starts ``stakes serve`` in its own process on a free 127.0.0.1 port (a
throw-away run store and scenario folder), then runs N concurrent clients
(in this process) for T seconds
against a mix of pages and API calls, and prints latency figures for the
read pages and for the runs separately::

    python benchmarks/load_web.py                        # 50 clients x 60 s
    python benchmarks/load_web.py --clients 20 --seconds 5
    python benchmarks/load_web.py --attack upload        # while hostile uploads are parsed
    python benchmarks/load_web.py --attack run           # while a long EUM run computes

Read pages: the library, the scenario list (JSON), a recorded run's page
(forecasts and charts) and the run history.  Runs: the EC scenario through
the JSON API (compromise and median, not recorded).  With ``--attack`` one
more client keeps the worker pool busy for the whole test: ``upload`` posts a
~450-byte KTAB XML file whose nested entities expand to 10 million
characters, again as soon as the last one is refused; ``run`` runs EUM on a
250-actor x 20-issue scenario.  Only loopback addresses are ever contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from stakes.fuzz import entity_xml
from stakes.fuzz import large_ktab_csv as ktab_csv

READ = "read"
RUN = "run"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(tmp: Path):
    """``stakes serve`` in its own process, as a user runs it (the clients run in this one)."""
    import subprocess
    import urllib.request

    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "stakes.cli.main", "serve", "--port",
                             str(port), "--store", str(tmp / "runs.duckdb"), "--scenarios",
                             str(tmp / "scenarios")], stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            with urllib.request.urlopen(f"{base}/api/health", timeout=1):
                return proc, base
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("stakes serve did not start") from None
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("stakes serve did not answer")




async def attacker(base: str, kind: str, stop: float, log: list[str]) -> None:
    """Keep one worker busy with hostile or long work until ``stop``."""
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=600) as c:
        await c.get("/")
        token = c.cookies["stakes_csrf"]
        if kind == "run":
            r = await c.post("/upload", data={"csrf_token": token},
                             files={"file": ("long.csv", ktab_csv(250, 20))})
            log.append(f"upload of the long scenario: HTTP {r.status_code}")
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            try:
                if kind == "upload":
                    r = await c.post("/upload", data={"csrf_token": token},
                                     files={"file": ("evil.xml", entity_xml())},
                                     timeout=max(1.0, stop - time.perf_counter()))
                else:
                    r = await c.post("/api/run", json={"scenario": "long", "models": ["eum"],
                                                       "rounds": 1000, "record": False},
                                     timeout=max(1.0, stop - time.perf_counter()))
                log.append(f"{kind}: HTTP {r.status_code} after {time.perf_counter() - t0:.1f} s")
            except httpx.TimeoutException:
                log.append(f"{kind}: still running when the test ended "
                           f"({time.perf_counter() - t0:.1f} s)")
                return


async def load(base: str, clients: int, seconds: float, attack: str | None) -> dict:
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=60) as c:
        rid = (await c.post("/api/run", json={"scenario": "ec-emissions",
                                              "models": ["compromise"]})).json()["run_id"]
        for path in ("/", f"/runs/{rid}", "/runs"):  # warm the caches, as any first visit does
            await c.get(path)
    calls = [
        (READ, "GET", "/", None),
        (READ, "GET", "/api/scenarios", None),
        (READ, "GET", f"/runs/{rid}", None),
        (READ, "GET", "/runs", None),
        (RUN, "POST", "/api/run", {"scenario": "ec-emissions", "models": ["compromise", "median"],
                                   "record": False}),
    ]
    lat: dict[str, list[float]] = {READ: [], RUN: []}
    errors: dict[str, int] = {}
    attack_log: list[str] = []
    stop = time.perf_counter() + seconds

    async def worker(k: int) -> None:
        limits = httpx.Limits(max_connections=1)
        async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as c:
            i = k
            while time.perf_counter() < stop:
                cat, method, path, body = calls[i % len(calls)]
                i += 1
                t0 = time.perf_counter()
                try:
                    r = await c.request(method, path, json=body)
                    ok = r.status_code == 200
                    key = f"HTTP {r.status_code} {path}"
                except httpx.HTTPError as exc:
                    ok, key = False, f"{type(exc).__name__} {path}"
                lat[cat].append(time.perf_counter() - t0)
                if not ok:
                    errors[key] = errors.get(key, 0) + 1

    t0 = time.perf_counter()
    tasks = [worker(k) for k in range(clients)]
    if attack:
        tasks.append(attacker(base, attack, stop, attack_log))
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - t0

    def stats(xs: list[float]) -> dict[str, float]:
        xs = sorted(xs)
        if not xs:
            return {"n": 0}

        def q(p: float) -> float:
            return xs[min(len(xs) - 1, int(p * len(xs)))] * 1000

        return {"n": len(xs), "p50_ms": q(0.50), "p95_ms": q(0.95), "p99_ms": q(0.99),
                "max_ms": xs[-1] * 1000, "mean_ms": statistics.fmean(xs) * 1000}

    n = sum(len(v) for v in lat.values())
    return {"requests": n, "errors": sum(errors.values()), "by_error": errors, "seconds": wall,
            "rps": n / wall, READ: stats(lat[READ]), RUN: stats(lat[RUN]),
            "attack": attack_log}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--attack", choices=("upload", "run"), default=None,
                    help="Keep a worker busy with hostile uploads or a long run meanwhile.")
    args = ap.parse_args(argv)
    if not (1 <= args.clients <= 500 and 0 < args.seconds <= 600):
        ap.error("clients must be 1..500 and seconds 0..600")
    with tempfile.TemporaryDirectory(prefix="stakes-load-") as tmp:
        os.environ["STAKES_STORE"] = str(Path(tmp) / "runs.duckdb")
        proc, base = start_server(Path(tmp))
        try:
            res = asyncio.run(load(base, args.clients, args.seconds, args.attack))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"stakes serve load test: {args.clients} clients x {args.seconds:g} s on {base}"
          f"{' while ' + args.attack + ' attacks run' if args.attack else ''} "
          f"(Python {platform.python_version()}, {os.cpu_count()} CPUs)")
    print(f"requests {res['requests']}  errors {res['errors']}  "
          f"throughput {res['rps']:.1f} req/s")
    for cat, label in ((READ, "read pages"), (RUN, "API runs")):
        s = res[cat]
        if s["n"]:
            print(f"{label:>10}: n {s['n']:5d}  p50 {s['p50_ms']:7.1f} ms  p95 {s['p95_ms']:7.1f}"
                  f" ms  p99 {s['p99_ms']:7.1f} ms  max {s['max_ms']:7.1f} ms")
    for k, v in sorted(res["by_error"].items()):
        print(f"  {v} x {k}")
    for line in res["attack"]:
        print(f"  attack: {line}")
    return 1 if res["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
