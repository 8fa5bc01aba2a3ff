"""Readers of the one-issue actor tables used by expected-utility codes.

Two layouts, one actor per row (spec §7):

* **BDM CSV** (``bdm-csv``): comma-separated, header
  ``Actor,Capability,Position,Salience`` (the Scholz et al. 2011 replication
  code and its forks); ``Stakeholder,Resources,Position,Salience`` is read the
  same way.  Salience is on 0-1 or 0-100.
* **decisionmechanics TSV** (``dm-tsv``): tab-separated, header
  ``Name x c s`` (position, capability, salience 0-1), often starting with a
  UTF-8 byte-order mark; one file leaves the name header empty.

Both give a scenario with one issue.  What the reader decides, and how to
change it:

* **Salience scale.** ``salience_scale="auto"`` takes 0-100 when any salience
  is above 1 and 0-1 otherwise; a file with saliences both above 1 and strictly
  between 0 and 1 is refused as mixing scales; ``"unit"`` or ``"percent"``
  force the scale.
  Saliences are stored on [0, 1] (0-100 values are divided by 100).
* **Issue scale.** The range of the positions (the EUM codes normalise by it),
  unless ``scale=(lo, hi)`` is given; all positions equal is an error then.
* **Actor ids** are made from the names (ASCII letters, digits, ``_ . -``;
  other runs of characters become ``_``), the name itself is kept as the
  display name.  Two rows with the same name are an error; distinct names
  that make the same id get ``_2``, ``_3``... and the scenario description
  says so.
* **Extra columns** (the "new model" ``Flexibility, Veto, Fixed`` of
  ``mugabe-full.csv``) are ignored, and the scenario description names them.
  A header name that repeats one of the four columns is an error, except as
  a trailing column that no row fills (``mugabe-full.csv`` ends its header
  with a second ``Position`` but every row has seven values): it is ignored.
* Every value gets basis ``data`` citing a source entry that names the file.

Errors name the file, line, column and the column's header, e.g.
``ExampleActors.csv:4:15: Salience: must be within [0, 1], got 1.5``.
"""

from __future__ import annotations

import math
import os
import re
import unicodedata
from pathlib import Path
from typing import Any, Literal

from ..errors import InputError, OptionError, DiagnosticList
from ..scenario.schema import MAX_ABS, Scenario
from ..fileio import check_items
from ..scenario.yaml_io import read_text_file, scenario_from_data

SalienceScale = Literal["auto", "unit", "percent"]
SALIENCE_SCALES = ("auto", "unit", "percent")

# Header names (case-insensitive) of the four columns.
COLUMNS: dict[str, tuple[str, ...]] = {
    "actor": ("actor", "stakeholder", "name", "player"),
    "capability": ("capability", "resources", "power", "c"),
    "position": ("position", "x"),
    "salience": ("salience", "s"),
}
_ROLE_TITLE = {"actor": "Actor", "capability": "Capability", "position": "Position",
               "salience": "Salience"}
_LAYOUT = {
    "bdm-csv": (",", "BDM CSV", "Actor,Capability,Position,Salience"),
    "dm-tsv": ("\t", "decisionmechanics TSV", "Name<TAB>x<TAB>c<TAB>s"),
}
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_NONFINITE = re.compile(r"^[+-]?(nan|inf|infinity)$", re.IGNORECASE)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
MAX_NAME = 200  # the scenario schema's limit on display names


# --------------------------------------------------------------------------
# helpers shared by the other converters


def slug(text: str, max_len: int = 64) -> str:
    """An identifier made from ``text``: ASCII letters, digits, ``_ . -``.

    Accents are dropped (``Zürich`` -> ``Zurich``), other runs of characters
    become one ``_``; case is kept, so ``NO`` (Norway) stays ``NO``.  Empty
    when nothing usable is left.
    """
    t = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    t = re.sub(r"[^A-Za-z0-9_.\-]+", "_", t)
    t = t.lstrip("_.-")
    t = t[:max_len].rstrip("_.-")
    return t


def make_ids(names: list[str], fallback: str) -> tuple[list[str], list[str]]:
    """Unique ids for ``names`` (see :func:`slug`), and notes on ids made unique.

    A name with nothing usable gets ``<fallback><k>`` (k counted from 1).
    Equal ids of distinct names get ``_2``, ``_3``... in file order.
    """
    ids: list[str] = []
    notes: list[str] = []
    used: set[str] = set()
    for k, name in enumerate(names):
        base = slug(name) or f"{fallback}{k + 1}"
        cand, n = base, 2
        while cand in used:
            suffix = f"_{n}"
            cand = base[: 64 - len(suffix)] + suffix
            n += 1
        if cand != base:
            notes.append(f"{name!r} -> {cand}")
        used.add(cand)
        ids.append(cand)
    return ids, notes


def clip(text: str, limit: int = MAX_NAME) -> str:
    """``text`` cut to the schema's limit on names, marked with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def data_basis(source_id: str, note: str | None = None) -> dict[str, Any]:
    basis: dict[str, Any] = {"kind": "data", "source": source_id}
    if note:
        basis["note"] = note
    return basis


def source_entry(file: str, format_title: str) -> dict[str, Any]:
    name = Path(file).name or file
    return {
        "id": slug(Path(file).stem) or "input",
        "title": f"{name} ({format_title})",
        "file": name,
    }


def build_scenario(data: dict[str, Any], where: dict[tuple, tuple[int, int]],
                   file: str) -> Scenario:
    """Validate converted data with the scenario's own checks.

    ``where`` maps scenario paths to 0-based (line, column) in the source file,
    so that a problem the reader did not catch still points into that file.
    """
    where = {(): (0, 0), **where}
    return scenario_from_data(data, where, file)


def check_salience_scale(value: str) -> str:
    if value not in SALIENCE_SCALES:
        raise OptionError(f"salience_scale {value!r}: expected one of "
                          f"{', '.join(SALIENCE_SCALES)}")
    return value


def check_scale(scale: Any) -> tuple[float, float] | None:
    if scale is None:
        return None
    try:
        lo, hi = (float(v) for v in scale)
    except (TypeError, ValueError):
        raise OptionError(f"scale {scale!r}: expected two numbers (min, max)") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or max(abs(lo), abs(hi)) > MAX_ABS:
        raise OptionError(f"scale {scale!r}: both ends must be finite numbers within "
                          f"+-{MAX_ABS:g}")
    if not lo < hi:
        raise OptionError(f"scale {scale!r}: min must be below max")
    return lo, hi


# --------------------------------------------------------------------------
# table splitting


def _split(line: str, delim: str) -> tuple[list[tuple[str, int]], str | None]:
    """Fields of one line as (text, 1-based column), and an error message if any.

    Double quotes may enclose a field (a doubled quote stands for one);
    spaces around fields are trimmed.
    """
    fields: list[tuple[str, int]] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] == " ":
            i += 1
        start = i
        if i < n and line[i] == '"':
            i += 1
            buf: list[str] = []
            closed = False
            while i < n:
                if line[i] == '"':
                    if i + 1 < n and line[i + 1] == '"':
                        buf.append('"')
                        i += 2
                        continue
                    closed = True
                    i += 1
                    break
                buf.append(line[i])
                i += 1
            if not closed:
                return fields, f"unterminated quote in column {start + 1}"
            end = line.find(delim, i)
            end = n if end < 0 else end
            if line[i:end].strip():
                return fields, f"text after the closing quote in column {i + 1}"
            text = "".join(buf)
        else:
            end = line.find(delim, i)
            end = n if end < 0 else end
            text = line[i:end].strip()
        fields.append((text, start + 1))
        if end >= n:
            return fields, None
        i = end + 1


def _other_delimiter(line: str, delim: str) -> str | None:
    for d, name in ((",", "commas"), ("\t", "tabs"), (";", "semicolons"), ("|", "bars")):
        if d != delim and d in line:
            return name
    return None


# --------------------------------------------------------------------------
# the reader


def _number(text: str) -> tuple[float | None, str | None]:
    if text == "":
        return None, "is empty; expected a number"
    if _NONFINITE.match(text):
        return None, f"must be a finite number, got {text!r}"
    if not _NUMBER.match(text):
        hint = " (use '.' as the decimal separator)" if re.fullmatch(r"[+-]?\d+,\d+", text) else ""
        return None, f"expected a number, got {text[:40]!r}{hint}"
    value = float(text)
    if not math.isfinite(value):
        return None, f"must be a finite number, got {text!r} (out of floating-point range)"
    if abs(value) > MAX_ABS:
        return None, f"{text} is too large (magnitude above {MAX_ABS:g})"
    return value, None


def parse_table(text: str, file: str = "<input>", *, fmt: str = "bdm-csv",
                salience_scale: SalienceScale = "auto",
                scale: tuple[float, float] | None = None) -> Scenario:
    """Parse the text of a BDM CSV (``fmt="bdm-csv"``) or decisionmechanics TSV
    (``fmt="dm-tsv"``) file into a one-issue scenario (see the module docstring)."""
    if fmt not in _LAYOUT:
        raise OptionError(f"fmt {fmt!r}: expected bdm-csv or dm-tsv")
    salience_scale = check_salience_scale(salience_scale)  # type: ignore[assignment]
    scale = check_scale(scale)
    delim, title, expected_header = _LAYOUT[fmt]
    out = DiagnosticList(file)
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\x00" in text:
        raise out.fail("not a text file (contains NUL bytes)")
    if not text.strip():
        raise out.fail(f"file is empty; expected a header line {expected_header}", 1, 1,
                       "header")
    lines = _LINE_BREAK.split(text)
    numbered = [(k + 1, ln) for k, ln in enumerate(lines) if ln.strip()]

    # header ---------------------------------------------------------------
    hline, htext = numbered[0]
    if delim not in htext:
        other = _other_delimiter(htext, delim)
        what = "commas" if delim == "," else "tabs"
        found = f" (found {other})" if other else ""
        raise out.fail(f"header has no field separators: a {title} file separates its fields "
                       f"with {what}{found}; expected {expected_header}", hline, 1, "header")
    header, err = _split(htext, delim)
    if err:
        raise out.fail(err, hline, None, "header")
    roles: dict[str, list[int]] = {r: [] for r in COLUMNS}
    extra: list[int] = []
    for k, (name, _col) in enumerate(header):
        key = name.casefold()
        role = next((r for r, names in COLUMNS.items() if key in names), None)
        if role is None and key == "" and k == 0 and fmt == "dm-tsv":
            role = "actor"  # decisionmechanics' emission-standards.txt leaves it blank
        if role is None:
            if name == "" and k == len(header) - 1 and k > 0:
                continue  # a trailing separator
            extra.append(k)
        else:
            roles[role].append(k)
    missing = [r for r, ks in roles.items() if not ks]
    if missing:
        found = ", ".join(repr(n[:40]) for n, _ in header[:8])
        if len(header) > 8:
            found += f", ... ({len(header)} columns)"
        raise out.fail(
            f"missing column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(_ROLE_TITLE[r] for r in missing)} (header has {found}; expected "
            f"{expected_header})", hline, 1, "header")

    # rows -----------------------------------------------------------------
    rows: list[tuple[int, list[tuple[str, int]]]] = []
    for ln, raw in numbered[1:]:
        fields, err = _split(raw, delim)
        if err:
            out.add(err, ln, None, None)
            continue
        if all(t == "" for t, _ in fields):
            continue  # a row of empty cells, as spreadsheets export them
        while len(fields) > len(header) and fields[-1][0] == "":
            fields.pop()  # a trailing separator
        rows.append((ln, fields))
    if not rows and not out.items:
        raise out.fail("no actor rows after the header", hline + 1, None, None)
    widest = max((len(f) for _, f in rows), default=0)

    use: dict[str, int] = {}
    ignored: list[str] = []
    for role, ks in roles.items():
        use[role] = ks[0]
        for k in ks[1:]:
            name, col = header[k]
            if k >= widest:
                ignored.append(f"a second {name!r} header (column {k + 1}) with no values in "
                               "any row")
            else:
                out.add(f"column {name!r} appears twice (columns {ks[0] + 1} and {k + 1}); "
                        "which one holds the data is unclear", hline, col, name)
    if out.items:
        raise InputError(out.items)
    extra_names = [header[k][0] or f"column {k + 1}" for k in extra]
    if extra_names:
        ignored.insert(0, f"column{'s' if len(extra_names) > 1 else ''} "
                          f"{', '.join(extra_names)} (not used by stakes)")
    need = max(use.values()) + 1
    field_of = {role: header[k][0] or _ROLE_TITLE[role] for role, k in use.items()}

    names: list[tuple[str, int, int]] = []  # name, line, column
    cap: list[tuple[float, int, int]] = []
    pos: list[tuple[float, int, int]] = []
    sal: list[tuple[float, int, int]] = []
    first_line: dict[str, int] = {}
    for ln, fields in rows:
        if len(fields) < need:
            lacking = [field_of[r] for r, k in sorted(use.items(), key=lambda t: t[1])
                       if k >= len(fields)]
            last_text, last_col = fields[-1]
            out.add(f"truncated row: {len(fields)} field{'s' if len(fields) != 1 else ''}, "
                    f"missing {', '.join(lacking)}", ln, last_col + len(last_text), lacking[0])
            continue
        if len(fields) > len(header):
            other = f" (header has {len(header)})"
            out.add(f"row has {len(fields)} fields, more than the header{other}; is a "
                    f"value quoted wrongly or the separator wrong?", ln,
                    fields[len(header)][1], None)
            continue
        ok = True
        name, ncol = fields[use["actor"]]
        if name == "":
            out.add("actor name is empty", ln, ncol, field_of["actor"])
            ok = False
        elif len(name) > MAX_NAME:
            out.add(f"actor name has {len(name)} characters; at most {MAX_NAME}", ln, ncol,
                    field_of["actor"])
            ok = False
        elif name in first_line:
            out.add(f"duplicate actor name {name!r} (first on line {first_line[name]})", ln,
                    ncol, field_of["actor"])
            ok = False
        else:
            first_line[name] = ln
        parsed: dict[str, tuple[float, int, int]] = {}
        for role in ("capability", "position", "salience"):
            t, col = fields[use[role]]
            value, err = _number(t)
            if err:
                out.add(err, ln, col, field_of[role])
                ok = False
                continue
            if role in ("capability", "salience") and value < 0:  # type: ignore[operator]
                out.add(f"must be >= 0, got {t}", ln, col, field_of[role])
                ok = False
                continue
            parsed[role] = (value, ln, col)  # type: ignore[assignment]
        if ok:
            names.append((name, ln, ncol))
            cap.append(parsed["capability"])
            pos.append(parsed["position"])
            sal.append(parsed["salience"])
    if out.items:
        raise InputError(out.items)

    # salience scale --------------------------------------------------------
    above_one = [s for s in sal if s[0] > 1]
    if salience_scale == "auto":
        percent = bool(above_one)
        how = ("0-100 (detected: a salience is above 1)" if percent
               else "0-1 (detected: no salience above 1)")
    else:
        percent = salience_scale == "percent"
        how = "0-100 (as told)" if percent else "0-1 (as told)"
    fractions = [s for s in sal if 0 < s[0] < 1]
    if salience_scale == "auto" and percent and fractions:
        # e.g. one salience 1.8 among values on 0-1: dividing all by 100 would silently
        # shrink the others a hundredfold, so the reader asks instead of guessing.
        v, ln, col = fractions[0]
        big, bln, _ = above_one[0]
        out.add(f"mixed salience scales: {v:g} is on the 0-1 scale but {big:g} (line {bln}) "
                "is above 1; correct the values, or name the scale (salience_scale 'unit' or "
                "'percent', --salience-scale)", ln, col, field_of["salience"])
        raise InputError(out.items)
    limit = 100.0 if percent else 1.0
    for v, ln, col in sal:
        if v > limit:
            because = ("" if salience_scale != "auto"
                       else " (0-100 scale detected because a salience is above 1)")
            told = f" (salience_scale={salience_scale!r})" if salience_scale != "auto" else ""
            out.add(f"must be within [0, {limit:g}], got {v:g}{because}{told}", ln, col,
                    field_of["salience"])
    # issue scale -------------------------------------------------------------
    if scale is None:
        lo = min(p[0] for p in pos)
        hi = max(p[0] for p in pos)
        scale_how = f"the range of the positions, [{lo:g}, {hi:g}]"
        if not lo < hi:
            out.add(f"all positions are equal ({lo:g}), so their range gives no scale; give "
                    "the scale explicitly (scale=(min, max))", hline,
                    header[use["position"]][1], field_of["position"])
    else:
        lo, hi = scale
        scale_how = f"[{lo:g}, {hi:g}] (as told)"
        for v, ln, col in pos:
            if not lo <= v <= hi:
                out.add(f"position {v:g} is outside the scale [{lo:g}, {hi:g}]", ln, col,
                        field_of["position"])
    if out.items:
        raise InputError(out.items)

    # the scenario ------------------------------------------------------------
    src = source_entry(file, title)
    sid = src["id"]
    stem = Path(file).stem or "input"
    issue_id = slug(stem) or "issue"
    actor_ids, renamed = make_ids([n for n, _, _ in names], "actor")
    notes = [f"Converted from {src['file']} ({title}).",
             f"Salience scale of the file: {how}"
             + ("; divided by 100." if percent else "."),
             f"Issue scale: {scale_how}."]
    if ignored:
        notes.append("Ignored: " + "; ".join(ignored) + ".")
    if renamed:
        notes.append("Actor ids made unique: " + ", ".join(renamed) + ".")
    basis = data_basis(sid)
    data: dict[str, Any] = {
        "stakes": 1,
        "metadata": {"name": clip(stem), "description": " ".join(notes), "sources": [src]},
        "actors": [],
        "issues": [{"id": issue_id, "name": clip(stem), "scale": {"min": lo, "max": hi}}],
        "entries": [],
    }
    where: dict[tuple, tuple[int, int]] = {
        ("issues", 0): (hline - 1, 0),
        ("issues", 0, "scale"): (hline - 1, header[use["position"]][1] - 1),
    }
    for k, aid in enumerate(actor_ids):
        name, ln, ncol = names[k]
        c, _, ccol = cap[k]
        p, _, pcol = pos[k]
        s, _, scol = sal[k]
        data["actors"].append({"id": aid, "name": name,
                               "capability": {"value": c, "basis": dict(basis)}})
        data["entries"].append({
            "actor": aid, "issue": issue_id,
            "position": {"value": p, "basis": dict(basis)},
            "salience": {"value": s / 100.0 if percent else s, "basis": dict(basis)},
        })
        where[("actors", k)] = (ln - 1, ncol - 1)
        where[("actors", k, "capability")] = (ln - 1, ccol - 1)
        where[("entries", k)] = (ln - 1, 0)
        where[("entries", k, "position")] = (ln - 1, pcol - 1)
        where[("entries", k, "salience")] = (ln - 1, scol - 1)
    return build_scenario(data, where, file)


def read_table(path: str | os.PathLike, *, fmt: str = "bdm-csv",
               salience_scale: SalienceScale = "auto",
               scale: tuple[float, float] | None = None) -> Scenario:
    """Read a BDM CSV or decisionmechanics TSV file (see :func:`parse_table`)."""
    text = read_text_file(path)
    check_items(text, str(path))
    return parse_table(text, str(path), fmt=fmt, salience_scale=salience_scale, scale=scale)


def read_bdm_csv(path: str | os.PathLike, *, salience_scale: SalienceScale = "auto",
                 scale: tuple[float, float] | None = None) -> Scenario:
    """Read a BDM CSV file (``Actor,Capability,Position,Salience``)."""
    return read_table(path, fmt="bdm-csv", salience_scale=salience_scale, scale=scale)


def read_dm_tsv(path: str | os.PathLike, *, salience_scale: SalienceScale = "auto",
                scale: tuple[float, float] | None = None) -> Scenario:
    """Read a decisionmechanics TSV file (``Name x c s``)."""
    return read_table(path, fmt="dm-tsv", salience_scale=salience_scale, scale=scale)
