"""The readers on the reference inputs: counts, values, detection, round trips, convert."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stakes.errors import InputError, OptionError
from stakes.readers import FORMATS, detect_format, load_any
from stakes.readers.bdm import make_ids, slug
from stakes.readers.convert import convert
from stakes.scenario.schema import Data, Scenario
from stakes.scenario.yaml_io import dumps_scenario, loads_scenario

REFERENCE = (Path(__file__).parents[2] / ".." / "shared" / "reference").resolve()
DOCS = Path(__file__).resolve().parents[2] / "docs"

# file, format, actors, issues, entries (spec §7 and the folder READMEs)
REFERENCE_FILES = [
    ("jmckib-bdm-scholz/ExampleActors.csv", "bdm-csv", 10, 1, 10),
    ("jmckib-bdm-scholz/Sultan.csv", "bdm-csv", 17, 1, 17),
    ("dmasad-bdm-replication/ExampleActors.csv", "bdm-csv", 10, 1, 10),
    ("dmasad-bdm-replication/ChinaData.csv", "bdm-csv", 24, 1, 24),
    ("dmasad-bdm-replication/HondurasCrisisData.csv", "bdm-csv", 5, 1, 5),
    ("burakbayramli-classnotes/mugabe-full.csv", "bdm-csv", 32, 1, 32),
    ("burakbayramli-classnotes/uk_emu_labor.csv", "bdm-csv", 9, 1, 9),
    ("burakbayramli-classnotes/columbus.csv", "bdm-csv", 4, 1, 4),
    ("decisionmechanics-eum/emission-standards.txt", "dm-tsv", 10, 1, 10),
    ("decisionmechanics-eum/iranian-election.txt", "dm-tsv", 8, 1, 8),
    ("decisionmechanics-eum/argentina.txt", "dm-tsv", 17, 1, 17),
    ("ktab/dummyData_3Dim.csv", "ktab-csv", 7, 3, 21),
    ("ktab/SOE-Pol-Comp.csv", "ktab-csv", 13, 2, 26),
    ("ktab/dummyData_6Dim.csv", "ktab-csv", 27, 6, 162),
    ("ktab/dummyData-a040.csv", "ktab-csv", 40, 1, 40),
    ("ktab/SOE-Competitive.csv", "ktab-csv", 34, 1, 34),
    ("ktab/SOE-Policy.csv", "ktab-csv", 26, 1, 26),
    ("ktab/smpExample-2016-11-29.xml", "ktab-xml", 5, 3, 15),
    ("decide-exchange-model/sample_data.txt", "decide-tsv", 10, 6, 60),
    ("decide-exchange-model/copenhagen.csv", "decide-tsv", 11, 7, 75),
    ("decide-exchange-model/cop21.csv", "decide-tsv", 15, 13, 181),
]


def ref(rel: str) -> Path:
    path = REFERENCE / rel
    if not path.exists():
        pytest.skip(f"reference data not available: {path} (the shared/reference folder "
                    "beside the repository is absent)")
    return path


_cache: dict[str, Scenario] = {}


def loaded(rel: str) -> Scenario:
    if rel not in _cache:
        _cache[rel] = load_any(ref(rel))
    return _cache[rel]


def values(scn: Scenario):
    for a in scn.actors:
        if a.capability is not None:
            yield a.capability
    for e in scn.entries:
        yield e.position
        yield e.salience
        if e.capability is not None:
            yield e.capability


# --------------------------------------------------------------------------
# every reference input


@pytest.mark.parametrize("rel,fmt,n_actors,n_issues,n_entries", REFERENCE_FILES,
                         ids=[r[0] for r in REFERENCE_FILES])
def test_reference_file_loads(rel, fmt, n_actors, n_issues, n_entries):
    path = ref(rel)
    assert detect_format(path) == fmt
    scn = loaded(rel)
    assert (len(scn.actors), len(scn.issues), len(scn.entries)) == (n_actors, n_issues,
                                                                    n_entries)
    sources = {s.id for s in scn.metadata.sources}
    assert [s.file for s in scn.metadata.sources] == [path.name]
    for v in values(scn):
        assert isinstance(v.basis, Data) and v.basis.source in sources
    for e in scn.entries:
        assert 0 <= e.salience.value <= 1
        sc = scn.issue(e.issue).scale
        assert sc.min <= e.position.value <= sc.max
    assert len({a.id for a in scn.actors}) == n_actors


# one file per format (and the XML with parameters and affinities); the YAML
# parser is pure Python, so the larger files would only slow the suite down
ROUND_TRIP = [
    "jmckib-bdm-scholz/ExampleActors.csv",
    "burakbayramli-classnotes/mugabe-full.csv",
    "decisionmechanics-eum/argentina.txt",
    "ktab/SOE-Pol-Comp.csv",
    "ktab/smpExample-2016-11-29.xml",
    "decide-exchange-model/sample_data.txt",
]


@pytest.mark.parametrize("rel", ROUND_TRIP)
def test_round_trip_through_yaml_is_identity(rel):
    scn = loaded(rel)
    assert loads_scenario(dumps_scenario(scn, header="round trip")) == scn


def test_shipped_smp_example_xml_fails_clearly():
    path = ref("ktab/smpExample.xml")
    with pytest.raises(InputError) as exc:
        load_any(path)
    assert exc.value.lines() == [
        f"{path}:32:9: Scenario/Actors/Actor[1]/Position/dCoord[1]: position <dCoord> "
        "(actor 'Alice', dimension 'FirstDim') is empty; expected a number"
    ]


# --------------------------------------------------------------------------
# BDM tables


def numbers(scn: Scenario) -> list[tuple]:
    """Actor names with capability, position and salience: what the models see."""
    out = []
    for a in scn.actors:
        e = scn.entry(a.id, scn.issues[0].id)
        out.append((a.name, a.capability.value, e.position.value, e.salience.value))
    return out


def test_ec_example_from_jmckib_and_dmasad_is_the_same_scenario():
    jm = loaded("jmckib-bdm-scholz/ExampleActors.csv")
    dm = loaded("dmasad-bdm-replication/ExampleActors.csv")  # salience on 0-100
    assert "0-1 (detected" in jm.metadata.description
    assert "0-100 (detected" in dm.metadata.description
    strip = {"metadata"}
    assert jm.model_dump(exclude=strip) == dm.model_dump(exclude=strip)
    assert numbers(jm) == numbers(dm)
    assert numbers(jm)[0] == ("Netherlands", 0.08, 4.0, 0.8)
    assert jm.issues[0].scale.min == 4 and jm.issues[0].scale.max == 10
    # decisionmechanics' copy of the same example: the same numbers
    assert numbers(loaded("decisionmechanics-eum/emission-standards.txt")) == numbers(jm)


def test_stakeholder_resources_header_and_percent_salience():
    scn = loaded("dmasad-bdm-replication/ChinaData.csv")
    assert numbers(scn)[0] == ("Zeming", 80.0, 25.0, 0.5)
    by_name = {a.name: a.id for a in scn.actors}
    assert by_name["STU/INTEL"] == "STU_INTEL"
    assert by_name["Hong Kong"] == "Hong_Kong"
    assert (scn.issues[0].scale.min, scn.issues[0].scale.max) == (10, 100)


def test_mugabe_full_reads_four_columns_and_says_what_it_ignores():
    scn = loaded("burakbayramli-classnotes/mugabe-full.csv")
    assert numbers(scn)[0] == ("Mugabe", 338.6, 100.0, 0.95)
    assert numbers(scn)[-1] == ("WorldBank", 30.0, 30.0, 0.2)
    desc = scn.metadata.description
    assert "Ignored: columns Flexibility, Veto, Fixed (not used by stakes)" in desc
    assert "a second 'Position' header (column 8) with no values in any row" in desc


def test_decisionmechanics_bom_and_names():
    scn = loaded("decisionmechanics-eum/argentina.txt")
    assert numbers(scn)[0] == ("Macri", 0.159058374, 100.0, 0.99)
    assert {a.id for a in scn.actors} >= {"Pope_Francis", "UCR_Alliance", "CFK"}


def test_forced_salience_scale_and_scale_option(tmp_path):
    jm = ref("jmckib-bdm-scholz/ExampleActors.csv")
    as_percent = load_any(jm, salience_scale="percent")
    assert numbers(as_percent)[0][3] == pytest.approx(0.008)
    assert "0-100 (as told)" in as_percent.metadata.description
    wide = load_any(jm, scale=(0, 12))
    assert (wide.issues[0].scale.min, wide.issues[0].scale.max) == (0, 12)
    with pytest.raises(InputError) as exc:
        load_any(ref("dmasad-bdm-replication/ExampleActors.csv"), salience_scale="unit")
    first = exc.value.lines()[0]
    assert first.endswith("ExampleActors.csv:2:20: Salience: must be within [0, 1], got 80 "
                          "(salience_scale='unit')")


def test_ids_from_names():
    assert slug("RELIGIOUS LEADERS") == "RELIGIOUS_LEADERS"
    assert slug("EUR/JPN") == "EUR_JPN"
    assert slug("Zürich (canton)") == "Zurich_canton"
    assert slug("NO") == "NO"
    assert slug("???") == ""
    ids, notes = make_ids(["EU/JP", "EU JP", "???", "EU_JP"], "actor")
    assert ids == ["EU_JP", "EU_JP_2", "actor3", "EU_JP_3"]
    assert notes == ["'EU JP' -> EU_JP_2", "'EU_JP' -> EU_JP_3"]


# --------------------------------------------------------------------------
# KTAB


def test_ktab_csv_values():
    scn = loaded("ktab/SOE-Pol-Comp.csv")
    assert [i.name for i in scn.issues] == ["Policy Position", "Competitive Position"]
    assert all((i.scale.min, i.scale.max) == (0, 100) for i in scn.issues)
    xj = scn.actor("XJ")
    assert (xj.name, xj.description, xj.capability.value) == ("XJ", "Xi Jinping", 100.0)
    e = scn.entry("XJ", scn.issues[1].id)
    assert (e.position.value, e.salience.value) == (20.0, 48.0 / 100)
    assert scn.metadata.name == "China Policy/Competitive; scen 2"
    assert scn.affinity is None and scn.options == {}


def test_ktab_xml_parameters_affinity_and_seed():
    scn = loaded("ktab/smpExample-2016-11-29.xml")
    assert scn.options == {"smp": {
        "victory_prob_model": "Linear", "pce_model": "MarkovIncentive",
        "state_transitions": "Stochastic", "voting_rule": "PropCbc",
        "big_r_adjust": "OneThird", "big_r_range": "Mid",
        "third_party_commit": "SemiCommit", "inter_vec_brgn": "S2P2",
        "bargn_model": "InitOnlyInterp"}}
    assert [(a.actor, a.toward, a.weight) for a in scn.affinity] == [
        ("Alice", "Alice", 0.87), ("Bob", "Bob", 0.75), ("Bob", "Alice", 0.07),
        ("Carol", "Carol", 0.65), ("Carol", "David", 0.13), ("David", "David", 0.57)]
    assert "KTAB prngSeed: 3507583219545544127." in scn.metadata.description
    alice = scn.entry("Alice", "FirstDim")
    assert (alice.position.value, alice.salience.value) == (52.8, 32.3 / 100)


def test_ktab_options_are_valid_smp_options():
    smp = pytest.importorskip("stakes.models.smp")
    scn = loaded("ktab/smpExample-2016-11-29.xml")
    opts = smp.SMPOptions(**scn.options["smp"])
    assert opts.voting_rule == "PropCbc"


# --------------------------------------------------------------------------
# decide


def test_decide_scales_power_and_exact_numbers():
    scn = loaded("decide-exchange-model/sample_data.txt")
    toll = scn.issue("tol-hoogte")
    assert (toll.scale.min, toll.scale.max) == (0.5, 7.0)
    e = scn.entry("Willems", "tol-hoogte")
    assert (e.position.value, e.salience.value, e.capability.value) == (3.0, 0.7, 1.0)
    assert all(a.capability is None for a in scn.actors)  # power lives on the entries
    cop = loaded("decide-exchange-model/copenhagen.csv")
    eu = next(a for a in cop.actors if a.name == "EU (incl Norway)")
    assert eu.id == "EU_incl_Norway"
    e = cop.entry(eu.id, "Newtreaty")
    assert (e.position.value, e.salience.value, e.capability.value) == (50.0, 0.4, 0.156)
    assert repr(e.capability.value) == "0.156"


def test_decide_labels_and_actors_without_rows(tmp_path):
    p = tmp_path / "labels.txt"
    p.write_text("'#A'\t'a b'\t'Alpha'\n'#A'\t'c'\t'Idle'\n'#A'\t'd'\t'Delta'\n"
                 "'#P'\t'tax'\t'Tax rate'\t'Top income tax'\n"
                 "'#M'\t'tax'\t30\t'low'\n'#M'\t'tax'\t45\t'middle'\n"
                 "'#M'\t'tax'\t60\t'high'\n"
                 "'#D'\t'a b'\t'tax'\t32.5\t0.25\t0.125\n"
                 "'#D'\t'd'\t'tax'\t59\t1\t0.5\n", encoding="utf-8")
    scn = load_any(p)
    issue = scn.issue("tax")
    assert (issue.scale.min, issue.scale.max) == (30, 60)
    assert (issue.scale.min_label, issue.scale.max_label) == ("low", "high")
    assert issue.description == "Top income tax Scale points: 45 = middle."
    assert [(a.id, a.name) for a in scn.actors] == [("a_b", "Alpha"), ("d", "Delta")]
    assert "Actors without any #D row left out: c." in scn.metadata.description
    e = scn.entry("a_b", "tax")
    assert (e.position.value, e.salience.value, e.capability.value) == (32.5, 0.25, 0.125)


def test_bdm_ids_made_unique_are_reported(tmp_path):
    p = tmp_path / "clash.csv"
    p.write_text("Actor,Capability,Position,Salience\nEU/JP,1,0,0.5\nEU JP,1,10,0.5\n")
    scn = load_any(p)
    assert [(a.id, a.name) for a in scn.actors] == [("EU_JP", "EU/JP"), ("EU_JP_2", "EU JP")]
    assert "Actor ids made unique: 'EU JP' -> EU_JP_2." in scn.metadata.description


# --------------------------------------------------------------------------
# detection, options, convert


def test_formats_are_named():
    assert set(FORMATS) == {"stakes-yaml", "bdm-csv", "dm-tsv", "ktab-csv", "ktab-xml",
                            "decide-tsv"}
    assert all(FORMATS.values())


@pytest.mark.parametrize("suffix", [".csv", ".txt", ".dat", ""])
def test_detection_by_content_whatever_the_suffix(tmp_path, suffix):
    cases = {
        "bdm-csv": "Actor,Capability,Position,Salience\nA,1,0,0.5\nB,1,10,0.5\n",
        "dm-tsv": "\ufeffName\tx\tc\ts\nA\t0\t1\t0.5\nB\t10\t1\t0.5\n",
        "ktab-csv": "T,d,3,1\nActor,Description,Power,X Position,X Salience\n",
        "ktab-xml": "<?xml version='1.0'?>\n<Scenario/>\n",
        "decide-tsv": "'#A'\t'a'\t'A'\n",
        "stakes-yaml": "# converted\nstakes: 1\nmetadata: {name: x}\n",
    }
    for fmt, text in cases.items():
        p = tmp_path / f"{fmt}{suffix}"
        p.write_text(text, encoding="utf-8")
        assert detect_format(p) == fmt


def test_detection_failure_names_the_formats(tmp_path):
    p = tmp_path / "mystery.csv"
    p.write_text("\n\nhello,world\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        detect_format(p)
    (line,) = exc.value.lines()
    assert line.startswith(f"{p}:3:1: cannot tell the format: the first line is not a BDM CSV "
                           "header (Actor,Capability,Position,Salience)")
    assert line.endswith("(one of stakes-yaml, bdm-csv, dm-tsv, ktab-csv, ktab-xml, "
                         "decide-tsv)")


def test_fmt_overrides_detection(tmp_path):
    p = tmp_path / "table.data"
    p.write_text("Actor,Capability,Position,Salience\nA,1,0,0.5\nB,1,10,0.5\n")
    assert len(load_any(p, fmt="bdm-csv").actors) == 2
    with pytest.raises(InputError) as exc:
        load_any(p, fmt="dm-tsv")
    assert "header has no field separators" in exc.value.lines()[0]


@pytest.mark.parametrize("kwargs,message", [
    ({"fmt": "excel"}, "unknown format 'excel'; expected one of stakes-yaml, bdm-csv, "
                       "dm-tsv, ktab-csv, ktab-xml, decide-tsv"),
    ({"salience_scale": "0-1"}, "salience_scale '0-1': expected one of auto, unit, percent"),
    ({"fmt": "ktab-csv", "salience_scale": "unit"},
     "salience_scale='unit' does not apply to ktab-csv: its saliences are always on 0-100"),
    ({"fmt": "decide-tsv", "scale": (0, 1)},
     "scale applies to bdm-csv and dm-tsv only, not to decide-tsv"),
    ({"fmt": "bdm-csv", "scale": (5, 5)}, "scale (5, 5): min must be below max"),
    ({"colour": "red"}, "unknown reader option: colour"),
])
def test_bad_options_raise_option_error(tmp_path, kwargs, message):
    p = tmp_path / "t.csv"
    p.write_text("Actor,Capability,Position,Salience\nA,1,0,0.5\nB,1,10,0.5\n")
    with pytest.raises(OptionError) as exc:
        load_any(p, **kwargs)
    assert str(exc.value) == message


def test_missing_file(tmp_path):
    with pytest.raises(InputError) as exc:
        load_any(tmp_path / "nope.csv")
    assert exc.value.lines() == [f"{tmp_path / 'nope.csv'}: no such file"]


def test_convert_writes_yaml_with_a_header(tmp_path):
    src = ref("burakbayramli-classnotes/columbus.csv")
    out = tmp_path / "columbus.yaml"
    scn = convert(src, out)
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# stakes scenario converted from columbus.csv\n"
                           "# source format: bdm-csv (BDM CSV:")
    assert load_any(out) == scn
    assert detect_format(out) == "stakes-yaml"
    assert [p.name for p in tmp_path.iterdir()] == ["columbus.yaml"]  # no temporary left


def test_convert_writes_nothing_on_error(tmp_path):
    src = ref("ktab/smpExample.xml")
    out = tmp_path / "new.yaml"
    with pytest.raises(InputError):
        convert(src, out)
    assert list(tmp_path.iterdir()) == []
    kept = tmp_path / "kept.yaml"
    kept.write_text("old content\n")
    with pytest.raises(InputError):
        convert(src, kept)
    assert kept.read_text() == "old content\n"
    assert [p.name for p in tmp_path.iterdir()] == ["kept.yaml"]


def test_convert_refuses_to_overwrite_its_input(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("Actor,Capability,Position,Salience\nA,1,0,0.5\nB,1,10,0.5\n")
    with pytest.raises(OptionError, match="would overwrite the input"):
        convert(p, p)
    assert p.read_text().startswith("Actor,")


# --------------------------------------------------------------------------
# the documented example


def test_formats_doc_example_loads():
    text = (DOCS / "formats.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```yaml\n(.*?)^```", text, re.S | re.M)
    assert len(blocks) == 1, "docs/formats.md should hold exactly one yaml example"
    scn = loads_scenario(blocks[0], "docs/formats.md")
    assert scn.actor("NO").name == "Norway"  # YAML 1.2: NO stays a string
    assert [lv.id for lv in scn.levers] == ["eu-pressure", "faroe-joins"]
    assert scn.plans[0].steps[1].round == 2
    assert loads_scenario(dumps_scenario(scn)) == scn
