"""Property tests of the loaders.

Whatever a file holds, ``load_any`` either returns a valid scenario or raises
:class:`~stakes.errors.InputError`; no other exception escapes.  Valid
scenarios survive a trip through YAML unchanged.
"""

from __future__ import annotations

import math
import string

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from stakes.errors import InputError, OptionError
from stakes.readers import load_any
from stakes.scenario.check import check
from stakes.scenario.schema import Scenario
from stakes.scenario.yaml_io import dumps_scenario, loads_scenario

SUFFIXES = [".yaml", ".csv", ".txt", ".xml", ".tsv", ""]
FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def load_or_input_error(folder, data: bytes, suffix: str, **kwargs) -> Scenario | None:
    path = folder / f"input{suffix}"
    path.write_bytes(data)
    try:
        scn = load_any(path, **kwargs)
    except InputError as exc:
        assert exc.problems, "an InputError must name at least one problem"
        for line in exc.lines():
            assert line.startswith(str(path)) and "\n" not in line
        return None
    assert isinstance(scn, Scenario)
    assert check(scn) == []
    return scn


# --------------------------------------------------------------------------
# arbitrary input


@FAST
@given(data=st.binary(max_size=400), suffix=st.sampled_from(SUFFIXES))
def test_arbitrary_bytes(folder, data, suffix):
    load_or_input_error(folder, data, suffix)


@FAST
@given(text=st.text(max_size=300), suffix=st.sampled_from(SUFFIXES))
def test_arbitrary_text(folder, text, suffix):
    load_or_input_error(folder, text.encode("utf-8", "surrogatepass"), suffix)


# --------------------------------------------------------------------------
# documents that look like the formats, so the readers get past the first line

CELL = st.one_of(
    st.sampled_from(["", "0", "1", "0.5", "-1", "100", "1e308", "1e400", "nan", "-inf", "NO",
                     "yes", "abc", "''", '"', "'#A'", "#D", "0,5", " 7 ", "1_0", "0x10",
                     "Actor", "Position"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10, 300).map(str),
    st.text(alphabet=string.printable, max_size=8),
)


@st.composite
def table(draw, delimiter: str, header: list[str]) -> str:
    head = draw(st.lists(st.sampled_from(header + ["Flexibility", "", "Name"]), min_size=0,
                         max_size=6)) if draw(st.booleans()) else header
    rows = draw(st.lists(st.lists(CELL, min_size=0, max_size=6), max_size=5))
    lines = [delimiter.join(head)] + [delimiter.join(r) for r in rows]
    return draw(st.sampled_from(["\n", "\r\n", "\r"])).join(lines)


@st.composite
def ktab_csv(draw) -> str:
    n = draw(st.integers(0, 5))
    dims = draw(st.integers(0, 3))
    first = f"S,desc,{draw(st.sampled_from([str(n), 'x', '-1', '300']))},{dims},"
    header = ",".join(["Actor", "Desc", "Power"] + [f"D{k} Position,D{k} Salience"
                                                   for k in range(dims)])
    rows = []
    for k in range(draw(st.integers(0, 5))):
        cells = draw(st.lists(CELL, min_size=2 + 2 * dims, max_size=4 + 2 * dims))
        rows.append(",".join([f"A{k}"] + cells))
    return "\n".join([first, header] + rows)


@st.composite
def decide_tsv(draw) -> str:
    codes = st.sampled_from(["'#A'", "'#P'", "'#M'", "'#D'", "#A", "#0", "'#/'", "#X"])
    ids = st.sampled_from(["'a'", "'b'", "'i'", "'j'", "a", "i", "''", "'x"])
    lines = []
    for _ in range(draw(st.integers(0, 10))):
        fields = [draw(codes)] + draw(st.lists(st.one_of(ids, CELL), max_size=6))
        lines.append("\t".join(fields))
    return "\n".join(lines)


@st.composite
def ktab_xml(draw) -> str:
    def el(tag, body):
        return f"<{tag}>{body}</{tag}>"

    dims = "".join(el("dName", draw(st.sampled_from(["D1", "D2", ""]))) for _ in
                   range(draw(st.integers(0, 2))))
    actors = ""
    for k in range(draw(st.integers(0, 4))):
        pos = "".join(el("dCoord", draw(CELL)) for _ in range(draw(st.integers(0, 2))))
        sal = "".join(el("dSal", draw(CELL)) for _ in range(draw(st.integers(0, 2))))
        actors += el("Actor", el("name", f"A{k % 3}") + el("capability", draw(CELL))
                     + el("Position", pos) + el("Salience", sal))
    ia = ""
    if draw(st.booleans()):
        ia = el("IdealAdjustment", el("iaPair", el("adjustingIdeal", "A0")
                                      + el("referencePos", draw(st.sampled_from(["A1", "Z"])))
                                      + el("adjust", draw(CELL))))
    body = el("name", "S") + el("prngSeed", draw(CELL)) + el("Dimensions", dims) + el(
        "Actors", actors) + ia
    text = "<?xml version='1.0'?>" + el("Scenario", body)
    cut = draw(st.integers(0, len(text)))
    return text if draw(st.booleans()) else text[:cut]


NUMBER = st.one_of(st.integers(0, 100).map(str), st.floats(0, 1).map(lambda v: f"{v:.3f}"))


@st.composite
def mutated(draw, kind: str) -> str:
    """A valid file of ``kind``, then (usually) one cell replaced by anything."""
    n = draw(st.integers(1, 5))
    names = [f"A{k}" for k in range(n)]
    if kind in ("bdm", "dm"):
        d = "," if kind == "bdm" else "\t"
        rows = [["Actor", "Capability", "Position", "Salience"] if kind == "bdm"
                else ["Name", "x", "c", "s"]]
        rows += [[a, draw(NUMBER), draw(NUMBER), draw(NUMBER)] for a in names]
    elif kind == "ktab":
        d = ","
        rows = [["S", "desc", str(n), "1", ""], ["Actor", "Desc", "Power", "X Position",
                                                  "X Salience"]]
        rows += [[a, "d", draw(NUMBER), draw(NUMBER), draw(NUMBER)] for a in names]
    else:
        d = "\t"
        rows = [["'#A'", f"'{a}'", f"'{a}'"] for a in names]
        rows += [["'#P'", "'i'", "'I'", "''"], ["'#M'", "'i'", "0"], ["'#M'", "'i'", "100"]]
        rows += [["'#D'", f"'{a}'", "'i'", draw(NUMBER), f"{draw(UNIT):.2f}", draw(NUMBER)]
                 for a in names]
    if draw(st.integers(0, 3)):
        r = draw(st.integers(0, len(rows) - 1))
        c = draw(st.integers(0, len(rows[r]) - 1))
        rows[r][c] = draw(CELL)
    return "\n".join(d.join(r) for r in rows) + "\n"


SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True),
    st.sampled_from(["NO", "yes", "off", "a", "i", "x", "data", "judgment", "evidence",
                     "2020-13-01", "2021-02-03", ".nan", "1e400", "0x1F", "~", "s1",
                     '"a\\nb"', "'quoted'", '"\\x85"']),
)
KEYS = st.sampled_from(["stakes", "metadata", "name", "actors", "issues", "entries", "id",
                        "actor", "issue", "position", "salience", "capability", "scale",
                        "min", "max", "value", "basis", "kind", "source", "sources", "levers",
                        "effects", "plans", "steps", "lever", "affinity", "toward", "weight",
                        "range", "sd", "as_of", "present", "status_quo", "set", "add",
                        "add_actor", "round", "options", "title", "rationale", "quote",
                        '"line\\nbreak"'])
TOP_KEYS = st.sampled_from(["stakes", "metadata", "actors", "issues", "entries", "affinity",
                           "levers", "plans", "options"])
TREE = st.recursive(
    SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(KEYS, inner, max_size=5)),
    max_leaves=25,
)


def yamlish(node, indent: int = 0) -> str:
    """A crude YAML emitter: flow style with plain scalars (so `NO`, `yes`, `1e400` and
    friends reach the loader unquoted)."""
    if isinstance(node, dict):
        return "{" + ", ".join(f"{k}: {yamlish(v)}" for k, v in node.items()) + "}"
    if isinstance(node, list):
        return "[" + ", ".join(yamlish(v) for v in node) + "]"
    if node is None:
        return "null"
    if isinstance(node, bool):
        return "true" if node else "false"
    if isinstance(node, float) and not math.isfinite(node):
        return ".nan" if math.isnan(node) else (".inf" if node > 0 else "-.inf")
    return str(node)


@st.composite
def yaml_documents(draw) -> str:
    top = draw(st.dictionaries(st.one_of(TOP_KEYS, KEYS), TREE, max_size=7))
    if draw(st.booleans()):
        # mostly valid skeleton with fuzzed parts
        top.setdefault("metadata", {"name": "t"})
        top.setdefault("actors", [{"id": "NO", "name": "N", "capability": 1}])
        top.setdefault("issues", [{"id": "i", "name": "I"}])
    lines = [f"{k}: {yamlish(v)}" for k, v in top.items()]
    if draw(st.booleans()) and lines:
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(
            ["%YAML 1.2\n---", "# comment", "x: &a [1, *a]", "y: *nope", "\t- tab", "? [a]",
             "metadata: {name: a, name: b}", "- item", "z: !!binary AAAA", "w: !custom 3"])))
    return "\n".join(lines) + "\n"


@FAST
@given(text=st.one_of(
    mutated("bdm"), mutated("dm"), mutated("ktab"), mutated("decide"),
    table(",", ["Actor", "Capability", "Position", "Salience"]),
    table("\t", ["Name", "x", "c", "s"]),
    ktab_csv(), decide_tsv(), ktab_xml(), yaml_documents()),
    suffix=st.sampled_from(SUFFIXES),
    salience_scale=st.sampled_from(["auto", "unit", "percent"]))
def test_format_like_documents(folder, text, suffix, salience_scale):
    scale_opt = {"salience_scale": salience_scale} if suffix in (".csv", ".tsv") else {}
    try:
        load_or_input_error(folder, text.encode("utf-8", "surrogatepass"), suffix, **scale_opt)
    except OptionError as exc:  # the file was detected as a format with a fixed scale
        assert "does not apply" in str(exc)


# --------------------------------------------------------------------------
# valid scenarios round-trip through YAML

ID = st.one_of(
    st.sampled_from(["NO", "yes", "off", "null", "true", "1e3", "0o17", "0x1F", "2021-02-03",
                     "inf", "nan", "a.b", "x-y", "_x"[1:], "007"]),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,12}", fullmatch=True),
)
NAME = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30).map(
    str.strip).filter(bool)
FLOAT = st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False)
UNIT = st.floats(0, 1)
CAP = st.floats(0, 1e12)


def value(strategy, with_extras: bool = True):
    plain = strategy.map(lambda v: {"value": v})
    if not with_extras:
        return plain
    basis = st.one_of(
        st.builds(lambda q: {"kind": "evidence", "source": "src", "quote": q}, NAME),
        st.builds(lambda r: {"kind": "judgment", "rationale": r}, NAME),
        st.just({"kind": "data", "source": "src", "note": "table 2"}),
    )
    return st.one_of(plain, st.builds(lambda v, b: {"value": v, "basis": b}, strategy, basis),
                     st.builds(lambda v, s: {"value": v, "sd": s}, strategy, st.floats(0, 10)))


@st.composite
def scenarios(draw) -> Scenario:
    actor_ids = draw(st.lists(ID, min_size=1, max_size=4, unique=True))
    issue_ids = draw(st.lists(ID, min_size=1, max_size=3, unique=True))
    issues = []
    for iid in issue_ids:
        lo = draw(st.floats(-1e6, 1e6))
        hi = lo + draw(st.floats(1e-3, 1e6))
        issue = {"id": iid, "name": draw(NAME), "scale": {"min": lo, "max": hi}}
        if draw(st.booleans()):
            issue["status_quo"] = draw(value(st.floats(lo, hi)))
        issues.append(issue)
    actors = [{"id": a, "name": draw(NAME), "capability": draw(value(CAP))} for a in actor_ids]
    entries = []
    for a in actor_ids:
        for iss in issues:
            if draw(st.booleans()):
                lo, hi = iss["scale"]["min"], iss["scale"]["max"]
                entries.append({"actor": a, "issue": iss["id"],
                                "position": draw(value(st.floats(lo, hi))),
                                "salience": draw(value(UNIT))})
    data = {
        "stakes": 1,
        "metadata": {"name": draw(NAME), "description": draw(st.one_of(st.none(), NAME)),
                     "sources": [{"id": "src", "title": draw(NAME)}]},
        "actors": actors, "issues": issues, "entries": entries,
    }
    if draw(st.booleans()):
        a = actor_ids[0]
        data["affinity"] = [{"actor": a, "toward": a, "weight": draw(st.floats(0, 1))}]
    if draw(st.booleans()):
        data["levers"] = [{"id": "lv", "name": "lever", "round": draw(st.integers(0, 5)),
                           "effects": [{"actor": actor_ids[-1], "issues": [issue_ids[0]],
                                        "position": {"add": draw(FLOAT)}}]}]
        data["plans"] = [{"id": "pl", "name": "plan", "steps": [{"lever": "lv"}]}]
    if draw(st.booleans()):
        data["options"] = {"smp": {"voting_rule": "PropCbc"}, "eum": {"Q": 0.5}}
    data = {k: v for k, v in data.items() if v is not None}
    data["metadata"] = {k: v for k, v in data["metadata"].items() if v is not None}
    scn = Scenario.model_validate(data)
    assume(check(scn) == [])
    return scn


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scn=scenarios())
def test_valid_scenarios_round_trip_through_yaml(scn):
    text = dumps_scenario(scn, header="generated")
    assert loads_scenario(text, "generated.yaml") == scn
