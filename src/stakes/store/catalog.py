"""The run store: an embedded DuckDB catalog of every run, with Parquet shards for sweeps.

Layout on disk (``runs.duckdb`` is the default name)::

    runs.duckdb            the catalog (DuckDB, one file)
    runs.shards/RUN_ID/    Parquet shards of large runs, one file per chunk

What a run records: the full scenario (as YAML) and its content hash, the
models, the option values given and those in force, the levers and plans, the
seed, the round limit, the stakes and Python versions, the command line, the
timings, the results document (the stable JSON contract of
:mod:`stakes.results`) and the per-round history of every position.

Atomicity: a run is written in one DuckDB transaction, so it is either fully
recorded or absent (DuckDB's write-ahead log discards an unfinished
transaction when a killed process leaves one behind).  Large runs (sweeps)
are recorded as a run whose ``status`` is ``incomplete`` until every chunk
of its job has been written as a Parquet shard and registered; see
:mod:`stakes.store.shards`.

DuckDB lets one process open a catalog for writing at a time, and no reader
while it is open.  Writers therefore keep it open only for their transactions
(a sweep opens it once per chunk), and a process that finds it locked tries
again for up to :data:`WAIT_S` seconds before a :class:`StoreError` says that
the store is busy.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import platform
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from ..errors import StakesError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..engine import Result
    from ..scenario.schema import Scenario

SCHEMA_VERSION = 1
#: Seconds a process waits for another one to release the catalog before "store busy".
WAIT_S = 10.0
ENV_VAR = "STAKES_STORE"
DEFAULT_NAME = "runs.duckdb"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stakes_meta (
    key VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS scenarios (
    hash VARCHAR PRIMARY KEY,          -- sha256 of the scenario's canonical JSON
    name VARCHAR NOT NULL,
    yaml VARCHAR NOT NULL,             -- the full scenario, loadable with loads_scenario
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,             -- 'run' | 'ensemble' | ... | 'advice' (plan search)
    status VARCHAR NOT NULL,           -- 'complete' | 'incomplete' (a job still to finish)
    created_at TIMESTAMP NOT NULL,     -- UTC
    finished_at TIMESTAMP,
    label VARCHAR,
    source VARCHAR,                    -- scenario file or packaged name as given
    scenario_hash VARCHAR NOT NULL,
    scenario_name VARCHAR NOT NULL,
    models VARCHAR NOT NULL,           -- JSON list
    options VARCHAR NOT NULL,          -- JSON {model: {option: value}} as given
    interventions VARCHAR NOT NULL,    -- JSON list of labels: baseline, lever:ID, plan:ID
    seed BIGINT NOT NULL,
    rounds INTEGER,
    stakes_version VARCHAR NOT NULL,
    python_version VARCHAR NOT NULL,
    platform VARCHAR NOT NULL,
    command VARCHAR,
    seconds DOUBLE,                    -- wall time of the whole run
    spec VARCHAR,                      -- JSON settings of a job (sweeps)
    n_chunks INTEGER,                  -- chunks of its job (sweeps)
    document VARCHAR                   -- JSON results document (stakes.results contract)
);
CREATE TABLE IF NOT EXISTS results (
    run_id VARCHAR NOT NULL,
    idx INTEGER NOT NULL,              -- order in the document's results list
    model VARCHAR NOT NULL,
    issues VARCHAR NOT NULL,           -- JSON list (several for joint models)
    intervention VARCHAR NOT NULL,
    stop VARCHAR NOT NULL,
    seconds DOUBLE,
    options VARCHAR NOT NULL,          -- JSON: the option values in force
    PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS forecasts (
    run_id VARCHAR NOT NULL,
    idx INTEGER NOT NULL,
    issue VARCHAR NOT NULL,
    forecast DOUBLE,
    PRIMARY KEY (run_id, idx, issue)
);
CREATE TABLE IF NOT EXISTS history (
    run_id VARCHAR NOT NULL,
    idx INTEGER NOT NULL,
    round INTEGER NOT NULL,
    actor VARCHAR NOT NULL,
    issue VARCHAR NOT NULL,
    position DOUBLE,
    forecast DOUBLE,
    mean DOUBLE
);
CREATE TABLE IF NOT EXISTS round_extra (
    run_id VARCHAR NOT NULL,
    idx INTEGER NOT NULL,
    round INTEGER NOT NULL,
    extra VARCHAR NOT NULL             -- JSON: model-specific per-round diagnostics
);
CREATE TABLE IF NOT EXISTS shards (
    run_id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,             -- e.g. 'members' (per-member forecasts), 'sobol'
    chunk INTEGER NOT NULL,
    path VARCHAR NOT NULL,             -- relative to the shard folder
    rows BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    sha256 VARCHAR NOT NULL,
    seconds DOUBLE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (run_id, kind, chunk)
);
"""

# Tables holding rows of a run, deleted together with it.
_RUN_TABLES = ("results", "forecasts", "history", "round_extra", "shards")


class StoreError(StakesError):
    """The run store cannot be opened, or a run asked for is not in it."""


def default_store_path() -> Path:
    """The catalog in the user's data directory (platformdirs)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("stakes", appauthor=False)) / DEFAULT_NAME


def resolve_store_path(path: str | os.PathLike | None = None) -> Path:
    """``path`` if given, else ``$STAKES_STORE``, else the default in the user's data directory.

    A directory is taken to mean ``DIR/runs.duckdb``.
    """
    if path is None or str(path) == "":
        env = os.environ.get(ENV_VAR, "").strip()
        p = Path(env).expanduser() if env else default_store_path()
    else:
        p = Path(path).expanduser()
    if p.is_dir():
        p = p / DEFAULT_NAME
    return p


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _json(v: Any) -> str:
    try:  # most values are plain already (the results document is)
        return json.dumps(v, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError):
        return json.dumps(_plain(v), allow_nan=False, ensure_ascii=False)


def _plain(v: Any) -> Any:
    """JSON-safe copy: numpy scalars and arrays to Python, NaN and inf to None."""
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        np = None  # type: ignore[assignment]
    if isinstance(v, float):
        return None if math.isnan(v) or math.isinf(v) else v
    if np is not None:
        if isinstance(v, np.floating):
            return _plain(float(v))
        if isinstance(v, np.integer):
            return int(v)
        if isinstance(v, np.bool_):
            return bool(v)
        if isinstance(v, np.ndarray):
            return _plain(v.tolist())
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    if isinstance(v, Path):
        return str(v)
    return v


def scenario_hash(scn: "Scenario") -> str:
    """Content hash of a scenario: sha256 of its canonical JSON (keys sorted)."""
    data = scn.model_dump(mode="json")
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class RunRecord:
    """A run as stored: its settings, and (loaded on demand) its document."""

    id: str
    kind: str
    status: str
    created_at: dt.datetime
    finished_at: dt.datetime | None
    label: str | None
    source: str | None
    scenario_hash: str
    scenario_name: str
    models: list[str]
    options: dict[str, dict[str, Any]]
    interventions: list[str]
    seed: int
    rounds: int | None
    stakes_version: str
    python_version: str
    platform: str
    command: str | None
    seconds: float | None
    spec: dict[str, Any] | None
    n_chunks: int | None
    document: dict[str, Any] | None = None
    chunks_done: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def header(self) -> dict[str, Any]:
        """JSON-safe settings of the run (everything but the document)."""
        out = {
            "id": self.id, "kind": self.kind, "status": self.status,
            "created_at": self.created_at.isoformat() + "Z",
            "finished_at": self.finished_at.isoformat() + "Z" if self.finished_at else None,
            "label": self.label, "source": self.source,
            "scenario": {"name": self.scenario_name, "hash": self.scenario_hash},
            "models": self.models, "options": self.options,
            "interventions": self.interventions, "seed": self.seed, "rounds": self.rounds,
            "stakes_version": self.stakes_version, "python_version": self.python_version,
            "platform": self.platform, "command": self.command, "seconds": self.seconds,
        }
        if self.kind != "run":
            out.update(spec=self.spec, n_chunks=self.n_chunks, chunks_done=self.chunks_done)
        return out


_RUN_COLUMNS = (
    "id", "kind", "status", "created_at", "finished_at", "label", "source", "scenario_hash",
    "scenario_name", "models", "options", "interventions", "seed", "rounds", "stakes_version",
    "python_version", "platform", "command", "seconds", "spec", "n_chunks",
)


def _record_from_row(row: Sequence[Any], chunks_done: int = 0) -> RunRecord:
    d = dict(zip(_RUN_COLUMNS, row))
    for k in ("models", "options", "interventions"):
        d[k] = json.loads(d[k])
    d["spec"] = json.loads(d["spec"]) if d["spec"] else None
    return RunRecord(**d, chunks_done=chunks_done)


class Store:
    """An open run store.  Use as a context manager, or call :meth:`close`.

    ``read_only`` opens the catalog without taking the writer's lock where
    DuckDB allows it.  While another process holds the catalog, opening it is
    tried again for up to ``wait`` seconds (default :data:`WAIT_S`), then it is
    a :class:`StoreError` saying the store is busy.
    """

    def __init__(self, path: str | os.PathLike | None = None, *, read_only: bool = False,
                 wait: float | None = None):
        import duckdb

        self.path = resolve_store_path(path)
        self.read_only = read_only
        if read_only and not self.path.exists():
            raise StoreError(f"no run store at {self.path} (record a run first, "
                             f"or give --store / ${ENV_VAR})")
        if not read_only:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the folder of the run store {self.path}: "
                                 f"{exc.strerror or exc}") from None
        # Writers hold the catalog only for one transaction at a time (a sweep opens it
        # per chunk), so a process that finds it locked waits a little and tries again.
        deadline = time.monotonic() + (WAIT_S if wait is None else max(0.0, wait))
        delay = 0.02
        while True:
            try:
                self.con = duckdb.connect(str(self.path), read_only=read_only)
                break
            except duckdb.IOException as exc:
                msg = str(exc)
                if "lock" not in msg.lower():
                    raise StoreError(f"cannot open the run store {self.path}: "
                                     f"{_short(msg)}") from None
                if time.monotonic() >= deadline:
                    raise StoreError(f"the run store {self.path} is busy: another process is "
                                     f"writing it ({_short(msg)}); try again when it has "
                                     "finished") from None
                time.sleep(delay)
                delay = min(0.25, delay * 2)
            except duckdb.Error as exc:
                raise StoreError(f"cannot open the run store {self.path}: "
                                 f"{_short(str(exc))}") from None
        if not read_only:
            self._create_schema()
        else:
            self._check_schema()

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        con = getattr(self, "con", None)
        if con is not None:
            con.close()
            self.con = None  # type: ignore[assignment]

    @property
    def shard_root(self) -> Path:
        """Folder of the Parquet shards: ``NAME.shards`` beside the catalog file."""
        return self.path.with_name(self.path.stem + ".shards")

    def _create_schema(self) -> None:
        with self.transaction():
            self.con.execute(_SCHEMA)
            row = self.con.execute(
                "SELECT value FROM stakes_meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                self.con.execute("INSERT INTO stakes_meta VALUES ('schema_version', ?)",
                                 [str(SCHEMA_VERSION)])
            elif int(row[0]) > SCHEMA_VERSION:
                raise StoreError(f"the run store {self.path} was written by a newer stakes "
                                 f"(schema {row[0]}; this one reads {SCHEMA_VERSION})")

    def _check_schema(self) -> None:
        try:
            row = self.con.execute(
                "SELECT value FROM stakes_meta WHERE key = 'schema_version'").fetchone()
        except Exception:
            raise StoreError(f"{self.path} is not a stakes run store") from None
        if row is None or int(row[0]) > SCHEMA_VERSION:
            raise StoreError(f"the run store {self.path} has an unknown schema version")

    class _Tx:
        def __init__(self, store: "Store"):
            self.store = store

        def __enter__(self) -> None:
            self.store.con.execute("BEGIN TRANSACTION")

        def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
            if exc_type is None:
                self.store.con.execute("COMMIT")
            else:
                self.store.con.execute("ROLLBACK")

    def transaction(self) -> "Store._Tx":
        """All or nothing: commits on success, rolls back on any exception."""
        return Store._Tx(self)

    def _writable(self) -> None:
        if self.read_only:
            raise StoreError(f"the run store {self.path} is open read-only")

    # -- writing runs ------------------------------------------------------

    def _new_id(self) -> str:
        while True:
            rid = uuid.uuid4().hex[:8]
            if not rid.isdigit() and self.con.execute(
                    "SELECT 1 FROM runs WHERE id = ?", [rid]).fetchone() is None:
                return rid

    def _put_scenario(self, scn: "Scenario") -> str:
        from ..scenario.yaml_io import dumps_scenario

        h = scenario_hash(scn)
        if self.con.execute("SELECT 1 FROM scenarios WHERE hash = ?", [h]).fetchone() is None:
            self.con.execute("INSERT INTO scenarios VALUES (?, ?, ?, ?)",
                             [h, scn.metadata.name, dumps_scenario(scn), _now()])
        return h

    def _insert_run(self, *, rid: str, kind: str, status: str, scn: "Scenario", shash: str,
                    models: Sequence[str], options: dict | None, interventions: Sequence[str],
                    seed: int, rounds: int | None, source: str | None, label: str | None,
                    command: str | None, seconds: float | None, spec: dict | None,
                    n_chunks: int | None, document: dict | None) -> None:
        from .. import __version__

        now = _now()
        self.con.execute(
            f"INSERT INTO runs ({', '.join(_RUN_COLUMNS)}, document) VALUES "
            f"({', '.join('?' * (len(_RUN_COLUMNS) + 1))})",
            [rid, kind, status, now, now if status == "complete" else None, label,
             None if source is None else str(source), shash, scn.metadata.name,
             _json(list(models)), _json(options or {}), _json(list(interventions)), int(seed),
             rounds, __version__, platform.python_version(), platform.platform(terse=True),
             command, seconds, None if spec is None else _json(spec), n_chunks,
             None if document is None else _json(document)],
        )

    def _insert_frame(self, table: str, frame: "pd.DataFrame") -> None:
        """Bulk insert (DuckDB scans the DataFrame; much faster than executemany)."""
        if not len(frame):
            return
        name = f"_stakes_{table}"
        self.con.register(name, frame)
        try:
            self.con.execute(f"INSERT INTO {table} SELECT * FROM {name}")
        finally:
            self.con.unregister(name)

    def _insert_results(self, rid: str, results: Sequence["Result"]) -> None:
        import numpy as np
        import pandas as pd

        res_rows, fc_rows, extra_rows = [], [], []
        hist: dict[str, list] = {k: [] for k in ("idx", "round", "actor", "issue", "position",
                                                 "forecast", "mean")}
        for idx, res in enumerate(results):
            run = res.run
            issues = list(run.issue_ids)
            n_iss = len(issues)
            res_rows.append((rid, idx, run.model, _json(issues), res.intervention.label,
                             run.stop, float(res.seconds), _json(run.options)))
            for d, iss in enumerate(issues):
                fc_rows.append((rid, idx, iss, _plain(float(run.forecast[d]))))
            for rec in run.rounds:
                pos = np.asarray(rec.position, dtype=float).reshape(len(rec.actor_ids), n_iss)
                k = pos.size
                hist["idx"].append(np.full(k, idx))
                hist["round"].append(np.full(k, rec.round))
                shape = pos.shape
                hist["actor"].append(np.repeat(np.asarray(rec.actor_ids, dtype=object), n_iss))
                hist["issue"].append(np.broadcast_to(np.asarray(issues, dtype=object),
                                                     shape).reshape(-1))
                hist["position"].append(pos.reshape(-1))
                hist["forecast"].append(np.broadcast_to(np.asarray(rec.forecast, float).reshape(
                    -1), shape).reshape(-1))
                hist["mean"].append(np.broadcast_to(np.asarray(rec.mean, float).reshape(-1),
                                                    shape).reshape(-1))
                if rec.extra:
                    extra_rows.append((rid, idx, rec.round, _json(rec.extra)))
        obj = {"dtype": object}
        self._insert_frame("results", pd.DataFrame(res_rows, columns=[
            "run_id", "idx", "model", "issues", "intervention", "stop", "seconds", "options"]
        ).astype({"run_id": object, "model": object, "issues": object, "intervention": object,
                  "stop": object, "options": object}))
        self._insert_frame("forecasts", pd.DataFrame(fc_rows, columns=[
            "run_id", "idx", "issue", "forecast"]).astype({"run_id": object, "issue": object,
                                                           "forecast": float}))
        self._insert_frame("round_extra", pd.DataFrame(extra_rows, columns=[
            "run_id", "idx", "round", "extra"]).astype({"run_id": object, "extra": object}))
        if hist["idx"]:
            cat = {k: np.concatenate(v) for k, v in hist.items()}
            frame = pd.DataFrame({
                "run_id": pd.Series([rid] * len(cat["idx"]), **obj),
                "idx": cat["idx"].astype(np.int32), "round": cat["round"].astype(np.int32),
                "actor": pd.Series(cat["actor"], **obj), "issue": pd.Series(cat["issue"], **obj),
                # NaN (joint models' absent actors) is stored as NULL
                "position": pd.Series(cat["position"]).where(np.isfinite(cat["position"])),
                "forecast": pd.Series(cat["forecast"]).where(np.isfinite(cat["forecast"])),
                "mean": pd.Series(cat["mean"]).where(np.isfinite(cat["mean"])),
            })
            self._insert_frame("history", frame)

    def record_run(
        self,
        scn: "Scenario",
        results: Sequence["Result"],
        *,
        models: Sequence[str] | None = None,
        options: dict[str, dict[str, Any]] | None = None,
        seed: int = 0,
        rounds: int | None = None,
        source: str | os.PathLike | None = None,
        label: str | None = None,
        command: str | None = None,
        seconds: float | None = None,
    ) -> str:
        """Record one finished run in a single transaction; return its id."""
        from ..results import to_document

        self._writable()
        # before the list: a Forecast's document carries its assessments too
        document = to_document(scn, results)
        results = list(results)
        if models is None:
            models = list(dict.fromkeys(r.run.model for r in results))
        ivs = list(dict.fromkeys(r.intervention.label for r in results))
        if seconds is None:
            seconds = float(sum(r.seconds for r in results))
        with self.transaction():
            rid = self._new_id()
            shash = self._put_scenario(scn)
            self._insert_run(rid=rid, kind="run", status="complete", scn=scn, shash=shash,
                             models=models, options=options, interventions=ivs, seed=seed,
                             rounds=rounds, source=source, label=label, command=command,
                             seconds=seconds, spec=None, n_chunks=None, document=document)
            self._insert_results(rid, results)
        return rid

    def record_document(
        self,
        scn: "Scenario",
        document: dict[str, Any],
        *,
        kind: str,
        models: Sequence[str],
        interventions: Sequence[str] = (),
        options: dict[str, dict[str, Any]] | None = None,
        seed: int = 0,
        rounds: int | None = None,
        source: str | os.PathLike | None = None,
        label: str | None = None,
        command: str | None = None,
        seconds: float | None = None,
        spec: dict[str, Any] | None = None,
    ) -> str:
        """Record a finished analysis whose result is one document (e.g. ``advice``, a plan
        search), in a single transaction; return its id."""
        self._writable()
        with self.transaction():
            rid = self._new_id()
            shash = self._put_scenario(scn)
            self._insert_run(rid=rid, kind=kind, status="complete", scn=scn, shash=shash,
                             models=models, options=options, interventions=interventions,
                             seed=seed, rounds=rounds, source=source, label=label,
                             command=command, seconds=seconds, spec=spec, n_chunks=None,
                             document=document)
        return rid

    # -- jobs (sweeps) -----------------------------------------------------

    def begin_job(
        self,
        scn: "Scenario",
        *,
        kind: str,
        spec: dict[str, Any],
        n_chunks: int,
        models: Sequence[str],
        interventions: Sequence[str] = ("baseline",),
        options: dict[str, dict[str, Any]] | None = None,
        seed: int = 0,
        rounds: int | None = None,
        source: str | os.PathLike | None = None,
        label: str | None = None,
        command: str | None = None,
        results: Sequence["Result"] | None = None,
    ) -> str:
        """Record a job's run as ``incomplete`` (atomically); return its id.

        ``results``, if given, are the nominal run's results (the scenario as
        written), stored as the run's document and history.
        """
        from ..results import to_document

        self._writable()
        if n_chunks < 1:
            raise StoreError(f"a job needs at least one chunk (got {n_chunks})")
        document = to_document(scn, results) if results is not None else None
        with self.transaction():
            rid = self._new_id()
            shash = self._put_scenario(scn)
            self._insert_run(rid=rid, kind=kind, status="incomplete", scn=scn, shash=shash,
                             models=models, options=options, interventions=interventions,
                             seed=seed, rounds=rounds, source=source, label=label,
                             command=command, seconds=None, spec=spec, n_chunks=n_chunks,
                             document=document)
            if results is not None:
                self._insert_results(rid, list(results))
        return rid

    def registered_chunks(self, run_id: str, kind: str) -> set[int]:
        rows = self.con.execute("SELECT chunk FROM shards WHERE run_id = ? AND kind = ?",
                                [run_id, kind]).fetchall()
        return {int(r[0]) for r in rows}

    def register_shard(self, run_id: str, kind: str, chunk: int, relpath: str, rows: int,
                       nbytes: int, sha256: str, seconds: float | None) -> None:
        """Register one written shard (its own transaction)."""
        self._writable()
        with self.transaction():
            self.con.execute("INSERT INTO shards VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             [run_id, kind, int(chunk), relpath, int(rows), int(nbytes), sha256,
                              seconds, _now()])

    def shard_rows(self, run_id: str, kind: str | None = None) -> list[dict[str, Any]]:
        q = ("SELECT kind, chunk, path, rows, bytes, sha256, seconds FROM shards "
             "WHERE run_id = ?" + (" AND kind = ?" if kind else "") + " ORDER BY kind, chunk")
        cols = ("kind", "chunk", "path", "rows", "bytes", "sha256", "seconds")
        args = [run_id, kind] if kind else [run_id]
        return [dict(zip(cols, r)) for r in self.con.execute(q, args).fetchall()]

    def finish_job(self, run_id: str) -> None:
        """Mark a job's run complete once every chunk is registered."""
        self._writable()
        rec = self.get(run_id)
        kind = (rec.spec or {}).get("shard_kind", "members")
        done = self.registered_chunks(run_id, kind)
        missing = sorted(set(range(rec.n_chunks or 0)) - done)
        if missing:
            raise StoreError(f"run {run_id}: {len(missing)} of {rec.n_chunks} chunks are not "
                             f"recorded yet (first: {missing[0]}); resume it")
        with self.transaction():
            # The job's time is the sum of its chunks' times, whichever process wrote them.
            self.con.execute(
                "UPDATE runs SET status = 'complete', finished_at = ?, seconds = "
                "(SELECT coalesce(sum(seconds), 0) FROM shards WHERE run_id = ?) WHERE id = ?",
                [_now(), run_id, run_id])

    # -- reading -----------------------------------------------------------

    def resolve(self, ref: str | None) -> str:
        """A run id from an id, a unique prefix of one, ``latest`` or ``latest~N``."""
        ref = (ref or "latest").strip()
        if ref == "latest" or ref.startswith("latest~"):
            back = 0
            if "~" in ref:
                tail = ref.split("~", 1)[1]
                if not tail.isdigit():
                    raise StoreError(f"run {ref!r}: expected latest~N with N a number")
                back = int(tail)
            row = self.con.execute(
                "SELECT id FROM runs ORDER BY created_at DESC, rowid DESC LIMIT 1 OFFSET ?",
                [back]).fetchone()
            if row is None:
                n = self.con.execute("SELECT count(*) FROM runs").fetchone()[0]
                raise StoreError(f"run {ref!r}: the store {self.path} holds {n} run(s)")
            return row[0]
        rows = self.con.execute("SELECT id FROM runs WHERE id LIKE ? ORDER BY id",
                                [ref.replace("%", "").replace("_", "") + "%"]).fetchall()
        if not rows:
            raise StoreError(f"no run {ref!r} in {self.path} (see: stakes runs list)")
        if len(rows) > 1 and not any(r[0] == ref for r in rows):
            ids = ", ".join(r[0] for r in rows[:5])
            raise StoreError(f"run {ref!r} is ambiguous: {ids}{' …' if len(rows) > 5 else ''}")
        return ref if any(r[0] == ref for r in rows) else rows[0][0]

    def get(self, ref: str, *, document: bool = False) -> RunRecord:
        rid = self.resolve(ref)
        cols = ", ".join(_RUN_COLUMNS) + (", document" if document else "")
        row = self.con.execute(f"SELECT {cols} FROM runs WHERE id = ?", [rid]).fetchone()
        rec = _record_from_row(row[: len(_RUN_COLUMNS)], self._chunks_done(rid))
        if document and row[-1] is not None:
            rec.document = json.loads(row[-1])
        return rec

    def _chunks_done(self, rid: str) -> int:
        return int(self.con.execute("SELECT count(*) FROM shards WHERE run_id = ?",
                                    [rid]).fetchone()[0])

    def runs(self, *, limit: int | None = None, scenario: str | None = None,
             status: str | None = None) -> list[RunRecord]:
        """Runs, newest first."""
        where, args = [], []
        if scenario:
            where.append("(scenario_name ILIKE ? OR source ILIKE ? OR scenario_hash LIKE ?)")
            args += [f"%{scenario}%", f"%{scenario}%", f"{scenario}%"]
        if status:
            where.append("status = ?")
            args.append(status)
        q = (f"SELECT {', '.join('r.' + c for c in _RUN_COLUMNS)}, "
             "(SELECT count(*) FROM shards s WHERE s.run_id = r.id) FROM runs r"
             + (" WHERE " + " AND ".join(where) if where else "")
             + " ORDER BY r.created_at DESC, r.rowid DESC")
        if limit is not None:
            q += f" LIMIT {int(limit)}"
        return [_record_from_row(row[:-1], int(row[-1])) for row in
                self.con.execute(q, args).fetchall()]

    def scenario_yaml(self, ref: str) -> str:
        rid = self.resolve(ref)
        row = self.con.execute(
            "SELECT s.yaml FROM runs r JOIN scenarios s ON s.hash = r.scenario_hash "
            "WHERE r.id = ?", [rid]).fetchone()
        if row is None:  # pragma: no cover - guarded by the transaction that writes both
            raise StoreError(f"run {rid}: its scenario is missing from the store")
        return row[0]

    def scenario(self, ref: str) -> "Scenario":
        from ..scenario.yaml_io import loads_scenario

        return loads_scenario(self.scenario_yaml(ref), file=f"run {self.resolve(ref)} scenario")

    def history(self, ref: str) -> "pd.DataFrame":
        """Per-round positions: one row per result x round x actor x issue."""
        rid = self.resolve(ref)
        return self.con.execute(
            "SELECT h.run_id, r.model, r.intervention, h.issue, h.round, h.actor, h.position, "
            "h.forecast, h.mean, r.stop FROM history h JOIN results r "
            "ON r.run_id = h.run_id AND r.idx = h.idx WHERE h.run_id = ? "
            "ORDER BY h.idx, h.issue, h.round, h.rowid", [rid]).df()

    def forecasts(self, ref: str) -> "pd.DataFrame":
        """Final forecasts: one row per model x intervention x issue."""
        rid = self.resolve(ref)
        return self.con.execute(
            "SELECT r.model, r.intervention, f.issue, f.forecast, r.stop FROM forecasts f "
            "JOIN results r ON r.run_id = f.run_id AND r.idx = f.idx WHERE f.run_id = ? "
            "ORDER BY f.idx, f.issue", [rid]).df()

    def round_extras(self, ref: str) -> list[dict[str, Any]]:
        rid = self.resolve(ref)
        rows = self.con.execute(
            "SELECT e.idx, e.round, e.extra FROM round_extra e WHERE e.run_id = ? "
            "ORDER BY e.idx, e.round", [rid]).fetchall()
        return [{"idx": i, "round": r, "extra": json.loads(x)} for i, r, x in rows]

    def count(self) -> int:
        return int(self.con.execute("SELECT count(*) FROM runs").fetchone()[0])

    # -- deleting ----------------------------------------------------------

    def delete(self, refs: Iterable[str]) -> list[str]:
        """Delete runs (catalog rows in one transaction, then their shard files)."""
        import shutil

        self._writable()
        ids = list(dict.fromkeys(self.resolve(r) for r in refs))
        with self.transaction():
            for rid in ids:
                for table in _RUN_TABLES:
                    self.con.execute(f"DELETE FROM {table} WHERE run_id = ?", [rid])
                self.con.execute("DELETE FROM runs WHERE id = ?", [rid])
            self.con.execute("DELETE FROM scenarios WHERE hash NOT IN "
                             "(SELECT scenario_hash FROM runs)")
        # Files go after the commit: a crash here leaves unreferenced files, never
        # a catalog row pointing at a missing file.
        for rid in ids:
            shutil.rmtree(self.shard_root / rid, ignore_errors=True)
        return ids


def _short(msg: str) -> str:
    return " ".join(msg.split())[:300]


def open_store(path: str | os.PathLike | None = None, *, read_only: bool = False) -> Store:
    return Store(path, read_only=read_only)


def record_run(
    store: Store | str | os.PathLike | None,
    scn: "Scenario",
    results: Sequence["Result"],
    *,
    models: Sequence[str] | None = None,
    options: dict[str, dict[str, Any]] | None = None,
    seed: int = 0,
    rounds: int | None = None,
    source: str | os.PathLike | None = None,
    label: str | None = None,
    command: str | None = None,
    seconds: float | None = None,
) -> str:
    """Record a finished run; return its id.

    ``store`` is an open :class:`Store`, or a path (``None``: ``$STAKES_STORE``
    or the default in the user's data directory).  The run is written in one
    transaction: after a crash it is either fully recorded or absent.
    """
    kwargs = dict(models=models, options=options, seed=seed, rounds=rounds, source=source,
                  label=label, command=command, seconds=seconds)
    if isinstance(store, Store):
        return store.record_run(scn, results, **kwargs)
    with Store(store) as st:
        return st.record_run(scn, results, **kwargs)


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command line as typed, for the record."""
    import shlex

    argv = list(sys.argv if argv is None else argv)
    if argv:
        argv[0] = Path(argv[0]).name
    return " ".join(shlex.quote(a) for a in argv)

