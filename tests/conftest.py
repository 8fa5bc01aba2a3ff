from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REFERENCE = SHARED / "reference"
SEEDS = SHARED / "seeds"


def reference_file(*parts: str) -> Path:
    """A file under ../shared/reference, or skip the test with the reason."""
    path = REFERENCE.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference data not available: {path} (clone with ../shared beside the repo)")
    return path


@pytest.fixture
def ec_scenario():
    from stakes.api import load

    return load("ec-emissions")


@pytest.fixture(autouse=True)
def _private_run_store(tmp_path_factory, monkeypatch):
    """Runs recorded by tests go to a throw-away store, never the user's."""
    monkeypatch.setenv("STAKES_STORE", str(tmp_path_factory.mktemp("store") / "runs.duckdb"))
