"""Golden tests of the EUM on the EC emissions example (spec §2.11).

Reference numbers: the replication code of Scholz et al. (2011)
(jmckib/bdm-scholz-expected-utility-model), with the default options.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stakes.kernels.eum import first_round, perceptual_quadrant, round_one_risk, run_eum
from stakes.models.base import Problem, Schedule
from stakes.models.eum import EUM, EUMOptions

pytestmark = pytest.mark.golden

REFERENCE = (Path(__file__).resolve().parents[2] / ".." / "shared" / "reference").resolve()

# Bueno de Mesquita 1994, p. 78; Scholz et al. 2011, Table 1 (spec §2.11).
ACTORS = ["NL", "BE", "LU", "DE", "FR", "IT", "UK", "IE", "DK", "GR"]
NAMES = ["Netherlands", "Belgium", "Luxembourg", "Germany", "France", "Italy", "UK", "Ireland",
         "Denmark", "Greece"]
C = np.array([0.08, 0.08, 0.03, 0.16, 0.16, 0.16, 0.16, 0.05, 0.05, 0.08])
X = np.array([4, 7, 4, 4, 10, 10, 10, 7, 4, 7], dtype=float)
S = np.array([0.8, 0.4, 0.2, 0.8, 0.6, 0.6, 0.9, 0.1, 1.0, 0.7])

# (a) risk exponents at the start of round 1, tolerance 1e-4.
R1 = np.array([1.4057, 0.7542, 0.5089, 1.4057, 1.0465, 1.0465, 1.9649, 0.5000, 2.0000, 1.1121])

# (b) Belgium's perceptual quadrant in round 1, tolerance 1e-3: (x, y) per actor j.
BELGIUM_QUADRANT = {
    "LU": (0.606, 0.242),
    "FR": (-0.115, 0.243),
    "IT": (-0.115, 0.243),
    "NL": (-0.473, 0.242),
    "DE": (-0.473, 0.242),
    "UK": (-0.655, 0.243),
    "DK": (-0.832, 0.242),
    "IE": (0.0, 0.0),
    "GR": (0.0, 0.0),
}

# (c) trajectory, 10 rounds: mean, then NL..GR; tolerance 1e-4.
TRAJECTORY = np.array([
    [7.3900, 4, 7.0000, 4.0000, 4, 10, 10, 10, 7.0000, 4, 7],
    [7.4613, 4, 8.4159, 7.0000, 4, 10, 10, 10, 4.0000, 4, 7],
    [7.5525, 4, 9.6109, 8.4159, 4, 10, 10, 10, 7.0000, 4, 7],
    [7.5901, 4, 9.9620, 9.6109, 4, 10, 10, 10, 8.4159, 4, 7],
    [7.3581, 4, 4.8009, 9.9620, 4, 10, 10, 10, 9.6109, 4, 7],
    [7.3492, 4, 5.5242, 4.8009, 4, 10, 10, 10, 9.9620, 4, 7],
    [7.4149, 4, 7.4720, 5.5242, 4, 10, 10, 10, 5.5242, 4, 7],
    [7.5105, 4, 8.8246, 7.4720, 4, 10, 10, 10, 7.4720, 4, 7],
    [7.5724, 4, 9.6711, 8.8246, 4, 10, 10, 10, 8.8246, 4, 7],
    [7.3250, 4, 4.1448, 9.6711, 4, 10, 10, 10, 9.6711, 4, 7],
    [7.2421, 4, 4.2915, 4.1448, 4, 10, 10, 10, 4.1448, 4, 7],
])

# Round means read off Scholz et al. 2011's plotted series (±0.05 reading error).
PUBLISHED_MEANS = np.array([7.4, 7.4, 7.5, 7.6, 7.3, 7.3, 7.4, 7.5, 7.6, 7.3, 7.2])

# dmasad/BDM_DecisionModel_Replication's round-1 r: a known-wrong variant (spec §2.12).
DMASAD_R1 = np.array([1.127, 0.781, 0.5, 1.127, 1.078, 1.078, 2.0, 0.525, 1.472, 1.140])

IX = {a: k for k, a in enumerate(ACTORS)}


def ec_problem() -> Problem:
    return Problem(
        issue_ids=("emissions",),
        actor_ids=tuple(ACTORS),
        position=X[:, None].copy(),
        salience=S[:, None].copy(),
        capability=C[:, None].copy(),
        lo=np.array([4.0]),
        hi=np.array([10.0]),
        status_quo=np.array([np.nan]),
    )


def run_model(**options):
    return EUM().run(ec_problem(), EUMOptions(**options), Schedule.empty(),
                     np.random.default_rng(0))


def test_round_zero_baselines():
    run = run_model(max_rounds=1)
    assert run.rounds[0].mean[0] == pytest.approx(7.390, abs=5e-4)
    assert run.rounds[0].extra["median"] == [7.0]
    assert run.rounds[0].forecast[0] == 7.0


def test_risk_exponents_round_one():
    np.testing.assert_allclose(round_one_risk(X, C, S), R1, atol=1e-4)
    run = run_model(max_rounds=1)
    np.testing.assert_allclose(run.rounds[1].extra["risk"], R1, atol=1e-4)


def test_belgium_quadrant_round_one():
    qx, qy = perceptual_quadrant(X, C, S, IX["BE"])
    for actor, (ex, ey) in BELGIUM_QUADRANT.items():
        j = IX[actor]
        assert qx[j] == pytest.approx(ex, abs=1e-3), actor
        assert qy[j] == pytest.approx(ey, abs=1e-3), actor


def test_round_one_events():
    res = first_round(X, C, S)
    be, lu, ie, fr = IX["BE"], IX["LU"], IX["IE"], IX["FR"]
    # Belgium compromises with France (and Italy).
    assert res.e_ij[be, fr] == pytest.approx(-0.11483, abs=1e-5)
    assert res.e_ji[be, fr] == pytest.approx(0.24330, abs=1e-5)
    assert res.position[be] == pytest.approx(7 + 3 * abs(res.e_ij[be, fr] / res.e_ji[be, fr]))
    assert res.position[be] == pytest.approx(8.41593, abs=1e-5)
    # Luxembourg loses a conflict to Belgium and moves to 7.
    assert res.e_ij[lu, be] == pytest.approx(0.24551, abs=1e-5)
    assert res.e_ji[lu, be] == pytest.approx(0.54225, abs=1e-5)
    assert res.position[lu] == 7.0
    # Ireland loses a conflict to Luxembourg and moves to 4.
    assert res.e_ij[ie, lu] == pytest.approx(0.53824, abs=1e-5)
    assert res.e_ji[ie, lu] == pytest.approx(0.68248, abs=1e-5)
    assert res.position[ie] == 4.0


def test_trajectory_ten_rounds_kernel():
    tr = run_eum(X, C, S, max_rounds=10)
    assert tr.stop == "max_rounds"
    np.testing.assert_allclose(tr.positions, TRAJECTORY[:, 1:], atol=1e-4)
    np.testing.assert_allclose(tr.means, TRAJECTORY[:, 0], atol=1e-4)


def test_trajectory_ten_rounds_model():
    run = run_model(max_rounds=10)
    assert run.stop == "max_rounds"
    assert [r.round for r in run.rounds] == list(range(11))
    pos = np.array([r.position[:, 0] for r in run.rounds])
    means = np.array([r.mean[0] for r in run.rounds])
    np.testing.assert_allclose(pos, TRAJECTORY[:, 1:], atol=1e-4)
    np.testing.assert_allclose(means, TRAJECTORY[:, 0], atol=1e-4)
    # Only Belgium, Luxembourg and Ireland ever move.
    moved = {ACTORS[k] for k in np.flatnonzero(np.ptp(pos, axis=0) > 0)}
    assert moved == {"BE", "LU", "IE"}
    # The forecast is the median by default, the mean on request.
    assert run.forecast[0] == run.rounds[-1].extra["median"][0]
    by_mean = run_model(max_rounds=10, forecast="mean")
    assert by_mean.forecast[0] == pytest.approx(7.2421, abs=1e-4)


def test_loose_scholz_like_means():
    tr = run_eum(X, C, S, max_rounds=10)
    assert np.max(np.abs(tr.means - PUBLISHED_MEANS)) <= 0.1


def test_known_wrong_dmasad_risk_vector_is_not_reproduced():
    res = first_round(X, C, S)
    assert np.max(np.abs(res.risk - DMASAD_R1)) > 0.1
    # The probability form of the paper (eq. 30) is not what reproduces table (c).
    tr = run_eum(X, C, S, max_rounds=10, prob="paper")
    k = min(len(tr.positions), len(TRAJECTORY))
    assert np.max(np.abs(tr.positions[:k] - TRAJECTORY[:k, 1:])) > 0.1


def test_capitulation_off_gives_same_trajectory():
    # spec §2.8: on this example capitulation never decides a move.
    on = run_eum(X, C, S, max_rounds=10, capitulation=True)
    off = run_eum(X, C, S, max_rounds=10, capitulation=False)
    np.testing.assert_array_equal(on.positions, off.positions)


def test_smallest_move_rule_changes_round_four():
    # spec §2.8: the lowest-position compromise rule is what makes Belgium jump to 4.8009.
    tr = run_eum(X, C, S, max_rounds=10, offer_priority="bdm_smallest_move")
    assert abs(tr.positions[4, IX["BE"]] - 4.8009) > 0.1


def test_reader_loads_bdm_csv_and_reproduces_trajectory():
    path = REFERENCE / "jmckib-bdm-scholz" / "ExampleActors.csv"
    if not path.exists():
        pytest.skip(f"reference file absent: {path}")
    try:
        from stakes.readers import load_any  # noqa: PLC0415
    except ImportError:
        pytest.skip("stakes.readers.load_any does not exist yet")
    from stakes.scenario.arrays import to_problem  # noqa: PLC0415

    scn = load_any(path)
    assert len(scn.issues) == 1
    problem = to_problem(scn)
    names = [scn.actor(a).name for a in problem.actor_ids]
    assert sorted(names) == sorted(NAMES)
    order = [names.index(nm) for nm in NAMES]
    run = EUM().run(problem, EUMOptions(max_rounds=10), Schedule.empty(),
                    np.random.default_rng(0))
    pos = np.array([r.position[order, 0] for r in run.rounds])
    means = np.array([r.mean[0] for r in run.rounds])
    np.testing.assert_allclose(pos, TRAJECTORY[:, 1:], atol=1e-4)
    np.testing.assert_allclose(means, TRAJECTORY[:, 0], atol=1e-4)


def test_packaged_scenario_through_the_engine():
    import stakes  # noqa: PLC0415
    from stakes.api import packaged_scenarios  # noqa: PLC0415

    if "ec-emissions" not in packaged_scenarios():
        pytest.skip("packaged scenario ec-emissions not available")
    (result,) = [r for r in stakes.run("ec-emissions", models=["eum"], rounds=10)
                 if r.intervention.kind == "baseline"]
    run = result.run
    order = [run.rounds[0].actor_ids.index(a) for a in ACTORS]
    pos = np.array([r.position[order, 0] for r in run.rounds])
    np.testing.assert_allclose(pos, TRAJECTORY[:, 1:], atol=1e-4)
    np.testing.assert_allclose([r.mean[0] for r in run.rounds], TRAJECTORY[:, 0], atol=1e-4)
