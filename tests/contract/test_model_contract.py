"""The contract every registered model keeps, checked over the whole registry.

One parametrised module over :func:`stakes.models.model_names` (as Axelrod's
``TestPlayer`` is for every strategy): a model added to the registry is held to
the same rules without a line written here.  The rules: a lever acts at its
round and not before; a lever past the round limit is reported, never dropped
silently; no run stops before its last lever has acted; a batch of one equals
the same member inside a batch; numpy equals JAX within the tolerance the
ensembles document (docs/ensembles.md); permuting the actors permutes the
result; positions stay on their scales; bad inputs are refused with a message
that points at the value.

Where a model cannot keep a rule, the test says so with the reason (strict
xfail), never silently.
"""

from __future__ import annotations

import numpy as np
import pytest

from stakes.analysis.ensemble import BATCHED, Ensemble
from stakes.analysis.uncertainty import input_space
from stakes.engine import run_scenario
from stakes.errors import InputError
from stakes.kernels.backend import get_backend, jax_available
from stakes.levers import baseline, intervention_for_lever
from stakes.models import ROUNDS_OPTION, get_model, model_names
from stakes.scenario.yaml_io import loads_scenario

FILE = "contract.yaml"
ALL = model_names()
ITERATIVE = [m for m in ALL if m in ROUNDS_OPTION]
ROUNDS = 12  # round limit of every iterative run here

# Five actors on two issues with distinct values throughout, so that no rule of any model
# meets an exact tie; saliences sum to at most 1 per actor (SMP's condition), each actor
# has one capability (SMP's default), and each issue a status quo (status-quo, NBS).
SCENARIO = """\
stakes: 1
metadata: {name: contract}
actors:
- {id: a, name: A, capability: 3.0}
- {id: b, name: B, capability: 1.7}
- {id: c, name: C, capability: 2.3}
- {id: d, name: D, capability: 0.9}
- {id: e, name: E, capability: 1.3}
issues:
- {id: x, name: X, scale: {min: 0, max: 10}, status_quo: 3.1}
- {id: y, name: Y, scale: {min: 20, max: 120}, status_quo: 47}
entries:
- {actor: a, issue: x, position: 1.2, salience: 0.62}
- {actor: b, issue: x, position: 8.7, salience: 0.41}
- {actor: c, issue: x, position: 4.4, salience: 0.27}
- {actor: d, issue: x, position: 6.1, salience: 0.53}
- {actor: e, issue: x, position: 9.6, salience: 0.34}
- {actor: a, issue: y, position: 33, salience: 0.21}
- {actor: b, issue: y, position: 107, salience: 0.48}
- {actor: c, issue: y, position: 71, salience: 0.66}
- {actor: d, issue: y, position: 58, salience: 0.19}
- {actor: e, issue: y, position: 24, salience: 0.44}
levers:
- id: move
  name: a moves toward b
  effects:
  - {actor: a, issues: [x], position: {set: 7.9}}
  - {actor: a, issues: [y], position: {set: 96}}
"""


@pytest.fixture(scope="module")
def scn():
    return loads_scenario(SCENARIO, FILE)


def _run(scn, model, iv=None, rounds=ROUNDS):
    return run_scenario(scn, [model], interventions=[iv or baseline()], rounds=rounds)


def _lever(scn, round_):
    return intervention_for_lever(scn, "move", round_)


def _state(rec) -> dict[str, np.ndarray]:
    return dict(zip(rec.actor_ids, np.asarray(rec.position, dtype=float)))


def _same_records(a, b) -> bool:
    sa, sb = _state(a), _state(b)
    return sa.keys() == sb.keys() and all(
        np.allclose(sa[k], sb[k], rtol=0, atol=1e-12, equal_nan=True) for k in sa
    ) and np.allclose(a.forecast, b.forecast, rtol=0, atol=1e-12, equal_nan=True)


def _stop_round(run) -> int:
    return len(run.rounds) - 1


# ------------------------------------------------------------------ the registry


def test_every_model_is_iterative_or_closed_form():
    # the round-limit option is how the engine and these tests find an iterative model
    for name in ALL:
        model = get_model(name)
        if name in ROUNDS_OPTION:
            assert ROUNDS_OPTION[name] in model.Options.model_fields, name
        assert model.scope in ("issue", "joint"), name


# ------------------------------------------------------------------ lever timing


@pytest.mark.parametrize("model", ITERATIVE)
@pytest.mark.parametrize("at", [0, 1, 3])
def test_lever_acts_at_its_round_not_before(scn, model, at):
    # Record k is the state after k rounds; a lever at round r acts on it before round
    # r + 1 is computed, so it shows from record r + 1; a lever at round 0 changes the
    # inputs, and record 0 (the inputs) shows it (docs/reference/json.md).
    shows = 0 if at == 0 else at + 1
    for base, lev in zip(_run(scn, model), _run(scn, model, _lever(scn, at))):
        assert base.run.issue_ids == lev.run.issue_ids
        # before the lever acts, the runs are the same run
        for t in range(shows):
            assert _same_records(base.run.rounds[t], lev.run.rounds[t]), (model, t)
        assert len(lev.run.rounds) > shows, "the run stopped before its lever acted"
        assert not _same_records(base.run.rounds[shows], lev.run.rounds[shows]), model
        if at == 0:  # record 0 holds a's new position
            k = list(lev.run.rounds[0].actor_ids).index("a")
            assert lev.run.rounds[0].position[k][0] == pytest.approx(7.9) or \
                lev.run.rounds[0].position[k][-1] == pytest.approx(96), model


@pytest.mark.parametrize("model", ITERATIVE)
def test_lever_past_the_round_limit_is_reported_and_changes_nothing(scn, model):
    late = ROUNDS + 3
    for base, lev in zip(_run(scn, model), _run(scn, model, _lever(scn, late))):
        assert lev.run.info.get("levers_not_applied") == [late]
        assert "levers_not_applied" not in base.run.info
        np.testing.assert_array_equal(lev.run.forecast, base.run.forecast)
        assert len(lev.run.rounds) == len(base.run.rounds)


@pytest.mark.parametrize("model", ITERATIVE)
def test_no_stop_before_the_last_lever(scn, model):
    limit = 40
    base = _run(scn, model, rounds=limit)
    stops = [_stop_round(r.run) for r in base]
    if all(s >= limit - 2 for s in stops):
        # the exchange model has no stopping rule (decide has none): it always runs to
        # the limit, so no lever can be cut off; nothing else to check
        assert model == "exchange", f"{model} never stopped early on the contract scenario"
        assert all(r.run.stop == "max_rounds" for r in base)
        return
    at = min(stops) + 2  # after the baseline stopped (on one issue at least)
    for r in _run(scn, model, _lever(scn, at), rounds=limit):
        assert _stop_round(r.run) > at, (model, r.run.stop, _stop_round(r.run))


@pytest.mark.parametrize("model", [m for m in ALL if m not in ROUNDS_OPTION])
def test_closed_form_models_apply_every_lever_as_an_edit_of_the_inputs(scn, model):
    # no rounds, no limit: a lever at any round applies, as the same change made to the
    # scenario would
    edited = scn.model_copy(deep=True)
    edited.entry("a", "x").position.value = 7.9
    edited.entry("a", "y").position.value = 96
    for lev, ed in zip(_run(scn, model, _lever(scn, 40)), _run(edited, model)):
        assert "levers_not_applied" not in lev.run.info
        np.testing.assert_array_equal(lev.run.forecast, ed.run.forecast)


# ------------------------------------------------------------------ batches


def _ensemble(scn, model, backend: str, ivs):
    space = input_space(scn)
    ens = Ensemble(space, [model], ivs, rounds=ROUNDS, backend=get_backend(backend))
    return space, ens


@pytest.mark.parametrize("model", ALL)
def test_batch_of_one_equals_its_member_in_a_batch(scn, model):
    ivs = [baseline(), _lever(scn, 2)]
    space, ens = _ensemble(scn, model, "numpy", ivs)
    nominal = space.nominal[None, :]
    batch = np.vstack([space.draw(7, 0, 2), nominal, space.draw(7, 2, 3)])
    one = ens.evaluate(nominal).forecasts
    many = ens.evaluate(batch, members=[0, 1, 0, 2]).forecasts
    assert one and one.keys() == many.keys()
    runs = {(r.intervention.label, iss): r.run.forecast[d]
            for r in run_scenario(scn, [model], interventions=ivs, rounds=ROUNDS)
            for d, iss in enumerate(r.run.issue_ids)}
    for (m, label, iss, _wo), values in one.items():
        # the single run, the batch of one and member 2 of the batch agree
        assert values[0] == pytest.approx(runs[(label, iss)], abs=1e-9), (label, iss)
        assert many[(m, label, iss, _wo)][2] == pytest.approx(values[0], abs=1e-12)


# Models the ensemble runs member by member through the model itself have no JAX path.
@pytest.mark.parametrize("model", [m for m in ALL if m in BATCHED])
def test_numpy_equals_jax(scn, model):
    if not jax_available():
        pytest.skip("JAX is not installed (pip install 'stakes[jax]')")
    ivs = [baseline(), _lever(scn, 2)]
    space, ens_np = _ensemble(scn, model, "numpy", ivs)
    _, ens_jax = _ensemble(scn, model, "jax", ivs)
    values = np.vstack([space.nominal[None, :], space.draw(11, 0, 5)])
    a, b = ens_np.evaluate(values).forecasts, ens_jax.evaluate(values).forecasts
    assert a.keys() == b.keys()
    for key in a:
        # the tolerance docs/ensembles.md states for inputs without near-coinciding actors
        np.testing.assert_allclose(b[key], a[key], rtol=0, atol=1e-9, err_msg=str(key))


# ------------------------------------------------------------------ actors and scales


def _permuted(scn):
    order = [4, 2, 0, 3, 1]
    return scn.model_copy(update={
        "actors": [scn.actors[k] for k in order],
        "entries": sorted(scn.entries, key=lambda e: ([a.id for a in scn.actors].index(
            e.actor) * 7 + 3) % 5),
    })


# Agreement expected after a permutation, as a share of each issue's scale width: the
# arithmetic sums in another order (1e-12), except where a model solves numerically.
PERMUTATION_TOL = {
    # SLSQP with ftol 1e-14 on the Nash product: the maximiser itself is found to about
    # the square root of that, so another actor order lands elsewhere within ~1e-7
    "nbs-joint": 1e-6,
}


@pytest.mark.parametrize("model", ALL)
def test_permuting_actors_permutes_the_result(scn, model):
    iv = _lever(scn, 2)
    width = {i.id: i.scale.max - i.scale.min for i in scn.issues}
    for a, b in zip(_run(scn, model, iv), _run(_permuted(scn), model, iv)):
        tol = PERMUTATION_TOL.get(model, 1e-12) * np.array([width[i] for i in a.run.issue_ids])
        assert np.all(np.abs(b.run.forecast - a.run.forecast) <= tol), (
            a.run.forecast, b.run.forecast)
        last_a, last_b = _state(a.run.rounds[-1]), _state(b.run.rounds[-1])
        assert last_a.keys() == last_b.keys()
        assert list(b.run.rounds[0].actor_ids) != list(a.run.rounds[0].actor_ids)
        for k in last_a:
            assert np.all(np.abs(last_b[k] - last_a[k]) <= tol), (k, last_a[k], last_b[k])


@pytest.mark.parametrize("model", ALL)
def test_positions_stay_on_the_scale(scn, model):
    scale = {i.id: (i.scale.min, i.scale.max) for i in scn.issues}
    for r in [*_run(scn, model), *_run(scn, model, _lever(scn, 1))]:
        lo = np.array([scale[i][0] for i in r.run.issue_ids])
        hi = np.array([scale[i][1] for i in r.run.issue_ids])
        for rec in r.run.rounds:
            pos = np.asarray(rec.position, dtype=float)
            ok = np.isnan(pos) | ((pos >= lo) & (pos <= hi))
            assert ok.all(), (model, rec.round, pos)
        assert np.all((r.run.forecast >= lo) & (r.run.forecast <= hi)), model


# ------------------------------------------------------------------ bad inputs


def _line(text: str) -> int:
    return 1 + SCENARIO.splitlines().index(text)


@pytest.mark.parametrize("model", ALL)
@pytest.mark.parametrize("actor, issue, field, value, line, message", [
    ("c", "y", "salience", 1.5, "- {actor: c, issue: y, position: 71, salience: 0.66}",
     "actor 'c', issue 'y': salience 1.5 lies outside [0, 1] (changed after the file was "
     "read; it gives 0.66)"),
    ("d", "x", "position", 1e9, "- {actor: d, issue: x, position: 6.1, salience: 0.53}",
     "actor 'd', issue 'x': position 1e+09 lies outside the issue's scale [0, 10]"),
    ("b", "x", "capability", float("inf"), "- {id: b, name: B, capability: 1.7}",
     "actor 'b', issue 'x': capability inf is not finite"),
])
def test_bad_input_refused_with_a_located_message(scn, model, actor, issue, field, value,
                                                  line, message):
    edited = scn.model_copy(deep=True)
    # changed in Python, as the tutorial teaches (no check runs on assignment)
    if field == "capability":
        edited.actor(actor).capability.value = value
    else:
        getattr(edited.entry(actor, issue), field).value = value
    with pytest.raises(InputError) as exc:
        _run(edited, model)
    text = "\n".join(exc.value.lines())
    assert f"{FILE}:{_line(line)}:" in text, text
    assert message in text, text


@pytest.mark.parametrize("model", [m for m in ALL if m in BATCHED])
def test_ensembles_refuse_bad_input_too(scn, model):
    # the batched kernels never build a model input: the input space checks the values
    edited = scn.model_copy(deep=True)
    edited.entry("c", "y").salience.value = 1.5
    with pytest.raises(InputError) as exc:
        _ensemble(edited, model, "numpy", [baseline()])
    assert f"{FILE}:{_line('- {actor: c, issue: y, position: 71, salience: 0.66}')}:" in str(
        exc.value)
