"""Stokman's exchange model of voting positions: equal gain and random rate.

Stokman & Van Oosten (1994), as implemented by decide-exchange-model
(Draaijer; spec §4), with the randomised equal-gain variant of Dijkstra et
al. (2018) (spec §4.5).  The arithmetic and the round loop live in
:mod:`stakes.kernels.exchange`; this module maps a :class:`Problem` onto the
kernel's 0-100 scale and back, applies levers between rounds and writes the
round records.

Input conventions of this model:

* **Absent actors.**  A joint problem holds every actor on every issue; an actor
  that takes no part in an issue has NaN position (or NaN salience) there and
  is left out of that issue entirely, as decide leaves out an actor without a
  ``#D`` row (spec §4.1).
* **Exact decimals.**  The default arithmetic (``decimal28``) is decide's: 28
  significant digits, numbers taken from their decimal text.  Float arrays are
  read through ``Decimal(repr(value))``: the shortest repr of a float is the
  decimal text it was parsed from whenever that text had at most 15
  significant digits, as in every reference file.  Object arrays holding
  :class:`~decimal.Decimal` values or decimal text (``None``/NaN = absent) are
  used as they are.
* **Scale.**  Positions are on each issue's own scale ``[lo, hi]``; the model
  maps them to 0-100 with decide's ``x = (x_raw - lo) * f``, ``f = 100 /
  (hi - lo)`` and reports positions and outcomes back on the issue's scale
  (``x / f + lo``).  Gains and externalities are in the model's own units
  (salience times a shift on the 0-100 scale).

There is no stopping rule other than the number of rounds (decide has none):
``stop`` is always ``"max_rounds"``.
"""

from __future__ import annotations

import decimal
import math
import random
from dataclasses import replace
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from ..errors import ModelError
from ..kernels.exchange import DECIMAL28, ExchangeKernel, numbers, scale_factor
from ..levers.timing import lever_timing
from .base import Event, Model, ModelOptions, ModelRun, Problem, RoundRecord, Schedule


class ExchangeOptions(ModelOptions):
    """Options of the exchange model (spec §4.1, 4.4, 4.5)."""

    arithmetic: Literal["decimal28", "float"] = Field(
        "decimal28",
        description="Number type of every computation: 28-digit decimals with round-half-even, "
        "as decide computes, which reproduces decide's ties and knife edges exactly; or "
        "binary floats (faster, departs from decide at the first knife edge, round 1 or 2 of "
        "the reference files) (source: decide-exchange-model; spec §4.1).",
    )
    carry_over: Literal["blend", "voting_positions"] = Field(
        "blend",
        description="Positions the next round starts from: 'blend' moves an actor that "
        "exchanged from its round-start position x0 towards its voting position y by "
        "((1 - s)*0.4 + 0.1)*(y - x0), as decide's round driver does; 'voting_positions' "
        "starts from the voting positions (source: decide-exchange-model ModelLoop; "
        "spec §4.4 step 5).",
    )
    tie_break: Literal["list_order", "random"] = Field(
        "list_order",
        description="Candidates with equal gain: realised in list order (stable sort; decide "
        "with EqualGainModel.ALLOW_RANDOM = False, which the reference numbers use), or, "
        "when the two best valid gains differ by less than 1e-20, a fair draw decides which "
        "of the two is realised (decide's ALLOW_RANDOM = True, its default; decide also draws "
        "for ties with candidates that are already invalid and then lists the runner-up twice, "
        "so this mode does not follow decide draw for draw) (source: decide-exchange-model; "
        "spec §4.4).",
    )
    rounds: int = Field(
        10,
        ge=0,
        le=10_000,
        description="Number of rounds; there is no other stopping rule (source: decide's "
        "default iterations = 10; spec §4.4 step 6).",
    )
    p: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Random-rate parameter of the randomised equal-gain model: 0 is the "
        "equal-gain model; p > 0 perturbs each candidate's gain split by up to p of its "
        "range (source: Dijkstra et al. 2018; decide's --p; spec §4.5).",
    )
    repetitions: int = Field(
        1,
        ge=1,
        le=100_000,
        description="Independent repetitions of a random run (p > 0 or tie_break = 'random'), "
        "each from the input positions; positions and outcomes are averaged over them "
        "(source: decide's --repetitions; spec §4.5).",
    )

    seed: int | None = Field(
        None,
        ge=0,
        le=2**63 - 1,
        description="Seed of the Python Mersenne-Twister generator that makes the random draws "
        "(p > 0, tie_break = 'random'); by default it is drawn from the run's generator and "
        "recorded in the run's info. With tie_break = 'list_order' the draws are decide's own "
        "(u, v, z per computed candidate, in decide's order), so seed = S reproduces decide run "
        "with random.seed(S) and ALLOW_RANDOM = False exactly (source: decide-exchange-model; "
        "spec §4.5).",
    )

    @model_validator(mode="after")
    def _repetitions_need_randomness(self) -> "ExchangeOptions":
        if self.repetitions > 1 and self.p == 0 and self.tie_break == "list_order":
            raise ValueError(
                "repetitions > 1 repeat an identical deterministic run; they need p > 0 or "
                "tie_break = 'random'"
            )
        return self


def _absent(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, (float, np.floating)):
        return math.isnan(v)
    if isinstance(v, decimal.Decimal):
        return v.is_nan()
    return False


class _Scales:
    """Per-issue maps between the issue's own scale and decide's 0-100 scale."""

    def __init__(self, lo: np.ndarray, hi: np.ndarray, issue_ids: tuple[str, ...], arithmetic: str):
        self.nb = numbers(arithmetic)
        # finite, lo < hi: the problem's scales are checked when it is built
        self.lo_f = [float(v) for v in lo]
        self.hi_f = [float(v) for v in hi]
        self.lo = [self.nb.num(v) for v in self.lo_f]
        self.f = [scale_factor(lo_d, hi_d, arithmetic) for lo_d, hi_d in zip(lo, hi)]

    def to_100(self, v: Any, d: int):
        with decimal.localcontext(DECIMAL28):
            return (self.nb.num(v) - self.lo[d]) * self.f[d]

    def from_100(self, v: Any, d: int) -> float:
        if v is None:
            return math.nan
        with decimal.localcontext(DECIMAL28):
            if v == 0:
                return float(self.lo[d])
            return float(v / self.f[d] + self.lo[d])


def _kernel_inputs(problem: Problem, scales: _Scales) -> tuple[list, list, list]:
    """Nested ``[actor][issue]`` lists for the kernel; checks what this model alone needs
    (saliences and capabilities > 0): shapes, scales and ranges are the problem's own
    checks, made when it is built."""
    n, D = problem.n, problem.dims
    pos = np.asarray(problem.position)
    sal = np.asarray(problem.salience)
    cap = np.asarray(problem.capability)
    num = scales.nb.num
    X = [[None] * D for _ in range(n)]
    S = [[None] * D for _ in range(n)]
    C = [[None] * D for _ in range(n)]
    bad: list[str] = []
    for a in range(n):
        aid = problem.actor_ids[a]
        for d in range(D):
            iid = problem.issue_ids[d]
            x, s, c = pos[a, d], sal[a, d], cap[a, d]
            if _absent(x) or _absent(s):
                continue
            where = f"actor {aid!r} on issue {iid!r}"
            xv, sv, cv = num(x), num(s), num(c)
            if not sv > 0:
                bad.append(
                    f"{where}: salience {float(sv):g}; the exchange model needs saliences > 0 "
                    "(salience ratios decide who supplies which issue)"
                )
            if not cv > 0:
                bad.append(
                    f"{where}: capability {float(cv):g}; the exchange model needs capabilities "
                    "> 0 (moves are divided by salience x capability)"
                )
            X[a][d] = scales.to_100(xv, d)
            S[a][d] = sv
            C[a][d] = cv
    if bad:
        raise ModelError("exchange model cannot run on this input:\n  " + "\n  ".join(bad))
    return X, S, C


def build_kernel(
    problem: Problem,
    options: ExchangeOptions | None = None,
    rand: random.Random | None = None,
) -> ExchangeKernel:
    """The kernel of ``problem`` on decide's 0-100 scale, before its first round.

    For callers that want the exact numbers (``Decimal`` with ``decimal28``): the
    kernel's ``outcome()`` and ``play_round()`` return them unrounded.
    """
    opts = options or ExchangeOptions()
    if problem.dims < 2:
        raise ModelError(
            f"the exchange model needs at least 2 issues (actors trade influence across "
            f"issues); got {problem.dims}"
            + (f" ({', '.join(problem.issue_ids)})" if problem.dims else "")
        )
    scales = _Scales(problem.lo, problem.hi, problem.issue_ids, opts.arithmetic)
    X, S, C = _kernel_inputs(problem, scales)
    if rand is None and (opts.p > 0 or opts.tie_break == "random"):
        raise ModelError("p > 0 or tie_break = 'random' need a random generator (rand)")
    return ExchangeKernel(
        X, S, C,
        arithmetic=opts.arithmetic,
        carry_over=opts.carry_over,
        tie_break=opts.tie_break,
        p=repr(float(opts.p)),
        rand=rand,
        channels=_channels(problem),
    )


def _channels(problem: Problem) -> np.ndarray | None:
    # The scenario's bargaining channels: no exchange between actors that cannot trade.
    return None if problem.channels is None else problem.channels.mask(problem.actor_ids)


def _unchanged(new: Any, old: Any) -> bool:
    if _absent(new) and _absent(old):
        return True
    if _absent(new) or _absent(old):
        return False
    try:
        return float(new) == float(old)
    except (TypeError, ValueError):
        return False


class Exchange(Model):
    """Stokman's exchange model of voting positions (equal gain; random rate with p > 0).

    Levers: the steps of round r are applied at the start of round r to the
    positions the round would start from (after the carry-over of round r - 1),
    with positions on the issues' own scale.  Values a lever leaves unchanged
    keep their exact decimal state; changed ones are read from their float
    value.  Actors may be added or removed (matched by id); the issues must stay
    the same.
    """

    name = "exchange"
    title = "Exchange model (Stokman & Van Oosten; equal gain / random rate)"
    references = ("Stokman & Van Oosten 1994", "Dijkstra et al. 2018")
    scope = "joint"
    Options = ExchangeOptions

    def run(
        self,
        problem: Problem,
        options: ModelOptions,
        schedule: Schedule,
        rng: np.random.Generator,
    ) -> ModelRun:
        opts = self.own_options(options)
        if problem.dims < 2:
            build_kernel(problem, opts)  # raises the ModelError
        needs_random = opts.p > 0 or opts.tie_break == "random"
        seed = None
        if needs_random:
            seed = opts.seed if opts.seed is not None else int(rng.integers(0, 2**63 - 1))
        rand = random.Random(seed) if needs_random else None
        timing = lever_timing(schedule.rounds() if schedule else (), opts.rounds)
        lever_rounds = timing.applied

        reps = [
            self._repetition(problem, opts, schedule, lever_rounds, rand)
            for _ in range(opts.repetitions)
        ]
        rounds = self._combine(reps)
        info: dict[str, Any] = {
            "stop_detail": f"max_rounds ({opts.rounds}) reached; the model has no other "
            "stopping rule",
            "rounds_run": opts.rounds,
            "scale": "positions and outcomes on each issue's own scale; gains in salience x "
            "0-100 outcome shift",
            "realised": reps[0]["realised"],
            "candidates": reps[0]["candidates"],
        }
        if seed is not None:
            info["seed"] = seed
        if opts.repetitions > 1:
            info["repetitions"] = opts.repetitions
            info["outcome_by_repetition"] = [rep["forecasts"][-1].tolist() for rep in reps]
            info["note"] = (
                "positions and outcomes are means over the repetitions; 'realised' lists "
                "repetition 1"
            )
        # No stopping rule ends a run early, so every applied lever acts.
        info.update(timing.info())
        forecast = rounds[-1].forecast.copy()
        return ModelRun(
            self.name, problem.issue_ids, opts.model_dump(), rounds, forecast, "max_rounds", info
        )

    # ------------------------------------------------------------------ one repetition

    def _repetition(self, problem, opts, schedule, lever_rounds, rand) -> dict:
        cur = problem
        scales = _Scales(cur.lo, cur.hi, cur.issue_ids, opts.arithmetic)
        kern = build_kernel(cur, opts, rand)
        if 0 in lever_rounds:
            # A lever at round 0 changes the inputs: round 0's record shows them after it.
            cur, kern, scales = self._apply_levers(0, cur, kern, scales, schedule, opts)
        D = cur.dims
        pos0 = np.array(
            [
                [math.nan if _absent(v) else float(v) for v in row]
                for row in np.asarray(cur.position)
            ],
            dtype=float,
        ).reshape(cur.n, D)
        out0 = [scales.from_100(v, d) for d, v in enumerate(kern.outcome())]
        rec = {
            "actor_ids": [cur.actor_ids],
            "positions": [pos0],
            "forecasts": [np.array(out0, dtype=float)],
            "extra": [{}],
            "realised": [],
            "candidates": [],
        }
        for r in range(opts.rounds):
            if r in lever_rounds and r > 0:
                cur, kern, scales = self._apply_levers(r, cur, kern, scales, schedule, opts)
            res = kern.play_round()
            ids = cur.actor_ids
            voting = np.array(
                [[scales.from_100(res.voting[a][d], d) for d in range(D)] for a in range(cur.n)],
                dtype=float,
            ).reshape(cur.n, D)
            outcome = np.array([scales.from_100(v, d) for d, v in enumerate(res.outcome)])
            rec["actor_ids"].append(ids)
            rec["positions"].append(voting)
            rec["forecasts"].append(outcome)
            rec["extra"].append(
                {
                    "exchanges": len(res.realised),
                    "start_outcome": [
                        scales.from_100(v, d) for d, v in enumerate(res.start_outcome)
                    ],
                    "externalities": [float(v) for v in res.externalities],
                }
            )
            rec["realised"].append(
                [self._realised(e, ids, cur.issue_ids, scales) for e in res.realised]
            )
            rec["candidates"].append(res.candidates)
        return rec

    @staticmethod
    def _realised(e, actor_ids, issue_ids, scales: _Scales) -> dict:
        def side(actor, issue, start, frm, to, gain):
            return {
                "actor": actor_ids[actor],
                "issue": issue_ids[issue],
                "start": scales.from_100(start, issue),
                "from": scales.from_100(frm, issue),
                "to": scales.from_100(to, issue),
                "gain": float(gain),
            }

        return {
            "x": side(e.x_actor, e.x_issue, e.x_start, e.x_from, e.x_to, e.x_gain),
            "y": side(e.y_actor, e.y_issue, e.y_start, e.y_from, e.y_to, e.y_gain),
            "gain": float(e.gain),
        }

    def _apply_levers(self, r, cur, kern, scales, schedule, opts):
        D = cur.dims
        x_now = np.array(
            [[scales.from_100(kern.position[a][d], d) for d in range(D)] for a in range(cur.n)],
            dtype=float,
        ).reshape(cur.n, D)
        # the lever sees the current positions, and the saliences and capabilities
        # the kernel holds (NaN where an actor is absent)
        passed = replace(
            cur.with_positions(x_now),
            salience=np.array(
                [[math.nan if v is None else float(v) for v in row] for row in kern.salience],
                dtype=float,
            ).reshape(cur.n, D),
            capability=np.array(
                [[math.nan if v is None else float(v) for v in row] for row in kern.capability],
                dtype=float,
            ).reshape(cur.n, D),
        )
        new = schedule.apply(r, passed)
        if tuple(new.issue_ids) != tuple(cur.issue_ids):
            raise ModelError(
                f"a lever at round {r} changed the issues of an exchange-model run "
                f"({cur.issue_ids} -> {new.issue_ids}); levers may change actors and values only"
            )
        new_scales = _Scales(new.lo, new.hi, new.issue_ids, opts.arithmetic)
        X, S, C = _kernel_inputs(new, new_scales)
        # keep the exact decimals of whatever the lever did not touch
        old_row = {aid: a for a, aid in enumerate(passed.actor_ids)}
        same_scale = [
            new_scales.lo_f[d] == scales.lo_f[d] and new_scales.hi_f[d] == scales.hi_f[d]
            for d in range(D)
        ]
        npos, nsal, ncap = (np.asarray(new.position), np.asarray(new.salience),
                            np.asarray(new.capability))
        for a, aid in enumerate(new.actor_ids):
            o = old_row.get(aid)
            if o is None:
                continue
            for d in range(D):
                if X[a][d] is None:
                    continue
                if same_scale[d] and _unchanged(npos[a, d], passed.position[o, d]):
                    X[a][d] = kern.position[o][d]
                if _unchanged(nsal[a, d], passed.salience[o, d]):
                    S[a][d] = kern.salience[o][d]
                if _unchanged(ncap[a, d], passed.capability[o, d]):
                    C[a][d] = kern.capability[o][d]
        kern = ExchangeKernel(
            X, S, C,
            arithmetic=opts.arithmetic,
            carry_over=opts.carry_over,
            tie_break=opts.tie_break,
            p=kern.p,
            rand=kern.rand,
            channels=_channels(new),
        )
        return new, kern, new_scales

    # ------------------------------------------------------------------ records

    @staticmethod
    def _combine(reps: list[dict]) -> list[RoundRecord]:
        first = reps[0]
        out = []
        for t in range(len(first["positions"])):
            ids = first["actor_ids"][t]
            if any(rep["actor_ids"][t] != ids for rep in reps[1:]):
                raise ModelError(f"repetitions disagree on the actors of round {t}")
            if len(reps) == 1:
                pos = first["positions"][t]
                fc = first["forecasts"][t]
                extra = dict(first["extra"][t])
            else:
                with np.errstate(invalid="ignore"):
                    pos = np.mean([rep["positions"][t] for rep in reps], axis=0)
                    fc = np.mean([rep["forecasts"][t] for rep in reps], axis=0)
                extra = dict(first["extra"][t])
                if t > 0:
                    extra["exchanges_by_repetition"] = [
                        rep["extra"][t]["exchanges"] for rep in reps
                    ]
                    extra["outcome_sd"] = np.std(
                        [rep["forecasts"][t] for rep in reps], axis=0
                    ).tolist()
            events = [] if t == 0 else [_exchange_event(e) for e in first["realised"][t - 1]]
            out.append(RoundRecord(t, tuple(ids), pos, fc.copy(), fc.copy(), extra, events))
        return out


def _exchange_event(e: dict) -> Event:
    """One realised exchange as an event (of repetition 1 when there are several): the
    pair, the issue each side moves on, its shift on that issue's scale, and both gains."""
    x, y = e["x"], e["y"]
    detail = {side["actor"]: {"issue": side["issue"], "from": side["from"], "to": side["to"],
                              "shift": side["to"] - side["from"], "gain": side["gain"]}
              for side in (x, y)}
    return Event("exchange", (x["actor"], y["actor"]), (x["issue"], y["issue"]),
                 {"moves": detail, "gain": e["gain"]})
