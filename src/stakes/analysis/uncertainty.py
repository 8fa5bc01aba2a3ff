"""The uncertain inputs of a scenario and how ensembles draw them.

Every number that a run reads from the scenario is an *input slot*: each
entry's position and salience, each actor's capability (one slot per actor,
shared by its issues), each entry's capability override, and each issue's
status quo when it states an ``sd`` or ``range``.  A slot is random when
its value gives an ``sd`` or ``range`` (see :class:`stakes.scenario.schema.Value`)
or when the scenario-wide noise (:class:`stakes.scenario.schema.Uncertainty`)
is above zero for its kind; otherwise it is fixed.

Draws are made on the host with numpy's ``Generator`` from uniform variates
mapped through each slot's inverse distribution function, so that the same
map serves Monte Carlo ensembles (:meth:`InputSpace.draw`) and Sobol designs
(:meth:`InputSpace.transform` of SALib's unit-cube samples).  Members are
drawn in fixed blocks of :data:`DRAW_BLOCK`, each from a generator seeded
with ``(seed, block)``: member ``m``'s inputs depend only on the seed and
``m``, never on how a sweep is cut into chunks or which backend runs it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Literal

import numpy as np
from scipy.special import ndtr, ndtri

from ..errors import OptionError
from ..scenario.schema import Scenario, Uncertainty, Value, basis_kind
from ..scenario.arrays import to_problem

Kind = Literal["position", "salience", "capability", "status_quo"]
KINDS: tuple[Kind, ...] = ("position", "salience", "capability", "status_quo")

DRAW_BLOCK = 1024
# Uniform variates are kept this far from 0 and 1, so that a Sobol point on the
# cube's face never maps to an infinite value.
_U_EPS = 1e-12


@dataclass(frozen=True)
class Slot:
    """One input number and its distribution."""

    kind: Kind
    actor: str | None  # None for a status quo
    issue: str | None  # None for an actor's capability (all its issues)
    value: float
    dist: Literal["fixed", "normal", "uniform"]
    loc: float  # normal: mean; uniform: lower end
    scale: float  # normal: sd; uniform: width
    lo: float  # valid range (after a value's own range)
    hi: float
    clip: bool  # True: clip draws to [lo, hi]; False: truncate the distribution

    @property
    def name(self) -> str:
        if self.kind == "status_quo":
            return f"status_quo[{self.issue}]"
        if self.issue is None:
            return f"capability[{self.actor}]"
        return f"{self.kind}[{self.actor}, {self.issue}]"

    @property
    def random(self) -> bool:
        return self.dist != "fixed"

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """The inverse distribution function at uniform variates ``u``."""
        u = np.clip(u, _U_EPS, 1 - _U_EPS)
        if self.dist == "fixed":
            return np.full_like(u, self.value)
        if self.dist == "uniform":
            a, b = self.loc, self.loc + self.scale
            if not self.clip:
                a, b = max(a, self.lo), min(b, self.hi)
            out = a + (b - a) * u
        elif self.clip:
            out = self.loc + self.scale * ndtri(u)
        else:
            pa = ndtr((self.lo - self.loc) / self.scale) if math.isfinite(self.lo) else 0.0
            pb = ndtr((self.hi - self.loc) / self.scale) if math.isfinite(self.hi) else 1.0
            out = self.loc + self.scale * ndtri(pa + u * (pb - pa))
        return np.clip(out, self.lo, self.hi)


def _slot(kind: Kind, actor, issue, v: Value, lo: float, hi: float, wide_sd: float,
          cfg: Uncertainty) -> Slot:
    clip = cfg.bounds == "clip"
    # the scenario-wide noise is widened or narrowed by what the value rests on
    wide_sd = wide_sd * cfg.spread(basis_kind(v.basis))
    if v.range is not None:
        rlo, rhi = float(v.range[0]), float(v.range[1])
        lo, hi = max(lo, rlo), min(hi, rhi)
        if v.sd is not None and v.sd > 0:
            # A spread with a range: a normal cut to the range.
            return Slot(kind, actor, issue, v.value, "normal", v.value, v.sd, lo, hi, False)
        if rhi > rlo:
            return Slot(kind, actor, issue, v.value, "uniform", rlo, rhi - rlo, lo, hi, False)
        return Slot(kind, actor, issue, v.value, "fixed", v.value, 0.0, lo, hi, clip)
    if v.sd is not None:
        if v.sd > 0:
            return Slot(kind, actor, issue, v.value, "normal", v.value, v.sd, lo, hi, clip)
        return Slot(kind, actor, issue, v.value, "fixed", v.value, 0.0, lo, hi, clip)
    if wide_sd > 0:
        if cfg.distribution == "uniform":
            half = wide_sd * math.sqrt(3.0)
            return Slot(kind, actor, issue, v.value, "uniform", v.value - half, 2 * half, lo, hi,
                        clip)
        return Slot(kind, actor, issue, v.value, "normal", v.value, wide_sd, lo, hi, clip)
    return Slot(kind, actor, issue, v.value, "fixed", v.value, 0.0, lo, hi, clip)


@dataclass(frozen=True)
class IssueView:
    """Where one issue's arrays come from: slot indices per actor with an entry."""

    issue: str
    lo: float
    hi: float
    present: tuple[str, ...]  # actors in the issue's problem, in scenario order
    position: dict[str, int]  # actor -> slot, for every actor with an entry (present or not)
    salience: dict[str, int]
    capability: dict[str, int]
    status_quo: int | None  # slot, or None when the issue has no status quo
    # arena weight per actor (Issue.arena); absent: 1
    weight: dict[str, float] = field(default_factory=dict)

    def columns(self, values: np.ndarray, actors: Iterable[str]):
        """(x, c, s) of ``actors`` from member values (B, m): each (B, n).

        Capabilities carry the issue's arena weights, as
        :func:`stakes.scenario.arrays.capability_of` does for single runs.
        """
        actors = list(actors)
        x = values[:, [self.position[a] for a in actors]]
        c = values[:, [self.capability[a] for a in actors]]
        if self.weight:
            c = c * np.array([self.weight.get(a, 1.0) for a in actors])
        s = values[:, [self.salience[a] for a in actors]]
        return x, c, s


@dataclass
class InputSpace:
    """The slots of a scenario and the maps from uniform variates to values."""

    scenario: Scenario
    settings: Uncertainty
    slots: list[Slot]
    views: dict[str, IssueView] = field(default_factory=dict)

    @property
    def random_index(self) -> np.ndarray:
        return np.array([k for k, sl in enumerate(self.slots) if sl.random], dtype=np.int64)

    @property
    def nominal(self) -> np.ndarray:
        return np.array([sl.value for sl in self.slots], dtype=float)

    def names(self, random_only: bool = True) -> list[str]:
        return [sl.name for sl in self.slots if sl.random or not random_only]

    def transform(self, u: np.ndarray) -> np.ndarray:
        """Member values (B, m) from uniform variates of the random slots (B, r)."""
        u = np.atleast_2d(np.asarray(u, dtype=float))
        ridx = self.random_index
        if u.shape[1] != len(ridx):
            raise ValueError(f"expected {len(ridx)} uniform variates per member, got {u.shape[1]}")
        out = np.tile(self.nominal, (len(u), 1))
        for col, k in enumerate(ridx):
            out[:, k] = self.slots[k].ppf(u[:, col])
        return out

    def uniforms(self, seed: int, start: int, stop: int) -> np.ndarray:
        """The uniform variates of members ``start`` .. ``stop - 1`` (see the module doc)."""
        r = len(self.random_index)
        if stop <= start:
            return np.zeros((0, r))
        parts = []
        for block in range(start // DRAW_BLOCK, (stop - 1) // DRAW_BLOCK + 1):
            u = np.random.default_rng([int(seed), block]).random((DRAW_BLOCK, r))
            a = max(start - block * DRAW_BLOCK, 0)
            b = min(stop - block * DRAW_BLOCK, DRAW_BLOCK)
            parts.append(u[a:b])
        return np.concatenate(parts)

    def draw(self, seed: int, start: int, stop: int) -> np.ndarray:
        """Member values (stop − start, m) of members ``start`` .. ``stop − 1``."""
        return self.transform(self.uniforms(seed, start, stop))

    def groups(self, by: Literal["actor", "kind"]) -> list[str]:
        """A group label per random slot: its actor (status quo: 'status quo') or its kind."""
        out = []
        for sl in self.slots:
            if not sl.random:
                continue
            if by == "kind":
                out.append(sl.kind)
            else:
                out.append(sl.actor if sl.actor is not None else "status quo")
        return out

    def restricted(self, kinds: Iterable[str]) -> "InputSpace":
        """The same space with only the slots of ``kinds`` left random."""
        kinds = set(kinds)
        slots = [sl if sl.kind in kinds else Slot(sl.kind, sl.actor, sl.issue, sl.value, "fixed",
                                                  sl.value, 0.0, sl.lo, sl.hi, sl.clip)
                 for sl in self.slots]
        return InputSpace(self.scenario, self.settings, slots, self.views)

    def scenario_for(self, values: np.ndarray) -> Scenario:
        """A copy of the scenario carrying one member's values (for models run one by one)."""
        scn = self.scenario
        vals = {(sl.kind, sl.actor, sl.issue): float(v) for sl, v in zip(self.slots, values)}

        def upd(v: Value | None, key) -> Value | None:
            if v is None or key not in vals:
                return v
            return v.model_copy(update={"value": vals[key]})

        actors = [a.model_copy(update={"capability": upd(a.capability, ("capability", a.id, None))})
                  for a in scn.actors]
        issues = [i.model_copy(update={"status_quo": upd(i.status_quo, ("status_quo", None, i.id))})
                  for i in scn.issues]
        entries = [e.model_copy(update={
            "position": upd(e.position, ("position", e.actor, e.issue)),
            "salience": upd(e.salience, ("salience", e.actor, e.issue)),
            "capability": upd(e.capability, ("capability", e.actor, e.issue)),
        }) for e in scn.entries]
        return scn.model_copy(update={"actors": actors, "issues": issues, "entries": entries})


def settings_of(scn: Scenario, **overrides) -> Uncertainty:
    """The scenario's uncertainty section (or the defaults) with ``overrides`` applied."""
    base = scn.uncertainty or Uncertainty()
    values = {k: v for k, v in overrides.items() if v is not None}
    if not values:
        return base
    try:
        return Uncertainty(**{**base.model_dump(), **values})
    except Exception as exc:  # pydantic names the offending field
        raise OptionError(f"uncertainty settings: {exc}") from None


def input_space(scn: Scenario, settings: Uncertainty | None = None) -> InputSpace:
    """Every input slot of ``scn`` with its distribution (see the module docstring)."""
    # The batched kernels read the slots without building a model input; the nominal
    # values are checked here as every model input is (located refusals), once.
    to_problem(scn, missing="nan", actors=[a.id for a in scn.actors])
    cfg = settings or scn.uncertainty or Uncertainty()
    slots: list[Slot] = []
    index: dict[tuple, int] = {}

    def add(sl: Slot) -> None:
        index[(sl.kind, sl.actor, sl.issue)] = len(slots)
        slots.append(sl)

    issues = {i.id: i for i in scn.issues}
    for e in scn.entries:
        iss = issues[e.issue]
        width = iss.scale.max - iss.scale.min
        add(_slot("position", e.actor, e.issue, e.position, iss.scale.min, iss.scale.max,
                  cfg.position_sd * width, cfg))
        add(_slot("salience", e.actor, e.issue, e.salience, 0.0, 1.0, cfg.salience_sd, cfg))
        if e.capability is not None:
            add(_slot("capability", e.actor, e.issue, e.capability, 0.0, math.inf,
                      cfg.capability_sd * abs(e.capability.value), cfg))
    for a in scn.actors:
        if a.capability is not None:
            add(_slot("capability", a.id, None, a.capability, 0.0, math.inf,
                      cfg.capability_sd * abs(a.capability.value), cfg))
    for i in scn.issues:
        if i.status_quo is not None and (i.status_quo.sd or i.status_quo.range):
            add(_slot("status_quo", None, i.id, i.status_quo, i.scale.min, i.scale.max, 0.0, cfg))

    views: dict[str, IssueView] = {}
    present = [a.id for a in scn.actors if a.present]
    for i in scn.issues:
        pos, sal, cap = {}, {}, {}
        for e in scn.entries:
            if e.issue != i.id:
                continue
            pos[e.actor] = index[("position", e.actor, i.id)]
            sal[e.actor] = index[("salience", e.actor, i.id)]
            key = ("capability", e.actor, i.id)
            cap[e.actor] = index[key] if key in index else index.get(("capability", e.actor, None))
        sq = index.get(("status_quo", None, i.id))
        if sq is None and i.status_quo is not None:
            # A fixed status quo gets a fixed slot so every issue reads it the same way.
            add(Slot("status_quo", None, i.id, i.status_quo.value, "fixed", i.status_quo.value,
                     0.0, i.scale.min, i.scale.max, False))
            sq = len(slots) - 1
        weight = {} if i.arena is None else {a: i.arena.weight_of(a) for a in pos}
        views[i.id] = IssueView(i.id, float(i.scale.min), float(i.scale.max),
                                tuple(a for a in present if a in pos), pos, sal, cap, sq, weight)
    return InputSpace(scn, cfg, slots, views)
