"""Evaluate models on many members (input draws) of a scenario at once.

A member is one row of input values (:mod:`.uncertainty`).  For each model,
issue and intervention (baseline, lever, plan) the ensemble computes one
forecast per member.  Every intervention sees the same members: common
random numbers, so that the difference between a lever run and the baseline
run of a member is the lever's effect on that member alone.

Work is shared where the result cannot differ: a lever none of whose effects
can reach an issue (no effect names an actor with a stance on it) gives the
baseline forecast there, and two interventions whose effects on an issue are
the same give the same forecasts; each distinct computation is a *task*.

Models with a batched kernel (:mod:`stakes.kernels.batched`; the EUM through
the round driver, :mod:`stakes.driver`) run all members of a task in one
batch: ``eum``, ``compromise``, ``median``, ``status-quo`` and ``nbs``.
Other models (``smp``, ``exchange``, ``nbs-joint``) run member by member
through the model itself, on a copy of the scenario carrying the member's
values; this is exact but about as slow as that many ``stakes run`` calls.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..driver import Job, Members, drive
from ..engine import resolve_options, run_scenario
from ..errors import ModelError, OptionError
from ..kernels import batched as kb
from ..kernels.backend import Backend
from ..levers import Intervention
from ..levers.compile import LeverState, apply_in_order, compile_intervention
from ..models import BATCHED, get_model, make_options
from ..models.eum import EUMRounds
from ..scenario.schema import Effect, Scenario
from .uncertainty import InputSpace, IssueView



def progress_ticker(total: int, progress: Callable[[int, int], None] | None
                    ) -> Callable[[int], None]:
    """A ``tick(k)`` that adds k work units and reports ``progress(done, total)``."""
    done = [0]

    def tick(k: int) -> None:
        done[0] += k
        if progress is not None:
            progress(min(done[0], total), total)

    return tick


@dataclass(frozen=True)
class Task:
    """One distinct computation: a model on an issue under an intervention."""

    model: str
    issue: str
    intervention: Intervention  # a representative; others with the same key share it
    without: str | None = None  # an actor left out of the scenario (stability)

    @property
    def label(self) -> str:
        return self.intervention.label


def touches(scn: Scenario, eff: Effect, issue: str) -> bool:
    """Whether ``eff`` can change a problem on ``issue`` (conservatively)."""
    has = scn.entry
    if eff.remove_actor is not None:
        return has(eff.remove_actor, issue) is not None
    if eff.add_actor is not None:
        return has(eff.add_actor, issue) is not None
    if eff.issues is not None and issue not in eff.issues:
        return False
    return has(eff.actor, issue) is not None


def signature(scn: Scenario, iv: Intervention, issue: str, model: str, max_rounds: int | None):
    """Equal signatures give equal forecasts of ``model`` on ``issue``."""
    effects = tuple((r, eff.model_dump_json()) for r, lv in iv.steps for eff in lv.effects
                    if touches(scn, eff, issue))
    if model != "eum":
        return effects
    # The EUM applies no stopping rule before its last lever and restarts cycle
    # detection at every lever, even one that does nothing on this issue; levers
    # at round 0 or past the round limit change nothing of that.
    cap = max_rounds if max_rounds is not None else 0
    rounds = tuple(sorted({r for r, _ in iv.steps if 0 < r < cap}))
    return (tuple(e for e in effects if e[0] < cap), rounds)


# --------------------------------------------------------------------------
# Levers on batches: the one lever compiler, fed with the members' values


def _newcomer(view: IssueView, values: np.ndarray):
    """An entering actor takes its member values on this issue (none without a stance)."""
    def row(actor: str, issue_ids):
        if actor not in view.position:
            return None
        x, c, s = view.columns(values, [actor])
        return x, s, c
    return row


def _lever_state(view: IssueView, ids, x, c, s) -> LeverState:
    return LeverState(tuple(ids), (view.issue,), x[..., None], s[..., None], c[..., None],
                      np.array([view.lo]), np.array([view.hi]))


def transforms(iv: Intervention, view: IssueView, values: np.ndarray):
    """The intervention's transforms by round, on one issue, for every member."""
    return compile_intervention(iv, _newcomer(view, values))


def lever_steps(iv: Intervention, view: IssueView, values: np.ndarray):
    """The transforms as round-driver levers (Members -> Members)."""
    def as_lever(tf):
        def step(m: Members) -> Members:
            st = tf(_lever_state(view, m.ids, m.x, m.c, m.s))
            return Members(st.ids, st.position[..., 0], st.capability[..., 0],
                           st.salience[..., 0])
        return step
    return {r: as_lever(tf) for r, tf in transforms(iv, view, values).items()}


# --------------------------------------------------------------------------


@dataclass
class ModelSpec:
    name: str
    options: Any  # validated ModelOptions
    scope: str
    batched: bool
    overrides: dict[str, Any] = field(default_factory=dict)


def model_specs(scn: Scenario, models: Sequence[str], options: dict[str, dict] | None,
                rounds: int | None) -> list[ModelSpec]:
    out = []
    for name in models:
        model = get_model(name)
        values = resolve_options(scn, name, (options or {}).get(name), rounds)
        opts = make_options(model, values)
        out.append(ModelSpec(name, opts, model.scope, name in BATCHED, values))
    return out


@dataclass
class Evaluation:
    """Forecasts per (model, intervention label, issue), one per member."""

    forecasts: dict[tuple[str, str, str], np.ndarray]
    stops: dict[tuple[str, str, str], np.ndarray] = field(default_factory=dict)  # EUM stop codes
    # EUM members ending in a cycle: the lowest and highest forecast of its rounds (else NaN)
    cycles: dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray]] = field(
        default_factory=dict)
    shared: dict[tuple[str, str, str], bool] = field(default_factory=dict)  # same task as baseline


class Ensemble:
    """The plan of tasks for a scenario, models and interventions; evaluates members."""

    def __init__(
        self,
        space: InputSpace,
        models: Sequence[str],
        interventions: Sequence[Intervention],
        *,
        options: dict[str, dict] | None = None,
        rounds: int | None = None,
        backend: Backend | None,
        skip_inapplicable: bool = True,
        without: Sequence[str | None] = (None,),
        engine_seed: int = 0,
        issues: Sequence[str] | None = None,
    ):
        self.space = space
        self.scn = space.scenario
        self.specs = model_specs(self.scn, models, options, rounds)
        self.interventions = list(interventions)
        self.options = options or {}
        self.rounds = rounds
        self.backend = backend
        self.without = list(without)
        self.engine_seed = engine_seed
        self.skipped: list[str] = []
        # (model, label, issue, without) -> task key; task key -> Task
        self.plan: dict[tuple, tuple] = {}
        self.tasks: dict[tuple, Task] = {}
        # Forecasts on other issues are not planned (single-issue models compute only
        # these; joint models still see every issue, and report these).
        issues = list(issues) if issues is not None else [i.id for i in self.scn.issues]
        for spec in self.specs:
            if not spec.batched:
                for wo in self.without:
                    for iv in self.interventions:
                        for iss in issues:
                            key = (spec.name, "generic", iv.label, iss, wo)
                            self.plan[(spec.name, iv.label, iss, wo)] = key
                            self.tasks[key] = Task(spec.name, iss, iv, wo)
                continue
            cap = getattr(spec.options, "max_rounds", None)
            for iss in issues:
                view = space.views[iss]
                why = self._inapplicable(spec, view)
                if why:
                    if not skip_inapplicable:
                        raise ModelError(why)
                    self.skipped.append(why)
                    continue
                for wo in self.without:
                    # Leaving out an actor without a stance here changes nothing.
                    eff_wo = wo if wo in view.present else None
                    ids = [a for a in view.present if a != eff_wo]
                    if not ids:
                        msg = f"{spec.name}: no actor takes a position on {iss}"
                        if not skip_inapplicable:
                            raise ModelError(msg)
                        self.skipped.append(msg)
                        continue
                    for iv in self.interventions:
                        sig = signature(self.scn, iv, iss, spec.name, cap)
                        key = (spec.name, iss, eff_wo, sig)
                        self.plan[(spec.name, iv.label, iss, wo)] = key
                        self.tasks.setdefault(key, Task(spec.name, iss, iv, eff_wo))

    def _inapplicable(self, spec: ModelSpec, view: IssueView) -> str | None:
        if spec.name in ("status-quo", "nbs") and view.status_quo is None:
            return f"{spec.name}: issue {view.issue} gives no status quo"
        if not view.present:
            return f"{spec.name}: no actor takes a position on {view.issue}"
        return None

    @property
    def units_per_member(self) -> int:
        """Progress units of one member: one per task."""
        return len(self.tasks)

    def evaluate(self, values: np.ndarray, progress: Callable[[int], None] | None = None,
                 members: Sequence[int] | None = None) -> Evaluation:
        """Forecasts of every planned (model, label, issue, without) for ``values`` (B, m).

        ``members`` are the members' indices (seeds of the stochastic models run
        one by one); by default 0 .. B − 1.
        """
        values = np.asarray(values, dtype=float)
        b = len(values)
        tick = progress or (lambda k: None)
        results: dict[tuple, np.ndarray] = {}
        stops: dict[tuple, np.ndarray] = {}
        cycles: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        for spec in self.specs:
            keys = [k for k, t in self.tasks.items() if t.model == spec.name]
            if not keys:
                continue
            if spec.name == "eum":
                self._eum(spec, keys, values, results, stops, cycles, tick)
            elif spec.batched:
                for key in keys:
                    results[key] = self._simple(spec, self.tasks[key], values)
                    tick(b)
            else:
                self._generic(spec, keys, values, results, tick, members)
        forecasts, stop_out, shared, cycle_out = {}, {}, {}, {}
        for (model, label, iss, wo), key in self.plan.items():
            if key not in results:
                continue
            forecasts[(model, label, iss, wo)] = results[key]
            if key in stops:
                stop_out[(model, label, iss, wo)] = stops[key]
                cycle_out[(model, label, iss, wo)] = cycles[key]
            base = self.plan.get((model, "baseline", iss, wo))
            shared[(model, label, iss, wo)] = base == key
        return Evaluation(forecasts, stop_out, shared=shared, cycles=cycle_out)

    # -- per model ----------------------------------------------------------

    def _columns(self, task: Task, values: np.ndarray):
        view = self.space.views[task.issue]
        ids = [a for a in view.present if a != task.without]
        x, c, s = view.columns(values, ids)
        return view, ids, x, c, s

    def _eum(self, spec, keys, values, results, stops, cycles, tick) -> None:
        jobs = []
        for key in keys:
            task = self.tasks[key]
            view, ids, x, c, s = self._columns(task, values)
            jobs.append(Job(Members(tuple(ids), x, c, s),
                            lever_steps(task.intervention, view, values)))
        math = EUMRounds(spec.options, "")
        out = drive(jobs, math, math.rule(), self.backend or "numpy", on_done=tick)
        for key, res in zip(keys, out):
            results[key] = res.forecast
            stops[key] = res.stop
            cycles[key] = (res.cycle_lo, res.cycle_hi)

    def _simple(self, spec, task: Task, values) -> np.ndarray:
        view, ids, x, c, s = self._columns(task, values)
        st = apply_in_order(transforms(task.intervention, view, values),
                            _lever_state(view, ids, x, c, s))
        x, c, s = st.position[..., 0], st.capability[..., 0], st.salience[..., 0]
        o = spec.options
        if spec.name == "compromise":
            return kb.compromise(np, x, kb.weights(np, c, s, o.weights))
        if spec.name == "median":
            return kb.weighted_median(np, x, kb.weights(np, c, s, o.weights), o.median_tie)
        q = values[:, view.status_quo]
        if spec.name == "status-quo":
            return q.copy()
        if spec.name == "nbs":
            sol, _ = kb.nbs_issue(np, x, s, kb.weights(np, c, s, o.nbs_weights), q, view.lo,
                                  view.hi, o.kappa)
            return sol
        raise OptionError(f"no batched kernel for model {spec.name!r}")  # pragma: no cover

    def _generic(self, spec, keys, values, results, tick, members) -> None:
        """Member by member through the model itself (exact, slow)."""
        b = len(values)
        for key in keys:
            results[key] = np.full(b, np.nan)
        ivs = {t.label: t.intervention for t in (self.tasks[k] for k in keys)}
        by_wo: dict[Any, list] = {}
        for k in keys:
            by_wo.setdefault(self.tasks[k].without, []).append(k)
        ids = list(members) if members is not None else list(range(b))
        for row in range(b):
            mscn = self.space.scenario_for(values[row])
            seed = int(np.random.SeedSequence([self.engine_seed, ids[row]]).generate_state(1)[0])
            for wo, wkeys in by_wo.items():
                scn_m = mscn
                if wo is not None:
                    scn_m = mscn.model_copy(update={"actors": [
                        a.model_copy(update={"present": False}) if a.id == wo else a
                        for a in mscn.actors]})
                res = run_scenario(scn_m, [spec.name], options={spec.name: spec.overrides},
                                   interventions=list(ivs.values()), seed=seed,
                                   skip_inapplicable=True)
                for r in res:
                    for d, iss in enumerate(r.run.issue_ids):
                        key = (spec.name, "generic", r.intervention.label, iss, wo)
                        if key in results:
                            results[key][row] = float(r.run.forecast[d])
                tick(len(wkeys))
