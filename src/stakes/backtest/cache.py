"""On-disk cache of per-issue model forecasts, keyed by everything that can change them.

A backtest spends nearly all its time in model runs whose results depend only on the
model code, the data file, the model, its options, the capability option, the
institutions option and the seed.  The key hashes all of these; the code part is a
fingerprint of the package's source files except those that only present, store or
combine forecasts, so that a change to a model (or to how the runner builds its
problems) invalidates every cached forecast, and a change to a report does not.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

# Source that cannot change a model's forecast of an issue (relative to src/stakes).
_PRESENTATION = ("cli/", "web/", "report/", "store/", "ledger/", "readers/",
                 "backtest/report.py", "backtest/stacking.py", "backtest/metrics.py",
                 "backtest/cache.py", "backtest/distribution.py", "backtest/compare.py",
                 "backtest/calibration.py", "backtest/docs.py", "backtest/holdout.py",
                 "backtest/__init__.py")


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """sha256 over the package source files that can change a forecast."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if not p.is_file() or p.suffix not in (".py", ".csv") or "__pycache__" in rel:
            continue
        if rel.startswith(_PRESENTATION):
            continue
        h.update(rel.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def file_hash(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class ForecastCache:
    """One JSON file per (model, options, capability, institutions, seed, data, code).

    Each file maps a group of issues (one issue, or a proposal's issues) to the
    forecasts the model gave them, or to the reason it gave none.  Writes go
    through a temporary file and a rename, so an interrupted run leaves either
    the old file or the new one.
    """

    def __init__(self, folder: str | os.PathLike, data_hash: str):
        self.folder = Path(folder)
        self.data_hash = data_hash

    def _path(self, parts: dict[str, Any]) -> Path:
        key = json.dumps({**parts, "data": self.data_hash, "code": code_fingerprint()},
                         sort_keys=True, default=str)
        return self.folder / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"

    def load(self, parts: dict[str, Any]) -> dict[str, Any]:
        p = self._path(parts)
        if not p.exists():
            return {}
        try:
            return json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # a damaged cache file is recomputed, never trusted

    def save(self, parts: dict[str, Any], groups: dict[str, Any]) -> None:
        from ..scenario.yaml_io import write_atomic

        self.folder.mkdir(parents=True, exist_ok=True)
        merged = {**self.load(parts), **groups}
        write_atomic(self._path(parts), json.dumps(merged, sort_keys=True))
