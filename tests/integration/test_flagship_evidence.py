"""The packaged flagship scenario: its coverage, its bases and its quotes.

The quotes are checked against the three source articles kept next to the
repository (``../shared/seeds``); those tests skip when the folder is absent,
since the articles are not distributed with the package, except under CI, where
``STAKES_REQUIRE_SHARED=1`` (set by ``.ci/run``) makes its absence a failure.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import pytest

from stakes.scenario.check import bases
from stakes.scenario.evidence import check_evidence, missing_basis, normalize
from stakes.scenario.review import review
from stakes.scenario.schema import Evidence, Judgment, Scenario, basis_kind
from stakes.scenario.yaml_io import load_yaml_scenario

NAME = "us-israel-palestine-2023.yaml"
SEEDS = Path(__file__).resolve().parents[2].parent / "shared" / "seeds"

REQUIRED_ISSUES = {
    "us_recognition", "aid_conditions", "un_veto", "settlements", "wb_withdrawal",
    "jerusalem", "ceasefire", "saudi_normalization", "defense_treaty", "negotiation_format",
}
# The levers the three articles propose (brief names -> scenario ids).
REQUIRED_LEVERS = {
    "condition_aid",                      # seed 000: condition military aid
    "end_un_shield",                      # seeds 000, 001: stop shielding Israel at the UN
    "recognition_conditional_elections",  # seed 000: recognition conditioned on elections
    "ceasefire_and_conference",           # seed 001: cease-fire + conference with Turkey, Qatar
    "settlements_law_and_sanctions",      # seed 001: settlements illegal; sanction violent settlers
    "allen_plan",                         # seed 002: the Allen Plan security package
    "defense_treaty_offer",               # seed 002: a defense-treaty offer
    "saudi_normalization_linked",         # seed 002: normalization linked to a Palestinian state
    "eu_spp",                             # seed 002: EU Special Privileged Partnership
}
# Seed 000's sequence, in the order of its text.
ALLISON = [
    "condition_aid", "end_un_shield", "recognition_conditional_elections",
    "push_negotiations", "settlement_freeze_timeline", "withdrawal_date", "shared_jerusalem",
]


@pytest.fixture(scope="module")
def scn() -> Scenario:
    ref = resources.files("stakes.data") / "scenarios" / NAME
    with resources.as_file(ref) as path:
        return load_yaml_scenario(path)


@pytest.fixture(scope="module")
def seeds() -> Path:
    if not SEEDS.is_dir():
        if os.environ.get("STAKES_REQUIRE_SHARED"):
            pytest.fail(f"source articles not found at {SEEDS}, and STAKES_REQUIRE_SHARED is "
                        "set (CI clones ../shared beside the repository)")
        pytest.skip(f"source articles not found at {SEEDS}: the quote check needs the user's "
                    "copies of the three seed articles")
    return SEEDS


def test_size_and_required_issues(scn: Scenario) -> None:
    assert len(scn.actors) >= 15
    assert len(scn.issues) >= 8
    assert REQUIRED_ISSUES <= {i.id for i in scn.issues}
    for issue in scn.issues:
        sc = issue.scale
        assert (sc.min, sc.max) == (0, 100), issue.id
        assert sc.min_label and sc.max_label and sc.unit, issue.id
        assert issue.status_quo is not None, issue.id


def test_actors_split_as_the_articles_treat_them(scn: Scenario) -> None:
    ids = {a.id for a in scn.actors}
    assert {"us_exec", "us_congress", "isr_coalition", "isr_security", "isr_opposition",
            "pa_plo", "hamas", "egypt", "jordan", "saudi", "qatar", "turkey", "uae", "iran",
            "hezbollah", "eu", "russia", "china"} <= ids
    for a in scn.actors:
        assert a.capability is not None, a.id


def test_required_levers_and_their_mechanisms(scn: Scenario) -> None:
    levers = {lv.id: lv for lv in scn.levers}
    assert REQUIRED_LEVERS <= set(levers)
    for lid in REQUIRED_LEVERS:
        assert isinstance(levers[lid].basis, Evidence), lid
    # Conditioning aid works through the executive's salience and capability on Israeli
    # choices, not only through its own position on aid.
    kinds = {(e.actor, k) for e in levers["condition_aid"].effects
             for k in ("position", "salience", "capability") if getattr(e, k) is not None}
    assert {("us_exec", "salience"), ("us_exec", "capability")} <= kinds
    # Turkey and Qatar are present from the start; invited, they weigh more on the format.
    invited = {e.actor for e in levers["ceasefire_and_conference"].effects
               if e.capability is not None}
    assert invited == {"turkey", "qatar"}
    assert scn.actor("turkey").present and scn.actor("qatar").present
    assert levers["defense_treaty_offer"].feasibility == "infeasible"
    assert isinstance(levers["defense_treaty_offer"].feasibility_basis, Evidence)


def test_passes_the_review(scn: Scenario) -> None:
    """What `stakes check` requires: bases that say what they show, rationales that are
    sentences, no recommendation behind a position (refused at load)."""
    assert [str(f) for f in review(scn)] == []
    for path, b in bases(scn):
        if basis_kind(b) == "recommendation":
            assert path[0] in ("levers", "plans", "expectations"), path


def test_who_decides_and_who_talks_are_stated(scn: Scenario) -> None:
    for issue in scn.issues:
        assert issue.arena is not None, issue.id
    ids = {a.id for a in scn.actors}
    assert {"us_progressives", "isr_national_unity"} <= ids
    ceasefire = {m.actor for m in scn.issue("ceasefire").arena.authority}
    assert {"isr_coalition", "isr_national_unity", "hamas"} <= ceasefire
    assert scn.channels is not None
    shut = scn.channels.closed_pairs(ids)
    assert frozenset(("hamas", "isr_settler_right")) in shut
    assert frozenset(("pa_plo", "isr_security")) in shut
    assert frozenset(("qatar", "hamas")) not in shut


def test_expectations_cover_baseline_and_levers(scn: Scenario) -> None:
    base = [ex for ex in scn.expectations if ex.intervention == "baseline"]
    levers = [ex for ex in scn.expectations if ex.intervention != "baseline"]
    assert len(base) >= 8 and len(levers) >= 5
    assert all(ex.basis is not None and ex.reason for ex in scn.expectations)


def test_every_lever_effect_has_a_basis(scn: Scenario) -> None:
    for lv in scn.levers:
        for eff in lv.effects:
            assert eff.basis is not None, lv.id


def test_allison_plan_follows_seed_000(scn: Scenario) -> None:
    plan = scn.plan("allison_sequence")
    assert [s.lever for s in plan.steps] == ALLISON
    rounds = [s.round for s in plan.steps]
    assert all(r is not None for r in rounds)
    assert rounds == sorted(rounds)
    # "First" (aid, UN), "next" (recognition), then the rest: three distinct stages.
    assert rounds[0] == rounds[1] < rounds[2] < rounds[3] == rounds[-1]


def test_no_value_without_basis(scn: Scenario) -> None:
    assert missing_basis(scn) == []
    for e in scn.entries:
        for f in ("position", "salience", "capability"):
            v = getattr(e, f)
            if v is not None and isinstance(v.basis, Judgment):
                assert v.basis.rationale.strip(), (e.actor, e.issue, f)


def test_sources_are_cited_in_full(scn: Scenario) -> None:
    by_id = {s.id: s for s in scn.metadata.sources}
    assert set(by_id) == {"seed000", "seed001", "seed002"}
    for s in by_id.values():
        assert s.title and s.author and s.outlet and s.date and s.file, s.id
    assert by_id["seed000"].file == "000_63ddd5b3a0083f77.txt"


def test_every_quote_is_found_in_its_source(scn: Scenario, seeds: Path) -> None:
    findings = check_evidence(scn, seeds)
    assert findings == [], "\n".join(str(f) for f in findings)


def test_the_check_can_fail(scn: Scenario, seeds: Path) -> None:
    """Changing one word of one quote gives exactly one finding, at that quote."""
    k = next(k for k, e in enumerate(scn.entries) if isinstance(e.position.basis, Evidence))
    entry = scn.entries[k]
    basis = entry.position.basis
    words = basis.quote.split()
    words[len(words) // 2] = "zzzz"
    bad = basis.model_copy(update={"quote": " ".join(words)})
    entries = list(scn.entries)
    entries[k] = entry.model_copy(update={
        "position": entry.position.model_copy(update={"basis": bad})})
    findings = check_evidence(scn.model_copy(update={"entries": entries}), seeds)
    assert len(findings) == 1
    (f,) = findings
    assert f.path == f"entries[{k}].position.basis"
    file = next(s.file for s in scn.metadata.sources if s.id == basis.source)
    assert (f.message, f.source, f.file) == (f"quote not found in {file}", basis.source, file)


def test_quotes_are_short_and_do_not_reproduce_the_articles(scn: Scenario, seeds: Path) -> None:
    quotes: dict[str, set[str]] = {}

    def walk(node: object) -> None:
        if isinstance(node, Evidence):
            quotes.setdefault(node.source, set()).add(normalize(node.quote))
        elif hasattr(node, "__pydantic_fields__"):
            for name in type(node).model_fields:
                walk(getattr(node, name))
        elif isinstance(node, (list, tuple)):
            for x in node:
                walk(x)

    walk(scn)
    files = {s.id: s.file for s in scn.metadata.sources}
    for src, qs in quotes.items():
        assert all(len(q) <= 250 for q in qs), src
        text = normalize((seeds / files[src]).read_text(encoding="utf-8"))
        covered = [False] * len(text)
        for q in qs:
            start = text.find(q)
            covered[start:start + len(q)] = [True] * len(q)
        assert sum(covered) / len(text) < 0.4, f"{src}: quotes cover too much of the article"
