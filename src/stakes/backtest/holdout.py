"""The pre-registered held-out set: read it, score on it once per model version, append.

The set is fixed by a committed file (``preregistered/deu3-holdout.json``) made
before any new model was fitted.  ``stakes backtest holdout`` fits the combinations
and the error models on the other issues, scores every forecast on the held-out
issues, and appends one line per forecast to a results file; a forecast already
scored under the same model version is refused, and nothing is ever rewritten.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError, Problem


def read_holdout(path: str | Path) -> frozenset[str]:
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(Problem("no such file", file=str(p))) from None
    except ValueError as exc:
        raise InputError(Problem(f"not JSON: {exc}", file=str(p))) from None
    ids = doc.get("issues") if isinstance(doc, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise InputError(Problem("expected an object with an 'issues' list of issue ids",
                                 file=str(p), field="issues"))
    return frozenset(ids)
