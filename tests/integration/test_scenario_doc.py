"""The flagship scenario's page restates its file: the generated blocks must match.

The tables of ``docs/scenarios/us-israel-palestine-2023.md`` (actors, issues,
entries with their bases, levers, plans and the lever results) are generated
from the packaged scenario by :mod:`stakes.report.scenario_doc`; an edit to the
scenario without regenerating the page fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stakes.api import load
from stakes.errors import InputError
from stakes.report import scenario_doc as sd
from stakes.scenario.schema import Scenario

NAME = "us-israel-palestine-2023"
PAGE = Path(__file__).resolve().parents[2] / "docs" / "scenarios" / f"{NAME}.md"
COMMAND = f"python -m stakes.report.scenario_doc {NAME} docs/scenarios/{NAME}.md"


def _blocks(page: str) -> dict[str, str]:
    out = {}
    for name in sd.block_names(page):
        start = page.index(f"<!-- generated:start {name} -->")
        end = page.index(f"<!-- generated:end {name} -->")
        out[name] = page[start:end]
    return out


@pytest.fixture(scope="module")
def scn() -> Scenario:
    return load(NAME)


@pytest.fixture(scope="module")
def committed() -> str:
    if not PAGE.is_file():
        pytest.skip(f"scenario page not found at {PAGE} (docs are not part of an installed package)")
    return PAGE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def regenerated(scn: Scenario, committed: str) -> str:
    # The results block runs the engine on every lever and plan: done once for all tests.
    return sd.regenerate(scn, committed)


def test_page_has_every_block(committed: str) -> None:
    assert sd.block_names(committed) == BLOCKS


BLOCKS = ["dated", "summary", "sources", "bases", "actors", "issues", "channels", "levers",
          "plans", "expectations", "results", "findings", "tipping"]


@pytest.mark.parametrize("name", BLOCKS)
def test_block_matches_scenario(name: str, committed: str, regenerated: str) -> None:
    assert _blocks(regenerated)[name] == _blocks(committed)[name], (
        f"the '{name}' block of {PAGE.name} is out of date with the scenario; "
        f"regenerate the page with: {COMMAND}")


def test_page_matches_scenario(committed: str, regenerated: str) -> None:
    assert regenerated == committed, (
        f"{PAGE.name} is out of date with the scenario; regenerate it with: {COMMAND}")


def test_a_changed_value_changes_the_page(scn: Scenario, committed: str) -> None:
    entry = scn.entries[0]
    moved = entry.model_copy(update={
        "position": entry.position.model_copy(update={"value": entry.position.value + 1})})
    changed = scn.model_copy(update={"entries": [moved, *scn.entries[1:]]})
    page = sd.update_page(committed, {"issues": sd.issues_block(changed)})
    assert page != committed
    # Only the generated block changes; the hand-written prose is kept.
    before, after = committed.split("\n"), page.split("\n")
    assert [ln for ln in before if not ln.startswith("|")] == \
        [ln for ln in after if not ln.startswith("|")]


def test_check_mode_reports_the_command(tmp_path: Path, scn: Scenario, capsys) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n\nProse.\n\n<!-- generated:start plans -->\nstale\n"
                    "<!-- generated:end plans -->\n\nMore prose.\n", encoding="utf-8")
    assert sd.main([NAME, str(page), "--check"]) == 1
    assert "python -m stakes.report.scenario_doc" in capsys.readouterr().err
    assert sd.main([NAME, str(page)]) == 0
    text = page.read_text(encoding="utf-8")
    assert "stale" not in text and "`allison_sequence`" in text
    assert text.startswith("# Title\n\nProse.\n\n") and text.endswith("\n\nMore prose.\n")
    assert sd.main([NAME, str(page), "--check"]) == 0


@pytest.mark.parametrize("page", [
    "<!-- generated:start plans -->\nx\n",
    "x\n<!-- generated:end plans -->\n",
    "<!-- generated:start plans -->\n<!-- generated:start levers -->\n"
    "<!-- generated:end levers -->\n<!-- generated:end plans -->\n",
    "<!-- generated:start nonsense -->\n<!-- generated:end nonsense -->\n",
])
def test_bad_markers_are_refused(page: str) -> None:
    with pytest.raises(InputError):
        sd.block_names(page)
