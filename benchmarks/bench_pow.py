"""The compiled EUM round with XLA's float64 log and exp against the arithmetic ones.

    python benchmarks/bench_pow.py [--actors 14 21] [--repeat 6]

One JAX tile (512 runs; positions on a grid of 10, so that actors share positions as
they do after a few rounds), one round per call, timed in CPU seconds of this process
(both of XLA's threads; less sensitive than wall time to other work on a shared
machine), best of ``--repeat`` batches of 5 calls.  Three versions of the same round,
compiled side by side in one process:

* ``xla``: fractional powers as ``exp(rho * log(b))`` with XLA's own ``log`` and ``exp``
  (one C library call per element);
* ``arith``: the backend's ``pow_nonneg`` (fdlibm's algorithms as vectorisable
  arithmetic), what sweeps use;
* ``no power``: every power replaced by a product: wrong numbers, the floor that any
  faster power could reach.

XLA flags are whatever ``stakes.kernels.backend`` sets (``XLA_FLAGS`` to override).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--actors", type=int, nargs="+", default=[14, 21])
    ap.add_argument("--repeat", type=int, default=6)
    a = ap.parse_args()
    os.environ.setdefault("STAKES_JAX_CACHE", "off")

    from stakes.kernels import backend as B
    from stakes.kernels import eum as K

    B.get_backend("jax")
    print(f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')}")
    opts = K.KernelOptions()
    print("| actors | version | CPU ms per call | run-rounds per CPU s | vs xla |")
    print("|---:|---|---:|---:|---:|")
    for n in a.actors:
        rng = np.random.default_rng(0)
        b = B.JAX_TILE
        x, c, s = (rng.uniform(lo, hi, (b, n)) for lo, hi in ((0, 100), (.1, 1), (.1, 1)))
        x = np.round(x / 10) * 10
        lo = x.min(axis=-1)
        args = (x, c, s, lo, x.max(axis=-1) - lo, B._ONE, 1, opts, True)
        fns = {}
        saved_ns, saved_pow = B._JaxNamespace.pow_nonneg, K._pow
        try:
            for label in ("arith", "xla", "no power"):
                B._jax_rounds_fn.cache_clear()
                if label == "xla":
                    B._JaxNamespace.pow_nonneg = None
                if label == "no power":
                    K._pow = lambda xp, base, rho: base if isinstance(rho, float) else base * rho
                fn = B._jax_rounds_fn()
                fn(*args)[0].block_until_ready()  # traced and compiled with this power
                fns[label] = fn
        finally:
            B._JaxNamespace.pow_nonneg, K._pow = saved_ns, saved_pow
            B._jax_rounds_fn.cache_clear()
        best = {k: float("inf") for k in fns}
        for _ in range(a.repeat):
            for label, fn in fns.items():
                t0 = time.process_time()
                for _ in range(5):
                    fn(*args)[0].block_until_ready()
                best[label] = min(best[label], (time.process_time() - t0) / 5)
        for label, t in best.items():
            print(f"| {n} | {label} | {t * 1e3:.2f} | {b / t:,.0f} | {best['xla'] / t:.2f}x |")
        diff = np.max(np.abs(np.asarray(fns["arith"](*args)[0])
                             - np.asarray(fns["xla"](*args)[0])))
        print(f"| {n} | largest position difference arith vs xla | {diff:.1e} | | |")


if __name__ == "__main__":
    main()
