"""The one lever compiler: pure transforms that keep every value on its scale."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from stakes.levers.compile import Intervention, LeverState, compile_intervention
from stakes.scenario.schema import Lever

IDS = ("a", "b", "c")
ISSUES = ("x", "y")
LO, HI = np.array([0.0, 4.0]), np.array([100.0, 10.0])

changes = st.one_of(
    st.builds(lambda v: {"set": v}, st.floats(-1e6, 1e6)),
    st.builds(lambda v: {"add": v}, st.floats(-1e6, 1e6)),
    st.builds(lambda v: {"scale": v}, st.floats(0, 1e3)),
)


def state(rng, b=3) -> LeverState:
    pos = LO + rng.uniform(size=(b, len(IDS), 2)) * (HI - LO)
    pos[:, 2, 1] = np.nan  # c takes no stance on y
    sal = rng.uniform(size=(b, len(IDS), 2))
    cap = rng.uniform(0, 5, size=(b, len(IDS), 2))
    return LeverState(IDS, ISSUES, pos, sal, cap, LO, HI)


def newcomer(actor, issue_ids):
    if actor != "d":
        return None
    return np.array([[50.0, np.nan]]), np.array([[0.5, np.nan]]), np.array([[2.0, np.nan]])


@given(st.sampled_from(IDS), changes, changes, changes,
       st.sampled_from([None, ["x"], ["y"]]), st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_changes_stay_on_their_scales_and_leave_the_input_alone(actor, p, s, c, issues, seed):
    lever = Lever.model_validate({"id": "l", "name": "l", "effects": [
        {"actor": actor, "issues": issues, "position": p, "salience": s, "capability": c}]})
    tf = compile_intervention(Intervention("lever", "l", ((0, lever),)), newcomer, "nan")[0]
    before = state(np.random.default_rng(seed))
    copies = [a.copy() for a in (before.position, before.salience, before.capability)]
    after = tf(before)
    for old, arr in zip(copies, (before.position, before.salience, before.capability)):
        np.testing.assert_array_equal(old, arr)  # pure: the input is not changed
    k = IDS.index(actor)
    touched = [d for d, iss in enumerate(ISSUES) if issues is None or iss in issues]
    for d in range(2):
        stance = ~np.isnan(before.position[:, k, d])
        if d not in touched or not stance.any():
            np.testing.assert_array_equal(after.position[:, k, d], before.position[:, k, d])
            continue
        assert np.all((after.position[:, k, d] >= LO[d]) & (after.position[:, k, d] <= HI[d]))
        assert np.all((after.salience[:, k, d] >= 0) & (after.salience[:, k, d] <= 1))
        assert np.all(after.capability[:, k, d] >= 0)
    others = [j for j in range(len(IDS)) if j != k]
    np.testing.assert_array_equal(after.position[:, others], before.position[:, others])


def test_actors_enter_and_leave_in_the_order_given():
    lever = Lever.model_validate({"id": "l", "name": "l", "effects": [
        {"remove_actor": "b"}, {"add_actor": "d"}, {"add_actor": "e"}, {"remove_actor": "z"}]})
    tf = compile_intervention(Intervention("lever", "l", ((2, lever),)), newcomer, "nan")[2]
    before = state(np.random.default_rng(0))
    after = tf(before)
    assert after.ids == ("a", "c", "d")  # e has no entry, z is not there
    np.testing.assert_array_equal(after.position[:, :2], before.position[:, [0, 2]])
    np.testing.assert_array_equal(after.position[:, 2, 0], [50.0] * 3)
    # "drop" problems keep only actors with a stance on every issue
    drop = compile_intervention(Intervention("lever", "l", ((2, lever),)), newcomer, "drop")[2]
    assert drop(before).ids == ("a", "c")
