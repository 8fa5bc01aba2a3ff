"""A forecast taken over a cycle whose rounds disagree is marked, with the cycle's range."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from stakes.cli.tables import cycle_range


def _run(forecasts, stop="cycle", length=2):
    rounds = [SimpleNamespace(forecast=np.array([f])) for f in forecasts]
    return SimpleNamespace(rounds=rounds, stop=stop,
                           info={"cycle_length": length} if stop == "cycle" else {})


def test_a_cycle_whose_rounds_disagree_has_a_range():
    assert cycle_range(_run([50.0, 18.71, 22.89, 18.71, 22.89]), 0) == (18.71, 22.89)


def test_a_cycle_of_equal_forecasts_and_other_stops_have_none():
    assert cycle_range(_run([50.0, 10.0, 10.0]), 0) is None
    assert cycle_range(_run([50.0, 10.0, 20.0], stop="converged"), 0) is None
    # Only the cycle's own rounds count, not the way into it.
    assert cycle_range(_run([90.0, 10.0, 10.0, 10.0], length=3), 0) is None
