"""The Nash bargaining solution proper (Nash 1950), per issue and jointly over issues.

spec §5.4.  Actor i's utility is ``u_i(x) = −Σ_d s_id |x_d − x_id|^κ``;
the disagreement point is the status quo q.  The asymmetric solution
maximises ``Σ_i w_i log(u_i(x) − u_i(q))`` over the agreements that leave every
actor with ``w_i > 0`` better off than q.

How it differs from the compromise model (Achen 2006): it depends on the
status quo; it only admits agreements every actor prefers to q; and salience
scales an actor's gain by a constant on one issue, so on a single issue it
cancels from the argmax and matters only through the weights ``w_i``.
decide-exchange-model's "NBS" is the weighted mean, i.e. the compromise model.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field
from scipy.optimize import minimize

from ..errors import ModelError
from ..kernels import batched as kb
from .base import Model, ModelOptions, ModelRun, Problem, RoundRecord, Schedule, weighted_mean


class NBSOptions(ModelOptions):
    kappa: Literal[1, 2] = Field(
        2, description="Exponent of the loss |x − x_i|^κ: 2 (quadratic, default) or 1 "
        "(spec §5.4).")
    nbs_weights: Literal["c", "cs", "equal"] = Field(
        "c", description="Bargaining powers w_i: capability (default), capability x salience, "
        "or equal (spec §5.4).")
    disagreement: Literal["status_quo"] = Field(
        "status_quo", description="Disagreement point: the issue's status quo (spec §5.4); "
        "an issue without one cannot be solved.")


def _losses(x: np.ndarray, ideal: np.ndarray, s: np.ndarray, kappa: int) -> np.ndarray:
    """Σ_d s_id |x_d − x_id|^κ for every actor i (NaN entries count as indifference)."""
    dev = np.abs(x[None, :] - ideal) ** kappa
    return np.nansum(s * dev, axis=1)


def solve_issue(x: np.ndarray, s: np.ndarray, w: np.ndarray, q: float, lo: float, hi: float,
                kappa: int) -> tuple[float, bool]:
    """One issue: the maximiser on the feasible interval, or (q, False) if there is none.

    One run of :func:`stakes.kernels.batched.nbs_issue`.
    """
    sol, ok = kb.nbs_issue(np, np.asarray(x, float)[None], np.asarray(s, float)[None],
                           np.asarray(w, float)[None], float(q), lo, hi, kappa)
    return float(sol[0]), bool(ok[0])


def solve_joint(X: np.ndarray, S: np.ndarray, w: np.ndarray, q: np.ndarray, lo: np.ndarray,
                hi: np.ndarray, kappa: int) -> tuple[np.ndarray, bool]:
    """All issues at once, with additive utilities over issues."""
    S = np.where(np.isnan(X), 0.0, np.nan_to_num(S))
    active = (w > 0) & (S.sum(axis=1) > 0)
    if not active.any():
        return q.copy(), False
    X, S, w = X[active], S[active], w[active]
    loss_q = _losses(q, X, S, kappa)
    if (loss_q <= 0).any():
        return q.copy(), False
    span = hi - lo

    def gains(y: np.ndarray) -> np.ndarray:
        return (loss_q - _losses(lo + y * span, X, S, kappa)) / loss_q  # relative gains

    bounds = [(0.0, 1.0)] * len(q)
    # Phase 1: a point where every actor gains (maximise the smallest relative gain).
    start = (weighted_mean(np.nan_to_num(X, nan=0.0), S * w[:, None]) - lo) / span
    z0 = np.append(np.clip(np.nan_to_num(start, nan=0.5), 0, 1), 0.0)
    p1 = minimize(lambda z: -z[-1], z0, method="SLSQP", bounds=bounds + [(-1.0, 1.0)],
                  constraints=[{"type": "ineq", "fun": lambda z: gains(z[:-1]) - z[-1]}],
                  options={"maxiter": 500, "ftol": 1e-12})
    y0 = np.clip(p1.x[:-1], 0, 1)
    if gains(y0).min() <= 1e-12:
        return q.copy(), False

    def neg(y: np.ndarray) -> float:
        g = gains(y)
        return np.inf if (g <= 0).any() else -float(np.sum(w * np.log(g)))

    p2 = minimize(neg, y0, method="SLSQP", bounds=bounds,
                  constraints=[{"type": "ineq", "fun": lambda y: gains(y) - 1e-12}],
                  options={"maxiter": 500, "ftol": 1e-14})
    y = np.clip(p2.x, 0, 1) if np.isfinite(neg(np.clip(p2.x, 0, 1))) else y0
    return lo + y * span, True


def _run(name: str, problem: Problem, options: NBSOptions, schedule: Schedule,
         joint: bool) -> ModelRun:
    problem = schedule.apply_all(problem)
    if np.isnan(problem.status_quo).any():
        missing = [i for i, v in zip(problem.issue_ids, problem.status_quo) if np.isnan(v)]
        raise ModelError(f"{name}: issue {', '.join(missing)} gives no status quo, which the Nash "
                         "bargaining solution needs as its disagreement point")
    c = np.nanmean(problem.capability, axis=1)
    if joint:
        w = kb.weights(np, c, np.nanmean(problem.salience, axis=1), options.nbs_weights)
        x, ok = solve_joint(problem.position, problem.salience, w, problem.status_quo,
                            problem.lo, problem.hi, options.kappa)
        feasible = [ok] * problem.dims
    else:
        xs, feasible = [], []
        for d in range(problem.dims):  # issues have their own scales
            wd = kb.weights(np, problem.capability[:, d], problem.salience[:, d],
                            options.nbs_weights)
            v, ok = solve_issue(problem.position[:, d], problem.salience[:, d], wd,
                                float(problem.status_quo[d]), float(problem.lo[d]),
                                float(problem.hi[d]), options.kappa)
            xs.append(v)
            feasible.append(ok)
        x = np.array(xs)
    mean = weighted_mean(np.nan_to_num(problem.position),
                         np.nan_to_num(problem.capability * problem.salience))
    rec = RoundRecord(0, problem.actor_ids, problem.position.copy(), x, mean)
    info = {"feasible": feasible,
            "note": [None if ok else "no feasible agreement: the status quo is returned"
                     for ok in feasible]}
    return ModelRun(name, problem.issue_ids, options.model_dump(), [rec], x, "converged", info)


class NBS(Model):
    """Nash bargaining solution on each issue separately."""

    name = "nbs"
    title = "Nash bargaining solution (per issue)"
    references = ("Nash 1950", "Achen 2006")
    Options = NBSOptions

    def run(self, problem, options, schedule, rng):
        return _run(self.name, problem, options, schedule, joint=False)


class NBSJoint(Model):
    """Nash bargaining solution over all issues at once (additive utilities)."""

    name = "nbs-joint"
    title = "Nash bargaining solution (all issues jointly)"
    references = ("Nash 1950",)
    scope = "joint"
    Options = NBSOptions

    def run(self, problem, options, schedule, rng):
        return _run(self.name, problem, options, schedule, joint=True)
