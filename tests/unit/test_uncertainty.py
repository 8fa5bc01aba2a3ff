"""Uncertain inputs (stakes.analysis.uncertainty) and the scenario's ``uncertainty`` section."""

from __future__ import annotations

import numpy as np
import pytest

from stakes.analysis.uncertainty import DRAW_BLOCK, input_space, settings_of
from stakes.api import load
from stakes.errors import InputError, OptionError
from stakes.scenario.schema import Uncertainty

SCN = """
stakes: 1
metadata: {name: "Uncertain"}
uncertainty: {position_sd: 0.1, salience_sd: 0.05, capability_sd: 0.0, bounds: truncate}
actors:
  - {id: A, name: A, capability: 1.0}
  - {id: B, name: B, capability: {value: 2.0, sd: 0.5}}
  - {id: C, name: C, capability: 1.0}
issues:
  - {id: x, name: X, scale: {min: 0, max: 100}, status_quo: {value: 50, range: [40, 60]}}
entries:
  - {actor: A, issue: x, position: 0, salience: 1.0}
  - {actor: B, issue: x, position: {value: 40, range: [30, 50]}, salience: {value: 0.5, sd: 0}}
  - {actor: C, issue: x, position: {value: 70, sd: 5, range: [65, 80]}, salience: 0.5}
"""


@pytest.fixture
def scn(tmp_path):
    p = tmp_path / "u.yaml"
    p.write_text(SCN)
    return load(p)


def _slot(space, name):
    return next(sl for sl in space.slots if sl.name == name)


def test_slots_and_their_distributions(scn):
    space = input_space(scn)
    assert scn.uncertainty.position_sd == 0.1
    assert _slot(space, "position[A, x]").dist == "normal"
    assert _slot(space, "position[A, x]").scale == pytest.approx(10.0)  # 0.1 of the width
    assert _slot(space, "position[B, x]").dist == "uniform"  # its own range
    c = _slot(space, "position[C, x]")
    assert (c.dist, c.scale, c.lo, c.hi) == ("normal", 5, 65, 80)  # sd cut to its range
    assert _slot(space, "salience[B, x]").dist == "fixed"  # sd 0 holds it
    assert _slot(space, "capability[A]").dist == "fixed"  # capability_sd 0
    assert _slot(space, "capability[B]").dist == "normal"  # its own sd wins
    assert _slot(space, "status_quo[x]").dist == "uniform"
    assert space.views["x"].present == ("A", "B", "C")


def test_draws_stay_in_bounds_and_follow_their_spread(scn):
    space = input_space(scn)
    v = space.draw(1, 0, 20_000)
    names = [sl.name for sl in space.slots]
    col = {n: v[:, k] for k, n in enumerate(names)}
    a = col["position[A, x]"]  # truncated at 0: no draw below, mass moves up
    assert a.min() >= 0 and a.mean() == pytest.approx(10 * np.sqrt(2 / np.pi), rel=0.03)
    b = col["position[B, x]"]
    assert b.min() >= 30 and b.max() <= 50 and b.std() == pytest.approx(20 / np.sqrt(12), rel=0.03)
    c = col["position[C, x]"]
    assert c.min() >= 65 and c.max() <= 80
    assert (col["salience[B, x]"] == 0.5).all()
    s = col["salience[A, x]"]
    assert s.max() <= 1.0 and s.min() < 1.0
    cap = col["capability[B]"]
    assert cap.min() >= 0 and cap.std() == pytest.approx(0.5, rel=0.05)


def test_clip_puts_mass_on_the_bound(scn):
    space = input_space(scn, settings_of(scn, bounds="clip"))
    a = space.draw(2, 0, 5000)[:, [sl.name for sl in space.slots].index("position[A, x]")]
    assert 0.4 < np.mean(a == 0.0) < 0.6  # half the normal lies below 0


def test_uniform_noise_has_the_same_spread(scn):
    space = input_space(scn, settings_of(scn, distribution="uniform", bounds="clip"))
    sl = _slot(space, "salience[C, x]")
    assert sl.dist == "uniform" and sl.scale == pytest.approx(0.05 * 2 * np.sqrt(3))


def test_draws_do_not_depend_on_chunks(scn):
    space = input_space(scn)
    whole = space.draw(7, 0, 2 * DRAW_BLOCK + 10)
    parts = np.concatenate([space.draw(7, 0, 5), space.draw(7, 5, DRAW_BLOCK + 3),
                            space.draw(7, DRAW_BLOCK + 3, 2 * DRAW_BLOCK + 10)])
    np.testing.assert_array_equal(whole, parts)
    assert not np.array_equal(space.draw(8, 0, 5), whole[:5])


def test_transform_maps_unit_cube_edges_to_finite_values(scn):
    space = input_space(scn)
    r = len(space.random_index)
    for u in (np.zeros((1, r)), np.ones((1, r))):
        v = space.transform(u)
        assert np.isfinite(v).all()
    with pytest.raises(ValueError):
        space.transform(np.zeros((1, r + 1)))


def test_scenario_for_carries_member_values(scn):
    space = input_space(scn)
    assert space.scenario_for(space.nominal) == scn
    v = space.draw(0, 0, 1)[0]
    m = space.scenario_for(v)
    k = [sl.name for sl in space.slots].index("position[C, x]")
    assert m.entry("C", "x").position.value == v[k]
    assert m.entry("C", "x").position.sd == 5  # the distribution itself stays


def test_restricted_holds_other_kinds(scn):
    space = input_space(scn).restricted({"salience"})
    assert {sl.kind for sl in space.slots if sl.random} == {"salience"}
    assert space.groups("actor") == ["A", "C"]


def test_settings_overrides_and_errors(scn, tmp_path):
    assert settings_of(scn, salience_sd=0.2).salience_sd == 0.2
    assert settings_of(scn, salience_sd=0.2).position_sd == 0.1  # the rest from the file
    with pytest.raises(OptionError):
        settings_of(scn, position_sd=-1)
    assert Uncertainty().position_sd == 0.05
    bad = tmp_path / "bad.yaml"
    bad.write_text(SCN.replace("position_sd: 0.1", "position_sd: -0.1"))
    with pytest.raises(InputError, match="position_sd"):
        load(bad)
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(SCN.replace("bounds: truncate", "bounds: wrap"))
    with pytest.raises(InputError, match="bounds"):
        load(unknown)
