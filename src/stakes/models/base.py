"""The one small interface every model implements.

A model takes a :class:`Problem` (array view of one issue, or of several issues
treated jointly), its validated options, a lever :class:`Schedule` and a seeded
random generator, and returns a :class:`ModelRun` with the round-by-round
positions and a forecast.  Single-issue models are run once per issue by the
engine; joint models (``scope = "joint"``) get every issue at once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from typing import Any, Callable, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict


class ModelOptions(BaseModel):
    """Base class of every model's options: frozen, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class ChannelMask:
    """Pairs of actors that cannot bargain or trade directly (``Scenario.channels``).

    Kept by actor id, so that levers that add or remove actors need not update it.
    """

    closed: frozenset[frozenset[str]]

    def mask(self, actor_ids) -> np.ndarray:
        """(n, n) booleans: True where actors i and j can bargain (the diagonal too)."""
        index = {a: k for k, a in enumerate(actor_ids)}
        out = np.ones((len(index), len(index)), dtype=bool)
        # once per run or lever step, over the closed pairs only
        pairs = [(index[a], index[b]) for a, b in map(tuple, self.closed)
                 if a in index and b in index]
        if pairs:
            i, j = np.array(pairs).T
            out[i, j] = out[j, i] = False
        return out


@dataclass(frozen=True)
class Problem:
    """Array view of a scenario restricted to some issues.

    Shapes: ``n`` actors (only those with a position on every issue of the
    problem), ``D`` issues.  Values are on each issue's own scale; salience is
    on [0, 1]; capability is used as given.
    """

    issue_ids: tuple[str, ...]
    actor_ids: tuple[str, ...]
    position: np.ndarray  # (n, D)
    salience: np.ndarray  # (n, D)
    capability: np.ndarray  # (n, D)
    lo: np.ndarray  # (D,)
    hi: np.ndarray  # (D,)
    status_quo: np.ndarray  # (D,), NaN where the issue gives none
    affinity: np.ndarray | None = None  # (n, n) accommodation matrix (SMP)
    channels: ChannelMask | None = None  # who can bargain with whom (exchange, SMP)

    @property
    def n(self) -> int:
        return len(self.actor_ids)

    @property
    def dims(self) -> int:
        return len(self.issue_ids)

    def with_positions(self, position: np.ndarray) -> "Problem":
        return replace(self, position=np.asarray(position, dtype=float))


# A lever step transforms the problem between rounds.  It receives the problem
# whose ``position`` holds the *current* positions and returns the new problem
# (possibly with actors added or removed).
LeverStep = Callable[[Problem], Problem]


@dataclass(frozen=True)
class Schedule:
    """Lever steps keyed by the round before which they apply (0 = at the start)."""

    steps: dict[int, tuple[LeverStep, ...]] = field(default_factory=dict)

    @staticmethod
    def empty() -> "Schedule":
        return Schedule({})

    def __bool__(self) -> bool:
        return bool(self.steps)

    def rounds(self) -> list[int]:
        return sorted(self.steps)

    def apply(self, round_: int, problem: Problem) -> Problem:
        for step in self.steps.get(round_, ()):
            problem = step(problem)
        return problem

    def apply_all(self, problem: Problem) -> Problem:
        """Apply every step in round order (for models without rounds)."""
        for r in self.rounds():
            problem = self.apply(r, problem)
        return problem


StopReason = Literal["converged", "cycle", "max_rounds"]


@dataclass(frozen=True)
class Event:
    """One thing a model did in a round, and why: the raw material of explanations.

    ``kind`` names what happened ("offer" for an EUM offer, "exchange" for a
    Stokman exchange, "bargain" for an SMP bargain, "lever" for a lever's
    change); ``actors`` lists who took part, the initiator first (proposer,
    then receiver or partner); ``issues`` the issues it concerns; ``detail``
    the model's own quantities (offer type, expected utilities, shifts,
    gains, the new position, whether it was accepted), JSON-ready.
    """

    kind: str
    actors: tuple[str, ...]
    issues: tuple[str, ...]
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class RoundRecord:
    """The state after ``round`` (round 0 = the inputs, after any round-0 lever).

    ``events`` are what happened in the round that led to this state (empty
    for round 0, and when a run records no events).
    """

    round: int
    actor_ids: tuple[str, ...]
    position: np.ndarray  # (n, D)
    forecast: np.ndarray  # (D,)
    mean: np.ndarray  # (D,) capability x salience weighted mean
    extra: dict[str, Any] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)


@dataclass
class ModelRun:
    model: str
    issue_ids: tuple[str, ...]
    options: dict[str, Any]
    rounds: list[RoundRecord]
    forecast: np.ndarray  # (D,)
    stop: StopReason
    info: dict[str, Any] = field(default_factory=dict)


class Model(ABC):
    """A bargaining model or baseline."""

    name: ClassVar[str]
    title: ClassVar[str]
    references: ClassVar[tuple[str, ...]] = ()
    scope: ClassVar[Literal["issue", "joint"]] = "issue"
    Options: ClassVar[type[ModelOptions]] = ModelOptions

    @classmethod
    def own_options(cls, options: ModelOptions) -> Any:
        """``options`` as this model's own options class (validated again if not already)."""
        return options if isinstance(options, cls.Options) else cls.Options(**options.model_dump())

    @abstractmethod
    def run(
        self,
        problem: Problem,
        options: ModelOptions,
        schedule: Schedule,
        rng: np.random.Generator,
    ) -> ModelRun: ...


def weighted_mean(position: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Column-wise weighted mean of ``position`` (n, D) with weights (n, D).

    Where all weights on a column are zero, the unweighted mean is returned.
    """
    position = np.asarray(position, dtype=float)
    weight = np.asarray(weight, dtype=float)
    total = weight.sum(axis=0)
    plain = position.mean(axis=0) if len(position) else np.full(position.shape[1], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (weight * position).sum(axis=0) / total
    return np.where(total > 0, mean, plain)
