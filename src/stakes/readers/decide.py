"""Reader of decide-exchange-model's tab-separated input files (spec §7).

Each row starts with a code::

    #A  actor id, name[, comment]
    #P  issue id[, name[, description]]
    #M  issue id, scale point[, label]
    #D  actor id, issue id, position, salience (0-1), power (>= 0)[, comment]
    #O, #0, #/  comments or column titles (ignored)

Fields are separated by tabs and may be quoted with single or double quotes
(a doubled quote inside a quoted field stands for one quote).  Every number is
kept as the exact decimal text of the file, because the exchange model's
default arithmetic works on decimal numbers (spec §4.1).

Validation is strict: every problem is reported with ``file:line:column`` and
the field (``#D.salience`` and so on), all problems of a file at once, in one
:class:`stakes.errors.InputError`.

The scale of an issue is the range of its ``#M`` points (0-100 without any);
positions must lie on it.  decide lets a later ``#D`` row for the same actor and
issue replace an earlier one; here that is an error unless
``duplicates="last"`` is asked for, which then follows decide (the later
values, in the earlier row's place).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple


from ..errors import InputError
from ..fileio import check_items, decode_text, read_input
from ..errors import Diagnostic

if TYPE_CHECKING:
    from ..models.base import Problem

# Larger magnitudes are almost certainly broken input (and would swamp the
# 28-digit arithmetic of the exchange model).
MAX_ABS = Decimal("1e12")

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_COMMENT_CODES = ("#O", "#0", "#/")
# a row that starts with a (quoted) code and uses ';' or ',' between its fields
_OTHER_SEPARATOR = re.compile(r"""\s*['"]?#[APMDO0/]['"]?\s*[;,]""")
_CODES = ("#A", "#P", "#M", "#D") + _COMMENT_CODES


class DecideActor(NamedTuple):
    id: str
    name: str


class DecideIssue(NamedTuple):
    id: str
    name: str
    description: str
    points: list[tuple[str, str]]  # (point as decimal text, label)
    lo: str  # decimal text; "0" without #M points
    hi: str  # decimal text; "100" without #M points


class DecideEntry(NamedTuple):
    actor_id: str
    issue_id: str
    position: str  # decimal text, on the issue's own scale
    salience: str  # decimal text, [0, 1]
    power: str  # decimal text, >= 0
    line: int  # 1-based line of the file


class DecideScenario(NamedTuple):
    """A decide input file: actors in ``#A`` order, issues in ``#P`` order, rows in ``#D`` order."""

    actors: list[DecideActor]
    issues: list[DecideIssue]
    entries: list[DecideEntry]
    source: str = "<input>"

    def entry_order(self) -> list[list[str]]:
        """Per issue (``#P`` order), the actor ids in ``#D`` row order."""
        per = {i.id: [] for i in self.issues}
        for e in self.entries:
            per[e.issue_id].append(e.actor_id)
        return [per[i.id] for i in self.issues]


class _Field(NamedTuple):
    text: str
    column: int  # 1-based column where the field starts


def _split(line: str, lineno: int, src: str, problems: list[Diagnostic]) -> list[_Field] | None:
    """Tab-split one line and unquote its fields."""
    out: list[_Field] = []
    col = 1
    for raw in line.split("\t"):
        start = col
        col += len(raw) + 1
        lead = len(raw) - len(raw.lstrip())
        text = raw.strip()
        if text[:1] in ("'", '"'):
            q = text[0]
            if len(text) < 2 or text[-1] != q:
                problems.append(
                    Diagnostic(f"unterminated {q} quote", src, lineno, start + lead, None)
                )
                return None
            inner = text[1:-1]
            if q in inner.replace(q + q, ""):
                problems.append(
                    Diagnostic(
                        f"stray {q} inside a quoted field (write it twice to include it)",
                        src, lineno, start + lead, None,
                    )
                )
                return None
            text = inner.replace(q + q, q)
        out.append(_Field(text, start + lead))
    return out


def _number(
    f: _Field, lineno: int, src: str, field: str, problems: list[Diagnostic]
) -> Decimal | None:
    text = f.text
    if text == "":
        problems.append(Diagnostic("missing number", src, lineno, f.column, field))
        return None
    if not _NUMBER.fullmatch(text):
        low = text.lower().lstrip("+-")
        if low in ("nan", "inf", "infinity"):
            msg = f"not a finite number: {text!r}"
        elif re.fullmatch(r"[+-]?\d+,\d+", text):
            msg = f"not a number: {text!r} (use '.' as the decimal separator)"
        else:
            msg = f"not a number: {text!r}"
        problems.append(Diagnostic(msg, src, lineno, f.column, field))
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid text
        problems.append(Diagnostic(f"not a number: {text!r}", src, lineno, f.column, field))
        return None
    if abs(value) > MAX_ABS:
        problems.append(
            Diagnostic(
                f"{text} is too large (magnitude above {MAX_ABS:.0e})", src, lineno, f.column, field
            )
        )
        return None
    return value


_NEEDS = {
    "#A": ("id", "name"),
    "#P": ("id",),
    "#M": ("issue", "point"),
    "#D": ("actor", "issue", "position", "salience", "power"),
}


def read_decide(
    path: str | Path,
    *,
    text: str | None = None,
    duplicates: Literal["error", "last"] = "error",
) -> DecideScenario:
    """Parse a decide input file (or ``text``, reported under the name ``path``).

    Raises :class:`stakes.errors.InputError` listing every problem found.
    """
    if duplicates not in ("error", "last"):
        raise ValueError("duplicates must be 'error' or 'last'")
    src = str(path)
    problems: list[Diagnostic] = []
    if text is None:
        text = _decode(read_input(path), src)
    check_items(text, src)
    if text.startswith("\ufeff"):
        text = text[1:]
    # split on newlines only: str.splitlines would also break on \v, \f and
    # other separators and shift every later line number
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")]
    for lineno, line in enumerate(lines, 1):
        for col, ch in enumerate(line, 1):
            if ch == "\x00" or (ord(ch) < 32 and ch not in "\t") or ch == "\ufffd":
                raise InputError(
                    Diagnostic(
                        f"binary or control character {ch!r}: not a decide text file",
                        src, lineno, col, None,
                    )
                )

    actors: dict[str, DecideActor] = {}
    actor_line: dict[str, int] = {}
    issues: dict[str, dict] = {}
    issue_line: dict[str, int] = {}
    # (issue, value, text, label, line, column) of every #M row
    points: list[tuple[str, Decimal, str, str, int, int]] = []
    rows: list[tuple[str, str, _Field, _Field, _Field, int, _Field, _Field]] = []

    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if "\t" not in line and _OTHER_SEPARATOR.match(line):
            sep = ";" if ";" in line else ","
            problems.append(
                Diagnostic(
                    f"fields must be separated by tabs, not {sep!r}", src, lineno, 1, "code"
                )
            )
            continue
        fields = _split(line, lineno, src, problems)
        if fields is None:
            continue
        code = fields[0].text
        if code not in _CODES:
            problems.append(
                Diagnostic(
                    f"unknown row code {code[:20]!r}; expected one of {', '.join(_CODES)}",
                    src, lineno, fields[0].column, "code",
                )
            )
            continue
        if code in _COMMENT_CODES:
            continue
        vals = fields[1:]
        need = _NEEDS[code]
        if len(vals) < len(need):
            missing = ", ".join(need[len(vals):])
            col = fields[-1].column + len(fields[-1].text)
            problems.append(
                Diagnostic(
                    f"truncated row: {code} needs {len(need)} fields "
                    f"({', '.join(need)}), got {len(vals)}; missing {missing}",
                    src, lineno, col, f"{code}.{need[len(vals)]}",
                )
            )
            continue
        for name, f in zip(need, vals):
            if name in ("id", "issue", "actor") and f.text == "":
                problems.append(Diagnostic("empty id", src, lineno, f.column, f"{code}.{name}"))
                break
        else:
            if code == "#A":
                aid, name = vals[0].text, vals[1].text or vals[0].text
                if aid in actors:
                    problems.append(
                        Diagnostic(
                            f"duplicate actor id {aid!r} (first defined on line "
                            f"{actor_line[aid]})",
                            src, lineno, vals[0].column, "#A.id",
                        )
                    )
                else:
                    actors[aid] = DecideActor(aid, name)
                    actor_line[aid] = lineno
            elif code == "#P":
                iid = vals[0].text
                name = vals[1].text if len(vals) > 1 and vals[1].text else iid
                desc = " ".join(v.text for v in vals[2:])
                if iid in issues:
                    problems.append(
                        Diagnostic(
                            f"duplicate issue id {iid!r} (first defined on line "
                            f"{issue_line[iid]})",
                            src, lineno, vals[0].column, "#P.id",
                        )
                    )
                else:
                    issues[iid] = {"id": iid, "name": name, "description": desc}
                    issue_line[iid] = lineno
            elif code == "#M":
                value = _number(vals[1], lineno, src, "#M.point", problems)
                if value is not None:
                    label = " ".join(v.text for v in vals[2:])
                    points.append(
                        (vals[0].text, value, vals[1].text, label, lineno, vals[0].column)
                    )
            else:  # "#D"
                rows.append((vals[0].text, vals[1].text, vals[2], vals[3], vals[4], lineno,
                             vals[0], vals[1]))

    # scale points: known issues only; the scale is their range
    scale: dict[str, list[tuple[Decimal, str, str]]] = {i: [] for i in issues}
    for iid, value, ptext, label, lineno, col in points:
        if iid not in issues:
            problems.append(
                Diagnostic(f"unknown issue {iid!r} (no #P row defines it)", src, lineno, col,
                             "#M.issue")
            )
            continue
        scale[iid].append((value, ptext, label))
    bounds: dict[str, tuple[Decimal, Decimal, str, str]] = {}
    for iid, pts in scale.items():
        if not pts:
            bounds[iid] = (Decimal(0), Decimal(100), "0", "100")
            continue
        lo = min(pts, key=lambda t: t[0])
        hi = max(pts, key=lambda t: t[0])
        if lo[0] == hi[0]:
            problems.append(
                Diagnostic(
                    f"issue {iid!r}: the #M points span no range (all equal {lo[1]}); "
                    "give at least two distinct points",
                    src, issue_line[iid], None, "#M.point",
                )
            )
        bounds[iid] = (lo[0], hi[0], lo[1], hi[1])

    entries: list[DecideEntry] = []
    seen: dict[tuple[str, str], int] = {}
    for aid, iid, fpos, fsal, fpow, lineno, fa, fi in rows:
        ok = True
        if aid not in actors:
            problems.append(
                Diagnostic(f"unknown actor {aid!r} (no #A row defines it)", src, lineno,
                             fa.column, "#D.actor")
            )
            ok = False
        if iid not in issues:
            problems.append(
                Diagnostic(f"unknown issue {iid!r} (no #P row defines it)", src, lineno,
                             fi.column, "#D.issue")
            )
            ok = False
        pos = _number(fpos, lineno, src, "#D.position", problems)
        sal = _number(fsal, lineno, src, "#D.salience", problems)
        pw = _number(fpow, lineno, src, "#D.power", problems)
        if sal is not None and not (0 <= sal <= 1):
            problems.append(
                Diagnostic(f"salience {fsal.text} outside [0, 1]", src, lineno, fsal.column,
                             "#D.salience")
            )
            ok = False
        if pw is not None and pw < 0:
            problems.append(
                Diagnostic(f"power {fpow.text} is negative", src, lineno, fpow.column,
                             "#D.power")
            )
            ok = False
        if pos is not None and iid in bounds:
            lo, hi, lot, hit = bounds[iid]
            if lo < hi and not (lo <= pos <= hi):
                problems.append(
                    Diagnostic(
                        f"position {fpos.text} outside the scale [{lot}, {hit}] of issue {iid!r}",
                        src, lineno, fpos.column, "#D.position",
                    )
                )
                ok = False
        if not ok or pos is None or sal is None or pw is None:
            continue
        entry = DecideEntry(aid, iid, fpos.text, fsal.text, fpow.text, lineno)
        key = (aid, iid)
        if key in seen:
            if duplicates == "error":
                problems.append(
                    Diagnostic(
                        f"second #D row for actor {aid!r} on issue {iid!r} (first on line "
                        f"{entries[seen[key]].line})",
                        src, lineno, fa.column, "#D.actor",
                    )
                )
            else:
                entries[seen[key]] = entry
            continue
        seen[key] = len(entries)
        entries.append(entry)

    if not problems:
        if not actors:
            problems.append(Diagnostic("no actors (#A rows)", src, None, None, "#A"))
        if not issues:
            problems.append(Diagnostic("no issues (#P rows)", src, None, None, "#P"))
        if not entries:
            problems.append(Diagnostic("no actor-issue rows (#D rows)", src, None, None, "#D"))
    if problems:
        raise InputError(problems)

    out_issues = []
    for iid, info in issues.items():
        pts = [(t, label) for _, t, label in scale[iid]]
        lo, hi, lot, hit = bounds[iid]
        out_issues.append(DecideIssue(iid, info["name"], info["description"], pts, lot, hit))
    return DecideScenario(list(actors.values()), out_issues, entries, src)


def _decode(data: bytes, src: str) -> str:
    if not data.strip():
        raise InputError(Diagnostic("file is empty", src, None, None, None))
    return decode_text(data, src, "decide text file")


def decide_to_problem(ds: DecideScenario) -> Problem:
    """The model input of a decide file, for the joint models, built through its scenario
    (:func:`~stakes.readers.detect.decide_to_scenario`): readers make scenarios, and
    :func:`~stakes.scenario.arrays.to_problem` makes every model input.

    Issues in ``#P`` order with their ``#M`` range as scale, under the file's ids;
    actors in ``#A`` order, those without any ``#D`` row left out; NaN position, salience and capability
    where an actor has no row on an issue.  Numbers become floats; their shortest
    repr is the decimal text of the file for every number with at most 15
    significant digits, which is how the exchange model recovers the exact
    decimals.
    """
    from dataclasses import replace

    from ..scenario.arrays import to_problem
    from .detect import decide_to_scenario

    problem = to_problem(decide_to_scenario(ds), missing="nan")
    # The scenario's ids are the file's made unique and id-safe; the model input keeps the
    # file's own (actors and issues come in the same order).
    with_rows = {e.actor_id for e in ds.entries}
    return replace(problem, actor_ids=tuple(a.id for a in ds.actors if a.id in with_rows),
                   issue_ids=tuple(i.id for i in ds.issues))
