"""Baselines: the compromise (weighted mean), weighted median and status quo.

spec §5.  Achen (2006) and Thomson et al. (2006) find the compromise
model hard to beat; these are the yardsticks for every bargaining model.
They have no rounds: levers are applied in round order before the single
evaluation, so a lever's timing does not matter to a baseline.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from ..errors import ModelError
from ..kernels import batched as kb
from .base import Model, ModelOptions, ModelRun, Problem, RoundRecord, weighted_mean

Weights = Literal["cs", "s", "c", "equal"]


def weights_of(problem: Problem, weights: Weights) -> np.ndarray:
    """(n, D) weights of ``problem``'s actors (spec §5.1)."""
    return kb.weights(np, problem.capability, problem.salience, weights)


def weighted_median(x: np.ndarray, w: np.ndarray,
                    tie: Literal["lower", "midpoint"] = "lower") -> float:
    """First position (ascending) at which the cumulative weight reaches half the total.

    With ``tie="midpoint"``, when the cumulative weight equals exactly half,
    the midpoint with the next distinct position is returned (Thomson et al.
    2006).  One run of :func:`stakes.kernels.batched.weighted_median`;
    entries without a stance (NaN) take no part.
    """
    ok = ~np.isnan(x)
    if not ok.any():
        return float("nan")
    return float(kb.weighted_median(np, x[ok][None], w[ok][None], tie)[0])


def condorcet_winners(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Actor positions that beat or tie every other in pairwise weighted votes.

    Votes ``Σ_k w_k (|x_k − b| − |x_k − a|)`` over all (a, b) at once: an
    (m, m) matrix from an (m, m, n) broadcast.
    """
    ok = ~np.isnan(x)
    x, w = x[ok], w[ok]
    cand = np.unique(x)
    dist = np.abs(x[None, :] - cand[:, None])  # (m, n)
    votes = (w[None, None, :] * (dist[None, :, :] - dist[:, None, :])).sum(axis=2)  # a over b
    return cand[(votes >= -1e-12 * max(1.0, np.abs(votes).max(initial=0))).all(axis=1)]


def _single_round(model: str, problem: Problem, forecast: np.ndarray, options, info=None) -> ModelRun:
    mean = weighted_mean(problem.position, problem.capability * problem.salience)
    rec = RoundRecord(0, problem.actor_ids, problem.position.copy(), forecast, mean)
    return ModelRun(model, problem.issue_ids, options.model_dump(), [rec], forecast, "converged",
                    info or {})


class CompromiseOptions(ModelOptions):
    weights: Weights = Field(
        "cs",
        description="Weights of the mean: capability x salience (cs, default; Achen 2006), "
        "salience only (s), capability only (c) or equal (spec §5.1).",
    )


class Compromise(Model):
    """The compromise model: the weighted mean of positions (Achen 2006)."""

    name = "compromise"
    title = "Compromise (capability x salience weighted mean)"
    references = ("Achen 2006", "Thomson et al. 2006")
    Options = CompromiseOptions

    def run(self, problem, options, schedule, rng):
        problem = schedule.apply_all(problem)
        w = weights_of(problem, options.weights)
        # Issues as the batch axis: one row of actors per issue.
        fc = kb.compromise(np, problem.position.T, w.T)
        return _single_round(self.name, problem, np.asarray(fc, dtype=float), options)


class MedianOptions(ModelOptions):
    weights: Weights = Field("cs", description="Weights as for compromise (default cs).")
    median_tie: Literal["lower", "midpoint"] = Field(
        "lower",
        description="At exactly half the weight take the lower position (default, the specification (docs/spec/) "
        "5.2) or the midpoint with the next one.",
    )


class Median(Model):
    """The weighted median, which is the Condorcet winner on one dimension (Black 1958)."""

    name = "median"
    title = "Weighted median (Condorcet winner)"
    references = ("Black 1958", "Thomson et al. 2006")
    Options = MedianOptions

    def run(self, problem, options, schedule, rng):
        problem = schedule.apply_all(problem)
        w = weights_of(problem, options.weights)
        # Issues as the batch axis: one row of actors per issue.
        med = np.asarray(kb.weighted_median(np, problem.position.T, w.T, options.median_tie),
                         dtype=float)
        winners = [condorcet_winners(problem.position[:, d], w[:, d]) for d in range(problem.dims)]
        agree = [bool(np.any(np.isclose(win, m))) for win, m in zip(winners, med)]
        info = {"condorcet_winners": [[float(v) for v in win] for win in winners],
                "median_is_condorcet": agree}
        return _single_round(self.name, problem, med, options, info)


class StatusQuoOptions(ModelOptions):
    pass


class StatusQuo(Model):
    """The forecast is the issue's status quo (reference point)."""

    name = "status-quo"
    title = "Status quo"
    references = ("Thomson et al. 2006",)
    Options = StatusQuoOptions

    def run(self, problem, options, schedule, rng):
        problem = schedule.apply_all(problem)
        if np.isnan(problem.status_quo).any():
            missing = [i for i, q in zip(problem.issue_ids, problem.status_quo) if np.isnan(q)]
            raise ModelError(f"status-quo: issue {', '.join(missing)} gives no status quo")
        return _single_round(self.name, problem, problem.status_quo.copy(), options)
