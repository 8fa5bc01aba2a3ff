"""Array kernel of KTAB's Spatial Model of Politics (SMP).

One SMP turn (risk attitudes, perspective utilities, challenges, bargains,
queue resolution, ideal update) and the turn loop, written as numpy array
operations over actors, options and third parties.  Everything works on the
internal [0, 1] scale; callers convert from and to their issue scales.

Sources: KTAB v1.4 (Wise et al., KAPSARC; ``examples/smp/libsrc/smp.cpp``,
``smpbcn.cpp``, ``KTAB/kmodel/libsrc/kmodel.cpp``), "Markov voting with
incentives in KTAB" (Wise) for the MarkovIncentive PCE, and the stakes
specification (spec §3), which fixes the defects of KTAB listed in
its 3.6.

This module imports nothing but numpy and the standard library; invalid
parameters raise ``ValueError`` and numerical failures ``ArithmeticError`` so
that the model layer can turn them into the package's own errors.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any, Callable

import numpy as np

# --------------------------------------------------------------------------
# Parameters

#: KTAB enum names in KTAB's integer order (the index is KTAB's code).
CHOICES: dict[str, tuple[str, ...]] = {
    "victory_prob_model": ("Linear", "Square", "Quartic", "Octic", "Binary"),
    "pce_model": ("Conditional", "MarkovIncentive", "MarkovUniform"),
    "state_transitions": ("Deterministic", "Stochastic"),
    "voting_rule": ("Binary", "PropBin", "Proportional", "PropCbc", "Cubic", "ASymProsp"),
    "big_r_adjust": ("None", "OneThird", "Half", "TwoThirds", "Full"),
    "big_r_range": ("Min", "Mid", "Max"),
    "third_party_commit": ("NoCommit", "SemiCommit", "FullCommit"),
    "inter_vec_brgn": ("S1P1", "S2P2", "S2PMax"),
    "bargn_model": ("InitOnlyInterp", "InitRcvrInterp", "PWCompInterp"),
    "tp_prob": ("ktab", "side_dependent"),
}

#: KTAB's own parameter names (XML element names) for the nine enums.
KTAB_NAMES: dict[str, str] = {
    "victory_prob_model": "VictoryProbModel",
    "pce_model": "PCEModel",
    "state_transitions": "StateTransitions",
    "voting_rule": "VotingRule",
    "big_r_adjust": "BigRAdjust",
    "big_r_range": "BigRRange",
    "third_party_commit": "ThirdPartyCommit",
    "inter_vec_brgn": "InterVecBrgn",
    "bargn_model": "BargnModel",
}


@dataclass(frozen=True)
class SMPParams:
    """All parameters of one SMP run (defaults = KTAB 1.4 defaults, 0,0,0,2,1,1,1,1,0)."""

    victory_prob_model: str = "Linear"
    pce_model: str = "Conditional"
    state_transitions: str = "Deterministic"
    voting_rule: str = "Proportional"
    big_r_adjust: str = "OneThird"
    big_r_range: str = "Mid"
    third_party_commit: str = "SemiCommit"
    inter_vec_brgn: str = "S2P2"
    bargn_model: str = "InitOnlyInterp"
    tp_prob: str = "ktab"
    ktab_bargain_bug: bool = False
    min_turns: int = 2
    max_turns: int = 100
    stop_ratio: float = 0.02
    stop_ratio_guard: float = 1e-4
    pos_tol: float = 1e-3
    min_sig_gain: float = 1e-5
    bargain_eps: float = 1e-6
    bargain_decimals: int | None = 4
    markov_max_iter: int = 10_000

    def __post_init__(self) -> None:
        for name, allowed in CHOICES.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(
                    f"{name}={value!r} is not one of {', '.join(allowed)}"
                )
        if not (isinstance(self.min_turns, int) and self.min_turns >= 1):
            raise ValueError(f"min_turns must be an integer >= 1, got {self.min_turns!r}")
        if not (isinstance(self.max_turns, int) and self.max_turns >= 1):
            raise ValueError(f"max_turns must be an integer >= 1, got {self.max_turns!r}")
        if self.min_turns > self.max_turns:
            raise ValueError(
                f"min_turns ({self.min_turns}) must not exceed max_turns ({self.max_turns})"
            )
        for name in ("stop_ratio", "stop_ratio_guard", "pos_tol", "min_sig_gain", "bargain_eps"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.stop_ratio_guard <= 0:
            raise ValueError("stop_ratio_guard must be > 0 (it guards a division)")
        if self.bargain_decimals is not None and not (
            isinstance(self.bargain_decimals, int) and 0 <= self.bargain_decimals <= 15
        ):
            raise ValueError(
                "bargain_decimals must be None or an integer in 0..15, "
                f"got {self.bargain_decimals!r}"
            )

    def ktab_vector(self) -> tuple[int, ...]:
        """KTAB's 9-integer parameter vector for these settings."""
        return tuple(CHOICES[name].index(getattr(self, name)) for name in KTAB_NAMES)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def inert_third_parties(params: SMPParams) -> bool:
    """True when third parties can never vote in challenges (spec §3.6 item 3).

    Under NoCommit and FullCommit with one shared p_n (KTAB), the expected
    values of joining either side are identical, so every third-party vote is 0.
    """
    return params.tp_prob == "ktab" and params.third_party_commit in ("NoCommit", "FullCommit")


# --------------------------------------------------------------------------
# Building blocks (spec §3.3)

_MIN_COALITION = 1e-8  # KTAB kmodel.cpp Model::coalitions
_MIN_CHALLENGE = 1e-10  # KTAB smpbcn.cpp probEduChlg
_BINARY_TOL = 1e-8  # KTAB Model::vote, binary response slope
_MARKOV_TOL = {"MarkovUniform": 1e-6, "MarkovIncentive": 1e-8}
_INCENTIVE_EPS = 1e-10  # KTAB markovIncentivePCE, diagonal support
# Bound on the elements of one temporary (n^3 work is done in chunks).
_CHUNK_ELEMENTS = 262_144


def distances(ideal: np.ndarray, points: np.ndarray, sal: np.ndarray) -> np.ndarray:
    """Salience-weighted distance ``d[a, b]`` from a's ideal to point b (3.3 a).

    ``ideal`` and ``sal`` are (n, D), ``points`` (m, D); returns (n, m).
    """
    ssq = (sal * sal).sum(axis=1)  # (n,)
    diff = (ideal[:, None, :] - points[None, :, :]) * sal[:, None, :]
    return np.sqrt((diff * diff).sum(axis=2) / ssq[:, None])


def utility(d: np.ndarray, r: np.ndarray | float) -> np.ndarray:
    """Risk-adjusted utility u(d, R) (3.3 b); defined past d = 1 for round-off."""
    d = np.asarray(d, dtype=float)
    # min(d, 1) selects the d > 1 branch (1 - d)(1 + R) without a second pass.
    return (1.0 - d) * (1.0 + np.minimum(d, 1.0) * r)


def response(delta: np.ndarray, rule: str) -> np.ndarray:
    """Voting response f(delta) of a voting rule (3.3 c), without the weight."""
    if rule == "Proportional":
        return delta
    if rule == "Binary":
        return np.clip(delta / _BINARY_TOL, -1.0, 1.0)
    if rule == "PropBin":
        return 0.8 * delta + 0.2 * np.clip(delta / _BINARY_TOL, -1.0, 1.0)
    if rule == "PropCbc":
        return 0.5 * delta + 0.5 * (delta * delta * delta)
    if rule == "Cubic":
        return delta * delta * delta
    if rule == "ASymProsp":
        return np.where(delta < 0.0, delta, (2.0 / 3.0) * delta)
    raise ValueError(f"unknown voting rule {rule!r}")


def vote(weight: np.ndarray, u_a: np.ndarray, u_b: np.ndarray, rule: str) -> np.ndarray:
    """Vote ``w * f(u_a - u_b)`` (KTAB ``Model::vote``)."""
    return weight * response(u_a - u_b, rule)


def adjust_risk(r_h: np.ndarray, r_i: np.ndarray, rule: str) -> np.ndarray:
    """h's estimate of i's risk attitude under a BigRAdjust rule (3.4 step 2)."""
    if rule == "None":
        return np.broadcast_to(r_h, np.broadcast_shapes(np.shape(r_h), np.shape(r_i))) + 0.0
    if rule == "OneThird":
        return ((2.0 * r_h) + r_i) / 3.0
    if rule == "Half":
        return (r_h + r_i) / 2.0
    if rule == "TwoThirds":
        return (r_h + (2.0 * r_i)) / 3.0
    if rule == "Full":
        return np.broadcast_to(r_i, np.broadcast_shapes(np.shape(r_h), np.shape(r_i))) + 0.0
    raise ValueError(f"unknown BigRAdjust rule {rule!r}")


@lru_cache(maxsize=256)
def _pairs(m: int) -> tuple[np.ndarray, np.ndarray]:
    return np.tril_indices(m, -1)


def coalitions(u: np.ndarray, w: np.ndarray, rule: str) -> np.ndarray:
    """Coalition strengths ``C[..., a, b]`` over options (3.3 d).

    ``u`` is (..., K voters, M options), ``w`` (K,).  As in KTAB, each pair is
    voted once with the higher-indexed option first (a > b); this matters only
    for the asymmetric rule ASymProsp.  Only the M(M-1)/2 pairs are evaluated,
    in chunks of voters to bound memory.
    """
    u = np.asarray(u, dtype=float)
    lead = u.shape[:-2]
    k, m = u.shape[-2:]
    ia, ib = _pairs(m)  # a > b
    npair = len(ia)
    pos = np.zeros(lead + (npair,))
    neg = np.zeros(lead + (npair,))
    if npair:
        per_voter = max(1, int(np.prod(lead, dtype=np.int64)) * npair)
        step = max(1, _CHUNK_ELEMENTS // per_voter)
        for start in range(0, k, step):
            uu = u[..., start : start + step, :]
            v = response(uu[..., ia] - uu[..., ib], rule)
            v *= w[start : start + step, None]
            pos += np.maximum(v, 0.0).sum(axis=-2)
            neg -= np.minimum(v, 0.0).sum(axis=-2)
    c = np.full(lead + (m, m), _MIN_COALITION)
    c[..., ia, ib] += pos
    c[..., ib, ia] += neg
    return c


def victory_prob(c: np.ndarray, model: str) -> np.ndarray:
    """Pairwise victory probabilities ``V[..., a, b]`` from strengths (3.3 e).

    Computed for a > b from (C(a:b), C(b:a)) and mirrored, so V(b, a) is the
    complementary share of the same pair, as in KTAB's ``Model::vProb``.
    """
    s1 = c
    s2 = np.swapaxes(c, -1, -2)
    if model == "Binary":
        thresh = 1.10
        with np.errstate(invalid="ignore", divide="ignore"):
            ramp = ((s1 / (s1 + s2)) * (thresh + 1.0) - 1.0) / (thresh - 1.0)
        ramp = np.clip(ramp, 0.0, 1.0)
        x1 = np.where(s1 >= thresh * s2, 1.0, np.where(s2 >= thresh * s1, 1e-6, ramp))
        x2 = np.where(s1 >= thresh * s2, 1e-6, np.where(s2 >= thresh * s1, 1.0, 1.0 - ramp))
    else:
        power = {"Linear": 1, "Square": 2, "Quartic": 4, "Octic": 8}.get(model)
        if power is None:
            raise ValueError(f"unknown VictoryProbModel {model!r}")
        x1 = s1**power if power > 1 else s1
        x2 = s2**power if power > 1 else s2
    p1 = x1 / (x1 + x2)
    p2 = x2 / (x1 + x2)
    m = c.shape[-1]
    lower = np.tril(np.ones((m, m), dtype=bool), -1)
    v = np.where(lower, p1, np.swapaxes(p2, -1, -2))
    eye = np.eye(m, dtype=bool)
    return np.where(eye, 0.5, v)


def pce(c: np.ndarray, vpm: str, pcem: str, max_iter: int = 10_000) -> np.ndarray:
    """Probabilistic Condorcet election over options (3.3 f).

    ``c`` holds coalition strengths (..., M, M) of a batch of option sets of
    the same size; returns (..., M) probabilities.
    """
    c = np.asarray(c, dtype=float)
    m = c.shape[-1]
    v = victory_prob(c, vpm)
    if pcem == "Conditional":
        p = np.prod(v, axis=-1)
        total = p.sum(axis=-1, keepdims=True)
        if np.all(total > 0) and np.all(np.isfinite(total)):
            return p / total
        # Products of many small victory probabilities can underflow; use logs.
        with np.errstate(divide="ignore"):
            lp = np.log(v).sum(axis=-1)
        lp = lp - lp.max(axis=-1, keepdims=True)
        p = np.exp(lp)
        return p / p.sum(axis=-1, keepdims=True)

    if pcem == "MarkovUniform":
        tol = _MARKOV_TOL[pcem]

        def update(p: np.ndarray) -> np.ndarray:
            # q_a = (1/M) sum_b V(a,b) (p_a + p_b)
            return (v * (p[..., :, None] + p[..., None, :])).sum(axis=-1) / m

    elif pcem == "MarkovIncentive":
        tol = _MARKOV_TOL[pcem]
        incentive = c * v + _INCENTIVE_EPS * np.eye(m)  # n(a -> b)
        chlg = incentive / incentive.sum(axis=-2, keepdims=True)  # P(a -> b)
        chlg_t = np.swapaxes(chlg, -1, -2)

        def update(p: np.ndarray) -> np.ndarray:
            # q_a = sum_b V(a,b) [p_a P(b->a) + p_b P(a->b)]
            return (v * (p[..., :, None] * chlg_t + p[..., None, :] * chlg)).sum(axis=-1)

    else:
        raise ValueError(f"unknown PCEModel {pcem!r}")

    p = np.full(c.shape[:-1], 1.0 / m)
    active = np.ones(p.shape[:-1], dtype=bool)
    for _ in range(max_iter):
        q = update(p)
        change = np.abs(q - p).max(axis=-1)
        # Each option set stops on its own test, as one KTAB call per set would.
        p = np.where(active[..., None], (p + q) / 2.0, p)
        active = active & (change > tol)
        if not active.any():
            return p
    raise ArithmeticError(f"{pcem} PCE did not converge in {max_iter} iterations")


def scalar_pce(u: np.ndarray, w: np.ndarray, params: SMPParams) -> np.ndarray:
    """PCE with voters of weight ``w`` and utilities ``u`` (..., voters, options)."""
    c = coalitions(u, w, params.voting_rule)
    return pce(c, params.victory_prob_model, params.pce_model, params.markov_max_iter)


def big_r(p: np.ndarray, rng_rule: str) -> np.ndarray:
    """Risk attitudes from the risk-neutral PCE probabilities (3.4 step 1).

    Guard (spec §3.6 item 6): when every probability is the same, all R = 0.
    """
    pmin, pmax = float(p.min()), float(p.max())
    span = pmax - pmin
    # Relative guard: below it the differences are round-off, not information.
    if span <= 1e-12 * max(pmax, 1e-300):
        return np.zeros_like(p)
    if rng_rule == "Min":
        return (p - pmin) / span
    if rng_rule == "Mid":
        return (3 * p - (pmax + 2 * pmin)) / (2 * span)
    if rng_rule == "Max":
        return (2 * p - (pmax + pmin)) / span
    raise ValueError(f"unknown BigRRange {rng_rule!r}")


def round_half_up(x: np.ndarray, decimals: int | None) -> np.ndarray:
    """Round half up to ``decimals`` decimals (KTAB round4: floor(0.5 + x*10^k)/10^k)."""
    if decimals is None:
        return x
    s = 10.0**decimals
    return np.floor(0.5 + x * s) / s


def unique_positions(x: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Representatives of the unique positions (3.5) and, per actor, its representative.

    Scan actors in order; an actor joins the first representative closer than
    ``tol`` (Euclidean), else it becomes one.  Returns (rep_index, member_of),
    where ``member_of[i]`` is the position in ``rep_index`` of the representative
    i is shown with: the *last* representative within tolerance (KTAB).
    """
    dist = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2))
    near = (dist < tol).tolist()
    reps: list[int] = []
    for i, row in enumerate(near):
        if not any(row[r] for r in reps):
            reps.append(i)
    rep_index = np.asarray(reps, dtype=int)
    within = dist[:, rep_index] < tol  # (n, u)
    last = within.shape[1] - 1 - np.argmax(within[:, ::-1], axis=1)
    return rep_index, last


# --------------------------------------------------------------------------
# State assessment: step 1 and the per-state probabilities of 3.5


@dataclass
class Assessment:
    """What KTAB computes on every state: risk PCE, R, unique positions and their PCE."""

    dist: np.ndarray  # (n, n) d_ij from ideals to positions
    risk_p: np.ndarray  # (n,) risk-neutral PCE over actors' positions
    R: np.ndarray  # (n,)
    rep_index: np.ndarray  # (u,) actor index of each unique position
    rep_prob: np.ndarray  # (u,)
    actor_prob: np.ndarray  # (n,) probability shown for each actor's position


def assess(
    x: np.ndarray, ideal: np.ndarray, sal: np.ndarray, cap: np.ndarray, params: SMPParams
) -> Assessment:
    d = distances(ideal, x, sal)
    risk_p = scalar_pce(1.0 - d, cap, params)
    R = big_r(risk_p, params.big_r_range)
    rep_index, member = unique_positions(x, params.pos_tol)
    r_self = adjust_risk(R, R, params.big_r_adjust)  # KTAB's aUtil[a](a, .) uses the rule's r^a_a
    u_rep = utility(d[:, rep_index], r_self[:, None])
    rep_prob = scalar_pce(u_rep, cap, params)
    return Assessment(d, risk_p, R, rep_index, rep_prob, rep_prob[member])


# --------------------------------------------------------------------------
# Step 3: challenges


def _challenge_core(
    u_ni: np.ndarray,
    u_nj: np.ndarray,
    u_nn: np.ndarray,
    u_ii: np.ndarray,
    u_ij: np.ndarray,
    u_ji: np.ndarray,
    u_jj: np.ndarray,
    w_i: np.ndarray,
    w_j: np.ndarray,
    w_n: np.ndarray,
    s_j: np.ndarray,
    clear_principals: Callable[[np.ndarray], None],
    params: SMPParams,
) -> tuple[np.ndarray, np.ndarray]:
    """Challenge evaluation on broadcastable arrays; the last axis runs over parties n.

    ``u_xy`` are the estimator's utilities (``u_ni`` = utility to n of i's
    position, ...); principals' arrays lack the last axis.  ``clear_principals``
    zeroes, in place, the entries of a full (..., n) array that belong to i and
    j themselves, who are not third parties.  Returns (P_ij, dEU).
    """
    rule = params.voting_rule
    a_i = vote(w_i, u_ii, u_ij, rule)
    a_j = vote(w_j, u_ji, u_jj, rule)
    c_i0 = (_MIN_CHALLENGE + np.maximum(a_i, 0.0)) + np.maximum(a_j, 0.0)
    c_j0 = (_MIN_CHALLENGE + np.maximum(-a_i, 0.0)) + np.maximum(-a_j, 0.0)
    c_i0n, c_j0n = c_i0[..., None], c_j0[..., None]
    tpc = params.third_party_commit

    if params.tp_prob == "ktab" and tpc != "SemiCommit":
        # NoCommit / FullCommit with one shared p_n: E_i and E_j are the same
        # expression, so every third-party vote is exactly 0 (spec §3.6 item 3).
        c_ij, c_ji = c_i0, c_j0
    else:
        # Third parties: each weighs the little contest (i:j) with itself added.
        if rule == "Proportional":
            little = u_ni - u_nj
            little *= w_n
        else:
            little = w_n * response(u_ni - u_nj, rule)
        if params.tp_prob == "ktab":
            c_in = np.maximum(little, 0.0)
            c_in += c_i0n
            c_jn = np.minimum(little, 0.0)
            np.subtract(c_j0n, c_jn, out=c_jn)
            np.add(c_in, c_jn, out=little)
            p = np.divide(c_in, little, out=c_in)
            del c_jn
            # SemiCommit: E_i - E_j = p (U_nn - U_ni) + (1 - p)(U_nj - U_nn).
            diff = u_nj - u_nn
            diff += p * ((u_nn - u_ni) - diff)
        else:
            # n's own vote counts on the side it considers joining.
            weight = np.abs(little)
            p_i = (c_i0n + weight) / (c_i0n + weight + c_j0n)
            p_j = c_i0n / (c_i0n + c_j0n + weight)
            q_i, q_j = 1.0 - p_i, 1.0 - p_j
            if tpc == "SemiCommit":
                e_i = p_i * (u_ni + u_ni + u_nn) + q_i * (u_nj + u_nj + u_nj)
                e_j = p_j * (u_ni + u_ni + u_ni) + q_j * (u_nj + u_nj + u_nn)
            elif tpc == "NoCommit":
                e_i = p_i * (u_ni + u_ni + u_nn) + q_i * (u_nj + u_nj + u_nn)
                e_j = p_j * (u_ni + u_ni + u_nn) + q_j * (u_nj + u_nj + u_nn)
            elif tpc == "FullCommit":
                e_i = p_i * (u_ni + u_ni + u_ni) + q_i * (u_nj + u_nj + u_nj)
                e_j = p_j * (u_ni + u_ni + u_ni) + q_j * (u_nj + u_nj + u_nj)
            else:
                raise ValueError(f"unknown ThirdPartyCommit {tpc!r}")
            diff = e_i - e_j
        v_n = w_n * response(diff, rule) if rule != "Proportional" else np.multiply(diff, w_n,
                                                                                    out=diff)
        clear_principals(v_n)
        c_ij = c_i0 + np.maximum(v_n, 0.0).sum(axis=-1)
        c_ji = c_j0 - np.minimum(v_n, 0.0).sum(axis=-1)
    p_ij = c_ij / (c_ij + c_ji)
    p_ji = c_ji / (c_ij + c_ji)

    # Expected gain for the initiator (affected actor k = i), two positions counted.
    eu_sq = u_ii + u_ij
    eu_vict = u_ii + u_ii
    eu_cntst = p_ij * (u_ii + u_ii) + p_ji * (u_ij + u_ij)
    eu_chlg = (1 - s_j) * eu_vict + s_j * eu_cntst  # the target resists with prob. S_j
    return p_ij, eu_chlg - eu_sq


def evaluate_challenges(
    h: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    d: np.ndarray,
    R: np.ndarray,
    S: np.ndarray,
    cap: np.ndarray,
    params: SMPParams,
) -> tuple[np.ndarray, np.ndarray]:
    """h's estimate of P[i beats j] and of i's expected gain from challenging j.

    Vectorised over the triples (h, i, j) and over all third parties; returns
    (P, dEU), both (T,).  ``d`` is the (n, n) distance matrix, ``S`` total
    saliences, ``cap`` capabilities (spec §3.4 step 3).
    """
    h, i, j = (np.asarray(a, dtype=int) for a in (h, i, j))
    n = len(R)
    w = S * cap
    d_self = np.diag(d)
    P = np.empty(len(h))
    gain = np.empty(len(h))
    step = max(1, _CHUNK_ELEMENTS // max(n, 1))
    for a in range(0, len(h), step):
        hh, ii, jj = h[a : a + step], i[a : a + step], j[a : a + step]
        t = np.arange(len(hh))
        r = adjust_risk(R[hh][:, None], R[None, :], params.big_r_adjust)  # r^h_n
        u_ni = utility(d[:, ii].T, r)
        u_nj = utility(d[:, jj].T, r)
        u_nn = utility(d_self[None, :], r)

        def clear(v: np.ndarray, t=t, ii=ii, jj=jj) -> None:
            v[t, ii] = 0.0
            v[t, jj] = 0.0

        P[a : a + step], gain[a : a + step] = _challenge_core(
            u_ni, u_nj, u_nn,
            u_ni[t, ii], u_nj[t, ii], u_ni[t, jj], u_nj[t, jj],
            w[ii], w[jj], w[None, :], S[jj], clear, params,
        )
    return P, gain


def all_challenges(
    d: np.ndarray, R: np.ndarray, S: np.ndarray, cap: np.ndarray, params: SMPParams
) -> tuple[np.ndarray, np.ndarray]:
    """Every initiator's own estimate (h = i) for every target j: (P, dEU), each (n, n).

    Same arithmetic as :func:`evaluate_challenges`, arranged as (i, j, n)
    tensors so that what depends only on (i, n) is computed once.
    """
    n = len(R)
    w = S * cap
    d_self = np.diag(d)
    dT = d.T  # dT[i, n] = d[n, i]
    r_all = adjust_risk(R[:, None], R[None, :], params.big_r_adjust)  # r^i_n
    P = np.empty((n, n))
    gain = np.empty((n, n))
    diag = np.arange(n)
    step = max(1, _CHUNK_ELEMENTS // max(n * n, 1))
    for a in range(0, n, step):
        ii = np.arange(a, min(n, a + step))
        r = r_all[ii]  # (b, n)
        u_ni = utility(dT[ii], r)  # (b, n): utility to n of i's position
        u_nn = utility(d_self[None, :], r)  # (b, n)
        u_nj = utility(dT[None, :, :], r[:, None, :])  # (b, j, n)
        rows = np.arange(len(ii))
        u_ii = u_ni[rows, ii]  # (b,)
        u_ij = u_nj[rows, :, ii]  # (b, j): to i of j's position
        u_ji = u_ni  # (b, j): to j of i's position
        u_jj = utility(d_self[None, :], r)  # (b, j): to j of its own position

        def clear(v: np.ndarray, rows=rows, ii=ii) -> None:
            v[rows, :, ii] = 0.0  # n = i
            v[:, diag, diag] = 0.0  # n = j

        P[ii], gain[ii] = _challenge_core(
            u_ni[:, None, :], u_nj, u_nn[:, None, :],
            u_ii[:, None], u_ij, u_ji, u_jj,
            w[ii][:, None], w[None, :], w[None, None, :], S[None, :], clear, params,
        )
    return P, gain


def best_targets(
    d: np.ndarray, R: np.ndarray, S: np.ndarray, cap: np.ndarray, params: SMPParams,
    channels: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every actor's best target j, its dEU and P (step 3); target -1 when none.

    Also returns the full (n, n) matrix of expected gains (NaN on the diagonal).
    ``channels`` (n, n), a stakes extension: i may target j only where it is True.
    """
    n = len(R)
    P, gain = all_challenges(d, R, S, cap, params)
    gain[np.arange(n), np.arange(n)] = np.nan
    ok = gain > params.min_sig_gain  # NaN compares False
    if channels is not None:
        ok &= channels
    masked = np.where(ok, gain, -np.inf)
    target = np.argmax(masked, axis=1)  # first maximum = lowest j on ties
    has = ok.any(axis=1)
    target = np.where(has, target, -1)
    rows = np.arange(n)
    best_gain = np.where(has, gain[rows, np.maximum(target, 0)], np.nan)
    best_p = np.where(has, P[rows, np.maximum(target, 0)], np.nan)
    return target, best_gain, best_p, gain


# --------------------------------------------------------------------------
# Step 4: bargains


def interpolate(
    x_i: np.ndarray,
    x_j: np.ndarray,
    s_i: np.ndarray,
    s_j: np.ndarray,
    pi_i: np.ndarray,
    params: SMPParams,
) -> tuple[np.ndarray, np.ndarray]:
    """Bargain positions (b^I, b^R) for pairs of actors (rows), per InterVecBrgn."""
    pi_i = np.asarray(pi_i, dtype=float)[:, None]
    pi_j = 1.0 - pi_i
    eps = params.bargain_eps
    ivb = params.inter_vec_brgn
    if ivb in ("S1P1", "S2P2"):
        if ivb == "S2P2":
            w_i = (s_i**2) * (pi_i**2)
            w_j = (s_j**2) * (pi_j**2)
        else:
            w_i = s_i * pi_i
            w_j = s_j * pi_j
        # The guard goes to each mover's own weight: both keep their coordinate
        # when neither weight counts (KTAB interpBrgnSnPm).
        denom = w_i + eps + w_j
        b_i = round_half_up(((w_i + eps) * x_i + w_j * x_j) / denom, params.bargain_decimals)
        b_j = round_half_up((w_i * x_i + (eps + w_j) * x_j) / denom, params.bargain_decimals)
        return b_i, b_j
    if ivb == "S2PMax":
        g_i = np.maximum(pi_j - pi_i, 0.0)
        g_j = np.maximum(pi_i - pi_j, 0.0)
        si2, sj2 = s_i * s_i, s_j * s_j
        f_i = (g_i * sj2) / ((g_i * sj2) + eps + ((1 - g_i) * si2))
        f_j = (g_j * si2) / ((g_j * si2) + eps + ((1 - g_j) * sj2))
        return x_i + f_i * (x_j - x_i), x_j + f_j * (x_i - x_j)
    raise ValueError(f"unknown InterVecBrgn {ivb!r}")


# --------------------------------------------------------------------------
# One turn


@dataclass
class TurnResult:
    x: np.ndarray  # (n, D) positions of state t + 1
    ideal: np.ndarray  # (n, D) ideals of state t + 1
    trace: dict[str, Any] | None = None
    bargains: "Bargains | None" = None


@dataclass(frozen=True)
class Bargains:
    """The bargains of one turn, on the internal [0, 1] scale: the raw material of the
    model's events.  Bargain b was proposed by ``initiator[b]`` to ``receiver[b]``,
    moving them to ``b_init[b]`` and ``b_rcvr[b]``; ``chosen[k]`` is the bargain actor
    k's queue settled on (-1: it kept its position)."""

    initiator: np.ndarray  # (nb,)
    receiver: np.ndarray  # (nb,)
    b_init: np.ndarray  # (nb, D)
    b_rcvr: np.ndarray  # (nb, D)
    chosen: np.ndarray  # (n,)


def turn(
    x: np.ndarray,
    ideal: np.ndarray,
    sal: np.ndarray,
    cap: np.ndarray,
    affinity: np.ndarray | None,
    state: Assessment,
    params: SMPParams,
    rng: np.random.Generator | None = None,
    trace: bool = False,
    channels: np.ndarray | None = None,
) -> TurnResult:
    """One SMP turn, state t -> t + 1 (spec §3.4), all computed from state t."""
    n = len(x)
    S = sal.sum(axis=1)
    d, R = state.dist, state.R

    # Step 3.
    target, gain, p_best, gain_all = best_targets(d, R, S, cap, params, channels)
    init = np.flatnonzero(target >= 0)
    rcvr = target[init]

    # Step 4.
    b_init, b_rcvr = interpolate(x[init], x[rcvr], sal[init], sal[rcvr], p_best[init], params)
    second_pi = None
    if params.bargn_model != "InitOnlyInterp" and len(init):
        pj, gj = evaluate_challenges(rcvr, init, rcvr, d, R, S, cap, params)
        second_pi = gj if params.ktab_bargain_bug else pj
        b2_init, b2_rcvr = interpolate(x[init], x[rcvr], sal[init], sal[rcvr], second_pi, params)
        if params.bargn_model == "InitRcvrInterp":
            # Two consecutive bargains per proposal: i's, then j's interpolation.
            b_init = np.stack([b_init, b2_init], axis=1).reshape(-1, x.shape[1])
            b_rcvr = np.stack([b_rcvr, b2_rcvr], axis=1).reshape(-1, x.shape[1])
            init = np.repeat(init, 2)
            rcvr = np.repeat(rcvr, 2)
        else:  # PWCompInterp
            w_i = cap[init] * S[init]
            w_j = (cap[init] if params.ktab_bargain_bug else cap[rcvr]) * S[rcvr]
            w_i, w_j = w_i[:, None], w_j[:, None]
            b_init = (w_i * b_init + w_j * b2_init) / (w_i + w_j)
            b_rcvr = (w_i * b_rcvr + w_j * b2_rcvr) / (w_i + w_j)

    # Step 5: values of every queue entry to every voter.
    r_self = adjust_risk(R, R, params.big_r_adjust)
    u_self = utility(d, r_self[:, None])  # (n voters, n positions)
    row = u_self.sum(axis=1)
    nb = len(init)
    if nb:
        u_bi = utility(distances(ideal, b_init, sal), R[:, None])  # (n, nb)
        u_br = utility(distances(ideal, b_rcvr, sal), R[:, None])
        others = row[:, None] - u_self[:, init] - u_self[:, rcvr]
        val_b = (u_bi + u_br + others) / n  # (n voters, nb)
    else:
        val_b = np.zeros((n, 0))
    val_sq = row / n  # (n,)

    # Queues: SQ, own bargains, then bargains received by ascending initiator.
    entries: list[list[int]] = [[-1] for _ in range(n)]
    for b in range(nb):
        entries[init[b]].append(b)
    for b in range(nb):
        entries[rcvr[b]].append(b)
    vals = np.concatenate([val_b, val_sq[:, None]], axis=1)  # column -1 = SQ
    prob: list[np.ndarray] = [np.empty(0)] * n
    # Queues of equal length are resolved together as one batch of PCEs.
    by_length: dict[int, list[int]] = {}
    for k, e in enumerate(entries):
        by_length.setdefault(len(e), []).append(k)
    for m, ks in by_length.items():
        group = max(1, _CHUNK_ELEMENTS // max(1, n * m * m))
        for a in range(0, len(ks), group):
            kk = ks[a : a + group]
            idx = np.array([entries[k] for k in kk])  # (q, m)
            u_q = vals[:, idx].transpose(1, 0, 2)  # (q, voters, m)
            pq = scalar_pce(u_q, cap, params)
            for r, k in enumerate(kk):
                prob[k] = pq[r]

    if params.state_transitions == "Deterministic":
        chosen = np.array([int(np.argmax(p)) for p in prob])  # first maximum
    else:
        if rng is None:
            raise ValueError("StateTransitions=Stochastic needs a random generator")
        chosen = np.empty(n, dtype=int)
        for k in range(n):  # fixed draw order: actor index order
            cum = np.cumsum(prob[k])
            pick = int(np.searchsorted(cum, rng.random() * cum[-1], side="right"))
            chosen[k] = min(pick, len(cum) - 1)

    x_new = x.copy()
    settled = np.full(n, -1)
    for k in range(n):
        b = entries[k][chosen[k]]
        settled[k] = b
        if b >= 0:
            x_new[k] = b_init[b] if init[b] == k else b_rcvr[b]

    # Step 6: ideals.
    if affinity is None:
        ideal_new = x_new.copy()
    else:
        lag = 1.0 - np.minimum(affinity.sum(axis=1), 1.0)
        ideal_new = affinity @ x_new + lag[:, None] * ideal

    tr = None
    if trace:
        tr = {
            "risk_p": state.risk_p.copy(),
            "R": R.copy(),
            "target": target.copy(),
            "gain": gain.copy(),
            "P": p_best.copy(),
            "gain_matrix": gain_all,
            "bargains": [
                {"initiator": int(init[b]), "receiver": int(rcvr[b]),
                 "b_init": b_init[b].copy(), "b_rcvr": b_rcvr[b].copy()}
                for b in range(nb)
            ],
            "second_pi": None if second_pi is None else second_pi.copy(),
            "queues": [
                {
                    "entries": [
                        "SQ" if b < 0 else (int(init[b]), int(rcvr[b])) for b in entries[k]
                    ],
                    "bargain_index": list(entries[k]),
                    "prob": prob[k].copy(),
                    "chosen": int(chosen[k]),
                }
                for k in range(n)
            ],
            "x_new": x_new.copy(),
        }
    return TurnResult(x_new, ideal_new, tr, Bargains(init, rcvr, b_init, b_rcvr, settled))


# --------------------------------------------------------------------------
# Turn loop


@dataclass
class SMPStateRecord:
    """One state of the run (state 0 = input) on the internal scale."""

    x: np.ndarray
    ideal: np.ndarray
    sal: np.ndarray
    cap: np.ndarray
    assessment: Assessment
    bargains: Bargains | None = None  # the turn that led to this state (None for state 0)

    def summary(self) -> dict[str, Any]:
        a = self.assessment
        reps = self.x[a.rep_index]
        best = int(np.argmax(a.rep_prob))
        return {
            "most_probable": reps[best].copy(),
            "most_probable_prob": float(a.rep_prob[best]),
            "expected": (a.rep_prob[:, None] * reps).sum(axis=0),
            "cap_mean": (self.cap[:, None] * self.x).sum(axis=0) / self.cap.sum(),
        }


@dataclass
class SMPResult:
    states: list[SMPStateRecord]
    stop_ratios: list[float]
    stop: str  # "converged" | "max_turns"
    params: SMPParams
    trace: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def n_states(self) -> int:
        return len(self.states)

    @property
    def final(self) -> SMPStateRecord:
        return self.states[-1]


# hook(t, x, ideal) -> None | (x, ideal, sal, cap, affinity[, channels]); called before
# turn t + 1.
Hook = Callable[[int, np.ndarray, np.ndarray], Any]


def run_smp(
    x0: np.ndarray,
    sal: np.ndarray,
    cap: np.ndarray,
    affinity: np.ndarray | None = None,
    params: SMPParams | None = None,
    rng: np.random.Generator | None = None,
    hook: Hook | None = None,
    trace: bool = False,
    ideal0: np.ndarray | None = None,
    hold: int = 0,
    channels: np.ndarray | None = None,
) -> SMPResult:
    """Run SMP from positions ``x0`` (n, D) on [0, 1] until the stop test (3.4).

    ``sal`` (n, D) on [0, 1] with row sums <= 1, ``cap`` (n,) > 0, ``affinity``
    (n, n) or None for the identity.  ``rng`` is needed only for stochastic
    transitions.  ``hook(r, x, ideal)`` is called before turn r + 1 and may
    return replacement inputs ``(x, ideal, sal, cap, affinity)`` (levers); the
    stop test then starts afresh (new base distance, ``min_turns`` counted
    from there), and no stop happens at or before turn ``hold``.
    ``trace=True`` keeps the intermediate quantities of turn 1.  ``channels`` (n, n)
    booleans, a stakes extension, limit whom each actor may challenge (None: anyone);
    a hook that changes the actors returns their channels as a sixth element.
    """
    params = params or SMPParams()
    x = np.array(x0, dtype=float)
    ideal = x.copy() if ideal0 is None else np.array(ideal0, dtype=float)
    sal = np.asarray(sal, dtype=float)
    cap = np.asarray(cap, dtype=float)
    notes: list[str] = []
    if inert_third_parties(params):
        msg = (
            f"ThirdPartyCommit={params.third_party_commit} with tp_prob='ktab': third parties "
            "are inert (their expected values of joining either side are equal), so only the "
            "principals vote in challenges; use tp_prob='side_dependent' to make them count"
        )
        warnings.warn(msg, UserWarning, stacklevel=2)
        notes.append(msg)
    if params.state_transitions == "Stochastic" and rng is None:
        raise ValueError("StateTransitions=Stochastic needs a random generator")

    state = assess(x, ideal, sal, cap, params)
    states = [SMPStateRecord(x, ideal, sal, cap, state)]
    restart = 0
    ratios: list[float] = []
    base = None
    tr = None
    stop = "max_turns"
    for t in range(1, params.max_turns + 1):
        if hook is not None:
            new = hook(t - 1, x, ideal)
            if new is not None:
                x, ideal, sal, cap, affinity = new[:5]
                channels = new[5] if len(new) > 5 else channels
                x, ideal, sal, cap = (np.asarray(v, dtype=float) for v in (x, ideal, sal, cap))
                state = assess(x, ideal, sal, cap, params)
                base = None
                restart = t - 1
        res = turn(x, ideal, sal, cap, affinity, state, params, rng, trace=trace and t == 1,
                   channels=channels)
        if res.trace is not None:
            tr = res.trace
        moved = float(np.sqrt(((res.x - x) ** 2).sum(axis=1)).sum())
        if base is None:
            base = moved + params.stop_ratio_guard
        ratio = moved / base
        ratios.append(ratio)
        x, ideal = res.x, res.ideal
        state = assess(x, ideal, sal, cap, params)
        states.append(SMPStateRecord(x, ideal, sal, cap, state, res.bargains))
        if t - restart >= params.min_turns and t > hold and ratio < params.stop_ratio:
            stop = "converged"
            break
    return SMPResult(states, ratios, stop, params, tr, notes)
