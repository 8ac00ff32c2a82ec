"""Generated licenses: railtrack's own (round trip to the manifest) and RAIL License Generator style."""

from __future__ import annotations

import re

import pytest

from railtrack.identify import identify_text, parse_generated

from conftest import FIXTURES

licenses = pytest.importorskip("railtrack.licenses")


def _specs():
    from railtrack.licenses import CustomRestriction, LicenseSpec

    yield LicenseSpec(name="Acme Vision", licensor="Acme Labs", flavor="open", artifacts=["model"])
    yield LicenseSpec(name="Acme *Vision* <b>", licensor="Acme & Sons \"Labs\"", flavor="open",
                      artifacts=["model", "source"], restrictions=["military.military-use", "health.medical-advice"],
                      custom_restrictions=[CustomRestriction(text="To rate job applicants by their accent.",
                                                             domain="discrimination"),
                                           CustomRestriction(text="To compose limericks about ducks.", domain="poetry")],
                      notice="Copyright 2025 Acme Labs.\n\nBuilt with care.", url="https://acme.example/model",
                      jurisdiction="the State of New York", info="Contact legal@acme.example.\n\nSecond paragraph.")
    yield LicenseSpec(name="Heron", licensor="Heron Institute", flavor="rail",
                      artifacts=["data", "application", "model", "source"],
                      restrictions=["biometrics.remote-identification", "privacy.tracking-surveillance"],
                      commercial_use=False)
    yield LicenseSpec(name="Kestrel 2", licensor="Kestrel Lab", flavor="research", artifacts=["data", "model"],
                      custom_restrictions=[CustomRestriction(text="To train systems that rank students for admission.",
                                                             domain="education")])


SPECS = list(_specs())


@pytest.mark.parametrize("fmt", ["md", "txt", "html"])
@pytest.mark.parametrize("idx", range(len(SPECS)))
def test_round_trip_to_the_manifest(idx: int, fmt: str) -> None:
    from railtrack.licenses import license_id, render

    spec = SPECS[idx]
    text = render(spec, fmt).decode("utf-8")
    gen = parse_generated(text)
    assert gen is not None and gen.generator == "railtrack"
    assert gen.license_id == license_id(spec)
    assert gen.verified is True, gen.manifest
    assert gen.manifest == spec.manifest()
    assert gen.flavor == spec.flavor and gen.artifacts == list(spec.artifacts)
    assert set(gen.restriction_ids) == set(spec.manifest()["restrictions"])
    assert gen.custom_restrictions == [c.model_dump() for c in spec.custom_restrictions]
    ident = identify_text(text)
    assert ident.license == license_id(spec) and ident.family == "railtrack"
    assert ident.behavioral_use is True


@pytest.mark.parametrize("idx", range(len(SPECS)))
def test_round_trip_html_without_embedded_manifest(idx: int) -> None:
    from railtrack.licenses import render

    spec = SPECS[idx]
    html = render(spec, "html").decode("utf-8")
    stripped = re.sub(r'<script type="application/json" id="railtrack-manifest">.*?</script>', "", html, flags=re.S)
    gen = parse_generated(stripped)
    assert gen.verified is True and gen.manifest == spec.manifest()


def test_edited_license_fails_verification() -> None:
    from railtrack.licenses import render

    spec = SPECS[1]
    text = render(spec, "md").decode("utf-8").replace("To compose limericks about ducks.",
                                                      "To compose sonnets about geese.")
    gen = parse_generated(text)
    assert gen is not None and gen.verified is False
    assert {"text": "To compose sonnets about geese.", "domain": "poetry"} in gen.custom_restrictions


def test_rewrapped_plain_text_still_round_trips() -> None:
    import textwrap

    from railtrack.licenses import render

    spec = SPECS[1]
    txt = render(spec, "txt").decode("utf-8")
    # re-wrap every paragraph that is not a heading, meta line or list item at 50 columns
    paras = txt.split("\n\n")
    out = []
    for p in paras:
        if re.match(r"^(\s|\d+\.|\[|[A-Z][\w ()]+:|.*\n[=-]{3,})", p):
            out.append(p)
        else:
            out.append(textwrap.fill(" ".join(p.split()), 50, break_long_words=False, break_on_hyphens=False))
    gen = parse_generated("\n\n".join(out))
    assert gen.verified is True


@pytest.mark.parametrize("fixture,flavor,artifacts,name,ids", [
    ("rail-generator-openrail-ams.md", "open", ["application", "model", "source"], "Lumen",
     [["privacy.tracking-surveillance"], ["disinformation.harmful-falsehoods"],
      ["military.military-use", "weapons.weapons-development"], ["health.medical-advice"]]),
    ("rail-generator-rail-m.txt", "rail", ["model"], "Heron",
     [["child-safety.harm-to-minors"], ["legal.automated-binding-decisions"], ["general.harassment-defamation"]]),
    ("rail-generator-research-only-rail-ms.md", "research", ["model", "source"], "Kestrel",
     [["discrimination.protected-characteristics"], ["privacy.harmful-personal-data"], ["malware.malicious-code"]]),
])
def test_rail_generator_licenses(fixture: str, flavor: str, artifacts: list[str], name: str,
                                 ids: list[list[str]]) -> None:
    text = (FIXTURES / "identify" / fixture).read_text(encoding="utf-8")
    gen = parse_generated(text)
    assert gen is not None and gen.generator == "rail-generator" and gen.license_id is None
    assert gen.flavor == flavor and gen.artifacts == artifacts and gen.name == name
    assert [r["clause_ids"] for r in gen.restrictions] == ids
    ident = identify_text(text)
    assert ident.license == "unknown" and ident.family == "rail" and ident.behavioral_use
    assert ident.generated.flavor == flavor


def test_plain_licenses_are_not_generated() -> None:
    from railtrack.catalog.registry import load_registry

    for lid in ("creativeml-openrail-m", "bigcode-openrail-m", "llama3.1", "mit"):
        assert parse_generated(load_registry().get(lid).read_text()) is None
    assert parse_generated("Acme OpenRAIL-M\n\nJust a title, no artifacts line, no attachment.") is None
    assert parse_generated("") is None
