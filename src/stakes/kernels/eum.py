"""Array kernel of the expected utility model (EUM).

Bueno de Mesquita (1994) as reconstructed by Scholz et al. (2011); the equation
numbers in comments refer to Scholz et al. (2011).  The round step works on a
batch of ``B`` independent runs with arrays shaped ``(B, n)`` and is written
against an array namespace ``xp`` (numpy here), so that it can later be traced
by a JIT: no in-place assignment, no data-dependent Python branching inside a
round, options are plain Python values held in :class:`KernelOptions`.

The only O(n³) quantity is the table of votes for i against j summed over
voters k.  Up to ``DENSE_MAX_N`` actors it is summed from the full
``(B, n, n, n)`` tensor (0.26 MB per run at n = 32, a few temporaries of that
size alive at once); above, from sorted prefix sums in O(n² log n) time and
O(n²) memory, so n = 100 and large batches stay small.

This module imports nothing but numpy and the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

# Relative tolerances used to decide that two floating-point sums are equal
# (median ties, equal exposure).  They only guard exact ties of the mathematics
# against rounding noise.
_TIE_RTOL = 1e-12
# Number of evenly spaced test positions of risk_domain="positions" (BDM 1994).
RISK_GRID_POINTS = 11


@dataclass(frozen=True)
class KernelOptions:
    """Per-round options of the EUM kernel (see ``stakes.models.eum.EUMOptions``).

    Plain hashable values so that the object can be a static argument of a
    traced function.
    """

    prob: str = "scholz_code"  # "paper" | "scholz_code"
    vote_risk: bool = True
    target_salience: str = "target"  # "target" | "literal"
    eu_perspective: str = "own"  # "own" | "actor"
    Q: float = 1.0
    T: str = "eftekhari"  # "eftekhari" | "0" | "1"
    risk_domain: str = "actors"  # "actors" | "positions"
    compromise: str = "proportional"  # "proportional" | "eu_weighted"
    offer_priority: str = "scholz_code"  # "scholz_code" | "bdm_smallest_move"
    capitulation: bool = False  # the reference code never fires it (spec §2.8)
    median_tie: str = "lower"  # "lower" | "midpoint"

    def __post_init__(self) -> None:
        allowed = {
            "prob": ("paper", "scholz_code"),
            "target_salience": ("target", "literal"),
            "eu_perspective": ("own", "actor"),
            "T": ("eftekhari", "0", "1"),
            "risk_domain": ("actors", "positions"),
            "compromise": ("proportional", "eu_weighted"),
            "offer_priority": ("scholz_code", "bdm_smallest_move"),
            "median_tie": ("lower", "midpoint"),
        }
        for name, values in allowed.items():
            if getattr(self, name) not in values:
                raise ValueError(
                    f"EUM option {name}={getattr(self, name)!r}; expected one of {values}"
                )
        if not 0.0 <= float(self.Q) <= 1.0:
            raise ValueError(f"EUM option Q={self.Q!r}; expected a number in [0, 1]")


class RoundResult(NamedTuple):
    """Everything one round computes; arrays carry the batch axis first."""

    position: Any  # (B, n) positions after the simultaneous moves
    risk: Any  # (B, n) risk exponents r used in this round (eq. 33)
    median: Any  # (B,) median μ at the start of the round
    exposure: Any  # (B, n) S_i = Σ_j E^j(U_ji) at r = 1 (eq. 32)
    prob: Any  # (B, n, n) P[i, j]: probability that i beats j (with r)
    e_ij: Any  # (B, n, n) E^i(U_ij): i's expected utility of challenging j
    e_ji: Any  # (B, n, n) E^i(U_ji): i's estimate of j's expected utility of challenging i
    offer_type: Any  # (B, n, n) [receiver i, proposer j]: OFFER_TYPES code, 3 = no offer
    offered: Any  # (B, n, n) the position j offers i
    offer_key: Any  # (B, n, n) the receiver takes the lowest key (+inf: not eligible)


# --------------------------------------------------------------------------
# Building blocks.  Every function accepts arbitrary leading (batch) axes.


def _stored(xp, *arrays):
    """The arrays, computed once and kept in memory before their consumers run.

    A no-op with numpy.  Under a compiler (see ``backend._JaxNamespace``) it
    stops the fusion of cheap producers into expensive consumers: XLA would
    otherwise recompute an (n, n) quantity inside the O(n³) vote loop, or the
    expected utilities inside each of the offers' reductions.
    """
    keep = getattr(xp, "stored", None)
    out = keep(arrays) if keep is not None else arrays
    return out[0] if len(arrays) == 1 else out


def _safe(xp, delta):
    """Δ with zeros replaced by 1: with Δ = 0 every distance is 0 anyway."""
    return xp.where(delta > 0, delta, 1.0)


def median_position(xp, x, w, *, tie: str = "lower"):
    """Condorcet winner among the actor positions under risk-neutral votes.

    With r = 1 the votes are linear, ``Σ_k v_k(a, b) ∝ D(b) − D(a)`` with
    ``D(a) = Σ_k w_k |x_k − a|``, so the winner is the actor position minimising
    D: the w-weighted median (Bueno de Mesquita 1994; spec §2.7).  Ties
    between distinct positions: the lower one or the midpoint of the tied range.
    """
    dev = xp.sum(w[..., None, :] * xp.abs(x[..., None, :] - x[..., :, None]), axis=-1)
    dmin = xp.min(dev, axis=-1, keepdims=True)
    span = xp.max(x, axis=-1, keepdims=True) - xp.min(x, axis=-1, keepdims=True)
    scale = xp.sum(xp.abs(w), axis=-1, keepdims=True) * span
    tied = dev <= dmin + _TIE_RTOL * scale
    low = xp.min(xp.where(tied, x, xp.inf), axis=-1)
    if tie == "lower":
        return low
    high = xp.max(xp.where(tied, x, -xp.inf), axis=-1)
    return 0.5 * (low + high)


def _vote_utilities(xp, x, r, delta):
    """u[..., k, a] = (|x_k − x_a| / Δ)^{r_k}: voter k's loss at position a (eq. 2.2).

    ``r=None``: every exponent is 1 (the risk step), and no power is taken: a
    power of 1 still costs a log and an exp per element under a compiler.
    """
    dist = xp.abs(x[..., :, None] - x[..., None, :]) / _safe(xp, delta)[..., None, None]
    if r is None:
        return _stored(xp, dist)
    return _pow(xp, dist, r[..., :, None])


def _win_votes_dense(xp, u, w):
    """num[..., i, j] = Σ_k max(v_k(x_i, x_j), 0) from the full (..., n, n, n) vote tensor.

    v_k(x_i, x_j) = w_k (u_kj − u_ki).  Fastest while the tensor fits in cache.
    """
    n = u.shape[-1]
    if xp is np:
        return _win_votes_dense_numpy(u, w)
    diff = u[..., :, None, :] - u[..., :, :, None]  # (..., k, i, j) = u_kj − u_ki
    pos = xp.maximum(diff, 0.0)
    flat = xp.reshape(pos, pos.shape[:-2] + (n * n,))
    num = xp.matmul(w[..., None, :], flat)  # (..., 1, n*n): BLAS does the k-sum
    return xp.reshape(num, num.shape[:-2] + (n, n))


# numpy materialises the vote tensor: build it for a block of runs at a time,
# small enough to stay in a core's L2 cache (2 MiB), which about halves the time
# of this step against one tensor for the whole batch (measured at n = 20).
_DENSE_BLOCK_BYTES = 2**21


def _win_votes_dense_numpy(u, w):
    n = u.shape[-1]
    lead = u.shape[:-2]
    u3 = np.ascontiguousarray(u).reshape((-1, n, n))
    w2 = w.reshape((-1, n))
    out = np.empty((len(u3), n, n))
    flat_out = out.reshape((len(u3), 1, n * n))
    block = max(1, _DENSE_BLOCK_BYTES // (8 * n**3))
    # One buffer for every block: a fresh 2 MiB array per block would be mapped
    # and unmapped by the allocator each time, which costs more than it saves.
    buf = np.empty((min(block, len(u3)), n, n, n))
    for a in range(0, len(u3), block):  # blocks of runs, each fully vectorised
        ub = u3[a:a + block]
        diff = buf[:len(ub)]
        np.subtract(ub[:, :, None, :], ub[:, :, :, None], out=diff)  # (b, k, i, j)
        np.maximum(diff, 0.0, out=diff)
        np.matmul(w2[a:a + block, None, :], diff.reshape(len(ub), n, n * n),
                  out=flat_out[a:a + block])
    return out.reshape(lead + (n, n))


def _count_below(xp, xs, q):
    """#{k: xs_k < q_m} for every q_m; ``xs`` sorted along the last axis.

    A batched searchsorted.  numpy's searchsorted takes one sorted row at a
    time, so with numpy the rows of the batch are handed over one by one (a
    loop over runs, each call vectorised over all pairs).  The generic form
    needs only sort primitives: one stable sort of q and xs together (q first,
    so that an x equal to q does not count as below), the running count of
    x's, and the inverse permutation to put the counts back in q's order.
    """
    if xp is np:
        lead = xs.shape[:-1]
        xs2 = xs.reshape(-1, xs.shape[-1])
        q2 = q.reshape(-1, q.shape[-1])
        out = np.stack([np.searchsorted(xs2[b], q2[b], side="left") for b in range(len(xs2))])
        return out.reshape(lead + (q.shape[-1],))
    m = q.shape[-1]
    order = xp.argsort(xp.concatenate([q, xs], axis=-1), axis=-1, stable=True)
    seen = xp.cumsum((order >= m).astype(xs.dtype), axis=-1)
    slot = xp.argsort(order, axis=-1, stable=True)[..., :m]
    return xp.take_along_axis(seen, slot, axis=-1).astype(np.int64)


def _win_votes_sorted(xp, x, u, w):
    """Same as :func:`_win_votes_dense` in O(n² log n) time and O(n²) memory.

    Every exponent is positive, so voter k prefers x_i to x_j exactly when it
    is on x_i's side of the midpoint m_ij (the sign of a vote does not depend
    on r).  Sorting the voters by position turns the sum over k into a
    difference of prefix sums of w_k u_ka, read at the rank of m_ij.  Voters
    standing exactly at m_ij contribute 0 whichever side they are counted on.
    """
    n = x.shape[-1]
    order = xp.argsort(x, axis=-1)
    xs = xp.take_along_axis(x, order, axis=-1)
    wu = xp.take_along_axis(w[..., :, None] * u, order[..., :, None], axis=-2)  # sorted k
    prefix = xp.concatenate([xp.zeros_like(wu[..., :1, :]), xp.cumsum(wu, axis=-2)], axis=-2)
    prefix = xp.swapaxes(prefix, -1, -2)  # (..., a, t): Σ over the t leftmost voters
    total = prefix[..., :, n]
    mid = 0.5 * (x[..., :, None] + x[..., None, :])
    rank = xp.reshape(_count_below(xp, xs, xp.reshape(mid, mid.shape[:-2] + (n * n,))), mid.shape)
    at_i = xp.take_along_axis(prefix, rank, axis=-1)  # [i, j] = Σ_{x_k < m_ij} w_k u_ki
    at_j = xp.swapaxes(xp.take_along_axis(prefix, xp.swapaxes(rank, -1, -2), axis=-1), -1, -2)
    left = at_j - at_i  # x_i < x_j: i's supporters are left of the midpoint
    right = (total[..., None, :] - at_j) - (total[..., :, None] - at_i)
    xi = x[..., :, None]
    xj = x[..., None, :]
    return xp.where(xi < xj, left, xp.where(xi > xj, right, 0.0))


# Above this many actors the O(n³) tensor no longer fits in cache and the
# sorted form wins (measured on numpy; the choice depends on shape only).
DENSE_MAX_N = 32


def win_votes(xp, x, u, w, method: str = "auto"):
    """num[..., i, j] = Σ_k max(v_k(x_i, x_j), 0), the votes cast for i against j."""
    if method == "dense" or (method == "auto" and x.shape[-1] <= DENSE_MAX_N):
        return _win_votes_dense(xp, u, w)
    return _win_votes_sorted(xp, x, u, w)


def _probability(xp, num_ij, num_ji, global_den, same, prob: str):
    """Probability that i beats j (eq. 30 or the reference code's global form)."""
    if prob == "scholz_code":
        den = global_den
    else:
        den = num_ij + num_ji
    p = xp.where(den > 0, num_ij / xp.where(den > 0, den, 1.0), 0.0)
    return xp.where(same, 0.0, p)


def probabilities(xp, x, c, s, r, delta, *, prob: str = "scholz_code", method: str = "auto"):
    """P[..., i, j], the probability that i prevails over j (spec §2.4).

    ``r``: the voters' risk exponents, or ``None`` for risk-neutral votes (r = 1).

    ``scholz_code``: Σ_{k: v_k > 0} v_k / Σ_k Σ_a Σ_b |v_k(x_a, x_b)|, where the
    global denominator is 2 Σ_{a,b} num[a, b] because |v| = max(v, 0) + max(−v, 0).
    ``paper`` (eq. 30): the denominator is Σ_k |v_k(x_i, x_j)|.
    """
    w = c * s
    # Stored: the global denominator sums it, and a compiler would otherwise
    # redo the O(n³) vote sum to get that total.
    num = _stored(xp, win_votes(xp, x, _vote_utilities(xp, x, r, delta), w, method))
    num_t = xp.swapaxes(num, -1, -2)
    den = 2.0 * xp.sum(num, axis=(-2, -1))[..., None, None]
    same = x[..., :, None] == x[..., None, :]
    return _probability(xp, num, num_t, den, same, prob)


def _pow(xp, base, rho):
    """base ** rho for bases ≥ 0 and exponents > 0, as exp(rho · log base).

    One formula on every backend: numpy's and XLA's general ``pow`` round
    differently, exp(ρ log b) is 1.7x faster under XLA on CPU and differs from
    a correctly rounded power by about 1e-15 relative; log 0 = −inf gives 0.
    The risk step evaluates everything at r = 1 and skips the power there.
    """
    if isinstance(rho, float) and rho == 1.0:
        return base
    fast = getattr(xp, "pow_nonneg", None)
    if fast is not None:  # the same formula, with log and exp that a compiler vectorises
        return fast(base, rho)
    with np.errstate(divide="ignore"):
        return xp.exp(rho * xp.log(base))


def _success_failure(xp, d, rho):
    """U_s and U_f of a challenge across the distance ``d`` (in Δ), eqs. 15 and 16."""
    # The bases are ≥ 0 mathematically (positions stay inside the range);
    # clipping only removes rounding noise below 0 before a fractional power.
    u_s = 2.0 - 4.0 * _pow(xp, xp.maximum(0.5 - 0.5 * d, 0.0), rho)
    u_f = 2.0 - 4.0 * _pow(xp, 0.5 + 0.5 * d, rho)
    return u_s, u_f


def _expected_utility(xp, xa, xt, mu, rho, p, sigma, delta, Q: float, T: str, outcomes=None):
    """E^a(U_at): challenger a's expected utility of challenging target t (eq. 25a).

    All arguments broadcast.  ``rho`` is the exponent of the judging actor,
    ``p`` the probability that a beats t, ``sigma`` the probability that the
    target resists.  Utilities are eqs. 15, 16, 18, 19 and 24.  ``outcomes``:
    (U_s, U_f) when the caller already has them for this distance and ``rho``.
    """
    dd = _safe(xp, delta)
    d = xp.abs(xa - xt) / dd
    u_s, u_f = outcomes if outcomes is not None else _success_failure(xp, d, rho)
    eu = sigma * (p * u_s + (1.0 - p) * u_f) + (1.0 - sigma) * u_s
    u_sq = 2.0 - 4.0 * _pow(xp, 0.5, rho)
    eu = eu - Q * u_sq
    if Q != 1.0:
        m = xp.abs(xa - mu) / dd
        u_b = 2.0 - 4.0 * _pow(xp, xp.maximum(0.5 - 0.25 * (m + d), 0.0), rho)
        u_w = 2.0 - 4.0 * _pow(xp, 0.5 + 0.25 * (m + d), rho)
        if T == "eftekhari":
            t_up = xp.where(xp.abs(xa - mu) < xp.abs(xa - xt), 1.0, 0.0)
        else:
            t_up = float(T)
        eu = eu - (1.0 - Q) * (t_up * u_b + (1.0 - t_up) * u_w)
    return xp.where(xa == xt, 0.0, eu)


def expected_utilities(xp, x, s, r, mu, p, delta, opts: KernelOptions):
    """Both perceptual matrices from i's point of view (eqs. 25a/25b).

    Returns ``(e_ij, e_ji)`` with ``e_ij[..., i, j] = E^i(U_ij)`` and
    ``e_ji[..., i, j] = E^i(U_ji)``.
    """
    xi = x[..., :, None]
    xj = x[..., None, :]
    ri = r[..., :, None]
    rj = r[..., None, :]
    si = s[..., :, None]
    sj = s[..., None, :]
    mu_ = mu[..., None, None]
    dl = delta[..., None, None]
    # U_s and U_f depend on |x_i − x_j| and the exponent only.  With i's own
    # exponent in both matrices they are the same numbers for both, and the
    # fractional powers are most of this step's cost: compute them once.
    outcomes = _success_failure(xp, xp.abs(xi - xj) / _safe(xp, dl), ri)
    e_ij = _expected_utility(xp, xi, xj, mu_, ri, p, sj, dl, opts.Q, opts.T, outcomes)
    own = opts.eu_perspective == "own"
    rho = ri if own else rj
    # Target salience s_i (i is the target of j); "literal" keeps the printed
    # eq. 25b, which has the challenger's salience s_j.
    sigma = si if opts.target_salience == "target" else sj
    e_ji = _expected_utility(
        xp, xj, xi, mu_, rho, xp.swapaxes(p, -1, -2), sigma, dl, opts.Q, opts.T,
        outcomes if own else None,
    )
    return e_ij, e_ji


def _risk_from_exposure(xp, expo, lo_s, hi_s):
    """Eq. 33: R = (2S − S_max − S_min)/(S_max − S_min), r = (1 − R/3)/(1 + R/3).

    Where S_max = S_min (no spread) every r is 1.
    """
    spread = hi_s - lo_s
    flat = spread <= _TIE_RTOL * (1.0 + xp.maximum(xp.abs(hi_s), xp.abs(lo_s)))
    big_r = (2.0 * expo - hi_s - lo_s) / xp.where(flat, 1.0, spread)
    big_r = xp.clip(big_r, -1.0, 1.0)
    r = (1.0 - big_r / 3.0) / (1.0 + big_r / 3.0)
    return xp.where(flat, 1.0, r)


def _pairwise_abs_sum(xp, u):
    """Σ_a Σ_b |u_a − u_b| along the last axis in O(n log n) via sorting."""
    n = u.shape[-1]
    srt = xp.sort(u, axis=-1)
    # Ordered pairs: 2 Σ_{a<b} (u_(b) − u_(a)) = 2 Σ_m (2m − n + 1) u_(m).
    coef = 2.0 * xp.arange(n) - (n - 1)
    return 2.0 * xp.sum(srt * coef, axis=-1)


def _exposure_at_positions(xp, x, c, s, lo, delta, opts: KernelOptions):
    """S_i(y) for every actor i placed at each grid point y, others fixed (r = 1).

    Used by risk_domain="positions".  Returns (..., n, G).  For configuration
    (i, y) only column i of the expected-utility matrix is needed, which keeps
    the cost at O(n³) per grid point instead of O(n⁴).
    """
    n = x.shape[-1]
    w = c * s
    dd = _safe(xp, delta)
    eye = xp.eye(n, dtype=bool)
    out = []
    for g in range(RISK_GRID_POINTS):
        y = lo + delta * (g / (RISK_GRID_POINTS - 1))  # (...,)
        yb = y[..., None, None]
        # X[..., i, k]: position of actor k when i stands at y.
        X = xp.where(eye, yb, x[..., None, :])
        mu = median_position(xp, X, w[..., None, :], tie=opts.median_tie)  # (..., i)
        # Voter k's distance to i (at y) and to every j, in configuration i.
        d_to_i = xp.abs(X - yb) / dd[..., None, None]  # (..., i, k)
        d_kj = xp.abs(X[..., :, :, None] - X[..., :, None, :]) / dd[..., None, None, None]
        # d_kj[..., i, j, k] = |X_ij − X_ik| / Δ
        gap = d_to_i[..., :, None, :] - d_kj  # > 0: k prefers j to i
        num_ji = xp.sum(w[..., None, None, :] * xp.maximum(gap, 0.0), axis=-1)  # (..., i, j)
        num_ij = xp.sum(w[..., None, None, :] * xp.maximum(-gap, 0.0), axis=-1)
        if opts.prob == "scholz_code":
            # Σ_k w_k Σ_a Σ_b |u_ka − u_kb| for each configuration i.
            spread = _pairwise_abs_sum(xp, xp.swapaxes(d_kj, -1, -2))  # (..., i, k)
            den = xp.sum(w[..., None, :] * spread, axis=-1)
            den = den[..., :, None]
        else:
            den = None
        xj = x[..., None, :]
        same = xj == yb
        p_ji = _probability(xp, num_ji, num_ij, den, same, opts.prob)
        e = _expected_utility(
            xp, xj, yb, mu[..., :, None], 1.0, p_ji, s[..., :, None], delta[..., None, None],
            opts.Q, opts.T,
        )
        e = xp.where(eye, 0.0, e)
        out.append(xp.sum(e, axis=-1))
    return xp.stack(out, axis=-1)


def risk_exponents(xp, x, c, s, mu, lo, delta, opts: KernelOptions):
    """Risk exponents r (eqs. 32–33) and the exposure S at r = 1.

    ``S_i = Σ_{j≠i} E^j(U_ji)``: what the others expect to gain by challenging i.
    """
    p1 = probabilities(xp, x, c, s, None, delta, prob=opts.prob)
    e1 = _expected_utility(
        xp, x[..., :, None], x[..., None, :], mu[..., None, None], 1.0, p1, s[..., None, :],
        delta[..., None, None], opts.Q, opts.T,
    )
    expo = xp.sum(e1, axis=-2)  # column sums: challengers j against target i
    if opts.risk_domain == "actors":
        hi_s = xp.max(expo, axis=-1, keepdims=True)
        lo_s = xp.min(expo, axis=-1, keepdims=True)
    else:
        grid = _exposure_at_positions(xp, x, c, s, lo, delta, opts)
        hi_s = xp.maximum(xp.max(grid, axis=-1), expo)
        lo_s = xp.minimum(xp.min(grid, axis=-1), expo)
    return _risk_from_exposure(xp, expo, lo_s, hi_s), expo, p1


def _first_best(xp, x, key, new):
    """Per receiver (row), ``new`` of the proposer with the lowest ``key``.

    ``key`` is +inf where a proposer makes no offer.  Exact ties go to the
    proposer listed first: argmin returns the first minimum in numpy and JAX
    alike, as Python's ``min`` over actors in input order does in the reference
    code (spec §2.8).  A receiver with no offer stays at ``x``.
    """
    j = xp.argmin(key, axis=-1)[..., None]
    best = xp.take_along_axis(key, j, axis=-1)[..., 0]
    pick = xp.take_along_axis(new, j, axis=-1)[..., 0]
    return xp.where(xp.isfinite(best), pick, x)


OFFER_TYPES = ("conflict", "compromise", "capitulation")  # codes 0, 1, 2; 3 = no offer


def offer_table(xp, x, e_ij, e_ji, opts: KernelOptions):
    """Every offer of a round (spec §2.8): (type code, offered position, ranking key).

    Row i is the receiver, column j the proposer; ``E_i = E^i(U_ij)``,
    ``E_j = E^i(U_ji)``.  Strict inequalities: boundaries give no offer.
    Type codes index :data:`OFFER_TYPES`, 3 where j makes i no offer.  The
    receiver takes the offer with the lowest key (+inf: not eligible).  Keys
    are compared exactly, with no tolerance, as in the reference code.
    """
    ei, ej = e_ij, e_ji
    xi = x[..., :, None]
    xj = x[..., None, :] + xp.zeros_like(ei)
    conflict = (ej > ei) & (ei > 0)
    weak = (ei < 0) & (ej > 0)
    compromise = weak & (xp.abs(ei) < ej)
    capitulate = weak & (xp.abs(ei) > ej)
    if not opts.capitulation:
        capitulate = xp.zeros_like(capitulate)
    abs_i, abs_j = xp.abs(ei), xp.abs(ej)
    if opts.compromise == "proportional":
        comp_pos = xi + (xj - xi) * (abs_i / xp.where(ej != 0, abs_j, 1.0))
    else:
        wsum = abs_i + abs_j
        comp_pos = (abs_i * xi + abs_j * xj) / xp.where(wsum > 0, wsum, 1.0)
    new = xp.where(compromise, comp_pos, xj)
    move = xp.abs(xi - new)
    kind = xp.where(conflict, 0, xp.where(compromise, 1, xp.where(capitulate, 2, 3)))
    if opts.offer_priority == "scholz_code":
        # Conflict offers first, then compromise, then capitulation (Scholz et
        # al. 2011 replication code).  Conflict and capitulation offers are
        # ranked by the move they ask for; compromise offers by the EU-weighted
        # point K between receiver and proposer, although the receiver then
        # moves to the offer's own position (spec §2.8).
        best_kind = xp.min(kind, axis=-1, keepdims=True)
        wsum = abs_i + abs_j
        k_key = (abs_i * xi + abs_j * xj) / xp.where(wsum > 0, wsum, 1.0)
        key = xp.where(best_kind == 1, k_key, move)
        key = xp.where((kind == best_kind) & (kind < 3), key, xp.inf)
    else:
        # Bueno de Mesquita (1994): the credible offer asking the smallest move.
        key = xp.where(kind < 3, move, xp.inf)
    return kind, new, key


def offers(xp, x, e_ij, e_ji, delta, opts: KernelOptions):
    """New positions from the perceptual quadrants: each receiver's chosen offer."""
    _, new, key = offer_table(xp, x, e_ij, e_ji, opts)
    # Stored, so that the argmin and the gather read the same rounding.
    return _first_best(xp, x, *_stored(xp, key, new))


def eum_round(xp, x, c, s, lo, delta, opts: KernelOptions = KernelOptions(),
              mu=None) -> RoundResult:
    """One EUM round for a batch (Scholz et al. 2011, appendix; spec §2.9).

    ``x, c, s``: (B, n); ``lo, delta``: (B,) lower end and width of the range
    used for Δ (and for the grid of risk_domain="positions").  ``mu``: the
    median of ``x`` when the caller has it already (the previous round's).
    """
    w = c * s
    if mu is None:
        mu = median_position(xp, x, w, tie=opts.median_tie)
    r, expo, p1 = risk_exponents(xp, x, c, s, mu, lo, delta, opts)
    if opts.vote_risk:
        p = probabilities(xp, x, c, s, r, delta, prob=opts.prob)
    else:
        p = p1  # risk-neutral votes: the r = 1 probabilities stand
    e_ij, e_ji = _stored(xp, *expected_utilities(xp, x, s, r, mu, p, delta, opts))
    kind, offered, key = offer_table(xp, x, e_ij, e_ji, opts)
    # Stored, so that the argmin and the gather read the same rounding.
    key, offered = _stored(xp, key, offered)
    new = _first_best(xp, x, key, offered)
    return RoundResult(new, r, mu, expo, p, e_ij, e_ji, kind, offered, key)


def iterate_rounds(xp, x, c, s, n_rounds: int, opts: KernelOptions = KernelOptions(), *,
                   delta_fixed: bool = True, lo=None, delta=None):
    """Run a fixed number of rounds on a batch, without stopping rules.

    ``lo, delta`` (B,): the range Δ is taken from while ``delta_fixed``; by
    default that of ``x``.  Otherwise Δ is each round's own spread.  Returns
    (positions (R+1, B, n), risk (R, B, n), medians (R+1, B)), round 0 = ``x``.
    """
    w = c * s
    if lo is None:
        lo = xp.min(x, axis=-1)
        delta = xp.max(x, axis=-1) - lo
    traj = [x]
    risks = []
    meds = [median_position(xp, x, w, tie=opts.median_tie)]
    for _ in range(n_rounds):
        if not delta_fixed:
            lo = xp.min(x, axis=-1)
            delta = xp.max(x, axis=-1) - lo
        res = eum_round(xp, x, c, s, lo, delta, opts, mu=meds[-1])
        x = res.position
        traj.append(x)
        risks.append(res.risk)
        meds.append(median_position(xp, x, w, tie=opts.median_tie))
    return xp.stack(traj), (xp.stack(risks) if risks else xp.zeros((0,) + x.shape)), xp.stack(meds)


# --------------------------------------------------------------------------
# One run, for tests and the reference numbers (numpy only).


@dataclass
class EUMTrajectory:
    """Result of :func:`run_eum`: the full round-by-round series of one run."""

    positions: np.ndarray  # (R+1, n), round 0 = input
    means: np.ndarray  # (R+1,) capability·salience weighted means
    medians: np.ndarray  # (R+1,) median μ of each round's positions
    risk: np.ndarray  # (R, n) r used in rounds 1..R
    stop: str  # "converged" | "cycle" | "max_rounds"
    cycle_length: int | None
    delta: float


def run_eum(x, c, s, *, max_rounds: int = 50, tol: float = 1e-6, cycle_detection: bool = True,
            delta_fixed: bool = True, **options: Any) -> EUMTrajectory:
    """One EUM issue until convergence, a cycle or ``max_rounds`` (spec §2.9).

    The model itself on bare arrays: :class:`stakes.models.eum.EUM` through
    the round driver, as a batch of one.  ``options`` are the fields of
    :class:`KernelOptions`.
    """
    from ..models.base import Problem, Schedule  # the model imports this module
    from ..models.eum import EUM, EUMOptions

    x = np.asarray(x, dtype=float).reshape(-1)
    n = len(x)
    nan = np.array([np.nan])
    problem = Problem(("issue",), tuple(f"a{k}" for k in range(n)), x[:, None],
                      np.asarray(s, dtype=float).reshape(-1, 1),
                      np.asarray(c, dtype=float).reshape(-1, 1),
                      np.array([x.min(initial=0.0)]), np.array([x.max(initial=1.0)]), nan)
    opts = EUMOptions(max_rounds=max_rounds, tol=tol, cycle_detection=cycle_detection,
                      delta_fixed=delta_fixed, **options)
    run = EUM().run(problem, opts, Schedule.empty(), np.random.default_rng(0))
    rounds = run.rounds
    return EUMTrajectory(
        positions=np.stack([r.position[:, 0] for r in rounds]),
        means=np.array([r.mean[0] for r in rounds]),
        medians=np.array([r.extra["median"][0] for r in rounds]),
        risk=np.array([r.extra["risk"] for r in rounds[1:]]).reshape(len(rounds) - 1, n),
        stop=run.stop,
        cycle_length=run.info["cycle_length"],
        delta=run.info["delta_initial"],
    )


def first_round(x, c, s, **options: Any) -> RoundResult:
    """Round-1 diagnostics of a single run (batch axis removed).

    Gives the risk exponents r, the median, the exposure S, the probabilities
    and the matrices E^i(U_ij) (``e_ij``) and E^i(U_ji) (``e_ji``); row i of
    both is actor i's perceptual quadrant.
    """
    opts = KernelOptions(**options)
    x = np.asarray(x, dtype=float).reshape(1, -1)
    c = np.asarray(c, dtype=float).reshape(1, -1)
    s = np.asarray(s, dtype=float).reshape(1, -1)
    lo = np.min(x, axis=-1)
    delta = np.max(x, axis=-1) - lo
    res = eum_round(np, x, c, s, lo, delta, opts)
    return RoundResult(*(np.asarray(a)[0] for a in res))


def round_one_risk(x, c, s, **options: Any) -> np.ndarray:
    """Risk exponents r at the start of round 1 (spec §2.11 table a)."""
    return first_round(x, c, s, **options).risk


def perceptual_quadrant(x, c, s, actor: int, **options: Any) -> tuple[np.ndarray, np.ndarray]:
    """Actor ``actor``'s round-1 quadrant: (E^i(U_ij), E^i(U_ji)) for every j.

    x = E^i(U_ij) and y = E^i(U_ji) of Bueno de Mesquita (1994)'s plot, both
    with i's risk exponent (spec §2.11 table b).
    """
    res = first_round(x, c, s, **options)
    return res.e_ij[actor].copy(), res.e_ji[actor].copy()
