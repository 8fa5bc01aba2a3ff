"""The model input is checked once, when built, and every refusal points at the value."""

from __future__ import annotations

import copy
import pickle
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stakes.engine import run_scenario
from stakes.errors import InputError
from stakes.models.base import Problem
from stakes.readers.bdm import parse_table
from stakes.scenario.arrays import to_problem
from stakes.scenario.schema import Value
from stakes.scenario.yaml_io import loads_scenario

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SCENARIO = """\
stakes: 1
metadata: {name: checks}
actors:
- {id: a, name: A, capability: 2}
- {id: b, name: B, capability: 1}
- {id: c, name: C, capability: 1}
issues:
- {id: x, name: X, scale: {min: 4, max: 10}, status_quo: 5}
- id: y
  name: Y
  scale: {min: 0, max: 1}
entries:
- {actor: a, issue: x, position: 4, salience: 0.8}
- {actor: b, issue: x, position: 7, salience: 0.4}
- {actor: c, issue: x, position: 10, salience: 0.6}
- actor: a
  issue: y
  position: 0.5
  salience:
    value: 0.3
- {actor: b, issue: y, position: 1, salience: 0.2}
"""


def _line(text: str) -> int:
    return 1 + SCENARIO.splitlines().index(text)


@pytest.fixture
def scn():
    return loads_scenario(SCENARIO, "checks.yaml")


def _refusal(scn, issues=None, missing="drop") -> str:
    with pytest.raises(InputError) as exc:
        to_problem(scn, issues, missing=missing)
    return "\n".join(exc.value.lines())


# ---------------------------------------------------------------- located messages


def test_the_issue_example_is_refused_at_the_file_line(scn):
    ed = scn.model_copy(deep=True)
    ed.entry("b", "x").salience.value = 1.5
    ed.entry("b", "x").position.value = 1e9
    with pytest.raises(InputError) as exc:
        run_scenario(ed, ["compromise"])
    lines = exc.value.lines()
    text = "- {actor: b, issue: x, position: 7, salience: 0.4}"
    line, pcol, scol = _line(text), 1 + text.index("position"), 1 + text.index("salience")
    assert lines == [
        f"checks.yaml:{line}:{pcol}: entries[1].position: actor 'b', issue 'x': position "
        "1e+09 lies outside the issue's scale [4, 10] (changed after the file was read; it "
        "gives 7)",
        f"checks.yaml:{line}:{scol}: entries[1].salience: actor 'b', issue 'x': salience 1.5 "
        "lies outside [0, 1] (changed after the file was read; it gives 0.4)",
    ]


def test_a_value_in_mapping_form_points_at_its_value_line(scn):
    scn.entry("a", "y").salience.value = -0.1
    text = _refusal(scn, ["y"], missing="nan")
    assert text.startswith(f"checks.yaml:{_line('    value: 0.3')}:5: entries[3].salience: ")


def test_value_made_in_python_is_named_by_its_place(scn):
    scn.entry("c", "x").salience = Value(value=2)
    assert _refusal(scn, ["x"]) == (
        "<input>: entries[2].salience: actor 'c', issue 'x': salience 2 lies outside [0, 1] "
        "(set in Python: no file to point at)")


def test_actor_capability_status_quo_and_scale_are_located(scn):
    scn.actor("a").capability.value = -1
    scn.issue("x").status_quo.value = 11
    text = _refusal(scn, ["x"])
    assert (f"checks.yaml:{_line('- {id: a, name: A, capability: 2}')}:") in text
    assert "actors[0].capability: actor 'a', issue 'x': capability -1 is negative" in text
    assert "issues[0].status_quo: issue 'x': status quo 11 lies outside" in text
    scn.issue("y").scale.max = 0
    assert "issues[1].scale: issue 'y': scale [0, 0] needs finite ends" in _refusal(
        scn, ["y"], missing="nan")


def test_reader_lines_carry_over_to_the_model_input():
    csv = "Actor,Capability,Position,Salience\nNL,0.08,4,80\nBE,0.08,7,40\nLU,0.03,4,20\n"
    scn = parse_table(csv, "in.csv", scale=(0, 10))
    scn.entry(scn.actors[2].id, scn.issues[0].id).position.value = 99
    text = _refusal(scn)
    assert text.startswith("in.csv:4:")
    assert "position 99 lies outside the issue's scale [0, 10]" in text


def test_every_problem_is_reported_at_once(scn):
    for e in scn.entries[:3]:
        e.salience.value = 3
    assert len(_refusal(scn, ["x"]).splitlines()) == 3


# ---------------------------------------------------------------- where it was read


def test_origins_do_not_change_equality_copies_or_pickles(scn):
    other = loads_scenario("\n\n" + SCENARIO, "elsewhere.yaml")  # other file, other lines
    assert scn == other
    for twin in (copy.deepcopy(scn), pickle.loads(pickle.dumps(scn)), scn.model_copy(deep=True)):
        assert twin == scn
        twin.entry("a", "x").position.value = 42
        assert _refusal(twin, ["x"]).startswith("checks.yaml:")


# ---------------------------------------------------------------- arrays (property tests)


@st.composite
def problems(draw):
    n = draw(st.integers(1, 6))
    d = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    g = np.random.default_rng(seed)
    lo = g.uniform(-50, 50, d)
    hi = lo + g.uniform(0.1, 100, d)
    pos = lo + g.uniform(0, 1, (n, d)) * (hi - lo)
    sal = g.uniform(0, 1, (n, d))
    cap = g.uniform(0, 5, (n, d))
    absent = g.random((n, d)) < 0.2
    absent[np.arange(n), g.integers(0, d, n)] = False  # a stance somewhere, as to_problem keeps
    pos[absent] = sal[absent] = cap[absent] = np.nan
    sq = np.where(g.random(d) < 0.5, np.nan, lo + g.uniform(0, 1, d) * (hi - lo))
    return Problem(tuple(f"i{k}" for k in range(d)), tuple(f"a{k}" for k in range(n)),
                   pos, sal, cap, lo, hi, sq)


@given(problems())
@FAST
def test_valid_arrays_build(pb):
    again = replace(pb, position=pb.position.copy())  # built again: checked again
    np.testing.assert_array_equal(again.position, pb.position)


BREAKS = {
    "position": [np.inf, -np.inf, "below", "above"],
    "salience": [-0.01, 1.01, np.nan, np.inf],
    "capability": [-1.0, np.inf, np.nan],
}


@given(problems(), st.sampled_from([(f, v) for f, vs in BREAKS.items() for v in vs]),
       st.integers(0, 10**6))
@FAST
def test_one_bad_value_is_refused_naming_its_cell(pb, fault, pick):
    field, value = fault
    cells = np.argwhere(~np.isnan(pb.position))
    if not len(cells):
        return
    i, d = cells[pick % len(cells)]
    arr = getattr(pb, field).copy()
    if value == "below":
        value = pb.lo[d] - 1e-6 * (pb.hi[d] - pb.lo[d])
    elif value == "above":
        value = pb.hi[d] + 1e-6 * (pb.hi[d] - pb.lo[d])
    arr[i, d] = value
    with pytest.raises(InputError) as exc:
        replace(pb, **{field: arr})
    (problem,) = exc.value.problems
    assert problem.field == field
    assert problem.message.startswith(f"actor 'a{i}', issue 'i{d}': {field} ")


def test_shapes_ids_and_affinity_are_checked():
    pb = Problem(("x",), ("a", "b"), np.array([[1.0], [2.0]]), np.ones((2, 1)),
                 np.ones((2, 1)), np.array([0.0]), np.array([3.0]), np.array([np.nan]))
    with pytest.raises(InputError, match=r"salience: has shape \(1, 1\); expected \(2, 1\)"):
        replace(pb, salience=np.ones((1, 1)))
    with pytest.raises(InputError, match="actor ids repeat: 'a'"):
        replace(pb, actor_ids=("a", "a"))
    with pytest.raises(InputError, match=r"affinity has shape \(3, 3\); expected \(2, 2\)"):
        replace(pb, affinity=np.eye(3))
    with pytest.raises(InputError, match="actor 'b', toward 'a': affinity weight 2 lies"):
        replace(pb, affinity=np.array([[1.0, 0.0], [2.0, 1.0]]))
    with pytest.raises(InputError, match="actor 'b': takes no stance on any issue"):
        replace(pb, position=np.array([[1.0], [np.nan]]))
    # a stance is complete: a position needs its salience and capability
    sal = np.array([[np.nan], [1.0]])
    with pytest.raises(InputError, match="actor 'a', issue 'x': salience nan is missing"):
        replace(pb, salience=sal)


def test_decimal_arrays_of_the_exchange_model_are_checked_as_numbers():
    from decimal import Decimal

    pos = np.array([[Decimal("1.5"), None], [None, "2.25"]], dtype=object)
    pb = Problem(("x", "y"), ("a", "b"), pos, np.array([[0.5, np.nan], [np.nan, 0.5]]),
                 np.array([[1.0, np.nan], [np.nan, 1.0]]), np.zeros(2), np.full(2, 3.0),
                 np.full(2, np.nan))
    assert pb.position[0, 0] == Decimal("1.5")  # kept as given
    bad = pos.copy()
    bad[0, 0] = Decimal("4")
    with pytest.raises(InputError, match="actor 'a', issue 'x': position 4 lies outside"):
        replace(pb, position=bad)
    bad[0, 0] = "high"
    with pytest.raises(InputError, match="position: holds a value that is not a number"):
        replace(pb, position=bad)
