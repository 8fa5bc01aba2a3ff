"""Where an EUM round spends its time: each step of the batched round, numpy and JAX.

One tile of random 20-actor runs (512 for JAX, its tile size; 256 for numpy),
in one run: the whole round through the backend's own driver (as sweeps call
it, with the median of the new positions), then each step timed alone (JAX:
jit-compiled, after a warm-up call; compiled alone, a step misses the
round's storage hints (see ``backend._JaxNamespace.stored``), so the steps add up
to more than the whole round):

    python benchmarks/bench_eum_round.py
    python benchmarks/bench_eum_round.py --actors 40 --backends numpy
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--actors", type=int, default=20)
    ap.add_argument("--backends", nargs="+", default=["numpy", "jax"])
    ap.add_argument("--repeat", type=int, default=20)
    a = ap.parse_args()

    from stakes.kernels import eum as K
    from stakes.kernels.backend import get_backend, jax_available

    opts = K.KernelOptions()
    for name in a.backends:
        if name == "jax" and not jax_available():
            print("jax: not installed")
            continue
        be = get_backend(name)
        xp = be.xp
        b, n = be.tile, a.actors
        rng = np.random.default_rng(0)
        x, c, s = (rng.uniform(lo, hi, (b, n)) for lo, hi in ((0, 100), (.1, 1), (.1, 1)))
        r = rng.uniform(0.6, 1.6, (b, n))
        lo = x.min(axis=-1)
        delta = x.max(axis=-1) - lo
        mu = K.median_position(np, x, c * s)
        p = K.probabilities(np, x, c, s, r, delta, prob=opts.prob)
        e_ij, e_ji = K.expected_utilities(np, x, s, r, mu, p, delta, opts)
        print(f"\n{name}: {b} runs of {n} actors per call")
        print("| step | ms per call | run-rounds/s |\n|---|---:|---:|")
        be.eum_rounds(x, c, s, lo, delta, n_rounds=1, opts=opts, delta_fixed=True)
        t0 = time.perf_counter()
        for _ in range(a.repeat):
            be.eum_rounds(x, c, s, lo, delta, n_rounds=1, opts=opts, delta_fixed=True)
        dt = (time.perf_counter() - t0) / a.repeat
        print(f"| whole round (backend driver) | {dt * 1e3:.2f} | {b / dt:,.0f} |")
        steps = {
            "risk exponents (votes at r = 1)": (
                lambda x, c, s, mu, lo, d: K.risk_exponents(xp, x, c, s, mu, lo, d, opts)[0],
                (x, c, s, mu, lo, delta)),
            "probabilities at r": (
                lambda x, c, s, r, d: K.probabilities(xp, x, c, s, r, d, prob=opts.prob),
                (x, c, s, r, delta)),
            "expected utilities": (
                lambda x, s, r, mu, p, d: K.expected_utilities(xp, x, s, r, mu, p, d, opts),
                (x, s, r, mu, p, delta)),
            "offers": (lambda x, a_, b_, d: K.offers(xp, x, a_, b_, d, opts),
                       (x, e_ij, e_ji, delta)),
        }
        for label, (fn, args) in steps.items():
            if name == "jax":
                import jax

                fn = jax.jit(fn)
                args = tuple(jax.numpy.asarray(v) for v in args)
                block = jax.block_until_ready
            else:
                def block(v):
                    return v
            block(fn(*args))
            t0 = time.perf_counter()
            for _ in range(a.repeat):
                out = fn(*args)
            block(out)
            dt = (time.perf_counter() - t0) / a.repeat
            print(f"| {label} | {dt * 1e3:.2f} | {b / dt:,.0f} |")


if __name__ == "__main__":
    main()
