"""Check a scenario's evidence against the user's copies of its sources.

Every ``evidence`` basis quotes a source listed in ``metadata.sources``; when
that source names a ``file``, the quote must occur in it verbatim.  "Verbatim"
is judged after a normalisation that forgives only typography, never wording:

- Unicode is brought to NFC form and soft hyphens and zero-width characters
  are dropped;
- curly and straight quote marks are the same (single: ' ‘ ’ ‚ ‛ ′ `; double:
  " “ ” „ ‟ ″), and so are the ellipsis character and three dots;
- every kind of dash (hyphen, en dash, em dash, minus, a doubled hyphen) is
  the same, with or without spaces around it (publications differ on
  "war—and" against "war — and");
- any run of whitespace, non-breaking spaces included, is one space.

Case is kept: a quote with different capitals is not verbatim.

The functions here are pure: they return findings and leave printing and
exit codes to the command line.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, Diagnostic
from .check import bases, valued_fields
from .schema import Evidence, Scenario, Source

_SINGLE = dict.fromkeys(map(ord, "\u2018\u2019\u201a\u201b\u2032`"), "'")
_DOUBLE = dict.fromkeys(map(ord, "\u201c\u201d\u201e\u201f\u2033"), '"')
_DROP = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"), None)
# Hyphen-minus, hyphen, non-breaking hyphen, figure dash, en dash, em dash,
# horizontal bar, minus sign, small and full-width hyphen-minus.
_DASHES = re.compile(r"\s*[-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d]+\s*")
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """The form in which quotes and sources are compared (see the module docstring)."""
    text = unicodedata.normalize("NFC", text)
    text = text.translate(_DROP).translate(_SINGLE).translate(_DOUBLE)
    text = text.replace("\u2026", "...")
    # One canonical dash with single spaces around it, so that spacing
    # conventions around dashes cannot make a faithful quote fail.
    text = _DASHES.sub(" - ", text)
    return _SPACE.sub(" ", text).strip()


@dataclass(frozen=True)
class EvidenceFinding:
    """One problem with the basis of a value.

    ``path`` names the field as the scenario loader does (``entries[3].salience.basis``).
    """

    path: str
    message: str
    source: str | None = None
    file: str | None = None
    quote: str | None = None

    def __str__(self) -> str:
        # No square brackets: callers print findings through rich markup.
        where = f" ({self.source}, {self.file})" if self.file else (
            f" ({self.source})" if self.source else "")
        quote = f' "{self.quote}"' if self.quote else ""
        return f"{self.path}: {self.message}{where}{quote}"


def _field_name(path: tuple) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def missing_basis(scn: Scenario) -> list[EvidenceFinding]:
    """Every capability, status quo, position, salience, lever and plan without a basis.

    A value the scenario does not give (an actor whose capability is set per
    entry, an issue without a status quo) needs none.  A lever's effects are
    covered by the lever's basis.
    """
    out = []
    for path, what, v in valued_fields(scn):
        if v is not None and v.basis is None:
            out.append(EvidenceFinding(_field_name((*path, "basis")), f"{what} has no basis"))
    for k, lv in enumerate(scn.levers):
        if lv.basis is None:
            out.append(EvidenceFinding(_field_name(("levers", k, "basis")),
                                       f"lever {lv.id!r} has no basis"))
    for k, p in enumerate(scn.plans):
        if p.basis is None:
            out.append(EvidenceFinding(_field_name(("plans", k, "basis")),
                                       f"plan {p.id!r} has no basis"))
    return out


def check_evidence(scn: Scenario, sources_dir: str | os.PathLike) -> list[EvidenceFinding]:
    """Every evidence quote of ``scn`` that is not found verbatim in its source file.

    Source files are looked up as ``sources_dir / source.file``.  Findings, in
    the order of the scenario: ``unknown source``, ``source has no file``,
    ``source file missing``, ``source file unreadable`` and ``quote not found in
    <file>``.  Raises :class:`InputError` when ``sources_dir`` is not a folder.
    """
    folder = Path(sources_dir)
    if not folder.is_dir():
        raise InputError(Diagnostic("sources folder not found (give the folder that holds the "
                                 "files named in metadata.sources)", file=str(sources_dir)))
    sources: dict[str, Source] = {s.id: s for s in scn.metadata.sources}
    texts: dict[str, tuple[str, str]] = {}  # file -> (status, normalised text)
    out: list[EvidenceFinding] = []
    for path, basis in bases(scn):
        if isinstance(basis, Evidence):
            problem = _quote_problem(basis, sources, folder, texts)
            if problem is not None:
                message, file = problem
                out.append(EvidenceFinding(_field_name(path), message, basis.source, file,
                                           basis.quote))
    return out


def _quote_problem(basis: Evidence, sources: dict[str, Source], folder: Path,
                   texts: dict[str, tuple[str, str]]) -> tuple[str, str | None] | None:
    """What is wrong with one quote, as (message, file), or None when it is found."""
    src = sources.get(basis.source)
    if src is None:
        return f"unknown source {basis.source!r} (not in metadata.sources)", None
    if not src.file:
        return "source has no file", None
    if src.file not in texts:
        texts[src.file] = _load(folder / src.file)
    status, text = texts[src.file]
    if status == "missing":
        return "source file missing", src.file
    if status == "unreadable":
        return "source file unreadable (not UTF-8 text)", src.file
    quote = normalize(basis.quote)
    if not quote:
        return "quote is empty once normalised", src.file
    if quote not in text:
        return f"quote not found in {src.file}", src.file
    return None


def _load(path: Path) -> tuple[str, str]:
    if not path.is_file():
        return "missing", ""
    try:
        return "ok", normalize(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError:
        return "unreadable", ""
    except OSError:
        return "missing", ""
