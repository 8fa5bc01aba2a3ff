"""When levers act, and when a run may stop: one rule for every model.

A lever at round r is applied to the current state before round r + 1 (round 0
= to the inputs).  A lever at or past the round limit never acts; it is
reported as not applied.  No stopping rule ends a run before its last applied
lever has acted, and a stopping rule that compares rounds (convergence, cycles)
restarts after every lever.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class LeverTiming:
    """The lever rounds of one run, split by the round limit."""

    applied: tuple[int, ...]  # rounds < the limit, ascending
    not_applied: tuple[int, ...]  # rounds >= the limit, ascending
    max_rounds: int

    @property
    def last(self) -> int:
        """Round of the last applied lever, or -1 when none applies."""
        return self.applied[-1] if self.applied else -1

    def acts_before(self, round_: int) -> bool:
        """Whether a lever is applied before round ``round_ + 1`` is computed."""
        return round_ in self.applied

    def may_stop_after(self, completed: int) -> bool:
        """Whether a stopping rule may end the run once ``completed`` rounds are done."""
        return completed > self.last

    def info(self) -> dict[str, list[int]]:
        """What a run's ``info`` reports about its levers (nothing when all applied)."""
        return {"levers_not_applied": list(self.not_applied)} if self.not_applied else {}


def lever_timing(rounds: Iterable[int], max_rounds: int) -> LeverTiming:
    """Split lever ``rounds`` (any order, repeats allowed) by ``max_rounds``."""
    distinct = sorted(set(int(r) for r in rounds))
    return LeverTiming(tuple(r for r in distinct if r < max_rounds),
                       tuple(r for r in distinct if r >= max_rounds), int(max_rounds))
