"""What one job of the web app may use (``stakes serve`` options).

Kept apart from :mod:`.jobs` so that the CLI can show these defaults in its help
without loading the job machinery (processes, sockets, logging).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import Diagnostic, InputError


@dataclass
class Limits:
    """What one job may use; every figure is configurable (``stakes serve --help``)."""

    workers: int = 2  # worker processes (jobs that run at the same time)
    queue: int = 64  # jobs that may wait; more are refused with 503
    job_seconds: float = 300.0  # a run, sweep or other long job
    upload_seconds: float = 30.0  # reading one uploaded file
    memory_mb: int = 2048  # resident memory of one worker process
    max_actors: int = 500  # per scenario
    max_cells: int = 5000  # actors x issues per scenario
    abandon_seconds: float = 20.0  # a job nobody asks about for this long is cancelled

    def check_size(self, scn: Any, file: str | None = None) -> None:
        """Refuse a scenario too large to run within these limits."""
        n, m = len(scn.actors), len(scn.issues)
        if n > self.max_actors:
            raise InputError(Diagnostic(f"the scenario has {n} actors; this server accepts at "
                                     f"most {self.max_actors} (stakes serve --max-actors)",
                                     file=file, field="actors"))
        if n * m > self.max_cells:
            raise InputError(Diagnostic(f"the scenario has {n} actors x {m} issues = {n * m} "
                                     f"cells; this server accepts at most {self.max_cells} "
                                     "(stakes serve --max-cells)", file=file, field="issues"))
