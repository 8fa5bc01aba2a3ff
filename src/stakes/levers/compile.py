"""One lever compiler: an intervention becomes, per round, pure transforms of arrays.

A transform takes a :class:`LeverState` (members B x actors n x issues D, with
the actors' ids and the issues' scales) and returns a new one; it never
changes its input.  Single runs use it as a batch of one (through
:func:`schedule_for`, which wraps the transforms as the ``Schedule`` the
models receive); the ensemble uses it for all its members at once.

A lever's effects act on the arrays of whichever issues a run is looking at:
a change on an issue outside them is ignored there, so the same lever serves
single-issue and joint models alike.  Changed values are kept on their
scale: positions are clipped to the issue's scale, saliences to [0, 1],
capabilities to >= 0.  An entry without a stance (NaN position, joint
problems) is left as it is.

Actors that enter or leave change the number of columns between rounds (a
shape change, not an active-actor mask): the EUM kernel's cost is set by the
actors taking part, and inactive rows would have to be excluded from every
vote, median and offer of a round.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from ..models.base import Problem, Schedule
from ..scenario.arrays import actor_row
from ..scenario.schema import Change, Effect, Lever, Scenario


@dataclass(frozen=True)
class Intervention:
    """What a run is asked to apply: nothing (baseline), one lever or one plan."""

    kind: Literal["baseline", "lever", "plan"]
    id: str | None
    steps: tuple[tuple[int, Lever], ...]  # (round, lever) in the order given

    @property
    def label(self) -> str:
        return "baseline" if self.kind == "baseline" else f"{self.kind}:{self.id}"

    def rounds(self) -> list[int]:
        """The distinct rounds at which a lever acts, ascending."""
        return sorted({r for r, _ in self.steps})


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


@dataclass(frozen=True)
class LeverState:
    """What levers act on: arrays (B, n, D) of the actors ``ids`` on ``issue_ids``."""

    ids: tuple[str, ...]
    issue_ids: tuple[str, ...]
    position: np.ndarray  # (B, n, D)
    salience: np.ndarray  # (B, n, D)
    capability: np.ndarray  # (B, n, D)
    lo: np.ndarray  # (D,)
    hi: np.ndarray  # (D,)


# The values of an actor entering on ``issue_ids``: (position, salience,
# capability), each (B, D) or (1, D), NaN where it has no entry; None when it
# has no entry on any of them.
Newcomer = Callable[[str, tuple[str, ...]], "tuple[np.ndarray, np.ndarray, np.ndarray] | None"]
Transform = Callable[[LeverState], LeverState]
Missing = Literal["drop", "nan"]


def _changed(old: np.ndarray, change: Change) -> np.ndarray:
    return np.broadcast_to(np.asarray(change.apply(old), dtype=float), old.shape)


def _compile_effect(eff: Effect, newcomer: Newcomer, missing: Missing) -> Transform:
    if eff.remove_actor is not None:
        gone = eff.remove_actor

        def remove(st: LeverState) -> LeverState:
            if gone not in st.ids:
                return st
            keep = np.array([a != gone for a in st.ids])
            return replace(st, ids=tuple(a for a in st.ids if a != gone),
                           position=st.position[:, keep], salience=st.salience[:, keep],
                           capability=st.capability[:, keep])

        return remove
    if eff.add_actor is not None:
        new = eff.add_actor

        def add(st: LeverState) -> LeverState:
            if new in st.ids:
                return st
            row = newcomer(new, st.issue_ids)
            if row is None:
                return st
            pos, sal, cap = (np.asarray(v, dtype=float) for v in row)
            has = ~np.isnan(pos[0])
            if not (has.all() if missing == "drop" else has.any()):
                return st  # the actor takes no part in these issues
            b = len(st.position)

            def grow(arr, col):
                return np.concatenate([arr, np.broadcast_to(col, (b, *col.shape[1:]))[:, None]],
                                      axis=1)

            return replace(st, ids=(*st.ids, new), position=grow(st.position, pos),
                           salience=grow(st.salience, sal), capability=grow(st.capability, cap))

        return add
    who, issues = eff.actor, eff.issues

    def change(st: LeverState) -> LeverState:
        if who not in st.ids:
            return st
        cols = [d for d, iss in enumerate(st.issue_ids) if issues is None or iss in issues]
        if not cols:
            return st
        k = st.ids.index(who)
        out = {}
        stance = ~np.isnan(st.position[:, k, cols])  # no stance on an issue: nothing to change
        for name, ch in (("position", eff.position), ("salience", eff.salience),
                         ("capability", eff.capability)):
            if ch is None:
                continue
            arr = getattr(st, name)
            old = arr[:, k, cols]
            val = _changed(old, ch)
            if name == "position":
                val = np.clip(val, st.lo[cols], st.hi[cols])
            elif name == "salience":
                val = np.clip(val, 0.0, 1.0)
            else:
                val = np.maximum(val, 0.0)
            arr = arr.copy()
            arr[:, k, cols] = np.where(stance, val, old)
            out[name] = arr
        return replace(st, **out)

    return change


def compile_intervention(intervention: Intervention, newcomer: Newcomer,
                         missing: Missing = "drop") -> dict[int, Transform]:
    """The intervention's transforms by round; levers sharing a round act in the order given."""
    by_round: dict[int, list[Transform]] = {}
    for round_, lever in intervention.steps:
        by_round.setdefault(round_, []).extend(
            _compile_effect(eff, newcomer, missing) for eff in lever.effects)

    def chain(parts: list[Transform]) -> Transform:
        def run(st: LeverState) -> LeverState:
            for part in parts:
                st = part(st)
            return st
        return run

    return {r: chain(parts) for r, parts in sorted(by_round.items())}


def apply_in_order(transforms: dict[int, Transform], st: LeverState) -> LeverState:
    """Every round's transform in round order (models without rounds)."""
    for r in sorted(transforms):
        st = transforms[r](st)
    return st


def scenario_newcomer(scn: Scenario) -> Newcomer:
    """Entering actors take their scenario entries (single runs)."""
    def row(actor: str, issue_ids: tuple[str, ...]):
        pos, sal, cap = (np.array([v], dtype=float) for v in actor_row(scn, actor, issue_ids))
        return None if np.isnan(pos).all() else (pos, sal, cap)
    return row


def on_problem(transform: Transform) -> Callable[[Problem], Problem]:
    """``transform`` as a step on one :class:`Problem` (a batch of one)."""
    def step(pb: Problem) -> Problem:
        st = transform(LeverState(pb.actor_ids, pb.issue_ids, pb.position[None],
                                  pb.salience[None], pb.capability[None], pb.lo, pb.hi))
        affinity = pb.affinity
        if affinity is not None and st.ids != pb.actor_ids:
            # Kept actors keep their accommodation; a newcomer accommodates only itself.
            old = {a: k for k, a in enumerate(pb.actor_ids)}
            src = np.array([old.get(a, -1) for a in st.ids])
            kept = src >= 0
            affinity = np.eye(len(st.ids))
            affinity[np.ix_(kept, kept)] = pb.affinity[np.ix_(src[kept], src[kept])]
        return replace(pb, actor_ids=st.ids, position=st.position[0], salience=st.salience[0],
                       capability=st.capability[0], affinity=affinity)
    return step


def schedule_for(scn: Scenario, intervention: Intervention, *, missing: Missing = "drop"
                 ) -> Schedule:
    """The schedule of an intervention, for problems built with ``missing``."""
    transforms = compile_intervention(intervention, scenario_newcomer(scn), missing)
    return Schedule({r: (on_problem(t),) for r, t in transforms.items()})
