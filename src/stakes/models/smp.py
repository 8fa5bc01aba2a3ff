"""KTAB's Spatial Model of Politics (SMP), all issues jointly.

The multi-dimensional, BDM-inspired bargaining model of KTAB v1.4 (KAPSARC;
Wise & Bankes 2015 for the PCE; Wise, "Markov voting with incentives in KTAB")
as specified in spec §3, with KTAB's defects of 3.6 fixed.  The
arithmetic lives in :mod:`stakes.kernels.smp`; this module maps issue scales to
KTAB's internal [0, 1], validates inputs and options, applies levers between
turns and writes the round records.

Forecast: KTAB prints no single forecast.  ``ModelRun.forecast`` is the
probability-weighted expected outcome over the unique final positions,
``sum_u P(u) x_u`` (spec §3.5); ``info`` also holds the most probable final
position and its probability, the capability-weighted mean of the final
positions, the stop ratios, the number of states and the per-state
probabilities.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from ..errors import ModelError, OptionError
from ..kernels import smp as k
from ..levers.timing import lever_timing
from .base import (Event, Model, ModelOptions, ModelRun, Problem, RoundRecord, Schedule,
                   weighted_mean)

_KTAB = "KTAB 1.4, lsyaseen/KTAB c57b72a"


def _enum(name: str, default: str, what: str) -> Any:
    values = k.CHOICES[name]
    codes = ", ".join(f"{v}={i}" for i, v in enumerate(values))
    return Field(
        default,
        description=f"{what} KTAB parameter {k.KTAB_NAMES[name]}, default {default} "
        f"(KTAB integer codes: {codes}) (source: {_KTAB}; spec §3.2).",
    )


class SMPOptions(ModelOptions):
    """Options of SMP: KTAB's nine parameters, its constants, and the fixes of spec §3.6."""

    victory_prob_model: Literal["Linear", "Square", "Quartic", "Octic", "Binary"] = _enum(
        "victory_prob_model", "Linear",
        "Pairwise victory probability from coalition strengths: C^nu/(C^nu + C'^nu) with nu = "
        "1, 2, 4, 8, or a 10%-threshold 'Binary' ramp (spec §3.3 e).",
    )
    pce_model: Literal["Conditional", "MarkovIncentive", "MarkovUniform"] = _enum(
        "pce_model", "Conditional",
        "Probabilistic Condorcet election: one-step conditional product, or a Markov chain "
        "with incentive-weighted or uniform challenges (spec §3.3 f).",
    )
    state_transitions: Literal["Deterministic", "Stochastic"] = _enum(
        "state_transitions", "Deterministic",
        "Queue resolution: the most probable entry, or one drawn from the PCE with the run's "
        "seeded generator (draws in actor order; reproducible, unlike KTAB, spec §3.6 1).",
    )
    voting_rule: Literal["Binary", "PropBin", "Proportional", "PropCbc", "Cubic", "ASymProsp"] = (
        _enum("voting_rule", "Proportional",
              "Vote as a function of the utility difference (spec §3.3 c).")
    )
    big_r_adjust: Literal["None", "OneThird", "Half", "TwoThirds", "Full"] = _enum(
        "big_r_adjust", "OneThird",
        "Actor h's estimate of i's risk attitude: R_h, (2R_h+R_i)/3, (R_h+R_i)/2, (R_h+2R_i)/3 "
        "or R_i.  'Full' runs normally here (KTAB 1.4 aborts on it, spec §3.6 2).",
    )
    big_r_range: Literal["Min", "Mid", "Max"] = _enum(
        "big_r_range", "Mid",
        "Range of risk attitudes mapped from the risk-neutral PCE: [0,1], [-1/2,1] or [-1,1] "
        "(spec §3.4 step 1).",
    )
    third_party_commit: Literal["NoCommit", "SemiCommit", "FullCommit"] = _enum(
        "third_party_commit", "SemiCommit",
        "What a third party expects when joining a side: keep its position if its side wins "
        "and move if it loses (Semi), never move (No), always move with the outcome (Full) "
        "(spec §3.4 step 3).",
    )
    inter_vec_brgn: Literal["S1P1", "S2P2", "S2PMax"] = _enum(
        "inter_vec_brgn", "S2P2",
        "Bargain interpolation weights: salience x probability, their squares, or only the "
        "weaker side moves (spec §3.4 step 4).",
    )
    bargn_model: Literal["InitOnlyInterp", "InitRcvrInterp", "PWCompInterp"] = _enum(
        "bargn_model", "InitOnlyInterp",
        "Bargains per proposal: the initiator's interpolation, both principals' (two "
        "bargains), or their capability x salience weighted compromise (spec §3.4 step 4).",
    )
    tp_prob: Literal["ktab", "side_dependent"] = Field(
        "ktab",
        description="Third party's win probability when valuing each side: 'ktab' uses one "
        "little-contest p_n for both sides (reproduces KTAB; makes NoCommit and FullCommit "
        "identical, with third parties inert, and warns when those are chosen); "
        "'side_dependent' adds n's own little-contest vote to the side it considers joining, "
        "so all three commitment models differ (source: stakes, fixing KTAB 1.4; "
        "spec §3.6 item 3).",
    )
    ktab_bargain_bug: bool = Field(
        False,
        description="Reproduce KTAB 1.4's values in InitRcvrInterp/PWCompInterp: j's "
        "interpolation uses j's expected gain instead of P^j_ij, and PWCompInterp weighs it "
        "with c_i S_j instead of c_j S_j (source: KTAB 1.4 smpbcn.cpp doBCN; spec §3.6 "
        "item 4).",
    )
    max_turns: int = Field(
        100, ge=1,
        description="Maximum number of turns; states = turns + 1 (source: KTAB smpc default "
        "maxIter = 100; spec §3.2).",
    )
    min_turns: int = Field(
        2, ge=1,
        description="Minimum number of turns before the stop-ratio test may end the run "
        "(source: KTAB smpc default minIter = 2; spec §3.2).",
    )
    stop_ratio: float = Field(
        0.02, ge=0.0,
        description="Stop when a turn's total movement divided by the first turn's (plus the "
        "guard) falls below this (source: KTAB smpStopFn minDeltaRatio; spec §3.4).",
    )
    stop_ratio_guard: float = Field(
        1e-4, gt=0.0,
        description="Added to the first turn's movement in the stop-ratio denominator "
        "(source: KTAB minSigDelta; spec §3.2).",
    )
    pos_tol: float = Field(
        1e-3, gt=0.0,
        description="Euclidean distance (internal [0,1] scale) below which two positions count "
        "as one unique position (source: KTAB SMPModel posTol; spec §3.5).",
    )
    min_sig_gain: float = Field(
        1e-5, ge=0.0,
        description="Smallest expected gain for which an actor challenges (source: KTAB "
        "bestChallenge minSigEDU; spec §3.4 step 3).",
    )
    bargain_eps: float = Field(
        1e-6, ge=0.0,
        description="Guard added to each mover's own interpolation weight (source: KTAB "
        "interpBrgnSnPm minW; spec §3.4 step 4).",
    )
    bargain_decimals: int | None = Field(
        4, ge=0, le=15,
        description="S1P1/S2P2 bargain coordinates are rounded half up to this many decimals "
        "on the internal [0,1] scale (4 = 0.01 on 0-100); null = no rounding (source: KTAB "
        "round4 in interpBrgnSnPm; spec §3.4 step 4).",
    )
    missing_positions: Literal["error", "drop_actor", "indifferent"] = Field(
        "error",
        description="An actor without a position on some issue: refuse the run ('error'), "
        "leave that actor out of SMP and say so in info['dropped_actors'] ('drop_actor'), or "
        "keep it as indifferent there: salience 0 at the issue's status quo (its midpoint "
        "where none is given), listed in info['indifferent'] ('indifferent') (source: stakes; "
        "KTAB requires every position).",
    )
    salience_normalization: Literal["error", "per_actor"] = Field(
        "error",
        description="An actor whose saliences sum to more than 1 over the issues: refuse the "
        "run ('error', KTAB's bound S_i <= 1), or divide that actor's saliences by their sum "
        "('per_actor': its priorities across issues are kept, its total becomes 1; listed in "
        "info['salience_normalized']) (source: stakes; KTAB 1.4 requires S_i <= 1, "
        "spec §3.1).",
    )
    capability_across_issues: Literal["equal", "mean", "salience_weighted"] = Field(
        "equal",
        description="SMP uses one capability per actor: 'equal' requires the same capability "
        "on every issue; 'mean' and 'salience_weighted' combine differing ones (source: stakes; "
        "KTAB has scalar capabilities, spec §3.1).",
    )

    @model_validator(mode="after")
    def _check(self) -> "SMPOptions":
        if self.min_turns > self.max_turns:
            raise OptionError(
                f"smp.min_turns ({self.min_turns}) must not exceed smp.max_turns "
                f"({self.max_turns})"
            )
        return self

    def params(self) -> k.SMPParams:
        names = {f for f in k.SMPParams.__dataclass_fields__}
        values = {f: v for f, v in self.model_dump().items() if f in names}
        try:
            return k.SMPParams(**values)
        except ValueError as exc:
            raise OptionError(f"smp: {exc}") from None


class SMP(Model):
    """KTAB's Spatial Model of Politics (spec §3)."""

    name = "smp"
    title = "KTAB Spatial Model of Politics (KAPSARC)"
    references = (
        "KTAB 2019",
        "Wise & Bankes 2015",
        "Wise, Markov voting with incentives in KTAB",
    )
    scope = "joint"
    Options = SMPOptions

    def run(
        self,
        problem: Problem,
        options: ModelOptions,
        schedule: Schedule,
        rng: np.random.Generator,
    ) -> ModelRun:
        opts = self.own_options(options)
        params = opts.params()
        lo = np.asarray(problem.lo, dtype=float)
        hi = np.asarray(problem.hi, dtype=float)
        span = hi - lo  # > 0: the problem's scales are checked when it is built
        if problem.dims < 1:
            raise ModelError("smp: the problem has no issues")

        timing = lever_timing(schedule.rounds() if schedule else (), opts.max_turns)
        if 0 in timing.applied:
            # A lever at round 0 changes the inputs: round 0's record shows them after it.
            problem = schedule.apply(0, problem)
        lever_rounds = tuple(r for r in timing.applied if r > 0)
        dropped: list[str] = []
        filled: dict[str, set[str]] = {}
        normalized: list[str] = []
        cur, keep, gaps = _usable(problem, opts, dropped, filled)
        x0, sal, cap, aff = _arrays(cur, keep, lo, span, opts, normalized)
        ids: list[tuple[str, ...]] = [tuple(cur.actor_ids[i] for i in keep)]
        cur = _restrict(cur, keep)
        start = cur
        state = {"problem": cur, "gaps": gaps[keep]}

        def hook(r: int, x: np.ndarray, ideal: np.ndarray):
            if r not in lever_rounds:
                ids.append(ids[-1])
                return None
            before = state["problem"]
            # Indifferent cells go to the levers as the gaps they are (levers skip them) and
            # come back holding the actor's current coordinate, not a fresh default.
            now = lo + x * span
            held = {a: (state["gaps"][i], now[i]) for i, a in enumerate(before.actor_ids)}
            g = state["gaps"]
            applied = schedule.apply(r, replace(
                before, position=np.where(g, np.nan, now),
                salience=np.where(g, np.nan, before.salience),
                capability=np.where(g, np.nan, before.capability)))
            if tuple(applied.issue_ids) != tuple(before.issue_ids):
                raise ModelError(
                    f"smp: a lever changed the issues ({', '.join(before.issue_ids)} -> "
                    f"{', '.join(applied.issue_ids)}); SMP keeps one set of issues"
                )
            nxt, kk, gaps_n = _usable(applied, opts, dropped, filled, held)
            x_new, sal_n, cap_n, aff_n = _arrays(nxt, kk, lo, span, opts, normalized)
            nxt = _restrict(nxt, kk)
            state["gaps"] = gaps_n[kk]
            # Ideals follow actors by id; a lever that moves an actor moves its ideal too.
            old = {a: i for i, a in enumerate(before.actor_ids)}
            ideal_new = x_new.copy()
            for i, a in enumerate(nxt.actor_ids):
                j = old.get(a)
                if j is not None and np.allclose(x_new[i], x[j], rtol=0, atol=1e-12):
                    x_new[i] = x[j]  # untouched: keep it exact (no scale round trip)
                    ideal_new[i] = ideal[j]
            state["problem"] = nxt
            ids.append(tuple(nxt.actor_ids))
            return x_new, ideal_new, sal_n, cap_n, aff_n, _channels(nxt)

        try:
            res = k.run_smp(
                x0, sal, cap, aff, params, rng,
                hook=hook if lever_rounds else None,
                # the kernel stops only after turn `hold`: never before the last lever acts
                hold=max(timing.last, 0),
                channels=_channels(cur),
            )
        except ValueError as exc:
            raise OptionError(f"smp: {exc}") from None
        except ArithmeticError as exc:
            raise ModelError(f"smp: {exc}") from None
        if not lever_rounds:
            ids = ids * res.n_states
        else:
            # ids[t] holds the actors in force during turn t (state t); state 0 keeps the input.
            ids = [ids[0]] + ids[1 : res.n_states]

        rounds = []
        for t, st in enumerate(res.states):
            rounds.append(self._record(t, ids[t], st, lo, span, res, problem.issue_ids))
        # Report the input exactly (the round trip through [0, 1] may cost an ulp).
        rounds[0].position = np.clip(np.asarray(start.position, dtype=float), lo, lo + span)
        final = res.final
        summ = final.summary()
        a = final.assessment
        scale = lambda v: (lo + np.asarray(v) * span).tolist()  # noqa: E731
        forecast = lo + summ["expected"] * span
        info: dict[str, Any] = {
            "forecast": "probability-weighted expected outcome over the unique final positions",
            "expected_outcome": scale(summ["expected"]),
            "most_probable_position": scale(summ["most_probable"]),
            "most_probable_prob": summ["most_probable_prob"],
            "cap_weighted_mean": scale(summ["cap_mean"]),
            "stop_ratios": [float(v) for v in res.stop_ratios],
            "n_states": res.n_states,
            "n_turns": res.n_states - 1,
            "final_prob": {aid: float(p) for aid, p in zip(ids[-1], a.actor_prob)},
            "unique_positions": [scale(final.x[r]) for r in a.rep_index],
            "unique_prob": [float(p) for p in a.rep_prob],
            "unique_actors": [ids[-1][r] for r in a.rep_index],
            "ktab_parameter_vector": list(params.ktab_vector()),
            "warnings": list(res.warnings),
        }
        info.update(timing.info())
        if dropped:
            info["dropped_actors"] = sorted(set(dropped))
        if filled:
            info["indifferent"] = {a: sorted(v, key=problem.issue_ids.index)
                                   for a, v in sorted(filled.items())}
        if normalized:
            info["salience_normalized"] = sorted(set(normalized))
        return ModelRun(
            model=self.name,
            issue_ids=tuple(problem.issue_ids),
            options=opts.model_dump(),
            rounds=rounds,
            forecast=forecast,
            stop="converged" if res.stop == "converged" else "max_rounds",
            info=info,
        )

    @staticmethod
    def _record(t, ids, st, lo, span, res, issue_ids) -> RoundRecord:
        a = st.assessment
        summ = st.summary()
        pos = lo + st.x * span
        w = st.cap[:, None] * st.sal
        extra = {
            "prob": [float(p) for p in a.actor_prob],
            "unique_actors": [ids[r] for r in a.rep_index],
            "unique_prob": [float(p) for p in a.rep_prob],
            "risk_attitude": [float(r) for r in a.R],
            "most_probable_position": (lo + summ["most_probable"] * span).tolist(),
            "most_probable_prob": summ["most_probable_prob"],
            "cap_weighted_mean": (lo + summ["cap_mean"] * span).tolist(),
            "stop_ratio": None if t == 0 else float(res.stop_ratios[t - 1]),
        }
        return RoundRecord(
            round=t,
            actor_ids=tuple(ids),
            position=pos,
            forecast=lo + summ["expected"] * span,
            mean=weighted_mean(pos, w),
            extra=extra,
            events=_bargain_events(st.bargains, ids, tuple(issue_ids), lo, span),
        )


def _bargain_events(b: k.Bargains | None, ids, issue_ids: tuple[str, ...], lo: np.ndarray,
                    span: np.ndarray) -> list[Event]:
    """The bargains of one turn as events: who proposed to whom, the positions each would
    take on every issue (own scales), and whether each side's queue settled on it."""
    if b is None:
        return []
    # whole-turn conversions first: per bargain, only Python objects are built
    at_i, at_r = (lo + b.b_init * span).tolist(), (lo + b.b_rcvr * span).tolist()
    chosen = b.chosen.tolist()
    return [Event("bargain", (ids[i], ids[j]), issue_ids, {
        "initiator_position": at_i[m], "receiver_position": at_r[m],
        "accepted_by_initiator": chosen[i] == m, "accepted_by_receiver": chosen[j] == m,
    }) for m, (i, j) in enumerate(zip(b.initiator.tolist(), b.receiver.tolist()))]


def _usable(
    problem: Problem,
    opts: SMPOptions,
    dropped: list[str],
    filled: dict[str, set[str]],
    held: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> tuple[Problem, list[int], np.ndarray]:
    """The actors SMP can use, and the (n, D) mask of cells filled as indifferent.

    Refuses, drops or fills (``missing_positions``) actors with missing positions.
    ``held`` maps an actor id to its earlier mask and current positions: a cell that was
    filled before keeps the actor's current coordinate there.
    """
    pos = np.asarray(problem.position, dtype=float)
    missing = ~np.isfinite(pos)
    keep = []
    for i, aid in enumerate(problem.actor_ids):
        if missing[i].any() and opts.missing_positions != "indifferent":
            gaps = [problem.issue_ids[d] for d in np.flatnonzero(missing[i])]
            if opts.missing_positions == "error":
                raise ModelError(
                    f"smp: actor {aid!r} has no position on {', '.join(gaps)}; SMP needs every "
                    "actor on every issue (option missing_positions='drop_actor' leaves such "
                    "actors out, 'indifferent' gives them salience 0 there)"
                )
            dropped.append(aid)
            continue
        keep.append(i)
    if not keep:
        raise ModelError("smp: no actor has a position on every issue")
    if not missing.any() or opts.missing_positions != "indifferent":
        return problem, keep, missing
    if np.all(missing, axis=1).any():
        aid = problem.actor_ids[int(np.flatnonzero(np.all(missing, axis=1))[0])]
        raise ModelError(f"smp: actor {aid!r} has no position on any issue")
    lo = np.asarray(problem.lo, dtype=float)
    hi = np.asarray(problem.hi, dtype=float)
    sq = np.asarray(problem.status_quo, dtype=float)
    # An actor that takes no part is taken to leave the issue where it stands.
    default = np.where(np.isfinite(sq), np.clip(sq, lo, hi), (lo + hi) / 2)
    position = np.where(missing, default, pos)
    for i, aid in enumerate(problem.actor_ids):
        if aid in (held or {}):
            was, now = held[aid]  # type: ignore[index]
            same = missing[i] & was
            position[i, same] = now[same]
        if missing[i].any():
            filled.setdefault(aid, set()).update(
                problem.issue_ids[d] for d in np.flatnonzero(missing[i]))
    capm = np.asarray(problem.capability, dtype=float)
    # Salience 0 makes the cell's capability irrelevant to 'salience_weighted'; the mean of
    # the actor's own capabilities keeps 'equal' and 'mean' as they are without the gaps.
    own = np.nanmean(np.where(missing, np.nan, capm), axis=1, keepdims=True)
    return replace(
        problem,
        position=position,
        salience=np.where(missing, 0.0, np.asarray(problem.salience, dtype=float)),
        capability=np.where(missing, own, capm),
    ), keep, missing


def _channels(problem: Problem) -> np.ndarray | None:
    # The scenario's bargaining channels (an extension): whom each actor may challenge.
    return None if problem.channels is None else problem.channels.mask(problem.actor_ids)


def _restrict(problem: Problem, keep: list[int]) -> Problem:
    if len(keep) == problem.n:
        return problem
    aff = problem.affinity
    return replace(
        problem,
        actor_ids=tuple(problem.actor_ids[i] for i in keep),
        position=np.asarray(problem.position)[keep],
        salience=np.asarray(problem.salience)[keep],
        capability=np.asarray(problem.capability)[keep],
        affinity=None if aff is None else np.asarray(aff)[np.ix_(keep, keep)],
    )


def _arrays(problem: Problem, keep: list[int], lo: np.ndarray, span: np.ndarray,
            opts: SMPOptions, normalized: list[str]
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Internal arrays: positions on [0, 1], saliences, capabilities, affinity.

    The problem's values are valid (positions on their scales, saliences in [0, 1],
    affinity in [0, 1]: :class:`~stakes.models.base.Problem` checks them); what is
    checked here is what SMP alone needs.  Under ``salience_normalization='per_actor'`` an
    actor's saliences summing to more than 1 are divided by their sum (its id is added to
    ``normalized``).
    """
    ids = [problem.actor_ids[i] for i in keep]
    pos = np.asarray(problem.position, dtype=float)[keep]
    sal = np.asarray(problem.salience, dtype=float)[keep]
    capm = np.asarray(problem.capability, dtype=float)[keep]
    x = (pos - lo) / span
    tol = 1e-9
    for i, aid in enumerate(ids):
        s = sal[i]
        total = float(s.sum())
        if total > 1 + tol:
            if opts.salience_normalization == "error":
                raise ModelError(
                    f"smp: saliences of actor {aid!r} sum to {total:g} over the issues; SMP "
                    "needs a sum <= 1 (100 on KTAB's 0-100 scale; option "
                    "salience_normalization='per_actor' divides them by their sum)"
                )
            sal[i] = s / total
            normalized.append(aid)
        if total <= 0:
            raise ModelError(
                f"smp: actor {aid!r} has zero salience on every issue (it would be indifferent "
                "to every position); give it some salience or leave it out"
            )
    x = np.clip(x, 0.0, 1.0)
    cap = np.empty(len(ids))
    for i, aid in enumerate(ids):
        c = capm[i]
        if np.any(c <= 0):
            raise ModelError(f"smp: actor {aid!r} needs a capability > 0, got {c.tolist()}")
        if opts.capability_across_issues == "equal":
            if np.ptp(c) > 1e-12 * max(1.0, float(np.abs(c).max())):
                raise ModelError(
                    f"smp: actor {aid!r} has different capabilities on the issues "
                    f"({c.tolist()}); SMP uses one per actor (option capability_across_issues="
                    "'mean' or 'salience_weighted' combines them)"
                )
            cap[i] = c[0]
        elif opts.capability_across_issues == "mean":
            cap[i] = c.mean()
        else:
            cap[i] = (c * sal[i]).sum() / sal[i].sum()
    aff = problem.affinity
    if aff is not None:
        aff = np.asarray(aff, dtype=float)[np.ix_(keep, keep)]
        rows = aff.sum(axis=1)
        over = np.flatnonzero(rows > 1 + tol)
        if len(over):
            i = over[0]
            raise ModelError(
                f"smp: affinity row of actor {ids[i]!r} sums to {rows[i]:g}; rows must sum "
                "to <= 1"
            )
        if np.array_equal(aff, np.eye(len(ids))):
            aff = None  # the identity: ideals follow positions exactly
    return x, sal, cap, aff
