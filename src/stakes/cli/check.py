"""``stakes check`` (review a scenario, evaluate its expectations) and ``stakes diff``."""

from __future__ import annotations

import functools
import textwrap
from pathlib import Path
from typing import Any, Callable, Optional

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ..errors import OptionError


def reports_errors(fn: Callable) -> Callable:
    """The CLI's error reporting, imported late: main.py registers these commands at its end."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .main import reports_errors as main_reports

        return main_reports(fn)(*args, **kwargs)

    return wrapper


class _Late:
    """A console of main.py, looked up when used."""

    def __init__(self, name: str):
        self.name = name

    def print(self, *args: Any, **kwargs: Any) -> None:
        from . import main

        getattr(main, self.name).print(*args, **kwargs)


out, err = _Late("out"), _Late("err")

#: Models ``stakes check`` evaluates expectations with, unless told otherwise.
CHECK_MODELS = ("eum", "compromise", "median", "smp", "exchange")


def _models(model: list[str] | None, default) -> list[str]:
    from ..models import model_names

    models = list(model or default)
    if "all" in models:
        return model_names()
    known = set(model_names())
    for m in models:
        if m not in known:
            raise OptionError(f"--model {m!r}: unknown model (models: {', '.join(sorted(known))})")
    return models


def print_dated(scn) -> None:
    """The as-of line, and the notice when the scenario is more than a year old."""
    from ..scenario.review import as_of_notice

    if scn.metadata.as_of is not None:
        out.print(f"as of {scn.metadata.as_of.isoformat()}", markup=False)
    notice = as_of_notice(scn)
    if notice:
        out.print(notice, markup=False, style="yellow")


def register(app: typer.Typer) -> None:
    @app.command()
    @reports_errors
    def check(
        scenario: Optional[str] = typer.Argument(
            None, help="Scenario (default: the embedded one)."),
        sources: Optional[Path] = typer.Option(
            None, "--sources", help="Also check every quote against these source files."),
        model: Optional[list[str]] = typer.Option(
            None, "--model", "-m", help="Models the expectations are evaluated with "
            f"(repeatable; default: {', '.join(CHECK_MODELS)})."),
        run_models: bool = typer.Option(
            True, "--run/--no-run", help="Evaluate the expectations (runs the models)."),
        seed: int = typer.Option(0, "--seed"),
    ) -> None:
        """Review a scenario: bases, rationales, arenas, and its expectations per model.

        Exit 1 when the review finds a problem (a value without a basis, evidence
        that does not say what it shows, a rationale that is not a sentence, a
        quote not found).  Expectations the models fail are reported and do not
        change the exit code: they are findings about the models, not the file.
        """
        from ..api import load
        from ..scenario.evidence import check_evidence
        from ..scenario.review import arena_rows, review, run_expectations

        scn = load(scenario)
        out.print(f"[bold]{scn.metadata.name}[/bold]", highlight=False)
        print_dated(scn)
        findings = review(scn)
        if sources is not None:
            if not sources.is_dir():
                raise OptionError(f"--sources {sources}: not a folder")
            findings = check_evidence(scn, sources) + findings
        for f in findings:
            out.print(f"[red]problem[/red] {escape(str(f))}", highlight=False)
        for issue in scn.issues:
            rows = arena_rows(scn, issue.id)
            if rows:
                deciders = ", ".join(r.actor for r in rows if r.role == "authority")
                infl = ", ".join(f"{r.actor} ×{r.weight:g}" for r in rows if r.role == "influence")
                line = (f"arena {issue.id}: decided by {deciders}"
                        + (f"; influence: {infl}" if infl else "")
                        + f"; others ×{issue.arena.others:g}")
                out.print(textwrap.fill(line, 100, subsequent_indent="    "), markup=False)
        if scn.channels is not None:
            shut = scn.channels.closed_pairs(a.id for a in scn.actors)
            out.print(f"channels: default {scn.channels.default}, {len(shut)} pairs of actors "
                      "cannot bargain directly (exchange, smp)", markup=False)
        if run_models and scn.expectations:
            models = _models(model, CHECK_MODELS)
            verdicts = run_expectations(scn, models, seed=seed)
            expectations_table(scn, verdicts, models)
        out.print(f"{len(findings)} problems"
                  + (f"; {len(scn.expectations)} expectations" if scn.expectations else ""),
                  markup=False)
        if findings:
            raise typer.Exit(1)

    @app.command()
    @reports_errors
    def diff(
        old: str = typer.Argument(..., help="The earlier scenario file (or packaged name)."),
        new: str = typer.Argument(..., help="The later scenario file (or packaged name)."),
        model: Optional[list[str]] = typer.Option(
            None, "--model", "-m", help="Models for the headline forecasts (repeatable; "
            "default: eum, compromise, median)."),
        run_models: bool = typer.Option(True, "--run/--no-run",
                                        help="Compare the headline forecasts."),
        seed: int = typer.Option(0, "--seed"),
    ) -> None:
        """The values that changed between two scenario files, with their bases, and how
        each headline (baseline) forecast moved."""
        from ..api import load
        from ..engine import DEFAULT_MODELS
        from ..scenario.diff import changes, headline_moves

        a, b = load(old), load(new)
        for label, scn in (("old", a), ("new", b)):
            out.print(f"{label}: {scn.metadata.name}"
                      + (f" (as of {scn.metadata.as_of})" if scn.metadata.as_of else ""),
                      markup=False, highlight=False)
        ch = changes(a, b)
        t = Table(title=f"{len(ch)} changed values", title_justify="left")
        for col in ("what", "old", "new", "old basis", "new basis"):
            t.add_column(col, overflow="fold")
        for c in ch:  # quotes and rationales are shown as written, never as markup
            t.add_row(*(Text(x) for x in (c.what, c.old, c.new, c.old_basis, c.new_basis)))
        out.print(t)
        if run_models:
            models = _models(model, DEFAULT_MODELS)
            moves = headline_moves(a, b, models, seed=seed)
            t = Table(title="headline forecasts (baseline)", title_justify="left")
            for col in ("issue", "model", "old", "new", "shift"):
                t.add_column(col)
            for m in moves:
                f = (lambda v: "—" if v is None else f"{v:.1f}")
                t.add_row(m.issue, m.model, f(m.old), f(m.new),
                          "—" if m.shift is None else f"{m.shift:+.1f}")
            out.print(t)


def expectations_table(scn, verdicts, models: list[str], console=None) -> None:
    """One row per expectation, one column per model: met / FAILED with the forecast."""
    out_ = console or out
    for ex in scn.expectations:
        out_.print(textwrap.fill(f"expectation {ex.id}: {ex.describe()}", 100,
                                 subsequent_indent="    "), markup=False, highlight=False)
    t = Table(title="expectations (written before the models were run)", title_justify="left")
    t.add_column("expectation", overflow="fold")
    for m in models:
        t.add_column(m)
    by = {(v.expectation.id, v.model): v for v in verdicts}
    count = {"met": 0, "failed": 0, "cycling": 0}
    marks = {"met": "met", "failed": "[red]FAILED[/red]", "cycling": "[yellow]cycling[/yellow]"}
    for ex in scn.expectations:
        cells = []
        for m in models:
            v = by.get((ex.id, m))
            if v is None or v.status == "not run":
                cells.append("n/a")
                continue
            count[v.status] += 1
            cells.append(f"{marks[v.status]} {v.judged}")
        t.add_row(ex.id, *cells)
    out_.print(t)
    if any("↻" in v.judged for v in verdicts if v.status != "not run"):
        out_.print(textwrap.fill("↻: the run ends in a cycle whose rounds disagree; each of its "
                                 "rounds is judged: met on all, FAILED on none, cycling on "
                                 "some.", 100), markup=False, highlight=False)
    err.print(f"expectations: {count['met']} met, {count['failed']} failed"
              + (f", {count['cycling']} cycling" if count["cycling"] else "")
              + " (model × expectation)", markup=False)
