"""The one result of a run: every forecast with its headline, interval, verdict and pivot,
and every lever effect with its interval, verdict and imposed/bargained split.

:func:`assess` takes the engine's results (:func:`stakes.engine.run_scenario`)
and adds what is needed to read them: the CLI tables, the JSON document, the
report and the web pages all read a :class:`Forecast`, so the shift against
the baseline is computed here, once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..engine import Result
from ..levers import Intervention, schedule_for
from ..models import ROUNDS_OPTION, get_model
from ..scenario.arrays import to_problem
from ..scenario.schema import Scenario
from . import effects as fx
from .headline import Headline, headline, range_text, shift_range, strategic_first
from .pivot import mean_terms, rule_of, tipping
from .trust import (
    DEFAULT_SLOW_MEMBERS,
    Interval,
    Thresholds,
    effect_verdict,
    ensemble_forecasts,
    forecast_verdict,
    interval,
)


@dataclass
class Assessment:
    """One model's forecast on one issue under one intervention, and how far to trust it."""

    result: Result
    issue: str
    headline: Headline
    forecast: Interval | None  # the members' forecasts (nominal: the run's forecast)
    verdict: str | None
    pivot: list[str]
    width: float = 1.0  # the issue's scale width
    degenerate: bool = False
    # levers and plans only: the shift against the baseline and its paired interval
    shift: float | None = None
    effect: Interval | None = None
    effect_verdict: str | None = None
    split: fx.Split | None = None
    # models with bargaining rounds: the forecast rule on the run's round-0 inputs, before
    # any round (None for the rules themselves: compromise, median, NBS)
    before: float | None = None
    # levers and plans whose run or baseline ends in a cycle whose rounds disagree: the
    # range of the shift over the cycles' rounds (``shift`` compares what the model reports
    # for the cycles: last rounds or cycle means)
    shift_range: tuple[float, float] | None = None

    @property
    def model(self) -> str:
        return self.result.run.model

    @property
    def intervention(self) -> Intervention:
        return self.result.intervention

    @property
    def flags(self) -> list[str]:
        out = list(self.split.flags) if self.split is not None else []
        if self.shift_range is not None:
            # mechanical and overshoot judge the shift, which a cycle leaves undefined
            out = [f for f in out if f not in ("mechanical", "overshoot")]
        if self.headline.cycle is not None or self.shift_range is not None:
            out.append("cycling")
        return out

    def shift_text(self, digits: int = 2) -> str:
        """The shift as printed: a range with ↻ where a cycle leaves it undefined."""
        if self.shift_range is not None:
            return range_text(self.shift_range, digits, signed=True)
        return "—" if self.shift is None else f"{self.shift:+.{digits}f}"

    def unmoved(self, zero: float) -> bool:
        """Whether bargaining left the nominal forecast within ``zero`` of the scale of
        where the model's rule puts its inputs before any round (not for a cycle)."""
        h = self.headline
        return bool(self.before is not None and h.cycle is None and h.value is not None
                    and abs(h.value - self.before) <= zero * self.width)

    def moves(self, zero: float) -> bool:
        """Whether the intervention moves this forecast by more than ``zero`` of the scale,
        in the nominal run or in the ensemble's median member."""
        if self.shift is None:
            return False
        tol = zero * self.width
        return bool(abs(self.shift) > tol or (self.effect is not None
                                              and abs(self.effect.median) > tol))

    def as_dict(self) -> dict[str, Any]:
        iv = self.intervention
        h = self.headline
        return {
            "model": self.model, "issue": self.issue,
            "lever": iv.id if iv.kind == "lever" else None,
            "plan": iv.id if iv.kind == "plan" else None,
            "statistic": h.statistic, "baseline_model": h.baseline,
            "headline": h.value, "cycle_range": None if h.cycle is None else list(h.cycle),
            "interval": None if self.forecast is None else self.forecast.as_dict(),
            "verdict": self.verdict, "pivot": list(self.pivot),
            "before_bargaining": self.before,
            "shift": self.shift,
            "shift_range": None if self.shift_range is None else list(self.shift_range),
            "effect": None if self.effect is None else self.effect.as_dict(),
            "effect_verdict": self.effect_verdict,
            "imposed": None if self.split is None else self.split.imposed,
            "bargained": None if self.split is None else self.split.bargained,
            "flags": self.flags,
            # who ends elsewhere than in the baseline: moved by the lever's own inputs, or
            # only by bargaining
            "moved_by_lever": None if self.split is None else [
                a for a in self.result.moved_vs_baseline or [] if a in self.split.by_lever],
            "moved_by_bargaining": None if self.split is None else [
                a for a in self.result.moved_vs_baseline or [] if a not in self.split.by_lever],
        }


@dataclass
class Forecast:
    """The engine's results with their assessments (one per model, intervention, issue)."""

    scenario: Scenario
    results: list[Result]
    assessments: list[Assessment]
    thresholds: Thresholds = field(default_factory=Thresholds)
    members: dict[str, int] = field(default_factory=dict)
    seed: int = 0
    auto: bool = False  # the number of members was the default's choice (trust.auto_members)

    @property
    def models(self) -> list[str]:
        """The models run, strategic first."""
        return strategic_first(r.run.model for r in self.results)

    def __iter__(self):
        """The engine's results, so a Forecast serves wherever results do."""
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def get(self, model: str, label: str, issue: str) -> Assessment | None:
        return self._index.get((model, label, issue))

    def __post_init__(self) -> None:
        self._index = {(a.model, a.intervention.label, a.issue): a for a in self.assessments}

    def rows(self, model: str, kind: str | None = None) -> list[Assessment]:
        return [a for a in self.assessments if a.model == model
                and (kind is None or (a.intervention.kind == "baseline") == (kind == "baseline"))]

    def settings(self) -> dict[str, Any]:
        return {"members": dict(self.members), "seed": self.seed, "auto_members": self.auto,
                "thresholds": self.thresholds.as_dict()}


def merge(parts: Sequence[Forecast]) -> Forecast:
    """One Forecast of several (e.g. one per model, as the web app's workers make them)."""
    parts = list(parts)
    members: dict[str, int] = {}
    for p in parts:
        members.update(p.members)
    return Forecast(parts[0].scenario, [r for p in parts for r in p.results],
                    [a for p in parts for a in p.assessments], parts[0].thresholds, members,
                    parts[0].seed, any(p.auto for p in parts))


def _problems(scn: Scenario, group: tuple[str, ...], iv: Intervention, joint: bool, cache):
    key = (group, iv.label, joint)
    if key not in cache:
        missing = "nan" if joint else "drop"
        before = to_problem(scn, group, missing=missing)
        cache[key] = (before, schedule_for(scn, iv, missing=missing).apply_all(before))
    return cache[key]


def _weights(model: str, options: dict, pb) -> np.ndarray:
    from ..models.baselines import weights_of

    how = options.get("weights", "cs") if model in ("compromise", "median") else "cs"
    return weights_of(pb, how)


def pivot_of(run, d: int, pb, width: float, ref: float) -> list[str]:
    """The pivotal actor(s) of ``run`` on its issue ``d`` (see :mod:`.pivot`)."""
    rule = rule_of(run.model, run.options)
    if rule is None:
        return []
    last = run.rounds[-1]
    w_all = _weights(run.model, run.options, pb)
    index = {a: k for k, a in enumerate(pb.actor_ids)}
    ids = [a for a in last.actor_ids if a in index]
    x = np.array([float(p[d]) for a, p in zip(last.actor_ids, last.position) if a in index])
    w = np.array([float(w_all[index[a], d]) for a in ids])
    if rule == "median":
        return tipping(x, w, ids, float(run.forecast[d]), width)
    terms = mean_terms(x, w, ref)
    return [ids[int(np.argmax(np.abs(terms)))]] if len(ids) else []


def assess(scn: Scenario, results: Sequence[Result], *, options: dict | None = None,
           rounds: int | None = None, seed: int = 0, members: int | None = None,
           slow_members: int = DEFAULT_SLOW_MEMBERS, thresholds: Thresholds | None = None,
           backend: str = "auto") -> Forecast:
    """Headlines, intervals, verdicts, pivots and effect splits of ``results``.

    ``members`` None: the default ensemble (:func:`stakes.forecast.trust.auto_members`).
    """
    th = thresholds or Thresholds()
    results = list(results)
    models = list(dict.fromkeys(r.run.model for r in results))
    ivs = list({r.intervention.label: r.intervention for r in results}.values())
    members_f, used = ensemble_forecasts(
        scn, models, ivs, options=options, rounds=rounds, members=members,
        slow_members=slow_members, seed=seed, backend=backend)
    base = {(r.run.model, r.run.issue_ids): r for r in results
            if r.intervention.kind == "baseline"}
    cache: dict = {}
    imposed0: dict = {}
    out: list[Assessment] = []
    for r in results:
        run, iv = r.run, r.intervention
        joint = get_model(run.model).scope == "joint"
        before, after = _problems(scn, run.issue_ids, iv, joint, cache)
        b = base.get((run.model, run.issue_ids))
        for d, iss in enumerate(run.issue_ids):
            issue = scn.issue(iss)
            width = float(issue.scale.max - issue.scale.min)
            q = float(issue.status_quo.value) if issue.status_quo is not None else float("nan")
            ref = q if np.isfinite(q) else float(issue.scale.min + width / 2)
            h = headline(run, d)
            nominal = float(run.forecast[d])
            mem = members_f.get((run.model, iv.label, iss))
            fiv = interval(mem, nominal, th.level) if mem is not None else None
            tol = 1e-6 * max(width, 1.0)
            degenerate = bool(np.isfinite(q) and abs(nominal - q) <= tol and mem is not None
                              and bool(np.all(np.abs(mem - q) <= tol)))
            verdict = forecast_verdict(width, cycling=h.cycle is not None,
                                       degenerate=degenerate, iv=fiv, th=th)
            a = Assessment(r, iss, h, fiv, verdict, pivot_of(run, d, after, width, ref),
                           width, degenerate)
            if run.model in ROUNDS_OPTION and run.rounds:
                a.before = float(run.rounds[0].forecast[d])
            if iv.kind != "baseline" and b is not None:
                bf = float(b.run.forecast[d])
                a.shift = nominal - bf
                bmem = members_f.get((run.model, "baseline", iss))
                if mem is not None and bmem is not None:
                    a.effect = interval(mem - bmem, a.shift, th.level)
                a.split = _split(scn, r, b, d, iss, before, after, width, th, options, imposed0)
                a.shift_range = shift_range(h, headline(b.run, d))
                cyc = a.shift_range is not None
                a.effect_verdict = effect_verdict(width, cycling=cyc, degenerate=degenerate
                                                  and headline(b.run, d).value == nominal,
                                                  iv=a.effect, th=th)
            out.append(a)
    return Forecast(scn, results, out, th, used, seed, members is None)


def _split(scn, r: Result, b: Result, d: int, iss: str, before, after, width: float,
           th: Thresholds, options, imposed0) -> fx.Split:
    run, iv = r.run, r.intervention
    total = float(run.forecast[d]) - float(b.run.forecast[d])
    touched = fx.touches(scn, iv, iss)
    moves = fx.input_moves(before.position, after.position, before.actor_ids,
                           after.actor_ids, d) if touched else {}
    moved = max(moves.values(), default=0.0)
    joint = get_model(run.model).scope == "joint"
    if run.model not in ROUNDS_OPTION:
        imposed = total  # no bargaining rounds: the rule itself is the forecast
    elif not touched and not joint:
        imposed = 0.0
    else:
        mopts = (options or {}).get(run.model)

        def r0(intervention):
            key = (run.model, run.issue_ids, intervention.label)
            if key not in imposed0:
                imposed0[key] = fx.round0(scn, run.model, run.issue_ids, intervention,
                                          options=mopts)[0]
            return imposed0[key]

        imposed = float(r0(iv)[d] - r0(b.intervention)[d])
    return fx.split(total, imposed, moved, width=width, joint=joint, touched=touched,
                    zero=th.zero, spill=th.spillover, by_lever=tuple(moves))
