"""What runs inside a worker process of the web app's job pool (see :mod:`stakes.web.jobs`).

A worker answers one request at a time over a pipe: ``(task, payload)`` in,
``("ok", value)`` or ``("error", kind, problems)`` out.  Parsing an upload,
running one model and computing one chunk of a sweep are the tasks; the
server side strings them into jobs, so that progress is reported between
them and a job can be stopped by ending the process.

Errors travel as plain data (the exception classes are rebuilt on the
server side), and anything unexpected is logged here, in the worker's own
stderr, and reported as an internal error without a traceback.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger("stakes.web.worker")


def _load(payload: dict[str, Any], emit: Callable[..., None]) -> Any:
    """Parse an upload: ``{"name": str, "suffix": str, "data": bytes}`` -> Scenario.

    The file is written under its own (already sanitised) name so that readers
    which name the scenario after its file give it the upload's name.
    """
    from ..readers import load_any

    with tempfile.TemporaryDirectory(prefix="stakes-upload-") as tmp:
        path = Path(tmp) / f"{payload['name']}{payload['suffix']}"
        path.write_bytes(payload["data"])
        return load_any(path)


def _run(payload: dict[str, Any], emit: Callable[..., None]) -> Any:
    """One model on a scenario under the given interventions -> its assessed results
    (a :class:`stakes.forecast.Forecast`, as ``stakes run`` makes it)."""
    from ..engine import interventions_for, run_scenario
    from ..forecast import assess

    scn = payload["scenario"]
    ivs = interventions_for(scn, payload.get("levers") or [], payload.get("plans") or [])
    seed = int(payload.get("seed") or 0)
    options = payload.get("options") or None
    results = run_scenario(scn, [payload["model"]], options=options, interventions=ivs,
                           rounds=payload.get("rounds"), seed=seed, skip_inapplicable=True)
    return assess(scn, results, options=options, rounds=payload.get("rounds"), seed=seed,
                  members=payload.get("members"))


def _sweep_chunk(payload: dict[str, Any], emit: Callable[..., None]) -> Any:
    """Chunk ``k`` of a salience sweep -> its rows (a DataFrame)."""
    from ..store.sweep import chunk_frame

    return chunk_frame(payload["scenario"], payload["spec"], int(payload["chunk"]))


def _sleep(payload: dict[str, Any], emit: Callable[..., None]) -> Any:
    """Sleep (used by tests of cancelling and time limits)."""
    import time

    time.sleep(float(payload.get("seconds", 1.0)))
    return payload.get("value")


def _grow(payload: dict[str, Any], emit: Callable[..., None]) -> Any:
    """Hold ``mb`` MiB for a while (used by tests of the memory limit)."""
    import time

    block = bytearray(int(payload["mb"]) * 1024 * 1024)
    for i in range(0, len(block), 4096):  # touch every page so that it is resident
        block[i] = 1
    time.sleep(float(payload.get("seconds", 5.0)))
    return len(block)


def _sweep(payload: dict[str, Any], emit: Callable[..., None]) -> Any:
    """A salience/position ensemble (``stakes sweep``) -> (summary document, member rows)."""
    from ..analysis.sweep import member_frame, run_sweep, summarize
    from ..engine import interventions_for

    scn = payload["scenario"]
    ivs = interventions_for(scn, payload.get("levers") or [], payload.get("plans") or [])
    frames = []
    res = run_sweep(scn, runs=int(payload["runs"]), seed=int(payload.get("seed") or 0),
                    models=payload["models"], interventions=ivs,
                    progress=lambda done, total: emit(done, total, "members"),
                    on_chunk=lambda k, a, b, ev: frames.append(member_frame(ev, a, b)))
    import pandas as pd

    return summarize(res), pd.concat(frames, ignore_index=True)


def _advise(payload: dict[str, Any], emit: Callable[..., None]) -> Any:
    """A plan search (``stakes advise``) -> its document."""
    from ..analysis.advise import advise, parse_goal

    scn = payload["scenario"]
    goals = [parse_goal(g, scn) for g in payload["goals"]]
    return advise(scn, goals, model=payload["model"], members=int(payload["members"]),
                  seed=int(payload.get("seed") or 0)).json()


TASKS: dict[str, Callable[[dict[str, Any], Callable[..., None]], Any]] = {
    "advise": _advise,
    "load": _load, "run": _run, "sweep": _sweep, "sweep_chunk": _sweep_chunk,
    "sleep": _sleep, "grow": _grow,
}


def _error(exc: BaseException) -> tuple[str, str, list[dict[str, Any]]]:
    from ..errors import InputError, OptionError, StakesError

    if isinstance(exc, InputError):
        return ("error", "input", [{"message": p.message, "file": p.file, "line": p.line,
                                    "column": p.column, "field": p.field}
                                   for p in exc.problems])
    if isinstance(exc, OptionError):
        return ("error", "option", [{"message": str(exc)}])
    if isinstance(exc, StakesError):
        return ("error", "stakes", [{"message": str(exc)}])
    if isinstance(exc, MemoryError):
        return ("error", "memory", [{"message": "out of memory"}])
    if isinstance(exc, RecursionError):
        return ("error", "input", [{"message": "the input is nested too deeply"}])
    log.error("task failed", exc_info=exc)
    return ("error", "internal", [{"message": "internal error"}])


def _emitter(conn: Any) -> Callable[..., None]:
    """Progress reports for the server, at most five a second."""
    import time

    last = [0.0]

    def emit(*args: Any) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.2:
            last[0] = now
            conn.send(("progress", *args))

    return emit


def serve(conn: Any) -> None:
    """The worker's loop: answer requests until the pipe closes."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        # Jobs yield the CPU to the server's own threads: pages stay quick while they run.
        os.nice(10)
    except (AttributeError, OSError):
        pass
    # Warm the imports every task needs, so that the first job is not the slow one.
    from .. import engine, readers  # noqa: F401

    conn.send(("ready", os.getpid()))
    while True:
        try:
            task, payload = conn.recv()
        except (EOFError, OSError):
            return
        fn = TASKS.get(task)
        try:
            if fn is None:
                raise ValueError(f"unknown task {task!r}")
            reply: tuple = ("ok", fn(payload, _emitter(conn)))
        except BaseException as exc:  # noqa: BLE001 - reported to the server as data
            reply = _error(exc)
        try:
            conn.send(reply)
        except (EOFError, OSError, BrokenPipeError):
            return
        except Exception as exc:  # noqa: BLE001 - e.g. a result that cannot be pickled
            conn.send(_error(exc))


def main(fd: int) -> None:
    """Entry point of ``python -c "...main(FD)"``: serve on the inherited socket ``fd``."""
    from multiprocessing.connection import Connection

    serve(Connection(fd))
