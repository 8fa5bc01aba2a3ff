"""Backtest machinery on small synthetic data with known answers."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stakes.backtest.deu3 import (ACTOR_IDS, COLUMNS, MEMBER_IDS, capability_vector,
                                  council_table, issue_problem, joint_problem, parse_date,
                                  read_deu3)
from stakes.backtest.metrics import interval_score, score
from stakes.backtest.runner import BASELINES, Forecaster, forecasters_for, run_backtest
from stakes.backtest.stacking import (conformal_quantile, cross_validated_stack, fit_weights,
                                      grouped_folds)
from stakes.errors import InputError, OptionError


# --- a synthetic file in the DEU III extract layout ---------------------------------------

def deu3_text(issues: list[dict], gdp: dict[str, float] | None = None) -> str:
    gdp = gdp or {}
    lines = ["\t".join(f'"{c}"' for c in COLUMNS)]
    row2 = {f"p{a}": f'"{gdp.get(a, 1.0)}"' for a in ACTOR_IDS}
    lines.append("\t".join(row2.get(c, "") for c in COLUMNS))
    for k, iss in enumerate(issues, start=1):
        cells = {
            "prnrnmc": "1", "isnrnmc": str(k), "prnr": f'"{iss["prnr"]}"',
            "prname": '"synthetic"', "isnr": f'"{iss["isnr"]}"', "type": '"Reg"',
            "council": '"Agri"', "proc": f'"{iss.get("proc", "COD")}"',
            "counvte": f'"{iss.get("rule", "QMV")}"', "proccde": "3", "issues": "2",
            "intro": f'"{iss.get("intro", "26-01-00")}"', "finact": iss.get("finact", "999"),
            "rp": _num(iss.get("rp")), "out": _num(iss.get("out")),
        }
        for a in ACTOR_IDS:
            cells[f"p{a}"] = _num(iss.get("pos", {}).get(a))
            cells[f"s{a}"] = _num(iss.get("sal", {}).get(a))
        cells.update(iss.get("raw", {}))
        lines.append("\t".join(cells.get(c, "") for c in COLUMNS))
    return "\n".join(lines) + "\n"


def _num(v) -> str:
    return "" if v is None else f"{v:g}" if isinstance(v, (int, float)) else str(v)


def write(tmp_path: Path, issues: list[dict], **kw) -> Path:
    p = tmp_path / "deu3.csv"
    p.write_text(deu3_text(issues, **kw), encoding="utf-8")
    return p


THREE = [
    {"prnr": "d00001", "isnr": "d00001i1", "proc": "COD", "rp": 0, "out": 40,
     "pos": {"com": 100, "ep": 80, "de": 0, "fr": 50}, "sal": {"com": 50, "ep": 100, "de": 50}},
    {"prnr": "d00001", "isnr": "d00001i2", "proc": "COD", "out": 10,
     "pos": {"com": 0, "ep": 20, "de": 100, "fr": 0}, "sal": {"com": 100, "ep": 50, "de": 50,
                                                             "fr": 100}},
    {"prnr": "n00002", "isnr": "n00002i1", "proc": "CNS", "rule": "Unan", "rp": 100,
     "intro": "2017-10-07", "finact": "1930-05-09",
     "pos": {"com": 30, "de": 60, "pl": 90}, "sal": {"com": 40, "de": 80, "pl": 20}},
]


# --- dates ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("26-01-00", dt.date(2000, 1, 26)),
    ("13-03-96", dt.date(1996, 3, 13)),
    ("08-03-2016", dt.date(2016, 3, 8)),
    ("2017-10-07", dt.date(2007, 10, 17)),  # spreadsheet-mangled DD-MM-YY
    ("1930-05-01", dt.date(2001, 5, 30)),
    ("999", None),
    ("", None),
])
def test_parse_date(text, expected):
    assert parse_date(text) == expected


def test_parse_date_rejects_other_text():
    with pytest.raises(ValueError, match="DD-MM-YY"):
        parse_date("May 2001")


# --- reader --------------------------------------------------------------------------------

def test_reader_values(tmp_path):
    data = read_deu3(write(tmp_path, THREE, gdp={"de": 4.1}))
    assert [i.issue_id for i in data.issues] == ["d00001i1", "d00001i2", "n00002i1"]
    a = {x: k for k, x in enumerate(ACTOR_IDS)}
    i1, i2, i3 = data.issues
    assert i1.position[a["fr"]] == 50 and math.isnan(i1.salience[a["fr"]])
    assert math.isnan(i1.position[a["it"]])
    assert i1.reference == 0 and i1.outcome == 40 and math.isnan(i2.reference)
    assert i3.procedure == "CNS" and i3.rule == "Unan" and math.isnan(i3.outcome)
    assert i3.intro == dt.date(2007, 10, 17) and i3.final == dt.date(2009, 5, 30)
    assert i1.final is None and i1.decision_date == dt.date(2000, 1, 26)
    assert data.gdp[a["de"]] == 4.1
    assert [i.issue_id for i in data.scored()] == ["d00001i1", "d00001i2"]
    assert list(data.proposals()) == ["d00001", "n00002"]
    assert data.notes == ("1 positions without salience count with salience 0",)


def test_reader_reports_every_problem_with_line_and_column(tmp_path):
    bad = [dict(THREE[0]), dict(THREE[1]), dict(THREE[2])]
    bad[0] = {**bad[0], "raw": {"pde": "x"}}
    bad[1] = {**bad[1], "raw": {"out": "140", "intro": '"May 2001"'}}
    bad[2] = {**bad[2], "isnr": "d00001i1"}
    path = write(tmp_path, bad)
    with pytest.raises(InputError) as exc:
        read_deu3(path)
    lines = exc.value.lines()
    assert f"{path}:3: pde: 'x' is not a number" in lines
    assert f"{path}:4: out: 140 outside [0, 100]" in lines
    assert any(ln.startswith(f"{path}:4: intro: 'May 2001'") for ln in lines)
    assert f"{path}:5: isnr: issue 'd00001i1' repeats line 3" in lines
    assert len(lines) == 4


def test_reader_header_and_shape_errors(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text('"prnr"\t"isnr"\n\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"x.csv:1: missing column\(s\) prnrnmc, isnrnmc"):
        read_deu3(p)
    text = deu3_text(THREE).splitlines()
    text[2] = text[2] + "\textra"
    p.write_text("\n".join(text) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"x.csv:3: 76 fields, the header has 75"):
        read_deu3(p)
    with pytest.raises(InputError, match="no such file.*doi:10.34810/data53"):
        read_deu3(tmp_path / "absent.csv")


# --- capabilities ----------------------------------------------------------------------------

def test_council_table_totals():
    t = council_table()
    totals = [int(np.nansum(row)) for row in t.qmv]
    assert totals == [87, 124, 321, 345, 352]  # treaty totals of weighted votes
    assert t.qmv_from[0] == dt.date(1995, 1, 1)
    assert abs(np.nansum(t.population) - 100) < 0.05
    m = {a: k for k, a in enumerate(MEMBER_IDS)}
    w = t.weights_on(dt.date(2005, 6, 1))
    assert w[m["de"]] == 29 and w[m["pl"]] == 27 and w[m["mt"]] == 3 and np.isnan(w[m["ro"]])
    assert t.weights_on(dt.date(2004, 6, 1))[m["pl"]] == 8
    assert t.weights_on(dt.date(2013, 7, 1))[m["cr"]] == 7
    assert t.weights_on(dt.date(2016, 1, 1))[m["de"]] == pytest.approx(15.93)


def test_capability_options(tmp_path):
    data = read_deu3(write(tmp_path, THREE, gdp={"de": 4.1, "fr": 2.8}))
    i1, _, i3 = data.issues  # i1: COD, 2000 (EU15); i3: CNS, decided 2009 (Nice, EU27)
    a = {x: k for k, x in enumerate(ACTOR_IDS)}
    q1 = capability_vector(data, i1, "qmv")
    assert q1[a["de"]] == 10 and q1[a["lu"]] == 2 and q1[a["pl"]] == 0
    assert q1[a["com"]] == q1[a["ep"]] == 10
    q3 = capability_vector(data, i3, "qmv", "largest-cod")
    assert q3[a["pl"]] == 27 and q3[a["ro"]] == 14 and q3[a["com"]] == 29 and q3[a["ep"]] == 0
    assert capability_vector(data, i1, "qmv", "largest-cod")[a["ep"]] == 10
    assert capability_vector(data, i1, "qmv", "zero")[a["com"]] == 0
    assert capability_vector(data, i1, "qmv", "mean")[a["com"]] == pytest.approx(87 / 15)
    assert set(capability_vector(data, i1, "equal")) == {1.0}
    g = capability_vector(data, i1, "gdp")
    assert g[a["fr"]] == 2.8 and g[a["com"]] == 4.1
    p = capability_vector(data, i1, "population")
    assert p[a["de"]] == pytest.approx(15.93) and p[a["ep"]] == pytest.approx(15.93)
    with pytest.raises(OptionError, match="expected one of equal, qmv"):
        capability_vector(data, i1, "votes")


def test_problems_from_issues(tmp_path):
    data = read_deu3(write(tmp_path, THREE))
    i1, i2, _ = data.issues
    p = issue_problem(i1, capability_vector(data, i1, "equal"))
    assert p.actor_ids == ("com", "ep", "fr", "de")
    assert p.salience[:, 0].tolist() == [0.5, 1.0, 0.0, 0.5]  # no salience -> 0
    assert p.status_quo[0] == 0
    j = joint_problem([i1, i2], [capability_vector(data, i, "equal") for i in (i1, i2)])
    assert j.position.shape == (4, 2) and j.dims == 2
    assert np.isnan(j.status_quo[1])


# --- metrics ---------------------------------------------------------------------------------

def test_score_known_answer():
    s = score(np.array([10, 20, np.nan, 50]), np.array([0, 20, 5, 80]))
    assert (s.n, s.mae, s.median_ae, s.within10) == (3, pytest.approx(40 / 3), 10.0,
                                                       pytest.approx(2 / 3))
    i = interval_score(np.array([0, 30, 0]), np.array([10, 40, 100]), np.array([10, 29, 50]))
    assert i.n == 3 and i.coverage == pytest.approx(2 / 3) and i.mean_width == pytest.approx(40)


# --- folds, weights, conformal --------------------------------------------------------------

def test_grouped_folds_keep_groups_together_and_balance():
    groups = [f"p{k // 3}" for k in range(60)] + [f"q{k}" for k in range(15)]
    f = grouped_folds(groups, 5, seed=3)
    for g in set(groups):
        assert len({f[k] for k, x in enumerate(groups) if x == g}) == 1
    counts = np.bincount(f, minlength=5)
    assert counts.max() - counts.min() <= 3
    assert np.array_equal(f, grouped_folds(groups, 5, seed=3))
    with pytest.raises(OptionError, match="at least 2 folds"):
        grouped_folds(groups, 1)
    with pytest.raises(OptionError, match="only 2 groups"):
        grouped_folds(["a", "b"], 3)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 12), min_size=4, max_size=60), st.integers(2, 4),
       st.integers(0, 99))
def test_grouped_folds_never_split_a_group(labels, k, seed):
    groups = [f"g{x}" for x in labels]
    if len(set(groups)) < k:
        return
    f = grouped_folds(groups, k, seed)
    owner: dict[str, int] = {}
    for g, fold in zip(groups, f):
        assert owner.setdefault(g, fold) == fold
    assert set(f) <= set(range(k))


@pytest.mark.parametrize("loss", ["lad", "nnls"])
def test_fit_weights_recovers_a_convex_combination(loss):
    rng = np.random.default_rng(1)
    A = rng.uniform(0, 100, size=(80, 4))
    w = np.array([0.5, 0.0, 0.3, 0.2])
    got = fit_weights(A, A @ w, loss)
    assert got.sum() == pytest.approx(1) and (got >= 0).all()
    assert got == pytest.approx(w, abs=1e-5)


def test_fit_weights_lad_is_the_median_for_constants():
    # One input with constant value c, plus a constant-0 and a constant-100 input:
    # the absolute-error fit puts the stack at the median of y.
    y = np.array([0, 10, 20, 70, 100.0])
    A = np.column_stack([np.zeros(5), np.full(5, 100.0)])
    w = fit_weights(A, y, "lad")
    assert A[0] @ w == pytest.approx(20.0)


def test_conformal_quantile():
    assert conformal_quantile(np.arange(1, 10.0), 0.2) == 8.0  # ceil(10*0.8) = 8th
    assert conformal_quantile(np.arange(1, 4.0), 0.2) == math.inf  # too few scores


def _synthetic(n_groups=150, per=3, noise=10.0, seed=0):
    rng = np.random.default_rng(seed)
    n = n_groups * per
    a = rng.uniform(0, 100, n)
    b = rng.uniform(0, 100, n)
    c = rng.uniform(0, 100, n)
    y = 0.6 * a + 0.4 * b + rng.normal(0, noise, n)
    groups = [f"g{k // per}" for k in range(n)]
    return np.column_stack([a, b, c]), y, groups


def test_stack_recovers_weights_and_covers_out_of_fold():
    F, y, groups = _synthetic()
    folds = grouped_folds(groups, 10, seed=0)
    res = cross_validated_stack("s", F, ["a", "b", "c"], y, folds, alpha=0.2,
                                bounds=(-1e9, 1e9))
    assert res.weights["a"] == pytest.approx(0.6, abs=0.05)
    assert res.weights["b"] == pytest.approx(0.4, abs=0.05)
    # Gaussian noise with sd 10: the best possible MAE is 10·sqrt(2/pi) = 7.98.
    assert res.score.mae == pytest.approx(7.98, abs=0.8)
    assert 0.76 <= res.interval.coverage <= 0.84
    # 80% of |N(0, 10)| lies within 12.8: intervals about 25.6 wide.
    assert res.interval.mean_width == pytest.approx(25.6, rel=0.15)


def test_stack_never_uses_the_test_folds_outcomes():
    F, y, groups = _synthetic(n_groups=60)
    folds = grouped_folds(groups, 5, seed=0)
    base = cross_validated_stack("s", F, ["a", "b", "c"], y, folds)
    for k in range(5):
        y2 = y.copy()
        y2[folds == k] = np.random.default_rng(k).uniform(-500, 500, (folds == k).sum())
        other = cross_validated_stack("s", F, ["a", "b", "c"], y2, folds)
        test = folds == k
        assert np.array_equal(base.forecast[test], other.forecast[test])
        assert np.array_equal(base.lo[test], other.lo[test])
        assert np.array_equal(base.hi[test], other.hi[test])
        assert not np.array_equal(base.forecast[~test], other.forecast[~test])


def test_stack_handles_inputs_missing_on_some_issues():
    F, y, groups = _synthetic(n_groups=80)
    F = F.copy()
    F[::4, 1] = np.nan  # input b missing on a quarter of the issues
    folds = grouped_folds(groups, 5, seed=0)
    res = cross_validated_stack("s", F, ["a", "b", "c"], y, folds)
    assert not np.isnan(res.forecast).any()
    assert res.weights["a"] == pytest.approx(0.6, abs=0.08)


# --- the runner on a synthetic file ----------------------------------------------------------

def test_runner_known_forecasts(tmp_path):
    issues = THREE[:2] + [{**THREE[2], "out": 50}]
    data = read_deu3(write(tmp_path, issues))
    fcs = forecasters_for(["exchange"])
    run = run_backtest(data, fcs, ["equal", "qmv"], jobs=1)
    comp = run.forecasts[("compromise", "equal")]
    # issue 1: Σ s x / Σ s with s = .5, 1, 0, .5 over x = 100, 80, 50, 0
    assert comp[0] == pytest.approx((50 + 80 + 0) / 2.0)
    assert run.forecasts[("mean", "-")][0] == pytest.approx(57.5)
    sq = run.forecasts[("status-quo", "-")]
    assert sq[0] == 0 and np.isnan(sq[1]) and sq[2] == 100
    assert run.reasons[("status-quo", "-")]["no reference point (status quo)"] == 1
    ex = run.forecasts[("exchange", "equal")]
    assert not np.isnan(ex[:2]).any() and np.isnan(ex[2])  # n00002 has a single issue
    assert sum(run.reasons[("exchange", "equal")].values()) == 1
    # QMV in 2000: com/ep/de weigh 10 each, fr 10 (s = 0): same as equal on issue 1
    assert run.forecasts[("compromise", "qmv")][0] == pytest.approx(comp[0])
    assert run.score("compromise", "equal").n == 3


def test_runner_results_do_not_depend_on_processes(tmp_path):
    rng = np.random.default_rng(5)
    issues = []
    for k in range(12):
        pos = {a: float(rng.integers(0, 11) * 10) for a in ("com", "ep", "de", "fr", "it", "uk")}
        sal = {a: float(rng.integers(1, 11) * 10) for a in pos}
        issues.append({"prnr": f"d0000{k // 3}", "isnr": f"i{k}", "pos": pos, "sal": sal,
                       "out": float(rng.integers(0, 101)), "rp": 0})
    data = read_deu3(write(tmp_path, issues))
    fcs = list(BASELINES) + [Forecaster("eum", "eum")]
    one = run_backtest(data, fcs, ["equal"], jobs=1)
    two = run_backtest(data, fcs, ["equal"], jobs=2)
    for key in one.forecasts:
        assert np.array_equal(one.forecasts[key], two.forecasts[key], equal_nan=True)


def test_forecasters_validate_models_and_options():
    with pytest.raises(OptionError, match="unknown model 'nope'"):
        forecasters_for(["nope"])
    with pytest.raises(OptionError, match="eum.bogus: unknown option"):
        forecasters_for(["eum"], {"eum": {"bogus": 1}})
    labels = [f.label for f in forecasters_for(["eum", "compromise"],
                                               {"compromise": {"weights": "s"}})]
    assert labels == ["status-quo", "mean", "compromise", "median", "eum", "compromise*"]
    extra = forecasters_for([], {"median": {"median_tie": "midpoint"}})
    assert extra[-1].label == "median*" and extra[-1].option_dict == {"median_tie": "midpoint"}
