"""Basis kinds, per-basis uncertainty, decision arenas, bargaining channels, expectations,
the as-of notice and scenario diffs."""

from __future__ import annotations

import datetime as dt
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from stakes.analysis.uncertainty import input_space
from stakes.cli.main import app
from stakes.engine import interventions_for, run_scenario
from stakes.errors import InputError
from stakes.scenario.arrays import to_problem
from stakes.scenario.diff import changes, headline_moves
from stakes.scenario.review import (as_of_notice, evaluate, is_sentence, judge, review,
                                    run_expectations)
from stakes.scenario.schema import Expectation, Uncertainty
from stakes.scenario.yaml_io import loads_scenario

SENTENCE = "The actor said so in a speech that the source reports."

BASE = textwrap.dedent("""\
    stakes: 1
    metadata:
      name: test
      as_of: 2023-11-27
      sources:
        - {id: s1, title: An article}
    actors:
      - {id: a, name: A, capability: {value: 1, basis: {kind: judgment, rationale: "%(s)s"}}}
      - {id: b, name: B, capability: {value: 0.5, basis: {kind: judgment, rationale: "%(s)s"}}}
      - {id: c, name: C, capability: {value: 0.8, basis: {kind: judgment, rationale: "%(s)s"}}}
    issues:
      - id: x
        name: X
        status_quo: {value: 20, basis: {kind: evidence, source: s1, quote: "q", shows: conduct}}
      - id: y
        name: Y
        status_quo: {value: 50, basis: {kind: judgment, rationale: "%(s)s"}}
    entries:
      - {actor: a, issue: x, position: {value: 10, basis: {kind: evidence, source: s1,
         quote: "q", shows: statement}}, salience: 0.9}
      - {actor: b, issue: x, position: 90, salience: 0.4}
      - {actor: c, issue: x, position: 60, salience: 0.6}
      - {actor: a, issue: y, position: 80, salience: 0.1}
      - {actor: b, issue: y, position: 20, salience: 0.5}
      - {actor: c, issue: y, position: 40, salience: 0.4}
    levers:
      - id: push
        name: Push
        basis: {kind: evidence, source: s1, quote: "should push", shows: recommendation}
        effects:
          - {actor: b, issues: x, position: {set: 30}}
    """) % {"s": SENTENCE}


def load(extra: str = "", base: str = BASE):
    return loads_scenario(base + textwrap.dedent(extra), "t.yaml")


# -- basis kinds --------------------------------------------------------------


def test_recommendation_justifies_a_lever_not_a_position():
    load()  # a recommendation behind a lever is fine
    bad = BASE.replace('quote: "q", shows: statement', 'quote: "q", shows: recommendation')
    with pytest.raises(InputError) as exc:
        loads_scenario(bad, "t.yaml")
    (line,) = exc.value.lines()
    assert line.startswith("t.yaml:20:")
    assert "entries[0].position.basis.shows" in line and "recommendation" in line


def test_unknown_shows_is_a_located_error():
    bad = BASE.replace("shows: conduct", "shows: rumour")
    with pytest.raises(InputError) as exc:
        loads_scenario(bad, "t.yaml")
    assert any("issues[0].status_quo.basis" in ln for ln in exc.value.lines())


@pytest.mark.parametrize("text, ok", [
    ("Peripheral.", False),
    ("Peripheral to it", False),
    ("The US abstained on Resolution 2712 on 15 November 2023.", True),
    ("Six words but no final stop", False),
    ("Does the source say so at all?", True),
])
def test_rationale_must_be_a_sentence(text, ok):
    assert is_sentence(text) is ok


def test_review_lists_short_rationales_missing_bases_and_unlabelled_evidence():
    scn = load().model_copy()
    bad = BASE.replace(f'rationale: "{SENTENCE}"', 'rationale: "Weak."', 1)
    found = [str(f) for f in review(loads_scenario(bad))]
    assert any("actors[0].capability.basis.rationale" in f and "'Weak.'" in f for f in found)
    found = [str(f) for f in review(scn)]
    assert any(f.startswith("entries[1].position.basis:") for f in found)  # no basis
    assert not any("rationale" in f for f in found)
    unlabelled = BASE.replace(', shows: conduct', '')
    assert any("issues[0].status_quo.basis.shows" in str(f)
               for f in review(loads_scenario(unlabelled)))


# -- uncertainty by basis kind ----------------------------------------------


def test_default_spread_narrower_for_evidence_than_judgment():
    scn = load()
    space = input_space(scn)
    sd = {sl.name: sl.scale for sl in space.slots if sl.random}
    width = 100 * Uncertainty().position_sd
    assert sd["position[a, x]"] == pytest.approx(width)  # an actor's statement: x1
    assert sd["position[b, x]"] == pytest.approx(width)  # no basis: the plain default
    assert sd["capability[a]"] == pytest.approx(2 * 0.1 * 1.0)  # judgment: x2
    wider = scn.model_copy(update={"uncertainty": Uncertainty(by_basis={"statement": 3})})
    sd2 = {sl.name: sl.scale for sl in input_space(wider).slots if sl.random}
    assert sd2["position[a, x]"] == pytest.approx(3 * width)


def test_a_values_own_sd_wins_over_the_basis_default():
    scn = load().model_copy()
    e = scn.entries[0]
    scn.entries[0] = e.model_copy(update={"position": e.position.model_copy(update={"sd": 7.0})})
    slot = next(sl for sl in input_space(scn).slots if sl.name == "position[a, x]")
    assert slot.scale == 7.0


# -- decision arenas --------------------------------------------------------

ARENA = """\
    issues:
      - id: x
        name: X
        arena:
          authority: [{actor: a, basis: {kind: judgment, rationale: "%(s)s"}}]
          influence: [{actor: b, weight: 0.5, basis: {kind: judgment, rationale: "%(s)s"}}]
          others: 0.25
          basis: {kind: judgment, rationale: "%(s)s"}
      - {id: y, name: Y}
    """ % {"s": SENTENCE}


def _with_arena():
    head, _, rest = BASE.partition("issues:\n")
    _, _, entries = rest.partition("entries:\n")
    return loads_scenario(head + textwrap.dedent(ARENA) + "entries:\n" + entries)


def test_arena_weights_multiply_capabilities():
    scn = _with_arena()
    pb = to_problem(scn, ("x",))
    cap = dict(zip(pb.actor_ids, pb.capability[:, 0]))
    assert cap == pytest.approx({"a": 1.0, "b": 0.25, "c": 0.2})
    pb_y = to_problem(scn, ("y",))  # no arena there: unchanged
    assert dict(zip(pb_y.actor_ids, pb_y.capability[:, 0])) == pytest.approx(
        {"a": 1.0, "b": 0.5, "c": 0.8})


def test_ensembles_see_the_same_arena_capabilities():
    scn = _with_arena()
    space = input_space(scn)
    view = space.views["x"]
    _, c, _ = view.columns(space.nominal[None, :], ["a", "b", "c"])
    assert c[0] == pytest.approx([1.0, 0.25, 0.2])


@pytest.mark.parametrize("fragment, message", [
    ("influence: [{actor: b, weight: 0.5", "influence: [{actor: b, weight: 1.5"),
    ("influence: [{actor: b, weight: 0.5", "influence: [{actor: zz, weight: 0.5"),
    ("influence: [{actor: b, weight: 0.5", "influence: [{actor: a, weight: 0.5"),
])
def test_bad_arenas_are_refused(fragment, message):
    head, _, rest = BASE.partition("issues:\n")
    _, _, entries = rest.partition("entries:\n")
    text = head + textwrap.dedent(ARENA).replace(fragment, message) + "entries:\n" + entries
    with pytest.raises(InputError) as exc:
        loads_scenario(text, "t.yaml")
    assert all(ln.startswith("t.yaml:") and "issues[0].arena" in ln for ln in exc.value.lines())


# -- bargaining channels ----------------------------------------------------


def test_channel_rules_default_closed_then_open():
    scn = load("""\
        channels:
          default: closed
          open:
            - {between: [c], and: [a, b], basis: {kind: judgment, rationale: "%s"}}
        """ % SENTENCE)
    pb = to_problem(scn)
    m = pb.channels.mask(pb.actor_ids)
    assert m.tolist() == [[True, False, True], [False, True, True], [True, True, True]]


def _joint(scn, model):
    (res,) = run_scenario(scn, [model])
    return res.run


@pytest.mark.parametrize("model", ["exchange", "smp"])
def test_closed_channels_stop_all_bargaining(model):
    scn = load("channels: {default: closed}\n")
    run = _joint(scn, model)
    start, end = run.rounds[0].position, run.rounds[-1].position
    assert np.allclose(start, end)
    free = _joint(load(), model)
    assert not np.allclose(free.rounds[0].position, free.rounds[-1].position)


def test_exchange_never_pairs_actors_without_a_channel():
    free = _joint(load(), "exchange")
    pairs = {frozenset((e["x"]["actor"], e["y"]["actor"]))
             for rnd in free.info["realised"] for e in rnd}
    assert pairs  # without channels, some exchange happens
    shut = sorted(next(iter(pairs)))
    scn = load("channels:\n  closed: [{between: [%s], and: [%s]}]\n" % tuple(shut))
    run = _joint(scn, "exchange")
    seen = {frozenset((e["x"]["actor"], e["y"]["actor"])) for rnd in run.info["realised"]
            for e in rnd}
    assert frozenset(shut) not in seen


def test_scenario_without_channels_runs_as_before():
    scn = load()
    assert to_problem(scn).channels is None
    with_open = load("channels: {default: open}\n")
    for model in ("exchange", "smp"):
        assert np.array_equal(_joint(scn, model).forecast, _joint(with_open, model).forecast)


# -- expectations -----------------------------------------------------------


def test_expectations_are_judged_per_model():
    scn = load("""\
        expectations:
          - {id: low, issue: x, max: 20, reason: "Nobody wants it."}
          - {id: push_down, issue: x, lever: push, direction: down, by: 0.5, reason: "B moves."}
          - {id: y_mid, issue: y, min: 0, max: 100, reason: "Anything goes."}
        """)
    verdicts = run_expectations(scn, ["compromise", "median"])
    assert len(verdicts) == 6
    by = {(v.expectation.id, v.model): v for v in verdicts}
    comp = by[("low", "compromise")]
    assert comp.status == ("met" if comp.forecast <= 20 else "failed")
    assert comp.status == "failed"  # the weighted mean of 10, 90, 60 is far above 20
    assert by[("push_down", "compromise")].status == "met"
    assert by[("y_mid", "median")].status == "met"


@given(st.floats(0, 100), st.floats(0, 100), st.sampled_from(["up", "down", "none"]),
       st.floats(0, 10))
@settings(max_examples=200, deadline=None)
def test_judge_direction_matches_the_shift(forecast, baseline, direction, by):
    ex = Expectation(id="e", issue="x", lever="l", direction=direction, by=by, reason="r")
    status = judge(ex, forecast, baseline)
    shift = forecast - baseline
    expected = {"up": shift > by, "down": shift < -by, "none": abs(shift) <= by}[direction]
    assert status == ("met" if expected else "failed")


@given(st.floats(0, 100), st.floats(0, 30), st.floats(0, 100), st.floats(0, 30),
       st.sampled_from(["up", "down", "none", None]), st.floats(0, 10),
       st.one_of(st.none(), st.floats(0, 100)), st.one_of(st.none(), st.floats(0, 100)))
@settings(max_examples=300, deadline=None)
def test_judge_over_cycles_judges_every_round(f_lo, f_w, b_lo, b_w, direction, by, lo, hi):
    # A run ending in a cycle meets an expectation when every combination of its rounds
    # and the baseline's does, fails when none does, and is "cycling" otherwise; checked
    # against a fine grid over both ranges (ranges exactly at a bound included).
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    if direction is None and lo is None and hi is None:
        hi = 50.0
    ex = Expectation(id="e", issue="x", lever="l" if direction else None, direction=direction,
                     by=by if direction else 0.0, min=lo, max=hi, reason="r")
    fr, br = (f_lo, f_lo + f_w), (b_lo, b_lo + b_w)
    grid_f = np.unique(np.concatenate([np.linspace(*fr, 41), fr]))
    grid_b = np.unique(np.concatenate([np.linspace(*br, 41), br]))
    seen = {judge(ex, float(f), float(b)) for f in grid_f for b in grid_b}
    got = judge(ex, float(np.mean(fr)), float(np.mean(br)), fr, br)
    if seen == {"met"}:
        assert got == "met"
    elif seen == {"failed"}:
        # judged one bound at a time, a cycle may meet the forecast bound in some rounds and
        # the shift bound in others yet both in none
        assert got in ("failed", "cycling")
    else:
        assert got == "cycling"
    # a range of one value is judged as that value
    assert judge(ex, f_lo, b_lo, (f_lo, f_lo), (b_lo, b_lo)) == judge(ex, f_lo, b_lo)


@pytest.mark.parametrize("extra, field", [
    ("expectations: [{id: e, issue: nope, max: 1, reason: r}]\n", "expectations[0].issue"),
    ("expectations: [{id: e, issue: x, lever: nope, direction: up, reason: r}]\n",
     "expectations[0].lever"),
    ("expectations: [{id: e, issue: x, max: 500, reason: r}]\n", "expectations[0].max"),
    ("expectations: [{id: e, issue: x, direction: up, reason: r}]\n", "expectations[0]"),
    ("expectations: [{id: e, issue: x, min: 5, max: 1, reason: r}]\n", "expectations[0]"),
])
def test_bad_expectations_are_located(extra, field):
    with pytest.raises(InputError) as exc:
        load(extra)
    assert any(f"{field}:" in ln or f"{field}." in ln for ln in exc.value.lines()), \
        exc.value.lines()


def test_evaluate_marks_missing_models_not_run():
    scn = load("expectations: [{id: e, issue: x, max: 50, reason: r}]\n")
    res = run_scenario(scn, ["median"], interventions=interventions_for(scn))
    (v,) = evaluate(scn, res, ["eum"])
    assert v.status == "not run"


# -- as of ------------------------------------------------------------------


def test_as_of_notice_after_a_year():
    scn = load()
    assert as_of_notice(scn, dt.date(2024, 6, 1)) is None
    notice = as_of_notice(scn, dt.date(2026, 12, 5))
    assert notice.startswith("notice: ") and "2023-11-27" in notice and "3.0 years" in notice
    assert "\n" not in notice and len(notice) <= 100


def test_run_table_prints_the_notice():
    res = CliRunner().invoke(app, ["run", "--no-levers", "--no-save", "-m", "median"],
                             catch_exceptions=False)
    assert res.exit_code == 0
    today = dt.date.today()
    from stakes.api import load as load_packaged

    expect = as_of_notice(load_packaged(None), today)
    assert (expect is not None) == ("notice: as of 2023-11-27" in res.output)


# -- diff -------------------------------------------------------------------


def test_diff_lists_changed_values_with_bases_and_moves(tmp_path):
    old = load()
    new_text = BASE.replace("- {actor: b, issue: x, position: 90, salience: 0.4}",
                            "- {actor: b, issue: x, position: {value: 40, basis: {kind: judgment,"
                            f" rationale: \"{SENTENCE}\"}}}}, salience: 0.4}}")
    new = loads_scenario(new_text)
    ch = changes(old, new)
    assert [(c.what, c.old, c.new) for c in ch] == [("position of 'b' on 'x'", "90", "40")]
    assert ch[0].old_basis == "none" and ch[0].new_basis.startswith("judgment: The actor")
    moves = {(m.model, m.issue): m.shift for m in headline_moves(old, new, ["compromise"])}
    assert moves[("compromise", "x")] < 0 and moves[("compromise", "y")] == 0
    (tmp_path / "old.yaml").write_text(BASE)
    (tmp_path / "new.yaml").write_text(new_text)
    res = CliRunner().invoke(app, ["diff", str(tmp_path / "old.yaml"), str(tmp_path / "new.yaml"),
                                   "-m", "compromise"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "position of 'b' on 'x'" in res.output and "headline forecasts" in res.output


def test_check_command_exit_codes(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(BASE)
    res = CliRunner().invoke(app, ["check", str(path), "--no-run"], catch_exceptions=False)
    assert res.exit_code == 1 and "has no basis" in res.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE.replace("shows: statement", "shows: recommendation"))
    res = CliRunner().invoke(app, ["check", str(bad)], catch_exceptions=False)
    assert res.exit_code == 2 and "recommendation" in res.output


_ids = st.sampled_from(["a", "b", "c", "d", "e"])
_rule = st.fixed_dictionaries({"between": st.lists(_ids, min_size=1, max_size=3)},
                              optional={"and": st.lists(_ids, min_size=1, max_size=3)})


@given(st.sampled_from(["open", "closed"]), st.lists(_rule, max_size=3),
       st.lists(_rule, max_size=3), st.permutations(["a", "b", "c", "d", "e"]))
@settings(max_examples=150, deadline=None)
def test_channel_masks_are_symmetric_and_follow_the_rules(default, closed, opened, order):
    from stakes.models.base import ChannelMask
    from stakes.scenario.schema import Channels

    ch = Channels.model_validate({"default": default, "closed": closed, "open": opened})
    shut = ch.closed_pairs(order)
    m = ChannelMask(shut).mask(order)
    assert (m == m.T).all() and m.diagonal().all()
    opened_pairs = {frozenset(p) for r in ch.open for p in r.pairs()}
    for i, a in enumerate(order):
        for j, b in enumerate(order):
            if a == b:
                continue
            pair = frozenset((a, b))
            if pair in opened_pairs:
                assert m[i, j]  # open rules come last
            assert m[i, j] == (pair not in shut)


def test_run_reports_note_each_expectation():
    from stakes.report.build import build_report
    from stakes.results import to_document

    scn = load("expectations: [{id: low, issue: x, max: 20, reason: r}]\n")
    res = run_scenario(scn, ["compromise", "median"])
    rep = build_report(scn, to_document(scn, res),
                       header={"id": "r1", "created_at": "2026-12-05T08:00:00"})
    (note,) = [n for n in rep.notes if n.startswith("Expectation low")]
    assert "FAILED by compromise" in note
    assert "years ago" in rep.subtitle and "2023-11-27" in rep.subtitle


def test_bracketed_text_is_printed_as_written(tmp_path):
    text = BASE.replace(f'rationale: "{SENTENCE}"', 'rationale: "[bold]x[/bold] y"', 1)
    path = tmp_path / "s.yaml"
    path.write_text(text)
    res = CliRunner().invoke(app, ["check", str(path), "--no-run"], catch_exceptions=False)
    assert res.exit_code == 1 and "'[bold]x[/bold] y'" in res.output
    res = CliRunner().invoke(app, ["diff", str(path), str(path),
                                   "--no-run"], catch_exceptions=False)
    assert res.exit_code == 0
    other = tmp_path / "o.yaml"
    other.write_text(BASE)
    res = CliRunner().invoke(app, ["diff", str(other), str(path), "--no-run"],
                             catch_exceptions=False)
    assert res.exit_code == 0 and "[bold]x[/bold]" in res.output
