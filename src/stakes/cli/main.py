"""The ``stakes`` command line (typer + rich).

Bad input never shows a traceback: every problem is printed on its own line
(file:line:column: field: message) and the exit code is 2.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Optional

import typer
from rich.console import Console

from .. import __version__
from ..errors import OptionError, StakesError

app = typer.Typer(
    name="stakes",
    help="Forecast multi-actor political bargaining and test the levers that move it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

out = Console(soft_wrap=True)
if not out.is_terminal and "COLUMNS" not in os.environ:
    # Tables written to a file or a pipe take the width the output is made for (100
    # columns), not rich's 80.
    out = Console(soft_wrap=True, width=100)
err = Console(stderr=True, soft_wrap=True, highlight=False)


_FP_WARNINGS = (r"(invalid value|divide by zero|overflow|underflow) encountered|"
                r"Mean of empty slice|Degrees of freedom <= 0")


def reports_errors(fn: Callable) -> Callable:
    """Print StakesError problems one per line and exit 2, with no traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with warnings.catch_warnings():
                # numpy's floating-point warnings would add lines to a one-line refusal; a
                # result that is not a number is refused with its reason instead.
                warnings.filterwarnings("ignore", _FP_WARNINGS, RuntimeWarning)
                return fn(*args, **kwargs)
        except StakesError as exc:
            for line in exc.lines():
                err.print(f"error: {line}", markup=False)
            raise typer.Exit(exc.exit_code) from None
        except ImportError as exc:
            # An optional part of stakes that is not installed (stakes.extras).
            from ..extras import missing_extra

            missing = missing_extra(exc)
            if missing is None:
                raise
            err.print(f"error: {missing}", markup=False)
            raise typer.Exit(missing.exit_code) from None

    return wrapper


def chosen_interventions(scn, lever, plan, no_levers: bool):
    """The baseline plus what --lever/--plan name; every lever and plan when none is named."""
    from ..engine import interventions_for

    if no_levers:
        return interventions_for(scn)
    if lever or plan:
        return interventions_for(scn, lever, plan)
    return interventions_for(scn, "all", "all")


def parse_sets(sets: list[str] | None, models: list[str]) -> dict[str, dict[str, Any]]:
    """``model.option=value`` pairs; values read as YAML 1.2 scalars (so 0.5, true, paper)."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe")
    yaml.version = (1, 2)
    out_: dict[str, dict[str, Any]] = {}
    for item in sets or []:
        key, eq, raw = item.partition("=")
        model, dot, option = key.strip().partition(".")
        if not eq or not dot or not model or not option:
            raise OptionError(f"--set {item!r}: expected MODEL.OPTION=VALUE, e.g. eum.Q=0.5")
        if model not in models:
            raise OptionError(f"--set {item!r}: model {model!r} is not being run "
                              f"(models: {', '.join(models)})")
        try:
            value = yaml.load(raw) if raw.strip() else raw
        except Exception:
            value = raw
        out_.setdefault(model, {})[option] = value
    return out_


@app.callback(invoke_without_command=True)
def main(
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    if version:
        out.print(f"stakes {__version__}")
        raise typer.Exit(0)


@app.command()
@reports_errors
def run(
    scenario: Optional[str] = typer.Argument(
        None, help="Scenario file (our YAML or a peer format) or packaged name; "
        "default: the embedded default scenario."),
    model: Optional[list[str]] = typer.Option(
        None, "--model", "-m", help="Model to run (repeatable; 'all' for every model). "
        "Default: eum, compromise, median."),
    set_: Optional[list[str]] = typer.Option(
        None, "--set", help="Model option, MODEL.OPTION=VALUE (repeatable)."),
    rounds: Optional[int] = typer.Option(None, "--rounds", min=1, max=100_000,
                                         help="Round limit of the iterative models."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random generators."),
    lever: Optional[list[str]] = typer.Option(None, "--lever", help="Lever to test (repeatable)."),
    plan: Optional[list[str]] = typer.Option(None, "--plan", help="Plan to test (repeatable)."),
    no_levers: bool = typer.Option(False, "--no-levers", help="Baseline only."),
    output: Optional[Path] = typer.Option(None, "--output", "-o",
                                          help="Write the output to this file."),
    detail: bool = typer.Option(False, "--detail",
                                help="Tables: every run's trajectory, not the lever comparison."),
    store: Optional[Path] = typer.Option(None, "--store", metavar="PATH",
                                         help="Run store (default: $STAKES_STORE or the user "
                                         "data directory)."),
    save: bool = typer.Option(True, "--save/--no-save", help="Record the run in the run store."),
    label: Optional[str] = typer.Option(None, "--label", help="A label for the stored run."),
    calibrated: bool = typer.Option(False, "--calibrated", help="Tables: an 80% interval "
                                    "per forecast from the models' errors on EU legislative "
                                    "bargaining (DEU III; docs/backtest.md)."),
    members: Optional[int] = typer.Option(
        None, "--members", min=0, max=1_000_000,
        help="Ensemble members behind each interval and verdict (0: none). Default 200; "
        "fewer (at least 20) where the scenario's EUM runs are large."),
    slow_members: int = typer.Option(0, "--slow-members", min=0, max=100_000,
                                     help="Members for models without a batched kernel (smp, "
                                     "exchange, nbs-joint); each costs a full run."),
    fragile: float = typer.Option(0.25, "--fragile", min=0.0, max=1.0,
                                  help="Fragile: an interval wider than this share of the "
                                  "scale (or one that does not hold the forecast)."),
    zero_effect: float = typer.Option(0.01, "--zero-effect", min=0.0, max=1.0,
                                      help="Effects within this share of the scale count as "
                                      "none."),
    spillover: float = typer.Option(0.05, "--spillover", min=0.0, max=1.0,
                                    help="Spillover: a joint model moves an issue the lever "
                                    "does not touch by more than this share of the scale."),
) -> None:
    """Run models on a scenario: the baseline, and every lever and plan it defines.

    Every forecast comes with an ensemble interval and a verdict (robust, fragile, cycling,
    degenerate); every lever effect with its paired interval and flags (docs: Reading a
    forecast)."""
    from ..api import load
    from ..engine import DEFAULT_MODELS, check_seed, run_scenario
    from ..models import model_names

    check_seed(seed)
    if fmt not in ("table", "json"):
        raise OptionError(f"--format {fmt!r}: expected table or json")
    models = list(model or DEFAULT_MODELS)
    if "all" in models:
        models = model_names()
    scn = load(scenario)
    options = parse_sets(set_, models)
    ivs = chosen_interventions(scn, lever, plan, no_levers)
    explicit = model is not None and "all" not in (model or [])
    results = run_scenario(scn, models, options=options, interventions=ivs, rounds=rounds,
                           seed=seed, skip_inapplicable=not explicit)
    from ..forecast import Thresholds, assess

    results = assess(scn, results, options=options, rounds=rounds, seed=seed, members=members,
                     slow_members=slow_members,
                     thresholds=Thresholds(fragile_width=fragile, zero=zero_effect,
                                           spillover=spillover))
    # The forecast is printed before the run is recorded: a store that is busy (a sweep
    # writing) or cannot be opened costs the record, never the computed result.
    if fmt == "json":
        from ..results import to_document

        text = json.dumps(to_document(scn, results), indent=2, allow_nan=False)
        _emit(text, output)
    else:
        from .tables import forecast_summary, results_tables

        def draw(console: Console) -> None:
            if detail or calibrated:
                results_tables(console, scn, results, detail, calibrated)
            else:
                forecast_summary(console, results)
            _expectations(scn, results.results, models, console)

        _tables_to(output, draw)
    if save:
        _record(store, scn, results, models=models, options=options, seed=seed,
                rounds=rounds, source=scenario, label=label)


def _record(store, scn, results, *, source, **kw) -> None:
    """Record a printed run; a busy, broken or absent store costs the record, with a note."""
    from ..api import DEFAULT_SCENARIO

    def write() -> str:
        from ..store import record_run
        from ..store.catalog import command_line

        return record_run(store, scn, results, source=source or DEFAULT_SCENARIO,
                          command=command_line(), **kw)

    record_safely(write, "run")


def record_safely(write: Callable[[], str], what: str) -> None:
    """Run ``write`` (which records something and returns its id); a busy, broken or
    absent store costs the record, with a note, never what was already printed."""
    from ..extras import missing_extra
    from ..store import StoreError  # the store package itself needs no extra

    try:
        rid = write()
    except ImportError as exc:  # duckdb, pyarrow, ... are imported when the store opens
        if missing_extra(exc) is None:
            raise
        err.print(f"note: the {what} was not recorded: the run store is not installed "
                  "(pip install 'stakes[store]'; --no-save skips this)", markup=False)
    except StoreError as exc:
        err.print(f"warning: the {what} was not recorded: {exc}", markup=False)
    else:
        err.print(f"recorded {what} {rid}", markup=False)


def _expectations(scn, results, models: list[str], console=None) -> None:
    """The scenario's expectations that these runs can judge, per model."""
    from ..scenario.review import evaluate
    from .check import expectations_table

    ran = [m for m in models if any(r.model == m for r in results)]
    verdicts = [v for v in evaluate(scn, results, ran) if v.status != "not run"]
    if verdicts:
        judged = {v.expectation.id for v in verdicts}
        shown = scn.model_copy(update={
            "expectations": [ex for ex in scn.expectations if ex.id in judged]})
        expectations_table(shown, verdicts, ran, console)


def _tables_to(output: Path | None, draw: Callable[[Console], None]) -> None:
    """Draw rich tables on standard output, or into ``output`` (written once, whole)."""
    if output is None or str(output) == "-":
        draw(out)
        return
    import io

    buf = io.StringIO()
    draw(Console(file=buf, width=140, force_terminal=False, color_system=None))
    _emit(buf.getvalue().rstrip("\n"), output)


def _emit(text: str, output: Path | None) -> None:
    """Standard output, or ``output`` (atomic for a regular file; a device or FIFO written
    in place: :func:`stakes.fileio.write_output`)."""
    from ..fileio import write_output

    write_output(output, text + "\n")


@app.command()
@reports_errors
def levers(
    scenario: Optional[str] = typer.Argument(None, help="Scenario (default: the embedded one)."),
    model: Optional[list[str]] = typer.Option(None, "--model", "-m", help="Models (repeatable)."),
    rounds: Optional[int] = typer.Option(None, "--rounds", min=1, max=100_000),
    seed: int = typer.Option(0, "--seed"),
    members: Optional[int] = typer.Option(
        None, "--members", min=0, max=1_000_000,
        help="Ensemble members behind each effect's interval (default as stakes run)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
) -> None:
    """Per lever and plan: every issue and model it moves, ranked by the size of the effect."""
    from ..api import load
    from ..engine import DEFAULT_MODELS, check_seed, interventions_for, run_scenario
    from ..forecast import assess
    from .tables import lever_effects, lever_ranking

    check_seed(seed)
    if fmt not in ("table", "json"):
        raise OptionError(f"--format {fmt!r}: expected table or json")
    scn = load(scenario)
    if not scn.levers and not scn.plans:
        raise OptionError(f"scenario {scn.metadata.name!r} defines no levers or plans")
    models = list(model or DEFAULT_MODELS)
    results = run_scenario(scn, models, interventions=interventions_for(scn, "all", "all"),
                           rounds=rounds, seed=seed, skip_inapplicable=model is None)
    fc = assess(scn, results, rounds=rounds, seed=seed, members=members)
    if fmt == "json":
        sys.stdout.write(json.dumps(lever_effects(fc), indent=2, allow_nan=False) + "\n")
    else:
        lever_ranking(out, fc)
        _expectations(scn, results, models)


@app.command()
@reports_errors
def explain(
    targets: list[str] = typer.Argument(..., metavar="[SCENARIO] ISSUE",
                                        help="The issue, after the scenario (default: the "
                                        "embedded one)."),
    model: Optional[str] = typer.Option(None, "--model", "-m",
                                        help="Model (default: the headline model, eum)."),
    lever: Optional[str] = typer.Option(None, "--lever", help="Explain the run under a lever."),
    plan: Optional[str] = typer.Option(None, "--plan", help="Explain the run under a plan."),
    set_: Optional[list[str]] = typer.Option(
        None, "--set", help="Model option, MODEL.OPTION=VALUE (repeatable)."),
    rounds: Optional[int] = typer.Option(None, "--rounds", min=1, max=100_000),
    seed: int = typer.Option(0, "--seed"),
    members: Optional[int] = typer.Option(
        None, "--members", min=0, max=1_000_000,
        help="Ensemble members behind the verdict (0: none; default as stakes run)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
) -> None:
    """Why a forecast came out as it did: pivot, weight for and against change, each actor's
    start -> end and contribution, and the events of each round."""
    from ..api import load
    from ..engine import check_seed
    from ..forecast.explain import explain as do_explain

    check_seed(seed)
    if fmt not in ("table", "json"):
        raise OptionError(f"--format {fmt!r}: expected table or json")
    if len(targets) > 2:
        raise OptionError(f"expected [SCENARIO] ISSUE, got {len(targets)} arguments")
    if lever and plan:
        raise OptionError("--lever and --plan: give one of them")
    scenario, issue = (None, targets[0]) if len(targets) == 1 else targets
    scn = load(scenario)
    name = model or "eum"
    ex = do_explain(scn, issue, model=name, lever=lever, plan=plan,
                    options=parse_sets(set_, [name]), rounds=rounds, seed=seed,
                    members=members)
    if fmt == "json":
        from ..results import _num

        sys.stdout.write(json.dumps(_num(ex.as_dict()), indent=2, allow_nan=False) + "\n")
        return
    from .tables import explanation_table

    explanation_table(out, ex)


@app.command()
@reports_errors
def models(
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
) -> None:
    """List the models with their options, defaults and references."""
    from ..models import get_model, model_names
    from .tables import models_table

    found = [get_model(n) for n in model_names()]
    if fmt == "json":
        doc = [{
            "name": m.name, "title": m.title, "scope": m.scope, "references": list(m.references),
            "options": {
                k: {"default": f.default, "description": f.description,
                    "type": str(f.annotation).replace("typing.", "")}
                for k, f in m.Options.model_fields.items()
            },
        } for m in found]
        sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
    else:
        models_table(out, found)


@app.command()
@reports_errors
def convert(
    source: Path = typer.Argument(..., help="Input file in any supported format."),
    target: Path = typer.Argument(..., help="Output YAML file."),
    salience_scale: str = typer.Option("auto", help="auto, unit (0-1) or percent (0-100)."),
) -> None:
    """Convert a peer file (BDM CSV, KTAB CSV/XML, decide TSV, ...) into stakes YAML."""
    from ..readers.convert import convert as do_convert

    do_convert(source, target, salience_scale=salience_scale)
    err.print(f"wrote {target}")


@app.command()
@reports_errors
def new(
    target: Path = typer.Argument(..., help="Where to write the template."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented scenario template to fill in."""
    from importlib import resources

    from ..scenario.yaml_io import write_atomic

    if target.exists() and not force:
        raise OptionError(f"{target} exists; use --force to overwrite it")
    text = (resources.files("stakes.data") / "template.yaml").read_text(encoding="utf-8")
    write_atomic(target, text)
    err.print(f"wrote {target}; edit it, then: stakes run {target}")


@app.command()
@reports_errors
def scenarios() -> None:
    """List the packaged scenarios."""
    from ..api import DEFAULT_SCENARIO, load, packaged_scenarios

    for name, path in sorted(packaged_scenarios().items()):
        scn = load(path)
        mark = " (default)" if name == DEFAULT_SCENARIO else ""
        out.print(f"[bold]{name}[/bold]{mark}: {scn.metadata.name} "
                  f"({len(scn.actors)} actors, {len(scn.issues)} issues, "
                  f"{len(scn.levers)} levers, {len(scn.plans)} plans)")


@app.command()
@reports_errors
def evidence(
    scenario: Optional[str] = typer.Argument(None, help="Scenario (default: the embedded one)."),
    sources: Path = typer.Option(..., "--sources", help="Folder with your copies of the sources."),
) -> None:
    """Check every quote against the sources; list values without a basis. Exit 1 on findings."""
    from ..api import load
    from ..scenario.evidence import check_evidence, missing_basis

    scn = load(scenario)
    if not sources.is_dir():
        raise OptionError(f"--sources {sources}: not a folder")
    findings = check_evidence(scn, sources)
    unbased = missing_basis(scn)
    for f in findings:
        out.print(f"[red]quote[/red] {f}", markup=True, highlight=False)
    for f in unbased:
        out.print(f"[yellow]no basis[/yellow] {f}", markup=True, highlight=False)
    n_quotes = sum(1 for _ in _quotes(scn))
    out.print(f"{n_quotes} quotes checked, {len(findings)} not found; "
              f"{len(unbased)} values without a basis")
    if findings or unbased:
        raise typer.Exit(1)


def _quotes(scn):
    from ..scenario.schema import Evidence

    def walk(node):
        if isinstance(node, Evidence):
            yield node
        elif hasattr(node, "__pydantic_fields__"):
            for name in type(node).model_fields:
                yield from walk(getattr(node, name))
        elif isinstance(node, (list, tuple)):
            for x in node:
                yield from walk(x)

    yield from walk(scn)


def _register_command_groups() -> None:
    from .advise import register as register_advise
    from .backtest import register as register_backtest
    from .check import register as register_check
    from .ledger import register as register_ledger
    from .runs import register as register_runs
    from .analysis import register as register_analysis
    from .serve import register as register_serve

    register_analysis(app)
    register_advise(app)
    register_check(app)
    register_runs(app)
    register_backtest(app)
    register_serve(app)
    register_ledger(app)


_register_command_groups()

if __name__ == "__main__":  # pragma: no cover
    app()
