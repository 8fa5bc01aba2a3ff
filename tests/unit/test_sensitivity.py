"""Sobol indices (stakes.analysis.sensitivity) and stability (stakes.analysis.stability)
on problems whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from stakes.analysis.sensitivity import run_sensitivity, sobol_indices
from stakes.analysis.stability import run_stability
from stakes.api import load
from stakes.errors import OptionError

# The weighted median of this scenario is always A's position: A holds more
# than half of every weight c·s whatever the draws (capabilities are fixed,
# saliences stay in [0.6, 1] for A and below 0.3 for the others).
DOMINANT = """
stakes: 1
metadata: {name: "One actor decides"}
uncertainty: {position_sd: 0.1, salience_sd: 0.05, capability_sd: 0.0}
actors:
  - {id: A, name: A, capability: 10}
  - {id: B, name: B, capability: 1}
  - {id: C, name: C, capability: 1}
  - {id: D, name: D, capability: 1}
issues:
  - {id: x, name: X, scale: {min: 0, max: 100}}
entries:
  - {actor: A, issue: x, position: 50, salience: {value: 0.8, range: [0.6, 1.0]}}
  - {actor: B, issue: x, position: 20, salience: {value: 0.2, range: [0.1, 0.3]}}
  - {actor: C, issue: x, position: 70, salience: {value: 0.2, range: [0.1, 0.3]}}
  - {actor: D, issue: x, position: 90, salience: {value: 0.2, range: [0.1, 0.3]}}
"""


@pytest.fixture
def dominant(tmp_path):
    p = tmp_path / "dominant.yaml"
    p.write_text(DOMINANT)
    return load(p)


def test_sobol_indices_of_a_known_function():
    groups = ["a", "b", "a", "c"]

    def f(u):  # depends on inputs 0 and 2 (group a) only; additive, so S1 = ST
        return np.column_stack([3 * u[:, 0] + u[:, 2] ** 2, np.full(len(u), 4.0)])

    first, flat = sobol_indices(groups, f, 256, seed=1)
    by = {r["group"]: r for r in first}
    assert by["a"]["ST"] == pytest.approx(1.0, abs=0.05)
    assert by["a"]["S1"] == pytest.approx(1.0, abs=0.1)
    assert by["b"]["ST"] == pytest.approx(0.0, abs=1e-9)
    assert by["c"]["ST"] == pytest.approx(0.0, abs=1e-9)
    assert all(r["note"] == "the forecast does not vary" for r in flat)


def test_sobol_indices_split_an_additive_function():
    def f(u):  # Var 4/12 from a, 1/12 from b: S1 = 0.8 and 0.2
        return 2 * u[:, 0] + u[:, 1]

    (recs,) = sobol_indices(["a", "b"], f, 1024, seed=0)
    by = {r["group"]: r for r in recs}
    assert by["a"]["S1"] == pytest.approx(0.8, abs=0.05)
    assert by["b"]["ST"] == pytest.approx(0.2, abs=0.05)


def test_samples_must_be_a_power_of_two():
    with pytest.raises(OptionError, match="power of two"):
        sobol_indices(["a", "b"], lambda u: u[:, 0], 100)


def test_the_deciding_actor_and_its_position_carry_the_variance(dominant):
    doc = run_sensitivity(dominant, samples=64, models=["median", "compromise"],
                          backend="numpy", seed=3)
    med = [r for r in doc["indices"] if r["model"] == "median"]
    actor = {r["group"]: r for r in med if r["by"] == "actor"}
    assert actor["A"]["ST"] > 0.95
    for other in "BCD":
        assert actor[other]["ST"] < 0.02
    kind = {r["group"]: r for r in med if r["by"] == "kind"}
    assert kind["position"]["ST"] > 0.95 and kind["salience"]["ST"] < 0.02
    # The compromise (weighted mean) also hears the others, if faintly.
    comp = {r["group"]: r for r in doc["indices"]
            if r["model"] == "compromise" and r["by"] == "actor"}
    assert min(comp[o]["ST"] for o in "BCD") > 0
    # Records come sorted by total index, the most important first.
    assert med[0]["group"] == "A"


def test_no_uncertain_input_is_an_option_error(dominant):
    from stakes.analysis.uncertainty import settings_of

    fixed = dominant.model_copy(update={"entries": [
        e.model_copy(update={"salience": e.salience.model_copy(update={"range": None})})
        for e in dominant.entries]})
    settings = settings_of(fixed, position_sd=0.0, salience_sd=0.0)
    with pytest.raises(OptionError, match="no input"):
        run_sensitivity(fixed, samples=8, models=["median"], settings=settings)


def test_stability_names_the_pivotal_actor(dominant):
    doc = run_stability(dominant, runs=40, threshold=5.0, models=["median"], backend="numpy")
    (issue,) = doc["issues"]
    assert issue["pivotal"] == ["A"]  # without A the median jumps to 70
    rows = {r["actor"]: r for r in issue["actors"]}
    assert rows["A"]["nominal_shift"] == pytest.approx(20.0)
    assert rows["B"]["median_shift"] == 0.0 and not rows["B"]["pivotal"]
    assert issue["stable_under_shocks"]  # only saliences move, and A keeps its majority
    assert issue["shock_interval"] == [50.0, 50.0]


def _rec(group, st, st_conf, s1=None, s1_conf=0.01, issue="x"):
    return {"model": "m", "intervention": "baseline", "issue": issue, "by": "actor",
            "group": group, "ST": st, "ST_conf": st_conf,
            "S1": st if s1 is None else s1, "S1_conf": s1_conf}


def test_warnings_when_the_top_two_cannot_be_ranked_or_indices_leave_0_1():
    from stakes.analysis.sensitivity import index_warnings

    # clear winner, narrow intervals: nothing to say
    assert index_warnings([_rec("a", 0.9, 0.05), _rec("b", 0.1, 0.05)], 64) == []
    # overlapping intervals: (0.2 + 0.2) / (0.5 - 0.4) = 4 times wider than the gap,
    # so about 16 times the samples (the next power of two above 64 * 16 * 1.1)
    (w,) = index_warnings([_rec("a", 0.5, 0.2), _rec("b", 0.4, 0.2)], 64)
    assert "not ranked" in w["problems"][0] and w["suggest_samples"] == 2048
    # a tie: no sample size is suggested
    (w,) = index_warnings([_rec("a", 0.5, 0.2), _rec("b", 0.499, 0.2)], 64)
    assert w["suggest_samples"] is None
    # a total index above 1 and a negative first-order one, read to within 0.05:
    # 64 * (0.3 / 0.05)^2 * 1.1 = 2534 -> 4096
    (w,) = index_warnings([_rec("a", 1.2, 0.2, s1=0.9), _rec("b", 0.05, 0.02, s1=-0.1,
                                                               s1_conf=0.3)], 64)
    assert w["problems"] == ["outside [0, 1]: a ST 1.20, b S1 -0.10"]
    assert w["suggest_samples"] == 4096


def test_sensitivity_reports_warnings_in_its_document(dominant):
    from stakes.analysis.sensitivity import index_warnings

    doc = run_sensitivity(dominant, samples=8, models=["compromise"], backend="numpy", seed=3)
    assert doc["warnings"] == index_warnings(doc["indices"], 8)
    # a total index of 1.01 for the actor that decides is rounding, not a warning
    assert index_warnings([_rec("a", 1.01, 0.02), _rec("b", 0.0, 0.01)], 64) == []
