"""The one number each model declares as its forecast, and what it is.

Every model reports one statistic per issue (``ModelRun.forecast``); this
module names it, says whether the model is a strategic bargaining model or a
non-strategic baseline, and refuses to present as a forecast a number that no
round produced: a run that ends in a cycle whose rounds disagree is reported
by the cycle's range and flagged, never by the cycle's mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

#: Models that bargain (the headline models); the rest are non-strategic baselines.
STRATEGIC = ("eum", "smp", "exchange", "nbs", "nbs-joint")

_STATISTIC = {
    "smp": "SMP: probability-weighted expected outcome over the final positions",
    "exchange": "exchange: capability·salience weighted mean after the exchanges",
    "nbs": "NBS: Nash bargaining solution against the status quo",
    "nbs-joint": "NBS (joint): Nash bargaining solution against the status quo",
    "compromise": "compromise: weighted mean, non-strategic baseline",
    "median": "median: weighted median, non-strategic baseline",
    "status-quo": "status quo: no change, non-strategic baseline",
}

# Cycles whose rounds' forecasts differ by less than this (on the issue's own scale) count as
# one forecast: rounding noise, not a cycle of outcomes.
CYCLE_TOL = 5e-3


def statistic(model: str, options: dict[str, Any] | None = None) -> str:
    """The statistic ``model`` reports as its forecast, in words (with its options)."""
    if model == "eum":
        opts = options or {}
        if opts.get("forecast") == "mean":
            return "EUM: capability·salience weighted mean after bargaining"
        return "EUM: BDM's median μ after bargaining"
    return _STATISTIC.get(model, f"{model}: the model's forecast")


def is_baseline(model: str) -> bool:
    return model not in STRATEGIC


def strategic_first(models: Iterable[str]) -> list[str]:
    """``models`` with the strategic models first, each group in the given order."""
    models = list(dict.fromkeys(models))
    return [m for m in models if not is_baseline(m)] + [m for m in models if is_baseline(m)]


def headline_model(models: Iterable[str]) -> str | None:
    """The model whose forecast heads the default output: the first strategic one run."""
    order = strategic_first(models)
    return order[0] if order else None


#: Marks a cycle's range shown where a forecast would stand.
CYCLE_MARK = "↻"


def range_text(rng: tuple[float, float], digits: int = 2, signed: bool = False) -> str:
    """A cycle's range as printed: ``lo–hi↻`` (``signed``: with + on positive ends)."""
    f = f"+.{digits}f" if signed else f".{digits}f"
    return f"{rng[0]:{f}}–{rng[1]:{f}}{CYCLE_MARK}"


def shift_range(run: Headline, base: Headline) -> tuple[float, float] | None:
    """The range of ``run - base`` over the rounds of their cycles, when either ends in a
    cycle whose rounds disagree (None otherwise): the difference of what the model reports
    for the cycles (last rounds or cycle means) is then no effect of anything."""
    if run.cycle is None and base.cycle is None:
        return None
    lo, hi = run.cycle or (run.value, run.value)
    blo, bhi = base.cycle or (base.value, base.value)
    return (lo - bhi, hi - blo)


def disagreeing(lo: float, hi: float) -> tuple[float, float] | None:
    """A cycle's lowest and highest forecast when its rounds disagree (by more than
    :data:`CYCLE_TOL`); None otherwise, or for NaN (no cycle)."""
    lo, hi = float(lo), float(hi)
    return (lo, hi) if hi - lo > CYCLE_TOL else None


def cycle_span(stop: str | None, length: int | None, rounds: Sequence[Any],
               value: Callable[[Any], float]) -> tuple[float, float] | None:
    """Lowest and highest of ``value(round)`` over the last ``length`` rounds when a run
    stopped in a cycle and they differ (:func:`disagreeing`); None otherwise."""
    if stop != "cycle" or not length:
        return None
    values = [float(value(rec)) for rec in rounds[-int(length):]]
    return disagreeing(min(values), max(values))


def cycle_range(run, d: int) -> tuple[float, float] | None:
    """Lowest and highest forecast over the rounds of the cycle a run ended in, when they
    differ: the reported forecast (e.g. a cycle mean) is then no round's forecast."""
    return cycle_span(run.stop, run.info.get("cycle_length"), run.rounds,
                      lambda rec: rec.forecast[d])


@dataclass(frozen=True)
class Headline:
    """A model's declared forecast on one issue.

    ``value`` is None when the run ends in a cycle whose rounds disagree: then
    ``cycle`` holds the cycle's range and no single number is the forecast.
    """

    model: str
    issue: str
    statistic: str
    baseline: bool
    value: float | None
    cycle: tuple[float, float] | None

    def text(self, digits: int = 2) -> str:
        if self.cycle is not None:
            return range_text(self.cycle, digits)
        return "—" if self.value is None else f"{self.value:.{digits}f}"


def headline(run, d: int) -> Headline:
    """The headline of ``run`` (a ModelRun) on its ``d``-th issue."""
    rng = cycle_range(run, d)
    value = None if rng is not None else float(run.forecast[d])
    return Headline(run.model, run.issue_ids[d], statistic(run.model, run.options),
                    is_baseline(run.model), value, rng)
