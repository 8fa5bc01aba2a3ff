"""Run models on a scenario, with or without levers: the engine behind the CLI,
the Python API and the web app."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from .errors import ModelError, OptionError
from .levers import (Intervention, baseline, intervention_for_lever, intervention_for_plan,
                     schedule_for)
from .models import ROUNDS_OPTION, get_model, make_options
from .models.base import ModelRun
from .scenario.arrays import to_problem
from .scenario.schema import Scenario

DEFAULT_MODELS = ("eum", "compromise", "median")


@dataclass
class Result:
    """One model run on one issue (or on all issues, for joint models) under one intervention."""

    intervention: Intervention
    run: ModelRun
    moved: list[str] = field(default_factory=list)  # actors whose final position differs from start
    seconds: float = 0.0
    # actors whose final position differs from the baseline run's (levers and plans only)
    moved_vs_baseline: list[str] | None = None

    @property
    def model(self) -> str:
        return self.run.model


def interventions_for(
    scn: Scenario,
    levers: Sequence[str] | str | None = None,
    plans: Sequence[str] | str | None = None,
    include_baseline: bool = True,
) -> list[Intervention]:
    """Baseline, then the named levers and plans (``"all"`` for every one)."""
    out = [baseline()] if include_baseline else []
    lever_ids = [lv.id for lv in scn.levers] if levers == "all" else list(levers or [])
    plan_ids = [p.id for p in scn.plans] if plans == "all" else list(plans or [])
    for lid in lever_ids:
        try:
            out.append(intervention_for_lever(scn, lid))
        except KeyError:
            known = ", ".join(lv.id for lv in scn.levers) or "none"
            raise OptionError(f"unknown lever {lid!r} (scenario levers: {known})") from None
    for pid in plan_ids:
        try:
            out.append(intervention_for_plan(scn, pid))
        except KeyError:
            known = ", ".join(p.id for p in scn.plans) or "none"
            raise OptionError(f"unknown plan {pid!r} (scenario plans: {known})") from None
    return out


def resolve_options(
    scn: Scenario, model_name: str, overrides: dict[str, Any] | None, rounds: int | None
) -> dict[str, Any]:
    """Scenario defaults, then user overrides, then ``--rounds``."""
    values = dict(scn.options.get(model_name, {}))
    values.update(overrides or {})
    if rounds is not None and model_name in ROUNDS_OPTION:
        values[ROUNDS_OPTION[model_name]] = rounds
    return values


def _moved(run: ModelRun) -> list[str]:
    first, last = run.rounds[0], run.rounds[-1]
    start = {a: k for k, a in enumerate(first.actor_ids)}
    pairs = [(k, start[a]) for k, a in enumerate(last.actor_ids) if a in start]
    if not pairs:
        return []
    now, then = np.array(pairs).T
    a = np.nan_to_num(np.asarray(first.position, dtype=float)[then])
    b = np.nan_to_num(np.asarray(last.position, dtype=float)[now])
    same = np.isclose(a, b, atol=1e-9).reshape(len(pairs), -1).all(axis=1)
    return [last.actor_ids[k] for k, kept in zip(now, same) if not kept]


#: Seeds are stored as the run store's BIGINT and feed numpy's SeedSequence (non-negative).
SEED_MAX = 2**63 - 1


def check_seed(seed: Any, what: str = "--seed") -> int:
    """``seed`` if it is an integer in [0, :data:`SEED_MAX`], else an OptionError."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not (
            0 <= int(seed) <= SEED_MAX):
        raise OptionError(f"{what} {seed}: expected an integer from 0 to {SEED_MAX} (2^63 - 1)")
    return int(seed)


def run_scenario(
    scn: Scenario,
    models: Iterable[str] = DEFAULT_MODELS,
    *,
    options: dict[str, dict[str, Any]] | None = None,
    interventions: Sequence[Intervention] | None = None,
    rounds: int | None = None,
    seed: int = 0,
    issues: Sequence[str] | None = None,
    skip_inapplicable: bool = False,
) -> list[Result]:
    """Run every model under every intervention (baseline only by default).

    Single-issue models run once per issue; joint models once on all issues.
    Each (model, issue, intervention) gets its own generator seeded from
    ``seed``, so results do not depend on which other runs were requested.
    With ``skip_inapplicable`` a model that cannot run on an issue (e.g. the
    status quo where none is given) is left out instead of raising.
    """
    seed = check_seed(seed, "seed")
    options = options or {}
    interventions = list(interventions or [baseline()])
    issue_ids = list(issues) if issues is not None else [i.id for i in scn.issues]
    for iss in issue_ids:
        try:
            scn.issue(iss)
        except KeyError:
            raise OptionError(f"unknown issue {iss!r}") from None
    out: list[Result] = []
    for name in models:
        model = get_model(name)
        opts = make_options(model, resolve_options(scn, name, options.get(name), rounds))
        groups = [tuple(issue_ids)] if model.scope == "joint" else [(i,) for i in issue_ids]
        missing = "nan" if model.scope == "joint" else "drop"
        for group in groups:
            problem = to_problem(scn, group, missing=missing)
            schedules = [schedule_for(scn, iv, missing=missing) for iv in interventions]

            def rng() -> np.random.Generator:
                return np.random.default_rng([seed, *(ord(ch) for ch in
                                                      f"{name}|{'|'.join(group)}")])

            runs, each = None, 0.0
            if problem.n > 0 and len(interventions) > 1:
                # Every intervention at once (a model whose runs batch does them in one go);
                # if one of them cannot run, each runs on its own below and says which.
                t0 = time.perf_counter()
                try:
                    runs = model.run_many(problem, opts, schedules,
                                          [rng() for _ in interventions])
                except ModelError:
                    runs = None
                each = (time.perf_counter() - t0) / len(interventions)
            for k, iv in enumerate(interventions):
                t0 = time.perf_counter()
                if runs is not None:
                    run = runs[k]
                else:
                    try:
                        if problem.n == 0:
                            raise ModelError(f"{name}: no actor takes a position on "
                                             f"{', '.join(group)}")
                        run = model.run(problem, opts, schedules[k], rng())
                    except ModelError:
                        if skip_inapplicable:
                            break
                        raise
                if not np.all(np.isfinite(run.forecast)):
                    # A refusal even with skip_inapplicable: the model did run, and
                    # its answer is not a number.
                    raise ModelError(why_not_a_number(run, iv))
                seconds = each if runs is not None else time.perf_counter() - t0
                out.append(Result(iv, run, _moved(run), seconds))
    _compare_with_baseline(out)
    return out


def why_not_a_number(run: ModelRun, iv: Intervention) -> str:
    """Why ``run``'s forecast is NaN or infinite, for the refusal's message."""
    under = "the baseline" if iv.kind == "baseline" else f"{iv.kind} {iv.id}"
    d = int(np.flatnonzero(~np.isfinite(run.forecast))[0])
    iss = run.issue_ids[d]
    first = next((r for r in run.rounds if not np.isfinite(r.forecast[d])), run.rounds[-1])
    pos = np.asarray(first.position, dtype=float)
    left = int(np.sum(np.isfinite(pos[:, d]))) if pos.ndim == 2 and pos.size else 0
    if left == 0:
        return (f"{run.model}: under {under}, no actor remains on issue {iss} from round "
                f"{first.round}; there is no forecast to give")
    return (f"{run.model}: under {under}, the forecast on issue {iss} is not a number from "
            f"round {first.round} ({left} actors remain, but their saliences or capabilities "
            "are zero or too small to weigh)")


def _final_positions(run: ModelRun) -> dict[str, np.ndarray]:
    last = run.rounds[-1]
    return dict(zip(last.actor_ids, last.position))


def _compare_with_baseline(results: list[Result]) -> None:
    """Fill ``moved_vs_baseline``: who ends elsewhere than in the baseline run.

    Actors that enter or leave through the intervention count as moved.
    """
    base = {(r.run.model, r.run.issue_ids): _final_positions(r.run)
            for r in results if r.intervention.kind == "baseline"}
    for r in results:
        ref = base.get((r.run.model, r.run.issue_ids))
        if r.intervention.kind == "baseline" or ref is None:
            continue
        final = _final_positions(r.run)
        moved = []
        for a in dict.fromkeys([*ref, *final]):
            if a not in ref or a not in final or not np.allclose(
                    np.nan_to_num(ref[a]), np.nan_to_num(final[a]), atol=1e-9):
                moved.append(a)
        r.moved_vs_baseline = moved
