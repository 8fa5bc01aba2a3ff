"""SMP options beyond KTAB: salience normalization and indifferent missing positions."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from pydantic import ValidationError

from stakes.api import load
from stakes.engine import interventions_for, run_scenario
from stakes.errors import ModelError, OptionError
from stakes.models.base import Problem, Schedule
from stakes.models.smp import SMP, SMPOptions

# dummyData_3Dim (spec §3.7): 7 actors, 3 issues, saliences summing to <= 1.
CAP = [102.543, 53.393, 129.643, 75.92, 63.224, 120.048, 54.178]
POS = [
    [75.79, 6.37, 70.45], [82.72, 73.50, 64.00], [82.45, 90.89, 0.07], [62.52, 50.82, 62.33],
    [82.34, 45.77, 73.31], [84.48, 33.70, 88.11], [70.96, 33.46, 90.36],
]
SAL = [
    [49.53, 5.91, 28.15], [30.33, 21.22, 24.79], [48.47, 13.55, 34.62], [20.76, 39.24, 22.21],
    [40.96, 25.43, 22.59], [22.92, 39.35, 15.42], [31.75, 27.93, 26.03],
]


@pytest.fixture
def d3() -> Problem:
    n, d = np.shape(POS)
    return Problem(
        issue_ids=("d0", "d1", "d2"),
        actor_ids=tuple(f"a{i}" for i in range(n)),
        position=np.array(POS, dtype=float),
        salience=np.array(SAL, dtype=float) / 100,
        capability=np.repeat(np.array(CAP)[:, None], d, axis=1),
        lo=np.zeros(d), hi=np.full(d, 100.0),
        status_quo=np.array([60.0, 40.0, 20.0]),
    )


def run(problem, schedule=None, **opts):
    return SMP().run(problem, SMPOptions(**opts), schedule or Schedule.empty(),
                     np.random.default_rng(0))


def same_run(a, b) -> None:
    assert len(a.rounds) == len(b.rounds)
    for ra, rb in zip(a.rounds, b.rounds):
        assert ra.actor_ids == rb.actor_ids
        np.testing.assert_array_equal(ra.position, rb.position)
    np.testing.assert_array_equal(a.forecast, b.forecast)


# --- salience_normalization --------------------------------------------------


def test_defaults_are_ktab_behaviour():
    opts = SMPOptions()
    assert opts.salience_normalization == "error"
    assert opts.missing_positions == "error"


def test_sum_above_one_is_refused_by_default_and_names_the_option(d3):
    big = replace(d3, salience=d3.salience * 2)
    with pytest.raises(ModelError, match=r"actor 'a0' sum to 1\.6718 .*salience_normalization="
                                         r"'per_actor'"):
        run(big)


def test_per_actor_divides_each_actor_by_its_sum(d3):
    sal = d3.salience.copy()
    sal[0] *= 2          # sums to 1.67: normalized
    sal[3] *= 1.2        # sums to 0.98: kept as it is
    big = replace(d3, salience=sal)
    by_hand = sal.copy()
    by_hand[0] = sal[0] / float(sal[0].sum())
    r = run(big, salience_normalization="per_actor", max_turns=6)
    ref = run(replace(d3, salience=by_hand), max_turns=6)
    same_run(r, ref)
    assert r.info["salience_normalized"] == ["a0"]
    assert "salience_normalized" not in ref.info


def test_per_actor_is_a_no_op_within_ktab_bounds(d3):
    r = run(d3, salience_normalization="per_actor", max_turns=6)
    same_run(r, run(d3, max_turns=6))
    assert "salience_normalized" not in r.info


def test_per_actor_keeps_priorities_so_a_common_factor_does_not_matter(d3):
    full = replace(d3, salience=d3.salience / d3.salience.sum(axis=1, keepdims=True))
    r1 = run(full, max_turns=6)
    for factor in (1.25, 1.6):
        rf = run(replace(full, salience=full.salience * factor),
                 salience_normalization="per_actor", max_turns=6)
        assert rf.info["salience_normalized"] == list(d3.actor_ids)
        np.testing.assert_allclose(rf.forecast, r1.forecast, atol=1e-6)


def test_normalization_acts_after_levers_too(d3):
    def louder(pb: Problem) -> Problem:
        sal = pb.salience.copy()
        sal[2] = sal[2] * 2
        return replace(pb, salience=sal)

    sched = Schedule({1: (louder,)})
    with pytest.raises(ModelError, match="actor 'a2'"):
        run(d3, schedule=sched, max_turns=4)
    r = run(d3, schedule=sched, salience_normalization="per_actor", max_turns=4)
    assert r.info["salience_normalized"] == ["a2"]


@pytest.mark.parametrize("bad", ["global", "per_issue", 1, None])
def test_invalid_salience_normalization_is_refused(bad):
    with pytest.raises((ValidationError, OptionError)):
        SMPOptions(salience_normalization=bad)


# --- missing_positions = indifferent ------------------------------------------


def _with_gap(d3: Problem, i: int, d: int) -> Problem:
    pos, sal, cap = d3.position.copy(), d3.salience.copy(), d3.capability.copy()
    pos[i, d] = sal[i, d] = cap[i, d] = np.nan
    return replace(d3, position=pos, salience=sal, capability=cap)


def test_indifferent_is_an_entry_with_salience_zero_at_the_status_quo(d3):
    gap = _with_gap(d3, 5, 1)
    with pytest.raises(ModelError, match="'indifferent' gives them salience 0"):
        run(gap)
    r = run(gap, missing_positions="indifferent", max_turns=6)
    assert r.info["indifferent"] == {"a5": ["d1"]}
    assert r.rounds[0].actor_ids == d3.actor_ids
    assert r.rounds[0].position[5, 1] == 40.0
    pos, sal = d3.position.copy(), d3.salience.copy()
    pos[5, 1], sal[5, 1] = 40.0, 0.0
    same_run(r, run(replace(d3, position=pos, salience=sal), max_turns=6))


def test_indifferent_uses_the_midpoint_without_a_status_quo(d3):
    gap = _with_gap(replace(d3, status_quo=np.full(3, np.nan), lo=np.full(3, -50.0),
                            hi=np.full(3, 50.0), position=d3.position - 50), 2, 0)
    r = run(gap, missing_positions="indifferent", max_turns=2)
    assert r.rounds[0].position[2, 0] == 0.0


def test_indifferent_keeps_the_actor_drop_does_not(d3):
    gap = _with_gap(d3, 5, 1)
    kept = run(gap, missing_positions="indifferent", max_turns=4)
    dropped = run(gap, missing_positions="drop_actor", max_turns=4)
    assert "a5" in kept.rounds[-1].actor_ids and "a5" not in dropped.rounds[-1].actor_ids
    assert not np.allclose(kept.forecast, dropped.forecast)


def test_indifferent_cell_ignores_its_capability_under_equal(d3):
    # The gap's capability is unknown (NaN): the actor's own capability elsewhere holds.
    r = run(_with_gap(d3, 1, 2), missing_positions="indifferent", max_turns=2)
    assert r.info["n_states"] == 3


def test_levers_skip_indifferent_cells_and_keep_their_coordinate(d3):
    seen = []

    def care(pb: Problem) -> Problem:
        # The gap reaches the lever as a gap, as for any other model.
        seen.append((np.isnan(pb.position[5, 1]), np.isnan(pb.salience[5, 1])))
        return replace(pb, salience=np.where(np.isnan(pb.salience), np.nan, pb.salience))

    gap = _with_gap(d3, 5, 1)
    base = run(gap, missing_positions="indifferent", max_turns=8)
    with_lever = run(gap, schedule=Schedule({2: (care,)}), missing_positions="indifferent",
                     max_turns=8)
    assert seen == [(True, True)]
    # A lever that changes nothing leaves the run as it was: the drifted coordinate of the
    # gap is kept, not reset to the status quo.
    for ra, rb in zip(base.rounds, with_lever.rounds):
        np.testing.assert_array_equal(ra.position, rb.position)


def test_actor_added_by_a_lever_is_filled_as_indifferent(d3):
    def add(pb: Problem) -> Problem:
        return replace(
            pb,
            actor_ids=(*pb.actor_ids, "new"),
            position=np.vstack([pb.position, [50.0, np.nan, 50.0]]),
            salience=np.vstack([pb.salience, [0.4, np.nan, 0.4]]),
            capability=np.vstack([pb.capability, [80.0, np.nan, 80.0]]),
        )

    r = run(d3, schedule=Schedule({1: (add,)}), missing_positions="indifferent", max_turns=5)
    assert r.rounds[-1].actor_ids[-1] == "new"
    assert r.info["indifferent"] == {"new": ["d1"]}
    assert np.all(np.isfinite(r.rounds[-1].position))


@pytest.mark.parametrize("bad", ["zero", "fill", True])
def test_invalid_missing_positions_is_refused(bad):
    with pytest.raises((ValidationError, OptionError)):
        SMPOptions(missing_positions=bad)


# --- the flagship scenario -----------------------------------------------------


def test_flagship_runs_with_its_smp_options():
    scn = load("us-israel-palestine-2023")
    assert scn.options["smp"] == {"salience_normalization": "per_actor",
                                  "missing_positions": "indifferent",
                                  "capability_across_issues": "salience_weighted"}
    (res,) = run_scenario(scn, ["smp"], interventions=interventions_for(scn), seed=0)
    info = res.run.info
    assert "us_exec" in info["salience_normalized"]
    assert set(info["indifferent"]) >= {"iran", "hezbollah"}
    assert np.all(np.isfinite(res.run.forecast))
    with pytest.raises(ModelError, match="sum to"):
        run_scenario(scn, ["smp"], options={"smp": {"salience_normalization": "error"}})
