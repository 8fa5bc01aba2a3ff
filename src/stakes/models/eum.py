"""Bueno de Mesquita's expected utility model (EUM), single issue.

Bueno de Mesquita (1994) as reconstructed by Scholz et al. (2011), with every
ambiguity of the published versions exposed as an option (spec §2).  The
defaults reproduce the reference numbers of the EC emissions example
(spec §2.11).  The arithmetic lives in :mod:`stakes.kernels.eum`; this
module handles options, levers, stopping and the round records.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from ..errors import InputError, ModelError
from ..errors import Diagnostic
from ..kernels.eum import KernelOptions, StopTracker, eum_round, median_position
from .base import Model, ModelOptions, ModelRun, Problem, RoundRecord, Schedule, weighted_mean


# Option values of each named variant; options written explicitly beside a
# variant override it.  "reference" is the replication code of Scholz et al.
# (2011) (jmckib/bdm-scholz-expected-utility-model), which reproduces their
# published numbers; "paper" is the rules as the papers state them: eq. 30's
# pairwise probability (Scholz et al. 2011), capitulation offers, and the
# smallest move among all credible offers (Bueno de Mesquita 1994).
VARIANTS: dict[str, dict[str, object]] = {
    "reference": {"prob": "scholz_code", "offer_priority": "scholz_code",
                  "capitulation": False},
    "paper": {"prob": "paper", "offer_priority": "bdm_smallest_move", "capitulation": True},
}


class EUMOptions(ModelOptions):
    """Options of the EUM (spec §2.10)."""

    variant: Literal["reference", "paper"] = Field(
        "reference",
        description="Preset of prob, offer_priority and capitulation: 'reference' reproduces the "
        "replication code of Scholz et al. 2011 (prob=scholz_code, offer_priority=scholz_code, "
        "capitulation=false); 'paper' takes the published rules (prob=paper, "
        "offer_priority=bdm_smallest_move, capitulation=true; Scholz et al. 2011 eq. 30, "
        "Bueno de Mesquita 1994). Options set beside it override it (source: spec §2.8, "
        "2.10).",
    )
    prob: Literal["paper", "scholz_code"] = Field(
        "scholz_code",
        description="Probability of success: 'paper' is eq. 30 of Scholz et al. 2011 (pairwise "
        "denominator); 'scholz_code' divides by one global sum of |votes| over all voters and "
        "ordered position pairs, as in the replication code that reproduces the published "
        "numbers (source: jmckib/bdm-scholz-expected-utility-model; spec §2.4).",
    )
    vote_risk: bool = Field(
        True,
        description="Votes use each voter's risk exponent r_k; false makes votes risk-neutral "
        "(source: Scholz et al. 2011, eq. 29; spec §2.2).",
    )
    target_salience: Literal["target", "literal"] = Field(
        "target",
        description="Resistance probability in E^i(U_ji): the target's salience s_i ('target'), "
        "or the challenger's salience as printed in eq. 25b ('literal'; read as a typo) "
        "(source: Scholz et al. 2011; spec §2.5).",
    )
    eu_perspective: Literal["own", "actor"] = Field(
        "own",
        description="Exponent used for E^i(U_ji): i's own r_i ('own', Bueno de Mesquita 1994 and "
        "Scholz et al. 2011) or j's r_j ('actor') (source: spec §2.5).",
    )
    Q: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="Probability that the status quo persists when nobody challenges; the EC "
        "reference numbers need 1.0 (source: Bueno de Mesquita 1994; Scholz et al. 2011; "
        "spec §2.5).",
    )
    T: Literal["eftekhari", "0", "1"] = Field(
        "eftekhari",
        description="Probability that things improve without a challenge: 'eftekhari' sets "
        "T = 1 when |x_i − μ| < |x_i − x_j|, else 0; '0'/'1' are constants; no effect when Q = 1 "
        "(source: Eftekhari & Rahimi 2014; spec §2.5).",
    )
    risk_domain: Literal["actors", "positions"] = Field(
        "actors",
        description="Range of the exposure S in eq. 33: max/min over the actors ('actors'), or, "
        "for each actor, over 11 evenly spaced positions it could take plus its own "
        "('positions', Bueno de Mesquita 1994's idea; experimental, no reference numbers) "
        "(source: Scholz et al. 2011; spec §2.6).",
    )
    compromise: Literal["proportional", "eu_weighted"] = Field(
        "proportional",
        description="Compromise position: x_i + (x_j − x_i)|E_i/E_j| ('proportional', jmckib and "
        "Masad code) or the |E|-weighted mean of x_i and x_j ('eu_weighted', decisionmechanics) "
        "(source: spec §2.8).",
    )
    offer_priority: Literal["scholz_code", "bdm_smallest_move"] = Field(
        "scholz_code",
        description="Choice among offers: conflict (smallest move), then compromise (lowest "
        "K = (|E_i|x_i + |E_j|x_j)/(|E_i| + |E_j|), then a move to that offer's own position), "
        "then capitulation (smallest move) ('scholz_code', the replication code), or the "
        "smallest move among all offers ('bdm_smallest_move', Bueno de Mesquita 1994's stated "
        "rule); exact ties go to the proposer listed first (source: spec §2.8).",
    )
    capitulation: bool = Field(
        False,
        description="Generate capitulation (compel) offers; the reference code never fires "
        "them (its test compares E_j with |E_j|), so they are off by default; on the EC "
        "example they make no difference (source: spec §2.8, 2.12).",
    )
    delta_fixed: bool = Field(
        True,
        description="Keep Δ = x_max − x_min of the initial positions for the whole run; false "
        "recomputes it every round (source: Scholz et al. 2011; spec §2.1).",
    )
    median_tie: Literal["lower", "midpoint"] = Field(
        "lower",
        description="Median μ when two distinct actor positions tie: the lower one or their "
        "midpoint (source: spec §2.7).",
    )
    max_rounds: int = Field(
        50, ge=1, description="Round limit; the reference runs use 10 (source: spec §2.9)."
    )
    tol: float = Field(
        1e-6,
        ge=0.0,
        description="Convergence tolerance relative to Δ: stop when no position moves by more "
        "than tol·Δ in a round (source: spec §2.9).",
    )
    cycle_detection: bool = Field(
        True,
        description="Stop when the position vector (rounded to 1e-9·Δ) repeats an earlier round "
        "(source: spec §2.9; the EC example oscillates, Scholz et al. 2011).",
    )
    cycle_forecast: Literal["last", "cycle_mean"] = Field(
        "last",
        description="Forecast after a detected cycle: the last round's, or the mean of the "
        "forecast quantity over the cycle (source: spec §2.9).",
    )
    forecast: Literal["median", "mean"] = Field(
        "median",
        description="What the model reports as its forecast: the median μ, as Bueno de Mesquita "
        "1994 does, or the capability·salience weighted mean that Scholz et al. 2011 plot "
        "(source: spec §2.7).",
    )

    @model_validator(mode="before")
    @classmethod
    def _apply_variant(cls, data):
        if isinstance(data, dict) and "variant" in data:
            preset = VARIANTS.get(data["variant"])
            if preset is not None:
                data = {**preset, **data}
        return data

    @field_validator("T", mode="before")
    @classmethod
    def _t_number(cls, v):
        # YAML and the CLI may hand the constants over as numbers.
        if isinstance(v, bool):
            return v
        if isinstance(v, (int, float)) and v in (0, 1):
            return str(int(v))
        return v

    def kernel(self) -> KernelOptions:
        return KernelOptions(
            prob=self.prob,
            vote_risk=self.vote_risk,
            target_salience=self.target_salience,
            eu_perspective=self.eu_perspective,
            Q=float(self.Q),
            T=self.T,
            risk_domain=self.risk_domain,
            compromise=self.compromise,
            offer_priority=self.offer_priority,
            capitulation=self.capitulation,
            median_tie=self.median_tie,
        )


def _arrays(problem: Problem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if problem.dims != 1:
        raise ModelError(
            f"EUM is a single-issue model; got a problem with {problem.dims} issues "
            f"({', '.join(problem.issue_ids)}); run it once per issue"
        )
    x = np.asarray(problem.position, dtype=float)[:, 0]
    s = np.asarray(problem.salience, dtype=float)[:, 0]
    c = np.asarray(problem.capability, dtype=float)[:, 0]
    issue = problem.issue_ids[0]
    bad = []
    for name, arr in (("position", x), ("salience", s), ("capability", c)):
        for k in np.flatnonzero(~np.isfinite(arr)):
            bad.append(f"actor {problem.actor_ids[k]!r}: {name} is missing or not finite")
    for k in np.flatnonzero(np.isfinite(s) & ((s < 0) | (s > 1))):
        bad.append(f"actor {problem.actor_ids[k]!r}: salience {s[k]} outside [0, 1]")
    for k in np.flatnonzero(np.isfinite(c) & (c < 0)):
        bad.append(f"actor {problem.actor_ids[k]!r}: capability {c[k]} is negative")
    if bad:
        raise InputError([Diagnostic(b, field=f"issue {issue}") for b in bad])
    if len(x) == 0:
        raise ModelError(f"EUM on issue {issue!r}: no actor takes a position")
    return x, c, s


class EUM(Model):
    """Expected utility model of Bueno de Mesquita (1994), after Scholz et al. (2011).

    Levers: a lever at round r is applied to the current positions before round
    r + 1.  Δ stays that of the initial positions unless a lever moves a position
    outside the range seen so far, in which case the range is widened to include
    it (so every distance stays within [0, 1] of Δ).  Cycle detection restarts
    after a lever, and no stopping rule ends the run before the last scheduled
    lever has been applied.
    """

    name = "eum"
    title = "Expected utility model (Bueno de Mesquita; Scholz et al. reconstruction)"
    references = ("Bueno de Mesquita 1994", "Scholz et al. 2011")
    scope = "issue"
    Options = EUMOptions

    def run(
        self,
        problem: Problem,
        options: ModelOptions,
        schedule: Schedule,
        rng: np.random.Generator,
    ) -> ModelRun:
        opts = self.own_options(options)
        kopts = opts.kernel()
        x, c, s = _arrays(problem)
        cur = problem
        lo, hi = float(x.min()), float(x.max())
        delta_initial = hi - lo
        lever_rounds = [r for r in schedule.rounds() if r < opts.max_rounds] if schedule else []
        last_lever = max(lever_rounds) if lever_rounds else -1

        def record(t: int, x: np.ndarray, risk: np.ndarray | None) -> RoundRecord:
            w = c * s
            mu = float(median_position(np, x, w, tie=kopts.median_tie))
            mean = weighted_mean(x[:, None], w[:, None])
            fc = np.array([mu]) if opts.forecast == "median" else mean
            extra: dict = {"median": [mu]}
            if risk is not None:
                extra["risk"] = [float(v) for v in risk]
            return RoundRecord(t, cur.actor_ids, x[:, None].copy(), fc, mean, extra)

        rounds = [record(0, x, None)]
        tracker = StopTracker(tol=opts.tol, cycle_detection=opts.cycle_detection)
        tracker.restart(x, 0, delta_initial)
        stop, detail, cycle_len = "max_rounds", f"max_rounds ({opts.max_rounds}) reached", None
        delta = delta_initial

        for t in range(opts.max_rounds):
            if t in lever_rounds:
                cur = schedule.apply(t, cur.with_positions(x[:, None]))
                x, c, s = _arrays(cur)
                lo, hi = min(lo, float(x.min())), max(hi, float(x.max()))
                tracker.restart(x, t, hi - lo)
            if opts.delta_fixed:
                lo_t, delta = lo, hi - lo
            else:
                lo_t, delta = float(x.min()), float(x.max() - x.min())
            may_stop = t >= last_lever
            if may_stop and float(x.max() - x.min()) == 0.0:
                stop, detail = "converged", "no disagreement (all positions equal)"
                break
            res = eum_round(
                np, x[None], c[None], s[None], np.array([lo_t]), np.array([delta]), kopts
            )
            new = np.asarray(res.position[0], dtype=float)
            rounds.append(record(t + 1, new, res.risk[0]))
            reason, length = tracker.update(x, new, t + 1, delta)
            x = new
            if reason is not None and t + 1 > last_lever:
                stop, cycle_len = reason, length
                detail = (
                    f"converged: no position moved more than tol·Δ in round {t + 1}"
                    if reason == "converged"
                    else f"cycle of length {length}: round {t + 1} repeats round {t + 1 - length}"
                )
                break

        forecast = rounds[-1].forecast.copy()
        if stop == "cycle" and opts.cycle_forecast == "cycle_mean":
            forecast = np.mean([r.forecast for r in rounds[-cycle_len:]], axis=0)
        info = {
            "stop_detail": detail,
            "cycle_length": cycle_len,
            "delta": float(delta),
            "delta_initial": float(delta_initial),
            "rounds_run": len(rounds) - 1,
        }
        skipped = [r for r in (schedule.rounds() if schedule else []) if r >= opts.max_rounds]
        if skipped:
            info["levers_not_applied"] = skipped
        return ModelRun(
            self.name, problem.issue_ids, opts.model_dump(), rounds, forecast, stop, info
        )
