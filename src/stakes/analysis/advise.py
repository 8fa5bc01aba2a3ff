"""Plan search: which levers, in which order, reach a goal, and how surely.

A *goal* is a bound on one issue's forecast (``settlements>=50``).  A *plan*
is an ordered list of the scenario's levers, each at a round.  Every plan is
scored on one seeded ensemble of the scenario's uncertainty (members drawn as
in :mod:`.uncertainty`), with common random numbers: all plans and the
baseline see the same members, so differences between plans are differences
of the plans, not of the draws.

The score of a plan:

* ``p_goals``: the share of members whose forecast meets every goal, with an
  80% Wilson interval for the Monte Carlo error of that share;
* the paired effect on every goal issue (plan minus baseline, member by
  member: median and 80% range), and on every other issue for the reported
  plans (side effects);
* the part of the goal effect that bargaining adds: the effect minus the part
  the lever imposes, which is the model's own forecast rule applied to the
  post-lever inputs before any round (the EUM's forecast is BDM's weighted
  median μ, so its imposed part is the median model's with the same weights
  and tie rule; baselines have no bargaining, their share is 0);
* its cost: the sum of its levers' ``cost`` (plan size when no lever states
  one).

Search.  Only levers that can reach a goal issue take part (for single-issue
models a lever that touches no goal issue cannot change a goal forecast).  With
few such levers every subset is scored (``exhaustive``); otherwise a beam
search grows plans one lever at a time, keeping the ``beam`` best at each
size (``beam``); the method used is reported.  Levers act at their own rounds
in the scenario's order during the search; :func:`order_spread` then scores
every ordering of a plan's levers at successive rounds, and all at once, to
say whether order matters.

*Who to work on* (:func:`persuasion`): for each actor with a stance on a goal
issue, the rise in ``p_goals`` when its position moves toward the goal by a
stated share of the scale, or its salience rises by a stated amount: a lever
nobody wrote, scored like the others.
"""

from __future__ import annotations

import itertools
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.stats import binomtest

from ..engine import resolve_options
from ..errors import OptionError
from ..levers import Intervention, baseline
from ..models import get_model, make_options
from ..scenario.schema import Change, Effect, Lever, Scenario
from .ensemble import Ensemble, touches
from .uncertainty import InputSpace, input_space

#: Members per candidate by default: enough for a share's 80% interval of at most ±0.05.
DEFAULT_MEMBERS = 200
#: Largest number of reaching levers whose every subset is scored.
EXHAUSTIVE_LEVERS = 8
#: Plans kept at each size by the beam search.
DEFAULT_BEAM = 8
#: Plans reported with their side effects.
DEFAULT_TOP = 5
#: Orderings scored per plan at most (all of them up to 5 levers).
MAX_ORDERS = 120
#: Shift of an actor's position toward the goal, as a share of the issue's scale.
PERSUADE_POSITION = 0.10
#: Rise of an actor's salience (on [0, 1]).
PERSUADE_SALIENCE = 0.10
#: Interval reported for shares and effects.
LEVEL = 0.80
#: Order matters when the best and worst orderings' success shares differ by this much,
#: and McNemar's exact test on the paired members rejects equality at ORDER_ALPHA.
ORDER_MATTERS = 0.05
ORDER_ALPHA = 0.05
#: A plan is "mechanical" when bargaining adds less than this share of its goal effect.
MECHANICAL_SHARE = 0.10

_GOAL = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(>=|<=)\s*"
                   r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?\d+)?)\s*$")


@dataclass(frozen=True)
class Goal:
    """A bound on one issue's forecast."""

    issue: str
    op: Literal[">=", "<="]
    value: float

    @property
    def label(self) -> str:
        return f"{self.issue}{self.op}{self.value:g}"

    @property
    def issues(self) -> tuple[str, ...]:
        return (self.issue,)

    @property
    def sign(self) -> int:
        """+1 when the goal asks for more, -1 for less."""
        return 1 if self.op == ">=" else -1

    def direction(self, issue: str, base: dict[str, np.ndarray]) -> int:
        """+1 when moving ``issue``'s forecast up serves the goal, -1 when down."""
        return self.sign

    def met(self, forecast: dict[str, np.ndarray], base: dict[str, np.ndarray]) -> np.ndarray:
        f = np.asarray(forecast[self.issue], dtype=float)
        return f >= self.value if self.op == ">=" else f <= self.value


@dataclass(frozen=True)
class ActorGoal:
    """An actor is better off: its utility over the forecasts rises against the baseline.

    The utility is the usual spatial one, minus the salience-weighted distance between the
    actor's position and each forecast, each issue measured in shares of its scale (Bueno de
    Mesquita 1994 uses the same form, without the salience weights, for one issue).
    """

    actor: str
    issue_ids: tuple[str, ...]
    position: tuple[float, ...]
    salience: tuple[float, ...]
    span: tuple[float, ...]

    @property
    def label(self) -> str:
        return f"better for {self.actor}"

    @property
    def issues(self) -> tuple[str, ...]:
        return self.issue_ids

    def utility(self, forecast: dict[str, np.ndarray]) -> np.ndarray:
        return -sum(s * np.abs(np.asarray(forecast[i], dtype=float) - x) / w
                    for i, x, s, w in zip(self.issue_ids, self.position, self.salience,
                                          self.span))

    def direction(self, issue: str, base: dict[str, np.ndarray]) -> int:
        k = self.issue_ids.index(issue)
        return 1 if self.position[k] >= float(np.median(base[issue])) else -1

    def met(self, forecast: dict[str, np.ndarray], base: dict[str, np.ndarray]) -> np.ndarray:
        return self.utility(forecast) > self.utility(base) + 1e-12


AnyGoal = Goal | ActorGoal


def actor_goal(actor: str, scn: Scenario) -> ActorGoal:
    """The goal "``actor`` is better off", over the issues where it takes a stance."""
    try:
        a = scn.actor(actor)
    except KeyError:
        known = ", ".join(x.id for x in scn.actors)
        raise OptionError(f"--for {actor!r}: unknown actor (actors: {known})") from None
    rows = [(i, scn.entry(a.id, i.id)) for i in scn.issues]
    rows = [(i, e) for i, e in rows if e is not None and e.salience.value > 0]
    if not rows or not a.present:
        raise OptionError(f"--for {actor!r}: the actor takes no salient stance in the game")
    return ActorGoal(a.id, tuple(i.id for i, _ in rows),
                     tuple(e.position.value for _, e in rows),
                     tuple(e.salience.value for _, e in rows),
                     tuple(i.scale.max - i.scale.min for i, _ in rows))


def parse_goal(text: str, scn: Scenario) -> Goal:
    """``ISSUE>=VALUE`` or ``ISSUE<=VALUE``, on the issue's own scale."""
    m = _GOAL.match(text)
    if not m:
        raise OptionError(f"--goal {text!r}: expected ISSUE>=VALUE or ISSUE<=VALUE, "
                          "e.g. settlements>=50")
    issue, op, value = m.group(1), m.group(2), float(m.group(3))
    try:
        iss = scn.issue(issue)
    except KeyError:
        known = ", ".join(i.id for i in scn.issues)
        raise OptionError(f"--goal {text!r}: unknown issue {issue!r} (issues: {known})") from None
    lo, hi = iss.scale.min, iss.scale.max
    if not lo <= value <= hi:
        raise OptionError(f"--goal {text!r}: {value:g} is outside the issue's scale "
                          f"[{lo:g}, {hi:g}]")
    return Goal(issue, op, value)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Candidate:
    """A plan: levers by id with their rounds, in the order applied."""

    steps: tuple[tuple[str, int], ...]

    @property
    def levers(self) -> tuple[str, ...]:
        return tuple(lv for lv, _ in self.steps)

    @property
    def label(self) -> str:
        if not self.steps:
            return "(no lever)"
        rounds = {r for _, r in self.steps}
        if len(rounds) == 1:
            return " + ".join(self.levers) + ("" if rounds == {0} else f" @{rounds.pop()}")
        return " → ".join(f"{lv}@{r}" for lv, r in self.steps)

    def intervention(self, scn: Scenario, key: str) -> Intervention:
        return Intervention("plan", key, tuple((r, scn.lever(lv)) for lv, r in self.steps))


def cost_of(scn: Scenario, levers: Sequence[str]) -> float:
    """Sum of the levers' costs; the plan's size when no lever of the scenario states one."""
    if not any(lv.cost is not None for lv in scn.levers):
        return float(len(levers))
    costs = (scn.lever(lv).cost for lv in levers)
    return float(sum(c.value for c in costs if c is not None))


def paired_differ(a: np.ndarray, b: np.ndarray, alpha: float = ORDER_ALPHA) -> bool:
    """Whether two success vectors over the same members differ: McNemar's exact test
    (McNemar 1947) on the members where exactly one succeeds, at level ``alpha``."""
    x = int(np.sum(a & ~b))
    y = int(np.sum(~a & b))
    return x + y > 0 and binomtest(x, x + y, 0.5).pvalue < alpha


def wilson(successes: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """Wilson score interval of a share (Wilson 1927), by SciPy."""
    if n == 0:
        return (0.0, 1.0)
    ci = binomtest(successes, n).proportion_ci(confidence_level=level, method="wilson")
    return (float(ci.low), float(ci.high))


@dataclass
class Spread:
    """Median and 80% range of a per-member quantity."""

    median: float
    lo: float
    hi: float

    @staticmethod
    def of(v: np.ndarray) -> Spread:
        q = np.quantile(np.asarray(v, dtype=float), [0.5, (1 - LEVEL) / 2, (1 + LEVEL) / 2])
        return Spread(float(q[0]), float(q[1]), float(q[2]))

    def json(self) -> dict[str, float]:
        return {"median": self.median, "lo": self.lo, "hi": self.hi}


@dataclass
class Score:
    """A plan's standing on the ensemble."""

    candidate: Candidate
    cost: float
    p_goals: float
    p_interval: tuple[float, float]
    p_each: dict[str, float]
    effect: dict[str, Spread]  # goal issues (and side-effect issues once reported)
    imposed: dict[str, float | None]  # median imposed effect on goal issues
    toward: float = 0.0  # median effects summed over the goals, signed toward each goal
    # members meeting every goal whose imposed forecast alone misses one (None: no rule)
    p_bargained: float | None = None
    met: np.ndarray | None = field(default=None, repr=False)  # per member: every goal met
    side_effects: dict[str, Spread] = field(default_factory=dict)
    # members ending in a cycle that meets the goals in some of its rounds and not in
    # others: their count rests on what the model reports for a cycle (None: not judged)
    p_cycle: float | None = None

    @property
    def label(self) -> str:
        return self.candidate.label

    def bargained_share(self, issue: str) -> float | None:
        """Share of the median goal effect that bargaining adds (None when not defined)."""
        imp = self.imposed.get(issue)
        total = self.effect[issue].median
        if imp is None or abs(total) < 1e-12:
            return None
        return 1.0 - imp / total

    @property
    def mechanical(self) -> bool:
        """Whether bargaining adds (almost) nothing to the effect on every goal issue."""
        shares = [self.bargained_share(i) for i in self.effect]
        return bool(shares) and all(s is not None and abs(s) < MECHANICAL_SHARE for s in shares)

    @property
    def flags(self) -> list[str]:
        """``mechanical``, and ``cycles N%`` when members' cycles straddle the goal."""
        out = ["mechanical"] if self.mechanical else []
        if self.p_cycle:
            out.append(f"cycles {100 * self.p_cycle:.0f}%")
        return out

    def json(self) -> dict[str, Any]:
        return {
            "plan": [{"lever": lv, "round": r} for lv, r in self.candidate.steps],
            "p_bargained": self.p_bargained,
            "p_cycle": self.p_cycle,
            "mechanical": self.mechanical,
            "flags": self.flags,
            "label": self.label,
            "cost": self.cost,
            "p_goals": self.p_goals,
            "p_interval": list(self.p_interval),
            "p_each": self.p_each,
            "effect": {k: v.json() for k, v in self.effect.items()},
            "imposed": self.imposed,
            "bargained_share": {k: self.bargained_share(k) for k in self.effect},
            "side_effects": {k: v.json() for k, v in self.side_effects.items()},
        }


class Scorer:
    """Scores plans on one set of members, with common random numbers.

    The baseline and the imposed-part forecasts are computed once; every call
    to :meth:`score` evaluates only the plans it is given, and only on the
    goal issues.
    """

    def __init__(self, scn: Scenario, goals: Sequence[AnyGoal], model: str, *,
                 members: int = DEFAULT_MEMBERS, seed: int = 0,
                 options: dict[str, dict] | None = None, rounds: int | None = None,
                 space: InputSpace | None = None, backend: str = "numpy"):
        if members < 1:
            raise OptionError(f"--members {members}: expected at least 1")
        from .sweep import backend_for

        self.scn, self.goals, self.model = scn, list(goals), model
        self.backend = backend_for(backend)
        self.options, self.rounds, self.seed = options or {}, rounds, seed
        self.space = space or input_space(scn)
        self.values = self.space.draw(seed, 0, members)
        self.members = members
        self.goal_issues = list(dict.fromkeys(i for g in self.goals for i in g.issues))
        self.imposed_by = imposed_rule(scn, model, self.options.get(model), rounds)
        self._next = 0
        base = self._evaluate([], self.goal_issues).get("baseline", {})
        missing = [i for i in self.goal_issues if i not in base.get("forecast", {})]
        if missing:
            raise OptionError(f"{model} gives no forecast on {', '.join(missing)}; "
                              "choose another --model")
        self.base = base
        self.base_cycle = self._p_cycle(base)
        self.base_met = np.ones(members, dtype=bool)
        for g in self.goals:
            self.base_met &= g.met(base["forecast"], base["forecast"])

    # -- evaluation -----------------------------------------------------------

    def _evaluate(self, plans: list[tuple[str, Candidate]], issues: Sequence[str]
                  ) -> dict[str, dict[str, dict[str, np.ndarray]]]:
        """label -> {"forecast"|"imposed": issue -> (members,)} for the baseline and ``plans``."""
        ivs = [baseline()] + [c.intervention(self.scn, key) for key, c in plans]
        out: dict[str, dict[str, dict[str, np.ndarray]]] = {}
        rules = [("forecast", self.model, self.options.get(self.model))]
        if self.imposed_by is not None and self.imposed_by[0] != self.model:
            rules.append(("imposed", self.imposed_by[0], self.imposed_by[1]))
        for part, model, opts in rules:
            ens = Ensemble(self.space, [model], ivs, options={model: opts or {}},
                           rounds=self.rounds if part == "forecast" else None,
                           backend=self.backend,
                           engine_seed=self.seed, issues=list(issues))
            ev = ens.evaluate(self.values, members=range(self.members))
            for (m, label, iss, wo), f in ev.forecasts.items():
                if iss in issues:
                    key = "baseline" if label == "baseline" else label.split(":", 1)[1]
                    out.setdefault(key, {}).setdefault(part, {})[iss] = f
                    if part == "forecast" and (m, label, iss, wo) in ev.cycles:
                        lo, hi = ev.cycles[(m, label, iss, wo)]
                        out[key].setdefault("cycle", {})[iss] = (lo, hi)
        if self.imposed_by is not None and self.imposed_by[0] == self.model:
            for v in out.values():
                v["imposed"] = v["forecast"]
        return out

    def _key(self) -> str:
        self._next += 1
        return f"advise-{self._next}"

    def score(self, candidates: Sequence[Candidate]) -> list[Score]:
        keyed = [(self._key(), c) for c in candidates]
        got = self._evaluate(keyed, self.goal_issues) if keyed else {}
        return [self._score(c, got[k]) for k, c in keyed]

    def _score(self, cand: Candidate, got: dict[str, dict[str, np.ndarray]]) -> Score:
        f = got["forecast"]
        ok = np.ones(self.members, dtype=bool)
        each = {}
        for g in self.goals:
            met = g.met(f, self.base["forecast"])
            each[g.label] = float(met.mean())
            ok &= met
        effect = {i: Spread.of(f[i] - self.base["forecast"][i]) for i in self.goal_issues}
        imposed: dict[str, float | None] = {}
        for i in self.goal_issues:
            if "imposed" in got and "imposed" in self.base:
                imposed[i] = float(np.median(got["imposed"][i] - self.base["imposed"][i]))
            else:
                imposed[i] = None
        k = int(ok.sum())
        toward = sum(g.direction(i, self.base["forecast"]) * effect[i].median
                     for g in self.goals for i in g.issues)
        p_barg = None
        if "imposed" in got:
            imposed_ok = np.ones(self.members, dtype=bool)
            for g in self.goals:
                imposed_ok &= g.met(got["imposed"], self.base["imposed"])
            p_barg = float((ok & ~imposed_ok).mean())
        return Score(cand, cost_of(self.scn, cand.levers), k / self.members,
                     wilson(k, self.members), each, effect, imposed, toward, p_barg, ok,
                     p_cycle=self._p_cycle(got))

    def _p_cycle(self, got: dict[str, Any]) -> float | None:
        """Share of members whose cycle meets every goal in its best round and misses one in
        its worst (bounds on issues only; None where another kind of goal is set)."""
        cycles = got.get("cycle")
        if cycles is None or not all(isinstance(g, Goal) for g in self.goals):
            return None
        f = got["forecast"]
        best = np.ones(self.members, dtype=bool)
        worst = np.ones(self.members, dtype=bool)
        for g in self.goals:
            lo, hi = cycles.get(g.issue, (None, None))
            if lo is None:
                lo = hi = f[g.issue]
            lo = np.where(np.isfinite(lo), lo, f[g.issue])
            hi = np.where(np.isfinite(hi), hi, f[g.issue])
            up, down = (hi, lo) if g.sign > 0 else (lo, hi)
            best &= g.met({g.issue: up}, self.base["forecast"])
            worst &= g.met({g.issue: down}, self.base["forecast"])
        return float((best & ~worst).mean())

    def baseline_p(self) -> tuple[float, tuple[float, float], dict[str, Spread]]:
        ok = np.ones(self.members, dtype=bool)
        for g in self.goals:
            ok &= g.met(self.base["forecast"], self.base["forecast"])
        k = int(ok.sum())
        return (k / self.members, wilson(k, self.members),
                {i: Spread.of(self.base["forecast"][i]) for i in self.goal_issues})

    def side_effects(self, scores: Sequence[Score]) -> None:
        """Fill each score's effect on the issues that are not goals."""
        others = [i.id for i in self.scn.issues if i.id not in self.goal_issues]
        if not others or not scores:
            return
        keyed = [(self._key(), s.candidate) for s in scores]
        got = self._evaluate(keyed, others)
        base = got["baseline"]["forecast"]
        for (key, _), s in zip(keyed, scores):
            f = got[key]["forecast"]
            s.side_effects = {i: Spread.of(f[i] - base[i]) for i in others if i in f}


def imposed_rule(scn: Scenario, model: str, overrides: dict | None, rounds: int | None
                 ) -> tuple[str, dict] | None:
    """The model whose forecast is ``model``'s forecast rule with no bargaining round.

    The EUM forecasts BDM's weighted median μ (or the weighted mean): the median
    (compromise) baseline with capability x salience weights is that rule.  A
    baseline is its own rule.  Other models have none here (None).
    """
    if model in ("compromise", "median", "status-quo"):
        return (model, dict(overrides or {}))
    if model == "eum":
        opts = make_options(get_model("eum"), resolve_options(scn, "eum", overrides, rounds))
        if opts.forecast == "mean":
            return ("compromise", {"weights": "cs"})
        return ("median", {"weights": "cs", "median_tie": opts.median_tie})
    return None


def reaches_goal(scn: Scenario, lever: Lever, issues: Sequence[str], joint: bool) -> bool:
    """Whether ``lever`` can change a forecast on ``issues``: always for a joint model;
    for single-issue models, when an effect names an actor with a stance there."""
    return joint or any(touches(scn, eff, iss) for eff in lever.effects for iss in issues)


@dataclass
class Advice:
    """What the search found."""

    goals: list[AnyGoal]
    model: str
    members: int
    seed: int
    method: str
    reaching: list[str]  # levers that can move a goal issue
    left_out: list[str]  # levers that cannot
    budget: float | None
    evaluated: int  # plans scored by the search (orderings and persuasion not counted)
    baseline_p: float
    baseline_interval: tuple[float, float]
    baseline_forecast: dict[str, Spread]
    ranked: list[Score]
    front: list[Score]
    orders: dict[str, OrderSpread] = field(default_factory=dict)
    persuasion: list[Persuasion] = field(default_factory=list)
    seconds: float = 0.0
    rank: str = "p"
    lever_values: dict[str, float] = field(default_factory=dict)
    lever_values_exact: bool = False
    baseline_p_cycle: float | None = None  # see Score.p_cycle

    def json(self) -> dict[str, Any]:
        return {
            "goals": [g.label for g in self.goals],
            "model": self.model,
            "members": self.members,
            "seed": self.seed,
            "method": self.method,
            "rank": self.rank,
            "levers_searched": self.reaching,
            "levers_left_out": self.left_out,
            "budget": self.budget,
            "plans_evaluated": self.evaluated,
            "baseline": {"p_goals": self.baseline_p, "p_interval": list(self.baseline_interval),
                         "p_cycle": self.baseline_p_cycle,
                         "forecast": {k: v.json() for k, v in self.baseline_forecast.items()}},
            "ranked": [s.json() for s in self.ranked],
            "pareto_front": [s.label for s in self.front],
            "orders": {k: v.json() for k, v in self.orders.items()},
            "who_to_work_on": [p.json() for p in self.persuasion],
            "lever_values": self.lever_values,
            "lever_values_method": "shapley" if self.lever_values_exact else "mean marginal",
            "seconds": self.seconds,
        }


def pareto_front(scores: Sequence[Score]) -> list[Score]:
    """Plans no other plan beats on both success share (higher) and cost (lower)."""
    front = []
    for s in scores:
        if not any((o.p_goals >= s.p_goals and o.cost <= s.cost)
                   and (o.p_goals > s.p_goals or o.cost < s.cost) for o in scores):
            front.append(s)
    return sorted(front, key=lambda s: (s.cost, -s.p_goals))


Rank = Literal["p", "robust", "bargained"]


def _rank_key(s: Score, rank: Rank = "p") -> tuple:
    """Sort key, best first: by success share ("p"), by the lower end of its interval
    ("robust"), or by the share reached only through bargaining ("bargained"); then
    cheaper, then further toward the goals."""
    if rank == "robust":
        first = -s.p_interval[0]
    elif rank == "bargained":
        first = -(s.p_bargained if s.p_bargained is not None else -1.0)
    else:
        first = -s.p_goals
    return (first, s.cost, -s.toward, s.label)


def advise(scn: Scenario, goals: Sequence[AnyGoal], *, model: str = "eum",
           budget: float | None = None, members: int = DEFAULT_MEMBERS, seed: int = 0,
           max_levers: int | None = None, method: Literal["auto", "exhaustive", "beam"] = "auto",
           beam: int = DEFAULT_BEAM, top: int = DEFAULT_TOP, orders: bool = True,
           persuade: bool = True, options: dict[str, dict] | None = None,
           rounds: int | None = None, rank: Rank = "p", backend: str = "numpy") -> Advice:
    """Search plans from the scenario's levers for ``goals``; see the module docstring."""
    t0 = time.perf_counter()
    if not goals:
        raise OptionError("give at least one goal: --goal ISSUE>=VALUE or --for ACTOR")
    if not scn.levers:
        raise OptionError("the scenario has no levers to search")
    if budget is not None and budget < 0:
        raise OptionError(f"--budget {budget}: expected 0 or more")
    joint = get_model(model).scope == "joint"
    issues = list(dict.fromkeys(i for g in goals for i in g.issues))
    reaching = [lv.id for lv in scn.levers if reaches_goal(scn, lv, issues, joint)]
    left_out = [lv.id for lv in scn.levers if lv.id not in reaching]
    if not reaching:
        raise OptionError(f"no lever of the scenario touches {', '.join(issues)}")
    limit = len(reaching) if max_levers is None else max(1, min(max_levers, len(reaching)))
    if method == "auto":
        method = "exhaustive" if len(reaching) <= EXHAUSTIVE_LEVERS else "beam"
    scorer = Scorer(scn, goals, model, members=members, seed=seed, options=options,
                    rounds=rounds, backend=backend)
    order = {lv.id: k for k, lv in enumerate(scn.levers)}

    def cand(levers: Sequence[str]) -> Candidate:
        ids = sorted(levers, key=order.__getitem__)
        return Candidate(tuple((lv, scn.lever(lv).round) for lv in ids))

    def affordable(levers: Sequence[str]) -> bool:
        return budget is None or cost_of(scn, levers) <= budget + 1e-12

    scores: list[Score] = []
    if method == "exhaustive":
        sets = [c for k in range(1, limit + 1) for c in itertools.combinations(reaching, k)
                if affordable(c)]
        scores = scorer.score([cand(c) for c in sets])
    else:
        seen: set[frozenset[str]] = set()
        frontier: list[frozenset[str]] = [frozenset()]
        for _ in range(limit):
            grown = []
            for base_set in frontier:
                for lv in reaching:
                    new = base_set | {lv}
                    if lv in base_set or new in seen or not affordable(list(new)):
                        continue
                    seen.add(new)
                    grown.append(new)
            if not grown:
                break
            got = scorer.score([cand(list(s)) for s in grown])
            scores.extend(got)
            got.sort(key=lambda s: _rank_key(s, rank))
            frontier = [frozenset(s.candidate.levers) for s in got[:beam]]
    if not scores:
        raise OptionError(f"no plan fits the budget {budget:g}" if budget is not None
                          else "no plan to score")
    if rank == "bargained" and scorer.imposed_by is None:
        raise OptionError(f"--rank bargained: {model} has no imposed-part rule here; "
                          "use --rank p or robust")
    scores.sort(key=lambda s: _rank_key(s, rank))
    front = pareto_front(scores)
    report = scores[:top] + [s for s in front if all(s is not r for r in scores[:top])]
    scorer.side_effects(report)
    p, ci, fc = scorer.baseline_p()
    advice = Advice(list(goals), model, members, seed, method, reaching, left_out, budget,
                    len(scores), p, ci, fc, report, front, rank=rank,
                    baseline_p_cycle=scorer.base_cycle)
    advice.lever_values, advice.lever_values_exact = lever_values(scores, reaching, p)
    if orders:
        for s in report[:3]:
            if len(s.candidate.steps) > 1:
                advice.orders[s.label] = order_spread(scorer, s.candidate.levers)
    if persuade:
        advice.persuasion = persuasion(scorer)
    advice.seconds = time.perf_counter() - t0
    return advice


def lever_values(scores: Sequence[Score], levers: Sequence[str], base_p: float
                 ) -> tuple[dict[str, float], bool]:
    """Which levers matter: each lever's contribution to the share meeting the goals.

    When every subset of ``levers`` was scored, the exact Shapley value (Shapley 1953) of
    the game "share of members meeting the goals" over the levers (the empty plan is the
    baseline): the lever's marginal gain averaged over every order of building the plan.
    Otherwise (a beam search, a budget) the mean marginal gain over the scored pairs of
    plans that differ by that lever only.  The second value says which.
    """
    value = {frozenset(s.candidate.levers): s.p_goals for s in scores}
    value[frozenset()] = base_p
    n = len(levers)
    exact = len(value) == 2**n
    out: dict[str, float] = {}
    for lv in levers:
        gains, weights = [], []
        for subset, v in value.items():
            if lv in subset or (subset | {lv}) not in value:
                continue
            gains.append(value[subset | {lv}] - v)
            k = len(subset)
            weights.append(math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n)
                           if exact else 1.0)
        out[lv] = float(np.dot(gains, weights) / (1.0 if exact else max(len(gains), 1)))
    return dict(sorted(out.items(), key=lambda kv: -kv[1])), exact


@dataclass
class OrderSpread:
    """A plan's outcomes over the orderings and timings of its levers."""

    levers: tuple[str, ...]
    scores: list[Score]
    exhaustive: bool
    written: Score | None = None  # the plan as its authors wrote it, when it is one
    sampled: int = 0  # orderings scored, besides all at once and the plan as written

    @property
    def best(self) -> Score:
        return min(self.scores, key=_rank_key)

    @property
    def worst(self) -> Score:
        return max(self.scores, key=_rank_key)

    @property
    def p_range(self) -> tuple[float, float]:
        ps = [s.p_goals for s in self.scores]
        return (min(ps), max(ps))

    def effect_range(self, issue: str) -> tuple[float, float]:
        e = [s.effect[issue].median for s in self.scores]
        return (min(e), max(e))

    def matters(self) -> bool:
        """Whether the best and worst orderings differ by at least :data:`ORDER_MATTERS`
        in success share, and the members tell them apart (:func:`paired_differ`)."""
        best, worst = self.best, self.worst
        if best.p_goals - worst.p_goals < ORDER_MATTERS - 1e-12:
            return False
        return best.met is None or worst.met is None or paired_differ(best.met, worst.met)

    def json(self) -> dict[str, Any]:
        return {"levers": list(self.levers), "orderings": len(self.scores),
                "all_orderings": self.exhaustive, "p_range": list(self.p_range),
                "order_matters": self.matters(), "best": self.best.label,
                "worst": self.worst.label,
                "as_written": None if self.written is None else {
                    "label": self.written.label, "p_goals": self.written.p_goals,
                    "effect": {k: v.median for k, v in self.written.effect.items()}},
                "scores": [{"label": s.label, "p_goals": s.p_goals,
                            "effect": {k: v.median for k, v in s.effect.items()}}
                           for s in self.scores]}


def orderings(levers: Sequence[str], seed: int = 0, limit: int = MAX_ORDERS
              ) -> tuple[list[Candidate], bool]:
    """All at once (round 0), then each ordering at rounds 0, 1, 2, ...

    Every ordering up to ``limit`` of them; beyond, ``limit`` distinct ones
    drawn with ``seed`` (the second value says whether all were taken).
    """
    levers = list(levers)
    out = [Candidate(tuple((lv, 0) for lv in levers))]
    if math.factorial(len(levers)) <= limit:
        perms = list(itertools.permutations(levers))
        exhaustive = True
    else:
        rng = np.random.default_rng([seed, len(levers)])
        found: dict[tuple[str, ...], None] = {}
        while len(found) < limit:
            found[tuple(levers[k] for k in rng.permutation(len(levers)))] = None
        perms = list(found)
        exhaustive = False
    out.extend(Candidate(tuple((lv, k) for k, lv in enumerate(p))) for p in perms)
    return out, exhaustive


def order_spread(scorer: Scorer, levers: Sequence[str],
                 written: Candidate | None = None) -> OrderSpread:
    """Score ``levers`` in every ordering and all at once (see :func:`orderings`),
    and the ``written`` plan when given (counted among the orderings)."""
    cands, exhaustive = orderings(levers, scorer.seed)
    sampled = len(cands) - 1
    if written is not None and written not in cands:
        cands.append(written)
    scores = scorer.score(cands)
    mine = None if written is None else scores[cands.index(written)]
    return OrderSpread(tuple(levers), scores, exhaustive, mine, sampled)


def plan_order(scn: Scenario, plan_id: str, goals: Sequence[AnyGoal], **kw: Any) -> OrderSpread:
    """Order spread of one of the scenario's plans (e.g. an article's sequence)."""
    try:
        plan = scn.plan(plan_id)
    except KeyError:
        known = ", ".join(p.id for p in scn.plans) or "none"
        raise OptionError(f"unknown plan {plan_id!r} (scenario plans: {known})") from None
    scorer = Scorer(scn, goals, **kw)
    steps = tuple((st.lever, scn.lever(st.lever).round if st.round is None else st.round)
                  for st in plan.steps)
    return order_spread(scorer, [lv for lv, _ in steps], Candidate(steps))


@dataclass
class Persuasion:
    """The rise in the goals' success share when one actor is moved a little."""

    actor: str
    issue: str
    what: Literal["position", "salience"]
    shift: float  # on the issue's scale (position) or on [0, 1] (salience)
    p_goals: float
    gain: float  # p_goals minus the baseline's
    significant: bool = False  # the members tell it from the baseline (paired_differ)

    def json(self) -> dict[str, Any]:
        return {"actor": self.actor, "issue": self.issue, "what": self.what,
                "shift": self.shift, "p_goals": self.p_goals, "gain": self.gain,
                "significant": self.significant}


def persuasion(scorer: Scorer, position_share: float = PERSUADE_POSITION,
               salience_step: float = PERSUADE_SALIENCE) -> list[Persuasion]:
    """Per actor with a stance on a goal issue: the success share after a small shift.

    A position moves toward the goal by ``position_share`` of the scale; a
    salience rises by ``salience_step`` when the actor already stands on the
    goal's side of it (raising an opponent's salience would not help).  Sorted
    by gain, largest first.
    """
    scn = scorer.scn
    base_p = scorer.baseline_p()[0]
    pending: list[tuple[Candidate, Persuasion]] = []
    extra: list[Lever] = []
    base = scorer.base["forecast"]
    for g in scorer.goals:
        for issue in g.issues:
            iss = scn.issue(issue)
            span = iss.scale.max - iss.scale.min
            sign = g.direction(issue, base)
            target = float(np.median(base[issue]))
            for a in scn.actors:
                entry = scn.entry(a.id, issue)
                if entry is None or not a.present:
                    continue
                step = sign * position_share * span
                lv_id = f"persuade-{a.id}-{issue}-position"
                extra.append(Lever(id=lv_id, name=lv_id, effects=[Effect(
                    actor=a.id, issues=[issue], position=Change(add=step))]))
                pending.append((Candidate(((lv_id, 0),)),
                                Persuasion(a.id, issue, "position", step, 0.0, 0.0)))
                # Raising the salience of an actor that pulls the other way would not help.
                if (entry.position.value - target) * sign > 0 and entry.salience.value < 1:
                    lv_id = f"persuade-{a.id}-{issue}-salience"
                    extra.append(Lever(id=lv_id, name=lv_id, effects=[Effect(
                        actor=a.id, issues=[issue], salience=Change(add=salience_step))]))
                    pending.append((Candidate(((lv_id, 0),)), Persuasion(
                        a.id, issue, "salience", salience_step, 0.0, 0.0)))
    if not pending:
        return []
    original = scorer.scn
    scorer.scn = scn.model_copy(update={"levers": [*scn.levers, *extra]})
    try:
        scores = scorer.score([c for c, _ in pending])
    finally:
        scorer.scn = original
    out = []
    for (_, p), s in zip(pending, scores):
        p.p_goals = s.p_goals
        p.gain = s.p_goals - base_p
        p.significant = s.met is not None and paired_differ(s.met, scorer.base_met)
        out.append(p)
    return sorted(out, key=lambda p: (-p.gain, p.actor, p.what))
