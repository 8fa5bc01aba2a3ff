"""Array backends of the batched kernels: numpy (the reference) and JAX.

The EUM round (:func:`stakes.kernels.eum.eum_round`) is written once against
an array namespace ``xp``.  This module picks the namespace and wraps the
round in the fastest driver each library offers:

* ``numpy``: the round is called once per round in a Python loop;
* ``jax``: the round is traced once, compiled by XLA (``jax.jit``) in
  float64 (``jax_enable_x64``), and several rounds are fused into one call
  with ``jax.lax.scan``.  The round is already vectorised over its leading
  batch axis, so ``jax.vmap`` is not needed for the batch; inputs are the
  same host arrays, so both backends see identical draws.

Both drivers take tiles of a fixed number of runs: with JAX every distinct
array shape costs a compilation (1–2 s on a laptop CPU), so callers pad the
last tile instead of handing over ragged batches.

This module imports nothing but numpy, JAX and the standard library; JAX is
optional and only imported when the ``jax`` backend is asked for.
"""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .eum import KernelOptions, eum_round, iterate_rounds, median_position

BACKENDS = ("numpy", "jax")

# Tested jaxlib minor versions on which the CPU tuning flag below is known.
# XLA aborts the process on an unknown flag, so it is only set on these.
_XLA_TUNED_JAXLIB = ("0.10.",)
# YNNPACK reduction fusions materialise the (B, n, n, n) vote tensor before
# summing it; XLA's own loop emitter fuses the sum with its producer, which
# makes an EUM round about 1.4x faster on CPU (measured with jaxlib 0.10.2).
_XLA_CPU_FLAG = "--xla_cpu_experimental_ynn_fusion_type="


def jax_available() -> bool:
    """True when JAX can be imported (the optional ``jax`` extra)."""
    if "jax" in sys.modules:
        return True
    import importlib.util

    try:
        return importlib.util.find_spec("jax") is not None
    except (ImportError, ValueError):  # a broken or half-removed install counts as absent
        return False


def resolve(name: str) -> str:
    """``auto`` (JAX when installed, else numpy), ``numpy`` or ``jax``.

    Raises ``ValueError`` for an unknown name and ``ImportError`` when JAX is
    asked for but not installed.
    """
    if name == "auto":
        return "jax" if jax_available() else "numpy"
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; expected auto, {', '.join(BACKENDS)}")
    if name == "jax" and not jax_available():
        raise ImportError("the jax backend needs JAX: pip install 'stakes[jax]'")
    return name


def _jaxlib_version() -> str:
    try:
        from importlib.metadata import version

        return version("jaxlib")
    except Exception:  # pragma: no cover - metadata missing
        return ""


# On CPUs with 512-bit vectors, XLA's loops (the arithmetic log and exp of
# _JaxNamespace.pow_nonneg above all) run about 1.25x faster when LLVM may use them
# (default: 256 bits); measured with jaxlib 0.10.2 on AVX-512 (docs/performance.md).
_XLA_WIDE_FLAG = "--xla_cpu_prefer_vector_width=512"


def _has_avx512() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return " avx512f " in line + " "
    except OSError:
        pass
    return False


def _prepare_jax_environment() -> None:
    """Set the XLA CPU flags and the compilation cache before JAX starts its client."""
    if "jax" not in sys.modules and os.environ.get("STAKES_XLA_TUNING", "1") != "0":
        if _jaxlib_version().startswith(_XLA_TUNED_JAXLIB):
            flags = os.environ.get("XLA_FLAGS", "")
            if "ynn_fusion_type" not in flags:
                flags = (flags + " " + _XLA_CPU_FLAG).strip()
            if "prefer_vector_width" not in flags and _has_avx512():
                flags = (flags + " " + _XLA_WIDE_FLAG).strip()
            os.environ["XLA_FLAGS"] = flags


@functools.lru_cache(maxsize=1)
def _jax():
    _prepare_jax_environment()
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    cache = os.environ.get("STAKES_JAX_CACHE")
    if cache != "off" and not jax.config.jax_compilation_cache_dir:
        # Compiled rounds are kept between sessions, so the second sweep of a
        # scenario starts at once.  STAKES_JAX_CACHE=off disables it.
        path = cache or os.path.join(
            os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "stakes", "jax")
        try:
            os.makedirs(path, exist_ok=True)
            jax.config.update("jax_compilation_cache_dir", path)
            # A round compiles in about a second: keep every one.
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        except OSError:
            pass
    return jax, jnp


# fdlibm's e_log.c and e_exp.c (see _JaxNamespace.pow_nonneg).
_LG = (6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01,
       2.222219843214978396e-01, 1.818357216161805012e-01, 1.531383769920937332e-01,
       1.479819860511658591e-01)
_P = (1.66666666666666019037e-01, -2.77777777770155933842e-03, 6.61375632143793436117e-05,
      -1.65339022054652515390e-06, 4.13813679705723846039e-08)
_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e+00
_SQRT2 = 1.4142135623730951
_TINY = 2.2250738585072014e-308  # the smallest normal float64
_MANTISSA, _ONE_BITS = 0x000FFFFFFFFFFFFF, 0x3FF0000000000000
# 2^52 + 2048 holds the integers -2048 .. 2^52 in its low bits: adding its bit pattern
# to an int64 and reading the float back converts without a conversion instruction.
_TWO52_OFFSET = 4503599627370496.0 + 2048.0
_TWO52_OFFSET_BITS = 0x4330000000000000 + 2048
# 1.5 · 2^52: the same for the (rounded) exponent k of exp, positive or negative.
_MAGIC, _MAGIC_BITS = 6755399441055744.0, 0x4338000000000000


class _JaxNamespace:
    """``jax.numpy`` with the product and storage rewritten for XLA on CPU.

    The vote table is a vector–matrix product per run, ``w (…, 1, n) @ V
    (…, n, n²)``, with ``V`` the flattened (…, n, n, n) tensor of positive
    vote differences.  XLA on CPU emits a dot that needs ``V`` in memory
    (0.26 MB per run at n = 32).  Written as a multiply and a sum over the
    un-flattened tensor it becomes one loop that never stores ``V``.  The
    arithmetic is the same sum of the same products, in another order.
    ``one``: a traced 1.0 (see :meth:`stored`); without it nothing is stored.
    """

    def __init__(self, jax, jnp, one=None):
        self._jax = jax
        self._jnp = jnp
        self._one = one

    def __getattr__(self, name: str) -> Any:
        return getattr(self._jnp, name)

    def stored(self, arrays):
        # See stakes.kernels.eum._stored.  XLA on CPU drops optimization
        # barriers before fusion, but it does not duplicate a division into
        # several consumers: dividing by ``one``, a runtime argument equal to 1
        # that it cannot fold, stores the arrays and leaves every value exact
        # (x / 1 = x in IEEE arithmetic).  An EUM round runs about 1.3x faster.
        if self._one is None:
            return arrays
        return tuple(a / self._one for a in arrays)

    def pow_nonneg(self, base, rho):
        """exp(rho · log base) for bases ≥ 0, with log and exp written as arithmetic.

        XLA on CPU calls the C library's float64 ``log`` and ``exp`` one element at a
        time; they were about half of an EUM round.  These are the fdlibm algorithms
        (Sun Microsystems 1993, ``e_log.c`` and ``e_exp.c``: the same reductions and
        polynomials, errors below one unit in the last place) in operations that XLA
        fuses into one vectorised loop.  Bases below the smallest normal number count
        as 0 (XLA flushes subnormals to zero anyway), and so does their power.
        """
        jnp, lax = self._jnp, self._jax.lax
        i64, f64 = jnp.int64, jnp.float64
        b = jnp.asarray(base, f64)
        # log b = e·ln 2 + log m, with m in [√2/2, √2)
        bits = lax.bitcast_convert_type(b, i64)
        e = lax.shift_right_logical(bits, i64(52)) - 1023
        m = lax.bitcast_convert_type((bits & _MANTISSA) | _ONE_BITS, f64)
        big = m > _SQRT2
        m = jnp.where(big, 0.5 * m, m)
        e = e + big.astype(i64)
        # e as a float without an int-to-float conversion (not vectorised on every CPU)
        ef = lax.bitcast_convert_type(e + _TWO52_OFFSET_BITS, f64) - _TWO52_OFFSET
        f = m - 1.0
        s = f / (2.0 + f)
        z = s * s
        w = z * z
        t1 = w * (_LG[1] + w * (_LG[3] + w * _LG[5]))
        t2 = z * (_LG[0] + w * (_LG[2] + w * (_LG[4] + w * _LG[6])))
        hfsq = 0.5 * f * f
        log_b = ef * _LN2_HI - ((hfsq - (s * (hfsq + t2 + t1) + ef * _LN2_LO)) - f)
        y = rho * jnp.where(b < _TINY, -jnp.inf, log_b)
        # exp y = 2^k · exp r, |r| ≤ ln 2 / 2
        kf = jnp.round(jnp.clip(y * _INV_LN2, -2000.0, 2000.0))
        ki = lax.bitcast_convert_type(kf + _MAGIC, i64) - _MAGIC_BITS
        hi = y - kf * _LN2_HI
        lo = kf * _LN2_LO
        r = hi - lo
        rr = r * r
        c = r - rr * (_P[0] + rr * (_P[1] + rr * (_P[2] + rr * (_P[3] + rr * _P[4]))))
        p = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi)
        # 2^k in two normal factors, so that results near the underflow stay right
        kh = lax.shift_right_arithmetic(ki, i64(1))
        s1 = lax.bitcast_convert_type(lax.shift_left(kh + 1023, i64(52)), f64)
        s2 = lax.bitcast_convert_type(lax.shift_left(ki - kh + 1023, i64(52)), f64)
        out = p * s1 * s2
        out = jnp.where(y < -745.2, 0.0, jnp.where(y > 709.7, jnp.inf, out))
        # Stored: made of cheap operations, the power would otherwise be recomputed
        # inside each consumer, the (n, n, n) vote tensor among them.
        return self.stored((out,))[0]

    def matmul(self, a, b):
        jnp = self._jnp
        n = b.shape[-2]
        if a.shape[-2] == 1 and a.shape[-1] == n and b.shape[-1] == n * n:
            b4 = jnp.reshape(b, b.shape[:-1] + (n, n))
            out = jnp.sum(a[..., 0, :, None, None] * b4, axis=-3)
            return jnp.reshape(out, out.shape[:-2] + (1, n * n))
        return jnp.matmul(a, b)


@dataclass(frozen=True)
class Backend:
    """A namespace and a compiled multi-round EUM driver."""

    name: str
    xp: Any
    _submit: Callable[..., Any]
    tile: int  # runs per call
    small_tile: int  # runs per call once few runs are left
    pads: bool  # True: every call must have exactly tile or small_tile runs (one
    #             compilation per shape); pad with copies of a real run

    def submit(self, x, c, s, lo, delta, *, n_rounds: int, opts: KernelOptions,
               delta_fixed: bool) -> Any:
        """Start ``n_rounds`` EUM rounds on a tile of runs, without stopping rules.

        ``x, c, s``: (T, n); ``lo, delta``: (T,) range used for Δ while
        ``delta_fixed``; otherwise Δ is the spread of each round's input
        positions (Scholz et al. 2011; spec §2.1).  JAX returns at once
        (its work runs in the background); :meth:`fetch` waits for it.
        """
        return self._submit(x, c, s, lo, delta, int(n_rounds), opts, bool(delta_fixed))

    @staticmethod
    def fetch(handle: Any) -> tuple[np.ndarray, np.ndarray]:
        """The positions after each round, (n_rounds, T, n), and the median μ of
        each of them under weights c·s, (n_rounds, T), as numpy arrays."""
        pos, med = handle
        return np.asarray(pos), np.asarray(med)

    def eum_rounds(self, x, c, s, lo, delta, *, n_rounds: int, opts: KernelOptions,
                   delta_fixed: bool) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`submit` and :meth:`fetch` in one call."""
        return self.fetch(self.submit(x, c, s, lo, delta, n_rounds=n_rounds, opts=opts,
                                      delta_fixed=delta_fixed))


def _numpy_rounds(x, c, s, lo, delta, n_rounds, opts, delta_fixed):
    pos, _, med = iterate_rounds(np, x, c, s, n_rounds, opts, delta_fixed=delta_fixed, lo=lo,
                                 delta=delta)
    return pos[1:], med[1:]


@functools.lru_cache(maxsize=1)
def _jax_rounds_fn():
    jax, jnp = _jax()

    def rounds(x, c, s, lo, delta, one, n_rounds, opts, delta_fixed):
        ns = _JaxNamespace(jax, jnp, one)
        w = c * s

        def body(carry, _):
            x, mu, lo, delta = carry
            if not delta_fixed:
                lo = jnp.min(x, axis=-1)
                delta = jnp.max(x, axis=-1) - lo
            new = eum_round(ns, x, c, s, lo, delta, opts, mu=mu).position
            med = median_position(ns, new, w, tie=opts.median_tie)
            return (new, med, lo, delta), (new, med)

        mu = median_position(ns, x, w, tie=opts.median_tie)
        _, (pos, med) = jax.lax.scan(body, (x, mu, lo, delta), None, length=n_rounds)
        return pos, med

    return jax.jit(rounds, static_argnums=(6, 7, 8))


# Runs per call.  numpy: the (T, n, n, n) vote tensor of a tile stays in cache;
# JAX: large enough to keep both cores busy, small enough that padding the last
# tile of a shrinking batch costs little.
NUMPY_TILE = 256
_ONE = np.float64(1.0)  # see _JaxNamespace.stored
JAX_TILE = 512
JAX_SMALL_TILE = 64


@functools.lru_cache(maxsize=None)
def get_backend(name: str = "auto") -> Backend:
    """The backend called ``name`` (see :func:`resolve`)."""
    name = resolve(name)
    if name == "numpy":
        return Backend("numpy", np, _numpy_rounds, NUMPY_TILE, NUMPY_TILE, False)
    jax, jnp = _jax()
    fn = _jax_rounds_fn()

    def submit(x, c, s, lo, delta, n_rounds, opts, delta_fixed):
        args = [np.ascontiguousarray(a, dtype=np.float64) for a in (x, c, s, lo, delta)]
        return fn(*args, _ONE, n_rounds, opts, delta_fixed)

    return Backend("jax", _JaxNamespace(jax, jnp), submit, JAX_TILE, JAX_SMALL_TILE, True)
