"""Evidence checking: normalisation of quotes and sources, and each kind of finding."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stakes.errors import InputError
from stakes.scenario.evidence import (
    EvidenceFinding,
    check_evidence,
    missing_basis,
    normalize,
)
from stakes.scenario.schema import Scenario

SOURCE_TEXT = (
    "The war\u2014and its aftermath\u2014matter.  It\u2019s \u201cunrealistic\u201d,\n"
    "the\u00a0authors   wrote \u2013 twice. A step-by-step plan\u2026 Vis-\u00e0-vis Palestine.\n"
)


def _scenario(quotes: list[tuple[str, str]], sources: list[dict] | None = None) -> Scenario:
    """A tiny scenario with one entry per quote: (source id, quote) as the position's basis."""
    sources = sources if sources is not None else [
        {"id": "s1", "title": "One", "file": "one.txt"},
    ]
    actors = [{"id": f"a{k}", "name": f"A{k}", "capability": {"value": 1, "basis": {
        "kind": "judgment", "rationale": "test"}}} for k in range(len(quotes))]
    entries = [{
        "actor": f"a{k}", "issue": "i",
        "position": {"value": 50, "basis": {"kind": "evidence", "source": src, "quote": q}},
        "salience": {"value": 0.5, "basis": {"kind": "judgment", "rationale": "test"}},
    } for k, (src, q) in enumerate(quotes)]
    return Scenario.model_validate({
        "stakes": 1,
        "metadata": {"name": "t", "sources": sources},
        "actors": actors or [{"id": "a0", "name": "A0"}],
        "issues": [{"id": "i", "name": "I", "status_quo": {"value": 10, "basis": {
            "kind": "judgment", "rationale": "test"}}}],
        "entries": entries,
    })


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "one.txt").write_text(SOURCE_TEXT, encoding="utf-8")
    return tmp_path


# --- normalisation ---------------------------------------------------------


@pytest.mark.parametrize("quote", [
    "The war\u2014and its aftermath\u2014matter.",   # as printed
    "The war - and its aftermath - matter.",       # spaced hyphens for em dashes
    "The war--and its aftermath--matter.",         # doubled hyphens
    "The war \u2013 and its aftermath \u2013 matter.",  # spaced en dashes
    "It's \"unrealistic\", the authors wrote",     # straight quotes, line break and nbsp
    "It\u2018s \u201eunrealistic\u201d",            # other curly forms
    "wrote - twice",
    "A step\u2013by\u2013step plan...",              # en dashes and three dots
    "Vis-\u00e0-vis Palestine",
    "Vis-a\u0300-vis Palestine",                     # decomposed accent (NFC)
])
def test_typographic_variants_are_found(folder: Path, quote: str) -> None:
    assert check_evidence(_scenario([("s1", quote)]), folder) == []


@pytest.mark.parametrize("quote", [
    "the war\u2014and its aftermath",  # case is kept
    "The war and its aftermath",       # a dash is not nothing
    "It's unrealistic",                # quote marks are not nothing
    "Vis-a-vis Palestine",             # letters are not typography
    "The peace\u2014and its aftermath",
])
def test_wording_differences_are_not_forgiven(folder: Path, quote: str) -> None:
    (finding,) = check_evidence(_scenario([("s1", quote)]), folder)
    assert finding.message == "quote not found in one.txt"


def test_normalize_collapses_whitespace_and_dashes() -> None:
    assert normalize("a\u00a0 \n\tb\u2014c -- d\u00add") == "a b - c - dd"
    assert normalize("\u201cx\u201d \u2018y\u2019") == "\"x\" 'y'"


@given(st.text(max_size=60))
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80),
       st.integers(0, 80), st.integers(0, 80))
def test_any_slice_of_a_source_is_found(text: str, i: int, j: int) -> None:
    """A quote cut out of the source at word boundaries is always found."""
    words = text.split()
    quote = " ".join(words[min(i, j):max(i, j)])
    if normalize(quote):
        assert normalize(quote) in normalize(text)


# --- findings ----------------------------------------------------------------


def test_exact_quote_gives_no_finding(folder: Path) -> None:
    assert check_evidence(_scenario([("s1", "A step-by-step plan")]), folder) == []


def test_finding_names_field_source_file_and_quote(folder: Path) -> None:
    scn = _scenario([("s1", "A step-by-step plan"), ("s1", "not in the text")])
    (f,) = check_evidence(scn, folder)
    assert f == EvidenceFinding(
        path="entries[1].position.basis", message="quote not found in one.txt",
        source="s1", file="one.txt", quote="not in the text",
    )
    assert "[" not in str(f).replace("entries[1]", "")  # printable through rich markup
    assert "entries[1].position.basis" in str(f) and "one.txt" in str(f)


def test_source_without_file(folder: Path) -> None:
    scn = _scenario([("s2", "anything")], sources=[
        {"id": "s1", "title": "One", "file": "one.txt"}, {"id": "s2", "title": "Two"}])
    (f,) = check_evidence(scn, folder)
    assert (f.message, f.source, f.file) == ("source has no file", "s2", None)


def test_source_file_missing(folder: Path) -> None:
    scn = _scenario([("s2", "anything"), ("s2", "again")], sources=[
        {"id": "s2", "title": "Two", "file": "two.txt"}])
    findings = check_evidence(scn, folder)
    assert [f.message for f in findings] == ["source file missing"] * 2
    assert {f.path for f in findings} == {"entries[0].position.basis", "entries[1].position.basis"}


def test_source_file_not_text(folder: Path) -> None:
    (folder / "bad.txt").write_bytes(b"\xff\xfe\x00bad")
    scn = _scenario([("s3", "bad")], sources=[{"id": "s3", "title": "Bad", "file": "bad.txt"}])
    (f,) = check_evidence(scn, folder)
    assert f.message.startswith("source file unreadable")


def test_unknown_source_in_an_unchecked_scenario(folder: Path) -> None:
    # The loader rejects unknown sources; a scenario built in memory may still carry one.
    scn = _scenario([("s1", "A step-by-step plan")])
    entry = scn.entries[0]
    basis = entry.position.basis.model_copy(update={"source": "nowhere"})
    scn = scn.model_copy(update={"entries": [entry.model_copy(update={
        "position": entry.position.model_copy(update={"basis": basis})})]})
    (f,) = check_evidence(scn, folder)
    assert f.message.startswith("unknown source 'nowhere'")


def test_quotes_in_levers_and_status_quo_are_checked(folder: Path) -> None:
    scn = Scenario.model_validate({
        "stakes": 1,
        "metadata": {"name": "t", "sources": [{"id": "s1", "title": "One", "file": "one.txt"}]},
        "actors": [{"id": "a", "name": "A", "capability": 1}],
        "issues": [{"id": "i", "name": "I", "status_quo": {"value": 1, "basis": {
            "kind": "evidence", "source": "s1", "quote": "no such words"}}}],
        "entries": [{"actor": "a", "issue": "i", "position": 1, "salience": 1}],
        "levers": [{"id": "l", "name": "L",
                    "basis": {"kind": "evidence", "source": "s1", "quote": "twice"},
                    "effects": [{"actor": "a", "position": {"set": 2}, "basis": {
                        "kind": "evidence", "source": "s1", "quote": "thrice"}}]}],
    })
    paths = [f.path for f in check_evidence(scn, folder)]
    assert paths == ["issues[0].status_quo.basis", "levers[0].effects[0].basis"]


def test_missing_sources_folder_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="sources folder not found"):
        check_evidence(_scenario([("s1", "x")]), tmp_path / "absent")


# --- missing bases -------------------------------------------------------------


def test_missing_basis_lists_every_unbased_value() -> None:
    scn = Scenario.model_validate({
        "stakes": 1,
        "metadata": {"name": "t"},
        "actors": [{"id": "a", "name": "A", "capability": 1},
                   {"id": "b", "name": "B"}],  # capability per entry: nothing to base here
        "issues": [{"id": "i", "name": "I", "status_quo": 5},
                   {"id": "j", "name": "J"}],  # no status quo: nothing to base
        "entries": [
            {"actor": "a", "issue": "i", "position": 1, "salience": {"value": 1, "basis": {
                "kind": "judgment", "rationale": "r"}}},
            {"actor": "b", "issue": "j", "position": 1, "salience": 1, "capability": 2},
        ],
        "levers": [{"id": "l", "name": "L", "effects": [{"actor": "a", "position": {"set": 2}}]}],
        "plans": [{"id": "p", "name": "P", "steps": [{"lever": "l"}]}],
    })
    paths = [f.path for f in missing_basis(scn)]
    assert paths == [
        "actors[0].capability.basis",
        "issues[0].status_quo.basis",
        "entries[0].position.basis",
        "entries[1].position.basis",
        "entries[1].salience.basis",
        "entries[1].capability.basis",
        "levers[0].basis",
        "plans[0].basis",
    ]
    assert all(f.source is None and f.quote is None for f in missing_basis(scn))


def test_fully_based_scenario_has_no_missing_basis() -> None:
    assert missing_basis(_scenario([("s1", "x")])) == []
