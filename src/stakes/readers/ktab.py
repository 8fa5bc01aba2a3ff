"""Readers for KTAB's SMP input formats: the CSV file and the XML scenario.

Both are parsed into :class:`KtabScenario`, a plain intermediate structure on
KTAB's own scales (positions and saliences 0-100, capability as given), with
strict validation: every problem is reported as a
:class:`stakes.errors.Diagnostic` with file, line, column (where the format
gives one) and field, and all problems of a file are raised together as one
:class:`stakes.errors.InputError`.

Formats (spec §7; KTAB v1.4 ``examples/smp/libsrc/smpread.cpp``):

* CSV: line 1 ``scenarioName, scenarioDescription, numActors, numDims`` (extra
  fields ignored); line 2 a header whose first three fields are skipped and
  then one ``<dim> Position, <dim> Salience`` pair per dimension (the position
  header's text names the dimension, as in KTAB); then one row per actor
  ``name, description, capability, pos_1, sal_1, ..., pos_D, sal_D``.  A
  trailing comma is allowed and spaces around fields are trimmed.
* XML: root ``Scenario`` with ``name``, ``desc``, ``prngSeed``, optional
  ``ModelParameters`` (the nine SMP enums by their KTAB names),
  ``Dimensions/dName*``, ``Actors/Actor*`` (``name``, ``description``,
  ``capability``, ``Position/dCoord*``, ``Salience/dSal*``) and an optional
  ``IdealAdjustment/iaPair*`` (``adjustingIdeal``, ``referencePos``,
  ``adjust``), each setting one entry of the accommodation matrix.

XML is parsed by defusedxml's expat SAX driver (which reports the line and
column of every element) with DTDs, entity declarations and external
references forbidden, and the depth and element count bounded
(:mod:`stakes.fileio`); character data is collected in lists and joined once,
so the time is linear in the input.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple
from xml.sax import handler as sax_handler
from xml.sax import SAXParseException
from xml.sax.handler import ContentHandler

import numpy as np

from stakes.errors import InputError, DiagnosticList
from stakes.fileio import check_items, decode_text, limits, read_input
from stakes.kernels.smp import CHOICES, KTAB_NAMES

if TYPE_CHECKING:  # pragma: no cover
    from defusedxml.expatreader import DefusedExpatParser

__all__ = [
    "KtabActor",
    "KtabScenario",
    "KTAB_PARAMETERS",
    "read_ktab",
    "read_ktab_csv",
    "read_ktab_xml",
    "parse_ktab_csv",
    "parse_ktab_xml",
    "ktab_to_problem",
    "ktab_options",
]

#: The nine SMP parameters by their KTAB names, with the allowed values in
#: KTAB's integer order (spec §3.2).
KTAB_PARAMETERS: dict[str, tuple[str, ...]] = {
    ktab: CHOICES[ours] for ours, ktab in KTAB_NAMES.items()
}

# KTAB's limits (kmodel.h / smpread.cpp).
MIN_ACTORS = 3
MAX_ACTORS = 250
MAX_NAME_LEN = 25
MAX_CAPABILITY = 1e8
_SUM_TOL = 1e-9  # salience sums are decimal inputs; allow binary round-off only

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_NONFINITE = re.compile(r"^[+-]?(nan|inf|infinity)$", re.IGNORECASE)


class KtabActor(NamedTuple):
    """One actor as KTAB reads it (positions and saliences on 0-100)."""

    name: str
    description: str
    capability: float
    positions: list[float]
    saliences: list[float]


@dataclass
class KtabScenario:
    """A KTAB SMP scenario, as read, before conversion to the package's formats.

    Attributes:
        name, description: scenario name and description.
        dimensions: dimension names (CSV: the position header texts).
        actors: one :class:`KtabActor` per actor, in file order.
        parameters: the XML ``ModelParameters`` by KTAB name (e.g.
            ``{"VotingRule": "PropCbc"}``); empty for CSV input (KTAB's CSV
            route always uses the defaults).
        seed: the XML ``prngSeed`` (0 means "random" in KTAB); None if absent.
        affinity: the XML ``IdealAdjustment`` entries as (row actor index,
            column actor index, value); None when the file gives none (the
            identity).  Entries not listed keep the identity's value.
        source: the file name, for messages.
        format: "csv" or "xml".
        lines: 1-based line of each item, keyed by field path ("name",
            "dimensions[0]", "actors[3]", "actors[3].capability",
            "parameters.VotingRule", "affinity[0]"), so that later checks
            can point back into the file.
    """

    name: str
    description: str
    dimensions: list[str]
    actors: list[KtabActor]
    parameters: dict[str, str] = field(default_factory=dict)
    seed: int | None = None
    affinity: list[tuple[int, int, float]] | None = None
    source: str | None = None
    format: str = "csv"
    lines: dict[str, int] = field(default_factory=dict)

    @property
    def n_actors(self) -> int:
        return len(self.actors)

    def affinity_matrix(self) -> np.ndarray:
        """The (n, n) accommodation matrix: the identity with the listed entries set."""
        a = np.eye(len(self.actors))
        for i, j, v in self.affinity or ():
            a[i, j] = v
        return a


# --------------------------------------------------------------------------
# Shared value checks


def _number(text: str, what: str, out: DiagnosticList, line: int | None, column: int | None,
            field: str) -> float | None:
    t = text.strip()
    if t == "":
        out.add(f"{what} is empty; expected a number", line, column, field)
        return None
    if _NONFINITE.match(t):
        out.add(f"{what} must be a finite number, got {t!r}", line, column, field)
        return None
    if not _NUMBER.match(t):
        out.add(f"{what} is not a number: {t!r}", line, column, field)
        return None
    value = float(t)
    if not math.isfinite(value):
        out.add(f"{what} must be a finite number, got {t!r}", line, column, field)
        return None
    return value


def _in_range(value: float | None, lo: float, hi: float, what: str, out: DiagnosticList,
              line: int | None, column: int | None, field: str) -> float | None:
    if value is None:
        return None
    if not (lo <= value <= hi):
        out.add(f"{what} must be in [{lo:g}, {hi:g}], got {value:g}", line, column, field)
        return None
    return value


def _check_name(name: str, out: DiagnosticList, line: int | None, column: int | None,
                field: str) -> None:
    if not name:
        out.add("actor name is empty", line, column, field)
    elif len(name) > MAX_NAME_LEN:
        out.add(f"actor name {name!r} has {len(name)} characters; KTAB allows at most "
                f"{MAX_NAME_LEN}", line, column, field)


def _check_actor_count(n: int, out: DiagnosticList, line: int | None, column: int | None,
                       field: str) -> bool:
    if not (MIN_ACTORS <= n <= MAX_ACTORS):
        out.add(f"number of actors must be in {MIN_ACTORS}..{MAX_ACTORS}, got {n}",
                line, column, field)
        return False
    return True


def _check_salience_sum(sals: list[float | None], out: DiagnosticList, line: int | None,
                        column: int | None, field: str, actor: str) -> None:
    if any(s is None for s in sals):
        return
    total = sum(sals)  # type: ignore[arg-type]
    if total > 100.0 + _SUM_TOL:
        out.add(f"saliences of actor {actor!r} sum to {total:g}; the sum must be <= 100",
                line, column, field)


# --------------------------------------------------------------------------
# CSV


def _decode(data: bytes, out: DiagnosticList, kind: str) -> str:
    if not data.strip():
        raise out.fail(f"file is empty; expected a KTAB {kind} scenario", 1, None, None)
    return decode_text(data, out.file or "<input>", f"KTAB {kind} text file")


def _split_csv_line(line: str) -> list[tuple[str, int]]:
    """Split one CSV line into (trimmed field, 1-based column) pairs; quotes allowed."""
    fields: list[tuple[str, int]] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in " \t":
            i += 1
        start = i
        if i < n and line[i] == '"':
            i += 1
            buf = []
            while i < n:
                if line[i] == '"':
                    if i + 1 < n and line[i + 1] == '"':
                        buf.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                buf.append(line[i])
                i += 1
            rest_end = line.find(",", i)
            rest_end = n if rest_end < 0 else rest_end
            text = "".join(buf) + line[i:rest_end].strip()
            i = rest_end
        else:
            end = line.find(",", i)
            end = n if end < 0 else end
            text = line[i:end].strip()
            i = end
        fields.append((text, start + 1))
        if i >= n:
            return fields
        i += 1  # skip the comma


def _blank(fields: list[tuple[str, int]]) -> bool:
    return all(text == "" for text, _ in fields)


def _trim_trailing(fields: list[tuple[str, int]], expected: int) -> list[tuple[str, int]]:
    """Drop empty trailing fields beyond ``expected`` (a trailing comma is allowed)."""
    end = len(fields)
    while end > expected and fields[end - 1][0] == "":
        end -= 1
    return fields if end == len(fields) else fields[:end]


def parse_ktab_csv(text: str | bytes, file: str | None = None) -> KtabScenario:
    """Parse the text of a KTAB SMP CSV file; see the module docstring for the layout."""
    out = DiagnosticList(file)
    if isinstance(text, bytes):
        text = _decode(text, out, "CSV")
    elif not text.strip():
        raise out.fail("file is empty; expected a KTAB CSV scenario", 1)
    if text.startswith("\ufeff"):
        text = text[1:]
    check_items(text, file or "<input>")
    lines = text.splitlines()
    rows = [(k + 1, _split_csv_line(raw)) for k, raw in enumerate(lines)]
    content = [(ln, f) for ln, f in rows if not _blank(f)]
    if not content:
        raise out.fail("file is empty; expected a KTAB CSV scenario", 1)

    # Line 1: name, description, numActors, numDims.
    ln1, head = content[0]
    if len(head) < 4:
        raise out.fail(f"first line has {len(head)} fields; expected scenarioName, "
                       "scenarioDescription, numActors, numDims", ln1, None, "numDims")
    name, desc = head[0][0], head[1][0]
    n_act = n_dim = None
    for (txt, col), fname in ((head[2], "numActors"), (head[3], "numDims")):
        if not _INTEGER.match(txt):
            out.add(f"{fname} must be an integer, got {txt!r}", ln1, col, fname)
            continue
        value = int(txt)
        if fname == "numActors":
            if _check_actor_count(value, out, ln1, col, fname):
                n_act = value
        elif value < 1:
            out.add(f"numDims must be >= 1, got {value}", ln1, col, fname)
        else:
            n_dim = value
    if n_act is None or n_dim is None:
        raise InputError(out.items)
    width = 3 + 2 * n_dim
    meta = {"name": ln1}

    # Line 2: header.
    if len(content) < 2:
        raise out.fail("header line missing (expected Actor, Description, Capability, then "
                       "a Position and Salience column per dimension)", ln1 + 1, None, "header")
    ln2, header = content[1]
    header = _trim_trailing(header, 0)  # a trailing comma is allowed
    if len(header) != width:
        raise out.fail(f"header has {len(header)} fields; numDims = {n_dim} needs "
                       f"3 + 2 x {n_dim} = {width}", ln2, None, "header")
    dims: list[str] = []
    seen_dims: dict[str, int] = {}
    for d in range(n_dim):
        txt, col = header[3 + 2 * d]
        if txt == "":
            out.add(f"dimension {d + 1} has an empty position header", ln2, col,
                    f"dimensions[{d}]")
        elif txt in seen_dims:
            out.add(f"duplicate dimension name {txt!r} (also column {seen_dims[txt]})", ln2,
                    col, f"dimensions[{d}]")
        seen_dims.setdefault(txt, col)
        dims.append(txt)
        meta[f"dimensions[{d}]"] = ln2

    # Actor rows.
    body = content[2:]
    if len(body) < n_act:
        last = body[-1][0] if body else ln2
        out.add(f"file ends after {len(body)} actor rows; numActors = {n_act} (truncated "
                "file?)", last + 1, None, "actors")
    for ln, extra in body[n_act:]:
        out.add(f"more actor rows than numActors = {n_act}", ln, extra[0][1], "actors")
        break
    actors: list[KtabActor] = []
    seen: dict[str, int] = {}
    for a, (ln, fields) in enumerate(body[:n_act]):
        fields = _trim_trailing(fields, width)
        where = f"actors[{a}]"
        meta[where] = ln
        if len(fields) != width:
            short = len(fields) < width
            out.add(f"{'truncated row' if short else 'too many fields'}: {len(fields)} fields, "
                    f"expected {width} (name, description, capability, then position and "
                    f"salience for {n_dim} dimension{'s' if n_dim > 1 else ''})", ln,
                    fields[-1][1] if short else fields[width][1], where)
            continue
        aname, ncol = fields[0]
        _check_name(aname, out, ln, ncol, f"{where}.name")
        if aname in seen:
            out.add(f"duplicate actor name {aname!r} (first on line {seen[aname]})", ln, ncol,
                    f"{where}.name")
        seen.setdefault(aname, ln)
        ctxt, ccol = fields[2]
        cap = _in_range(_number(ctxt, "capability", out, ln, ccol, f"{where}.capability"),
                        0.0, MAX_CAPABILITY, "capability", out, ln, ccol, f"{where}.capability")
        pos: list[float | None] = []
        sal: list[float | None] = []
        for d in range(n_dim):
            ptxt, pcol = fields[3 + 2 * d]
            stxt, scol = fields[4 + 2 * d]
            pf, sf = f"{where}.positions[{d}]", f"{where}.saliences[{d}]"
            pos.append(_in_range(_number(ptxt, "position", out, ln, pcol, pf), 0.0, 100.0,
                                 "position", out, ln, pcol, pf))
            sal.append(_in_range(_number(stxt, "salience", out, ln, scol, sf), 0.0, 100.0,
                                 "salience", out, ln, scol, sf))
        _check_salience_sum(sal, out, ln, None, f"{where}.saliences", aname)
        if cap is not None and None not in pos and None not in sal:
            actors.append(KtabActor(aname, fields[1][0], cap, pos, sal))  # type: ignore[arg-type]
    out.raise_if_any()
    return KtabScenario(name=name, description=desc, dimensions=dims, actors=actors,
                        parameters={}, seed=None, affinity=None, source=file, format="csv",
                        lines=meta)


def read_ktab_csv(path: str | Path) -> KtabScenario:
    """Read a KTAB SMP CSV file."""
    return parse_ktab_csv(read_input(path), file=str(path))


# --------------------------------------------------------------------------
# XML


class _Node:
    __slots__ = ("tag", "children", "parts", "line", "column", "path")

    def __init__(self, tag: str, line: int, column: int, path: str):
        self.tag = tag
        self.children: list[_Node] = []
        self.parts: list[str] = []  # character data, joined once: linear in its length
        self.line = line
        self.column = column
        self.path = path

    @property
    def text(self) -> str:
        if len(self.parts) != 1:
            self.parts = ["".join(self.parts)]
        return self.parts[0]

    def all(self, tag: str) -> list["_Node"]:
        return [c for c in self.children if c.tag == tag]


# Encodings an XML declaration may name: those expat decodes itself (a KTAB file is
# UTF-8 in practice); anything else is refused before the parser sees it.
_XML_ENCODINGS = {"utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1",
                  "utf-16"}
_XML_DECL = re.compile(rb"""^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?\bencoding\s*=\s*(["'])(.*?)\1""",
                       re.DOTALL)


class _Limit(Exception):
    """A limit of :mod:`stakes.fileio` passed while parsing."""


class _TreeBuilder(ContentHandler):
    def __init__(self, lim) -> None:
        super().__init__()
        self.lim = lim
        self.stack: list[_Node] = []
        self.counts: list[dict[str, int]] = [{}]
        self.root: _Node | None = None
        self.elements = 0
        self.parser: DefusedExpatParser | None = None  # the SAX driver is its own locator

    def where(self) -> tuple[int | None, int | None]:
        line = self.parser.getLineNumber() if self.parser is not None else None
        col = self.parser.getColumnNumber() if self.parser is not None else None
        return line, None if col is None else col + 1

    def startElement(self, tag: str, attrs) -> None:  # noqa: N802 - SAX's name
        self.elements += 1
        if self.elements > self.lim.max_items:
            raise _Limit(f"more than {self.lim.max_items} elements")
        if len(self.stack) >= self.lim.max_depth:
            raise _Limit(f"elements nested more than {self.lim.max_depth} levels deep")
        parent_counts = self.counts[-1]
        parent_counts[tag] = parent_counts.get(tag, 0) + 1
        parent_path = self.stack[-1].path if self.stack else ""
        path = f"{parent_path}/{tag}[{parent_counts[tag]}]" if parent_path else tag
        line, col = self.where()
        node = _Node(tag, line or 1, col or 1, path)
        if self.stack:
            self.stack[-1].children.append(node)
        else:
            self.root = node
        self.stack.append(node)
        self.counts.append({})

    def endElement(self, tag: str) -> None:  # noqa: N802 - SAX's name
        self.stack.pop()
        self.counts.pop()

    def characters(self, text: str) -> None:
        if self.stack:
            self.stack[-1].parts.append(text)


def _parse_xml_tree(data: bytes, out: DiagnosticList) -> _Node:
    """The element tree, from a hardened parser: no DTD, no entity declarations, no
    external references (defusedxml), bounded depth and element count."""
    decl = _XML_DECL.match(data[:1024])
    if decl is not None:
        enc = decl.group(2).decode("ascii", "replace").strip()
        if enc.lower() not in _XML_ENCODINGS:
            line = data.count(b"\n", 0, decl.start(2)) + 1
            raise out.fail(f"unsupported XML encoding {enc[:40]!r}; save the file as UTF-8",
                           line, None, None)
    # Imported here: the SAX reader pulls in urllib, http and ssl, which a run of a CSV
    # scenario does not need (stakes' start-up time, docs/performance.md).
    from defusedxml.common import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
    from defusedxml.expatreader import DefusedExpatParser

    builder = _TreeBuilder(limits())
    parser = DefusedExpatParser(forbid_dtd=True, forbid_entities=True, forbid_external=True)
    parser.setContentHandler(builder)
    builder.parser = parser
    parser.setFeature(sax_handler.feature_external_ges, False)
    try:
        parser.feed(data)
        parser.close()
    except SAXParseException as exc:
        msg = str(exc.getMessage())
        raise out.fail(f"not well-formed XML ({msg}); not a KTAB XML scenario",
                       exc.getLineNumber(), (exc.getColumnNumber() or 0) + 1, None) from None
    except DTDForbidden:
        line, col = builder.where()
        raise out.fail("XML with a document type declaration (DTD) is not accepted; a KTAB "
                       "scenario has none", line, col, None) from None
    except (EntitiesForbidden, ExternalReferenceForbidden):
        line, col = builder.where()
        raise out.fail("XML entity declarations and external references are not accepted",
                       line, col, None) from None
    except _Limit as exc:
        line, col = builder.where()
        raise out.fail(f"XML too large: {exc} (docs/limits.md)", line, col, None) from None
    except (LookupError, UnicodeError, ValueError) as exc:
        raise out.fail(f"cannot decode the XML text ({str(exc)[:100]}); save the file as "
                       "UTF-8", 1, None, None) from None
    if builder.root is None:
        raise out.fail("no XML element; not a KTAB XML scenario", 1, None, None)
    return builder.root


_REPEATED = ("Actor", "dName", "dCoord", "dSal", "iaPair")


def _simplify(path: str) -> str:
    """Drop the [1] of elements that occur once by definition, for readable paths."""
    return re.sub(r"(\w+)\[1\](?=/|$)",
                  lambda m: m.group(0) if m.group(1) in _REPEATED else m.group(1), path)


def _one(parent: _Node, tag: str, out: DiagnosticList, required: bool = True) -> _Node | None:
    found = parent.all(tag)
    if not found:
        if required:
            out.add(f"missing required element <{tag}>", parent.line, parent.column,
                    _simplify(parent.path) + "/" + tag)
        return None
    if len(found) > 1:
        out.add(f"element <{tag}> appears {len(found)} times; expected once", found[1].line,
                found[1].column, _simplify(found[1].path))
    return found[0]


def _unknown(parent: _Node, allowed: tuple[str, ...], out: DiagnosticList) -> None:
    for c in parent.children:
        if c.tag not in allowed:
            out.add(f"unknown element <{c.tag}> in <{parent.tag}> (expected "
                    f"{', '.join('<' + a + '>' for a in allowed)})", c.line, c.column,
                    _simplify(c.path))


def _xml_number(node: _Node | None, what: str, out: DiagnosticList,
                context: str = "") -> float | None:
    if node is None:
        return None
    path = _simplify(node.path)
    label = f"{what} <{node.tag}>" + (f" ({context})" if context else "")
    if node.children:
        out.add(f"{label} must hold a number, not elements", node.line, node.column, path)
        return None
    return _number(node.text, label, out, node.line, node.column, path)


def parse_ktab_xml(data: bytes | str, file: str | None = None) -> KtabScenario:
    """Parse a KTAB SMP XML scenario; see the module docstring for the layout."""
    out = DiagnosticList(file)
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not data.strip():
        raise out.fail("file is empty; expected a KTAB XML scenario", 1)
    nul = data.find(b"\x00")
    if nul >= 0 and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        line = data.count(b"\n", 0, nul) + 1
        col = nul - (data.rfind(b"\n", 0, nul) + 1) + 1
        raise out.fail("binary data (NUL byte); not a KTAB XML scenario", line, col)
    root = _parse_xml_tree(data, out)
    if root.tag != "Scenario":
        raise out.fail(f"root element is <{root.tag}>; a KTAB scenario starts with <Scenario>",
                       root.line, root.column, root.tag)
    _unknown(root, ("name", "desc", "prngSeed", "ModelParameters", "Dimensions", "Actors",
                    "IdealAdjustment"), out)
    meta: dict[str, int] = {}

    name_el = _one(root, "name", out)
    name = name_el.text.strip() if name_el is not None else ""
    if name_el is not None:
        meta["name"] = name_el.line
        if not name:
            out.add("scenario <name> is empty", name_el.line, name_el.column, "Scenario/name")
    desc_el = _one(root, "desc", out, required=False)
    desc = desc_el.text.strip() if desc_el is not None else ""

    seed = None
    seed_el = _one(root, "prngSeed", out, required=False)
    if seed_el is not None:
        meta["seed"] = seed_el.line
        txt = seed_el.text.strip()
        if not re.fullmatch(r"\d+", txt) or int(txt) >= 2**64:
            out.add(f"<prngSeed> must be an unsigned 64-bit integer, got {txt!r}",
                    seed_el.line, seed_el.column, "Scenario/prngSeed")
        else:
            seed = int(txt)

    params: dict[str, str] = {}
    mp = _one(root, "ModelParameters", out, required=False)
    if mp is not None:
        _unknown(mp, tuple(KTAB_PARAMETERS), out)
        for pname, allowed in KTAB_PARAMETERS.items():
            el = _one(mp, pname, out)
            if el is None:
                continue
            meta[f"parameters.{pname}"] = el.line
            value = el.text.strip()
            if value not in allowed:
                out.add(f"unknown {pname} value {value!r}; expected one of "
                        f"{', '.join(allowed)}", el.line, el.column, _simplify(el.path))
            else:
                params[pname] = value

    dims: list[str] = []
    dims_el = _one(root, "Dimensions", out)
    if dims_el is not None:
        _unknown(dims_el, ("dName",), out)
        seen_d: dict[str, int] = {}
        for k, el in enumerate(dims_el.all("dName")):
            txt = el.text.strip()
            meta[f"dimensions[{k}]"] = el.line
            if not txt:
                out.add("dimension name is empty", el.line, el.column, _simplify(el.path))
            elif txt in seen_d:
                out.add(f"duplicate dimension name {txt!r} (first on line {seen_d[txt]})",
                        el.line, el.column, _simplify(el.path))
            seen_d.setdefault(txt, el.line)
            dims.append(txt)
        if not dims:
            out.add("no <dName> in <Dimensions>; at least one dimension is required",
                    dims_el.line, dims_el.column, "Scenario/Dimensions")
    n_dim = len(dims)

    actors: list[KtabActor] = []
    names: dict[str, int] = {}
    actors_el = _one(root, "Actors", out)
    actor_els = actors_el.all("Actor") if actors_el is not None else []
    if actors_el is not None:
        _unknown(actors_el, ("Actor",), out)
        _check_actor_count(len(actor_els), out, actors_el.line, actors_el.column,
                           "Scenario/Actors")
    ok = True
    for a, ael in enumerate(actor_els):
        meta[f"actors[{a}]"] = ael.line
        _unknown(ael, ("name", "description", "capability", "Position", "Salience"), out)
        nel = _one(ael, "name", out)
        aname = nel.text.strip() if nel is not None else ""
        if nel is not None:
            _check_name(aname, out, nel.line, nel.column, _simplify(nel.path))
            if aname in names:
                out.add(f"duplicate actor name {aname!r} (first on line {names[aname]})",
                        nel.line, nel.column, _simplify(nel.path))
            names.setdefault(aname, nel.line)
        del_ = _one(ael, "description", out, required=False)
        cel = _one(ael, "capability", out)
        cap = _xml_number(cel, "capability", out, f"actor {aname!r}")
        if cel is not None:
            cap = _in_range(cap, 0.0, MAX_CAPABILITY, "capability", out, cel.line, cel.column,
                            _simplify(cel.path))
        vectors: dict[str, list[float | None]] = {}
        for block, item, what in (("Position", "dCoord", "position"),
                                  ("Salience", "dSal", "salience")):
            bel = _one(ael, block, out)
            vals: list[float | None] = []
            if bel is not None:
                _unknown(bel, (item,), out)
                items = bel.all(item)
                if len(items) != n_dim and n_dim:
                    out.add(f"<{block}> has {len(items)} <{item}> elements; there are {n_dim} "
                            "dimensions", bel.line, bel.column, _simplify(bel.path))
                for k, el in enumerate(items):
                    dim = f", dimension {dims[k]!r}" if k < n_dim else ""
                    v = _xml_number(el, what, out, f"actor {aname!r}{dim}")
                    vals.append(_in_range(v, 0.0, 100.0, what, out, el.line, el.column,
                                          _simplify(el.path)))
            else:
                vals = [None]
            vectors[block] = vals
        sal = vectors["Salience"]
        if n_dim and len(sal) == n_dim and ael.all("Salience"):
            sal_el = ael.all("Salience")[0]
            _check_salience_sum(sal, out, sal_el.line, sal_el.column,
                                _simplify(sal_el.path), aname)
        pos = vectors["Position"]
        if (cap is None or None in pos or None in sal or len(pos) != n_dim
                or len(sal) != n_dim):
            ok = False
            continue
        actors.append(KtabActor(aname, del_.text.strip() if del_ is not None else "", cap,
                                pos, sal))  # type: ignore[arg-type]

    affinity: list[tuple[int, int, float]] | None = None
    ia = _one(root, "IdealAdjustment", out, required=False)
    if ia is not None:
        _unknown(ia, ("iaPair",), out)
        affinity = []
        index = {a: k for k, a in enumerate(names)}
        seen_pairs: dict[tuple[int, int], int] = {}
        row_last: dict[int, _Node] = {}
        for k, pel in enumerate(ia.all("iaPair")):
            meta[f"affinity[{k}]"] = pel.line
            _unknown(pel, ("adjustingIdeal", "referencePos", "adjust"), out)
            ends = []
            for tag in ("adjustingIdeal", "referencePos"):
                el = _one(pel, tag, out)
                if el is None:
                    ends.append(None)
                    continue
                txt = el.text.strip()
                if txt not in index:
                    out.add(f"<{tag}> names unknown actor {txt!r}", el.line, el.column,
                            _simplify(el.path))
                    ends.append(None)
                else:
                    ends.append(index[txt])
            adj_el = _one(pel, "adjust", out)
            v = _xml_number(adj_el, "affinity", out)
            if adj_el is not None:
                v = _in_range(v, 0.0, 1.0, "affinity", out, adj_el.line, adj_el.column,
                              _simplify(adj_el.path))
            if None in ends or v is None:
                continue
            i, j = ends  # type: ignore[misc]
            if (i, j) in seen_pairs:
                out.add(f"duplicate iaPair for ({list(names)[i]!r}, "
                        f"{list(names)[j]!r}); first on line {seen_pairs[(i, j)]}",
                        pel.line, pel.column, _simplify(pel.path))
                continue
            seen_pairs[(i, j)] = pel.line
            row_last[i] = pel
            affinity.append((i, j, v))
        if ok and not out.items:
            mat = np.eye(len(names))
            for i, j, v in affinity:
                mat[i, j] = v
            for i, total in enumerate(mat.sum(axis=1)):
                if total > 1.0 + _SUM_TOL:
                    pel = row_last[i]
                    out.add(f"affinity row of actor {list(names)[i]!r} sums to {total:g} "
                            "(entries not listed keep the identity's 1 on the diagonal); "
                            "a row must sum to <= 1", pel.line, pel.column, _simplify(pel.path))
    out.raise_if_any()
    return KtabScenario(name=name, description=desc, dimensions=dims, actors=actors,
                        parameters=params, seed=seed, affinity=affinity, source=file,
                        format="xml", lines=meta)


def read_ktab_xml(path: str | Path) -> KtabScenario:
    """Read a KTAB SMP XML scenario file."""
    return parse_ktab_xml(read_input(path), file=str(path))


def read_ktab(path: str | Path) -> KtabScenario:
    """Read a KTAB scenario, CSV or XML by suffix (or, without one, by content)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".xml":
        return read_ktab_xml(path)
    if suffix == ".csv":
        return read_ktab_csv(path)
    data = read_input(path)
    if data[:200].lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return parse_ktab_xml(data, file=str(path))
    return parse_ktab_csv(data, file=str(path))


# --------------------------------------------------------------------------
# Conversion for direct model runs


def ktab_to_problem(ks: KtabScenario):
    """The SMP model input of a KTAB scenario, built through its scenario
    (:func:`~stakes.readers.detect.ktab_to_scenario`): readers make scenarios, and
    :func:`~stakes.scenario.arrays.to_problem` makes every model input.

    Issues are the dimensions on [0, 100], actors and issues under their names; saliences are divided by 100; each
    actor's capability is repeated on every issue; the affinity is the identity
    with the scenario's ``IdealAdjustment`` entries set.  No status quo.
    """
    from dataclasses import replace

    from ..scenario.arrays import to_problem
    from .detect import ktab_to_scenario

    problem = to_problem(ktab_to_scenario(ks))
    # The scenario's ids are the names made unique and id-safe; the model input keeps the
    # names (actors and dimensions come in the same order).
    return replace(problem, actor_ids=tuple(a.name for a in ks.actors),
                   issue_ids=tuple(ks.dimensions))


def ktab_options(ks: KtabScenario) -> dict[str, str]:
    """The scenario's KTAB parameters as SMP option values (``VotingRule`` -> ``voting_rule``)."""
    from stakes.kernels.smp import KTAB_NAMES

    by_ktab = {v: name for name, v in KTAB_NAMES.items()}
    return {by_ktab[key]: value for key, value in ks.parameters.items()}
