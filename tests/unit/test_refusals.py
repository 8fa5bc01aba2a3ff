"""Results are numbers or refusals: NaN/null forecasts, seeds, scenario options, mixed scales."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stakes.engine import SEED_MAX, check_seed, interventions_for, run_scenario
from stakes.errors import InputError, ModelError, OptionError
from stakes.readers import load_any
from stakes.scenario.yaml_io import loads_scenario

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / "src" / "stakes" / "data" / "scenarios" / "ec-emissions.yaml").read_text()
ACTORS = ["NL", "BE", "LU", "DE", "FR", "IT", "UK", "IE", "DK", "GR"]


def with_lever_removing(actors: list[str]) -> str:
    effects = "".join(f"  - {{remove_actor: {a}}}\n" for a in actors)
    return EXAMPLE + f"levers:\n- id: exodus\n  name: Exodus\n  round: 1\n  effects:\n{effects}"


@pytest.mark.parametrize("model", ["compromise", "median"])
def test_a_lever_removing_every_actor_is_refused_with_the_reason(model):
    scn = loads_scenario(with_lever_removing(ACTORS), "s.yaml")
    with pytest.raises(ModelError) as e:
        run_scenario(scn, [model], interventions=interventions_for(scn, "all", "all"),
                     skip_inapplicable=True)
    assert re.fullmatch(rf"{model}: under lever exodus, no actor remains on issue emissions "
                        r"from round \d+; there is no forecast to give", str(e.value))


def test_a_lever_removing_some_actors_still_gives_numbers():
    scn = loads_scenario(with_lever_removing(ACTORS[:-3]), "s.yaml")
    results = run_scenario(scn, ["compromise", "median"],
                           interventions=interventions_for(scn, "all", "all"))
    assert all(float(r.run.forecast[0]) == float(r.run.forecast[0]) for r in results)


def test_denormal_saliences_are_refused_not_null():
    text = re.sub(r"salience: [0-9.]+\}", "salience: 5e-324}", EXAMPLE)
    scn = loads_scenario(text, "s.yaml")
    with pytest.raises(ModelError, match="smp: under the baseline, the forecast on issue "
                                         "emissions is not a number"):
        run_scenario(scn, ["smp"])


@pytest.mark.parametrize("seed", [-1, SEED_MAX + 1, 2**64, 1.5, True, "3"])
def test_seeds_out_of_range_are_refused(seed):
    with pytest.raises(OptionError, match="expected an integer from 0 to"):
        check_seed(seed)


def test_seed_range_ends_are_accepted():
    assert check_seed(0) == 0 and check_seed(SEED_MAX) == SEED_MAX


def test_options_in_a_scenario_are_located():
    text = EXAMPLE + ("options:\n  eum:\n    Q: 7\n    nonsense: 1\n  smp:\n"
                      "    voting_rule: bogus\n  foo: {a: 1}\n")
    with pytest.raises(InputError) as e:
        loads_scenario(text, "s.yaml")
    lines = e.value.lines()
    n = EXAMPLE.count("\n")
    assert lines[0] == f"s.yaml:{n + 3}:5: options.eum.Q: Input should be less than or equal to 1"
    assert lines[1].startswith(f"s.yaml:{n + 4}:5: options.eum.nonsense: unknown option (known:")
    assert lines[2].startswith(f"s.yaml:{n + 6}:5: options.smp.voting_rule: Input should be")
    assert lines[3].startswith(f"s.yaml:{n + 7}:3: options.foo: unknown model 'foo'")


def test_mixed_scale_bdm_csv_is_refused(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("Actor,Capability,Position,Salience\nA,10,20,0.8\nB,20,40,1.8\nC,30,60,0.5\n")
    with pytest.raises(InputError) as e:
        load_any(p)
    assert e.value.lines() == [
        f"{p}:2:9: Salience: mixed salience scales: 0.8 is on the 0-1 scale but 1.8 (line 3) "
        "is above 1; correct the values, or name the scale (salience_scale 'unit' or "
        "'percent', --salience-scale)"]
    # naming the scale is the way out
    scn = load_any(p, salience_scale="percent")
    assert [e.salience.value for e in scn.entries] == pytest.approx([0.008, 0.018, 0.005])


def test_percent_scale_without_fractions_is_still_detected(tmp_path):
    p = tmp_path / "p.csv"
    p.write_text("Actor,Capability,Position,Salience\nA,10,20,80\nB,20,40,0\nC,30,60,50\n")
    assert [e.salience.value for e in load_any(p).entries] == [0.8, 0.0, 0.5]


def test_a_sweep_with_a_lever_removing_every_actor_is_refused():
    from stakes.analysis.sweep import run_sweep

    scn = loads_scenario(with_lever_removing(ACTORS), "s.yaml")
    with pytest.raises(ModelError, match="under lever exodus, no actor remains on issue "
                                         "emissions"):
        run_sweep(scn, runs=4, models=["eum", "compromise", "median"],
                  interventions=interventions_for(scn, "all", "all"), backend="numpy")
