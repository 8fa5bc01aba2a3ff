"""Kernel of the Stokman exchange model: equal gain and its random-rate variant.

Stokman & Van Oosten (1994) exchange of voting positions, in the form of the
reference implementation decide-exchange-model 2022.1.28 (spec §4), and
the randomised equal-gain variant of Dijkstra et al. (2018) (spec §4.5).

Everything here works on decide's internal 0-100 scale (see :func:`normalise`).
Numbers are either :class:`decimal.Decimal` in a private 28-digit,
round-half-even context (``arithmetic="decimal28"``, decide's own arithmetic)
or Python floats (``arithmetic="float"``).  Both run through the same code: the
formulas are written once, with the grouping of every product and sum exactly as
decide evaluates it, because the reference data contain exact ties and
knife-edge equalities that decide resolves by the last digit of its rounding
(spec §4.1).

The round loop is sequential by nature (realise the best candidate, update the
ones it affects, repeat).  What does not depend on that order is done with
numpy: the left/right classification of actors and the group building that
yields the candidate pairs.  Candidates affected by a realised exchange are
found through an index keyed by (actor, supply issue) and (actor, demand issue)
instead of a scan of the whole list; untouched candidates are never looked at
(decide also leaves them alone, spec §4.4 step 3).

Absent actor-issue entries are ``None`` in the nested lists this kernel takes.

This module imports nothing but numpy and the standard library.
"""

from __future__ import annotations

import decimal
import random
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import combinations
from operator import attrgetter
from typing import Any, Sequence

import numpy as np

ARITHMETICS = ("decimal28", "float")
CARRY_OVERS = ("blend", "voting_positions")
TIE_BREAKS = ("list_order", "random")

# decide evaluates in Python's default decimal context; a private copy keeps a
# caller's context changes out of the results.
DECIMAL28 = decimal.Context(
    prec=28,
    rounding=decimal.ROUND_HALF_EVEN,
    Emin=-999999,
    Emax=999999,
    capitals=1,
    clamp=0,
    flags=[],
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)

_gain = attrgetter("gain")


class _Numbers:
    """The constants of one arithmetic, in that arithmetic's type.

    decide compares its Decimals with the binary doubles 1e-10, 1e-20, 0.4 and
    0.1; ``Decimal(float)`` is the exact value of such a double, so comparing
    and multiplying with it gives the same result as decide does.
    """

    def __init__(self, arithmetic: str) -> None:
        if arithmetic == "decimal28":
            self.num = _to_decimal
            self.zero = Decimal(0)
            self.one = Decimal(1)
            self.hundred = Decimal(100)
            self.eps = Decimal(1e-10)
            self.tie_eps = Decimal(1e-20)
            self.salience_weight = Decimal(0.4)
            self.fixed_weight = Decimal(0.1)
        elif arithmetic == "float":
            self.num = float
            self.zero = 0.0
            self.one = 1.0
            self.hundred = 100.0
            self.eps = 1e-10
            self.tie_eps = 1e-20
            self.salience_weight = 0.4
            self.fixed_weight = 0.1
        else:
            raise ValueError(f"arithmetic must be one of {ARITHMETICS}, got {arithmetic!r}")
        self.arithmetic = arithmetic


def _to_decimal(value: Any) -> Decimal:
    """A Decimal from decimal text, a Decimal, an int or a float.

    A float goes through its shortest ``repr``, which is the decimal text the
    number was read from whenever that text had at most 15 significant digits.
    """
    if isinstance(value, Decimal):
        return value
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"not a finite number: {value!r}")
        return Decimal(repr(value))
    if isinstance(value, (int, np.integer)):
        return Decimal(int(value))
    if isinstance(value, str):
        try:
            d = Decimal(value.strip())
        except decimal.InvalidOperation:
            raise ValueError(f"not a number: {value!r}") from None
        if not d.is_finite():
            raise ValueError(f"not a finite number: {value!r}")
        return d
    raise ValueError(f"cannot use {value!r} ({type(value).__name__}) as a number")


def numbers(arithmetic: str) -> _Numbers:
    return _Numbers(arithmetic)


# --------------------------------------------------------------------------- scales


def scale_factor(lo: Any, hi: Any, arithmetic: str = "decimal28"):
    """decide's ``f = 100 / (hi - lo)`` (spec §4.1), or 0 for an empty range."""
    nb = _Numbers(arithmetic)
    with decimal.localcontext(DECIMAL28):
        lo, hi = nb.num(lo), nb.num(hi)
        delta = hi - lo
        if delta == 0:
            return nb.zero
        return nb.hundred / delta


def normalise(value: Any, lo: Any, hi: Any, arithmetic: str = "decimal28"):
    """Map a position on ``[lo, hi]`` to 0-100: ``(x - lo) * f`` (spec §4.1)."""
    nb = _Numbers(arithmetic)
    f = scale_factor(lo, hi, arithmetic)
    with decimal.localcontext(DECIMAL28):
        return (nb.num(value) - nb.num(lo)) * f


def denormalise(value: Any, lo: Any, hi: Any, arithmetic: str = "decimal28"):
    """Back from 0-100 to ``[lo, hi]``: ``x / f + lo`` (decide's ``de_normalize``)."""
    nb = _Numbers(arithmetic)
    f = scale_factor(lo, hi, arithmetic)
    with decimal.localcontext(DECIMAL28):
        value = nb.num(value)
        if value == 0 or f == 0:
            return nb.num(lo)
        return value / f + nb.num(lo)


# --------------------------------------------------------------------------- records


class _Side:
    """One side of a candidate exchange (spec §4.3 step 4)."""

    __slots__ = (
        "actor", "sup", "dem", "x", "start", "d", "moves", "move", "y",
        "s_sup", "s_dem", "c_sup", "c_dem", "cs", "ratio", "kf", "eu", "eu_max", "n0", "n1",
    )

    def __init__(self, actor, sup, dem, x, d, s_sup, s_dem, c_sup, c_dem):
        self.actor = actor
        self.sup = sup
        self.dem = dem
        self.x = x  # supply position, moves during the round
        self.start = x  # round-start supply position
        self.d = d  # own round-start position on the demand issue
        self.moves: list = []
        self.move = None
        self.y = None
        self.s_sup = s_sup
        self.s_dem = s_dem
        self.c_sup = c_sup
        self.c_dem = c_dem
        # decide's c*s of the supply issue (the divisor of every move) and the
        # factor e_partner = ratio * e_own of the equal-gain condition; both are
        # fixed for the round, so they are computed once
        self.cs = c_sup * s_sup
        self.ratio = None
        self.kf = None  # c*s/S of the supply issue (outcome shift per unit move)
        self.eu = None
        self.eu_max = None
        self.n0 = None
        self.n1 = None


class _Candidate:
    """A candidate exchange: X supplies q and demands p, Y the reverse."""

    __slots__ = ("X", "Y", "p", "q", "gain", "valid", "updates", "seq")

    def __init__(self, X: _Side, Y: _Side, p: int, q: int, seq: int):
        self.X = X
        self.Y = Y
        self.p = p
        self.q = q
        self.gain = None
        self.valid = False
        self.updates: dict[int, dict[int, Any]] = {}
        self.seq = seq
        X.ratio = (X.s_sup + Y.s_dem) / (X.s_dem + Y.s_sup)
        Y.ratio = (Y.s_sup + X.s_dem) / (Y.s_dem + X.s_sup)


@dataclass
class Realised:
    """A realised exchange, on the 0-100 scale (numbers in the kernel's arithmetic).

    ``x_*`` is the side that supplies issue ``q`` (and demands ``p``), ``y_*`` the
    side that supplies ``p``.  ``*_from`` is the supply position when the exchange
    was realised, ``*_start`` the round-start one, ``*_to`` the voting position.
    ``x_gain``/``y_gain`` are the per-side utility gains (equal to ``gain`` in the
    equal-gain model; randomised by ``p > 0``).
    """

    x_actor: int
    x_issue: int
    x_start: Any
    x_from: Any
    x_to: Any
    x_gain: Any
    y_actor: int
    y_issue: int
    y_start: Any
    y_from: Any
    y_to: Any
    y_gain: Any
    gain: Any


@dataclass
class RoundResult:
    """What one round produces (spec §4.4 steps 4-5), 0-100 scale.

    ``start_outcome``: ``O_d`` of the round-start positions; ``outcome``: the
    reported outcome (``O_d`` of the voting positions); ``voting``: the
    end-of-round voting positions; ``next_start``: the positions the next round
    starts from (after ``carry_over``); ``externalities``: per actor, the sum of
    the externalities it received as a third party of the realised exchanges
    (spec §4.4).  ``None`` marks absent entries and issues without actors.
    """

    start_outcome: list
    outcome: list
    voting: list
    next_start: list
    realised: list[Realised]
    externalities: list
    candidates: int = 0
    computations: int = 0
    ties: int = 0


# --------------------------------------------------------------------------- kernel


@dataclass
class ExchangeKernel:
    """State and round step of the exchange model.

    ``position``, ``salience``, ``capability``: nested lists ``[actor][issue]`` of
    numbers on the 0-100 scale (positions) and ``[0, 1]`` (saliences), ``None``
    where the actor is absent from the issue.  Values that are not yet in the
    kernel's arithmetic are converted (decimal text and Decimals exactly, floats
    through their shortest repr).

    ``order``: optionally, per issue, the actor indices in the order in which the
    sums over that issue run (decide sums in input-row order); by default actor
    order.  Groups and candidates always follow actor order (spec §4.3).

    ``p``: random-rate parameter (0 = equal gain, spec §4.5).
    ``tie_break``: ``list_order`` (decide with ``ALLOW_RANDOM = False``) or
    ``random``.  ``rand``: the generator of the random draws (``p > 0`` or
    ``tie_break="random"``); a :class:`random.Random`, the generator decide
    draws from (the module-level one), seeded by the caller.  With
    ``tie_break="list_order"`` the draws (u, v, z per candidate computed, in
    creation order and then in list order of the updates) are decide's own, so
    ``random.Random(S)`` reproduces decide run after ``random.seed(S)`` with
    ``ALLOW_RANDOM = False``.  ``tie_break="random"`` departs from decide's
    draws (decide also draws for ties with invalid candidates).
    """

    position: list
    salience: list
    capability: list
    arithmetic: str = "decimal28"
    carry_over: str = "blend"
    tie_break: str = "list_order"
    p: Any = 0
    rand: random.Random | None = None
    order: Sequence[Sequence[int]] | None = None
    # (n, n) booleans, True where two actors can trade (a stakes extension; None: all pairs)
    channels: Any = None
    nb: _Numbers = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.carry_over not in CARRY_OVERS:
            raise ValueError(f"carry_over must be one of {CARRY_OVERS}, got {self.carry_over!r}")
        if self.tie_break not in TIE_BREAKS:
            raise ValueError(f"tie_break must be one of {TIE_BREAKS}, got {self.tie_break!r}")
        self.nb = _Numbers(self.arithmetic)
        num = self.nb.num
        with decimal.localcontext(DECIMAL28):
            self.p = num(self.p)
            self.position = [[None if v is None else num(v) for v in row] for row in self.position]
            self.salience = [[None if v is None else num(v) for v in row] for row in self.salience]
            self.capability = [
                [None if v is None else num(v) for v in row] for row in self.capability
            ]
        n = len(self.position)
        if len(self.salience) != n or len(self.capability) != n:
            raise ValueError("position, salience and capability need one row per actor")
        self.n = n
        self.D = len(self.position[0]) if n else 0
        for name, m in (("salience", self.salience), ("capability", self.capability)):
            for a, row in enumerate(m):
                if len(row) != self.D:
                    raise ValueError(f"{name} row {a} has {len(row)} issues, expected {self.D}")
        for a in range(n):
            for k in range(self.D):
                have = [
                    m[a][k] is not None
                    for m in (self.position, self.salience, self.capability)
                ]
                if any(have) and not all(have):
                    raise ValueError(
                        f"actor {a}, issue {k}: position, salience and capability must all be "
                        "given or all be absent"
                    )
                if have[0]:
                    if not self.salience[a][k] > 0:
                        raise ValueError(f"actor {a}, issue {k}: salience must be > 0")
                    if not self.capability[a][k] > 0:
                        raise ValueError(f"actor {a}, issue {k}: capability must be > 0")
        if self.order is None:
            self.order = [
                [a for a in range(n) if self.position[a][k] is not None] for k in range(self.D)
            ]
        else:
            self.order = [list(o) for o in self.order]
            if len(self.order) != self.D:
                raise ValueError("order needs one actor list per issue")
            for k, o in enumerate(self.order):
                want = sorted(a for a in range(n) if self.position[a][k] is not None)
                if sorted(o) != want:
                    raise ValueError(f"order of issue {k} must list exactly its actors")
        if self.p < 0:
            raise ValueError("p must be >= 0")
        if (self.p > 0 or self.tie_break == "random") and self.rand is None:
            raise ValueError("p > 0 and tie_break='random' need a random generator")

    # ----------------------------------------------------------------- outcomes

    def _issue_sums(self, x: list) -> tuple[list, list, list]:
        """Per issue: S_d, the products (x s) c in sum order, and O_d."""
        S, prods, out = [], [], []
        zero = self.nb.zero
        for k in range(self.D):
            o = self.order[k]
            sk = [self.salience[a][k] for a in o]
            ck = [self.capability[a][k] for a in o]
            xk = [x[a][k] for a in o]
            den = sum(s * c for s, c in zip(sk, ck))
            pr = [(xi * s) * c for xi, s, c in zip(xk, sk, ck)]
            S.append(den)
            prods.append(pr)
            if not o:
                out.append(None)
            elif den == 0:
                out.append(zero)
            else:
                out.append(sum(pr) / den)
        return S, prods, out

    def outcome(self, x: list | None = None) -> list:
        """``O_d`` (spec §4.2) of positions ``x`` (default: the current ones)."""
        with decimal.localcontext(DECIMAL28):
            return self._issue_sums(self.position if x is None else x)[2]

    # ----------------------------------------------------------------- one round

    def play_round(self) -> RoundResult:
        with decimal.localcontext(DECIMAL28):
            return _Round(self).run()


class _Round:
    """One round of spec §4.4 on the kernel's current positions."""

    def __init__(self, k: ExchangeKernel):
        self.k = k
        self.nb = k.nb
        self.x0 = k.position  # round-start positions; never change during the round
        self.S, self.prods, self.O = k._issue_sums(self.x0)
        # running sums of the products, so that a partial outcome only re-adds the
        # tail after its first substituted actor, in the same order as a full sum
        self.prefix = []
        for pr in self.prods:
            acc, pre = 0, []
            for v in pr:
                pre.append(acc)
                acc = acc + v
            self.prefix.append(pre)
        self.index = [{a: j for j, a in enumerate(o)} for o in k.order]
        self.sal = [[k.salience[a][d] for a in o] for d, o in enumerate(k.order)]
        self.cap = [[k.capability[a][d] for a in o] for d, o in enumerate(k.order)]
        self.randomised = k.p > 0
        self.margin = self.nb.num("1e-9")
        self.computations = 0
        self.ties = 0

    # ------------------------------------------------------------ partial outcomes

    def partial(self, d: int, upd: dict | None, actor: int, v) -> Any:
        """``n_d(E, A, v)``: round-start positions, E's updates, then A at v."""
        if not upd and v is self.x0[actor][d]:
            return self.O[d]  # nothing substituted: the round-start outcome itself
        den = self.S[d]
        if den == 0:
            return self.nb.zero
        ix = self.index[d]
        sal, cap = self.sal[d], self.cap[d]
        ja = ix[actor]
        if upd:
            sub = {}
            for a, pos in upd.items():
                j = ix.get(a)
                if j is not None:
                    sub[j] = pos
            sub[ja] = v
            j0 = min(sub)
            tail = self.prods[d][j0:]
            for j, pos in sub.items():
                tail[j - j0] = (pos * sal[j]) * cap[j]
        else:
            j0 = ja
            tail = self.prods[d][j0:]
            tail[0] = (v * sal[ja]) * cap[ja]
        return sum(tail, self.prefix[d][j0]) / den

    def cap_numerator(self, d: int, upd: dict | None, actor: int, v) -> Any:
        """``N`` of the outcome cap: A at v first, then E's updates (which win)."""
        pr = self.prods[d][:]
        ix = self.index[d]
        sal, cap = self.sal[d], self.cap[d]
        j = ix[actor]
        pr[j] = (v * sal[j]) * cap[j]
        if upd:
            for a, pos in upd.items():
                i = ix.get(a)
                if i is not None:
                    pr[i] = (pos * sal[i]) * cap[i]
        return sum(pr)

    # ------------------------------------------------------------ move test

    def move_ok(self, side: _Side, m) -> bool:
        """spec §4.4 step 5 (``m`` is the last entry of the side's history)."""
        a = abs(m)
        if a > 100 or a <= self.nb.eps:
            return False
        t = side.x + m
        if t < 0 or t > 100:
            return False
        mv = side.moves
        if len(mv) == 1:
            # the history is [m] itself: 0 < |m| <= 100 already settles the rest
            return True
        return self.history_ok(mv)

    @staticmethod
    def history_ok(mv: list) -> bool:
        if sum(mv) > 100:
            return False
        lo, hi = min(mv), max(mv)
        return (lo < 0 and hi < 0) or (lo > 0 and hi > 0)

    # ------------------------------------------------------------ computing a candidate

    def compute(self, E: _Candidate) -> None:
        """Equal-gain moves, gain and validity of E (spec §4.4), then 4.5 if p > 0."""
        self.computations += 1
        X, Y = E.X, E.Y
        S = self.S
        Sp, Sq = S[E.p], S[E.q]
        xx, yx = X.x, Y.x
        dX, dY = X.d, Y.d
        dist_y = abs(dX - yx)
        ep = ((dist_y * Y.s_sup) * Y.c_sup) / Sp
        eq = Y.ratio * ep
        mx = (eq * Sq) / X.cs
        my = dist_y
        dist_x = abs(dY - xx)
        if mx > dist_x:  # mx >= 0 here, so this is decide's abs(mx) > dist_x
            eq = ((dist_x * X.s_sup) * X.c_sup) / Sq
            ep = X.ratio * eq
            mx = dist_x
            my = (ep * Sp) / Y.cs
        ax, ay = mx, my  # magnitudes, before the directions are applied
        if xx > dY:
            mx = -mx
        if yx > dX:
            my = -my
        xm, ym = X.moves, Y.moves
        xm.append(mx)
        ym.append(my)
        X.move = mx
        Y.move = my
        X.y = xy = xx + mx
        Y.y = yy = yx + my
        g = abs(eq * X.s_sup - ep * X.s_dem)
        E.gain = g
        X.n1 = Y.n1 = None
        # the move test of both sides (move_ok, inlined: this is the hot path)
        eps = self.nb.eps
        if (
            g < eps
            or not (eps < ax <= 100 and 0 <= xy <= 100 and eps < ay <= 100 and 0 <= yy <= 100)
            or (len(xm) > 1 and not self.history_ok(xm))
            or (len(ym) > 1 and not self.history_ok(ym))
        ):
            X.eu = Y.eu = g
            E.valid = False
            return
        bound_x = self.outcome_cap(E, X, Y)
        bound_y = self.outcome_cap(E, Y, X)
        if bound_x or bound_y:
            E.valid = bool(self.move_ok(X, X.move) and self.move_ok(Y, Y.move))
        else:
            E.valid = True  # moves unchanged: the test above stands
        X.eu = Y.eu = E.gain
        if self.randomised:
            self.randomise(E)

    def outcome_cap(self, E: _Candidate, A: _Side, B: _Side) -> bool:
        """The outcome cap for side A with partner B (spec §4.4).

        Only the side of ``t`` on which ``n1`` falls matters here, so ``t - n1``
        is first estimated as ``(t - n0) - move * c s / S`` (two operations
        instead of a sum over all actors; it differs from the exact value by
        rounding only, far below 1e-20); the exact partial outcome is computed
        only when the estimate lies within 1e-9 of zero.  ``n1`` itself is needed
        only for the externalities of realised exchanges and is computed for
        them at the end of the round.
        """
        d = A.sup
        upd = E.updates.get(d) if E.updates else None
        if not upd and A.x is self.x0[A.actor][d]:
            n0 = self.O[d]
        else:
            n0 = self.partial(d, upd, A.actor, A.x)
        A.n0 = n0
        t = B.d
        r0 = t - n0
        r1e = r0 - A.move * A.kf
        if r1e > self.margin:
            pos1, neg1 = True, False
        elif r1e < -self.margin:
            pos1, neg1 = False, True
        else:
            r1 = t - self.partial(d, upd, A.actor, A.y)
            pos1, neg1 = r1 >= 0, r1 <= 0
        if (r0 >= 0 and pos1) or (r0 <= 0 and neg1):
            return False
        Sd = self.S[d]
        delta = abs((t * Sd - self.cap_numerator(d, upd, A.actor, A.x)) / A.cs)
        e_a = ((delta * A.s_sup) * A.c_sup) / Sd
        e_b = A.ratio * e_a
        mb = abs((e_b * self.S[B.sup]) / B.cs)
        ma = delta
        if B.x > A.d:
            mb = -mb
        if A.x > B.d:
            ma = -ma
        B.moves[-1] = mb
        A.moves[-1] = ma
        B.move, A.move = mb, ma
        B.y = B.x + mb
        A.y = A.x + ma
        E.gain = abs(e_b * B.s_sup - e_a * B.s_dem)
        return True

    def shifts(self, E: _Candidate) -> None:
        """``n0``/``n1`` of both sides for E's current state (for the externalities)."""
        for A in (E.X, E.Y):
            upd = E.updates.get(A.sup)
            A.n0 = self.partial(A.sup, upd, A.actor, A.x)
            A.n1 = self.partial(A.sup, upd, A.actor, A.y)

    # ------------------------------------------------------------ random rate (4.5)

    def randomise(self, E: _Candidate) -> None:
        rand = self.k.rand
        u = rand.random()
        v = rand.random()
        # decide wraps the draw in Decimal(float): the exact binary value
        z = rand.random()
        if self.nb.arithmetic == "decimal28":
            z = Decimal(z)
        self.maximum_gains(E)
        if u < 0.5:
            self.randomised_gain(E, E.X, E.Y, v, z)
        else:
            self.randomised_gain(E, E.Y, E.X, v, z)

    def maximum_gains(self, E: _Candidate) -> None:
        X, Y = E.X, E.Y
        # decide compares a demand position with a voting position on another
        # issue here; kept because it decides which target the shifts use.
        x_po = X.d == X.y
        y_po = Y.d == Y.y
        nq = self.partial(X.sup, E.updates.get(X.sup), X.actor, X.y if x_po else Y.d)
        np_ = self.partial(Y.sup, E.updates.get(Y.sup), Y.actor, Y.y if y_po else X.d)
        dq = abs(X.n0 - nq)
        dp = abs(Y.n0 - np_)
        loss_y_sup = dp * Y.s_sup
        gain_x_dem = dp * X.s_dem
        loss_x_sup = dq * X.s_sup
        gain_y_dem = dq * Y.s_dem
        overwrite = None
        if x_po and gain_y_dem - loss_y_sup > 0:
            overwrite = gain_x_dem - (loss_y_sup / Y.s_dem) * X.s_sup
        if y_po and gain_x_dem - loss_x_sup > 0:
            overwrite = gain_y_dem - (loss_x_sup / X.s_dem) * Y.s_sup
        if gain_x_dem > gain_y_dem:
            A, g, l = Y, gain_y_dem, loss_x_sup
            B = X
        else:
            A, g, l = X, gain_x_dem, loss_y_sup
            B = Y
        sigma = A.s_sup / (A.s_sup + B.s_dem)
        d1 = l / (sigma * B.s_dem)
        d2 = g / (sigma * A.s_sup)
        if overwrite:
            B.eu_max = overwrite
        else:
            B.eu_max = (sigma * B.s_dem) * d2 - l
        A.eu_max = g - (sigma * A.s_sup) * d1

    def randomised_gain(self, E: _Candidate, A: _Side, B: _Side, v: float, z) -> None:
        """Perturb A's gain and derive both moves from it (spec §4.5)."""
        p = self.k.p
        S = self.S
        eu = E.gain
        if v < 0.5:
            eui = eu + (p * z) * (A.eu_max - eu)
        else:
            eui = eu - (p * z) * eu
        move_i = abs(A.x - B.d)
        erq = ((move_i * A.s_sup) * A.c_sup) / S[A.sup]
        erp = (eui + erq * A.s_sup) / A.s_dem
        move_j = (erp * S[B.sup]) / B.cs
        euj = abs(erp * B.s_sup - erq * B.s_dem)
        dist_j = abs(B.x - A.d)
        if abs(move_j) > dist_j:
            erp = ((dist_j * B.s_sup) * B.c_sup) / S[B.sup]
            erq = abs((eui - erp * A.s_dem) / A.s_sup)
            move_j = dist_j
            move_i = (erq * S[A.sup]) / A.cs
            if abs(move_i) < abs(A.x - B.d):
                # decide's outcome check in this branch compares a value with itself
                # and never caps; only the gain is recomputed.
                euj = abs(erp * B.s_sup - erq * B.s_dem)
        else:
            move_i_a = -move_i if A.x > B.d else move_i
            shifted = self.partial(A.sup, E.updates.get(A.sup), A.actor, A.x + move_i_a)
            t = B.d
            if (t >= A.n0 and t >= shifted) or (t <= A.n0 and t <= shifted):
                pass
            else:
                upd = E.updates.get(A.sup)
                Sd = S[A.sup]
                delta = abs(
                    (t * Sd - self.cap_numerator(A.sup, upd, A.actor, A.x)) / A.cs
                )
                erq = ((delta * A.s_sup) * A.c_sup) / Sd
                erp = (eui + erq * A.s_sup) / A.s_dem
                move_j = (erp * S[B.sup]) / B.cs
                euj = abs(erp * B.s_sup - erq * B.s_dem)
                # decide keeps A's full (already signed) move here; the sign flip
                # below then turns a downward move upward (spec §4.5).
                move_i = move_i_a
        A.eu = eui
        B.eu = euj
        if A.x > B.d:
            move_i = -move_i
        if B.x > A.d:
            move_j = -move_j
        A.move, B.move = move_i, move_j
        A.moves[-1] = move_i
        B.moves[-1] = move_j
        A.y = A.x + move_i
        B.y = B.x + move_j
        E.valid = bool(self.move_ok(A, move_i) and self.move_ok(B, move_j))
        for side in (A, B):
            upd = E.updates.get(side.sup)
            side.n0 = self.partial(side.sup, upd, side.actor, side.x)
            side.n1 = self.partial(side.sup, upd, side.actor, side.y)

    # ------------------------------------------------------------ candidates

    def candidates(self) -> list[_Candidate]:
        """Groups and candidate list of spec §4.3, in decide's creation order."""
        k = self.k
        n, D = k.n, k.D
        x = self.x0
        present = np.array([[x[a][d] is not None for d in range(D)] for a in range(n)], dtype=bool)
        left = np.zeros((n, D), dtype=bool)
        for d in range(D):
            o = self.O[d]
            if o is None:
                continue
            for a in k.order[d]:
                left[a, d] = x[a][d] <= o
        sal = k.salience
        cap = k.capability
        out: list[_Candidate] = []
        shift: dict[tuple[int, int], Any] = {}
        S = self.S

        def kf(a, d, cs):
            v = shift.get((a, d))
            if v is None:
                v = shift[(a, d)] = cs / S[d] if S[d] else self.nb.zero
            return v

        seq = 0
        for p, q in combinations(range(D), 2):
            have = present[:, p] & present[:, q]
            lp, lq = left[:, p], left[:, q]
            groups = (
                np.flatnonzero(have & ~lp & ~lq),  # G0: right on both
                np.flatnonzero(have & lp & ~lq),  # G1
                np.flatnonzero(have & ~lp & lq),  # G2
                np.flatnonzero(have & lp & lq),  # G3: left on both
            )
            # s_p / s_q of each actor on both issues, as decide divides (per pair)
            ratio = {a: sal[a][p] / sal[a][q] for a in np.flatnonzero(have).tolist()}
            for g_i, g_j in ((groups[0], groups[3]), (groups[1], groups[2])):
                if not len(g_i) or not len(g_j):
                    continue
                ii = np.repeat(g_i, len(g_j))
                jj = np.tile(g_j, len(g_i))
                if k.channels is not None:
                    can = np.asarray(k.channels, dtype=bool)[ii, jj]
                    ii, jj = ii[can], jj[can]
                ii, jj = ii.tolist(), jj.tolist()
                for i, j in zip(ii, jj):
                    if ratio[i] < ratio[j]:
                        xa, ya = j, i
                    else:
                        xa, ya = i, j
                    X = _Side(xa, q, p, x[xa][q], x[xa][p], sal[xa][q], sal[xa][p],
                              cap[xa][q], cap[xa][p])
                    Y = _Side(ya, p, q, x[ya][p], x[ya][q], sal[ya][p], sal[ya][q],
                              cap[ya][p], cap[ya][q])
                    X.kf = kf(xa, q, X.cs)
                    Y.kf = kf(ya, p, Y.cs)
                    E = _Candidate(X, Y, p, q, seq)
                    seq += 1
                    self.compute(E)
                    out.append(E)
        return out

    # ------------------------------------------------------------ update E w.r.t. R

    def update(self, E: _Candidate, R: _Candidate) -> None:
        """spec §4.4 round loop step 3."""
        EX, EY, RX, RY = E.X, E.Y, R.X, R.Y
        recalc = False
        for side in (EX, EY):
            if side.actor == RX.actor and side.sup == RX.sup:
                rs = RX
            elif side.actor == RY.actor and side.sup == RY.sup:
                rs = RY
            else:
                continue
            side.x = rs.y
            side.moves.append(rs.moves[-1])
            recalc = True
        if recalc:
            EX.moves.pop()
            EY.moves.pop()
        for rd, rs in ((RY, RX), (RX, RY)):
            # rd demands what rs supplies; E learns where rs's actor now stands.
            if (rd.actor == EY.actor and rd.dem == EY.dem) or (
                rd.actor == EX.actor and rd.dem == EX.dem
            ):
                table = E.updates.setdefault(rd.dem, {})
                old = table.get(rs.actor)
                if old is None:
                    table[rs.actor] = rs.y
                elif rs.start <= old:
                    table[rs.actor] = old if old < rs.y else rs.y
                else:
                    table[rs.actor] = old if old > rs.y else rs.y
                if not recalc:
                    EX.moves.pop()
                    EY.moves.pop()
                    recalc = True
        if recalc:
            self.compute(E)

    # ------------------------------------------------------------ the loop

    def run(self) -> RoundResult:
        k = self.k
        nb = self.nb
        L = [E for E in self.candidates() if E.valid]
        n_candidates = self.computations
        by_supply: dict[tuple[int, int], list[_Candidate]] = {}
        by_demand: dict[tuple[int, int], list[_Candidate]] = {}
        for E in L:
            for s in (E.X, E.Y):
                by_supply.setdefault((s.actor, s.sup), []).append(E)
                by_demand.setdefault((s.actor, s.dem), []).append(E)
        realised: list[_Candidate] = []
        random_ties = k.tie_break == "random"
        ordered_updates = self.randomised  # draws make the update order matter
        # A candidate that turns invalid gets a gain below every valid one, so the
        # next (stable) sort moves it to the end, where it is cut off; the relative
        # order of the valid ones is the same as if it had been removed at once.
        dead = nb.num(-1)
        alive = len(L)
        while alive:
            L.sort(key=_gain, reverse=True)
            if len(L) > alive:
                del L[alive:]
            if random_ties and len(L) > 1 and abs(L[0].gain - L[1].gain) < nb.tie_eps:
                self.ties += 1
                if k.rand.random() >= 0.5:
                    R = L.pop(1)
                    L.append(L.pop(0))
                else:
                    R = L.pop(0)
            else:
                R = L.pop(0)
            alive -= 1
            R.valid = False  # out of the list; never updated again
            hit: dict[int, _Candidate] = {}
            RX, RY = R.X, R.Y
            for group in (
                by_supply.get((RX.actor, RX.sup), ()),
                by_supply.get((RY.actor, RY.sup), ()),
                by_demand.get((RX.actor, RX.dem), ()),
                by_demand.get((RY.actor, RY.dem), ()),
            ):
                for E in group:
                    if E.valid:
                        hit[id(E)] = E
            affected = list(hit.values())
            if ordered_updates and len(affected) > 1:
                pos = {id(E): i for i, E in enumerate(L) if id(E) in hit}
                affected.sort(key=lambda E: pos[id(E)])
            for E in affected:
                self.update(E, R)
                if not E.valid:
                    E.gain = dead
                    alive -= 1
            realised.append(R)
        return self.finish(realised, n_candidates)

    def finish(self, realised: list[_Candidate], n_candidates: int) -> RoundResult:
        k = self.k
        nb = self.nb
        x0 = self.x0
        voting = [row[:] for row in x0]
        for R in realised:
            for s in (R.X, R.Y):
                voting[s.actor][s.sup] = s.y
        outcome = k._issue_sums(voting)[2]
        if k.carry_over == "blend":
            nxt = [row[:] for row in voting]
            sw, fw, one = nb.salience_weight, nb.fixed_weight, nb.one
            for R in realised:
                for s in (R.X, R.Y):
                    sal = s.s_sup
                    nxt[s.actor][s.sup] = (
                        ((one - sal) * sw) * s.y
                        + fw * s.y
                        + ((one - (one - sal) * sw) - fw) * s.start
                    )
        else:
            nxt = voting
        for R in realised:
            if R.X.n1 is None or R.Y.n1 is None:
                self.shifts(R)
        ext = self.externalities(realised)
        rec = [
            Realised(
                R.X.actor, R.X.sup, R.X.start, R.X.x, R.X.y, R.X.eu,
                R.Y.actor, R.Y.sup, R.Y.start, R.Y.x, R.Y.y, R.Y.eu,
                R.gain,
            )
            for R in realised
        ]
        k.position = nxt
        return RoundResult(
            start_outcome=self.O,
            outcome=outcome,
            voting=voting,
            next_start=nxt,
            realised=rec,
            externalities=ext,
            candidates=n_candidates,
            computations=self.computations,
            ties=self.ties,
        )

    def externalities(self, realised: list[_Candidate]) -> list:
        """Third-party externalities summed per actor (spec §4.4)."""
        k = self.k
        x0 = self.x0
        sal = k.salience
        tot = [self.nb.zero] * k.n
        for R in realised:
            p, q = R.Y.sup, R.X.sup
            for a in range(k.n):
                if a == R.X.actor or a == R.Y.actor:
                    continue
                xp, xq = x0[a][p], x0[a][q]
                if xp is None or xq is None:
                    continue
                lp = abs(R.Y.n0 - xp) - abs(R.Y.n1 - xp)
                lq = abs(R.X.n0 - xq) - abs(R.X.n1 - xq)
                tot[a] += lp * sal[a][p] + lq * sal[a][q]
        return tot


def blend_position(salience, start, voting, arithmetic: str = "decimal28"):
    """The next round's start position of a moved actor (spec §4.4 step 5)."""
    nb = _Numbers(arithmetic)
    with decimal.localcontext(DECIMAL28):
        s, x0, y = nb.num(salience), nb.num(start), nb.num(voting)
        sw, fw, one = nb.salience_weight, nb.fixed_weight, nb.one
        return ((one - s) * sw) * y + fw * y + ((one - (one - s) * sw) - fw) * x0


def outcome_of(position: list, salience: list, capability: list, arithmetic: str = "decimal28"):
    """``O_d`` (spec §4.2) of nested lists ``[actor][issue]`` (``None`` = absent)."""
    k = ExchangeKernel(position, salience, capability, arithmetic=arithmetic)
    return k.outcome()
