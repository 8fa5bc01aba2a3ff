"""Turn a lever or a plan into the round-keyed steps models apply.

A lever's effects act on the arrays of whichever issues a model is looking
at: a change on an issue outside the problem is ignored there, so the same
lever serves single-issue and joint models alike.  Changed values are kept on
their scale: positions are clipped to the issue's scale, saliences to [0, 1],
capabilities to >= 0.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from ..models.base import Problem, Schedule
from ..scenario.arrays import actor_row
from ..scenario.schema import Effect, Lever, Scenario


@dataclass(frozen=True)
class Intervention:
    """What a run is asked to apply: nothing (baseline), one lever or one plan."""

    kind: Literal["baseline", "lever", "plan"]
    id: str | None
    steps: tuple[tuple[int, Lever], ...]  # (round, lever) in the order given

    @property
    def label(self) -> str:
        return "baseline" if self.kind == "baseline" else f"{self.kind}:{self.id}"


def baseline() -> Intervention:
    return Intervention("baseline", None, ())


def intervention_for_lever(scn: Scenario, lever_id: str, round_: int | None = None) -> Intervention:
    lv = scn.lever(lever_id)
    return Intervention("lever", lv.id, ((lv.round if round_ is None else round_, lv),))


def intervention_for_plan(scn: Scenario, plan_id: str) -> Intervention:
    plan = scn.plan(plan_id)
    steps = []
    for step in plan.steps:
        lv = scn.lever(step.lever)
        steps.append((lv.round if step.round is None else step.round, lv))
    return Intervention("plan", plan.id, tuple(steps))


def _apply_effect(scn: Scenario, eff: Effect, pb: Problem, missing: str) -> Problem:
    if eff.remove_actor is not None:
        if eff.remove_actor not in pb.actor_ids:
            return pb
        keep = np.array([a != eff.remove_actor for a in pb.actor_ids])
        A = pb.affinity[np.ix_(keep, keep)] if pb.affinity is not None else None
        return replace(
            pb,
            actor_ids=tuple(a for a in pb.actor_ids if a != eff.remove_actor),
            position=pb.position[keep], salience=pb.salience[keep],
            capability=pb.capability[keep], affinity=A,
        )
    if eff.add_actor is not None:
        if eff.add_actor in pb.actor_ids:
            return pb
        pos, sal, cap = (np.array(v, dtype=float) for v in actor_row(scn, eff.add_actor, pb.issue_ids))
        has = ~np.isnan(pos)
        if not (has.all() if missing == "drop" else has.any()):
            return pb  # the actor takes no part in these issues
        A = None
        if pb.affinity is not None:
            A = np.eye(pb.n + 1)
            A[: pb.n, : pb.n] = pb.affinity
        return replace(
            pb,
            actor_ids=(*pb.actor_ids, eff.add_actor),
            position=np.vstack([pb.position, pos]), salience=np.vstack([pb.salience, sal]),
            capability=np.vstack([pb.capability, cap]), affinity=A,
        )
    if eff.actor not in pb.actor_ids:
        return pb
    row = pb.actor_ids.index(eff.actor)
    cols = [k for k, iss in enumerate(pb.issue_ids) if eff.issues is None or iss in eff.issues]
    if not cols:
        return pb
    position, salience, capability = pb.position.copy(), pb.salience.copy(), pb.capability.copy()
    for k in cols:
        if np.isnan(position[row, k]):
            continue  # no stance on this issue: nothing to change
        if eff.position is not None:
            position[row, k] = np.clip(eff.position.apply(position[row, k]), pb.lo[k], pb.hi[k])
        if eff.salience is not None:
            salience[row, k] = np.clip(eff.salience.apply(salience[row, k]), 0.0, 1.0)
        if eff.capability is not None:
            capability[row, k] = max(0.0, eff.capability.apply(capability[row, k]))
    return replace(pb, position=position, salience=salience, capability=capability)


def schedule_for(scn: Scenario, intervention: Intervention, *, missing: str = "drop") -> Schedule:
    """The schedule of an intervention, for problems built with ``missing``."""
    steps: dict[int, list] = {}
    for round_, lever in intervention.steps:
        def step(pb: Problem, lever: Lever = lever) -> Problem:
            for eff in lever.effects:
                pb = _apply_effect(scn, eff, pb, missing)
            return pb

        steps.setdefault(round_, []).append(step)
    return Schedule({r: tuple(s) for r, s in steps.items()})
