"""``stakes run --calibrated``: one interval column from the error models fitted on DEU III."""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner

from stakes.backtest.distribution import load_calibration
from stakes.cli.main import app

runner = CliRunner()


def test_calibrated_column_matches_the_sealed_interval(tmp_path):
    store, ledger = tmp_path / "store", tmp_path / "l.jsonl"
    res = runner.invoke(app, ["run", "ec-emissions", "--no-levers", "--calibrated", "--store",
                              str(store), "-o", str(tmp_path / "t.txt")],
                        catch_exceptions=False)
    assert res.exit_code == 0, res.output
    text = (tmp_path / "t.txt").read_text()
    assert "80% interval*" in text and "calibrated" not in text.split("80% interval*")[0]
    assert "EU legislative bargaining" in text
    rows = {m.group(1): (float(m.group(2)), float(m.group(3)), float(m.group(4)))
            for m in re.finditer(r"│ (\w+)\s+│\s+([\d.]+) │\s+([\d.]+)–([\d.]+) │", text)}
    assert set(rows) == {"eum", "compromise", "median"}
    for point, lo, hi in rows.values():
        assert 4 <= lo <= point <= hi <= 10  # the scale is 4–10
    rid = re.search(r"recorded run (\w+)", res.output).group(1)
    assert runner.invoke(app, ["seal", rid, "--store", str(store), "-l", str(ledger)]
                         ).exit_code == 0
    sealed = json.loads(ledger.read_text())
    for f in sealed["forecasts"]:
        assert tuple(f["interval80"]) == rows[f["model"]][1:]
    assert sealed["calibration"] == load_calibration()["calibrated_on"]


def test_packaged_calibration_names_what_it_was_fitted_on():
    calib = load_calibration()
    assert "EU legislative issues" in calib["calibrated_on"]
    assert "held-out issues left out" in calib["calibrated_on"]
    assert {"compromise", "eum", "median", "smp", "exchange"} <= set(calib["models"])
    for em in calib["models"].values():
        assert dict(em["nominal"]).keys() == {0.5, 0.8, 0.9}
