"""``stakes runs ...`` (the run store) and ``stakes report`` (HTML and PNG reports).

Every command takes ``--store PATH``; without it ``$STAKES_STORE``, then the
default catalog in the user's data directory, is used.  A RUN is an id, a
unique prefix of one, ``latest`` or ``latest~N`` (the N-th before the latest).
"""

from __future__ import annotations

import functools
import json
import math
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import typer
from rich.table import Table

runs_app = typer.Typer(
    name="runs",
    help="Recorded runs: list, show, compare, export, delete.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

STORE_HELP = ("Run store (a DuckDB file, or a folder for DIR/runs.duckdb); default: $STAKES_STORE, "
              "else runs.duckdb in the user's data directory.")


def _store_opt() -> Any:
    return typer.Option(None, "--store", help=STORE_HELP, metavar="PATH")


def _errors(fn: Callable) -> Callable:
    """The CLI's error reporting (one line per problem, exit 2), imported late
    because main.py registers these commands at its end."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .main import reports_errors

        return reports_errors(fn)(*args, **kwargs)

    return wrapper


def _consoles():
    from .main import err, out

    return out, err


def _fmt(v: Any, digits: int = 3, signed: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, float):
        return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"
    if isinstance(v, (list, dict)):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def _raw(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else str(v)


def _check_format(fmt: str, allowed: tuple[str, ...]) -> None:
    from ..errors import OptionError

    if fmt not in allowed:
        raise OptionError(f"--format {fmt!r}: expected {' or '.join(allowed)}")


def _when(rec) -> str:
    import datetime as dt

    local = rec.created_at.replace(tzinfo=dt.timezone.utc).astimezone()
    return local.strftime("%Y-%m-%d %H:%M")


def _interrupted(rec) -> bool:
    """An incomplete sweep whose process has stopped: ``stakes sweep --resume`` finishes it."""
    from .analysis import still_running

    return rec.status != "complete" and rec.kind == "ensemble" and not still_running(
        rec.spec or {})


def _status(rec) -> str:
    if rec.status == "complete":
        return rec.status
    if rec.kind == "ensemble":
        state = "interrupted, resumable" if _interrupted(rec) else "running"
        return f"{state} ({rec.chunks_done}/{rec.n_chunks} chunks)"
    return f"{rec.status} ({rec.chunks_done}/{rec.n_chunks} chunks)"


# --------------------------------------------------------------------------
# runs list / show


@runs_app.command("list")
@_errors
def list_runs(
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="Show at most this many runs."),
    scenario: Optional[str] = typer.Option(None, "--scenario",
                                           help="Only runs whose scenario name or source "
                                                "contains this text."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    store: Optional[Path] = _store_opt(),
) -> None:
    """List recorded runs, newest first."""
    from ..store import Store

    _check_format(fmt, ("table", "json"))
    out, _ = _consoles()
    with Store(store, read_only=True) as st:
        recs = st.runs(limit=limit, scenario=scenario)
        total = st.count()
        path = st.path
    if fmt == "json":
        docs = [r.header() | ({"resumable": _interrupted(r)} if r.kind != "run" else {})
                for r in recs]
        sys.stdout.write(json.dumps(docs, indent=2) + "\n")
        return
    if not recs:
        out.print(f"No runs in {path}.")
        return
    t = Table(title=f"Runs in {path} ({len(recs)} of {total} shown)", title_justify="left")
    t.add_column("id", no_wrap=True, min_width=8)
    t.add_column("recorded", no_wrap=True)
    for col in ("scenario", "models", "levers", "seed", "status", "label"):
        t.add_column(col)
    for r in recs:
        kind = "" if r.kind == "run" else f" ({r.kind})"
        t.add_row(r.id + kind, _when(r), Path(r.source).name if r.source else r.scenario_name,
                  ",".join(r.models),
                  str(sum(1 for i in r.interventions if i != "baseline")), str(r.seed),
                  _status(r), r.label or "")
    out.print(t)
    stopped = [r.id for r in recs if _interrupted(r)]
    if stopped:
        where = "" if store is None else f" --store {store}"
        out.print(f"Interrupted sweeps: finish one with `stakes sweep --resume ID{where}`, or "
                  f"remove what it left with `stakes runs delete ID --yes{where}` "
                  f"({', '.join(stopped)}).", markup=False, highlight=False)


@runs_app.command("show")
@_errors
def show(
    run: Optional[str] = typer.Argument(None, help="RUN (default: latest)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    store: Optional[Path] = _store_opt(),
) -> None:
    """A run's settings and forecasts."""
    from ..store import Store

    _check_format(fmt, ("table", "json"))
    out, _ = _consoles()
    with Store(store, read_only=True) as st:
        rec = st.get(run or "latest")
        fc = st.forecasts(rec.id)
        shards = st.shard_rows(rec.id)
    if fmt == "json":
        doc = rec.header()
        doc["forecasts"] = [{"issue": r.issue, "model": r.model, "intervention": r.intervention,
                             "forecast": None if r.forecast is None or math.isnan(r.forecast)
                             else float(r.forecast), "stop": r.stop}
                            for r in fc.itertuples(index=False)]
        doc["shards"] = shards
        sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
        return
    h = rec.header()
    t = Table(title=f"Run {rec.id}", title_justify="left", show_header=False)
    t.add_column("field", style="bold")
    t.add_column("value")
    for k in ("kind", "status", "created_at", "label", "source", "scenario", "models",
              "options", "interventions", "seed", "rounds", "stakes_version", "python_version",
              "platform", "command", "seconds", "spec", "n_chunks", "chunks_done"):
        if k in h and h[k] not in (None, {}, []):
            v = h[k]
            if k == "scenario":
                v = f"{v['name']} (sha256 {v['hash'][:16]}…)"
            elif k == "status":
                v = _status(rec)
            t.add_row(k, _fmt(v))
    out.print(t)
    ft = Table(title="Forecasts", title_justify="left")
    for col in ("issue", "model", "lever / plan", "forecast", "stop"):
        ft.add_column(col, justify="right" if col == "forecast" else "left")
    for r in fc.itertuples(index=False):
        ft.add_row(r.issue, r.model, r.intervention, _fmt(r.forecast), r.stop)
    out.print(ft)


# --------------------------------------------------------------------------
# runs compare


@runs_app.command("compare")
@_errors
def compare(
    run_a: Optional[str] = typer.Argument(None, help="First RUN (default: latest~1)."),
    run_b: Optional[str] = typer.Argument(None, help="Second RUN (default: latest)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    changed: bool = typer.Option(False, "--changed", help="Only forecasts that differ."),
    store: Optional[Path] = _store_opt(),
) -> None:
    """Two runs' forecasts side by side, with every input that differs between them."""
    from ..store import Store
    from ..store.compare import compare_runs

    _check_format(fmt, ("table", "json"))
    out, _ = _consoles()
    with Store(store, read_only=True) as st:
        a = st.resolve(run_a or "latest~1")
        b = st.resolve(run_b or "latest")
        doc = compare_runs(st, a, b)
    if changed:
        doc["forecasts"] = [r for r in doc["forecasts"]
                            if r["change"] is None or abs(r["change"]) > 1e-12]
    if fmt == "json":
        sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
        return
    ha, hb = doc["a"], doc["b"]
    out.print(f"[bold]A[/bold] = {ha['id']} ({ha['scenario']['name']}, {ha['created_at'][:19]}"
              f"{', ' + ha['label'] if ha.get('label') else ''})")
    out.print(f"[bold]B[/bold] = {hb['id']} ({hb['scenario']['name']}, {hb['created_at'][:19]}"
              f"{', ' + hb['label'] if hb.get('label') else ''})")
    if doc["inputs"]:
        t = Table(title="Inputs that differ", title_justify="left")
        t.add_column("input")
        t.add_column("A")
        t.add_column("B")
        for r in doc["inputs"]:
            t.add_row(r["field"], _raw(r["a"]), _raw(r["b"]))
        out.print(t)
    else:
        out.print("Inputs: identical (same scenario, models, options, levers, seed and "
                  "version).")
    t = Table(title="Forecasts", title_justify="left")
    for col in ("issue", "model", "lever / plan", "A", "B", "B − A"):
        t.add_column(col, justify="right" if col in ("A", "B", "B − A") else "left")
    for r in doc["forecasts"]:
        moved = r["change"] is not None and abs(r["change"]) > 1e-9
        style = "bold" if moved else None
        t.add_row(r["issue"], r["model"], r["intervention"], _fmt(r["a"]), _fmt(r["b"]),
                  _fmt(r["change"], signed=True), style=style)
    out.print(t)


# --------------------------------------------------------------------------
# runs export


_EXPORTS = {
    "document": ("json",),
    "history": ("csv", "parquet", "json"),
    "forecasts": ("csv", "parquet", "json"),
    "scenario": ("yaml",),
    "members": ("csv", "parquet", "json"),
}


@runs_app.command("export")
@_errors
def export(
    run: Optional[str] = typer.Argument(None, help="RUN (default: latest)."),
    what: str = typer.Option(
        "document", "--what", "-w",
        help="document (the results JSON), history (positions by round), forecasts, "
             "scenario (YAML, to run again) or members (a sweep's per-member forecasts)."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f",
                                      help="json, csv, parquet or yaml; default: from the "
                                           "output file's suffix, else the natural one."),
    output: Optional[Path] = typer.Option(None, "--output", "-o",
                                          help="Write to this file (default: standard output)."),
    store: Optional[Path] = _store_opt(),
) -> None:
    """Export a run's results, round-by-round history, forecasts or scenario."""
    from ..errors import OptionError
    from ..scenario.yaml_io import write_atomic
    from ..store import Store
    from ..store.shards import read_shards

    if what not in _EXPORTS:
        raise OptionError(f"--what {what!r}: expected one of {', '.join(_EXPORTS)}")
    allowed = _EXPORTS[what]
    if fmt is None:
        suffix = output.suffix.lower().lstrip(".") if output else ""
        suffix = {"yml": "yaml", "pq": "parquet"}.get(suffix, suffix)
        fmt = suffix if suffix in allowed else allowed[0]
    if fmt not in allowed:
        raise OptionError(f"--format {fmt!r} for --what {what}: expected "
                          f"{' or '.join(allowed)}")
    if fmt == "parquet" and output is None:
        raise OptionError("--format parquet needs --output FILE")
    with Store(store, read_only=True) as st:
        rec = st.get(run or "latest", document=(what == "document"))
        if what == "document":
            if rec.document is None:
                raise OptionError(f"run {rec.id} has no results document")
            text = json.dumps(rec.document, indent=2, allow_nan=False)
        elif what == "scenario":
            text = st.scenario_yaml(rec.id)
        else:
            frame = {"history": st.history, "forecasts": st.forecasts}.get(what)
            kind = (rec.spec or {}).get("shard_kind", "members")
            df = frame(rec.id) if frame else read_shards(st, rec.id, kind)
            if what == "members" and not len(df):
                raise OptionError(f"run {rec.id} has no sweep members")
            if fmt == "parquet":
                import io

                from ..fileio import write_output

                buf = io.BytesIO()
                df.to_parquet(buf, index=False)
                write_output(output, buf.getvalue())
                _consoles()[1].print(f"wrote {output} ({len(df)} rows)")
                return
            text = (df.to_csv(index=False) if fmt == "csv"
                    else df.to_json(orient="records", indent=2))
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        write_atomic(output, text if text.endswith("\n") else text + "\n")
        _consoles()[1].print(f"wrote {output}")


# --------------------------------------------------------------------------
# runs delete


@runs_app.command("delete")
@_errors
def delete(
    runs: list[str] = typer.Argument(..., help="RUNs to delete."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    store: Optional[Path] = _store_opt(),
) -> None:
    """Delete runs and their shards from the store."""
    from ..errors import OptionError
    from ..store import Store

    out, err = _consoles()
    with Store(store) as st:
        ids = list(dict.fromkeys(st.resolve(r) for r in runs))
        if not yes:
            if not sys.stdin.isatty():
                raise OptionError(f"deleting {', '.join(ids)}: add --yes to confirm")
            if not typer.confirm(f"Delete {len(ids)} run(s): {', '.join(ids)}?"):
                raise typer.Exit(1)
        st.delete(ids)
    err.print(f"deleted {', '.join(ids)}")


# --------------------------------------------------------------------------
# report


@_errors
def report(
    run: Optional[str] = typer.Argument(None, help="RUN (default: latest)."),
    html: Optional[Path] = typer.Option(None, "--html",
                                        help="Write an HTML report (works offline; one shared "
                                             "copy of plotly.js is written beside it). "
                                             "Default when no --png: report-RUN.html."),
    self_contained: bool = typer.Option(False, "--self-contained",
                                        help="Inline plotly.js in the HTML report (one file, "
                                             "about 4 MB larger)."),
    png: Optional[Path] = typer.Option(None, "--png", help="Write every chart as PNG into "
                                                           "this folder."),
    actor: Optional[list[str]] = typer.Option(
        None, "--actor", help="Actor whose point of view the perceptual quadrant map shows "
                              "(repeatable; default: the weightiest actor on each issue)."),
    quadrant_round: int = typer.Option(1, "--quadrant-round", min=1,
                                       help="Round at whose start the quadrant map is drawn."),
    png_engine: str = typer.Option("matplotlib", "--png-engine",
                                   help="matplotlib, or kaleido (needs kaleido and Chromium)."),
    store: Optional[Path] = _store_opt(),
) -> None:
    """Charts and tables of a recorded run: HTML page and/or PNG images."""
    from ..errors import OptionError
    from ..report import report_for_run, write_html, write_pngs
    from ..report.png import ENGINES
    from ..store import Store

    _, err = _consoles()
    if png_engine not in ENGINES:
        raise OptionError(f"--png-engine {png_engine!r}: expected {' or '.join(ENGINES)}")
    with Store(store, read_only=True) as st:
        rid = st.resolve(run or "latest")
        rec = st.get(rid, document=True)
        if rec.kind == "advice":
            if png is not None:
                raise OptionError("a plan search has an HTML report only (drop --png)")
            from ..report.advice import write_advice_html

            html = html or Path(f"report-{rid}.html")
            write_advice_html(rec.scenario_name, rec.document or {}, rec.header(), html,
                              self_contained=self_contained)
            err.print(f"wrote {html}" + ("" if self_contained
                                         else " and the plotly.js it loads beside it"))
            return
        if actor:
            scn = st.scenario(rid)
            known = {a.id for a in scn.actors}
            bad = [a for a in actor if a not in known]
            if bad:
                raise OptionError(f"--actor {', '.join(bad)}: not in the scenario (actors: "
                                  f"{', '.join(sorted(known))})")
        rep = report_for_run(st, rid, viewers=actor, quadrant_round=quadrant_round)
    if html is None and png is None:
        html = Path(f"report-{rid}.html")
    if html is not None:
        write_html(rep, html, self_contained=self_contained)
        err.print(f"wrote {html} ({len(rep.charts)} charts)"
                  + ("" if self_contained else " and the plotly.js it loads beside it"))
    if png is not None:
        files = write_pngs(rep, png, engine=png_engine)
        err.print(f"wrote {len(files)} images to {png}")
    for note in rep.notes:
        err.print(f"note: {note}")


def register(app: typer.Typer) -> None:
    """Add ``runs`` and ``report`` to the ``stakes`` command line."""
    app.add_typer(runs_app, name="runs")
    app.command("report")(report)
