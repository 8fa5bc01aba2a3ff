"""The Python API: the same engine as the CLI, for notebooks and scripts.

>>> import stakes
>>> scn = stakes.load("ec-emissions")            # a packaged scenario, or any file path
>>> results = stakes.run(scn, models=["compromise", "median"])
>>> round(results[0].run.forecast[0], 3)
7.39
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Sequence

from .engine import DEFAULT_MODELS, Result, interventions_for, run_scenario
from .errors import InputError, Diagnostic
from .scenario.schema import Scenario

DEFAULT_SCENARIO = "us-israel-palestine-2023"


def packaged_scenarios() -> dict[str, Path]:
    """Scenarios shipped with stakes, by name (file name without ``.yaml``)."""
    folder = resources.files("stakes.data") / "scenarios"
    return {
        p.name.removesuffix(".yaml"): Path(str(p))
        for p in folder.iterdir()
        if p.name.endswith(".yaml")
    }


def scenario_path(name_or_path: str | os.PathLike | None) -> Path:
    """A packaged scenario's path by name, or the given path; the default when None."""
    if name_or_path is None:
        name_or_path = DEFAULT_SCENARIO
    text = str(name_or_path)
    packaged = packaged_scenarios()
    if text in packaged and not Path(text).exists():
        return packaged[text]
    return Path(text)


def load(source: str | os.PathLike | None = None, **reader_options: Any) -> Scenario:
    """Load a scenario from our YAML or any peer format (auto-detected), or a packaged one."""
    path = scenario_path(source)
    if not path.exists():
        names = ", ".join(sorted(packaged_scenarios()))
        raise InputError(Diagnostic(f"no such file (packaged scenarios: {names})",
                                    file=str(source)))
    from .readers import load_any

    return load_any(path, **reader_options)


def run(
    scenario: Scenario | str | os.PathLike | None = None,
    models: Iterable[str] = DEFAULT_MODELS,
    *,
    options: dict[str, dict[str, Any]] | None = None,
    levers: Sequence[str] | str | None = None,
    plans: Sequence[str] | str | None = None,
    rounds: int | None = None,
    seed: int = 0,
) -> list[Result]:
    """Run ``models`` on ``scenario``: the baseline, then each named lever and plan."""
    scn = scenario if isinstance(scenario, Scenario) else load(scenario)
    ivs = interventions_for(scn, levers, plans)
    return run_scenario(scn, models, options=options, interventions=ivs, rounds=rounds, seed=seed)


def runs_frame(results: Iterable[Result]):
    """Results as a pandas DataFrame (model x intervention x issue x round x actor)."""
    from .results import to_frame

    return to_frame(results)


def advise(
    scenario: Scenario | str | os.PathLike | None = None,
    goals: Sequence[str] = (),
    *,
    for_actor: str | None = None,
    model: str = "eum",
    **options: Any,
):
    """Search the scenario's levers for plans that reach ``goals`` (``"ISSUE>=VALUE"``) or
    leave ``for_actor`` better off; see :func:`stakes.analysis.advise.advise` for the options
    (``budget``, ``members``, ``seed``, ``rank``, ...).  Returns an ``Advice``."""
    from .analysis.advise import actor_goal, parse_goal
    from .analysis.advise import advise as search

    scn = scenario if isinstance(scenario, Scenario) else load(scenario)
    parsed = [parse_goal(g, scn) for g in goals]
    if for_actor is not None:
        parsed.append(actor_goal(for_actor, scn))
    return search(scn, parsed, model=model, **options)
