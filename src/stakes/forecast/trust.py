"""How far to trust a forecast: an ensemble interval and a verdict.

Every forecast and every lever effect is recomputed on an ensemble drawn
from the scenario's uncertainty (:mod:`stakes.analysis.uncertainty`: each
value's own ``sd`` or ``range``, the scenario-wide noise otherwise), with
common random numbers: member m of a lever run sees the same inputs as
member m of the baseline, so the lever's effect is a paired difference.  A member
whose run ends in a cycle contributes what the model reports for a cycle (the EUM's
option ``cycle_forecast``).

Verdicts (thresholds are :class:`Thresholds`, in shares of the issue's scale):

* ``degenerate``: the model returns the status quo in the nominal run and in
  every member, so it says nothing the inputs did not (needs an ensemble);
* ``cycling``: the nominal run ends in a cycle whose rounds disagree;
* ``fragile``: the interval is wider than ``fragile_width`` of the scale, or it
  does not hold the nominal forecast (the number the run gives rests on its
  inputs' exact values: positions at a scale's end, say, can only move inwards
  under uncertainty), or (an effect) its interval holds effects of both signs
  larger than ``zero``;
* ``robust`` otherwise; no verdict (None) without an ensemble, unless cycling.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from ..levers import Intervention

#: Members of the default ensemble (``stakes run --members``).
DEFAULT_MEMBERS = 200
#: Models run one member at a time (no batched kernel: smp, exchange, nbs-joint) get this
#: many members unless asked for more: each member costs a full model run.
DEFAULT_SLOW_MEMBERS = 0
#: The default ensemble's budget of EUM work, in actors³ × round limit summed over its EUM
#: runs: the default scenario's 200 members spend 2.8e9 (about 15 s of CPU on a 2-core
#: machine, docs/performance.md).  A scenario whose EUM runs are larger gets fewer members
#: by default (never fewer than AUTO_MIN), so that ``stakes run`` stays a short command.
AUTO_BUDGET = 3.2e9
AUTO_MIN = 20

VERDICTS = ("robust", "fragile", "cycling", "degenerate")


@dataclass(frozen=True)
class Thresholds:
    """When a forecast or an effect is called fragile, zero, spillover (shares of the scale)."""

    level: float = 0.8  # central probability of the interval
    fragile_width: float = 0.25  # an interval wider than this share of the scale is fragile
    zero: float = 0.01  # effects within this share of the scale count as no effect
    spillover: float = 0.05  # a joint model moving an untouched issue by more: spillover

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class Interval:
    """Nominal value, ensemble median and the central ``level`` interval of the members."""

    nominal: float | None
    median: float
    lo: float
    hi: float
    members: int
    level: float

    @property
    def width(self) -> float:
        return self.hi - self.lo

    def holds_nominal(self, scale: float) -> bool:
        """Whether the nominal value lies in the interval (to 1e-9 of ``scale``); True
        when there is no nominal value."""
        if self.nominal is None or not np.isfinite(self.nominal):
            return True
        tol = 1e-9 * max(scale, 1.0)
        return bool(self.lo - tol <= self.nominal <= self.hi + tol)

    def as_dict(self) -> dict:
        return {"nominal": self.nominal, "median": self.median, "lo": self.lo, "hi": self.hi,
                "members": self.members, "level": self.level}


def interval(values: np.ndarray, nominal: float | None, level: float) -> Interval | None:
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    a = (1.0 - level) / 2.0
    lo, med, hi = np.quantile(values, [a, 0.5, 1.0 - a])
    return Interval(nominal, float(med), float(lo), float(hi), int(values.size), level)


def forecast_verdict(width: float, *, cycling: bool, degenerate: bool, iv: Interval | None,
                     th: Thresholds) -> str | None:
    """The verdict of a forecast on an issue of scale ``width``; None when there is no
    interval to judge it by.  Fragile: the interval is wide or does not hold the nominal
    forecast."""
    if degenerate:
        return "degenerate"
    if cycling:
        return "cycling"
    if iv is None:
        return None
    wide = iv.width > th.fragile_width * width
    return "fragile" if wide or not iv.holds_nominal(width) else "robust"


def effect_verdict(width: float, *, cycling: bool, degenerate: bool, iv: Interval | None,
                   th: Thresholds) -> str | None:
    """The verdict of a lever's effect: a forecast's, and fragile also when its sign is not
    settled."""
    verdict = forecast_verdict(width, cycling=cycling, degenerate=degenerate, iv=iv, th=th)
    if verdict == "robust" and iv is not None:
        zero = th.zero * width
        if iv.lo < -zero and iv.hi > zero:
            return "fragile"
    return verdict


def eum_work(ens) -> float:
    """One member's EUM work in an ensemble: actors³ × round limit, over its EUM tasks."""
    spec = next((s for s in ens.specs if s.name == "eum"), None)
    if spec is None:
        return 0.0
    views = ens.space.views
    return float(sum(len([a for a in views[t.issue].present if a != t.without]) ** 3
                     for t in ens.tasks.values() if t.model == "eum")
                 * spec.options.max_rounds)


def auto_members(work: float, default: int = DEFAULT_MEMBERS) -> int:
    """The default number of members: ``default``, fewer where the EUM work is large."""
    if work <= 0:
        return default
    return int(max(AUTO_MIN, min(default, AUTO_BUDGET // work)))


def ensemble_forecasts(scn, models: Sequence[str], interventions: Sequence[Intervention], *,
                       options=None, rounds=None, members: int | None = None,
                       slow_members: int = DEFAULT_SLOW_MEMBERS, seed: int = 0,
                       backend: str = "auto"):
    """Per (model, intervention label, issue): the members' forecasts, and the members'
    number per model.  Common random numbers: every intervention sees the same members.

    ``members`` None: :data:`DEFAULT_MEMBERS`, or fewer for large EUM runs (:func:`auto_members`).
    """
    from ..models import BATCHED, get_model

    out: dict[tuple[str, str, str], np.ndarray] = {}
    used: dict[str, int] = {}
    if members is not None and members <= 0:
        return out, used
    fast = [m for m in models if m in BATCHED]
    slow = [m for m in models if m not in BATCHED]
    if not (fast or (slow and slow_members > 0)):
        return out, used
    # Only now: the ensemble's input space needs scipy (a plain run does not).
    from ..analysis.ensemble import Ensemble
    from ..analysis.sweep import backend_for, eum_runs
    from ..analysis.uncertainty import input_space

    space = input_space(scn)
    for group, n in ((fast, members), (slow, slow_members)):
        if not group or (n is not None and n <= 0):
            continue
        ens = Ensemble(space, group, interventions, options=options, rounds=rounds,
                       backend=None, skip_inapplicable=True, engine_seed=seed)
        if n is None:
            n = auto_members(eum_work(ens))
        ens.backend = backend_for(backend, eum_runs(ens, n))
        values = space.draw(seed, 0, n)
        ev = ens.evaluate(values, members=range(n))
        for (model, label, iss, wo), f in ev.forecasts.items():
            out[(model, label, iss)] = np.asarray(f, dtype=float)
        for m in group:
            get_model(m)
            used[m] = n
    return out, used
