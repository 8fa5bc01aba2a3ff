"""spec §6: the DEU III extract's counts and baseline MAEs, to ±0.01."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from stakes.backtest.deu3 import ACTOR_IDS, capability_vector, read_deu3
from stakes.backtest.runner import BASELINES, run_backtest

pytestmark = pytest.mark.golden

DEU3 = (Path(__file__).resolve().parents[2] / ".." / "shared" / "reference"
        / "blksv-predictioneers-game" / "deu3.csv").resolve()


@pytest.fixture(scope="module")
def data():
    if not DEU3.exists():
        pytest.skip(f"DEU III extract not available: {DEU3} (needs ../shared/reference beside "
                    "the repository)")
    return read_deu3(DEU3)


@pytest.fixture(scope="module")
def run(data):
    return run_backtest(data, BASELINES, ["equal", "gdp"], jobs=1)


def test_counts(data):
    scored = data.scored()
    assert len(data.issues) == 364
    assert len(scored) == 353
    assert sum(i.has_reference for i in scored) == 253
    assert Counter(i.procedure for i in scored) == {"COD": 205, "CNS": 148}
    assert Counter(i.rule for i in scored) == {"QMV": 279, "Unan": 72, "QMV(10)": 2}
    pos = np.array([i.position for i in scored])
    sal = np.array([i.salience for i in scored])
    assert (~np.isnan(pos)).sum() == 6951
    assert (~np.isnan(pos) & np.isnan(sal)).sum() == 54
    assert data.gdp[ACTOR_IDS.index("com")] == 4.1 == data.gdp[ACTOR_IDS.index("de")]


@pytest.mark.parametrize("label, cap, n, mae", [
    ("compromise", "equal", 353, 23.68),  # salience-weighted mean, equal capability
    ("compromise", "gdp", 353, 23.22),  # GDP x salience-weighted mean
    ("mean", "-", 353, 23.71),  # unweighted mean
    ("median", "equal", 353, 28.36),  # salience-weighted median, lower
    ("status-quo", "-", 253, 51.11),  # reference point
])
def test_baseline_mae(run, label, cap, n, mae):
    s = run.score(label, cap)
    assert s.n == n
    assert s.mae == pytest.approx(mae, abs=0.01)


def test_dates_decode_consistently(data):
    """The date reading that the QMV option relies on agrees with the file's own codes."""
    for iss in data.issues:
        assert iss.intro is not None
        year = int(iss.proposal[1:3])
        coded = 1900 + year if year >= 90 else 2000 + year
        assert abs(iss.intro.year - coded) <= 1
        if iss.final is not None:
            assert iss.final >= iss.intro
    assert sum(i.intro.year == int(i.proposal[1:3]) % 100 + 2000 or
               i.intro.year == int(i.proposal[1:3]) + 1900 for i in data.issues) >= 360


def test_every_position_has_a_council_vote_on_the_decision_date(data):
    members = slice(2, None)
    for iss in data.scored():
        q = capability_vector(data, iss, "qmv")
        has = ~np.isnan(iss.position[members])
        assert (q[members][has] > 0).all(), iss.issue_id
    first = min(i.decision_date for i in data.scored())
    assert first >= dt.date(1996, 1, 1)
