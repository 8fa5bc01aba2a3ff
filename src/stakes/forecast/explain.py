"""Why a forecast came out as it did: pivot, balance of weight, each actor's path and
contribution, and what happened in each round (the models' events).

Contributions (shown beside each actor):

* the compromise model (a weighted mean, Achen 2006): each actor's exact
  Shapley value of the distance between the forecast and the status quo
  (:func:`stakes.forecast.pivot.mean_terms`); they sum to that distance;
* every other model: leave-one-out, the forecast minus the forecast of the
  same run with the actor left out of the scenario (one run per actor).

Events (:class:`stakes.models.base.Event`) are rendered generically from
their kind, actors, issues and detail, with wording for the kinds the models
emit: EUM offers, exchanges, SMP bargains and lever changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import OptionError
from ..models.base import Event
from .headline import headline_model, range_text
from .pivot import Balance, balance, mean_terms, rule_of

#: Events printed in the narrative; the rest are counted (all are in the JSON).
NARRATIVE_EVENTS = 8

# Offers told from the receiver's point of view, as the spec tells the EC example's round 1
# (docs/spec/eum.md): the receiver moves.
_OFFER = {
    "conflict": "{r} loses a conflict to {p}",
    "compromise": "{r} compromises with {p}",
    "capitulation": "{r} capitulates to {p}",
}


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


def describe(ev: Event) -> str:
    """One line saying what ``ev`` was: who did what to whom, on which issue, and the
    model's own quantities."""
    d = dict(ev.detail)
    actors = list(ev.actors)
    kind = ev.kind
    if kind == "offer" and len(actors) >= 2:
        typ = str(d.pop("type", d.pop("offer", "")))
        text = _OFFER.get(typ, "{p} makes {r} an offer" + (f" ({typ})" if typ else "")).format(
            p=actors[0], r=actors[1])
        if "accepted" in d and not d.pop("accepted"):
            text += " (not accepted)"
    elif kind == "exchange" and len(actors) >= 2:
        text = f"{actors[0]} and {actors[1]} exchange"
    elif kind == "bargain" and len(actors) >= 2:
        text = f"{actors[0]} bargains with {actors[1]}"
    elif kind == "lever":
        text = f"lever {d.pop('lever', '')}".rstrip() + (f" on {', '.join(actors)}"
                                                          if actors else "")
    else:
        text = kind + (f": {', '.join(actors)}" if actors else "")
    if ev.issues:
        text += f" on {', '.join(ev.issues)}"
    if d:
        text += " (" + ", ".join(f"{k} {_fmt(v)}" for k, v in d.items()) + ")"
    return text


@dataclass
class ActorLine:
    actor: str
    start: float | None
    end: float | None
    weight: float  # share of the total capability x salience on the issue
    contribution: float | None
    events: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"actor": self.actor, "start": self.start, "end": self.end,
                "weight": self.weight, "contribution": self.contribution,
                "events": self.events}


@dataclass
class Explanation:
    model: str
    issue: str
    intervention: str
    statistic: str
    forecast: float | None  # the headline (None for a cycle whose rounds disagree)
    cycle: tuple[float, float] | None
    status_quo: float | None
    pivot: list[str]
    balance: Balance | None
    contribution_method: str
    actors: list[ActorLine]
    events: list[tuple[int, Event]]
    verdict: str | None = None
    shift: float | None = None
    imposed: float | None = None
    bargained: float | None = None
    flags: list[str] = field(default_factory=list)
    rule: str | None = None  # the forecast rule: median, mean, or None (none in closed form)
    interval: Any = None  # the ensemble's Interval of the forecast, when one was drawn
    outside: bool = False  # the forecast lies outside that interval
    before: float | None = None  # the forecast rule on the round-0 inputs (models with rounds)
    shift_range: tuple[float, float] | None = None  # where a cycle leaves the shift undefined

    def narrative(self) -> list[str]:
        out = []
        value = (f"{self.cycle[0]:.2f}–{self.cycle[1]:.2f} (a cycle whose rounds disagree; no "
                 "single forecast)" if self.cycle else
                 "—" if self.forecast is None else f"{self.forecast:.2f}")
        sq = "" if self.status_quo is None else f" (status quo {self.status_quo:.2f})"
        under = "" if self.intervention == "baseline" else f" under {self.intervention}"
        out.append(f"{self.statistic}: {value} on {self.issue}{sq}{under}.")
        if self.verdict is not None:
            iv = self.interval
            why = "" if iv is None else (
                f": {iv.level:.0%} interval {iv.lo:.2f} … {iv.hi:.2f} over {iv.members} "
                f"members, median {iv.median:.2f}")
            if iv is not None and self.outside:
                why += ("; the forecast lies outside it: it rests on the exact input values, "
                        "which the members vary")
            out.append(f"Verdict: {self.verdict}{why}.")
        if self.before is not None and self.cycle is None and self.forecast is not None:
            out.append(f"Before any round the forecast rule gives {self.before:.2f}; "
                       f"bargaining adds {self.forecast - self.before:+.2f}.")
        if self.pivot:
            ends = {a.actor: a for a in self.actors}
            p = ends.get(self.pivot[0])
            at = "" if p is None or p.end is None else f" (ends at {p.end:.2f}, weight " \
                f"{p.weight:.0%})"
            with_ = f"; with it at the forecast: {', '.join(self.pivot[1:4])}" + (
                f" +{len(self.pivot) - 4}" if len(self.pivot) > 4 else "") if len(
                self.pivot) > 1 else ""
            role = {"median": "tips the median", "mean": "pulls the mean furthest"}.get(
                self.rule or "", "moves the forecast most when left out")
            out.append(f"Pivot: {self.pivot[0]}{at} {role}{with_}.")
        if self.balance is not None and self.status_quo is not None:
            b = self.balance
            way = {1: "up from", -1: "down from", 0: "away from"}[b.direction]
            out.append(f"Weight for moving {way} the status quo: {b.towards:.0%}; "
                       f"against: {b.against:.0%} (capability x salience, at the start).")
        ranked = sorted((a for a in self.actors if a.contribution is not None),
                        key=lambda a: -abs(a.contribution))
        if ranked:
            top = ", ".join(f"{a.actor} {a.contribution:+.2f}" for a in ranked[:3])
            how = ("Shapley share of the distance from the status quo"
                   if self.contribution_method == "shapley" else
                   "leave-one-out: the forecast minus the forecast without the actor")
            out.append(f"Largest contributions ({how}): {top}.")
        if self.shift_range is not None:
            flags = f"; {', '.join(self.flags)}" if self.flags else ""
            out.append(f"Against the baseline: {range_text(self.shift_range, signed=True)} over "
                       "the rounds of the cycles the runs end in (no single shift), of which the "
                       f"lever imposes {self.imposed:+.2f}{flags}.")
        elif self.shift is not None:
            flags = f"; {', '.join(self.flags)}" if self.flags else ""
            out.append(f"Against the baseline: {self.shift:+.2f}, of which the lever imposes "
                       f"{self.imposed:+.2f} and bargaining adds {self.bargained:+.2f}{flags}.")
        if self.events:
            # What happened first: the offers taken (and events that are no offers); the
            # offers made and not taken are counted.
            taken = [(r, ev) for r, ev in self.events if ev.detail.get("accepted", True)]
            for r, ev in taken[:NARRATIVE_EVENTS]:
                out.append(f"Round {r}: {describe(ev)}.")
            rest = len(taken) - min(len(taken), NARRATIVE_EVENTS)
            declined = len(self.events) - len(taken)
            if rest or declined:
                more = [f"{rest} more" if rest else "", f"{declined} offers not accepted"
                        if declined else ""]
                out.append(f"... {'; '.join(m for m in more if m)} (--format json lists "
                           "every event).")
        else:
            out.append("The run recorded no events.")
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "issue": self.issue, "intervention": self.intervention,
            "statistic": self.statistic, "forecast": self.forecast,
            "cycle_range": None if self.cycle is None else list(self.cycle),
            "status_quo": self.status_quo, "verdict": self.verdict,
            "before_bargaining": self.before,
            "interval": None if self.interval is None else self.interval.as_dict(),
            "pivot": self.pivot,
            "balance": None if self.balance is None else {
                "towards": self.balance.towards, "against": self.balance.against,
                "direction": self.balance.direction},
            "contribution_method": self.contribution_method,
            "actors": [a.as_dict() for a in self.actors],
            "events": [{"round": r, "kind": ev.kind, "actors": list(ev.actors),
                        "issues": list(ev.issues), "detail": ev.detail,
                        "text": describe(ev)} for r, ev in self.events],
            "shift": self.shift,
            "shift_range": None if self.shift_range is None else list(self.shift_range),
            "imposed": self.imposed, "bargained": self.bargained,
            "flags": self.flags, "narrative": self.narrative(),
        }


def _without(scn, actor: str):
    return scn.model_copy(update={"actors": [
        a.model_copy(update={"present": False}) if a.id == actor else a for a in scn.actors]})


def explain(scn, issue: str, *, model: str | None = None, lever: str | None = None,
            plan: str | None = None, options: dict | None = None, rounds: int | None = None,
            seed: int = 0, members: int | None = 0) -> Explanation:
    """The explanation of ``model``'s forecast on ``issue`` (under ``lever`` or ``plan``)."""
    from ..engine import DEFAULT_MODELS, interventions_for, run_scenario
    from ..errors import ModelError
    from ..models import get_model
    from .assess import _problems, _weights, assess

    try:
        iss = scn.issue(issue)
    except KeyError:
        known = ", ".join(i.id for i in scn.issues)
        raise OptionError(f"unknown issue {issue!r} (scenario issues: {known})") from None
    model = model or headline_model(DEFAULT_MODELS)
    m = get_model(model)
    ivs = interventions_for(scn, [lever] if lever else None, [plan] if plan else None)
    target = ivs[-1]
    issues = None if m.scope == "joint" else [issue]
    res = run_scenario(scn, [model], options=options, interventions=ivs, rounds=rounds,
                       seed=seed, issues=issues)
    fc = assess(scn, res, options=options, rounds=rounds, seed=seed, members=members)
    a = fc.get(model, target.label, issue)
    run = a.result.run
    d = run.issue_ids.index(issue)
    width = float(iss.scale.max - iss.scale.min)
    q = None if iss.status_quo is None else float(iss.status_quo.value)
    _, after = _problems(scn, run.issue_ids, target, m.scope == "joint", {})
    w_all = _weights(model, run.options, after)
    index = {x: k for k, x in enumerate(after.actor_ids)}
    first, last = run.rounds[0], run.rounds[-1]
    start = {x: float(p[d]) for x, p in zip(first.actor_ids, first.position)}
    end = {x: float(p[d]) for x, p in zip(last.actor_ids, last.position)}
    ids = [x for x in after.actor_ids if np.isfinite(after.position[index[x], d])]
    w = np.array([float(w_all[index[x], d]) for x in ids])
    total = float(w.sum()) or 1.0
    x0 = np.array([float(after.position[index[x], d]) for x in ids])
    bal = balance(x0, w, q, float(run.forecast[d]), width) if q is not None else None

    contrib: dict[str, float | None] = {}
    if model == "compromise":
        method = "shapley"
        ref = q if q is not None else float(iss.scale.min + width / 2)
        contrib = dict(zip(ids, (float(t) for t in mean_terms(x0, w, ref))))
    else:
        method = "leave-one-out"
        full = float(run.forecast[d])
        for x in ids:
            try:
                alt = run_scenario(_without(scn, x), [model], options=options,
                                   interventions=[target], rounds=rounds, seed=seed,
                                   issues=issues)
                contrib[x] = full - float(alt[0].run.forecast[alt[0].run.issue_ids.index(issue)])
            except (ModelError, OptionError):
                contrib[x] = None
    events = [(rec.round, ev) for rec in run.rounds for ev in rec.events
              if not ev.issues or issue in ev.issues]
    count = {x: sum(1 for _, ev in events if x in ev.actors) for x in ids}
    lines = [ActorLine(x, start.get(x), end.get(x), float(w[k]) / total, contrib.get(x),
                       count[x]) for k, x in enumerate(ids)]
    lines.sort(key=lambda ln: -abs(ln.contribution or 0.0))
    sp = a.split
    rule = rule_of(model, run.options)
    pivot = list(a.pivot)
    if not pivot and any(c is not None for c in contrib.values()):
        pivot = [max((x for x in contrib if contrib[x] is not None),
                     key=lambda x: abs(contrib[x]))]
    return Explanation(
        model, issue, target.label, a.headline.statistic, a.headline.value, a.headline.cycle,
        q, pivot, bal, method, lines, events, a.verdict,
        a.shift, None if sp is None else sp.imposed, None if sp is None else sp.bargained,
        a.flags, rule, a.forecast,
        a.forecast is not None and not a.forecast.holds_nominal(a.width), a.before,
        a.shift_range)


#: Narrative lines a run page or report shows per issue (the rest: ``stakes explain``).
WHY_LINES = 12


def why(scn, issue: str, models, *, options: dict | None = None, rounds: int | None = None,
        seed: int = 0) -> dict[str, Any] | None:
    """The headline model's explanation of ``issue`` for pages and reports: its model and
    narrative (no ensemble: the interval is the page's), or None where it cannot run."""
    from ..errors import StakesError
    from .headline import headline_model

    model = headline_model(models)
    if model is None:
        return None
    try:
        ex = explain(scn, issue, model=model, options=options, rounds=rounds, seed=seed,
                     members=0)
    except StakesError:
        return None
    lines = ex.narrative()
    return {"model": model, "issue": issue, "lines": lines[:WHY_LINES],
            "more": max(0, len(lines) - WHY_LINES)}
