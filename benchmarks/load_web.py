"""Bounded load test of ``stakes serve`` on loopback.

Starts the app under uvicorn on a free 127.0.0.1 port (a throw-away run
store and scenario folder), then runs N concurrent clients for T seconds
against a mix of pages and API calls, and prints the figures::

    python benchmarks/load_web.py                 # 50 clients x 30 s
    python benchmarks/load_web.py --clients 20 --seconds 5

The mix: library page, scenario list, a run page, the run history, and a
run of the EC scenario (compromise + median, not recorded) through the
JSON API.  Only loopback addresses are ever contacted.
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
import threading
import time
from pathlib import Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(tmp: Path):
    import uvicorn

    from stakes.web.app import create_app

    app = create_app(store=tmp / "runs.duckdb", scenario_dir=tmp / "scenarios")
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                        access_log=False))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    while not srv.started:
        time.sleep(0.05)
    return srv, th, f"http://127.0.0.1:{port}"


async def load(base: str, clients: int, seconds: float) -> dict:
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=60) as c:
        rid = (await c.post("/api/run", json={"scenario": "ec-emissions",
                                              "models": ["compromise"]})).json()["run_id"]
    calls = [
        ("GET", "/", None),
        ("GET", "/api/scenarios", None),
        ("GET", f"/runs/{rid}", None),
        ("GET", "/runs", None),
        ("POST", "/api/run", {"scenario": "ec-emissions", "models": ["compromise", "median"],
                              "record": False}),
    ]
    lat: list[float] = []
    errors: dict[str, int] = {}
    stop = time.perf_counter() + seconds

    async def worker(k: int) -> None:
        limits = httpx.Limits(max_connections=1)
        async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as c:
            i = k
            while time.perf_counter() < stop:
                method, path, body = calls[i % len(calls)]
                i += 1
                t0 = time.perf_counter()
                try:
                    r = await c.request(method, path, json=body)
                    ok = r.status_code == 200
                    key = f"HTTP {r.status_code} {path}"
                except httpx.HTTPError as exc:
                    ok, key = False, f"{type(exc).__name__} {path}"
                lat.append(time.perf_counter() - t0)
                if not ok:
                    errors[key] = errors.get(key, 0) + 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(clients)))
    wall = time.perf_counter() - t0
    lat.sort()

    def q(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000

    return {"requests": len(lat), "errors": sum(errors.values()), "by_error": errors,
            "seconds": wall, "rps": len(lat) / wall, "p50_ms": q(0.50), "p95_ms": q(0.95),
            "p99_ms": q(0.99), "max_ms": lat[-1] * 1000,
            "mean_ms": statistics.fmean(lat) * 1000}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=30.0)
    args = ap.parse_args(argv)
    if not (1 <= args.clients <= 500 and 0 < args.seconds <= 600):
        ap.error("clients must be 1..500 and seconds 0..600")
    with tempfile.TemporaryDirectory(prefix="stakes-load-") as tmp:
        os.environ["STAKES_STORE"] = str(Path(tmp) / "runs.duckdb")
        srv, th, base = start_server(Path(tmp))
        try:
            res = asyncio.run(load(base, args.clients, args.seconds))
        finally:
            srv.should_exit = True
            th.join(timeout=10)
    print(f"stakes serve load test: {args.clients} clients x {args.seconds:g} s on {base} "
          f"(Python {platform.python_version()}, {os.cpu_count()} CPUs)")
    print(f"requests {res['requests']}  errors {res['errors']}  "
          f"throughput {res['rps']:.1f} req/s")
    print(f"latency ms: mean {res['mean_ms']:.1f}  p50 {res['p50_ms']:.1f}  "
          f"p95 {res['p95_ms']:.1f}  p99 {res['p99_ms']:.1f}  max {res['max_ms']:.1f}")
    for k, v in sorted(res["by_error"].items()):
        print(f"  {v} x {k}")
    return 1 if res["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
