"""The scenario format: actors, issues, entries, evidence, levers and plans.

A scenario file is YAML 1.2 (read with ruamel.yaml, see :mod:`stakes.scenario.yaml_io`)
validated by the pydantic models below.  Every number may carry its ``basis``:
a verbatim quote from a cited source (``evidence``), an analyst's ``judgment``
with its rationale, or ``data`` from a named source.

Multi-dimensional positions are an actor's positions on several issues: the
joint models (``smp``, ``exchange``) treat the scenario's issues as the
dimensions of one policy space.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Iterable, Iterator, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

FORMAT_VERSION = 1

# Finite numbers only; the bound keeps float arithmetic well away from overflow.
MAX_ABS = 1e12
Id = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$",
        description="Identifier: letters, digits, '_', '-', '.'; starts with a letter or digit.",
    ),
]
Finite = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_ABS, le=MAX_ABS)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Origin:
    """Where the numbers of one scenario object were read: the file, and for each field
    its 1-based line and column and the number read there.

    Kept beside the object (``Value``, ``Scale``, ``Affinity``) so that a refusal
    long after loading, of a scenario changed in Python, still names the file and
    line.  Where a value was read is no part of the value: an origin equals any
    other origin and no origin, so scenarios compare as before.
    """

    __slots__ = ("file", "at")

    def __init__(self, file: str, at: dict[str, tuple[int, int, Any]]):
        self.file, self.at = file, at

    def __eq__(self, other: object) -> bool:
        return other is None or isinstance(other, Origin)

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return f"Origin({self.file!r}, {self.at!r})"


# --- basis -----------------------------------------------------------------


Shows = Literal["statement", "conduct", "description", "recommendation"]
SHOWS: tuple[str, ...] = ("statement", "conduct", "description", "recommendation")


class Evidence(_Strict):
    """A verbatim quote from a source listed in ``metadata.sources``.

    ``shows`` says what the quote is evidence of: the actor's own stated
    position (``statement``), its reported conduct (``conduct``), an author's
    description of the actor (``description``), or an author's
    ``recommendation``, which can justify a lever or a plan, never an actor's
    current position, salience, capability or a status quo.
    """

    kind: Literal["evidence"]
    source: Id
    quote: str = Field(min_length=1, max_length=1000)
    shows: Shows | None = Field(
        None, description="What the quote shows: statement, conduct, description or "
        "recommendation (see the format docs); unset in files written before it existed.")
    note: str | None = None


class Judgment(_Strict):
    """An analyst's judgment, with the reason for it."""

    kind: Literal["judgment"]
    rationale: str = Field(min_length=1)


class Data(_Strict):
    """A figure taken from a data set or table in a listed source."""

    kind: Literal["data"]
    source: Id
    note: str | None = None


Basis = Annotated[Union[Evidence, Judgment, Data], Field(discriminator="kind")]

#: What a basis rests on, for uncertainty defaults and reports: the ``shows`` of
#: evidence, ``judgment``, ``data``, ``evidence`` (evidence that does not say
#: what it shows) or ``none``.
BasisKind = Literal["statement", "conduct", "description", "recommendation", "evidence",
                    "judgment", "data", "none"]


def basis_kind(basis: "Evidence | Judgment | Data | None") -> str:
    """The :data:`BasisKind` of ``basis``."""
    if basis is None:
        return "none"
    if isinstance(basis, Evidence):
        return basis.shows or "evidence"
    return basis.kind


class Value(_Strict):
    """A number with its basis and, optionally, its uncertainty.

    ``sd`` (a normal spread) and ``range`` (a uniform interval) describe how
    uncertain the value is; ensembles draw from them.
    """

    value: Finite
    basis: Basis | None = None
    sd: Annotated[float, Field(ge=0, allow_inf_nan=False, le=MAX_ABS)] | None = None
    range: tuple[Finite, Finite] | None = None
    _origin: Origin | None = PrivateAttr(None)

    @model_validator(mode="before")
    @classmethod
    def _bare_number(cls, data: Any) -> Any:
        # `salience: 0.4` is shorthand for `salience: {value: 0.4}`.
        if isinstance(data, bool):
            raise ValueError("expected a number, got a boolean")
        if isinstance(data, (int, float)):
            return {"value": data}
        if isinstance(data, str):
            raise ValueError(f"expected a number, got the text {data!r}")
        if data is None:
            raise ValueError("expected a number, got nothing (null)")
        if isinstance(data, (list, tuple)):
            raise ValueError("expected a number or a mapping with 'value', got a list")
        return data

    @field_validator("value", mode="before")
    @classmethod
    def _no_bool(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError("expected a number, got a boolean")
        return v

    @model_validator(mode="after")
    def _range_ordered(self) -> "Value":
        if self.range is not None:
            lo, hi = self.range
            if lo > hi:
                raise ValueError(f"range [{lo}, {hi}] is reversed")
            if not lo <= self.value <= hi:
                raise ValueError(f"value {self.value} lies outside its range [{lo}, {hi}]")
        return self


# --- metadata --------------------------------------------------------------


class Source(_Strict):
    id: Id
    title: str = Field(min_length=1)
    author: str | None = None
    outlet: str | None = None
    date: str | None = Field(None, description="Publication date, ISO or as precise as known.")
    file: str | None = Field(None, description="File name of the user's copy of the source.")
    url: str | None = None

    @field_validator("date", mode="before")
    @classmethod
    def _date_text(cls, v: Any) -> Any:
        return v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v


class Metadata(_Strict):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = None
    as_of: dt.date | None = Field(None, description="Date the scenario describes.")
    sources: list[Source] = Field(default_factory=list)


# --- actors, issues, entries ----------------------------------------------


class Actor(_Strict):
    id: Id
    name: str = Field(min_length=1, max_length=200)
    description: str | None = None
    capability: Value | None = Field(
        None, description="Potential influence, >= 0; an entry may override it per issue."
    )
    present: bool = Field(
        True,
        description="False for an actor that enters only through a lever (add_actor).",
    )


class Scale(_Strict):
    min: Finite
    max: Finite
    min_label: str | None = None
    max_label: str | None = None
    unit: str | None = None
    _origin: Origin | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _ordered(self) -> "Scale":
        if not self.min < self.max:
            raise ValueError(f"scale min {self.min} must be below max {self.max}")
        return self


class ArenaMember(_Strict):
    """One actor's standing in a decision arena, with its basis."""

    actor: Id
    weight: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)] | None = Field(
        None, description="Multiplies the actor's capability on the issue: 1 for a holder of "
        "formal authority unless given; required, in [0, 1], for an influence.")
    basis: Basis | None = None


class Arena(_Strict):
    """Who decides an issue: formal authority, and the influence others bring to bear.

    An actor's capability on the issue is its capability (or the entry's
    override) times its weight here: an ``authority`` member's ``weight``
    (default 1), an ``influence`` member's ``weight`` (in [0, 1]), or
    ``others`` for every actor the arena does not list.
    """

    authority: list[ArenaMember] = Field(min_length=1)
    influence: list[ArenaMember] = Field(default_factory=list)
    others: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = Field(
        0.1, description="Weight of the actors not listed (default 0.1).")
    basis: Basis | None = Field(None, description="Why the others weigh what they do.")

    @model_validator(mode="after")
    def _weights(self) -> "Arena":
        for m in self.influence:
            if m.weight is None:
                raise ValueError(f"influence of {m.actor!r} needs a weight in [0, 1]")
            if m.weight > 1:
                raise ValueError(f"influence weight of {m.actor!r} is {m.weight:g}; it lies "
                                 "in [0, 1] (formal authority goes under authority)")
        return self

    def weights(self) -> dict[str, float]:
        out = {m.actor: (1.0 if m.weight is None else m.weight) for m in self.authority}
        for m in self.influence:
            out.setdefault(m.actor, float(m.weight or 0.0))
        return out

    def weight_of(self, actor_id: str) -> float:
        return self.weights().get(actor_id, self.others)


class Issue(_Strict):
    id: Id
    name: str = Field(min_length=1, max_length=200)
    description: str | None = None
    scale: Scale = Field(default_factory=lambda: Scale(min=0, max=100))
    status_quo: Value | None = None
    arena: Arena | None = Field(
        None, description="Who decides the issue; when given, capabilities on it are derived "
        "from it (see Arena).")


class Entry(_Strict):
    """One actor's stance on one issue."""

    actor: Id
    issue: Id
    position: Value
    salience: Value = Field(description="How much the issue matters to the actor, 0 to 1.")
    capability: Value | None = Field(None, description="Overrides the actor's capability here.")


class Affinity(_Strict):
    """One entry of the accommodation matrix A used by ``smp`` (KTAB): how far
    ``actor``'s ideal point follows ``toward``'s position each turn."""

    actor: Id
    toward: Id
    weight: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
    _origin: Origin | None = PrivateAttr(None)


# --- levers and plans ------------------------------------------------------


class Change(_Strict):
    """Exactly one of: set to a value, add an amount, or multiply by a factor."""

    set: Finite | None = None
    add: Finite | None = None
    scale: Annotated[float, Field(ge=0, le=MAX_ABS, allow_inf_nan=False)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> "Change":
        given = [k for k in ("set", "add", "scale") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of set, add, scale")
        return self

    def apply(self, old: float) -> float:
        if self.set is not None:
            return self.set
        if self.add is not None:
            return old + self.add
        return old * self.scale  # type: ignore[operator]


class Effect(_Strict):
    """One effect of a lever.

    Either a change to an actor's ``position``, ``salience`` or ``capability``
    on the listed issues (all of its issues when ``issues`` is omitted), or an
    actor entering (``add_actor``) or leaving (``remove_actor``) the game.
    """

    actor: Id | None = None
    issues: list[Id] | None = None
    position: Change | None = None
    salience: Change | None = None
    capability: Change | None = None
    add_actor: Id | None = None
    remove_actor: Id | None = None
    basis: Basis | None = None

    @field_validator("issues", mode="before")
    @classmethod
    def _one_issue(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @model_validator(mode="after")
    def _one_kind(self) -> "Effect":
        changes = [k for k in ("position", "salience", "capability") if getattr(self, k)]
        moves = [k for k in ("add_actor", "remove_actor") if getattr(self, k)]
        if changes and moves:
            raise ValueError("an effect either changes values or adds/removes an actor, not both")
        if moves:
            if len(moves) > 1 or self.actor is not None or self.issues is not None:
                raise ValueError("add_actor / remove_actor stand alone in an effect")
        elif not changes:
            raise ValueError("an effect needs position, salience, capability, add_actor or remove_actor")
        elif self.actor is None:
            raise ValueError("a change needs the actor it applies to")
        return self


Feasibility = Literal["feasible", "doubtful", "infeasible"]


class Lever(_Strict):
    """A policy and its effects.  ``feasibility`` records what the proposing texts say
    of it (``doubtful``, ``infeasible``), with its basis; such a lever still runs, so
    that its effect can be seen, and reports mark it."""

    id: Id
    name: str = Field(min_length=1)
    description: str | None = None
    basis: Basis | None = None
    feasibility: Feasibility | None = None
    feasibility_basis: Basis | None = None
    round: int = Field(0, ge=0, le=10_000, description="Round before which it applies.")
    cost: Value | None = Field(
        None, description="What pulling the lever costs its puller (e.g. domestic political "
        "cost), on any scale shared by the scenario's levers, with its basis; plan search "
        "ranks plans by it (plan size when no lever states one).")
    effects: list[Effect] = Field(min_length=1)

    @field_validator("cost")
    @classmethod
    def _cost_not_negative(cls, v: "Value | None") -> "Value | None":
        if v is not None and v.value < 0:
            raise ValueError(f"cost {v.value} is negative; costs are 0 or more")
        return v


class PlanStep(_Strict):
    lever: Id
    round: int | None = Field(None, ge=0, le=10_000, description="Defaults to the lever's round.")


class Plan(_Strict):
    id: Id
    name: str = Field(min_length=1)
    description: str | None = None
    basis: Basis | None = None
    feasibility: Feasibility | None = None
    feasibility_basis: Basis | None = None
    steps: list[PlanStep] = Field(min_length=1)


# --- bargaining channels ------------------------------------------------------


class ChannelRule(_Strict):
    """Every pair of an actor in ``between`` with an actor in ``and`` (or, without
    ``and``, every pair within ``between``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True,
                              populate_by_name=True)

    between: list[Id] = Field(min_length=1)
    and_: list[Id] | None = Field(None, alias="and")
    basis: Basis | None = None

    def pairs(self) -> Iterator[tuple[str, str]]:
        if self.and_ is None:
            for k, a in enumerate(self.between):
                for b in self.between[k + 1:]:
                    yield a, b
        else:
            for a in self.between:
                for b in self.and_:
                    yield a, b


class Channels(_Strict):
    """Who can bargain or trade with whom directly (an extension of the joint models).

    Every pair of actors starts ``default`` (open or closed); the ``closed``
    rules are applied next, then the ``open`` ones, so a mediator can be
    opened to parties that are closed to each other.
    """

    default: Literal["open", "closed"] = "open"
    closed: list[ChannelRule] = Field(default_factory=list)
    open: list[ChannelRule] = Field(default_factory=list)

    def closed_pairs(self, actor_ids: Iterable[str]) -> frozenset[frozenset[str]]:
        """The unordered pairs of ``actor_ids`` that cannot bargain directly."""
        ids = list(actor_ids)
        if self.default == "closed":
            shut = {frozenset((a, b)) for k, a in enumerate(ids) for b in ids[k + 1:]}
        else:
            shut = set()
        for rule in self.closed:
            shut.update(frozenset(p) for p in rule.pairs() if p[0] != p[1])
        for rule in self.open:
            shut.difference_update(frozenset(p) for p in rule.pairs())
        return frozenset(shut)


# --- sanity expectations -----------------------------------------------------


class Expectation(_Strict):
    """An analyst's expectation about a forecast, written before the models are run.

    Without ``lever`` or ``plan`` it concerns the baseline forecast of
    ``issue`` (``min`` and/or ``max``); with one, the forecast under that
    intervention, and ``direction`` says how it should move against the
    baseline: ``up`` or ``down`` by more than ``by``, or ``none`` (within ``by``).
    """

    id: Id
    issue: Id
    lever: Id | None = None
    plan: Id | None = None
    min: Finite | None = None
    max: Finite | None = None
    direction: Literal["up", "down", "none"] | None = None
    by: Annotated[float, Field(ge=0, le=MAX_ABS, allow_inf_nan=False)] = Field(
        1.0, description="Shift (on the issue's scale) that counts as a move; default 1.")
    reason: str = Field(min_length=1, description="Why the analyst expects it.")
    basis: Basis | None = None

    @model_validator(mode="after")
    def _complete(self) -> "Expectation":
        if self.lever is not None and self.plan is not None:
            raise ValueError("an expectation concerns one lever or one plan, not both")
        if self.direction is not None and self.lever is None and self.plan is None:
            raise ValueError("direction needs the lever or plan whose effect it states")
        if self.min is None and self.max is None and self.direction is None:
            raise ValueError("give min, max or (with a lever or plan) direction")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min:g} is above max {self.max:g}")
        return self

    @property
    def intervention(self) -> str:
        if self.lever is not None:
            return f"lever:{self.lever}"
        if self.plan is not None:
            return f"plan:{self.plan}"
        return "baseline"

    def describe(self) -> str:
        parts = []
        if self.direction == "none":
            parts.append(f"moves by at most {self.by:g}")
        elif self.direction is not None:
            parts.append(f"moves {self.direction} by more than {self.by:g}")
        if self.min is not None and self.max is not None:
            parts.append(f"forecast in [{self.min:g}, {self.max:g}]")
        elif self.min is not None:
            parts.append(f"forecast >= {self.min:g}")
        elif self.max is not None:
            parts.append(f"forecast <= {self.max:g}")
        return f"{self.issue}, {self.intervention}: " + " and ".join(parts)


# --- uncertainty -----------------------------------------------------------


class Uncertainty(_Strict):
    """Scenario-wide noise for ensembles (``stakes sweep``, ``sensitivity``, ``stability``).

    It applies to every position, salience and capability that gives no
    ``sd`` or ``range`` of its own; a value's own ``sd`` (normal) or ``range``
    (uniform; with ``sd`` too, a normal cut to the range) always wins.  Set
    a field to 0 to hold that kind of input fixed.
    """

    position_sd: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = Field(
        0.05, description="Standard deviation of positions, as a fraction of the issue's "
        "scale width.")
    salience_sd: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = Field(
        0.1, description="Standard deviation of saliences (absolute, on [0, 1]).")
    capability_sd: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)] = Field(
        0.1, description="Standard deviation of capabilities, relative to the value.")
    distribution: Literal["normal", "uniform"] = Field(
        "normal", description="Shape of the scenario-wide noise; 'uniform' has the same "
        "standard deviation (half-width sd·√3).")
    bounds: Literal["truncate", "clip"] = Field(
        "truncate", description="Keep draws in the valid range (scale, [0, 1], >= 0) by "
        "truncating the distribution, or by clipping draws to the bounds.")
    by_basis: dict[BasisKind, Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]] = Field(
        default_factory=dict, description="Multiplies the scenario-wide sd of a value by what "
        "its basis rests on; merged over BASIS_SPREAD (evidence narrower than judgment).")

    def spread(self, kind: str) -> float:
        """The factor on the scenario-wide sd for a value whose basis is of ``kind``."""
        return self.by_basis.get(kind, BASIS_SPREAD.get(kind, 1.0))  # type: ignore[call-overload]


#: Default factor on the scenario-wide sd by basis kind: an actor's own statement,
#: its conduct or a data set pins a value best; an author's description leaves more
#: room; a judgment most.  A value without a basis keeps the plain scenario-wide sd
#: (files written before bases existed keep their ensembles).
BASIS_SPREAD: dict[str, float] = {
    "statement": 1.0, "conduct": 1.0, "data": 1.0, "evidence": 1.0,
    "description": 1.5, "judgment": 2.0, "recommendation": 2.0, "none": 1.0,
}


# --- the scenario ----------------------------------------------------------


class Scenario(_Strict):
    stakes: Literal[1] = Field(FORMAT_VERSION, description="Format version.")
    metadata: Metadata
    actors: list[Actor] = Field(min_length=1)
    issues: list[Issue] = Field(min_length=1)
    entries: list[Entry] = Field(default_factory=list)
    affinity: list[Affinity] | None = None
    levers: list[Lever] = Field(default_factory=list)
    plans: list[Plan] = Field(default_factory=list)
    options: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Default model options carried by the scenario, by model name.",
    )
    uncertainty: Uncertainty | None = Field(
        None, description="Scenario-wide noise for ensembles; the defaults of Uncertainty "
        "apply when it is omitted.")
    channels: Channels | None = Field(
        None, description="Who can bargain with whom (exchange, smp); every pair when omitted.")
    expectations: list[Expectation] = Field(
        default_factory=list, description="Sanity expectations about forecasts, with reasons.")

    # convenience look-ups -------------------------------------------------
    def actor(self, actor_id: str) -> Actor:
        for a in self.actors:
            if a.id == actor_id:
                return a
        raise KeyError(actor_id)

    def issue(self, issue_id: str) -> Issue:
        for i in self.issues:
            if i.id == issue_id:
                return i
        raise KeyError(issue_id)

    def lever(self, lever_id: str) -> Lever:
        for lv in self.levers:
            if lv.id == lever_id:
                return lv
        raise KeyError(lever_id)

    def plan(self, plan_id: str) -> Plan:
        for p in self.plans:
            if p.id == plan_id:
                return p
        raise KeyError(plan_id)

    def entry(self, actor_id: str, issue_id: str) -> Entry | None:
        for e in self.entries:
            if e.actor == actor_id and e.issue == issue_id:
                return e
        return None
