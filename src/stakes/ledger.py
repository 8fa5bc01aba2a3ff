"""A forecast ledger: forecasts sealed before their outcomes, graded after.

``stakes seal RUN`` appends one record per stored run to a JSON Lines file meant to be
committed to version control.  A record holds the run's settings (scenario content
hash, options, seed, stakes version), the sha256 of the run's forecast document, and
every baseline forecast: the point, and (by default) the predictive distribution
and 80% interval from the error models calibrated on DEU III.  Each record carries
``hash``, the sha256 of its own canonical JSON without that field, and ``prev``, the
hash of the record before it, so that changing, removing or reordering a sealed
record is detected.

``stakes grade LEDGER OUTCOMES`` scores the sealed forecasts against outcomes
recorded later (docs/ledger.md): absolute error, whether the 80% interval holds the
outcome, CRPS (Gneiting & Raftery 2007) and, for threshold questions, the Brier score
(Brier 1950).  It refuses a ledger in which any record's hash does not match.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import math
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .errors import InputError, OptionError, DiagnosticList

LEDGER_FORMAT = 1
OUTCOME_COLUMNS = ("scenario", "issue", "value", "date", "source")


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def digest(obj: Any) -> str:
    return hashlib.sha256(canonical(obj)).hexdigest()


def _r(x: float, nd: int = 6) -> float:
    return float(round(float(x), nd))


# --- sealing -----------------------------------------------------------------------------

def parse_question(text: str) -> dict[str, Any]:
    """``ISSUE>=X`` or ``ISSUE<=X``: will the outcome be at least (at most) X?"""
    for op in (">=", "<="):
        issue, sep, raw = text.partition(op)
        if sep:
            try:
                value = float(raw)
            except ValueError:
                break
            if issue.strip() and math.isfinite(value):
                return {"issue": issue.strip(), "op": op, "threshold": value}
    raise OptionError(f"--question {text!r}: expected ISSUE>=VALUE or ISSUE<=VALUE")


def _probability(values: np.ndarray, p: np.ndarray, op: str, x: float) -> float:
    hit = values >= x - 1e-9 if op == ">=" else values <= x + 1e-9
    return float(np.clip(p[hit].sum(), 0.0, 1.0))


def build_record(store: Any, ref: str, *, calibrated: bool = True,
                 questions: Iterable[str] = (), note: str | None = None,
                 now: dt.datetime | None = None) -> dict[str, Any]:
    """The record of a stored run (without ``prev`` and ``hash``)."""
    from .backtest.distribution import (load_calibration, scale_interval,
                                        scenario_issue_distribution)

    rec = store.get(ref, document=True)
    if rec.kind != "run" or rec.document is None:
        raise OptionError(f"run {rec.id}: only a complete `stakes run` can be sealed "
                          f"(this one is a {rec.kind}, {rec.status})")
    scn = store.scenario(rec.id)
    calib = load_calibration() if calibrated else None
    issues = {i.id: i for i in scn.issues}
    qs = [parse_question(q) for q in questions]
    for q in qs:
        if q["issue"] not in issues:
            raise OptionError(f"--question: no issue {q['issue']!r} in the scenario "
                              f"(issues: {', '.join(issues)})")
    forecasts, answers = [], []
    frame = store.forecasts(rec.id)
    for row in frame.itertuples(index=False):
        if row.intervention != "baseline" or row.forecast is None or \
                not math.isfinite(float(row.forecast)):
            continue
        point = float(row.forecast)
        issue = issues[row.issue]
        fc: dict[str, Any] = {"model": row.model, "issue": row.issue, "point": _r(point),
                              "scale": [issue.scale.min, issue.scale.max]}
        if calib is not None:
            values, p, em = scenario_issue_distribution(calib, scn, row.issue, row.model, point)
            lo, hi = scale_interval(values, p, em, 0.8)
            keep = p > 1e-7
            fc["interval80"] = [_r(lo), _r(hi)]
            fc["distribution"] = {"values": [_r(v) for v in values[keep]],
                                  "p": [_r(v, 7) for v in p[keep]]}
        else:
            values, p = np.array([point]), np.array([1.0])
        forecasts.append(fc)
        for q in qs:
            if q["issue"] == row.issue:
                answers.append({**q, "model": row.model,
                                "p": _r(_probability(values, p, q["op"], q["threshold"]))})
    if not forecasts:
        raise OptionError(f"run {rec.id}: no baseline forecast to seal")
    now = now or dt.datetime.now(dt.timezone.utc)
    return {
        "ledger": LEDGER_FORMAT,
        "sealed_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "run": rec.id,
        "stakes_version": rec.stakes_version,
        "scenario": {"name": rec.scenario_name, "hash": rec.scenario_hash},
        "models": rec.models, "options": rec.options, "seed": rec.seed, "rounds": rec.rounds,
        "document_sha256": digest(rec.document),
        "calibration": calib["calibrated_on"] if calib is not None else None,
        "forecasts": forecasts,
        "questions": answers,
        "note": note,
    }


def read_ledger(path: str | Path) -> list[dict[str, Any]]:
    """Every record, each checked against its hash and its predecessor's."""
    p = Path(path)
    if not p.exists():
        raise InputError("no such file", file=str(p))
    probs = DiagnosticList(str(p))
    out: list[dict[str, Any]] = []
    prev = None
    for k, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as exc:
            probs.add(f"not a JSON record: {exc}", line=k)
            continue
        if not isinstance(rec, dict) or "hash" not in rec:
            probs.add("not a ledger record (no hash)", line=k)
            continue
        body = {key: v for key, v in rec.items() if key != "hash"}
        try:
            ok = digest(body) == rec["hash"]
        except ValueError:
            ok = False
        if not ok:
            probs.add(f"record of run {rec.get('run')!r} sealed {rec.get('sealed_at')}: its "
                      "content does not match its hash (changed after sealing); refusing to "
                      "grade", line=k, field="hash")
        elif rec.get("prev") != prev:
            probs.add("the record before this one is not the one it was sealed after "
                      "(a record was removed, inserted or reordered)", line=k, field="prev")
        prev = rec.get("hash")
        rec["_line"] = k
        out.append(rec)
    probs.raise_if_any()
    return out


def seal(ledger: str | Path, record: dict[str, Any]) -> dict[str, Any]:
    """Append ``record`` to the ledger (created if absent), chained to its last record."""
    from .scenario.yaml_io import write_atomic

    p = Path(ledger)
    old = read_ledger(p) if p.exists() else []
    body = {**record, "prev": old[-1]["hash"] if old else None}
    sealed = {**body, "hash": digest(body)}
    text = p.read_text(encoding="utf-8") if p.exists() else ""
    if text and not text.endswith("\n"):
        text += "\n"
    write_atomic(p, text + canonical(sealed).decode("utf-8") + "\n")
    return sealed


# --- outcomes and grading ----------------------------------------------------------------

def read_outcomes(path: str | Path) -> list[dict[str, Any]]:
    """The outcome file: CSV with columns scenario, issue, value, date, source."""
    p = Path(path)
    if not p.exists():
        raise InputError("no such file", file=str(p))
    probs = DiagnosticList(str(p))
    with open(p, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise probs.fail("empty file; expected a header: " + ",".join(OUTCOME_COLUMNS), line=1)
    header = [h.strip() for h in rows[0]]
    missing = [c for c in OUTCOME_COLUMNS if c not in header]
    if missing:
        raise probs.fail(f"missing column(s) {', '.join(missing)} (expected "
                         f"{','.join(OUTCOME_COLUMNS)})", line=1)
    col = {c: header.index(c) for c in OUTCOME_COLUMNS}
    out = []
    for k, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            probs.add(f"{len(row)} fields, expected {len(header)}", line=k)
            continue
        cell = {c: row[col[c]].strip() for c in OUTCOME_COLUMNS}
        bad = False
        for c in ("scenario", "issue", "source"):
            if not cell[c]:
                probs.add("empty", line=k, column=col[c] + 1, field=c)
                bad = True
        try:
            value = float(cell["value"])
            if not math.isfinite(value):
                raise ValueError
        except ValueError:
            probs.add(f"{cell['value']!r} is not a number", line=k, column=col["value"] + 1,
                      field="value")
            bad = True
        try:
            date = dt.date.fromisoformat(cell["date"])
        except ValueError:
            probs.add(f"{cell['date']!r} is not a date (YYYY-MM-DD)", line=k,
                      column=col["date"] + 1, field="date")
            bad = True
        if not bad:
            out.append({"scenario": cell["scenario"], "issue": cell["issue"], "value": value,
                        "date": date, "source": cell["source"], "line": k})
    probs.raise_if_any()
    return out


def crps_discrete(values: np.ndarray, p: np.ndarray, y: float) -> float:
    """CRPS = E|X − y| − ½ E|X − X′| of a discrete distribution (Gneiting & Raftery 2007)."""
    values, p = np.asarray(values, dtype=float), np.asarray(p, dtype=float)
    p = p / p.sum()
    return float(p @ np.abs(values - y) - 0.5 * p @ np.abs(values[:, None] - values) @ p)


def _matches(rec: dict[str, Any], key: str) -> bool:
    return key == rec["scenario"]["name"] or (len(key) >= 8 and
                                              rec["scenario"]["hash"].startswith(key))


def grade(records: list[dict[str, Any]], outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    """Score every sealed forecast that has an outcome; flag outcomes dated before sealing."""
    rows, briers = [], []
    for rec in records:
        sealed = dt.date.fromisoformat(rec["sealed_at"][:10])
        for o in outcomes:
            if not _matches(rec, o["scenario"]):
                continue
            late = o["date"] < sealed  # the outcome was known before the forecast was sealed
            for fc in rec["forecasts"]:
                if fc["issue"] != o["issue"]:
                    continue
                y = o["value"]
                row = {"record": rec["hash"][:12], "run": rec["run"], "sealed_at":
                       rec["sealed_at"], "model": fc["model"], "issue": fc["issue"],
                       "point": fc["point"], "outcome": y, "date": o["date"].isoformat(),
                       "source": o["source"], "abs_error": abs(fc["point"] - y), "late": late}
                if "distribution" in fc:
                    d = fc["distribution"]
                    row["crps"] = crps_discrete(np.array(d["values"]), np.array(d["p"]), y)
                    lo, hi = fc["interval80"]
                    row["hit80"] = bool(lo <= y <= hi)
                else:
                    row["crps"] = abs(fc["point"] - y)  # a point forecast's CRPS
                    row["hit80"] = None
                rows.append(row)
            for q in rec.get("questions", []):
                if q["issue"] != o["issue"]:
                    continue
                happened = o["value"] >= q["threshold"] if q["op"] == ">=" else \
                    o["value"] <= q["threshold"]
                briers.append({"record": rec["hash"][:12], "model": q["model"],
                               "question": f"{q['issue']}{q['op']}{q['threshold']:g}",
                               "p": q["p"], "happened": bool(happened),
                               "brier": (q["p"] - float(happened)) ** 2, "late": late})
    summary = {}
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == model and not r["late"]]
        hits = [r["hit80"] for r in mine if r["hit80"] is not None]
        bs = [b["brier"] for b in briers if b["model"] == model and not b["late"]]
        summary[model] = {
            "n": len(mine),
            "mae": float(np.mean([r["abs_error"] for r in mine])) if mine else None,
            "crps": float(np.mean([r["crps"] for r in mine])) if mine else None,
            "hit80": float(np.mean(hits)) if hits else None, "n_intervals": len(hits),
            "brier": float(np.mean(bs)) if bs else None, "n_questions": len(bs),
        }
    return {"forecasts": rows, "questions": briers, "summary": summary,
            "late": sum(r["late"] for r in rows)}
