"""The clause catalogue: shape, stability rules, plugin merging."""

from __future__ import annotations

import re

import pytest

from railtrack.catalog.clauses import CLAUSE_ID_RE, Catalog, load_catalog, parse_catalog
from railtrack.errors import InputError, NotFoundError

RAIL_DOMAINS = {"discrimination", "military", "legal", "disinformation", "privacy", "health", "general",
                "research", "malware"}
KNOWN_SOURCES = {"llama2", "llama3", "llama3.1", "llama3.2", "llama3.3", "llama4", "gemma",
                 "creativeml-openrail-m", "openrail++", "bigscience-openrail-m", "bigscience-bloom-rail-1.0",
                 "bigcode-openrail-m", "deepseek", "stability-ai-community", "responsible-ai-source-1.0",
                 "responsible-ai-source-1.1"}


def test_catalogue_size_and_domains() -> None:
    cat = load_catalog()
    assert isinstance(cat, Catalog)
    assert cat.version == "1.0"
    assert len(cat.clauses) >= 30
    domains = cat.domains()
    assert len(domains) >= 10
    assert RAIL_DOMAINS <= set(domains)
    assert {"biometrics", "critical-infrastructure", "child-safety", "weapons"} <= set(domains)
    # every domain has at least one clause and a title
    for d in domains:
        assert cat.in_domain(d), d
        assert cat.domain_title(d)


def test_exactly_ten_baseline_clauses() -> None:
    cat = load_catalog()
    baseline = cat.baseline()
    assert len(baseline) == 10
    assert len(cat.clauses) - len(baseline) >= 20
    assert "general.unlawful-use" in {c.id for c in baseline}


def test_ids_texts_and_sources_well_formed() -> None:
    cat = load_catalog()
    ids = cat.ids()
    assert len(ids) == len(set(ids))
    texts = [c.text for c in cat]
    assert len(texts) == len(set(texts)), "two clauses share a text"
    for c in cat:
        assert CLAUSE_ID_RE.match(c.id)
        assert c.id.split(".")[0] == c.domain
        assert "\n" not in c.text and c.text == c.text.strip()
        assert c.text.endswith(".")
        assert set(c.sources) <= KNOWN_SOURCES, (c.id, set(c.sources) - KNOWN_SOURCES)
    # the mapping to well-known licenses is substantial
    assert sum(1 for c in cat if c.sources) >= 40


def test_get_unknown_suggests() -> None:
    cat = load_catalog()
    assert cat.get("malware.malicious-code").domain == "malware"
    with pytest.raises(NotFoundError, match=r"unknown clause id 'military.militray-use'.*military.military-use"):
        cat.get("military.militray-use")


def test_clause_texts_are_our_own_wording(reference_dir) -> None:
    """No clause copies a run of 8+ words from a reference license text."""
    corpus = []
    for path in sorted((reference_dir / "licenses").rglob("*")):
        if path.is_file():
            corpus.append(re.sub(r"\W+", " ", path.read_text(encoding="utf-8", errors="replace").lower()))
    blob = " ".join(corpus)
    for c in load_catalog():
        words = re.sub(r"\W+", " ", c.text.lower()).split()
        for i in range(len(words) - 7):
            gram = " ".join(words[i:i + 8])
            assert f" {gram} " not in blob, (c.id, gram)


def test_parse_catalog_rejects_bad_entries() -> None:
    with pytest.raises(InputError, match="invalid id"):
        parse_catalog({"clauses": [{"id": "NoDomain", "domain": "x", "title": "t", "text": "t"}]})
    with pytest.raises(InputError, match="does not match"):
        parse_catalog({"clauses": [{"id": "a.b", "domain": "c", "title": "t", "text": "t"}]})
    with pytest.raises(InputError, match="text must be"):
        parse_catalog({"clauses": [{"id": "a.b", "domain": "a", "title": "t", "text": "  "}]})


def test_plugin_catalogue_is_merged(tmp_path, monkeypatch) -> None:
    from railtrack import plugins

    extra = tmp_path / "extra.yaml"
    extra.write_text(
        "version: '0.1'\n"
        "domains:\n  energy: {title: Energy}\n"
        "clauses:\n"
        "  - id: energy.grid-dispatch\n    domain: energy\n    title: Grid dispatch\n"
        "    text: To dispatch power plants automatically.\n    baseline: false\n    sources: []\n",
        encoding="utf-8",
    )

    class Plugin:
        @plugins.hookimpl
        def railtrack_clause_catalogues(self):
            return [extra]

    pm = plugins.get_plugin_manager()
    p = Plugin()
    pm.register(p)
    try:
        cat = load_catalog(refresh=True)
        assert cat.get("energy.grid-dispatch").title == "Grid dispatch"
        assert "energy" in cat.domains()
        assert cat.domain_title("energy") == "Energy"
        assert cat.version.startswith("1.0+")
        # a duplicate id is refused
        dup = tmp_path / "dup.yaml"
        dup.write_text("clauses:\n  - {id: general.unlawful-use, domain: general, title: x, text: y}\n")

        class Dup:
            @plugins.hookimpl
            def railtrack_clause_catalogues(self):
                return [dup]

        d = Dup()
        pm.register(d)
        try:
            with pytest.raises(InputError, match="already defined"):
                load_catalog(refresh=True)
        finally:
            pm.unregister(d)
    finally:
        pm.unregister(p)
        load_catalog(refresh=True)
    assert "energy.grid-dispatch" not in load_catalog()


def test_sources_are_registry_ids() -> None:
    """Every source is a license id of the known-license registry (the identification engineer's)."""
    registry = pytest.importorskip("railtrack.catalog.registry", reason="license registry not built yet")
    ids = {e.id for e in registry.load_registry().entries()}
    missing = sorted({s for c in load_catalog() for s in c.sources} - ids)
    assert not missing, missing
