"""Loop-per-pair reference implementation of the EUM (spec §2).

Plain Python, one loop per actor, pair or triple, written straight from the
equations of Scholz et al. (2011) as specified in spec §2.  It is slow on
purpose: it is the yardstick against which the array kernel
``stakes.kernels.eum`` is tested (to 1e-9) and benchmarked.  It depends on
nothing but the standard library.

Options have the same names, values and defaults as ``stakes.models.eum.EUMOptions``.
"""

from __future__ import annotations

DEFAULTS = dict(
    prob="scholz_code",
    vote_risk=True,
    target_salience="target",
    eu_perspective="own",
    Q=1.0,
    T="eftekhari",
    risk_domain="actors",
    compromise="proportional",
    offer_priority="scholz_code",
    capitulation=False,
    median_tie="lower",
)

# Same median tie tolerance as the kernel: it only absorbs rounding noise in exact ties.
# Offers are compared exactly, as in the reference code.
TIE_RTOL = 1e-12
GRID_POINTS = 11


def median(x, w, tie="lower"):
    """Actor position minimising Σ_k w_k |x_k − a| (the Condorcet winner for r = 1)."""
    n = len(x)
    dev = []
    for a in range(n):
        total = 0.0
        for k in range(n):
            total += w[k] * abs(x[k] - x[a])
        dev.append(total)
    best = min(dev)
    scale = sum(abs(v) for v in w) * (max(x) - min(x))
    tied = [x[a] for a in range(n) if dev[a] <= best + TIE_RTOL * scale]
    if tie == "lower":
        return min(tied)
    return 0.5 * (min(tied) + max(tied))


def vote(k, a, b, x, w, r, delta):
    """v_k(x_a, x_b): voter k's vote for x_a against x_b (positive: prefers x_a)."""
    return w[k] * ((abs(x[k] - x[b]) / delta) ** r[k] - (abs(x[k] - x[a]) / delta) ** r[k])


def probability_matrix(x, w, r, delta, prob):
    """P[i][j], the probability that i beats j (eq. 30 or the global denominator)."""
    n = len(x)
    if prob == "scholz_code":
        den = 0.0
        for k in range(n):
            for a in range(n):
                for b in range(n):
                    den += abs(vote(k, a, b, x, w, r, delta))
    P = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(n):
            if x[i] == x[j]:
                continue
            num = 0.0
            pair_den = 0.0
            for k in range(n):
                v = vote(k, i, j, x, w, r, delta)
                if v > 0:
                    num += v
                pair_den += abs(v)
            d = den if prob == "scholz_code" else pair_den
            P[i][j] = num / d if d > 0 else 0.0
    return P


def expected_utility(xa, xt, mu, rho, p, sigma, delta, Q, T):
    """E^a(U_at), eq. 25a, with the utilities of eqs. 15, 16, 18, 19, 24."""
    if xa == xt:
        return 0.0
    d = abs(xa - xt) / delta
    m = abs(xa - mu) / delta
    u_s = 2.0 - 4.0 * max(0.5 - 0.5 * d, 0.0) ** rho
    u_f = 2.0 - 4.0 * (0.5 + 0.5 * d) ** rho
    u_b = 2.0 - 4.0 * max(0.5 - 0.25 * (m + d), 0.0) ** rho
    u_w = 2.0 - 4.0 * (0.5 + 0.25 * (m + d)) ** rho
    u_sq = 2.0 - 4.0 * 0.5**rho
    if T == "eftekhari":
        t_up = 1.0 if abs(xa - mu) < abs(xa - xt) else 0.0
    else:
        t_up = float(T)
    challenge = sigma * (p * u_s + (1.0 - p) * u_f) + (1.0 - sigma) * u_s
    if Q == 1.0:
        return challenge - u_sq
    return challenge - Q * u_sq - (1.0 - Q) * (t_up * u_b + (1.0 - t_up) * u_w)


def eu_matrices(x, s, r, mu, P, delta, o):
    """e_ij[i][j] = E^i(U_ij) and e_ji[i][j] = E^i(U_ji) (eqs. 25a/25b)."""
    n = len(x)
    e_ij = [[0.0] * n for _ in range(n)]
    e_ji = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(n):
            e_ij[i][j] = expected_utility(
                x[i], x[j], mu, r[i], P[i][j], s[j], delta, o["Q"], o["T"]
            )
            rho = r[i] if o["eu_perspective"] == "own" else r[j]
            sigma = s[i] if o["target_salience"] == "target" else s[j]
            e_ji[i][j] = expected_utility(
                x[j], x[i], mu, rho, P[j][i], sigma, delta, o["Q"], o["T"]
            )
    return e_ij, e_ji


def exposure(x, c, s, delta, o):
    """S_i = Σ_{j≠i} E^j(U_ji) with every r = 1 (eq. 32)."""
    n = len(x)
    w = [c[k] * s[k] for k in range(n)]
    ones = [1.0] * n
    mu = median(x, w, o["median_tie"])
    P = probability_matrix(x, w, ones, delta, o["prob"])
    out = []
    for i in range(n):
        total = 0.0
        for j in range(n):
            if j != i:
                total += expected_utility(x[j], x[i], mu, 1.0, P[j][i], s[i], delta, o["Q"], o["T"])
        out.append(total)
    return out


def risk_exponents(x, c, s, lo, delta, o):
    """r_i = (1 − R_i/3)/(1 + R_i/3), R_i = (2S_i − S_max − S_min)/(S_max − S_min) (eq. 33)."""
    n = len(x)
    d = delta if delta > 0 else 1.0  # with Δ = 0 every distance is 0 anyway
    S = exposure(x, c, s, d, o)
    if o["risk_domain"] == "actors":
        highs = [max(S)] * n
        lows = [min(S)] * n
    else:
        highs, lows = [], []
        for i in range(n):
            values = [S[i]]
            for g in range(GRID_POINTS):
                y = lo + delta * (g / (GRID_POINTS - 1))
                moved = list(x)
                moved[i] = y
                values.append(exposure(moved, c, s, d, o)[i])
            highs.append(max(values))
            lows.append(min(values))
    r = []
    for i in range(n):
        spread = highs[i] - lows[i]
        if spread <= TIE_RTOL * (1.0 + max(abs(highs[i]), abs(lows[i]))):
            r.append(1.0)
            continue
        R = (2.0 * S[i] - highs[i] - lows[i]) / spread
        R = min(1.0, max(-1.0, R))
        r.append((1.0 - R / 3.0) / (1.0 + R / 3.0))
    return r, S


def choose_offer(x, e_ij, e_ji, delta, o):
    """New position of every receiver i from its perceptual quadrant (spec §2.8)."""
    n = len(x)
    new_x = []
    for i in range(n):
        offers = []  # (kind, new position, move, compromise key K), proposers in input order
        for j in range(n):
            if x[i] == x[j]:
                continue
            ei, ej = e_ij[i][j], e_ji[i][j]
            k = (abs(ei) * x[i] + abs(ej) * x[j]) / (abs(ei) + abs(ej)) if ei or ej else 0.0
            if ej > ei > 0:
                offers.append(("conflict", x[j], abs(x[i] - x[j]), k))
            elif ei < 0 < ej and abs(ei) < ej:
                if o["compromise"] == "proportional":
                    pos = x[i] + (x[j] - x[i]) * abs(ei / ej)
                else:
                    pos = k
                offers.append(("compromise", pos, abs(x[i] - pos), k))
            elif ei < 0 < ej and abs(ei) > ej and o["capitulation"]:
                offers.append(("capitulation", x[j], abs(x[i] - x[j]), k))
        new_x.append(_pick(x[i], offers, o["offer_priority"]))
    return new_x


def _pick(xi, offers, priority):
    """Python's min keeps the first of equal keys: the proposer listed first wins."""
    if not offers:
        return xi
    if priority == "bdm_smallest_move":
        return min(offers, key=lambda f: f[2])[1]
    for kind in ("conflict", "compromise", "capitulation"):
        mine = [f for f in offers if f[0] == kind]
        if mine:
            # Compromise offers are ranked by K, then i moves to the offer's own position.
            rank = 3 if kind == "compromise" else 2
            return min(mine, key=lambda f: f[rank])[1]
    return xi


def reference_round(x, c, s, lo, delta, **options):
    """One round; returns a dict with new positions, r, μ, P and both EU matrices."""
    o = dict(DEFAULTS, **options)
    x = [float(v) for v in x]
    n = len(x)
    d = delta if delta > 0 else 1.0
    w = [c[k] * s[k] for k in range(n)]
    mu = median(x, w, o["median_tie"])
    r, S = risk_exponents(x, c, s, lo, delta, o)
    vote_r = r if o["vote_risk"] else [1.0] * n
    P = probability_matrix(x, w, vote_r, d, o["prob"])
    e_ij, e_ji = eu_matrices(x, s, r, mu, P, d, o)
    new_x = choose_offer(x, e_ij, e_ji, d, o)
    return dict(position=new_x, risk=r, median=mu, exposure=S, prob=P, e_ij=e_ij, e_ji=e_ji)


def reference_run(x, c, s, rounds, delta_fixed=True, **options):
    """Fixed number of rounds; returns the list of position lists (round 0 first)."""
    x = [float(v) for v in x]
    lo, delta = min(x), max(x) - min(x)
    out = [x]
    for _ in range(rounds):
        if not delta_fixed:
            lo, delta = min(x), max(x) - min(x)
        x = reference_round(x, c, s, lo, delta, **options)["position"]
        out.append(x)
    return out
