"""The tables in docs/backtest.md are what the documented command prints.

The full command runs every model (minutes); this test reruns the part of it that is
cheap and does not depend on the slow models: the baselines, the EUM and the learned
compromise ("influence"), whose accuracy, distributions, PIT and comparisons are
computed row by row, independently of the other models.  Every such row of the docs
must equal the command's row; a stale table fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from stakes.backtest.docs import holdout_markdown, markdown_tables, read_block
from stakes.cli.main import app

REPO = Path(__file__).resolve().parents[2]
DEU3 = (REPO / ".." / "shared" / "reference" / "blksv-predictioneers-game" / "deu3.csv").resolve()
PAGE = REPO / "docs" / "backtest.md"
COMMAND = ("stakes backtest deu3 ../shared/reference/blksv-predictioneers-game/deu3.csv "
           "--holdout preregistered/deu3-holdout.json --into docs/backtest.md")
CHEAP = {"status-quo", "mean", "compromise", "median", "eum", "influence"}


def _cheap(name: str) -> bool:
    return name.replace("\\|", "|").split("|")[0] in CHEAP


def test_the_docs_name_the_command():
    assert f"    {COMMAND}\n" in PAGE.read_text(encoding="utf-8")


def test_docs_tables_equal_the_command_output():
    if not DEU3.exists():
        pytest.skip(f"DEU III extract not available: {DEU3} (needs ../shared/reference beside "
                    "the repository)")
    res = CliRunner().invoke(app, ["backtest", "deu3", str(DEU3), "--model", "eum",
                                   "--holdout", str(REPO / "preregistered/deu3-holdout.json"),
                                   "--format", "markdown", "--no-progress"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    ours = markdown_tables(res.stdout)
    docs = markdown_tables(read_block(PAGE))
    assert list(ours) == list(docs), "the docs' tables are not the command's tables"
    checked = 0
    for head, rows in ours.items():
        key_cols = 3 if head.startswith("| forecast | measure |") else 2
        doc_rows = {tuple(r[:key_cols]): r for r in docs[head]}
        for r in rows:
            if not (_cheap(r[0]) and (key_cols < 3 or _cheap(r[2].split(" ")[0]))):
                continue
            if head.startswith("| combination |") and r[0] != "influence":
                continue
            key = tuple(r[:key_cols])
            assert key in doc_rows, f"row {key} missing from docs/backtest.md"
            # The Bonferroni column depends on how many comparisons the run made.
            n = 6 if key_cols == 3 else len(r)
            assert doc_rows[key][:n] == r[:n], (
                f"docs/backtest.md is stale in {head}: row {key}\n docs: {doc_rows[key]}\n"
                f" now:  {r}\nregenerate with: {COMMAND}")
            checked += 1
    # Accuracy (4 baselines and the EUM under 4 capabilities: 14 rows), the influence
    # stack (1), distributions and PIT (6 each), comparisons (14 absolute-error rows, 17
    # score rows): every one of them was compared.
    assert checked == 14 + 1 + 6 + 6 + 14 + 17, checked


def test_docs_show_the_latest_held_out_results():
    # The committed results file is the record; the page must show its latest version.
    table = holdout_markdown(REPO / "preregistered" / "deu3-holdout-results.jsonl")
    text = PAGE.read_text(encoding="utf-8")
    assert "    stakes backtest holdout --show\n" in text
    assert table in text, "docs/backtest.md does not show the latest held-out results; " \
        "paste the output of: stakes backtest holdout --show"
