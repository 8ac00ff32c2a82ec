"""Clause extraction: behavioral-use restrictions in any text, mapped to catalogue clause ids."""

from __future__ import annotations

from railtrack.catalog.clauses import load_catalog
from railtrack.catalog.registry import load_registry
from railtrack.identify import extract_clauses
from railtrack.identify.clauses import clause_ids, load_patterns

from conftest import FIXTURES


def _ids(text: str) -> set[str]:
    return {h.clause_id for h in extract_clauses(text)}


def test_every_pattern_key_is_a_catalogue_clause() -> None:
    pats, texts = load_patterns()
    cat = load_catalog()
    assert {p.clause_id for p in pats} <= set(cat.ids())
    assert len({p.clause_id for p in pats}) == len(cat.ids()), "every clause has patterns"


def test_each_catalogue_clause_text_maps_to_its_own_id() -> None:
    cat = load_catalog()
    lead = "You shall not use the Licensed Artifacts or any Derivative, and shall not permit others to use them:\n\n"
    for clause in cat.clauses:
        hits = extract_clauses(lead + "1. " + clause.text + "\n")
        assert clause.id in {h.clause_id for h in hits}, clause.id
        hit = next(h for h in hits if h.clause_id == clause.id)
        assert hit.domain == clause.domain and hit.score == 1.0
        assert clause.text[:30] in hit.sentence


def test_rail_attachment_a() -> None:
    got = _ids(load_registry().get("creativeml-openrail-m").read_text())
    assert {"general.unlawful-use", "child-safety.harm-to-minors", "disinformation.harmful-falsehoods",
            "privacy.harmful-personal-data", "general.harassment-defamation", "legal.automated-binding-decisions",
            "discrimination.social-scoring", "general.exploiting-vulnerabilities",
            "discrimination.protected-characteristics", "health.medical-advice",
            "legal.justice-law-enforcement"} <= got
    assert "military.military-use" not in got  # the CreativeML license has no military clause


def test_llama_aup_domains() -> None:
    text = load_registry().get("llama3.2-aup").read_text()
    hits = extract_clauses(text)
    got = {h.clause_id for h in hits}
    assert {"military.military-use", "military.espionage", "military.export-controlled",
            "weapons.weapons-development", "critical-infrastructure.operation", "health.self-harm",
            "child-safety.csam", "child-safety.age-gating", "general.human-trafficking",
            "malware.malicious-code", "disinformation.impersonation", "disinformation.fraud-spam",
            "disinformation.undisclosed-machine-content", "research.undisclosed-risks",
            "legal.unlicensed-practice", "privacy.sensitive-inference"} <= got
    # evidence: each hit carries its sentence and offsets into the text
    for h in hits:
        assert h.sentence and text[h.start:h.end].strip()
    mil = next(h for h in hits if h.clause_id == "military.military-use")
    assert "Military, warfare" in text[mil.start:mil.end]


def test_known_licenses_restrict_what_the_registry_says() -> None:
    reg = load_registry()
    for lid in ("llama2-aup", "gemma-pup", "bigscience-openrail-m", "deepseek", "llama4-aup"):
        e = reg.get(lid)
        found = {h.domain for h in extract_clauses(e.read_text())}
        assert found, lid
        assert found <= set(e.domains) | {"general"}, (lid, found - set(e.domains))


def test_deepseek_military_clause() -> None:
    got = _ids(load_registry().get("deepseek").read_text())
    assert "military.military-use" in got


def test_no_restrictions_in_permissive_licenses_and_prose() -> None:
    reg = load_registry()
    for lid in ("mit", "apache-2.0", "bsd-3-clause", "cc-by-4.0"):
        assert _ids(reg.get(lid).read_text()) == set(), lid
    assert _ids((FIXTURES / "identify" / "prose.md").read_text()) == set()
    # a model card describing intended use is not a license restriction
    card = ("## Intended use\n\nThe model is meant for research on dialogue. It is not intended for medical "
            "advice; users should consult a doctor. Military applications were not evaluated.\n")
    assert _ids(card) == set()


def test_custom_license_restrictions() -> None:
    got = _ids((FIXTURES / "identify" / "custom-behavioral.md").read_text())
    assert {"military.military-use", "privacy.tracking-surveillance", "health.medical-advice",
            "disinformation.harmful-falsehoods", "malware.malicious-code"} <= got


def test_self_standing_prohibition_counts() -> None:
    hits = extract_clauses("Deploying the model for facial recognition in public spaces is prohibited.")
    assert [h.clause_id for h in hits] == ["biometrics.remote-identification"]
    assert hits[0].score == 0.8


def test_clause_ids_are_in_catalogue_order() -> None:
    cat = load_catalog()
    ids = clause_ids(load_registry().get("llama3.1-aup").read_text())
    assert ids == sorted(ids, key=cat.order)


def test_empty() -> None:
    assert extract_clauses("") == [] and extract_clauses("   ") == []
