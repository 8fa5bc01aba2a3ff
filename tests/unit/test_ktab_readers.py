"""KTAB CSV and XML readers: the reference files, and every kind of bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stakes.errors import InputError
from stakes.readers.ktab import (
    KtabScenario,
    ktab_options,
    ktab_to_problem,
    parse_ktab_csv,
    read_ktab,
    read_ktab_csv,
    read_ktab_xml,
)

KTAB_DIR = (Path(__file__).parents[2] / ".." / "shared" / "reference" / "ktab").resolve()


def ref(name: str) -> Path:
    path = KTAB_DIR / name
    if not path.exists():
        pytest.skip(f"KTAB reference inputs not available: {path} (needs ../shared/reference)")
    return path


def problems_of(exc: pytest.ExceptionInfo) -> list[str]:
    return exc.value.lines()


# --------------------------------------------------------------------------
# Reference files


@pytest.mark.parametrize(
    "name,n,dims",
    [
        ("dummyData_3Dim.csv", 7, ["Pstn1", "Pstn2", "Pstn3"]),
        ("SOE-Pol-Comp.csv", 13, ["Policy Position", "Competitive Position"]),
        ("dummyData_6Dim.csv", 27, [f"Dim{k} Position" for k in range(6)]),
        ("SOE-Policy.csv", 26, ["Policy Position"]),
        ("SOE-Competitive.csv", 34, ["Competitive Position"]),
        ("dummyData-a040.csv", 40, ["XYZ Position"]),
        ("smpExample-2016-11-29.xml", 5, ["FirstDim", "SecondDim", "YADN"]),
    ],
)
def test_reference_files_load(name, n, dims):
    ks = read_ktab(ref(name))
    assert isinstance(ks, KtabScenario)
    assert ks.n_actors == n
    assert ks.dimensions == dims
    for a in ks.actors:
        assert len(a.positions) == len(a.saliences) == len(dims)
        assert sum(a.saliences) <= 100 + 1e-9
    p = ktab_to_problem(ks)
    assert p.position.shape == (n, len(dims))
    assert np.all(p.salience.sum(axis=1) <= 1 + 1e-9)


def test_dummy3_values_and_header():
    ks = read_ktab_csv(ref("dummyData_3Dim.csv"))
    assert ks.name == "DummyData_3Dim"
    assert ks.description == "Dummy scenario to test reading format"
    assert ks.actors[2] == ("SActor-02", "Random Spatial Actor", 129.643,
                            [82.45, 90.89, 0.07], [48.47, 13.55, 34.62])
    assert ks.parameters == {} and ks.seed is None and ks.affinity is None
    assert ks.lines["actors[0]"] == 3
    assert ks.format == "csv"


def test_soe_header_fields_with_semicolons():
    ks = read_ktab(ref("SOE-Pol-Comp.csv"))
    assert ks.name == "China Policy/Competitive; scen 2"
    assert ks.description == "Scenario-0002;Combined Policy and Competitive"
    assert ks.actors[4].description == "Liu He - Deputy Director of DRC"


def test_xml_reference_with_parameters_seed_and_affinity():
    ks = read_ktab_xml(ref("smpExample-2016-11-29.xml"))
    assert ks.name == "DummyData_3Dim"
    assert ks.seed == 3507583219545544127
    assert ks.parameters["PCEModel"] == "MarkovIncentive"
    assert ks.parameters["VotingRule"] == "PropCbc"
    assert len(ks.parameters) == 9
    assert ks.actors[0].positions == [52.8, 39.8, 39.6]
    assert ks.affinity == [(0, 0, 0.87), (1, 1, 0.75), (1, 0, 0.07), (2, 2, 0.65), (2, 3, 0.13),
                           (3, 3, 0.57)]
    a = ktab_to_problem(ks).affinity
    assert a[1, 0] == 0.07 and a[4, 4] == 1.0 and a[0, 1] == 0.0
    assert ktab_options(ks)["state_transitions"] == "Stochastic"
    assert ktab_options(ks)["voting_rule"] == "PropCbc"


def test_shipped_smp_example_is_rejected_naming_the_element():
    path = ref("smpExample.xml")
    with pytest.raises(InputError) as exc:
        read_ktab(path)
    assert problems_of(exc) == [
        f"{path}:32:9: Scenario/Actors/Actor[1]/Position/dCoord[1]: position <dCoord> "
        "(actor 'Alice', dimension 'FirstDim') is empty; expected a number"
    ]
    assert exc.value.exit_code == 2


def test_dispatch_by_content_without_suffix(tmp_path):
    src = ref("smpExample-2016-11-29.xml")
    f = tmp_path / "scenario"
    f.write_bytes(src.read_bytes())
    assert read_ktab(f).format == "xml"
    f.write_text(GOOD_CSV)
    assert read_ktab(f).format == "csv"


def test_ktab_to_problem_scales():
    p = ktab_to_problem(parse_ktab_csv(GOOD_CSV, "x.csv"))
    assert p.issue_ids == ("P1 Position", "P2 Position")
    assert p.actor_ids == ("A1", "A2", "A3")
    np.testing.assert_allclose(p.salience[1], [0.4, 0.6])
    np.testing.assert_allclose(p.capability[:, 1], [10, 20, 30])
    np.testing.assert_array_equal(p.lo, [0, 0])
    np.testing.assert_array_equal(p.hi, [100, 100])
    # no IdealAdjustment: the scenario states no affinity, which SMP reads as the identity
    assert p.affinity is None


# --------------------------------------------------------------------------
# CSV: good variants

GOOD_CSV = """Scen,Desc,3,2,
Actor,Description,Power,P1 Position,P1 Salience,P2 Position,P2 Salience,
A1,first,10,20,30,40,50,
A2,second,20,30,40,50,60,
A3,third,30,40,10,60,20,
"""


def write(tmp_path: Path, text: str | bytes, name: str = "s.csv") -> Path:
    f = tmp_path / name
    if isinstance(text, bytes):
        f.write_bytes(text)
    else:
        f.write_text(text, encoding="utf-8", newline="")
    return f


def test_csv_variants_load(tmp_path):
    plain = read_ktab_csv(write(tmp_path, GOOD_CSV))
    no_trailing = GOOD_CSV.replace(",\n", "\n")
    crlf_bom = ("\ufeff" + GOOD_CSV.replace("\n", "\r\n")).encode("utf-8")
    quoted = GOOD_CSV.replace("A2,second,", 'A2, "second, with comma" ,')
    blank_tail = GOOD_CSV + "\n\n  \n,,,\n"
    for text in (no_trailing, crlf_bom, blank_tail):
        ks = read_ktab_csv(write(tmp_path, text))
        assert ks.actors == plain.actors
    ks = read_ktab_csv(write(tmp_path, quoted))
    assert ks.actors[1].description == "second, with comma"


# --------------------------------------------------------------------------
# CSV: bad input (exact file:line:column: field: message)


def csv_error(tmp_path, text) -> tuple[Path, list[str]]:
    f = write(tmp_path, text)
    with pytest.raises(InputError) as exc:
        read_ktab_csv(f)
    return f, problems_of(exc)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("", "{f}:1: file is empty; expected a KTAB CSV scenario"),
        ("  \n\n", "{f}:1: file is empty; expected a KTAB CSV scenario"),
        (b"Scen,\x00\x01\x02", "{f}:1:6: binary data (NUL byte); not a KTAB CSV text file"),
        (b"Scen,D,3,2\n\xff\xfe\xfa", "{f}:2:1: not UTF-8 text (byte 0xff); save the file as UTF-8"),
        (GOOD_CSV.replace("Scen,Desc,3,2,", "Scen,Desc,2"),
         "{f}:1: numDims: first line has 3 fields; expected scenarioName, scenarioDescription, "
         "numActors, numDims"),
        (GOOD_CSV.replace("Scen,Desc,3,", "Scen,Desc,three,"),
         "{f}:1:11: numActors: numActors must be an integer, got 'three'"),
        (GOOD_CSV.replace("Scen,Desc,3,2,", "Scen,Desc,2,2,"),
         "{f}:1:11: numActors: number of actors must be in 3..250, got 2"),
        (GOOD_CSV.replace("Scen,Desc,3,2,", "Scen,Desc,3,0,"),
         "{f}:1:13: numDims: numDims must be >= 1, got 0"),
        (GOOD_CSV.replace("Scen,Desc,3,2,", "Scen,Desc,3,2.5,"),
         "{f}:1:13: numDims: numDims must be an integer, got '2.5'"),
        (GOOD_CSV.replace(",P2 Position,P2 Salience,", ","),
         "{f}:2: header: header has 5 fields; numDims = 2 needs 3 + 2 x 2 = 7"),
        (GOOD_CSV.replace("P2 Position", ""),
         "{f}:2:49: dimensions[1]: dimension 2 has an empty position header"),
        (GOOD_CSV.replace("P2 Position", "P1 Position"),
         "{f}:2:49: dimensions[1]: duplicate dimension name 'P1 Position' (also column 25)"),
        (GOOD_CSV.rsplit("A3", 1)[0],
         "{f}:5: actors: file ends after 2 actor rows; numActors = 3 (truncated file?)"),
        (GOOD_CSV.replace("A2,second,20,30,40,50,60,", "A2,second,20,30,40"),
         "{f}:4:17: actors[1]: truncated row: 5 fields, expected 7 (name, description, "
         "capability, then position and salience for 2 dimensions)"),
        (GOOD_CSV.replace("A2,second,20,30,40,50,60,", "A2,second,20,30,40,50,60,70"),
         "{f}:4:26: actors[1]: too many fields: 8 fields, expected 7 (name, description, "
         "capability, then position and salience for 2 dimensions)"),
        (GOOD_CSV + "A4,fourth,1,1,1,1,1\n",
         "{f}:6:1: actors: more actor rows than numActors = 3"),
        (GOOD_CSV.replace("A2,second,20,", "A2,second,ten,"),
         "{f}:4:11: actors[1].capability: capability is not a number: 'ten'"),
        (GOOD_CSV.replace("A2,second,20,", "A2,second,1_0,"),
         "{f}:4:11: actors[1].capability: capability is not a number: '1_0'"),
        (GOOD_CSV.replace("A2,second,20,", "A2,second,nan,"),
         "{f}:4:11: actors[1].capability: capability must be a finite number, got 'nan'"),
        (GOOD_CSV.replace("A2,second,20,30,", "A2,second,20,-inf,"),
         "{f}:4:14: actors[1].positions[0]: position must be a finite number, got '-inf'"),
        (GOOD_CSV.replace("A2,second,20,", "A2,second,-5,"),
         "{f}:4:11: actors[1].capability: capability must be in [0, 1e+08], got -5"),
        (GOOD_CSV.replace("A2,second,20,", "A2,second,2e8,"),
         "{f}:4:11: actors[1].capability: capability must be in [0, 1e+08], got 2e+08"),
        (GOOD_CSV.replace("A1,first,10,20,", "A1,first,10,101,"),
         "{f}:3:13: actors[0].positions[0]: position must be in [0, 100], got 101"),
        (GOOD_CSV.replace("A1,first,10,20,30,", "A1,first,10,20,,"),
         "{f}:3:16: actors[0].saliences[0]: salience is empty; expected a number"),
        (GOOD_CSV.replace("A1,first,10,20,30,", "A1,first,10,20,-1,"),
         "{f}:3:16: actors[0].saliences[0]: salience must be in [0, 100], got -1"),
        (GOOD_CSV.replace("A1,first,10,20,30,40,50,", "A1,first,10,20,60,40,50,"),
         "{f}:3: actors[0].saliences: saliences of actor 'A1' sum to 110; the sum must be "
         "<= 100"),
        (GOOD_CSV.replace("A3,third", "A1,third"),
         "{f}:5:1: actors[2].name: duplicate actor name 'A1' (first on line 3)"),
        (GOOD_CSV.replace("A3,third", ",third"), "{f}:5:1: actors[2].name: actor name is empty"),
        (GOOD_CSV.replace("A3,third", "A" * 26 + ",third"),
         "{f}:5:1: actors[2].name: actor name '" + "A" * 26 + "' has 26 characters; KTAB allows "
         "at most 25"),
    ],
)
def test_csv_bad_input(tmp_path, text, expected):
    f, lines = csv_error(tmp_path, text)
    assert lines == [expected.format(f=f)]


def test_csv_reports_every_problem_at_once(tmp_path):
    text = GOOD_CSV.replace("A1,first,10,", "A1,first,x,").replace("A3,third,30,40,",
                                                                   "A3,third,30,400,")
    f, lines = csv_error(tmp_path, text)
    assert lines == [
        f"{f}:3:10: actors[0].capability: capability is not a number: 'x'",
        f"{f}:5:13: actors[2].positions[0]: position must be in [0, 100], got 400",
    ]


def test_csv_missing_header(tmp_path):
    f, lines = csv_error(tmp_path, "Scen,Desc,3,2,\n")
    assert lines == [
        f"{f}:2: header: header line missing (expected Actor, Description, Capability, then a "
        "Position and Salience column per dimension)"
    ]


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_ktab_csv(tmp_path / "nope.csv")


# --------------------------------------------------------------------------
# XML

GOOD_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Scenario>
  <name>Tiny</name>
  <desc>three actors</desc>
  <prngSeed>42</prngSeed>
  <ModelParameters>
    <VictoryProbModel>Linear</VictoryProbModel>
    <PCEModel>Conditional</PCEModel>
    <StateTransitions>Deterministic</StateTransitions>
    <VotingRule>Proportional</VotingRule>
    <BigRAdjust>Full</BigRAdjust>
    <BigRRange>Mid</BigRRange>
    <ThirdPartyCommit>SemiCommit</ThirdPartyCommit>
    <InterVecBrgn>S2P2</InterVecBrgn>
    <BargnModel>InitOnlyInterp</BargnModel>
  </ModelParameters>
  <Dimensions>
    <dName>One</dName>
    <dName>Two</dName>
  </Dimensions>
  <Actors>
    <Actor>
      <name>Ann</name>
      <description>first</description>
      <capability>10</capability>
      <Position><dCoord>20</dCoord><dCoord>40</dCoord></Position>
      <Salience><dSal>30</dSal><dSal>50</dSal></Salience>
    </Actor>
    <Actor>
      <name>Ben</name>
      <description>second</description>
      <capability>20</capability>
      <Position><dCoord>30</dCoord><dCoord>50</dCoord></Position>
      <Salience><dSal>40</dSal><dSal>60</dSal></Salience>
    </Actor>
    <Actor>
      <name>Cat</name>
      <description>third</description>
      <capability>30</capability>
      <Position><dCoord>40</dCoord><dCoord>60</dCoord></Position>
      <Salience><dSal>10</dSal><dSal>20</dSal></Salience>
    </Actor>
  </Actors>
  <IdealAdjustment>
    <iaPair>
      <adjustingIdeal>Ann</adjustingIdeal>
      <referencePos>Ann</referencePos>
      <adjust>0.8</adjust>
    </iaPair>
    <iaPair>
      <adjustingIdeal>Ann</adjustingIdeal>
      <referencePos>Ben</referencePos>
      <adjust>0.1</adjust>
    </iaPair>
  </IdealAdjustment>
</Scenario>
"""


def test_good_xml(tmp_path):
    ks = read_ktab_xml(write(tmp_path, GOOD_XML, "s.xml"))
    assert ks.seed == 42 and ks.parameters["BigRAdjust"] == "Full"
    assert ks.affinity == [(0, 0, 0.8), (0, 1, 0.1)]
    assert ks.actors[1] == ("Ben", "second", 20.0, [30.0, 50.0], [40.0, 60.0])
    assert ks.lines["actors[1]"] == 29


def test_xml_without_optional_blocks(tmp_path):
    text = GOOD_XML
    for tag in ("ModelParameters", "IdealAdjustment"):
        start, end = text.index(f"  <{tag}>"), text.index(f"</{tag}>") + len(f"</{tag}>\n")
        text = text[:start] + text[end:]
    text = text.replace("  <prngSeed>42</prngSeed>\n", "")
    ks = read_ktab_xml(write(tmp_path, text, "s.xml"))
    assert ks.parameters == {} and ks.affinity is None and ks.seed is None


def xml_error(tmp_path, text) -> tuple[Path, list[str]]:
    f = write(tmp_path, text, "s.xml")
    with pytest.raises(InputError) as exc:
        read_ktab_xml(f)
    return f, problems_of(exc)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("", "{f}:1: file is empty; expected a KTAB XML scenario"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
         "{f}:3:1: binary data (NUL byte); not a KTAB XML scenario"),
        (b"\xff\xd8\xff\xe0 JFIF garbage",
         "{f}:1:1: not well-formed XML (not well-formed (invalid token)); not a KTAB XML "
         "scenario"),
        ("Scen,Desc,3,2,\nActor,Description\n",
         "{f}:1:1: not well-formed XML (syntax error); not a KTAB XML scenario"),
        (GOOD_XML.replace("</Actors>", "</Actor>"),
         "{f}:43:5: not well-formed XML (mismatched tag); not a KTAB XML scenario"),
        (GOOD_XML.replace("<Scenario>", "<Scenery>").replace("</Scenario>", "</Scenery>"),
         "{f}:2:1: Scenery: root element is <Scenery>; a KTAB scenario starts with <Scenario>"),
        (GOOD_XML.replace("<dCoord>40</dCoord><dCoord>60</dCoord>",
                          "<dCoord>40</dCoord><dCoord></dCoord>"),
         "{f}:40:36: Scenario/Actors/Actor[3]/Position/dCoord[2]: position <dCoord> (actor "
         "'Cat', dimension 'Two') is empty; expected a number"),
        (GOOD_XML.replace("<dCoord>40</dCoord><dCoord>60</dCoord>", "<dCoord>40</dCoord>"),
         "{f}:40:7: Scenario/Actors/Actor[3]/Position: <Position> has 1 <dCoord> elements; "
         "there are 2 dimensions"),
        (GOOD_XML.replace("<dCoord>40</dCoord><dCoord>60</dCoord>",
                          "<dCoord>40</dCoord><dCoord>NaN</dCoord>"),
         "{f}:40:36: Scenario/Actors/Actor[3]/Position/dCoord[2]: position <dCoord> (actor "
         "'Cat', dimension 'Two') must be a finite number, got 'NaN'"),
        (GOOD_XML.replace("<dSal>10</dSal>", "<dSal>90</dSal>"),
         "{f}:41:7: Scenario/Actors/Actor[3]/Salience: saliences of actor 'Cat' sum to 110; the "
         "sum must be <= 100"),
        (GOOD_XML.replace("<capability>20</capability>", "<capability>-1</capability>"),
         "{f}:32:7: Scenario/Actors/Actor[2]/capability: capability must be in [0, 1e+08], "
         "got -1"),
        (GOOD_XML.replace("<capability>20</capability>", "<capability>lots</capability>"),
         "{f}:32:7: Scenario/Actors/Actor[2]/capability: capability <capability> (actor 'Ben') "
         "is not a number: 'lots'"),
        (GOOD_XML.replace("<VotingRule>Proportional", "<VotingRule>Majority"),
         "{f}:10:5: Scenario/ModelParameters/VotingRule: unknown VotingRule value 'Majority'; "
         "expected one of Binary, PropBin, Proportional, PropCbc, Cubic, ASymProsp"),
        (GOOD_XML.replace("    <BargnModel>InitOnlyInterp</BargnModel>\n", ""),
         "{f}:6:3: Scenario/ModelParameters/BargnModel: missing required element <BargnModel>"),
        (GOOD_XML.replace("ModelParameters>", "ModelParameter>"),
         "{f}:6:3: Scenario/ModelParameter: unknown element <ModelParameter> in <Scenario> "
         "(expected <name>, <desc>, <prngSeed>, <ModelParameters>, <Dimensions>, <Actors>, "
         "<IdealAdjustment>)"),
        (GOOD_XML.replace("<prngSeed>42", "<prngSeed>-42"),
         "{f}:5:3: Scenario/prngSeed: <prngSeed> must be an unsigned 64-bit integer, got '-42'"),
        (GOOD_XML.replace("<name>Cat</name>", "<name>Ann</name>"),
         "{f}:37:7: Scenario/Actors/Actor[3]/name: duplicate actor name 'Ann' (first on line "
         "23)"),
        (GOOD_XML.replace("<referencePos>Ben</referencePos>",
                          "<referencePos>Zed</referencePos>"),
         "{f}:52:7: Scenario/IdealAdjustment/iaPair[2]/referencePos: <referencePos> names "
         "unknown actor 'Zed'"),
        (GOOD_XML.replace("<adjust>0.1</adjust>", "<adjust>1.5</adjust>"),
         "{f}:53:7: Scenario/IdealAdjustment/iaPair[2]/adjust: affinity must be in [0, 1], "
         "got 1.5"),
        (GOOD_XML.replace("<adjust>0.1</adjust>", "<adjust>0.3</adjust>"),
         "{f}:50:5: Scenario/IdealAdjustment/iaPair[2]: affinity row of actor 'Ann' sums to 1.1 "
         "(entries not listed keep the identity's 1 on the diagonal); a row must sum to <= 1"),
        (GOOD_XML.replace("<referencePos>Ben</referencePos>",
                          "<referencePos>Ann</referencePos>"),
         "{f}:50:5: Scenario/IdealAdjustment/iaPair[2]: duplicate iaPair for ('Ann', 'Ann'); "
         "first on line 45"),
        (GOOD_XML.replace("<dName>Two</dName>", "<dName>One</dName>"),
         "{f}:19:5: Scenario/Dimensions/dName[2]: duplicate dimension name 'One' (first on line "
         "18)"),
    ],
)
def test_xml_bad_input(tmp_path, text, expected):
    f, lines = xml_error(tmp_path, text)
    assert lines == [expected.format(f=f)]


def test_xml_too_few_actors(tmp_path):
    start = GOOD_XML.index("    <Actor>\n      <name>Cat")
    end = GOOD_XML.index("</Actor>", start) + len("</Actor>\n")
    f, lines = xml_error(tmp_path, GOOD_XML[:start] + GOOD_XML[end:])
    assert lines == [f"{f}:21:3: Scenario/Actors: number of actors must be in 3..250, got 2"]
