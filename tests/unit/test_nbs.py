"""The Nash bargaining solution proper (spec §5.4)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stakes.models.nbs import solve_issue, solve_joint


def test_two_actors_quadratic_matches_first_order_condition():
    x, s, w = np.array([60.0, 80.0]), np.ones(2), np.ones(2)
    y, ok = solve_issue(x, s, w, 0.0, 0, 100, 2)
    assert ok
    # d/dy [log(3600 − (y−60)²) + log(6400 − (y−80)²)] = 0
    foc = -2 * (y - 60) / (3600 - (y - 60) ** 2) - 2 * (y - 80) / (6400 - (y - 80) ** 2)
    assert foc == pytest.approx(0, abs=1e-8)


def test_heavier_actor_pulls_the_solution():
    x, s = np.array([60.0, 80.0]), np.ones(2)
    even, _ = solve_issue(x, s, np.ones(2), 0.0, 0, 100, 2)
    heavy, _ = solve_issue(x, s, np.array([3.0, 1.0]), 0.0, 0, 100, 2)
    assert heavy < even


def test_status_quo_between_actors_has_no_agreement():
    y, ok = solve_issue(np.array([0.0, 100.0]), np.ones(2), np.ones(2), 50.0, 0, 100, 2)
    assert (y, ok) == (50.0, False)


def test_salience_cancels_on_one_issue():
    x, w = np.array([20.0, 70.0, 90.0]), np.array([1.0, 2.0, 1.0])
    a, _ = solve_issue(x, np.array([1.0, 1.0, 1.0]), w, 0.0, 0, 100, 2)
    b, _ = solve_issue(x, np.array([0.2, 0.9, 0.5]), w, 0.0, 0, 100, 2)
    assert a == pytest.approx(b, abs=1e-7)


def test_joint_equals_per_issue_when_issues_separate():
    X = np.array([[60.0, 30.0], [80.0, 50.0]])
    S = np.full((2, 2), 0.5)
    joint, ok = solve_joint(X, S, np.ones(2), np.zeros(2), np.zeros(2), np.full(2, 100.0), 2)
    assert ok
    # Separable utilities with equal saliences: the joint solution need not equal the
    # per-issue one, but every actor must gain against the status quo.
    loss_q = (S * X**2).sum(axis=1)
    loss = (S * (joint[None, :] - X) ** 2).sum(axis=1)
    assert (loss < loss_q).all()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(1, 100), st.floats(0.05, 1), st.floats(0.1, 5)),
                min_size=1, max_size=8),
       st.sampled_from([1, 2]))
def test_solution_makes_every_actor_gain(rows, kappa):
    x = np.array([r[0] for r in rows])
    s = np.array([r[1] for r in rows])
    w = np.array([r[2] for r in rows])
    y, ok = solve_issue(x, s, w, 0.0, 0, 100, kappa)
    assert ok  # status quo at 0 below every position: some agreement exists
    assert (np.abs(y - x) < np.abs(0.0 - x)).all()
    assert x.min() - 1e-6 <= y <= x.max() + 1e-6
