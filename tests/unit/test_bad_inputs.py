"""Bad input for every reader and for the scenario YAML loader.

Each case writes a small file, reads it with ``load_any`` and checks that the
error is an :class:`~stakes.errors.InputError` whose lines are exactly the
expected ``FILE:LINE:COLUMN: FIELD: MESSAGE`` lines (the temporary folder is
left out of FILE).
"""

from __future__ import annotations

import pytest

from stakes.errors import InputError
from stakes.readers import load_any

# random bytes (no NUL, not UTF-8) and the start of a PNG file (with NULs)
JUNK = bytes.fromhex("792fbb954e34e4ba69c2b8c344893fa3d1bd805b6b87bb9ef738508cb5558514"
                     "bcc7de35b1c1bb78edb6d5e0a8268937")
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06"
UTF16 = "Actor,Capability,Position,Salience\nA,1,2,0.5\n".encode("utf-16")  # with its BOM


def errors(tmp_path, name: str, content: str | bytes, **kwargs) -> list[str]:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    with pytest.raises(InputError) as exc:
        load_any(path, **kwargs)
    prefix = f"{tmp_path}/"
    return [line.replace(prefix, "") for line in exc.value.lines()]


def loads(tmp_path, name: str, content: str | bytes, **kwargs):
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return load_any(path, **kwargs)


def case(id_, content, expected, **kwargs):
    return pytest.param(content, kwargs, expected if isinstance(expected, list) else [expected],
                        id=id_)


# --------------------------------------------------------------------------
# BDM CSV

H = "Actor,Capability,Position,Salience\n"
OK2 = "A,1,2,0.5\nB,1,3,0.5\n"

BDM = [
    case("empty", "", "t.csv:1:1: header: file is empty; expected a header line "
                      "Actor,Capability,Position,Salience"),
    case("blank-lines", " \n\n", "t.csv:1:1: header: file is empty; expected a header line "
                                 "Actor,Capability,Position,Salience"),
    case("header-only", H, "t.csv:2: no actor rows after the header"),
    case("truncated", H + "A,1,2,0.5\nB,1,2",
         "t.csv:3:6: Salience: truncated row: 3 fields, missing Salience"),
    case("text-for-number", H + "A,1,2,0.5\nB,abc,2,0.5\n",
         "t.csv:3:3: Capability: expected a number, got 'abc'"),
    case("empty-cell", H + "A,,2,0.5\nB,1,3,0.5\n",
         "t.csv:2:3: Capability: is empty; expected a number"),
    case("nan", H + "A,1,nan,0.5\nB,1,2,0.5\n",
         "t.csv:2:5: Position: must be a finite number, got 'nan'"),
    case("inf", H + "A,1,2,0.5\nB,inf,2,0.5\n",
         "t.csv:3:3: Capability: must be a finite number, got 'inf'"),
    case("minus-infinity", H + "A,1,2,0.5\nB,-Infinity,2,0.5\n",
         "t.csv:3:3: Capability: must be a finite number, got '-Infinity'"),
    case("negative-capability", H + "A,-1,2,0.5\nB,1,3,0.5\n",
         "t.csv:2:3: Capability: must be >= 0, got -1"),
    case("huge-1e308", H + "A,1e308,2,0.5\nB,1,3,0.5\n",
         "t.csv:2:3: Capability: 1e308 is too large (magnitude above 1e+12)"),
    case("overflow-1e400", H + "A,1e400,2,0.5\nB,1,3,0.5\n",
         "t.csv:2:3: Capability: must be a finite number, got '1e400' (out of floating-point "
         "range)"),
    case("salience-above-1-told-unit", H + "A,1,2,1.5\nB,1,3,0.5\n",
         "t.csv:2:7: Salience: must be within [0, 1], got 1.5 (salience_scale='unit')",
         salience_scale="unit"),
    case("salience-above-100", H + "A,1,2,150\nB,1,3,50\n",
         "t.csv:2:7: Salience: must be within [0, 100], got 150 (0-100 scale detected because "
         "a salience is above 1)"),
    case("negative-salience", H + "A,1,2,-0.2\nB,1,3,0.5\n",
         "t.csv:2:7: Salience: must be >= 0, got -0.2"),
    case("duplicate-name", H + "A,1,2,0.5\nA,1,3,0.5\n",
         "t.csv:3:1: Actor: duplicate actor name 'A' (first on line 2)"),
    case("empty-name", H + ",1,2,0.5\nB,1,3,0.5\n", "t.csv:2:1: Actor: actor name is empty"),
    case("all-positions-equal", H + "A,1,2,0.5\nB,1,2,0.5\n",
         "t.csv:1:18: Position: all positions are equal (2), so their range gives no scale; "
         "give the scale explicitly (scale=(min, max))"),
    case("position-off-given-scale", H + OK2,
         "t.csv:3:5: Position: position 3 is outside the scale [0, 2.5]", scale=(0, 2.5)),
    case("semicolons", "Actor;Capability;Position;Salience\nA;1;2;0.5\n",
         "t.csv:1:1: header: header has no field separators: a BDM CSV file separates its "
         "fields with commas (found semicolons); expected Actor,Capability,Position,Salience"),
    case("missing-column", "Actor,Capability,Position\nA,1,2\n",
         "t.csv:1:1: header: missing column Salience (header has 'Actor', 'Capability', "
         "'Position'; expected Actor,Capability,Position,Salience)"),
    case("repeated-column-with-values", "Actor,Capability,Position,Salience,Position\n"
         "A,1,2,0.5,3\nB,1,3,0.5,4\n",
         "t.csv:1:36: Position: column 'Position' appears twice (columns 3 and 5); which one "
         "holds the data is unclear"),
    case("too-many-fields", H + "A,1,2,0.5,9\nB,1,3,0.5\n",
         "t.csv:2:11: row has 5 fields, more than the header (header has 4); is a value "
         "quoted wrongly or the separator wrong?"),
    case("unterminated-quote", H + '"A,1,2,0.5\nB,1,3,0.5\n',
         "t.csv:2: unterminated quote in column 1"),
    case("several-problems", H + "A,x,2,0.5\nB,1,y,0.5\nC,1,3,z\n",
         ["t.csv:2:3: Capability: expected a number, got 'x'",
          "t.csv:3:5: Position: expected a number, got 'y'",
          "t.csv:4:7: Salience: expected a number, got 'z'"]),
    case("random-bytes", JUNK, "t.csv:1:3: not UTF-8 text (byte 0xbb); save the file as UTF-8"),
    case("png", PNG, "t.csv:3:1: binary data (NUL byte); not a text file"),
    case("utf16", UTF16, "t.csv:1:1: UTF-16/32 text is not supported; save the file as UTF-8"),
]


@pytest.mark.parametrize("content,kwargs,expected", BDM)
def test_bdm_csv(tmp_path, content, kwargs, expected):
    assert errors(tmp_path, "t.csv", content, fmt="bdm-csv", **kwargs) == expected


# --------------------------------------------------------------------------
# decisionmechanics TSV

T = "Name\tx\tc\ts\n"

DM = [
    case("empty", "", "t.txt:1:1: header: file is empty; expected a header line "
                      "Name<TAB>x<TAB>c<TAB>s"),
    case("truncated", T + "A\t1\t0.1\t0.5\nB\t2", "t.txt:3:4: c: truncated row: 2 fields, "
                                                   "missing c, s"),
    case("decimal-comma", T + "A\t1\t0,1\t0.5\nB\t2\t0.1\t0.5\n",
         "t.txt:2:5: c: expected a number, got '0,1' (use '.' as the decimal separator)"),
    case("nan", T + "A\tNaN\t0.1\t0.5\nB\t2\t0.1\t0.5\n",
         "t.txt:2:3: x: must be a finite number, got 'NaN'"),
    case("negative-capability", T + "A\t1\t-0.1\t0.5\nB\t2\t0.1\t0.5\n",
         "t.txt:2:5: c: must be >= 0, got -0.1"),
    case("salience-out-of-range", T + "A\t1\t0.1\t1.2\nB\t2\t0.1\t0.5\n",
         "t.txt:2:9: s: must be within [0, 1], got 1.2 (salience_scale='unit')",
         salience_scale="unit"),
    case("duplicate-name", T + "A\t1\t0.1\t0.5\nA\t2\t0.1\t0.5\n",
         "t.txt:3:1: Name: duplicate actor name 'A' (first on line 2)"),
    case("huge-1e308", T + "A\t1\t1e308\t0.5\nB\t2\t0.1\t0.5\n",
         "t.txt:2:5: c: 1e308 is too large (magnitude above 1e+12)"),
    case("overflow-1e400", T + "A\t1e400\t0.1\t0.5\nB\t2\t0.1\t0.5\n",
         "t.txt:2:3: x: must be a finite number, got '1e400' (out of floating-point range)"),
    case("commas", "Name,x,c,s\nA,1,0.1,0.5\n",
         "t.txt:1:1: header: header has no field separators: a decisionmechanics TSV file "
         "separates its fields with tabs (found commas); expected Name<TAB>x<TAB>c<TAB>s"),
    case("random-bytes", JUNK, "t.txt:1:3: not UTF-8 text (byte 0xbb); save the file as UTF-8"),
    case("png", PNG, "t.txt:3:1: binary data (NUL byte); not a text file"),
]


@pytest.mark.parametrize("content,kwargs,expected", DM)
def test_dm_tsv(tmp_path, content, kwargs, expected):
    assert errors(tmp_path, "t.txt", content, fmt="dm-tsv", **kwargs) == expected


# --------------------------------------------------------------------------
# KTAB CSV

K = "Test,Three actors,3,1,\nActor,Description,Power,Dim Position,Dim Salience,\n"
KA = "A,first,10,20,50,\nB,second,20,40,60,\nC,third,30,80,70,\n"


def ka(old: str, new: str) -> str:
    return K + KA.replace(old, new)


KTAB_CSV = [
    case("empty", "", "k.csv:1: file is empty; expected a KTAB CSV scenario"),
    case("truncated", K + KA[:30],
         ["k.csv:5: actors: file ends after 2 actor rows; numActors = 3 (truncated file?)",
          "k.csv:4:13: actors[1]: truncated row: 4 fields, expected 5 (name, description, "
          "capability, then position and salience for 1 dimension)"]),
    case("text-for-number", ka("B,second,20", "B,second,abc"),
         "k.csv:4:10: actors[1].capability: capability is not a number: 'abc'"),
    case("nan", ka("B,second,20,40", "B,second,20,nan"),
         "k.csv:4:13: actors[1].positions[0]: position must be a finite number, got 'nan'"),
    case("negative-capability", ka("B,second,20", "B,second,-20"),
         "k.csv:4:10: actors[1].capability: capability must be in [0, 1e+08], got -20"),
    case("salience-above-100", ka("B,second,20,40,60", "B,second,20,40,160"),
         "k.csv:4:16: actors[1].saliences[0]: salience must be in [0, 100], got 160"),
    case("salience-sum-above-100",
         "T,Two dims,3,2,\nActor,Description,Power,P1 Position,P1 Salience,P2 Position,"
         "P2 Salience,\nA,a,1,1,60,1,50,\nB,b,1,1,1,1,1,\nC,c,1,1,1,1,1,\n",
         "k.csv:3: actors[0].saliences: saliences of actor 'A' sum to 110; the sum must be "
         "<= 100"),
    case("huge-1e308", ka("B,second,20", "B,second,1e308"),
         "k.csv:4:10: actors[1].capability: capability must be in [0, 1e+08], got 1e+308"),
    case("overflow-1e400", ka("B,second,20", "B,second,1e400"),
         "k.csv:4:10: actors[1].capability: capability must be a finite number, got '1e400'"),
    case("duplicate-name", ka("B,second", "A,second"),
         "k.csv:4:1: actors[1].name: duplicate actor name 'A' (first on line 3)"),
    case("semicolons", (K + KA).replace(",", ";"),
         "k.csv:1: numDims: first line has 1 fields; expected scenarioName, "
         "scenarioDescription, numActors, numDims"),
    case("random-bytes", JUNK, "k.csv:1:3: not UTF-8 text (byte 0xbb); save the file as UTF-8"),
    case("png", PNG, "k.csv:3:1: binary data (NUL byte); not a KTAB CSV text file"),
]


@pytest.mark.parametrize("content,kwargs,expected", KTAB_CSV)
def test_ktab_csv(tmp_path, content, kwargs, expected):
    assert errors(tmp_path, "k.csv", content, fmt="ktab-csv", **kwargs) == expected


# --------------------------------------------------------------------------
# KTAB XML


def xml(actors=(("A", "10", "20", "50"), ("B", "20", "40", "60"), ("C", "30", "80", "70")),
        extra: str = "") -> str:
    out = ('<?xml version="1.0" encoding="UTF-8"?>\n<Scenario>\n  <name>T</name>\n'
           "  <desc>d</desc>\n  <Dimensions>\n    <dName>Dim</dName>\n  </Dimensions>\n"
           "  <Actors>\n")
    for name, cap, pos, sal in actors:
        out += (f"    <Actor>\n      <name>{name}</name>\n      <capability>{cap}</capability>\n"
                f"      <Position>\n        <dCoord>{pos}</dCoord>\n      </Position>\n"
                f"      <Salience>\n        <dSal>{sal}</dSal>\n      </Salience>\n"
                "    </Actor>\n")
    return out + "  </Actors>\n" + extra + "</Scenario>\n"


def xml_a(cap="10", pos="20", sal="50", name="A") -> str:
    return xml(((name, cap, pos, sal), ("B", "20", "40", "60"), ("C", "30", "80", "70")))


IA = ("  <IdealAdjustment>\n    <iaPair>\n      <adjustingIdeal>A</adjustingIdeal>\n"
      "      <referencePos>Z</referencePos>\n      <adjust>0.1</adjust>\n    </iaPair>\n"
      "  </IdealAdjustment>\n")
A1 = "Scenario/Actors/Actor[1]"

KTAB_XML = [
    case("empty", "", "k.xml:1: file is empty; expected a KTAB XML scenario"),
    case("truncated", xml()[:200],
         "k.xml:11:19: not well-formed XML (no element found); not a KTAB XML scenario"),
    case("text-for-number", xml_a(cap="ten"),
         f"k.xml:11:7: {A1}/capability: capability <capability> (actor 'A') is not a "
         "number: 'ten'"),
    case("nan", xml_a(pos="NaN"),
         f"k.xml:13:9: {A1}/Position/dCoord[1]: position <dCoord> (actor 'A', dimension "
         "'Dim') must be a finite number, got 'NaN'"),
    case("empty-coordinate", xml_a(pos=""),
         f"k.xml:13:9: {A1}/Position/dCoord[1]: position <dCoord> (actor 'A', dimension "
         "'Dim') is empty; expected a number"),
    case("negative-capability", xml_a(cap="-10"),
         f"k.xml:11:7: {A1}/capability: capability must be in [0, 1e+08], got -10"),
    case("salience-above-100", xml_a(sal="150"),
         f"k.xml:16:9: {A1}/Salience/dSal[1]: salience must be in [0, 100], got 150"),
    case("duplicate-name", xml((("A", "10", "20", "50"), ("A", "20", "40", "60"),
                                ("C", "30", "80", "70"))),
         "k.xml:20:7: Scenario/Actors/Actor[2]/name: duplicate actor name 'A' (first on "
         "line 10)"),
    case("huge-1e308", xml_a(cap="1e308"),
         f"k.xml:11:7: {A1}/capability: capability must be in [0, 1e+08], got 1e+308"),
    case("overflow-1e400", xml_a(cap="1e400"),
         f"k.xml:11:7: {A1}/capability: capability <capability> (actor 'A') must be a finite "
         "number, got '1e400'"),
    case("unknown-actor-in-affinity", xml(extra=IA),
         "k.xml:43:7: Scenario/IdealAdjustment/iaPair[1]/referencePos: <referencePos> names "
         "unknown actor 'Z'"),
    case("random-bytes", JUNK,
         "k.xml:1:2: not well-formed XML (not well-formed (invalid token)); not a KTAB XML "
         "scenario"),
    case("png", PNG, "k.xml:3:1: binary data (NUL byte); not a KTAB XML scenario"),
]


@pytest.mark.parametrize("content,kwargs,expected", KTAB_XML)
def test_ktab_xml(tmp_path, content, kwargs, expected):
    assert errors(tmp_path, "k.xml", content, fmt="ktab-xml", **kwargs) == expected


# --------------------------------------------------------------------------
# decide TSV

DA = "'#A'\t'a'\t'A'\n'#A'\t'b'\t'B'\n'#P'\t'i'\t'I'\t''\n'#M'\t'i'\t0\n'#M'\t'i'\t100\n"
DD = "'#D'\t'a'\t'i'\t10\t0.5\t1\n'#D'\t'b'\t'i'\t90\t0.5\t1\n"


def dd(old: str, new: str) -> str:
    return DA + DD.replace(old, new, 1)


DECIDE = [
    case("empty", "", "d.txt: file is empty"),
    case("truncated", DA + DD + "'#D'\t'a'\t'i'\t10",
         "d.txt:8:16: #D.salience: truncated row: #D needs 5 fields (actor, issue, position, "
         "salience, power), got 3; missing salience, power"),
    case("text-for-number", dd("\t10\t", "\tten\t"), "d.txt:6:14: #D.position: not a number: "
                                                     "'ten'"),
    case("nan", dd("\t10\t", "\tnan\t"), "d.txt:6:14: #D.position: not a finite number: 'nan'"),
    case("negative-power", dd("0.5\t1\n", "0.5\t-1\n"),
         "d.txt:6:21: #D.power: power -1 is negative"),
    case("salience-above-1", dd("0.5\t1\n", "1.5\t1\n"),
         "d.txt:6:17: #D.salience: salience 1.5 outside [0, 1]"),
    case("unknown-actor", DA + DD + "'#D'\t'z'\t'i'\t10\t0.5\t1\n",
         "d.txt:8:6: #D.actor: unknown actor 'z' (no #A row defines it)"),
    case("unknown-issue", DA + DD + "'#D'\t'a'\t'q'\t10\t0.5\t1\n",
         "d.txt:8:10: #D.issue: unknown issue 'q' (no #P row defines it)"),
    case("duplicate-actor", DA + "'#A'\t'a'\t'A again'\n" + DD,
         "d.txt:6:6: #A.id: duplicate actor id 'a' (first defined on line 1)"),
    case("huge-1e308", dd("0.5\t1\n", "0.5\t1e308\n"),
         "d.txt:6:21: #D.power: 1e308 is too large (magnitude above 1e+12)"),
    case("overflow-1e400", dd("0.5\t1\n", "0.5\t1e400\n"),
         "d.txt:6:21: #D.power: 1e400 is too large (magnitude above 1e+12)"),
    case("commas", "'#A','a','A'\n#A,b,B\n",
         ["d.txt:1:1: code: fields must be separated by tabs, not ','",
          "d.txt:2:1: code: fields must be separated by tabs, not ','"]),
    case("random-bytes", JUNK, "d.txt:1:3: not UTF-8 text (byte 0xbb); save the file as UTF-8"),
    case("png", PNG, "d.txt:3:1: binary data (NUL byte); not a decide text file"),
]


@pytest.mark.parametrize("content,kwargs,expected", DECIDE)
def test_decide_tsv(tmp_path, content, kwargs, expected):
    assert errors(tmp_path, "d.txt", content, fmt="decide-tsv", **kwargs) == expected


# --------------------------------------------------------------------------
# scenario YAML

Y = """\
stakes: 1
metadata:
  name: t
actors:
  - {id: NO, name: Norway, capability: 1}
  - {id: SE, name: Sweden, capability: 2}
issues:
  - {id: i1, name: Issue, scale: {min: 0, max: 10}}
entries:
  - {actor: NO, issue: i1, position: 3, salience: 0.5}
  - {actor: SE, issue: i1, position: 7, salience: 0.5}
"""


def y(old: str, new: str) -> str:
    assert old in Y
    return Y.replace(old, new, 1)


BOMB = "a0: &a0 [x, x]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]\n" for i in range(1, 25))

YAML = [
    case("empty", "", "s.yaml: file is empty"),
    case("truncated", Y[:150],
         "s.yaml:9:1: invalid YAML: did not find expected ',' or '}'"),
    case("text-for-number", y("position: 3", "position: three"),
         "s.yaml:10:28: entries[0].position: expected a number, got the text 'three'"),
    case("boolean-for-number", y("position: 3", "position: true"),
         "s.yaml:10:28: entries[0].position: expected a number, got a boolean"),
    case("yaml11-yes-is-text", y("position: 3", "position: yes"),
         "s.yaml:10:28: entries[0].position: expected a number, got the text 'yes'"),
    case("nan", y("position: 3", "position: .nan"),
         "s.yaml:10:28: entries[0].position.value: Input should be a finite number"),
    case("inf", y("position: 3", "position: -.inf"),
         "s.yaml:10:28: entries[0].position.value: Input should be a finite number"),
    case("negative-capability", y("capability: 1}", "capability: -1}"),
         "s.yaml:5:28: actors[0].capability.value: capability -1 is outside [0, inf]"),
    case("salience-out-of-range", y("salience: 0.5}", "salience: 1.5}"),
         "s.yaml:10:41: entries[0].salience.value: salience 1.5 is outside [0, 1]"),
    case("position-off-scale", y("position: 7", "position: 11"),
         "s.yaml:11:28: entries[1].position.value: position 11 is outside [0, 10]"),
    case("unknown-actor", y("actor: SE", "actor: DK"),
         "s.yaml:11:6: entries[1].actor: unknown actor 'DK'"),
    case("unknown-issue", y("issue: i1, position: 7", "issue: i9, position: 7"),
         "s.yaml:11:17: entries[1].issue: unknown issue 'i9'"),
    case("duplicate-id", y("id: SE, name: Sweden", "id: NO, name: Sweden"),
         ["s.yaml:6:6: actors[1].id: duplicate id 'NO'",
          "s.yaml:11:6: entries[1].actor: unknown actor 'SE'"]),
    case("duplicate-key", y("  name: t\n", "  name: t\n  name: u\n"),
         's.yaml:4:3: invalid YAML: duplicate key "name" with value "u" (original value: "t")'),
    case("duplicate-key-two-line-value", y("  name: t\n", '  name: t\n  name: "u\\nv"\n'),
         's.yaml:4:3: invalid YAML: duplicate key "name" with value "u\\nv" (original value: '
         '"t")'),
    case("huge-1e308", y("position: 3", "position: 1e308"),
         "s.yaml:10:28: entries[0].position.value: Input should be less than or equal to "
         "1000000000000"),
    case("overflow-1e400", y("position: 3", "position: 1e400"),
         "s.yaml:10:28: entries[0].position.value: Input should be a finite number"),
    case("invalid-date", y("  name: t\n", "  name: t\n  as_of: 2021-02-30\n"),
         "s.yaml:4:3: metadata.as_of: Input should be a valid date or datetime, day value is "
         "outside expected range"),
    case("unknown-field", y("  name: t\n", "  name: t\n  author: me\n"),
         "s.yaml:4:3: metadata.author: Extra inputs are not permitted"),
    case("missing-field", y("  - {id: SE, name: Sweden, capability: 2}\n",
                            "  - {id: SE, capability: 2}\n"),
         "s.yaml:6:5: actors[1].name: Field required"),
    case("tab-indent", y("  - {id: SE", "\t- {id: SE"),
         "s.yaml:6:1: invalid YAML: found character '\\t' that cannot start any token"),
    case("list-not-mapping", "- just\n- a list\n",
         "s.yaml:1:1: a scenario file must be a mapping with metadata, actors, issues and "
         "entries"),
    case("alias-bomb", BOMB, "s.yaml: aliases expand to more than 100000 values"),
    case("deep-nesting", "a: " + "[" * 500 + "]" * 500 + "\n",
         "s.yaml:1:104: invalid YAML: brackets nested more than 100 levels deep"),
    case("random-bytes", JUNK, "s.yaml:1:3: not UTF-8 text (byte 0xbb); save the file as UTF-8"),
    case("png", PNG, "s.yaml:3:1: binary data (NUL byte); not a text file"),
    case("utf16", UTF16, "s.yaml:1:1: UTF-16/32 text is not supported; save the file as UTF-8"),
]


@pytest.mark.parametrize("content,kwargs,expected", YAML)
def test_scenario_yaml(tmp_path, content, kwargs, expected):
    assert errors(tmp_path, "s.yaml", content, **kwargs) == expected


# --------------------------------------------------------------------------
# what must work


@pytest.mark.parametrize("name,content,fmt", [
    ("t.csv", "\ufeff" + H + OK2, "bdm-csv"),
    ("t.txt", "\ufeff" + T + "A\t1\t0.1\t0.5\nB\t2\t0.1\t0.5\n", "dm-tsv"),
    ("t.txt", "\ufeff\tx\tc\ts\nA\t1\t0.1\t0.5\nB\t2\t0.1\t0.5\n", "dm-tsv"),  # no name header
    ("k.csv", "\ufeff" + K + KA, "ktab-csv"),
    ("k.xml", "\ufeff" + xml(), "ktab-xml"),
    ("d.txt", "\ufeff" + DA + DD, "decide-tsv"),
    ("s.yaml", "\ufeff" + Y, "stakes-yaml"),
])
def test_byte_order_mark_is_skipped(tmp_path, name, content, fmt):
    scn = loads(tmp_path, name, content)  # detected, BOM and all
    assert len(scn.actors) >= 2
    assert loads(tmp_path, name, content, fmt=fmt) == scn


def test_spreadsheet_export_with_empty_rows_and_trailing_commas(tmp_path):
    plain = loads(tmp_path, "u.csv", H + OK2)
    exported = "Actor,Capability,Position,Salience,\nA,1,2,0.5,\n,,,,\nB,1,3,0.5,\n,,,,\n"
    assert loads(tmp_path, "u.csv", exported) == plain


def test_windows_and_old_mac_line_ends(tmp_path):
    unix = loads(tmp_path, "u.csv", H + OK2)
    assert loads(tmp_path, "u.csv", (H + OK2).replace("\n", "\r\n")) == unix
    assert loads(tmp_path, "u.csv", (H + OK2).replace("\n", "\r")) == unix
    assert errors(tmp_path, "w.csv", (H + "A,1,2,0.5\nB,x,3,0.5\n").replace("\n", "\r")) == [
        "w.csv:3:3: Capability: expected a number, got 'x'"]


def test_yaml_12_keeps_country_codes_and_yes_no_as_text(tmp_path):
    doc = y("{id: SE, name: Sweden", "{id: 'NO2', name: Sweden")
    doc = doc.replace("actor: SE", "actor: NO2")
    doc = doc.replace("  name: t\n", "  name: t\n  description: off\n")
    doc = doc.replace("{id: i1, name: Issue", "{id: y, name: yes")
    doc = doc.replace("issue: i1", "issue: y")
    scn = loads(tmp_path, "s.yaml", doc)
    assert [a.id for a in scn.actors] == ["NO", "NO2"]
    assert scn.metadata.description == "off"
    assert (scn.issues[0].id, scn.issues[0].name) == ("y", "yes")


def test_country_code_no_in_peer_formats(tmp_path):
    scn = loads(tmp_path, "t.csv", H + "NO,1,2,0.5\nOFF,1,3,0.5\nY,1,4,0.5\n")
    assert [a.id for a in scn.actors] == ["NO", "OFF", "Y"]


def test_reader_problems_from_detection_route(tmp_path):
    # without fmt the same problems are found after detection
    assert errors(tmp_path, "t.csv", H + "A,-1,2,0.5\nB,1,3,0.5\n") == [
        "t.csv:2:3: Capability: must be >= 0, got -1"]
    assert errors(tmp_path, "j.csv", JUNK) == ["j.csv:1:3: not UTF-8 text (byte 0xbb); save the file as UTF-8"]
    assert errors(tmp_path, "p.dat", PNG) == ["p.dat:3:1: binary data (NUL byte); not a text file"]
