"""Run the baselines and the bargaining models on every DEU III issue, and score them.

Every model runs through the one model interface (``get_model(name).run``) on a
:class:`~stakes.models.base.Problem` built from the file, once per capability
option.  How each kind of model meets the data:

* issue models (``scope = "issue"``) run once per issue;
* joint models run once per proposal with the proposal's issues as dimensions
  (actors absent from an issue: NaN there), except ``smp``, which runs per
  issue: SMP needs each actor's saliences to sum to at most 1 over a problem's
  issues, and DEU saliences are per issue (0–100 each);
* models that need a status quo (``status-quo``, ``nbs``, ``nbs-joint``) run
  only on issues with a reference point (253 of the 353 scored);
* ``exchange`` and ``smp`` leave out actors with salience 0 (or capability 0)
  on an issue: those models refuse indifferent actors, and an actor that does
  not care about an issue takes no part in bargaining over it.

A model that cannot forecast an issue (a ``ModelError``, e.g. the exchange
model on a single-issue proposal) leaves that issue without a forecast; the
reasons are counted and reported.
"""

from __future__ import annotations

import os
import time
from collections import Counter
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from ..analysis.ensemble import progress_ticker
from ..errors import ModelError, OptionError
from ..models import get_model, make_options, model_names
from ..models.base import Problem, Schedule
from .deu3 import (CAPABILITIES, Deu3Data, Deu3Issue, capability_vector, issue_problem,
                   joint_problem)
from .cache import ForecastCache
from .metrics import Score, score

NEEDS_STATUS_QUO = frozenset({"status-quo", "nbs", "nbs-joint"})
DROP_INDIFFERENT = frozenset({"exchange", "smp"})
PER_ISSUE_JOINT = frozenset({"smp"})
BASELINE_MODELS = frozenset({"compromise", "median", "status-quo"})


@dataclass(frozen=True)
class Forecaster:
    """One row of the accuracy table: a model with fixed options."""

    label: str
    model: str
    options: tuple[tuple[str, Any], ...] = ()
    uses_capability: bool = True
    baseline: bool = False

    @property
    def option_dict(self) -> dict[str, Any]:
        return dict(self.options)


BASELINES = (
    Forecaster("status-quo", "status-quo", (), uses_capability=False, baseline=True),
    Forecaster("mean", "compromise", (("weights", "equal"),), uses_capability=False,
               baseline=True),
    Forecaster("compromise", "compromise", (("weights", "cs"),), baseline=True),
    Forecaster("median", "median", (("weights", "cs"),), baseline=True),
)


def default_models() -> list[str]:
    """Every registered bargaining model (the baselines always run)."""
    return [m for m in model_names() if m not in BASELINE_MODELS]


def forecasters_for(models: Iterable[str], options: dict[str, dict[str, Any]] | None = None,
                    ) -> list[Forecaster]:
    """The baselines, then one forecaster per model with its options (validated here)."""
    options = options or {}
    out = list(BASELINES)
    seen = set()
    # A baseline given options runs as an extra row even when not named as a model.
    models = list(models) + [m for m in options if m in BASELINE_MODELS and m not in models]
    for name in models:
        if name in seen:
            continue
        seen.add(name)
        model = get_model(name)  # unknown names raise OptionError listing the known ones
        make_options(model, options.get(name))
        if name in BASELINE_MODELS and not options.get(name):
            continue  # already among the baselines
        label = name if name not in BASELINE_MODELS else f"{name}*"
        out.append(Forecaster(label, name, tuple(sorted((options.get(name) or {}).items()))))
    return out


@dataclass
class BacktestRun:
    """Forecasts of every forecaster under every capability option, issue by issue."""

    data: Deu3Data
    issues: list[Deu3Issue]  # the scored issues, in file order
    capabilities: tuple[str, ...]
    institutions: str
    forecasters: list[Forecaster]
    forecasts: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    reasons: dict[tuple[str, str], Counter] = field(default_factory=dict)
    seconds: dict[tuple[str, str], float] = field(default_factory=dict)
    wall_seconds: float = 0.0

    @property
    def outcome(self) -> np.ndarray:
        return np.array([i.outcome for i in self.issues])

    def columns(self) -> list[tuple[Forecaster, str]]:
        """(forecaster, capability) pairs; '-' where the forecast does not use capability."""
        out = []
        for f in self.forecasters:
            for cap in (self.capabilities if f.uses_capability else ("-",)):
                out.append((f, cap))
        return out

    def score(self, label: str, cap: str, mask: np.ndarray | None = None) -> Score:
        return score(self.forecasts[(label, cap)], self.outcome, mask)


# --- one task: a forecaster under one capability on some groups of issues ----------------

_DATA: Deu3Data | None = None


def _init_worker(data: Deu3Data) -> None:
    global _DATA
    _DATA = data


def _drop_indifferent(p: Problem) -> Problem:
    bad = ~((p.salience > 0) & (p.capability > 0))
    if not bad.any():
        return p
    pos = np.where(bad, np.nan, p.position)
    keep = ~np.isnan(pos).all(axis=1)
    return replace(p, actor_ids=tuple(a for a, k in zip(p.actor_ids, keep) if k),
                   position=pos[keep], salience=np.where(bad, np.nan, p.salience)[keep],
                   capability=np.where(bad, np.nan, p.capability)[keep])


def _run_task(task: tuple) -> tuple[dict[str, dict[str, Any]], float]:
    """Forecasts of one forecaster on some groups: ``{group key: {"f": .., "r": ..}}``.

    ``f`` maps issue ids to forecasts, ``r`` reasons for issues without one to the
    number of scored issues they cost; the key joins the group's issue ids.
    """
    fc, cap, institutions, groups, seed = task
    data = _DATA
    assert data is not None
    model = get_model(fc.model)
    opts = make_options(model, fc.option_dict)
    by_id = {i.issue_id: i for i in data.issues}
    out: dict[str, dict[str, Any]] = {}
    t0 = time.process_time()
    ccap = "equal" if cap == "-" else cap
    for group in groups:
        issues = [by_id[g] for g in group]
        res: dict[str, Any] = {"f": {}, "r": {}}
        out["|".join(group)] = res
        reasons: Counter = Counter()
        if fc.model in NEEDS_STATUS_QUO:
            missing = [i for i in issues if not i.has_reference]
            if missing:
                res["r"]["no reference point (status quo)"] = sum(i.has_outcome for i in missing)
            issues = [i for i in issues if i.has_reference]
            if not issues:
                continue
        caps = [capability_vector(data, i, ccap, institutions) for i in issues]
        if len(issues) == 1:
            problem = issue_problem(issues[0], caps[0])
        else:
            problem = joint_problem(issues, caps)
        if fc.model in DROP_INDIFFERENT:
            problem = _drop_indifferent(problem)
        key = f"{fc.model}|{'|'.join(problem.issue_ids)}"
        rng = np.random.default_rng([seed, *(ord(ch) for ch in key)])
        try:
            if problem.n == 0:
                raise ModelError("no actor with a position and salience > 0")
            run = model.run(problem, opts, Schedule.empty(), rng)
        except ModelError as exc:
            msg = str(exc).splitlines()[0]
            if "at least 2 issues" in msg:
                msg = "single-issue proposal (the model needs at least 2 issues)"
            reasons[msg[:120]] += sum(i.has_outcome for i in issues)
            res["r"].update(reasons)
            continue
        for iss, v in zip(issues, np.asarray(run.forecast, dtype=float)):
            res["f"][iss.issue_id] = float(v)
    return out, time.process_time() - t0


def _groups(data: Deu3Data, fc: Forecaster) -> list[tuple[str, ...]]:
    """How a forecaster meets the issues: one by one, or proposal by proposal."""
    model = get_model(fc.model)
    if model.scope == "joint" and fc.model not in PER_ISSUE_JOINT:
        props = data.proposals()
        return [tuple(i.issue_id for i in v) for v in props.values()
                if any(i.has_outcome for i in v)]
    return [(i.issue_id,) for i in data.issues if i.has_outcome]


def subset(data: Deu3Data, *, issues: int | None = None, fold: int | None = None,
           folds: int = 10, seed: int = 0) -> Deu3Data:
    """The data restricted to whole proposals: the first ``issues`` scored issues (in file
    order, completing the last proposal), and/or the scored issues of fold ``fold`` of
    the proposal-grouped folds that ``folds`` and ``seed`` define."""
    from .stacking import grouped_folds

    keep = data.scored()
    notes = []
    if fold is not None:
        if not 0 <= fold < folds:
            raise OptionError(f"--fold {fold}: expected 0..{folds - 1} (--folds {folds})")
        f = grouped_folds([i.proposal for i in keep], folds, seed)
        keep = [i for i, k in zip(keep, f) if k == fold]
        notes.append(f"fold {fold} of {folds} (seed {seed})")
    if issues is not None:
        if issues < 1:
            raise OptionError(f"--issues {issues}: expected a positive number")
        size = Counter(i.proposal for i in keep)
        props: set[str] = set()
        count = 0
        for i in keep:
            if count >= issues:
                break
            if i.proposal not in props:
                props.add(i.proposal)
                count += size[i.proposal]
        keep = [i for i in keep if i.proposal in props]
        notes.append(f"first {len(keep)} issues (whole proposals)")
    ids = {i.issue_id for i in keep}
    if len(ids) == len(data.scored()):
        return data
    return replace(data, issues=tuple(i for i in data.issues if i.issue_id in ids),
                   notes=data.notes + (f"subset: {', '.join(notes)}",))


def run_backtest(
    data: Deu3Data,
    forecasters: Sequence[Forecaster],
    capabilities: Sequence[str] = CAPABILITIES,
    institutions: str = "largest",
    *,
    seed: int = 0,
    jobs: int | None = None,
    cache: ForecastCache | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BacktestRun:
    """Forecast every scored issue with every forecaster under every capability option.

    ``jobs`` > 1 spreads the work over processes; results do not depend on it
    (each model run draws from its own generator seeded from ``seed`` and the
    issue ids).  ``cache`` reuses forecasts computed before under the same code,
    data and options; ``progress(done, total)`` is called as groups of issues
    finish.
    """
    caps = tuple(dict.fromkeys(capabilities))
    for c in caps:
        if c not in CAPABILITIES:
            raise OptionError(f"--capability {c!r}: expected one of {', '.join(CAPABILITIES)}")
    if not caps:
        raise OptionError("no capability option chosen")
    for iss in data.scored():  # fail early, before any model runs
        for c in caps:
            capability_vector(data, iss, c, institutions)
    run = BacktestRun(data, data.scored(), caps, institutions, list(forecasters))
    jobs = max(1, jobs if jobs is not None else (os.cpu_count() or 1))
    done: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    tasks, keys = [], []
    total = 0
    for fc, cap in run.columns():
        groups = _groups(data, fc)
        total += len(groups)
        parts = {"model": fc.model, "options": fc.option_dict, "capability": cap,
                 "institutions": institutions, "seed": seed}
        have = cache.load(parts) if cache is not None else {}
        done[(fc.label, cap)] = {g: have[g] for g in map("|".join, groups) if g in have}
        groups = [g for g in groups if "|".join(g) not in have]
        # Slow models are split into chunks so that processes share the work evenly.
        n_chunks = 1 if fc.baseline or jobs == 1 else min(len(groups), 4 * jobs)
        for k in range(n_chunks):
            chunk = groups[k::n_chunks]
            if chunk:
                tasks.append((fc, cap, institutions, chunk, seed))
                keys.append(((fc.label, cap), parts))
    tick = progress_ticker(total, progress)
    tick(total - sum(len(t[3]) for t in tasks))
    cpu: Counter = Counter()

    def collect(key: tuple, parts: dict[str, Any], result: tuple) -> None:
        groups, secs = result
        done[key].update(groups)
        cpu[key] += secs
        if cache is not None:
            cache.save(parts, groups)
        tick(len(groups))

    t0 = time.perf_counter()
    if jobs == 1 or len(tasks) <= 1:
        _init_worker(data)
        for (key, parts), t in zip(keys, tasks):
            collect(key, parts, _run_task(t))
    else:
        # forkserver, not fork: forking a process in which JAX (multithreaded) was
        # imported can deadlock the child.
        ctx = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init_worker,
                                 initargs=(data,)) as pool:
            futures = {pool.submit(_run_task, t): k for k, t in zip(keys, tasks)}
            for fut in as_completed(futures):
                key, parts = futures[fut]
                collect(key, parts, fut.result())
    run.wall_seconds = time.perf_counter() - t0
    index = {i.issue_id: k for k, i in enumerate(run.issues)}
    for key, groups in done.items():
        arr = np.full(len(run.issues), np.nan)
        reasons: Counter = Counter()
        for g in groups.values():
            for iid, v in g["f"].items():
                if iid in index:
                    arr[index[iid]] = v
            reasons.update(g["r"])
        run.forecasts[key] = arr
        run.reasons[key] = reasons
        run.seconds[key] = float(cpu[key])
    return run
