"""Bueno de Mesquita's expected utility model (EUM), single issue.

Bueno de Mesquita (1994) as reconstructed by Scholz et al. (2011), with every
ambiguity of the published versions exposed as an option (spec §2).  The
defaults reproduce the reference numbers of the EC emissions example
(spec §2.11).  The arithmetic of a round lives in :mod:`stakes.kernels.eum`;
this module holds the options and :class:`EUMRounds`, the model's side of the
round driver (:mod:`stakes.driver`: rounds, forecast, records and events).
Levers, Δ and the stopping rules are the driver's, for single runs and
ensembles alike.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from ..driver import STOP_NAMES, Job, Members, Steps, StopRule, drive
from ..errors import ModelError
from ..kernels.batched import run_rounds
from ..kernels.eum import OFFER_TYPES, KernelOptions, eum_round, median_position
from .base import Event, Model, ModelOptions, ModelRun, Problem, RoundRecord, Schedule

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
    # The values were checked when the problem was built (models.base.Problem).
    x = np.asarray(problem.position, dtype=float)[:, 0]
    s = np.asarray(problem.salience, dtype=float)[:, 0]
    c = np.asarray(problem.capability, dtype=float)[:, 0]
    issue = problem.issue_ids[0]
    if len(x) == 0:
        raise ModelError(f"EUM on issue {issue!r}: no actor takes a position")
    return x, c, s


@dataclass
class EUMRecord(RoundRecord):
    """An EUM round record, with the perceptual matrices of the round that led to it.

    ``eu_challenge[i, j]`` = E^i(U_ij) and ``eu_challenged[i, j]`` = E^i(U_ji):
    row i is actor i's perceptual quadrant (Bueno de Mesquita 1994; spec
    §2.11 b).  Kept in memory with the run (None for round 0), not written to
    the run store: n² numbers per round.
    """

    eu_challenge: np.ndarray | None = None
    eu_challenged: np.ndarray | None = None


class EUMRounds:
    """The EUM's mathematics for the round driver (:mod:`stakes.driver`).

    ``rounds`` steps every member through :func:`~stakes.kernels.eum.eum_round`
    (through the array backend, or, when recording, round by round in numpy
    with the quantities a record holds); ``forecast`` is the median μ or the
    capability·salience weighted mean; ``record`` writes one round's
    :class:`RoundRecord` with its offers as events.
    """

    def __init__(self, opts: EUMOptions, issue: str = ""):
        self.opts = opts
        self.kopts = opts.kernel()
        self.issue = issue

    def rule(self) -> StopRule:
        o = self.opts
        return StopRule(max_rounds=o.max_rounds, tol=o.tol, cycle_detection=o.cycle_detection,
                        delta_fixed=o.delta_fixed, cycle_forecast=o.cycle_forecast)

    def forecast(self, x, c, s, med=None) -> np.ndarray:
        w = c * s
        if self.opts.forecast == "mean":
            tot = np.sum(w, axis=-1)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.sum(w * x, axis=-1) / tot
            return np.where(tot > 0, mean, np.mean(x, axis=-1))
        if med is not None:
            return med
        return median_position(np, x, w, tie=self.kopts.median_tie)

    def rounds(self, backend, x, c, s, lo, span, k, delta_fixed, record) -> Steps:
        if not record:
            pos, med = run_rounds(backend, x, c, s, lo, span, k, self.kopts, delta_fixed)
            return Steps(pos, np.stack([self.forecast(p, c, s, m) for p, m in zip(pos, med)]))
        pos, fcs, detail = [], [], []
        w = c * s
        mu = median_position(np, x, w, tie=self.kopts.median_tie)
        for _ in range(k):
            if delta_fixed:
                lo_t, delta = lo, span
            else:
                lo_t = np.min(x, axis=-1)
                delta = np.max(x, axis=-1) - lo_t
            res = eum_round(np, x, c, s, lo_t, delta, self.kopts, mu=mu)
            x = res.position
            mu = median_position(np, x, w, tie=self.kopts.median_tie)
            pos.append(x)
            fcs.append(self.forecast(x, c, s, mu))
            detail.append((res, mu))
        return Steps(np.stack(pos), np.stack(fcs), detail)

    def record(self, round_, ids, x, c, s, forecast, detail, member) -> RoundRecord:
        w = c * s
        tot = w.sum()
        # weighted_mean of one column, without its (n, D) machinery: records are per round
        mean = np.array([(w * x).sum() / tot if tot > 0 else x.mean()], dtype=float)
        events: list[Event] = []
        e_ij = e_ji = None
        if detail is None:
            mu = (float(forecast) if self.opts.forecast == "median" else
                  float(median_position(np, x, w, tie=self.kopts.median_tie)))
            extra: dict = {"median": [mu]}
        else:
            res, med = detail
            extra = {"median": [float(med[member])],
                     "risk": res.risk[member].tolist()}
            e_ij, e_ji = res.e_ij[member], res.e_ji[member]
            events = self._offers(ids, e_ij, e_ji, res.offer_type[member], res.offered[member],
                                  res.offer_key[member])
        return EUMRecord(round_, ids, x[:, None].copy(), np.array([float(forecast)]), mean,
                         extra, events, e_ij, e_ji)

    def _offers(self, ids, e_ij, e_ji, kind, offered, key) -> list[Event]:
        """Each offer made, proposer first; ``accepted`` on the one each receiver took."""
        made = kind < 3
        if not made.any():
            return []
        rows, cols = np.nonzero(made)
        chosen = np.argmin(key, axis=-1)
        took = np.isfinite(key[np.arange(len(key)), chosen])[rows] & (chosen[rows] == cols)
        issue = (self.issue,)
        # Values leave numpy in bulk: per-element conversion would cost more than the round.
        return [Event("offer", (ids[j], ids[i]), issue, {
            "type": OFFER_TYPES[k], "eu_receiver": ei, "eu_proposer": ej, "position": pos,
            "accepted": acc})
            for i, j, k, ei, ej, pos, acc in zip(
                rows.tolist(), cols.tolist(), kind[made].tolist(), e_ij[made].tolist(),
                e_ji[made].tolist(), offered[made].tolist(), took.tolist())]


def _stop_detail(stop: str, flat: bool, at: int, length: int, max_rounds: int) -> str:
    if stop == "converged":
        return ("no disagreement (all positions equal)" if flat else
                f"converged: no position moved more than tol·Δ in round {at}")
    if stop == "cycle":
        return f"cycle of length {length}: round {at} repeats round {at - length}"
    return f"max_rounds ({max_rounds}) reached"


class EUM(Model):
    """Expected utility model of Bueno de Mesquita (1994), after Scholz et al. (2011).

    Its mathematics is :class:`EUMRounds`; rounds, levers and stopping rules
    are the round driver's (:mod:`stakes.driver`), which runs this model as a
    batch of one with round records on.  A lever at round r is applied to
    the current positions before round r + 1; Δ stays that of the initial
    positions unless a lever moves a position outside the range seen so far.
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
        return self.run_many(problem, options, [schedule], [rng])[0]

    def run_many(
        self,
        problem: Problem,
        options: ModelOptions,
        schedules: list[Schedule],
        rngs: list[np.random.Generator],
    ) -> list[ModelRun]:
        """Every schedule's run as one batch through the driver (the members share its
        rounds; each keeps its own levers, stopping rule and records)."""
        opts = self.own_options(options)
        x, c, s = _arrays(problem)

        def lever(schedule: Schedule, r: int):
            def step(m: Members) -> Members:
                # The EUM reads no accommodation matrix: none to keep in step with the ids.
                pb = schedule.apply(r, replace(problem, actor_ids=m.ids, position=m.x[0][:, None],
                                               salience=m.s[0][:, None],
                                               capability=m.c[0][:, None], affinity=None))
                x, c, s = _arrays(pb)
                return Members(pb.actor_ids, x[None], c[None], s[None])
            return step

        math = EUMRounds(opts, problem.issue_ids[0])
        jobs = [Job(Members(problem.actor_ids, x[None], c[None], s[None]),
                    {r: lever(sch, r) for r in (sch.rounds() if sch else [])})
                for sch in schedules]
        out = []
        for res in drive(jobs, math, math.rule(), "numpy", record=True):
            stop = STOP_NAMES[res.stop[0]]
            at, length = int(res.rounds[0]), int(res.cycle_length[0])
            info = {
                "stop_detail": _stop_detail(stop, bool(res.flat[0]), at, length,
                                            opts.max_rounds),
                "cycle_length": length if stop == "cycle" else None,
                "delta": float(res.delta[0]),
                "delta_initial": float(res.delta_initial[0]),
                "rounds_run": at,
                **res.timing.info(),
            }
            out.append(ModelRun(self.name, problem.issue_ids, opts.model_dump(),
                                res.records[0], np.array([res.forecast[0]]), stop, info))
        return out


def run_eum_members(x, c, s, options: EUMOptions | None = None, backend="numpy",
                    levers=None, ids=None, **values):
    """``B`` runs of one issue, arrays (B, n), each to its stopping rule: one driver result.

    ``options`` (or option ``values``) as for :class:`EUM`; ``levers``: transforms
    by round (:class:`stakes.driver.Members` -> Members).
    """
    opts = options if options is not None else EUMOptions(**values)
    x = np.asarray(x, dtype=float)
    ids = tuple(ids) if ids is not None else tuple(f"a{k}" for k in range(x.shape[-1]))
    math = EUMRounds(opts)
    job = Job(Members(ids, x, np.asarray(c, dtype=float), np.asarray(s, dtype=float)),
              dict(levers or {}))
    return drive([job], math, math.rule(), backend)[0]
