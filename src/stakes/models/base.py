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

from ..errors import Diagnostic, InputError


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


class ProblemSource:
    """Where the values of a problem came from, so that a refusal can point at them.

    :func:`stakes.scenario.arrays.to_problem` attaches one that knows the
    scenario (and, for a scenario read from a file, the file and line of each
    value); a problem built from bare arrays has none, and its messages name
    the actor, issue and field only.
    """

    def locate(self, field: str, actor: str | None = None, issue: str | None = None,
               toward: str | None = None) -> "Located":
        return Located()


@dataclass(frozen=True)
class Located:
    """A value's place: file, 1-based line and column, field path, and a note (e.g. that
    the value was changed after the file was read)."""

    file: str | None = None
    line: int | None = None
    column: int | None = None
    path: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Problem:
    """Array view of a scenario restricted to some issues: the one input of every model.

    Shapes: ``n`` actors, ``D`` issues.  Values are on each issue's own scale;
    salience is on [0, 1]; capability is used as given.  A cell (actor, issue)
    whose position is NaN means the actor takes no stance there (joint
    problems built with ``missing="nan"``); every other cell is complete, and
    every actor takes a stance on at least one issue.

    A problem is validated when it is built (:meth:`__post_init__`), with
    every problem found reported at once as an :class:`~stakes.errors.InputError`
    that names the actor, issue and field, and the file and line where
    :attr:`source` knows them.  Models rely on it and do not check again.
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
    source: ProblemSource | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        problems = validate_problem(self)
        if problems:
            raise InputError(problems)

    @property
    def n(self) -> int:
        return len(self.actor_ids)

    @property
    def dims(self) -> int:
        return len(self.issue_ids)

    def with_positions(self, position: np.ndarray) -> "Problem":
        return replace(self, position=np.asarray(position, dtype=float))


#: Slack, relative to the scale's width, within which a position counts as on its scale
#: (a model's arithmetic may land an ulp outside; lever effects clip exactly).
SCALE_SLACK = 1e-9


def _floats(values: Any) -> np.ndarray | None:
    """``values`` as floats, None (absent) as NaN; None when some value is not a number.

    The exchange model takes object arrays of Decimals or decimal text; they are
    checked through their float values and kept as they are.
    """
    arr = np.asarray(values)
    if arr.dtype.kind in "fiub":
        return arr.astype(float, copy=False)
    try:
        return np.vectorize(lambda v: np.nan if v is None else float(v), otypes=[float])(arr) \
            if arr.size else arr.astype(float)
    except (TypeError, ValueError):
        return None


def validate_problem(pb: Problem) -> list[Diagnostic]:
    """Everything wrong with ``pb``, located through ``pb.source`` (empty when valid)."""
    src = pb.source or ProblemSource()
    out: list[Diagnostic] = []

    def add(message: str, field_: str, actor: str | None = None, issue: str | None = None,
            toward: str | None = None) -> None:
        at = src.locate(field_, actor, issue, toward)
        who = []
        if actor is not None:
            who.append(f"actor {actor!r}")
        if toward is not None:
            who.append(f"toward {toward!r}")
        if issue is not None:
            who.append(f"issue {issue!r}")
        text = (", ".join(who) + ": " if who else "") + message + at.note
        out.append(Diagnostic(text, at.file, at.line, at.column, at.path or field_))

    n, D = len(pb.actor_ids), len(pb.issue_ids)
    for what, ids in (("actor", pb.actor_ids), ("issue", pb.issue_ids)):
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if list(ids).count(i) > 1})
            add(f"{what} ids repeat: {', '.join(map(repr, dup))}", f"{what}_ids")
    arrays: dict[str, np.ndarray] = {}
    for name, shape in (("position", (n, D)), ("salience", (n, D)), ("capability", (n, D)),
                        ("lo", (D,)), ("hi", (D,)), ("status_quo", (D,))):
        arr = _floats(getattr(pb, name))
        if arr is None:
            add("holds a value that is not a number", name)
        elif arr.shape != shape:
            add(f"has shape {arr.shape}; expected {shape} ({n} actors, {D} issues)", name)
        else:
            arrays[name] = arr
    if len(arrays) < 6:
        return out  # the checks below need every array in shape
    pos, sal, cap = arrays["position"], arrays["salience"], arrays["capability"]
    lo, hi, sq = arrays["lo"], arrays["hi"], arrays["status_quo"]
    scale_ok = np.isfinite(lo) & np.isfinite(hi) & (hi > lo)
    for d in np.flatnonzero(~scale_ok):
        add(f"scale [{lo[d]:g}, {hi[d]:g}] needs finite ends with min below max", "scale",
            issue=pb.issue_ids[d])
    slack = np.where(scale_ok, (hi - lo) * SCALE_SLACK, 0.0)
    for d in np.flatnonzero(scale_ok & ~np.isnan(sq)
                            & ~((sq >= lo - slack) & (sq <= hi + slack))):
        add(f"status quo {sq[d]:g} lies outside the issue's scale [{lo[d]:g}, {hi[d]:g}]",
            "status_quo", issue=pb.issue_ids[d])
    # A cell whose position is NaN is no stance; every other cell is complete and in range.
    # An actor takes a stance somewhere (to_problem's "drop" and "nan" both leave out the
    # others).
    stance = ~np.isnan(pos)
    for i in np.flatnonzero(~stance.any(axis=1)) if D else ():
        add("takes no stance on any issue of the problem (its positions are all missing)",
            "position", pb.actor_ids[i])
    with np.errstate(invalid="ignore"):
        # on an issue whose scale is itself refused, only non-finite positions are reported
        bad_pos = stance & ~(np.isfinite(pos) & (~scale_ok | ((pos >= lo - slack)
                                                              & (pos <= hi + slack))))
        bad_sal = stance & ~(np.isfinite(sal) & (sal >= 0.0) & (sal <= 1.0))
        bad_cap = stance & ~(np.isfinite(cap) & (cap >= 0.0))
    for i, d in zip(*np.nonzero(bad_pos | bad_sal | bad_cap)):
        a, iss = pb.actor_ids[i], pb.issue_ids[d]
        if bad_pos[i, d]:
            what = "is not finite" if not np.isfinite(pos[i, d]) else (
                f"lies outside the issue's scale [{lo[d]:g}, {hi[d]:g}]")
            add(f"position {pos[i, d]:g} {what}", "position", a, iss)
        if bad_sal[i, d]:
            what = ("is missing (an actor with a position needs a salience)"
                    if np.isnan(sal[i, d]) else "lies outside [0, 1]")
            add(f"salience {sal[i, d]:g} {what}", "salience", a, iss)
        if bad_cap[i, d]:
            what = ("is missing (an actor with a position needs a capability)"
                    if np.isnan(cap[i, d]) else "is not finite" if not np.isfinite(cap[i, d])
                    else "is negative")
            add(f"capability {cap[i, d]:g} {what}", "capability", a, iss)
    if pb.affinity is not None:
        aff = _floats(pb.affinity)
        if aff is None or aff.shape != (n, n):
            shape = None if aff is None else aff.shape
            add(f"affinity has shape {shape}; expected ({n}, {n})", "affinity")
        else:
            with np.errstate(invalid="ignore"):
                bad = ~(np.isfinite(aff) & (aff >= 0.0) & (aff <= 1.0))
            for i, j in zip(*np.nonzero(bad)):
                add(f"affinity weight {aff[i, j]:g} lies outside [0, 1]", "affinity",
                    pb.actor_ids[i], toward=pb.actor_ids[j])
    return out


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

    def run_many(
        self,
        problem: Problem,
        options: ModelOptions,
        schedules: list[Schedule],
        rngs: list[np.random.Generator],
    ) -> list[ModelRun]:
        """One run of ``problem`` under each schedule, as :meth:`run` gives it; a model
        whose runs batch (the EUM) does them all at once."""
        return [self.run(problem, options, s, r) for s, r in zip(schedules, rngs)]


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
