"""An analyst's review of a scenario: the rules ``stakes check`` applies on top of loading.

Loading rejects what cannot be right (an author's recommendation as the basis
of a position, for one).  The review lists what a careful scenario should
still fix: values without a basis, evidence that does not say what it shows,
judgments whose rationale is not a sentence; and it evaluates the scenario's
sanity expectations against model runs, and says how old the scenario is.

The functions here are pure: they return findings and verdicts and leave
printing and exit codes to the command line.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Iterable, Literal

from .check import bases, structure_bases
from .evidence import EvidenceFinding, _field_name, missing_basis
from .schema import Evidence, Expectation, Judgment, Scenario

#: A rationale is a sentence when it has at least this many words and ends like one.
MIN_RATIONALE_WORDS = 6
_END = re.compile(r"[.!?][\"'\u2019\u201d)\]]*$")
STALE_AFTER_DAYS = 365


def is_sentence(text: str) -> bool:
    """True for text of at least :data:`MIN_RATIONALE_WORDS` words that ends with . ! or ?"""
    text = text.strip()
    return len(text.split()) >= MIN_RATIONALE_WORDS and bool(_END.search(text))


def review(scn: Scenario) -> list[EvidenceFinding]:
    """What ``stakes check`` reports beyond loading, in the order of the scenario."""
    out = list(missing_basis(scn))
    for path, what, b in structure_bases(scn):
        if b is None:
            out.append(EvidenceFinding(_field_name((*path, "basis")), f"{what} has no basis"))
    present = {a.id for a in scn.actors if a.present}
    for k, lv in enumerate(scn.levers):
        for m, eff in enumerate(lv.effects):
            if eff.add_actor in present:
                out.append(EvidenceFinding(
                    _field_name(("levers", k, "effects", m, "add_actor")),
                    f"lever {lv.id!r} brings in {eff.add_actor!r}, which is already present: "
                    "the effect does nothing (drop it, or set the actor's present: false)"))
        if lv.feasibility in ("doubtful", "infeasible") and lv.feasibility_basis is None:
            out.append(EvidenceFinding(_field_name(("levers", k, "feasibility_basis")),
                                       f"lever {lv.id!r} is {lv.feasibility} without a basis"))
    for path, b in bases(scn):
        if isinstance(b, Judgment) and not is_sentence(b.rationale):
            out.append(EvidenceFinding(
                _field_name((*path, "rationale")),
                f"judgment rationale {b.rationale!r} is not a sentence (at least "
                f"{MIN_RATIONALE_WORDS} words, naming the fact the judgment rests on)"))
        elif isinstance(b, Evidence) and b.shows is None:
            out.append(EvidenceFinding(
                _field_name((*path, "shows")), "evidence does not say what it shows "
                "(statement, conduct, description or recommendation)", b.source))
    return out


def as_of_notice(scn: Scenario, today: dt.date | None = None) -> str | None:
    """One line when the scenario describes a date more than a year before ``today``."""
    as_of = scn.metadata.as_of
    if as_of is None:
        return None
    today = today or dt.date.today()
    days = (today - as_of).days
    if days <= STALE_AFTER_DAYS:
        return None
    years = days / 365.25
    # one line of at most 100 columns
    return (f"notice: as of {as_of.isoformat()} ({years:.1f} years ago); later events are not "
            "in it (formats: Updating a scenario)")


# -- expectations ----------------------------------------------------------

# "cycling": a run ends in a cycle some of whose rounds meet the expectation and some not
Status = Literal["met", "failed", "cycling", "not run"]
Range = tuple[float, float]


@dataclass(frozen=True)
class Verdict:
    """One expectation checked against one model's runs.

    ``forecast_range``/``baseline_range``: the forecast's range over the rounds of the
    cycle the run ends in, where they disagree (``forecast`` is then what the model
    reports for the cycle); the expectation is judged on every round of it.
    """

    expectation: Expectation
    model: str
    status: Status
    forecast: float | None = None  # under the expectation's intervention
    baseline: float | None = None  # baseline forecast (lever and plan expectations)
    forecast_range: Range | None = None
    baseline_range: Range | None = None

    def _shift(self) -> str:
        f = self.forecast_range or (self.forecast, self.forecast)
        b = self.baseline_range or (self.baseline, self.baseline)
        return _text((f[0] - b[1], f[1] - b[0]), signed=True)

    @property
    def judged(self) -> str:
        """What was judged, as printed: the forecast, or its shift for a direction (a
        range with ↻ over a cycle's rounds)."""
        if self.expectation.direction is None or self.baseline is None:
            return _text(self.forecast_range or (self.forecast, self.forecast))
        return self._shift()

    @property
    def detail(self) -> str:
        if self.forecast is None:
            return "no forecast"
        f = _text(self.forecast_range or (self.forecast, self.forecast))
        if self.baseline is None or self.expectation.intervention == "baseline":
            return f"forecast {f}"
        b = _text(self.baseline_range or (self.baseline, self.baseline))
        return f"forecast {f}, baseline {b}, shift {self._shift()}"


def _text(rng: Range, signed: bool = False) -> str:
    """One decimal; a range with ↻ where a cycle's rounds disagree."""
    from ..forecast.headline import range_text

    if rng[0] != rng[1]:
        return range_text(rng, 1, signed=signed)
    return f"{rng[0]:+.1f}" if signed else f"{rng[0]:.1f}"


def _forecasts(results: Iterable) -> tuple[dict[tuple[str, str, str], float],
                                           dict[tuple[str, str, str], Range]]:
    """(model, intervention label, issue) -> forecast, and -> its cycle's range where the
    run ends in a cycle whose rounds disagree, from engine results."""
    from ..forecast.headline import cycle_range

    out, cycles = {}, {}
    for r in results:
        for d, iss in enumerate(r.run.issue_ids):
            key = (r.model, r.intervention.label, iss)
            out[key] = float(r.run.forecast[d])
            rng = cycle_range(r.run, d)
            if rng is not None:
                cycles[key] = rng
    return out, cycles


def _where(lo: float, hi: float, a: float, b: float, a_open: bool = False,
           b_open: bool = False) -> str:
    """Where the range [lo, hi] lies against the interval from a to b: "in", "out" or
    "across"."""
    def inside(x: float) -> bool:
        return (x > a if a_open else x >= a) and (x < b if b_open else x <= b)

    if inside(lo) and inside(hi):
        return "in"
    if hi < a or (a_open and hi == a) or lo > b or (b_open and lo == b):
        return "out"
    return "across"


def judge(ex: Expectation, forecast: float | None, baseline: float | None,
          forecast_range: Range | None = None, baseline_range: Range | None = None) -> Status:
    """Whether ``forecast`` (and its shift from ``baseline``) meets ``ex``: on every round
    of a cycle ("met"), on none ("failed") or on some ("cycling")."""
    if forecast is None or math.isnan(forecast):
        return "not run"
    f_lo, f_hi = forecast_range or (forecast, forecast)
    places = [_where(f_lo, f_hi, -math.inf if ex.min is None else ex.min,
                     math.inf if ex.max is None else ex.max)]
    if ex.direction is not None:
        if baseline is None or math.isnan(baseline):
            return "not run"
        b_lo, b_hi = baseline_range or (baseline, baseline)
        s_lo, s_hi = f_lo - b_hi, f_hi - b_lo
        places.append({"up": lambda: _where(s_lo, s_hi, ex.by, math.inf, a_open=True),
                       "down": lambda: _where(s_lo, s_hi, -math.inf, -ex.by, b_open=True),
                       "none": lambda: _where(s_lo, s_hi, -ex.by, ex.by)}[ex.direction]())
    if "out" in places:
        return "failed"
    return "met" if all(p == "in" for p in places) else "cycling"


def evaluate(scn: Scenario, results: Iterable, models: Iterable[str]) -> list[Verdict]:
    """Every expectation of ``scn`` against every model in ``models`` (engine results)."""
    fc, cycles = _forecasts(results)
    return evaluate_forecasts(scn, fc, models, cycles)


def evaluate_forecasts(scn: Scenario, fc: dict[tuple[str, str, str], float],
                       models: Iterable[str],
                       cycles: dict[tuple[str, str, str], Range] | None = None
                       ) -> list[Verdict]:
    """The same from forecasts keyed by (model, intervention label, issue), e.g. those of
    a stored run document, with the ranges of runs that end in disagreeing cycles."""
    cycles = cycles or {}
    models = list(models)
    out = []
    for ex in scn.expectations:
        for m in models:
            key, base = (m, ex.intervention, ex.issue), (m, "baseline", ex.issue)
            f, b = fc.get(key), fc.get(base)
            fr, br = cycles.get(key), cycles.get(base)
            out.append(Verdict(ex, m, judge(ex, f, b, fr, br), f, b, fr, br))
    return out


def interventions_needed(scn: Scenario) -> tuple[list[str], list[str]]:
    """The levers and plans the expectations concern, in the scenario's order."""
    levers = [lv.id for lv in scn.levers if any(ex.lever == lv.id for ex in scn.expectations)]
    plans = [p.id for p in scn.plans if any(ex.plan == p.id for ex in scn.expectations)]
    return levers, plans


def run_expectations(scn: Scenario, models: Iterable[str], seed: int = 0) -> list[Verdict]:
    """Run ``models`` on the baseline and the levers and plans the expectations name."""
    from ..engine import interventions_for, run_scenario

    models = list(models)
    if not scn.expectations:
        return []
    levers, plans = interventions_needed(scn)
    results = run_scenario(scn, models, interventions=interventions_for(scn, levers, plans),
                           seed=seed, skip_inapplicable=True)
    return evaluate(scn, results, models)


# -- decision arenas -------------------------------------------------------


@dataclass(frozen=True)
class ArenaRow:
    actor: str
    role: Literal["authority", "influence", "other"]
    base: float  # the capability the scenario gives
    weight: float
    capability: float  # what the models use: base x weight


def arena_rows(scn: Scenario, issue_id: str) -> list[ArenaRow]:
    """Who decides ``issue_id`` and the capabilities derived from it (present actors with
    an entry), largest first; empty when the issue states no arena."""
    from .arrays import base_capability

    issue = scn.issue(issue_id)
    if issue.arena is None:
        return []
    auth = {m.actor for m in issue.arena.authority}
    infl = {m.actor for m in issue.arena.influence}
    rows = []
    for a in scn.actors:
        if not a.present or scn.entry(a.id, issue_id) is None:
            continue
        base = base_capability(scn, a.id, issue_id)
        w = issue.arena.weight_of(a.id)
        role = "authority" if a.id in auth else "influence" if a.id in infl else "other"
        rows.append(ArenaRow(a.id, role, base, w, base * w))
    rows.sort(key=lambda r: (-r.capability, r.actor))
    return rows
