"""The web app's job pool: parsing and runs happen off the event loop, in worker processes.

Why processes: a job must be stoppable.  A thread running a quadratic parse
or a 5,000-actor model cannot be interrupted; a process can be ended.  So
each of ``workers`` dispatcher threads owns one worker process (a fresh
interpreter, so that it never inherits the server's threads or locks) and
takes jobs from one bounded queue.  A job is a *driver* that runs in the
dispatcher thread and asks its worker for steps (parse this upload, run this
model, compute this chunk); between steps it reports progress, and while a
step runs the dispatcher watches it:

- **time**: past the job's limit the worker is ended (``JobTimeout``);
- **memory**: past ``memory_mb`` resident the worker is ended (``JobMemory``);
- **cancel**: a cancel request, or nobody having asked about the job for
  ``abandon_seconds`` (its browser tab or API client went away), ends the
  worker (``JobCancelled``).

An ended worker is replaced by a fresh one when the next job needs it.  The
queue is bounded (``queue``): when it is full a new job is refused at once
(``QueueFull``) instead of waiting without end.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import InputError, OptionError, Diagnostic, StakesError
from .limits import Limits  # noqa: F401  (re-exported: the server's limits live there)

log = logging.getLogger("stakes.web.jobs")

KEEP_FINISHED = 500  # finished jobs kept for their result pages
POLL = 0.05  # seconds between looks at a running step


class JobStopped(StakesError):
    """A job ended before it finished (cancelled, out of time or memory, or busy)."""

    status = 409


class JobCancelled(JobStopped):
    status = 409


class JobTimeout(JobStopped):
    status = 422  # not 408: clients may resend a request answered with 408


class JobMemory(JobStopped):
    status = 413


class QueueFull(JobStopped):
    status = 503


class WorkerFailed(StakesError):
    """The worker ended without answering (killed from outside, or crashed)."""


def _rss(pid: int) -> int:
    import psutil

    try:
        return psutil.Process(pid).memory_info().rss
    except psutil.Error:
        return 0


class Worker:
    """One worker process and the pipe to it."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.conn: Connection | None = None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, job: "Job | None" = None) -> None:
        """Start the worker: a fresh interpreter holding one end of a socket pair.

        A plain subprocess rather than :mod:`multiprocessing`, whose ``spawn`` re-imports
        the server's main script in the child and fails for scripts without a main guard.
        """
        self.stop()
        ours, theirs = socket.socketpair()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-c", "import sys; from stakes.web.worker import main; "
                 f"main({theirs.fileno()})"],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)})
        except OSError as exc:
            ours.close()
            raise WorkerFailed(f"the worker process did not start ({exc.strerror})") from None
        finally:
            theirs.close()
        self.proc, self.conn = proc, Connection(ours.detach())
        deadline = time.monotonic() + 120
        while not self.conn.poll(POLL):
            if proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise WorkerFailed("the worker process did not start")
            if job is not None and job.cancel_requested:
                self.stop()
                raise JobCancelled("cancelled")
        self.conn.recv()  # ("ready", pid)

    def stop(self) -> None:
        proc, conn = self.proc, self.conn
        self.proc = self.conn = None
        if conn is not None:
            conn.close()
        if proc is not None and proc.poll() is None:
            proc.kill()
        if proc is not None:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                log.warning("worker %s did not end", proc.pid)

    def call(self, task: str, payload: Any, job: "Job", limits: Limits) -> Any:
        """Run one step in the worker, watching time, memory and cancel requests."""
        if not self.alive:
            self.start(job)
        assert self.conn is not None and self.proc is not None
        self.conn.send((task, payload))
        limit = limits.memory_mb * 1024 * 1024
        checks = 0
        while True:
            if self.conn.poll(POLL):
                try:
                    msg = self.conn.recv()
                except (EOFError, OSError):
                    self.stop()
                    raise WorkerFailed("the worker process ended unexpectedly") from None
                if msg[0] == "progress":
                    job.step, job.steps = int(msg[1]), int(msg[2])
                    job.step_text = str(msg[3]) if len(msg) > 3 else job.step_text
                    continue
                if msg[0] == "ok":
                    return msg[1]
                raise _rebuild(msg[1], msg[2])
            now = time.monotonic()
            why = job.stop_reason(now, limits)
            if why is not None:
                self.stop()
                raise why
            checks += 1
            if checks % 4 == 0 and _rss(self.proc.pid) > limit:
                self.stop()
                raise JobMemory(f"stopped: the job needed more than {limits.memory_mb} MiB "
                                "of memory (stakes serve --job-memory)")
            if self.proc.poll() is not None:
                self.stop()
                raise WorkerFailed("the worker process ended unexpectedly")


def _rebuild(kind: str, problems: list[dict[str, Any]]) -> StakesError:
    if kind == "input":
        return InputError([Diagnostic(p["message"], p.get("file"), p.get("line"), p.get("column"),
                                   p.get("field")) for p in problems])
    msg = problems[0]["message"] if problems else "error"
    if kind == "option":
        return OptionError(msg)
    if kind == "memory":
        return JobMemory("stopped: the job ran out of memory")
    if kind == "internal":
        return WorkerFailed("something went wrong in the job; the details are in the "
                            "server's log")
    return StakesError(msg)


@dataclass
class Job:
    """One unit of queued work and what is known about it."""

    id: str
    kind: str
    title: str
    driver: Callable[["JobContext"], Any]
    seconds: float
    watched: bool = True  # cancelled when nobody asks about it for abandon_seconds
    state: str = "queued"  # queued, running, done, failed, cancelled
    step: int = 0
    steps: int = 0
    step_text: str = ""
    result: Any = None
    error: StakesError | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    last_seen: float = field(default_factory=time.monotonic)
    cancel_requested: bool = False
    deadline: float = float("inf")
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def finished_ok(self) -> bool:
        return self.state == "done"

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")

    def touch(self) -> None:
        self.last_seen = time.monotonic()

    def stop_reason(self, now: float, limits: Limits) -> JobStopped | None:
        if self.cancel_requested:
            return JobCancelled("cancelled")
        if self.watched and now - self.last_seen > limits.abandon_seconds:
            return JobCancelled("cancelled: nobody was waiting for the result any more")
        if now > self.deadline:
            return JobTimeout(f"stopped: the job took longer than {self.seconds:g} s "
                              "(stakes serve --job-seconds)")
        return None

    def describe(self) -> dict[str, Any]:
        """The job as the JSON API shows it."""
        return {"id": self.id, "kind": self.kind, "title": self.title, "state": self.state,
                "step": self.step, "steps": self.steps, "step_text": self.step_text,
                "error": str(self.error) if self.error is not None else None,
                "seconds": round((self.finished or time.time()) - (self.started or self.created),
                                 3)}


class JobContext:
    """What a driver sees: its worker, its progress, its limits."""

    def __init__(self, job: Job, worker: Worker, limits: Limits):
        self.job, self.worker, self.limits = job, worker, limits

    def call(self, task: str, payload: Any) -> Any:
        return self.worker.call(task, payload, self.job, self.limits)

    def progress(self, step: int, steps: int, text: str = "") -> None:
        self.job.step, self.job.steps, self.job.step_text = step, steps, text
        why = self.job.stop_reason(time.monotonic(), self.limits)
        if why is not None:
            raise why


class JobPool:
    """A bounded queue of jobs served by ``limits.workers`` worker processes."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.jobs: OrderedDict[str, Job] = OrderedDict()
        self.queue: deque[Job] = deque()
        self.cond = threading.Condition()
        self.threads: list[threading.Thread] = []
        self.workers: list[Worker] = []
        self.closed = False

    # -- the API -----------------------------------------------------------
    def start(self, warm: bool = True) -> None:
        """Start the dispatcher threads (and, with ``warm``, their worker processes)."""
        with self.cond:
            if self.threads or self.closed:
                return
            for k in range(max(1, self.limits.workers)):
                w = Worker()
                self.workers.append(w)
                t = threading.Thread(target=self._loop, args=(w, warm), daemon=True,
                                     name=f"stakes-jobs-{k}")
                self.threads.append(t)
            for t in self.threads:
                t.start()

    def submit(self, kind: str, title: str, driver: Callable[[JobContext], Any], *,
               seconds: float | None = None, watched: bool = True) -> Job:
        job = Job(secrets.token_hex(16), kind, title, driver,
                  seconds if seconds is not None else self.limits.job_seconds, watched)
        with self.cond:
            waiting = sum(1 for j in self.queue if not j.cancel_requested)
            if waiting >= self.limits.queue:
                raise QueueFull(f"the server is busy ({waiting} jobs waiting); try again "
                                "in a moment")
            self.jobs[job.id] = job
            while len(self.jobs) > KEEP_FINISHED:
                old = next(iter(self.jobs.values()))
                if old.active:
                    break
                self.jobs.popitem(last=False)
            self.queue.append(job)
            self.cond.notify()
        self.start(warm=False)
        return job

    def get(self, jid: str) -> Job | None:
        with self.cond:
            return self.jobs.get(jid)

    def cancel(self, jid: str) -> Job | None:
        job = self.get(jid)
        if job is not None and job.active:
            job.cancel_requested = True
            with self.cond:
                self.cond.notify_all()
        return job

    def position(self, job: Job) -> int:
        """How many jobs wait before this one (0 when running or done)."""
        with self.cond:
            for k, j in enumerate(self.queue):
                if j is job:
                    return k + 1
        return 0

    def close(self) -> None:
        with self.cond:
            self.closed = True
            for j in self.queue:
                j.cancel_requested = True
            self.cond.notify_all()
        for j in list(self.jobs.values()):
            if j.active:
                j.cancel_requested = True
        for t in self.threads:
            t.join(timeout=10)
        for w in self.workers:
            w.stop()

    # -- the dispatcher ----------------------------------------------------
    def _next(self) -> Job | None:
        with self.cond:
            while not self.closed:
                if self.queue:
                    return self.queue.popleft()
                self.cond.wait(timeout=1.0)
        return None

    def _loop(self, worker: Worker, warm: bool) -> None:
        if warm:
            try:
                worker.start()
            except StakesError:
                log.warning("a worker process did not start; it is retried with the next job")
        while True:
            job = self._next()
            if job is None:
                return
            self._run(job, worker)

    def _run(self, job: Job, worker: Worker) -> None:
        job.started = time.time()
        job.deadline = time.monotonic() + job.seconds
        try:
            why = job.stop_reason(time.monotonic(), self.limits)
            if why is not None:
                raise why
            job.state = "running"
            job.result = job.driver(JobContext(job, worker, self.limits))
            job.state = "done"
        except JobCancelled as exc:
            job.state, job.error = "cancelled", exc
        except StakesError as exc:
            job.state, job.error = "failed", exc
        except Exception:  # noqa: BLE001 - the user sees a message, the log the traceback
            log.exception("job %s (%s) failed", job.id, job.kind)
            job.state = "failed"
            job.error = WorkerFailed("something went wrong in the job; the details are in "
                                     "the server's log")
        finally:
            job.finished = time.time()
            job.done.set()
