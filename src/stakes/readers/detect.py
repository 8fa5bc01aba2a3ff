"""Which format a file is in, and the converters of KTAB and decide input.

:func:`detect_format` looks at the extension first where it is unambiguous
(``.yaml``/``.yml``: our scenario; ``.xml``: KTAB XML), then at the content:

* ``<`` as the first character: KTAB XML;
* a first row code ``#A``, ``#P``, ``#M``, ``#D``, ``#0``/``#O`` or ``#/``
  (quoted or not) followed by a tab: decide TSV;
* a header naming actor, capability, position and salience columns
  (``Actor,Capability,Position,Salience``, ``Stakeholder,Resources,...``,
  ``Name x c s``): BDM CSV when comma-separated, decisionmechanics TSV when
  tab-separated;
* a first line ``name, description, <integer>, <integer>``: KTAB CSV;
* a YAML document whose first key is one of the scenario's keys
  (``stakes``, ``metadata``, ``actors``, ``issues``, ``entries``): our scenario.

Anything else is an :class:`~stakes.errors.InputError` that names the
formats tried; ``fmt=`` overrides the detection.

The converters turn the peer readers' structures (:mod:`stakes.readers.ktab`,
:mod:`stakes.readers.decide`) into a :class:`~stakes.scenario.schema.Scenario`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from ..errors import InputError, Diagnostic
from ..scenario.schema import Scenario
from ..fileio import decode_text, read_input
from .bdm import COLUMNS, build_scenario, clip, data_basis, make_ids, source_entry
from .decide import DecideScenario
from .ktab import KtabScenario, ktab_options

FORMATS: dict[str, str] = {
    "stakes-yaml": "stakes scenario, YAML 1.2 (docs/formats.md)",
    "bdm-csv": "BDM CSV: Actor,Capability,Position,Salience, one issue (Scholz et al. 2011 code)",
    "dm-tsv": "decisionmechanics TSV: Name, x, c, s (tab-separated), one issue",
    "ktab-csv": "KTAB SMP CSV: title line, header, one row per actor, several dimensions",
    "ktab-xml": "KTAB SMP XML scenario with model parameters and affinities",
    "decide-tsv": "decide-exchange-model input: tab-separated #A/#P/#M/#D rows",
}

_DECIDE_ROW = re.compile(r"""^\s*(['"]?)#[APMD0O/]\1\s*(\t|$)""")
_YAML_START = re.compile(r"^(%YAML|---|(stakes|metadata|actors|issues|entries)\s*:)")
_INTEGER = re.compile(r"^\s*[+-]?\d+\s*$")
_ROLE_NAMES = {name: role for role, names in COLUMNS.items() for name in names}


def _roles(fields: list[str]) -> set[str]:
    return {_ROLE_NAMES[f.strip().strip("\"'").casefold()] for f in fields
            if f.strip().strip("\"'").casefold() in _ROLE_NAMES}


def sniff(text: str) -> str | None:
    """The format of ``text`` judged by its content alone, or None."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = [ln for ln in re.split(r"\r\n|\r|\n", text) if ln.strip()]
    if not lines:
        return None
    first = lines[0]
    if first.lstrip().startswith("<"):
        return "ktab-xml"
    if _DECIDE_ROW.match(first):
        return "decide-tsv"
    if "\t" in first:
        fields = first.split("\t")
        if len(_roles(fields)) == 4 or (
                fields[0].strip() == "" and _roles(fields[1:]) >= {"capability", "position",
                                                                    "salience"}):
            return "dm-tsv"
    if "," in first:
        fields = first.split(",")
        if len(_roles(fields)) == 4:
            return "bdm-csv"
        if len(fields) >= 4 and _INTEGER.match(fields[2]) and _INTEGER.match(fields[3]):
            return "ktab-csv"
    for ln in lines:
        if ln.lstrip().startswith("#"):
            continue  # comments before the first key (our converter writes a header)
        if _YAML_START.match(ln):
            return "stakes-yaml"
        break
    return None


def detect_format(path: str | os.PathLike) -> str:
    """The name of the format of the file at ``path`` (a key of :data:`FORMATS`).

    Raises InputError when the file cannot be read or its format is not
    recognised.
    """
    p = Path(path)
    name = str(path)
    suffix = p.suffix.lower()
    data = read_input(p)  # refuses what is not a regular file, or is too large
    if suffix in (".yaml", ".yml"):
        return "stakes-yaml"
    if suffix == ".xml":
        return "ktab-xml"
    if data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return "ktab-xml"  # the XML reader deals with its own encodings
    text = decode_text(data, name)  # refuses binary and non-UTF-8 input with a clear message
    if not text.strip():
        raise InputError(Diagnostic("file is empty", file=name))
    found = sniff(text)
    if found is None:
        first = next((k for k, ln in enumerate(re.split(r"\r\n|\r|\n", text), 1)
                      if ln.strip()), 1)
        raise InputError(Diagnostic(
            "cannot tell the format: the first line is not a BDM CSV header "
            "(Actor,Capability,Position,Salience), a decisionmechanics header (Name x c s), a "
            "KTAB CSV title line (name, description, numActors, numDims), a decide row "
            "(#A/#P/#M/#D), XML, or the start of a stakes YAML scenario; name the format "
            f"(one of {', '.join(FORMATS)})", file=name, line=first, column=1))
    return found


# --------------------------------------------------------------------------
# KTAB


def _smp_option_fields() -> set[str]:
    from ..models.smp import SMPOptions

    return set(SMPOptions.model_fields)


def ktab_to_scenario(ks: KtabScenario) -> Scenario:
    """A scenario from a KTAB SMP scenario (spec §3.1, 7).

    Issues are the dimensions (id from the name, name as given) on a 0-100
    scale; saliences are divided by 100; each actor's capability is set on the
    actor; ``IdealAdjustment`` entries become ``affinity`` (unset entries keep
    the identity, as in KTAB); the XML ``ModelParameters`` become
    ``options["smp"]`` under the SMP option names.  The PRNG seed goes to
    ``options["smp"]["seed"]`` when the SMP options have that field, and into
    the description otherwise.
    """
    file = ks.source or "<input>"
    kind = "xml" if ks.format == "xml" else "csv"
    title = f"KTAB SMP {kind.upper()}"
    src = source_entry(file, title)
    sid = src["id"]
    basis = data_basis(sid)
    lines = ks.lines or {}
    actor_ids, renamed = make_ids([a.name for a in ks.actors], "actor")
    issue_ids, renamed_d = make_ids(list(ks.dimensions), "dim")

    notes = [f"Converted from {src['file']} ({title}); positions on 0-100 as in KTAB, "
             "saliences divided by 100."]
    if ks.description:
        notes.insert(0, ks.description.rstrip() + ("" if ks.description.rstrip().endswith(".")
                                                   else "."))
    options: dict[str, dict[str, Any]] = {}
    smp = dict(ktab_options(ks)) if ks.parameters else {}
    if ks.seed is not None:
        if "seed" in _smp_option_fields():
            smp["seed"] = ks.seed
        else:
            notes.append(f"KTAB prngSeed: {ks.seed}.")
    if smp:
        options["smp"] = smp
    if renamed or renamed_d:
        notes.append("Ids made unique: " + ", ".join(renamed + renamed_d) + ".")

    def at(key: str) -> tuple[int, int] | None:
        ln = lines.get(key)
        return None if ln is None else (ln - 1, 0)

    where: dict[tuple, tuple[int, int]] = {}
    issues = []
    for d, (iid, dname) in enumerate(zip(issue_ids, ks.dimensions)):
        issues.append({"id": iid, "name": clip(dname), "scale": {"min": 0.0, "max": 100.0}})
        if (loc := at(f"dimensions[{d}]")) is not None:
            where[("issues", d)] = loc
    actors, entries = [], []
    for k, (aid, a) in enumerate(zip(actor_ids, ks.actors)):
        actor: dict[str, Any] = {"id": aid, "name": a.name,
                                 "capability": {"value": float(a.capability),
                                                "basis": dict(basis)}}
        if a.description:
            actor["description"] = a.description
        actors.append(actor)
        loc = at(f"actors[{k}]")
        if loc is not None:
            where[("actors", k)] = loc
        for d, iid in enumerate(issue_ids):
            if loc is not None:
                where[("entries", len(entries))] = loc
            entries.append({
                "actor": aid, "issue": iid,
                "position": {"value": float(a.positions[d]), "basis": dict(basis)},
                "salience": {"value": float(a.saliences[d]) / 100.0, "basis": dict(basis)},
            })
    data: dict[str, Any] = {
        "stakes": 1,
        "metadata": {"name": clip(ks.name or Path(file).stem or "KTAB scenario"),
                     "description": " ".join(notes), "sources": [src]},
        "actors": actors,
        "issues": issues,
        "entries": entries,
    }
    if ks.affinity is not None:
        data["affinity"] = [{"actor": actor_ids[i], "toward": actor_ids[j], "weight": float(v)}
                            for i, j, v in ks.affinity]
        for k in range(len(ks.affinity)):
            if (loc := at(f"affinity[{k}]")) is not None:
                where[("affinity", k)] = loc
    if options:
        data["options"] = options
    return build_scenario(data, where, file)


# --------------------------------------------------------------------------
# decide


def decide_to_scenario(ds: DecideScenario) -> Scenario:
    """A scenario from a decide-exchange-model input file (spec §4.1, 7).

    Issues in ``#P`` order, their scale the range of the ``#M`` points (0-100
    without any) with the labels of the end points; actors in ``#A`` order,
    those without any ``#D`` row left out (as decide does) and named in the
    description; each ``#D`` row an entry with its position, salience (0-1)
    and power as the entry's capability.  Numbers are the file's decimals read
    as floats (their shortest repr gives the decimal text back).
    """
    file = ds.source or "<input>"
    title = "decide TSV"
    src = source_entry(file, title)
    sid = src["id"]
    basis = data_basis(sid)
    with_rows = {e.actor_id for e in ds.entries}
    kept = [a for a in ds.actors if a.id in with_rows]
    dropped = [a.id for a in ds.actors if a.id not in with_rows]
    actor_ids, renamed = make_ids([a.id for a in kept], "actor")
    issue_ids, renamed_i = make_ids([i.id for i in ds.issues], "issue")
    aid_of = {a.id: new for a, new in zip(kept, actor_ids)}
    iid_of = {i.id: new for i, new in zip(ds.issues, issue_ids)}

    notes = [f"Converted from {src['file']} ({title}); power is each entry's capability."]
    if dropped:
        notes.append("Actors without any #D row left out: " + ", ".join(dropped) + ".")
    if renamed or renamed_i:
        notes.append("Ids made unique: " + ", ".join(renamed + renamed_i) + ".")

    issues = []
    for i, iid in zip(ds.issues, issue_ids):
        scale: dict[str, Any] = {"min": float(i.lo), "max": float(i.hi)}
        labels = {}
        for text, label in i.points:
            if label:
                labels.setdefault(float(text), label)
        if float(i.lo) in labels:
            scale["min_label"] = labels[float(i.lo)]
        if float(i.hi) in labels:
            scale["max_label"] = labels[float(i.hi)]
        issue: dict[str, Any] = {"id": iid, "name": clip(i.name or i.id), "scale": scale}
        inner = [f"{t} = {lab}" for t, lab in i.points
                 if lab and float(t) not in (float(i.lo), float(i.hi))]
        desc = i.description if i.description and i.description != i.name else ""
        if inner:
            desc = (desc + " " if desc else "") + "Scale points: " + "; ".join(inner) + "."
        if desc:
            issue["description"] = desc
        issues.append(issue)

    where: dict[tuple, tuple[int, int]] = {}
    entries = []
    for k, e in enumerate(ds.entries):
        entries.append({
            "actor": aid_of[e.actor_id], "issue": iid_of[e.issue_id],
            "position": {"value": float(e.position), "basis": dict(basis)},
            "salience": {"value": float(e.salience), "basis": dict(basis)},
            "capability": {"value": float(e.power), "basis": dict(basis)},
        })
        where[("entries", k)] = (e.line - 1, 0)
    actors = []
    for a, aid in zip(kept, actor_ids):
        actor: dict[str, Any] = {"id": aid, "name": clip(a.name or a.id)}
        if aid != a.id:
            actor["description"] = f"decide id {a.id!r}"
        actors.append(actor)
    data = {
        "stakes": 1,
        "metadata": {"name": clip(Path(file).stem or "decide scenario"),
                     "description": " ".join(notes), "sources": [src]},
        "actors": actors,
        "issues": issues,
        "entries": entries,
    }
    return build_scenario(data, where, file)
