"""``stakes seal`` and ``stakes grade``: a ledger of forecasts sealed before their outcomes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

DEFAULT_LEDGER = Path("forecasts.ledger.jsonl")


def register(app: typer.Typer) -> None:
    app.command("seal")(seal)
    app.command("grade")(grade)


def seal(
    run_id: str = typer.Argument(..., help="Stored run to seal (id or unique prefix; "
                                 "see: stakes runs list)."),
    ledger: Path = typer.Option(DEFAULT_LEDGER, "--ledger", "-l",
                                help="Ledger file (JSON Lines) to append to; created if absent."),
    store: Optional[Path] = typer.Option(None, "--store", metavar="PATH",
                                         help="Run store (default: $STAKES_STORE or the user "
                                         "data directory)."),
    question: Optional[list[str]] = typer.Option(
        None, "--question", "-q", help="Threshold question ISSUE>=VALUE or ISSUE<=VALUE "
        "(repeatable): each model's probability is sealed and graded by the Brier score."),
    calibrated: bool = typer.Option(True, "--calibrated/--points", help="Seal each forecast's "
                                    "distribution and 80% interval from the error models "
                                    "calibrated on DEU III, or the points only."),
    note: Optional[str] = typer.Option(None, "--note", help="Free text kept in the record."),
) -> None:
    """Append a sealed record of a stored run's forecasts to a ledger (docs/ledger.md)."""
    from ..ledger import build_record, seal as do_seal
    from ..store import open_store
    from .main import err, reports_errors

    @reports_errors
    def go() -> None:
        with open_store(store, read_only=True) as st:
            record = build_record(st, run_id, calibrated=calibrated, questions=question or (),
                                  note=note)
        sealed = do_seal(ledger, record)
        err.print(f"sealed run {sealed['run']} in {ledger}: {len(sealed['forecasts'])} "
                  f"forecasts, hash {sealed['hash'][:16]}", markup=False)

    go()


def grade(
    ledger: Path = typer.Argument(..., help="Ledger file written by stakes seal."),
    outcomes: Path = typer.Argument(..., help="Outcome file (CSV: scenario, issue, value, "
                                    "date, source; docs/ledger.md)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
) -> None:
    """Score sealed forecasts against outcomes recorded later; refuse altered records."""
    from ..errors import OptionError
    from ..ledger import grade as do_grade, read_ledger, read_outcomes
    from .main import out, reports_errors

    @reports_errors
    def go() -> None:
        if fmt not in ("table", "json"):
            raise OptionError(f"--format {fmt!r}: expected table or json")
        res = do_grade(read_ledger(ledger), read_outcomes(outcomes))
        if fmt == "json":
            sys.stdout.write(json.dumps(res, indent=2, allow_nan=False) + "\n")
            return
        t = Table(title="Sealed forecasts against outcomes", title_justify="left")
        for h in ("record", "model", "issue", "point", "outcome", "abs error", "in 80%",
                  "CRPS", "note"):
            t.add_column(h, justify="right" if h in ("point", "outcome", "abs error", "CRPS")
                         else "left")
        for r in res["forecasts"]:
            hit = "—" if r["hit80"] is None else ("yes" if r["hit80"] else "no")
            t.add_row(r["record"], r["model"], r["issue"], f"{r['point']:.2f}",
                      f"{r['outcome']:g}", f"{r['abs_error']:.2f}", hit, f"{r['crps']:.2f}",
                      "outcome dated before sealing" if r["late"] else "")
        out.print(t)
        s = Table(title="Summary (outcomes dated before sealing left out)", title_justify="left")
        for h in ("model", "n", "MAE", "CRPS", "80% hits", "Brier", "questions"):
            s.add_column(h, justify="left" if h == "model" else "right")
        for model, v in res["summary"].items():
            f = (lambda x, d=2: "—" if x is None else f"{x:.{d}f}")  # noqa: E731
            s.add_row(model, str(v["n"]), f(v["mae"]), f(v["crps"]),
                      "—" if v["hit80"] is None else f"{100 * v['hit80']:.0f}% of "
                      f"{v['n_intervals']}", f(v["brier"], 3), str(v["n_questions"]))
        out.print(s)

    go()
