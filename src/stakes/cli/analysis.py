"""``stakes sweep``, ``stakes sensitivity`` and ``stakes stability``: ensembles of runs.

The progress bar goes to standard error (and only to a terminal), so
``--format json`` on standard output stays clean.
"""

from __future__ import annotations

import functools
import json
import math
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import typer
from rich.console import Console
from rich.table import Table

BACKEND_HELP = "Array backend: auto (JAX when installed), numpy or jax."


def _errors(fn: Callable) -> Callable:
    """The CLI's error reporting (imported late: main.py registers us at its end)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .main import reports_errors

        return reports_errors(fn)(*args, **kwargs)

    return wrapper


def _consoles() -> tuple[Console, Console]:
    from .main import err, out

    return out, err


@contextmanager
def _progress(label: str, enabled: bool) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on standard error; a no-op when it is not a terminal."""
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    _, err = _consoles()
    if not enabled or not err.is_terminal:
        yield lambda done, total: None
        return
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("runs"), TimeElapsedColumn(), TextColumn("eta"),
                  TimeRemainingColumn(), console=err, transient=False) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@contextmanager
def _table_console(output: Path | None) -> Iterator[Console]:
    """Standard output, or a wide console whose text is written to ``output`` at the end."""
    if output is None or str(output) == "-":
        yield _consoles()[0]
        return
    import io

    buf = io.StringIO()
    yield Console(file=buf, width=160, force_terminal=False, color_system=None)
    _emit(buf.getvalue().rstrip("\n"), output)


def _emit(text: str, output: Path | None) -> None:
    from .main import _emit as emit

    emit(text, output)


def _models(model: list[str] | None) -> list[str]:
    from ..engine import DEFAULT_MODELS
    from ..models import model_names

    models = list(model or DEFAULT_MODELS)
    return model_names() if "all" in models else models


def _settings(scn, position_sd, salience_sd, capability_sd, distribution, bounds):
    from ..analysis.uncertainty import settings_of

    return settings_of(scn, position_sd=position_sd, salience_sd=salience_sd,
                       capability_sd=capability_sd, distribution=distribution, bounds=bounds)


def _thresholds(items: list[str] | None) -> dict[str | None, list[float]]:
    from ..errors import OptionError

    out: dict[str | None, list[float]] = {}
    for item in items or []:
        issue, eq, raw = item.rpartition("=")
        try:
            value = float(raw)
        except ValueError:
            raise OptionError(f"--threshold {item!r}: expected VALUE or ISSUE=VALUE") from None
        out.setdefault(issue.strip() if eq else None, []).append(value)
    return out


def _quantiles(text: str) -> list[float]:
    from ..errors import OptionError

    try:
        qs = [float(q) for q in text.split(",") if q.strip()]
    except ValueError:
        raise OptionError(f"--quantiles {text!r}: expected numbers like 0.05,0.5,0.95") from None
    if not qs:
        raise OptionError("--quantiles: give at least one quantile")
    return qs


def _nominal(rec: dict) -> str:
    """A nominal forecast, or the cycle's range where the run ends in a cycle whose rounds
    disagree."""
    from ..forecast.headline import range_text

    rng = rec.get("nominal_cycle")
    return range_text(rng) if rng else _fmt(rec["nominal"])


def _cycle_note(console: Console, rows: list[dict]) -> None:
    if any(r.get("nominal_cycle") for r in rows):
        from ..forecast.headline import CYCLE_MARK

        console.print(f"[dim]{CYCLE_MARK}: the run as written ends in a cycle whose rounds "
                      "disagree; its range is shown, not a forecast.[/dim]")


def _fmt(v: Any, signed: bool = False) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return f"{v:+.2f}" if signed else f"{v:.2f}"


def _uncertainty_options():
    return {
        "position_sd": typer.Option(None, "--position-sd", min=0.0, max=1.0,
                                    help="Spread of positions without their own sd/range, as a "
                                         "fraction of the scale width (default 0.05)."),
        "salience_sd": typer.Option(None, "--salience-sd", min=0.0, max=1.0,
                                    help="Spread of saliences without their own (default 0.1)."),
        "capability_sd": typer.Option(None, "--capability-sd", min=0.0, max=10.0,
                                      help="Relative spread of capabilities (default 0.1)."),
        "distribution": typer.Option(None, "--distribution",
                                     help="normal or uniform (scenario-wide noise)."),
        "bounds": typer.Option(None, "--bounds", help="truncate or clip at the valid range."),
    }


_U = _uncertainty_options()


# --------------------------------------------------------------------------
# sweep


@_errors
def sweep(
    scenario: Optional[str] = typer.Argument(
        None, help="Scenario file or packaged name; default: the embedded default scenario."),
    runs: int = typer.Option(1000, "--runs", "-n", min=1, max=100_000_000,
                             help="Members of the ensemble (input draws)."),
    backend: str = typer.Option("auto", "--backend", help=BACKEND_HELP),
    seed: int = typer.Option(0, "--seed", help="Member m draws from (seed, m)."),
    model: Optional[list[str]] = typer.Option(
        None, "--model", "-m", help="Model (repeatable; 'all'). Default: eum, compromise, median."),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="MODEL.OPTION=VALUE."),
    rounds: Optional[int] = typer.Option(None, "--rounds", min=1, max=100_000,
                                         help="Round limit of the iterative models."),
    lever: Optional[list[str]] = typer.Option(None, "--lever", help="Lever (repeatable)."),
    plan: Optional[list[str]] = typer.Option(None, "--plan", help="Plan (repeatable)."),
    no_levers: bool = typer.Option(False, "--no-levers", help="Baseline only."),
    threshold: Optional[list[str]] = typer.Option(
        None, "--threshold", help="Report P(forecast > VALUE), on every issue (VALUE) or one "
        "(ISSUE=VALUE); repeatable."),
    quantiles: str = typer.Option("0.05,0.25,0.5,0.75,0.95", "--quantiles",
                                  help="Quantiles to report (comma-separated)."),
    interval: float = typer.Option(0.9, "--interval", help="Central interval (0.9 = 5%–95%)."),
    position_sd: Optional[float] = _U["position_sd"],
    salience_sd: Optional[float] = _U["salience_sd"],
    capability_sd: Optional[float] = _U["capability_sd"],
    distribution: Optional[str] = _U["distribution"],
    bounds: Optional[str] = _U["bounds"],
    chunk_size: Optional[int] = typer.Option(None, "--chunk-size", min=1,
                                             help="Members per chunk (default: from --memory)."),
    memory: float = typer.Option(2.0, "--memory", help="Memory budget of a chunk, GiB."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file."),
    save: bool = typer.Option(False, "--save", help="Record the sweep in the run store."),
    store: Optional[Path] = typer.Option(None, "--store", metavar="PATH",
                                         help="Run store to record in (implies --save)."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar."),
    scheduler: Optional[str] = typer.Option(
        None, "--scheduler", metavar="ADDRESS",
        help="Run the chunks on an existing Dask scheduler (e.g. tcp://127.0.0.1:8786)."),
    workers: Optional[int] = typer.Option(
        None, "--workers", min=1, max=4096,
        help="Run the chunks on a local Dask cluster of N worker processes."),
    resume: Optional[str] = typer.Option(
        None, "--resume", metavar="RUN",
        help="Finish an interrupted recorded sweep (see `stakes runs list`) with its recorded "
             "settings; only the chunks not yet recorded are computed."),
) -> None:
    """Forecast distributions of every issue, model, lever and plan, and lever effects.

    Draws --runs members from the scenario's uncertainty (each value's sd or
    range, else the scenario-wide noise), runs every model under the
    baseline and each lever and plan on the same draws, and reports
    quantiles, P(forecast > threshold) and each lever's effect (paired
    differences) with an interval.  With --save each chunk of members is
    recorded as it finishes; a sweep that is killed is finished by
    --resume RUN, with the same numbers as an uninterrupted one.
    """
    from ..analysis.sweep import run_sweep, summarize
    from ..api import load
    from ..errors import OptionError
    from .main import chosen_interventions, parse_sets

    if fmt not in ("table", "json"):
        raise OptionError(f"--format {fmt!r}: expected table or json")
    qs = _quantiles(quantiles)
    thr = _thresholds(threshold)
    cluster = None
    if scheduler is not None or workers is not None:
        from ..analysis.cluster import ClusterSpec

        cluster = ClusterSpec(scheduler=scheduler, workers=workers)
    done: set[int] = set()
    restore = None
    if resume is not None:
        if scenario is not None:
            raise OptionError("--resume takes the scenario and settings from the store; give "
                              "no SCENARIO with it")
        recorder, scn, kw = _Recorder.resume(store, resume)
        done = recorder.recorded()
        restore = recorder.restore
    else:
        from ..engine import check_seed

        check_seed(seed)
        models = _models(model)
        scn = load(scenario)
        options = parse_sets(set_, models)
        ivs = chosen_interventions(scn, lever, plan, no_levers)
        settings = _settings(scn, position_sd, salience_sd, capability_sd, distribution, bounds)
        explicit = model is not None and "all" not in (model or [])
        kw = dict(runs=runs, seed=seed, models=models, interventions=ivs, options=options,
                  rounds=rounds, backend=backend, settings=settings, chunk_size=chunk_size,
                  memory_gib=memory, skip_inapplicable=not explicit)
        recorder = None
        if save or store is not None:
            recorder = _Recorder(store, scn, scenario, kw, cluster.label if cluster else None)

    label = f"sweep {kw['runs']} runs" + (f" on {cluster.label}" if cluster else "")
    with _progress(label, not no_progress) as update:
        res = run_sweep(scn, **kw, progress=update,
                        on_chunk=recorder.chunk if recorder and not cluster else None,
                        cluster=cluster, shards=recorder if cluster else None,
                        done=done, restore=restore)
    doc = summarize(res, quantiles=qs, interval=interval, thresholds=thr)
    if recorder is not None:
        doc["run_id"] = recorder.finish()
    if fmt == "json":
        _emit(json.dumps(doc, indent=2, allow_nan=False), output)
        return
    with _table_console(output) as console:
        sweep_tables(console, scn, doc)


class _Recorder:
    """Records a sweep in the run store: one Parquet shard of forecasts per chunk.

    The catalog is opened for each step (the record, each chunk's registration,
    the end) and closed in between, so that other processes can read it, and
    record runs, while the sweep computes.  The record keeps every setting the
    members depend on, so that ``--resume`` computes exactly the missing chunks.
    """

    KIND = "forecasts"

    def __init__(self, store, scn, source, kw: dict, cluster: str | None = None,
                 rid: str | None = None):
        from ..store import Store
        from ..store.catalog import command_line

        with Store(store) as st:  # created here, and found writable, before any work
            self.path, self.shard_root = st.path, st.shard_root
        self.scn, self.source, self.kw, self.cluster = scn, source, kw, cluster
        self.command = command_line()
        self.rid = rid

    def _open(self):
        from ..store import Store

        # a sweep's chunk is worth waiting for: other writers hold the store briefly
        return Store(self.path, wait=120.0)

    def spec(self, chunk_size: int) -> dict:
        import os
        import socket

        kw = self.kw
        return {"job": "ensemble", "shard_kind": self.KIND, "runs": int(kw["runs"]),
                "chunk_size": int(chunk_size), "seed": int(kw["seed"]),
                "rounds": kw["rounds"], "backend": kw["backend"],
                "uncertainty": kw["settings"].model_dump(mode="json"),
                "skip_inapplicable": bool(kw["skip_inapplicable"]), "cluster": self.cluster,
                "host": socket.gethostname(), "pid": os.getpid()}

    def begin(self, n_chunks: int, chunk_size: int) -> str:
        """Create the job's record; return the folder its shards go into."""
        if self.rid is None:
            kw = self.kw
            with self._open() as st:
                self.rid = st.begin_job(
                    self.scn, kind="ensemble", spec=self.spec(chunk_size), n_chunks=n_chunks,
                    source=self.source, command=self.command, models=kw["models"],
                    interventions=[iv.label for iv in kw["interventions"]],
                    options=kw["options"], seed=kw["seed"], rounds=kw["rounds"])
        return str(self.shard_root / self.rid)

    def register(self, chunk: int, meta: dict) -> None:
        """A shard a cluster worker wrote: registered here, the catalog's one writer."""
        from ..store.shards import register_shard_file

        with self._open() as st:
            register_shard_file(st, self.rid, self.KIND, chunk, meta, meta.get("seconds"))

    def chunk(self, k: int, a: int, b: int, ev) -> None:
        from ..analysis.sweep import member_frame
        from ..store.shards import register_shard_file, write_shard_file

        if self.rid is None:
            self.begin(-(-self.kw["runs"] // (b - a)), b - a)
        # the file first, without the catalog; then its registration, in one transaction
        meta = write_shard_file(self.shard_root / self.rid, self.KIND, k,
                                member_frame(ev, a, b))
        with self._open() as st:
            register_shard_file(st, self.rid, self.KIND, k, meta)

    def finish(self) -> str | None:
        if self.rid is not None:
            with self._open() as st:
                st.finish_job(self.rid)
        return self.rid

    # -- resuming ------------------------------------------------------------

    @classmethod
    def resume(cls, store, ref: str):
        """The recorder of an interrupted sweep, its scenario and run_sweep's settings."""
        from ..engine import interventions_for
        from ..errors import OptionError
        from ..scenario.schema import Uncertainty
        from ..store import Store
        from ..store.shards import clean_unregistered

        with Store(store, wait=120.0) as st:
            rid = st.resolve(ref)
            rec = st.get(rid)
            spec = rec.spec or {}
            if rec.kind != "ensemble" or spec.get("job") != "ensemble":
                raise OptionError(f"run {rid} is not a recorded sweep; nothing to resume")
            if rec.status == "complete":
                raise OptionError(f"sweep {rid} is complete; nothing to resume")
            if still_running(spec):
                raise OptionError(f"sweep {rid} is still being computed by process "
                                  f"{spec['pid']}; wait for it, or stop it first")
            scn = st.scenario(rid)
            clean_unregistered(st, rid, cls.KIND)  # what a killed writer left half-done
        levers = [lab.split(":", 1)[1] for lab in rec.interventions if lab.startswith("lever:")]
        plans = [lab.split(":", 1)[1] for lab in rec.interventions if lab.startswith("plan:")]
        kw = dict(runs=spec["runs"], seed=rec.seed, models=rec.models,
                  interventions=interventions_for(scn, levers, plans), options=rec.options,
                  rounds=rec.rounds, backend=spec["backend"],
                  settings=Uncertainty.model_validate(spec["uncertainty"]),
                  chunk_size=spec["chunk_size"], memory_gib=2.0,
                  skip_inapplicable=spec["skip_inapplicable"])
        recorder = cls(store, scn, rec.source, kw, spec.get("cluster"), rid=rid)
        recorder.command = rec.command or recorder.command
        return recorder, scn, kw

    def recorded(self) -> set[int]:
        from ..store import Store

        with Store(self.path, read_only=True, wait=120.0) as st:
            return st.registered_chunks(self.rid, self.KIND)

    def restore(self, k: int, a: int, b: int):
        from ..analysis.sweep import evaluation_from_frame
        from ..store import Store
        from ..store.shards import read_shards

        if not hasattr(self, "_frame"):
            with Store(self.path, read_only=True, wait=120.0) as st:
                self._frame = read_shards(st, self.rid, self.KIND, verify=True)
        return evaluation_from_frame(self._frame, a, b)


def still_running(spec: dict) -> bool:
    """Whether the process that started a recorded sweep is alive on this machine."""
    import os
    import socket

    pid, host = spec.get("pid"), spec.get("host")
    if not isinstance(pid, int) or host != socket.gethostname() or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _is_stakes(pid)


def _is_stakes(pid: int) -> bool:
    # A recycled pid belongs to another program; only a stakes process counts as running.
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"stakes" in fh.read()
    except OSError:
        return True


def sweep_tables(console: Console, scn, doc: dict[str, Any]) -> None:
    """The baseline distribution per issue, then each lever's and plan's effect."""
    s = doc["settings"]
    console.print(f"[bold]{scn.metadata.name}[/bold]: {s['runs']} runs, seed {s['seed']}, "
                  f"backend {s['backend']}, {s['random_inputs']} uncertain inputs, "
                  f"{doc['seconds']:.1f} s")
    if s["backend"] == "jax" and "eum" in s["models"]:
        # The EUM's exact offer comparisons act on rounding noise where two actors stand
        # within rounding distance; XLA and numpy round differently (docs/ensembles.md).
        console.print("[dim]note: some EUM members (0.7% on the default scenario) take another "
                      "path on the jax backend than on numpy\n(near-tied offers); compare "
                      "sweeps run on one backend (docs/ensembles.md)[/dim]")
    names = {i.id: i.name for i in scn.issues}
    lo_q = (1 - s["interval"]) / 2
    pct = f"{100 * lo_q:g}–{100 * (1 - lo_q):g}%"
    base = [f for f in doc["forecasts"] if f["intervention"] == "baseline"]
    thr_keys = sorted({k for f in base for k in f["p_above"]}, key=float)
    for m in s["models"]:
        rows = [f for f in base if f["model"] == m]
        if not rows:
            continue
        t = Table(title=f"{m}: baseline forecast", title_justify="left")
        t.add_column("issue")
        t.add_column("nominal", justify="right")
        t.add_column("median", justify="right")
        t.add_column(pct, justify="right")
        for k in thr_keys:
            t.add_column(f"P(>{k})", justify="right")
        for f in rows:
            t.add_row(names.get(f["issue"], f["issue"]), _nominal(f),
                      _fmt(f["quantiles"].get("0.5", f["mean"])),
                      f"[{_fmt(f['interval'][0])}, {_fmt(f['interval'][1])}]",
                      *[_fmt(f["p_above"].get(k)) if k in f["p_above"] else "" for k in thr_keys])
        console.print(t)
        _cycle_note(console, rows)
    effects = doc["effects"]
    for m in s["models"]:
        rows = [e for e in effects if e["model"] == m]
        if not rows:
            continue
        t = Table(title=f"{m}: effect of each lever and plan (lever − baseline, same draws); "
                        "bold: the interval excludes 0", title_justify="left")
        t.add_column("lever / plan", overflow="fold")
        t.add_column("issue", overflow="fold")
        t.add_column("median", justify="right")
        t.add_column(pct, justify="right")
        t.add_column("P(>0)", justify="right")
        t.add_column("P(<0)", justify="right")
        order = {lab: k for k, lab in enumerate(s["interventions"])}
        issue_order = {i.id: k for k, i in enumerate(scn.issues)}
        rows.sort(key=lambda e: (order.get(e["intervention"], 0), issue_order.get(e["issue"], 0)))
        hidden = 0
        for e in rows:
            if e["same_as_baseline"]:
                hidden += 1
                continue
            who = e["lever"] if e["lever"] is not None else f"plan {e['plan']}"
            cells = [who, e["issue"], _fmt(e["median"], True),
                     f"[{_fmt(e['interval'][0], True)}, {_fmt(e['interval'][1], True)}]",
                     _fmt(e["p_positive"]), _fmt(e["p_negative"])]
            t.add_row(*[f"[bold]{c}[/bold]" if e["exceeds_noise"] else c for c in cells])
        console.print(t)
        if hidden:
            console.print(f"[dim]{hidden} lever/plan × issue pairs not shown: the lever cannot "
                          "reach the issue, so the forecast is the baseline's on every draw.[/dim]")
    if doc.get("run_id"):
        console.print(f"recorded as run {doc['run_id']}")


# --------------------------------------------------------------------------
# sensitivity


@_errors
def sensitivity(
    scenario: Optional[str] = typer.Argument(None, help="Scenario (default: the embedded one)."),
    samples: int = typer.Option(64, "--samples", "-N", min=2, max=1_048_576,
                                help="Base sample size N (a power of two); runs = N × (groups + 2) "
                                     "per grouping."),
    by: Optional[list[str]] = typer.Option(None, "--by", help="actor and/or kind (repeatable); "
                                                              "default both."),
    model: Optional[list[str]] = typer.Option(None, "--model", "-m", help="Model (repeatable)."),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="MODEL.OPTION=VALUE."),
    rounds: Optional[int] = typer.Option(None, "--rounds", min=1, max=100_000),
    lever: Optional[str] = typer.Option(None, "--lever", help="Analyse the forecasts under "
                                                              "this lever instead of the baseline."),
    plan: Optional[str] = typer.Option(None, "--plan", help="... or under this plan."),
    backend: str = typer.Option("auto", "--backend", help=BACKEND_HELP),
    seed: int = typer.Option(0, "--seed"),
    top: int = typer.Option(3, "--top", min=1, help="Groups shown per issue in the table."),
    position_sd: Optional[float] = _U["position_sd"],
    salience_sd: Optional[float] = _U["salience_sd"],
    capability_sd: Optional[float] = _U["capability_sd"],
    distribution: Optional[str] = _U["distribution"],
    bounds: Optional[str] = _U["bounds"],
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    output: Optional[Path] = typer.Option(None, "--output", "-o"),
    no_progress: bool = typer.Option(False, "--no-progress"),
) -> None:
    """Sobol indices (SALib) of each forecast, by actor and by kind of input."""
    from ..analysis.sensitivity import run_sensitivity
    from ..api import load
    from ..errors import OptionError
    from ..levers import intervention_for_lever, intervention_for_plan
    from .main import parse_sets

    if fmt not in ("table", "json"):
        raise OptionError(f"--format {fmt!r}: expected table or json")
    from ..engine import check_seed

    check_seed(seed)
    if lever and plan:
        raise OptionError("give --lever or --plan, not both")
    models = _models(model)
    scn = load(scenario)
    iv = None
    try:
        if lever:
            iv = intervention_for_lever(scn, lever)
        elif plan:
            iv = intervention_for_plan(scn, plan)
    except KeyError as exc:
        raise OptionError(f"unknown lever or plan {exc}") from None
    settings = _settings(scn, position_sd, salience_sd, capability_sd, distribution, bounds)
    with _progress("sensitivity", not no_progress) as update:
        doc = run_sensitivity(scn, samples=samples, by=by or ("actor", "kind"), models=models,
                              intervention=iv, options=parse_sets(set_, models), rounds=rounds,
                              backend=backend, settings=settings, seed=seed, progress=update)
    if fmt == "json":
        _emit(json.dumps(doc, indent=2, allow_nan=False), output)
        return
    with _table_console(output) as console:
        _sensitivity_tables(console, scn, doc, top)


def _sensitivity_tables(console: Console, scn, doc: dict[str, Any], top: int) -> None:
    names = {i.id: i.name for i in scn.issues}
    s = doc["settings"]
    console.print(f"[bold]{scn.metadata.name}[/bold]: Sobol indices, N = {s['samples']} "
                  f"({', '.join(f'{k}: {v} runs' for k, v in s['runs'].items())}), "
                  f"{s['intervention']}; ST = total, S1 = first-order, ± 95% interval")
    for m in s["models"]:
        for g in s["by"]:
            recs = [r for r in doc["indices"] if r["model"] == m and r["by"] == g]
            if not recs:
                continue
            t = Table(title=f"{m}: inputs that matter, by {g}", title_justify="left")
            t.add_column("issue")
            for k in range(top):
                t.add_column(f"#{k + 1}")
            for iss in dict.fromkeys(r["issue"] for r in recs):
                rows = [r for r in recs if r["issue"] == iss][:top]
                cells = []
                for r in rows:
                    if r["ST"] is None:
                        cells.append(r.get("note", "—"))
                    elif r.get("note"):
                        cells.append(f"{r['group']} ({r['note']})")
                    else:
                        cells.append(f"{r['group']}\nST {r['ST']:.2f}±{r['ST_conf']:.2f}  "
                                     f"S1 {r['S1']:.2f}±{r['S1_conf']:.2f}")
                t.add_row(names.get(iss, iss), *cells, *[""] * (top - len(cells)))
            console.print(t)
    warns = doc.get("warnings", [])
    if warns:
        import textwrap

        console.print(f"[yellow]warning: the indices of {len(warns)} forecasts cannot be read "
                      f"at N = {s['samples']} (each line: the N that would settle it):[/yellow]")
        for w in warns:
            n = w["suggest_samples"]
            tail = (f"try --samples {n}" if n else
                    "tied: more samples are unlikely to separate them")
            text = f"{w['model']}, {w['issue']}, by {w['by']}: {'; '.join(w['problems'])}; {tail}"
            for line in textwrap.wrap(text, width=100, initial_indent="  ",
                                      subsequent_indent="    "):
                console.print(line, markup=False, highlight=False)


# --------------------------------------------------------------------------
# stability


@_errors
def stability(
    scenario: Optional[str] = typer.Argument(None, help="Scenario (default: the embedded one)."),
    runs: int = typer.Option(100, "--runs", "-n", min=1, max=10_000_000,
                             help="Salience-shock members."),
    threshold: float = typer.Option(5.0, "--threshold", help="Shift that counts, in percent of "
                                                             "the issue's scale width."),
    salience_sd: Optional[float] = _U["salience_sd"],
    model: Optional[list[str]] = typer.Option(None, "--model", "-m", help="Model (repeatable)."),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="MODEL.OPTION=VALUE."),
    rounds: Optional[int] = typer.Option(None, "--rounds", min=1, max=100_000),
    backend: str = typer.Option("auto", "--backend", help=BACKEND_HELP),
    seed: int = typer.Option(0, "--seed"),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    output: Optional[Path] = typer.Option(None, "--output", "-o"),
    no_progress: bool = typer.Option(False, "--no-progress"),
) -> None:
    """Shock saliences and drop each actor in turn: which forecasts hold, which actors are pivotal."""
    from ..analysis.stability import run_stability
    from ..api import load
    from ..errors import OptionError
    from .main import parse_sets

    if fmt not in ("table", "json"):
        raise OptionError(f"--format {fmt!r}: expected table or json")
    from ..engine import check_seed

    check_seed(seed)
    models = _models(model)
    scn = load(scenario)
    settings = _settings(scn, None, salience_sd, None, None, None)
    with _progress("stability", not no_progress) as update:
        doc = run_stability(scn, runs=runs, threshold=threshold, models=models,
                            options=parse_sets(set_, models), rounds=rounds, backend=backend,
                            settings=settings, seed=seed, progress=update)
    if fmt == "json":
        _emit(json.dumps(doc, indent=2, allow_nan=False), output)
        return
    with _table_console(output) as console:
        _stability_tables(console, scn, doc)


def _stability_tables(console: Console, scn, doc: dict[str, Any]) -> None:
    names = {i.id: i.name for i in scn.issues}
    s = doc["settings"]
    console.print(f"[bold]{scn.metadata.name}[/bold]: {s['runs']} salience shocks "
                  f"(sd {s['salience_sd']:g}), each actor dropped in turn; threshold "
                  f"{s['threshold_percent']:g}% of the scale")
    for m in s["models"]:
        rows = [r for r in doc["issues"] if r["model"] == m]
        if not rows:
            continue
        t = Table(title=f"{m}: stability", title_justify="left")
        for col in ("issue", "nominal", "shocks 5–95%", "stable", "pivotal actors (median shift)"):
            t.add_column(col)
        for r in rows:
            piv = ", ".join(f"{a['actor']} ({a['median_shift']:+.1f})" for a in r["actors"]
                            if a["pivotal"]) or "none"
            t.add_row(names.get(r["issue"], r["issue"]), _nominal(r),
                      f"[{_fmt(r['shock_interval'][0])}, {_fmt(r['shock_interval'][1])}]",
                      "yes" if r["stable_under_shocks"] else "[bold]no[/bold]", piv)
        console.print(t)
        _cycle_note(console, rows)


def register(app: typer.Typer) -> None:
    """Add ``sweep``, ``sensitivity`` and ``stability`` to the ``stakes`` command line."""
    app.command("sweep")(sweep)
    app.command("sensitivity")(sensitivity)
    app.command("stability")(stability)
