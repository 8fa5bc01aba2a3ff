"""A lever's effect, split into what it imposes and what bargaining adds.

The *imposed* part is the model's own forecast rule applied to the inputs
after the lever, before any bargaining round: round 0's forecast of the
model run with every step of the intervention applied at round 0, minus
round 0's forecast of the baseline.  The *bargained* part is the rest of the
effect.  Flags (thresholds in :class:`stakes.forecast.trust.Thresholds`):

* ``mechanical``: bargaining adds nothing (|bargained| within ``zero`` of
  the scale) to a non-zero effect: the lever sets the forecast by itself;
* ``overshoot``: the forecast moves further than the lever moved any actor's
  position on the issue;
* ``spillover``: a joint model moves an issue that no effect of the lever
  touches by more than ``spillover`` of the scale.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..engine import resolve_options
from ..levers import Intervention, schedule_for
from ..models import ROUNDS_OPTION, get_model, make_options
from ..models.base import Schedule
from ..scenario.arrays import to_problem
from ..scenario.schema import Scenario


@dataclass(frozen=True)
class Split:
    """An effect on one issue: total = imposed + bargained, with the lever's largest move."""

    total: float
    imposed: float
    bargained: float
    moved: float  # the largest change the lever makes to one actor's position on the issue
    flags: tuple[str, ...] = field(default_factory=tuple)
    by_lever: tuple[str, ...] = ()  # actors whose input position the lever itself changes


def round0(scn: Scenario, model: str, issues: tuple[str, ...], iv: Intervention, *,
           options: dict | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                  tuple[str, ...], tuple[str, ...]]:
    """Round 0's forecast with every step of ``iv`` applied at round 0.

    Returns (forecast, positions before, positions after, actors before, actors after).
    """
    m = get_model(model)
    values = resolve_options(scn, model, options, None)
    if model in ROUNDS_OPTION:
        # Round 0 is all that is read: run as few rounds as the model accepts (SMP will not
        # stop before its min_turns).
        least = m.Options.model_fields.get("min_turns")
        values[ROUNDS_OPTION[model]] = max(1, int(values.get(
            "min_turns", least.default if least is not None else 1)))
    opts = make_options(m, values)
    missing = "nan" if m.scope == "joint" else "drop"
    before = to_problem(scn, issues, missing=missing)
    after = schedule_for(scn, iv, missing=missing).apply_all(before)
    run = m.run(after, opts, Schedule.empty(), np.random.default_rng(0))
    return (np.asarray(run.rounds[0].forecast, dtype=float), before.position, after.position,
            before.actor_ids, after.actor_ids)


def input_moves(pos0, pos1, ids0, ids1, d: int) -> dict[str, float]:
    """How far the lever moves each actor's input position on issue ``d`` (actors in both
    problems whose position changes)."""
    index = {a: k for k, a in enumerate(ids1)}
    out = {}
    for k, a in enumerate(ids0):
        if a in index and np.isfinite(pos0[k, d]) and np.isfinite(pos1[index[a], d]):
            move = abs(float(pos1[index[a], d]) - float(pos0[k, d]))
            if move > 0:
                out[a] = move
    return out


def largest_move(pos0, pos1, ids0, ids1, d: int) -> float:
    """The largest change of one actor's position on issue ``d`` (actors in both)."""
    return max(input_moves(pos0, pos1, ids0, ids1, d).values(), default=0.0)


def touches(scn: Scenario, iv: Intervention, issue: str) -> bool:
    """Whether any effect of ``iv`` can change a problem on ``issue``."""
    from ..analysis.ensemble import touches

    return any(touches(scn, eff, issue) for _, lv in iv.steps for eff in lv.effects)


def split(total: float, imposed: float, moved: float, *, width: float, joint: bool,
          touched: bool, zero: float, spill: float, by_lever: tuple[str, ...] = ()) -> Split:
    """Flags of one effect (see the module docstring); shares are of ``width``."""
    bargained = total - imposed
    tol = zero * width
    flags = []
    if abs(total) > tol and abs(bargained) <= tol:
        flags.append("mechanical")
    if moved > 0 and abs(total) > moved + tol:
        flags.append("overshoot")
    if joint and not touched and abs(total) > spill * width:
        flags.append("spillover")
    return Split(total, imposed, bargained, moved, tuple(flags), tuple(by_lever))
