"""Reader for the DEU III format and the capability options of the backtest.

DEU III (Arregui & Perarnaud 2021, doi:10.34810/data53) records, for EU legislative
issues 1996–2019, every actor's position and salience on a 0–100 scale, the reference
point (status quo) and the outcome (spec §6).  The file read here is the
tab-separated extract layout: a header row, a row of GDP figures per actor column
(the capability proxy of the extract), then one issue per row.

DEU records no capabilities; the user chooses them (:data:`CAPABILITIES`).  The
Commission and the Parliament have no Council vote; :data:`INSTITUTIONS` names how
they are weighted.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal, get_args

import numpy as np

from ..errors import InputError, OptionError
from ..errors import Diagnostic
from ..models.base import Problem
from ..scenario.arrays import to_problem
from ..scenario.schema import Scenario

INSTITUTION_IDS = ("com", "ep")
MEMBER_IDS = ("at", "be", "bu", "cr", "cy", "cz", "dk", "ee", "fi", "fr", "de", "el", "hu",
              "ie", "it", "lv", "lt", "lu", "mt", "nl", "pl", "pt", "ro", "si", "sk", "es",
              "se", "uk")
ACTOR_IDS = INSTITUTION_IDS + MEMBER_IDS
ID_COLUMNS = ("prnrnmc", "isnrnmc", "prnr", "prname", "isnr", "type", "council", "proc",
              "counvte", "proccde", "issues", "intro", "finact")
COLUMNS = (ID_COLUMNS + tuple(f"p{a}" for a in ACTOR_IDS) + tuple(f"s{a}" for a in ACTOR_IDS)
           + ("rp", "out"))

Capability = Literal["equal", "qmv", "population", "gdp"]
Institutions = Literal["largest", "largest-cod", "mean", "zero"]
CAPABILITIES: tuple[str, ...] = get_args(Capability)
INSTITUTIONS: tuple[str, ...] = get_args(Institutions)

CAPABILITY_HELP = {
    "equal": "every actor 1",
    "qmv": "Council voting weights in force on the decision date (weighted votes until "
           "Oct 2014, population share under the double majority from Nov 2014)",
    "population": "share of the EU population (Council figures for 2016)",
    "gdp": "GDP row of the file (row 2)",
}
INSTITUTIONS_HELP = {
    "largest": "Commission and Parliament each weigh as much as the largest member state "
               "(as the GDP row of the extract does)",
    "largest-cod": "Commission as the largest member state; Parliament likewise under "
                   "co-decision (COD) and 0 under consultation (CNS), where it cannot block",
    "mean": "Commission and Parliament each weigh as much as the average member state",
    "zero": "Commission and Parliament get capability 0 (Council only)",
}

DOUBLE_MAJORITY_FROM = dt.date(2014, 11, 1)


@dataclass(frozen=True)
class Deu3Issue:
    """One issue (one row of the file)."""

    issue_id: str  # isnr
    proposal: str  # prnr
    name: str  # prname
    procedure: str  # proc: COD (co-decision) or CNS (consultation)
    rule: str  # counvte: QMV, Unan, ...
    intro: dt.date | None
    final: dt.date | None
    position: np.ndarray  # (30,) 0–100, NaN = no position
    salience: np.ndarray  # (30,) 0–100, NaN = none given
    reference: float  # rp, NaN = none
    outcome: float  # out, NaN = none
    line: int

    @property
    def decision_date(self) -> dt.date | None:
        """The final act's date where recorded, else the proposal's introduction."""
        return self.final or self.intro

    @property
    def has_outcome(self) -> bool:
        return not math.isnan(self.outcome)

    @property
    def has_reference(self) -> bool:
        return not math.isnan(self.reference)


@dataclass(frozen=True)
class Deu3Data:
    path: str
    gdp: np.ndarray  # (30,) row 2
    issues: tuple[Deu3Issue, ...]
    notes: tuple[str, ...] = field(default=())

    def scored(self) -> list[Deu3Issue]:
        """Issues with an outcome (the ones a backtest can score)."""
        return [i for i in self.issues if i.has_outcome]

    def proposals(self) -> dict[str, list[Deu3Issue]]:
        out: dict[str, list[Deu3Issue]] = {}
        for iss in self.issues:
            out.setdefault(iss.proposal, []).append(iss)
        return out


# --- dates -------------------------------------------------------------------------------

_DMY2 = re.compile(r"(\d\d)-(\d\d)-(\d\d)")
_DMY4 = re.compile(r"(\d\d)-(\d\d)-(\d{4})")
_YMD = re.compile(r"(\d{4})-(\d\d)-(\d\d)")


def _year2(yy: int) -> int:
    return 1900 + yy if yy >= 90 else 2000 + yy


def parse_date(text: str) -> dt.date | None:
    """A DEU date cell, or None where the file gives none ('' or '999').

    The extract writes DD-MM-YY, DD-MM-YYYY, and a spreadsheet-mangled DD-MM-YY
    that reads like an ISO date: '2017-10-07' is 17 Oct 2007 and '1930-05-01' is
    30 May 2001 (the day became a year 19DD/20DD).  ISO-looking cells are read
    that way because doing so makes every introduction date agree with the year
    coded in the proposal number and puts every final act after its
    introduction; the plain ISO reading fails both checks.
    """
    text = text.strip()
    if text in ("", "999"):
        return None
    if m := _DMY2.fullmatch(text):
        d, mo, y = int(m[1]), int(m[2]), _year2(int(m[3]))
    elif m := _DMY4.fullmatch(text):
        d, mo, y = int(m[1]), int(m[2]), int(m[3])
    elif m := _YMD.fullmatch(text):
        d, mo, y = int(m[1]) % 100, int(m[2]), _year2(int(m[3]))
    else:
        raise ValueError("expected DD-MM-YY, DD-MM-YYYY, a spreadsheet date YYYY-MM-DD, "
                         "'999' or empty")
    return dt.date(y, mo, d)


# --- the reader --------------------------------------------------------------------------

def read_deu3(path: str | Path) -> Deu3Data:
    """Read a DEU III extract; every problem is reported as file:line: column: message."""
    path = Path(path)
    name = str(path)
    if not path.exists():
        raise InputError(Diagnostic("no such file (the DEU III data: doi:10.34810/data53)",
                                      file=name))
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(Diagnostic(f"not UTF-8 text ({exc.reason})", file=name)) from None
    rows = list(csv.reader(text.splitlines(), delimiter="\t", quotechar='"'))
    problems: list[Diagnostic] = []

    def bad(line: int, column: str | None, message: str) -> None:
        problems.append(Diagnostic(message, file=name, line=line, field=column))

    if len(rows) < 2:
        raise InputError(Diagnostic("expected a header row, a GDP row and issue rows",
                                      file=name, line=len(rows) or 1))
    header = [h.strip() for h in rows[0]]
    missing = [c for c in COLUMNS if c not in header]
    dupes = sorted({h for h in header if header.count(h) > 1})
    if missing or dupes:
        if missing:
            bad(1, None, "missing column(s) " + ", ".join(missing)
                + " (expected the DEU III extract layout, spec §6)")
        if dupes:
            bad(1, None, "duplicate column(s) " + ", ".join(dupes))
        raise InputError(problems)
    col = {h: k for k, h in enumerate(header)}

    def cell(row: list[str], c: str) -> str:
        k = col[c]
        return row[k].strip() if k < len(row) else ""

    def number(row: list[str], line: int, c: str, lo: float | None, hi: float | None,
               required: bool = False) -> float:
        raw = cell(row, c)
        if raw == "":
            if required:
                bad(line, c, "missing value")
            return math.nan
        try:
            v = float(raw)
        except ValueError:
            bad(line, c, f"{raw!r} is not a number")
            return math.nan
        if not math.isfinite(v):
            bad(line, c, f"{raw!r} is not a finite number")
            return math.nan
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            bad(line, c, f"{v:g} outside [{lo:g}, {hi:g}]")
            return math.nan
        return v

    gdp_row = rows[1]
    gdp = np.array([number(gdp_row, 2, f"p{a}", 0.0, math.inf, required=True)
                    for a in ACTOR_IDS])
    if np.any(gdp[np.isfinite(gdp)] <= 0):
        bad(2, None, "GDP row: every actor needs a positive value")

    issues: list[Deu3Issue] = []
    seen: dict[str, int] = {}
    no_salience = 0
    for k, row in enumerate(rows[2:], start=3):
        if not any(v.strip() for v in row):
            continue
        if len(row) != len(header):
            bad(k, None, f"{len(row)} fields, the header has {len(header)}")
            continue
        iid = cell(row, "isnr")
        if not iid:
            bad(k, "isnr", "missing issue id")
        elif iid in seen:
            bad(k, "isnr", f"issue {iid!r} repeats line {seen[iid]}")
        else:
            seen[iid] = k
        prnr = cell(row, "prnr")
        if not prnr:
            bad(k, "prnr", "missing proposal id")
        proc = cell(row, "proc")
        if not proc:
            bad(k, "proc", "missing procedure (COD or CNS)")
        rule = cell(row, "counvte")
        if not rule:
            bad(k, "counvte", "missing Council voting rule")
        dates = []
        for c in ("intro", "finact"):
            try:
                dates.append(parse_date(cell(row, c)))
            except ValueError as exc:
                bad(k, c, f"{cell(row, c)!r}: {exc}")
                dates.append(None)
        pos = np.array([number(row, k, f"p{a}", 0.0, 100.0) for a in ACTOR_IDS])
        sal = np.array([number(row, k, f"s{a}", 0.0, 100.0) for a in ACTOR_IDS])
        no_salience += int(np.sum(~np.isnan(pos) & np.isnan(sal)))
        rp = number(row, k, "rp", 0.0, 100.0)
        outcome = number(row, k, "out", 0.0, 100.0)
        if not np.isnan(outcome) and np.isnan(pos).all():
            bad(k, None, "an issue with an outcome needs at least one actor position")
        issues.append(Deu3Issue(iid, prnr, cell(row, "prname"), proc, rule, dates[0],
                                dates[1], pos, sal, rp, outcome, k))
    if problems:
        raise InputError(problems)
    if not issues:
        raise InputError(Diagnostic("no issue rows", file=name, line=3))
    notes = []
    if no_salience:
        notes.append(f"{no_salience} positions without salience count with salience 0")
    return Deu3Data(name, gdp, tuple(issues), tuple(notes))


# --- capabilities ------------------------------------------------------------------------

@dataclass(frozen=True)
class CouncilTable:
    """The packaged Council table (src/stakes/data/eu_council.csv)."""

    qmv_from: tuple[dt.date, ...]  # start dates of the weighted-vote periods
    qmv: np.ndarray  # (periods, 28) weighted votes, NaN = not a member
    population: np.ndarray  # (28,) per cent of the EU population (2016)

    def weights_on(self, date: dt.date) -> np.ndarray:
        """Council voting weights of the 28 member states on ``date`` (NaN = not a member)."""
        if date >= DOUBLE_MAJORITY_FROM:
            return self.population.copy()
        k = max((j for j, d in enumerate(self.qmv_from) if d <= date), default=None)
        if k is None:
            raise OptionError(f"no Council voting weights before {self.qmv_from[0]}")
        return self.qmv[k].copy()


@lru_cache(maxsize=1)
def council_table() -> CouncilTable:
    text = (resources.files("stakes.data") / "eu_council.csv").read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    rows = list(csv.reader(lines))
    header, body = rows[0], {r[0]: r for r in rows[1:]}
    qcols = [k for k, h in enumerate(header) if h.startswith("qmv_")]
    pcol = header.index("population_2016")

    def val(s: str) -> float:
        return float(s) if s.strip() else math.nan

    qmv = np.array([[val(body[a][k]) for a in MEMBER_IDS] for k in qcols])
    pop = np.array([val(body[a][pcol]) for a in MEMBER_IDS])
    starts = tuple(dt.date.fromisoformat(header[k][4:]) for k in qcols)
    return CouncilTable(starts, qmv, pop)


def capability_vector(data: Deu3Data, issue: Deu3Issue, capability: str,
                      institutions: str = "largest") -> np.ndarray:
    """Capability of all 30 actors on ``issue`` (ACTOR_IDS order).

    Member states without a Council vote on the decision date (not members yet)
    get 0 under ``qmv``; none of the extract's positions is in that case.
    """
    if capability not in CAPABILITIES:
        raise OptionError(f"--capability {capability!r}: expected one of {', '.join(CAPABILITIES)}")
    if institutions not in INSTITUTIONS:
        raise OptionError(f"--institutions {institutions!r}: expected one of "
                          f"{', '.join(INSTITUTIONS)}")
    if capability == "equal":
        members = np.ones(len(MEMBER_IDS))
    elif capability == "gdp":
        members = data.gdp[len(INSTITUTION_IDS):].copy()
    elif capability == "population":
        members = council_table().population.copy()
    else:
        date = issue.decision_date
        if date is None:
            raise OptionError(f"{data.path}:{issue.line}: issue {issue.issue_id} has no usable "
                              "date, which --capability qmv needs")
        members = council_table().weights_on(date)
    in_council = np.isfinite(members)
    members = np.where(in_council, members, 0.0)
    largest = float(members.max())
    mean = float(members[in_council].mean()) if in_council.any() else 0.0
    inst = {"largest": (largest, largest), "mean": (mean, mean), "zero": (0.0, 0.0),
            "largest-cod": (largest, largest if issue.procedure == "COD" else 0.0)}[institutions]
    return np.concatenate([np.array(inst, dtype=float), members])


# --- problems for the models -------------------------------------------------------------

def issues_scenario(issues: list[Deu3Issue], capabilities: list[np.ndarray]) -> Scenario:
    """Issues of one proposal as a scenario (issue ids ``i0``, ``i1``, ... in order: the
    extract's own need not be valid ids), for :func:`~stakes.scenario.arrays.to_problem`,
    the one maker of model inputs.

    Actors with a position on at least one issue, each entry with its capability; a
    missing salience counts as 0; the reference point is the status quo.
    """
    have = np.column_stack([~np.isnan(i.position) for i in issues])
    actors = [{"id": a, "name": a} for a, k in zip(ACTOR_IDS, have.any(axis=1)) if k]
    entries = []
    for d, (issue, cap) in enumerate(zip(issues, capabilities)):
        sal = np.nan_to_num(issue.salience, nan=0.0) / 100.0
        for k in np.flatnonzero(have[:, d]):
            entries.append({"actor": ACTOR_IDS[k], "issue": f"i{d}",
                            "position": float(issue.position[k]), "salience": float(sal[k]),
                            "capability": float(cap[k])})
    return Scenario.model_validate({
        "metadata": {"name": f"DEU III proposal {issues[0].proposal}"[:200]},
        "actors": actors,
        "issues": [{"id": f"i{d}", "name": f"issue {i.issue_id}"[:200],
                    "scale": {"min": 0.0, "max": 100.0},
                    **({} if math.isnan(i.reference) else {"status_quo": i.reference})}
                   for d, i in enumerate(issues)],
        "entries": entries,
    })


def _problem(issues: list[Deu3Issue], capabilities: list[np.ndarray], missing: str) -> Problem:
    problem = to_problem(issues_scenario(issues, capabilities), missing=missing)
    return replace(problem, issue_ids=tuple(i.issue_id for i in issues))


def issue_problem(issue: Deu3Issue, capability: np.ndarray) -> Problem:
    """One issue as a model input: the actors with a position; missing salience → 0."""
    return _problem([issue], [capability], "drop")


def joint_problem(issues: list[Deu3Issue], capabilities: list[np.ndarray]) -> Problem:
    """Several issues of one proposal as one model input (the joint models' view).

    Actors with a position on at least one issue; NaN position, salience and
    capability where an actor takes no position (as the scenario arrays do).
    """
    return _problem(issues, capabilities, "nan")
