"""A sweep's forecasts for one seed do not depend on how its members are cut into chunks.

With numpy this is ``test_batched_kernels.test_chunking_does_not_change_results``; here the
JAX backend, whose compiled tiles are padded and filled differently for every chunk size
(runs of several jobs share a tile, and a short tile is padded with copies of a run), on
a small scenario with levers that move, add and remove actors, and a plan.
"""

from __future__ import annotations

import numpy as np
import pytest

from stakes.analysis.sweep import run_sweep
from stakes.api import load
from stakes.engine import interventions_for
from stakes.kernels.backend import jax_available


SCENARIO = """
stakes: 1
metadata: {name: "Chunks"}
actors:
  - {id: A, name: A, capability: 1.0}
  - {id: B, name: B, capability: {value: 0.6, sd: 0.2}}
  - {id: C, name: C, capability: 0.9}
  - {id: D, name: D, capability: 0.3}
  - {id: E, name: E, capability: 0.5}
  - {id: F, name: F, capability: 0.8, present: false}
issues:
  - {id: x, name: X, scale: {min: 0, max: 100}}
  - {id: y, name: Y, scale: {min: 0, max: 10}}
entries:
  - {actor: A, issue: x, position: 10, salience: 0.9}
  - {actor: B, issue: x, position: {value: 40, range: [30, 50]}, salience: 0.5}
  - {actor: C, issue: x, position: 70, salience: {value: 0.7, sd: 0.2}}
  - {actor: D, issue: x, position: 95, salience: 0.4}
  - {actor: E, issue: x, position: 55, salience: 0.6}
  - {actor: F, issue: x, position: 30, salience: 0.8}
  - {actor: A, issue: y, position: 2, salience: 0.3}
  - {actor: B, issue: y, position: 8, salience: 0.9}
  - {actor: C, issue: y, position: 6, salience: 0.5}
  - {actor: D, issue: y, position: 1, salience: 0.8}
  - {actor: E, issue: y, position: 4, salience: 0.2}
levers:
  - id: push
    name: push
    effects: [{actor: A, position: {add: 15}}]
  - id: enter
    name: enter
    round: 1
    effects: [{add_actor: F}]
  - id: leave
    name: leave
    round: 2
    effects: [{remove_actor: D}]
plans:
  - id: combo
    name: combo
    steps: [{lever: push}, {lever: enter, round: 3}]
"""


@pytest.mark.skipif(not jax_available(), reason="the jax extra is not installed")
def test_jax_sweep_equal_for_two_chunk_sizes(tmp_path):
    path = tmp_path / "chunks.yaml"
    path.write_text(SCENARIO)
    scn = load(path)
    ivs = interventions_for(scn, "all", "all")
    kw = dict(runs=40, seed=3, models=["eum", "median"], interventions=ivs, backend="jax")
    whole = run_sweep(scn, chunk_size=40, **kw)
    cut = run_sweep(scn, chunk_size=7, **kw)
    assert (whole.chunk_size, cut.chunk_size) == (40, 7)
    assert whole.forecasts.keys() == cut.forecasts.keys()
    for k in whole.forecasts:
        np.testing.assert_array_equal(whole.forecasts[k], cut.forecasts[k], err_msg=str(k))
    assert whole.stops == cut.stops
