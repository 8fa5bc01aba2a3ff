"""``stakes backtest``: score the models on decisions whose outcomes are known."""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from ..errors import OptionError

backtest_app = typer.Typer(
    name="backtest",
    help="Score the models against real outcomes (DEU III: EU legislative decisions).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add the ``backtest`` command group to the main app."""
    app.add_typer(backtest_app, name="backtest")


def _table(console: Console, title: str | None, header: list[str], body: list[list[str]]) -> None:
    t = Table(title=title, title_justify="left", show_lines=False, pad_edge=False)
    for k, h in enumerate(header):
        t.add_column(h, justify="left" if k < 2 else "right", no_wrap=True)
    for row in body:
        t.add_row(*row)
    console.print(t)


@backtest_app.command("deu3")
def deu3(
    path: Path = typer.Argument(..., help="DEU III file in the extract layout (tab-separated; "
                                "see docs/backtest.md for how to get it)."),
    model: Optional[list[str]] = typer.Option(
        None, "--model", "-m", help="Model to score besides the baselines (repeatable; 'all' "
        "for every model; 'none' for the baselines only). Default: every model."),
    capability: Optional[list[str]] = typer.Option(
        None, "--capability", "-c", help="Capability option (repeatable): equal, qmv, "
        "population, gdp. Default: all four."),
    institutions: str = typer.Option(
        "largest", "--institutions", help="Capability of the Commission and the Parliament: "
        "largest (as the largest member state; default), largest-cod (Parliament 0 under "
        "consultation), mean (as the average member state) or zero."),
    set_: Optional[list[str]] = typer.Option(
        None, "--set", help="Model option, MODEL.OPTION=VALUE (repeatable)."),
    folds: int = typer.Option(10, "--folds", min=2, help="Cross-validation folds (by proposal)."),
    level: float = typer.Option(0.8, "--level", min=0.01, max=0.99,
                                help="Coverage the intervals aim at."),
    loss: str = typer.Option("lad", "--loss", help="Stacking fit: lad (absolute error) or "
                             "nnls (squared error)."),
    interval: str = typer.Option("spread", "--interval", help="Interval width: spread "
                                 "(scaled by how far apart the actors are) or constant."),
    no_stack: bool = typer.Option(False, "--no-stack", help="Skip the combined forecasts."),
    seed: int = typer.Option(0, "--seed", help="Seed of the folds and the model generators."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1,
                                       help="Processes (default: one per CPU)."),
    issues: Optional[int] = typer.Option(
        None, "--issues", min=1, help="Only the first N scored issues (whole proposals)."),
    fold: Optional[int] = typer.Option(
        None, "--fold", min=0, help="Only the issues of fold K of the proposal-grouped folds "
        "(--folds, --seed); the combinations are then cross-validated within it."),
    cache: Optional[Path] = typer.Option(
        None, "--cache", help="Folder keeping per-issue model forecasts between runs (keyed "
        "by the model code, data file, model, options, capability and seed)."),
    holdout: Optional[Path] = typer.Option(
        None, "--holdout", help="Pre-registered held-out set (JSON with an 'issues' list, as "
        "preregistered/deu3-holdout.json): left out of every fit and every out-of-fold score."),
    distributions: bool = typer.Option(
        True, "--distributions/--no-distributions", help="Predictive distributions, their "
        "calibration and the comparisons with the vote-weighted compromise."),
    write_calibration: Optional[Path] = typer.Option(
        None, "--write-calibration", help="Write the error models fitted on every development "
        "issue (for stakes run --calibrated and stakes seal) to this JSON file."),
    progress: bool = typer.Option(True, "--progress/--no-progress",
                                  help="Progress bar on standard error (when a terminal)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, markdown, json or csv "
                            "(csv: the long accuracy table)."),
    forecasts: Optional[Path] = typer.Option(
        None, "--forecasts", help="Also write every issue's forecasts and intervals (CSV)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file."),
    into: Optional[Path] = typer.Option(
        None, "--into", help="Write the Markdown tables between the <!-- BEGIN TABLE --> and "
        "<!-- END TABLE --> markers of this page (how docs/backtest.md is made)."),
) -> None:
    """Accuracy of every model on DEU III: MAE, median error, share within 10 points."""
    from .main import err, out, parse_sets, reports_errors

    @reports_errors
    def go() -> None:
        import time

        from ..backtest.deu3 import CAPABILITIES, INSTITUTIONS, read_deu3
        from ..backtest.report import (StackSettings, build_report, calibration_table,
                                       comparison_caption, comparison_table, forecasts_table,
                                       procedure_groups, procedure_table, skipped_lines,
                                       stack_rows, summary_lines, to_json, to_markdown,
                                       top_weights)
        from ..backtest.cache import ForecastCache, file_hash
        from ..backtest.holdout import read_holdout
        from ..backtest.runner import default_models, forecasters_for, run_backtest, subset
        from .analysis import _progress
        from ..backtest.stacking import grouped_folds

        if fmt not in ("table", "markdown", "json", "csv"):
            raise OptionError(f"--format {fmt!r}: expected table, markdown, json or csv")
        if loss not in ("lad", "nnls"):
            raise OptionError(f"--loss {loss!r}: expected lad or nnls")
        if interval not in ("spread", "constant"):
            raise OptionError(f"--interval {interval!r}: expected spread or constant")
        if institutions not in INSTITUTIONS:
            raise OptionError(f"--institutions {institutions!r}: expected one of "
                              f"{', '.join(INSTITUTIONS)}")
        caps = list(capability or CAPABILITIES)
        for c in caps:
            if c not in CAPABILITIES:
                raise OptionError(f"--capability {c!r}: expected one of {', '.join(CAPABILITIES)}")
        names = list(model or default_models())
        if "all" in names:
            names = default_models()
        if "none" in names:
            names = []
        options = parse_sets(set_, names + ["compromise", "median", "status-quo"])
        fcs = forecasters_for(names, options)
        data = subset(read_deu3(path), issues=issues, fold=fold, folds=folds, seed=seed)
        store = ForecastCache(cache, file_hash(path)) if cache is not None else None
        if not no_stack:  # refuse impossible folds before the models run
            grouped_folds([i.proposal for i in data.scored()], folds, seed)
        t0 = time.perf_counter()
        with _progress("models", progress) as update:
            run = run_backtest(data, fcs, caps, institutions, seed=seed, jobs=jobs,
                               cache=store, progress=update)
        settings = None if no_stack else StackSettings(folds, seed, loss, level, interval)
        held = read_holdout(holdout) if holdout is not None else frozenset()
        rep = build_report(run, settings, held_out=held, distributions=distributions)
        total = time.perf_counter() - t0
        if write_calibration is not None:
            import numpy as np

            from ..backtest.calibration import fit_for_scenarios, restrict

            keep = np.array([i.issue_id not in held for i in run.issues])
            dev = restrict(run, keep)
            note = (f"DEU III ({Path(path).name}): {len(dev.issues)} EU legislative issues"
                    + (f", {int((~keep).sum())} pre-registered held-out issues left out"
                       if held else ""))
            _write(json.dumps(fit_for_scenarios(dev, note), indent=1) + "\n", write_calibration)
            err.print(f"wrote {write_calibration}")

        if forecasts is not None:
            rows = forecasts_table(rep)
            buf = io.StringIO()
            w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
            w.writeheader()
            for r in rows:
                w.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v)
                            for k, v in r.items()})
            _write(buf.getvalue(), forecasts)
            err.print(f"wrote {forecasts}")
        if fmt == "json":
            doc = to_json(rep)
            doc["seconds"]["total"] = total
            _write(json.dumps(doc, indent=2, allow_nan=False) + "\n", output)
        elif fmt == "csv":
            buf = io.StringIO()
            w = csv.DictWriter(buf, fieldnames=list(rep.rows[0]), lineterminator="\n")
            w.writeheader()
            for r in rep.rows:
                w.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v)
                            for k, v in r.items()})
            _write(buf.getvalue(), output)
        elif fmt == "markdown" or into is not None:
            if into is not None:
                from ..backtest.docs import replace_block

                replace_block(into, to_markdown(rep))
                err.print(f"updated {into}")
            else:
                _write(to_markdown(rep), output)
        else:
            # Drawn whole into memory, then written once (atomically for a regular file).
            buf = io.StringIO() if output else None
            console = Console(file=buf, width=160, color_system=None) if buf else out
            for line in summary_lines(rep):
                console.print(line, markup=False, highlight=False)
            for proc, _ in procedure_groups(run):
                title = "all procedures" if proc == "all" else f"procedure {proc}"
                _table(console, f"Accuracy against the outcomes (0–100 scale), {title}",
                       *procedure_table(rep, proc))
            for line in skipped_lines(run):
                console.print(f"  {line}", markup=False, highlight=False, style="dim")
            if rep.stacks:
                st = rep.settings
                _table(console, f"Combined forecasts, out of fold ({st.folds} folds grouped by "
                       f"proposal, {st.loss} fit, {st.interval} conformal intervals)",
                       *stack_rows(rep))
                for s in rep.stacks:
                    console.print(f"  {s.name}: {top_weights(s)}", markup=False,
                                  highlight=False, style="dim")
            if rep.calibration:
                _table(console, "Predictive distributions, out of fold (error model fitted on "
                       "the training folds)", *calibration_table(rep))
                _table(console, None, *comparison_table(rep))
                for line in comparison_caption(rep):
                    console.print(line, markup=False, highlight=False, style="dim")
            console.print(f"models ran in {run.wall_seconds:.1f} s; {total:.1f} s in all",
                          style="dim", highlight=False)
            if buf is not None:
                _write(buf.getvalue(), output)

    go()


@backtest_app.command("holdout")
def holdout_cmd(
    path: Optional[Path] = typer.Argument(None, help="DEU III file in the extract layout "
                                          "(not needed with --show)."),
    holdout: Path = typer.Option(Path("preregistered/deu3-holdout.json"), "--holdout",
                                 help="The pre-registered held-out set."),
    results: Path = typer.Option(Path("preregistered/deu3-holdout-results.jsonl"), "--results",
                                 help="Results file to append to (never rewritten)."),
    capability: Optional[list[str]] = typer.Option(
        None, "--capability", "-c", help="Capability options (default all four)."),
    folds: int = typer.Option(10, "--folds", min=2, help="Folds of the development CV."),
    seed: int = typer.Option(0, "--seed", help="Seed of the folds and the model generators."),
    cache: Optional[Path] = typer.Option(None, "--cache", help="Forecast cache folder."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1, help="Processes."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    show: bool = typer.Option(False, "--show", help="Print the latest version's results as "
                              "Markdown (as in docs/backtest.md) and score nothing."),
) -> None:
    """Score every model once on the pre-registered held-out issues; append the results."""
    from .main import err, out, reports_errors

    @reports_errors
    def go() -> None:
        if show:
            from ..backtest.docs import holdout_markdown

            sys.stdout.write(holdout_markdown(results))
            return
        from ..backtest.cache import ForecastCache, file_hash
        from ..backtest.deu3 import CAPABILITIES, read_deu3
        from ..backtest.holdout import append_results, model_version, read_holdout, score_holdout
        from ..backtest.report import StackSettings
        from ..backtest.runner import default_models, forecasters_for, run_backtest
        from .analysis import _progress

        if path is None:
            raise OptionError("PATH: the DEU III file is needed to score")
        held = read_holdout(holdout)
        data = read_deu3(path)
        caps = list(capability or CAPABILITIES)
        store = ForecastCache(cache, file_hash(path)) if cache is not None else None
        with _progress("models", progress) as update:
            run = run_backtest(data, forecasters_for(default_models()), caps, seed=seed,
                               jobs=jobs, cache=store, progress=update)
        settings = StackSettings(folds, seed)
        rows = score_holdout(run, held, settings)
        new, skipped = append_results(results, rows, {"folds": folds, "seed": seed,
                                                       "capabilities": caps})
        body = [[r["model"], str(r["n"]), f"{r['mae']:.2f}", f"{r['crps']:.2f}",
                 f"{100 * r['cover80']:.1f}%", f"{r['width80']:.1f}"] for r in rows]
        _table(out, f"Held-out issues ({holdout}), model version {model_version()}",
               ["forecast", "n", "MAE", "CRPS", "80% cover", "80% width"], body)
        if skipped:
            err.print(f"already scored under this version, not appended again: "
                      f"{', '.join(skipped)}", markup=False)
        err.print(f"appended {len(new)} lines to {results}", markup=False)

    go()


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        from ..scenario.yaml_io import write_atomic

        write_atomic(output, text)
