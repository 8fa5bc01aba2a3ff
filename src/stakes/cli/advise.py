"""``stakes advise``: search the scenario's levers for plans that reach a goal."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from .analysis import _emit, _errors, _table_console

WIDTH = 100


def _say(console: Console, text: str, indent: int = 0) -> None:
    """Plain text wrapped to the output's 100 columns."""
    console.print(textwrap.fill(text, WIDTH, initial_indent=" " * indent,
                                subsequent_indent=" " * (indent + 4), break_on_hyphens=False),
                  markup=False, highlight=False)


def _pct(p: float) -> str:
    return f"{100 * p:.0f}%"


def _num(v: float | None, signed: bool = False) -> str:
    if v is None:
        return "—"
    return f"{v:+.1f}" if signed else f"{v:.1f}"


@_errors
def advise_command(
    scenario: Optional[str] = typer.Argument(None, help="Scenario (default: the embedded one)."),
    goal: Optional[list[str]] = typer.Option(None, "--goal", "-g",
                                   help="ISSUE>=VALUE or ISSUE<=VALUE (repeatable: all must "
                                        "hold)."),
    for_: Optional[str] = typer.Option(None, "--for", metavar="ACTOR",
                                       help="Goal: this actor is better off (its salience-"
                                            "weighted distance to the forecasts shrinks)."),
    model: str = typer.Option("eum", "--model", "-m", help="Model that forecasts."),
    budget: Optional[float] = typer.Option(None, "--budget", min=0.0,
                                           help="Largest plan cost (plan size without costs)."),
    members: int = typer.Option(200, "--members", "-n", min=1, max=1_000_000,
                                help="Ensemble members per plan."),
    max_levers: Optional[int] = typer.Option(None, "--max-levers", min=1,
                                             help="Largest plan, in levers."),
    method: str = typer.Option("auto", "--method",
                               help="auto, exhaustive or beam (auto: exhaustive up to 8 levers)."),
    beam: int = typer.Option(8, "--beam", min=1, max=1000, help="Plans kept per size (beam)."),
    rank: str = typer.Option("p", "--rank",
                             help="p (success share), robust (its interval's lower end) or "
                                  "bargained (share reached only through bargaining)."),
    plan: Optional[str] = typer.Option(None, "--plan",
                                       help="Only score the orderings of this scenario plan."),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="MODEL.OPTION=VALUE."),
    rounds: Optional[int] = typer.Option(None, "--rounds", min=1, max=100_000),
    backend: str = typer.Option("numpy", "--backend",
                                help="numpy or jax (JAX pays a compile once per shape)."),
    seed: int = typer.Option(0, "--seed"),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    output: Optional[Path] = typer.Option(None, "--output", "-o"),
    store: Optional[Path] = typer.Option(None, "--store", metavar="PATH",
                                         help="Run store (default: $STAKES_STORE or the user "
                                              "data directory)."),
    save: bool = typer.Option(True, "--save/--no-save",
                              help="Record the search in the run store (stakes report RUN)."),
    label: Optional[str] = typer.Option(None, "--label", help="A label for the stored search."),
) -> None:
    """Which levers, in which order, reach a goal: success share over the scenario's
    uncertainty, cost, side effects, and what bargaining adds to what the levers impose."""
    from ..analysis.advise import actor_goal, advise, parse_goal, plan_order
    from ..api import load
    from ..engine import check_seed
    from ..errors import OptionError
    from ..models import model_names
    from .main import parse_sets

    if fmt not in ("table", "json"):
        raise OptionError(f"--format {fmt!r}: expected table or json")
    if method not in ("auto", "exhaustive", "beam"):
        raise OptionError(f"--method {method!r}: expected auto, exhaustive or beam")
    if rank not in ("p", "robust", "bargained"):
        raise OptionError(f"--rank {rank!r}: expected p, robust or bargained")
    if model not in model_names():
        raise OptionError(f"--model {model!r}: unknown (models: {', '.join(model_names())})")
    check_seed(seed)
    scn = load(scenario)
    goals = [parse_goal(g, scn) for g in goal or []]
    if for_ is not None:
        goals.append(actor_goal(for_, scn))
    if not goals:
        raise OptionError("give a goal: --goal ISSUE>=VALUE (repeatable) or --for ACTOR")
    options = parse_sets(set_, [model])
    if plan is not None:
        spread = plan_order(scn, plan, goals, model=model, members=members, seed=seed,
                            options=options, rounds=rounds, backend=backend)
        if fmt == "json":
            _emit(json.dumps({"plan": plan, "goals": [g.label for g in goals], "model": model,
                              "members": members, "seed": seed, **spread.json()},
                             indent=2, allow_nan=False), output)
            return
        with _table_console(output) as console:
            _order_table(console, f"plan {plan}", spread)
        return
    adv = advise(scn, goals, model=model, budget=budget, members=members, seed=seed,
                 max_levers=max_levers, method=method, beam=beam,  # type: ignore[arg-type]
                 options=options, rounds=rounds, rank=rank,  # type: ignore[arg-type]
                 backend=backend)
    if fmt == "json":
        _emit(json.dumps(adv.json(), indent=2, allow_nan=False), output)
    else:
        with _table_console(output) as console:
            _advice_tables(console, scn, adv)
    if save:
        _record(store, scn, adv, source=scenario, options=options, rounds=rounds, label=label,
                spec={"goals": goal, "for": for_, "budget": budget, "max_levers": max_levers,
                      "method": method, "beam": beam, "rank": rank, "backend": backend})


def _record(store, scn, adv, *, source, options, rounds, label, spec) -> None:
    from ..api import DEFAULT_SCENARIO
    from .main import record_safely

    def write() -> str:
        from ..store import Store
        from ..store.catalog import command_line

        with Store(store) as st:
            return st.record_document(
                scn, adv.json(), kind="advice", models=[adv.model],
                interventions=[f"lever:{lv}" for lv in adv.reaching], options=options,
                seed=adv.seed, rounds=rounds, source=source or DEFAULT_SCENARIO, label=label,
                command=command_line(), seconds=adv.seconds, spec=spec)

    record_safely(write, "plan search")


def _advice_tables(console: Console, scn, adv) -> None:
    goals = " and ".join(g.label for g in adv.goals)
    _say(console, f"{scn.metadata.name}: goal {goals}; model {adv.model}; "
                  f"{adv.members} members, seed {adv.seed}")
    _say(console, f"searched {adv.evaluated} plans ({adv.method}) from {len(adv.reaching)} "
                  f"levers that reach the goal; {len(adv.left_out)} cannot and were left out")
    fc = "; ".join(f"{i} {s.median:.1f} (80%: {s.lo:.1f}–{s.hi:.1f})"
                   for i, s in adv.baseline_forecast.items())
    lo, hi = adv.baseline_interval
    cyc = (f"; {_pct(adv.baseline_p_cycle)} of members end in a cycle on both sides of the goal"
           if adv.baseline_p_cycle else "")
    _say(console, f"baseline: goal met in {_pct(adv.baseline_p)} of members "
                  f"[{_pct(lo)}–{_pct(hi)}]; {fc}{cyc}")
    issue = adv.goals[0].issues[0]
    front = {id(s) for s in adv.front}
    t = Table(title=f"best plans (ranked by {adv.rank}; * on the cost front)",
              title_justify="left")
    for col in ("#", "cost", "goal met", "80% CI", f"effect on {issue} (80%)", "bargained",
                "flag"):
        t.add_column(col, no_wrap=True)
    for k, s in enumerate(adv.ranked, 1):
        e = s.effect[issue]
        share = s.bargained_share(issue)
        barg = "—" if share is None else f"{100 * share:.0f}%"
        t.add_row(f"{k}{'*' if id(s) in front else ''}", f"{s.cost:g}", _pct(s.p_goals),
                  f"{_pct(s.p_interval[0])}–{_pct(s.p_interval[1])}",
                  f"{e.median:+.1f} ({e.lo:+.1f} to {e.hi:+.1f})", barg, ", ".join(s.flags))
    console.print(t)
    if adv.baseline_p_cycle or any(s.p_cycle for s in adv.ranked):
        _say(console, "cycles N%: members whose run ends in a cycle that meets the goal in some "
                      "rounds and misses it in others; they count by what the model reports for "
                      "the cycle (its last round, or its mean with cycle_forecast: cycle_mean).")
    for k, s in enumerate(adv.ranked, 1):
        _say(console, f"{k}: {s.label}", 2)
    if adv.lever_values:
        how = "Shapley value" if adv.lever_values_exact else "mean marginal gain"
        _say(console, f"levers that matter ({how} of the share meeting the goal): " + ", ".join(
            f"{lv} {100 * v:+.0f} pts" for lv, v in adv.lever_values.items()))
    if adv.ranked and adv.ranked[0].side_effects:
        best = adv.ranked[0]
        moved = sorted(best.side_effects.items(), key=lambda kv: -abs(kv[1].median))
        shown = [f"{i} {s.median:+.1f}" for i, s in moved if abs(s.median) >= 0.05][:6]
        _say(console, "side effects of the first plan (median shift): "
             + (", ".join(shown) if shown else "none"))
    for label, spread in adv.orders.items():
        _order_table(console, label, spread)
    if adv.persuasion:
        t = Table(title="who to work on (one actor moved a little toward the goal)",
                  title_justify="left")
        for col in ("actor", "issue", "shift", "goal met", "gain", "paired test"):
            t.add_column(col)
        for p in adv.persuasion[:8]:
            shift = (f"position {p.shift:+g}" if p.what == "position"
                     else f"salience {p.shift:+g}")
            t.add_row(p.actor, p.issue, shift, _pct(p.p_goals), f"{100 * p.gain:+.1f} pts",
                      "differs" if p.significant else "noise")
        console.print(t)


def _order_table(console: Console, label: str, spread) -> None:
    lo, hi = spread.p_range
    verdict = "order matters" if spread.matters() else "order does not matter"
    scope = "every ordering" if spread.exhaustive else f"{spread.sampled} sampled orderings"
    issue = next(iter(spread.best.effect))
    e_lo, e_hi = spread.effect_range(issue)
    _say(console, label)
    _say(console, f"{scope} and all at once: goal met in {_pct(lo)}–{_pct(hi)} of members; "
                  f"median effect on {issue} {e_lo:+.1f} to {e_hi:+.1f}; {verdict}", 2)
    if spread.written is not None:
        _say(console, f"as written: {spread.written.label} ({_pct(spread.written.p_goals)})", 2)
    _say(console, f"best:  {spread.best.label} ({_pct(spread.best.p_goals)})", 2)
    _say(console, f"worst: {spread.worst.label} ({_pct(spread.worst.p_goals)})", 2)


def register(app: typer.Typer) -> None:
    app.command("advise")(advise_command)


__all__ = ["register"]
