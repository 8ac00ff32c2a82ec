"""The known-license registry: coverage of the reference texts, lookups, facts, plugins."""

from __future__ import annotations

from pathlib import Path

import pytest

from railtrack.catalog import registry as reg_mod
from railtrack.catalog.registry import (
    LicenseEntry,
    Registry,
    is_behavioral_use,
    load_registry,
    normalize_key,
    read_reference_text,
)
from railtrack.errors import InputError, NotFoundError

HUB_TAGS = ["llama2", "llama3", "llama3.1", "llama3.2", "llama3.3", "llama4", "gemma",
            "creativeml-openrail-m", "openrail", "openrail++", "bigscience-openrail-m",
            "bigscience-bloom-rail-1.0", "bigcode-openrail-m", "openmdw-1.0", "apache-2.0", "mit",
            "cc-by-4.0", "cc-by-nc-4.0", "cc-by-sa-4.0", "cc-by-nc-sa-4.0", "gpl-3.0", "bsd-3-clause",
            "afl-3.0", "cc0-1.0", "unlicense", "deepseek"]


def test_every_reference_text_has_an_entry(reference_dir: Path) -> None:
    reg = load_registry()
    shipped = {e.text_path.name: e for e in reg.with_text()}
    for path in sorted((reference_dir / "licenses").rglob("*")):
        if path.is_file():
            assert path.name in shipped, f"{path.name} has no registry entry"
            # the shipped copy is verbatim
            assert shipped[path.name].text_path.read_bytes() == path.read_bytes()


def test_hub_tags_are_canonical_ids() -> None:
    reg = load_registry()
    for tag in HUB_TAGS:
        e = reg.get(tag)
        assert e is not None, tag
        assert e.id == tag
    assert reg.get("other") is None and reg.resolve("other") is None
    assert reg.resolve("") is None and reg.resolve("unknown") is None


@pytest.mark.parametrize("key,expected", [
    ("Llama 3.1 Community License", "llama3.1"),
    ("LLAMA 3.2 COMMUNITY LICENSE AGREEMENT", "llama3.2"),
    ("LicenseRef-scancode-llama-2-license-2023", "llama2"),
    ("llama-4-cla-2025", "llama4"),
    ("LicenseRef-scancode-llama-4-license-2025", "llama4-aup"),
    ("llama-license-2023", "llama1"),
    ("LicenseRef-scancode-bigscience-open-rail-m2", "openrail++"),
    ("stable-diffusion-2022-08-22", "creativeml-openrail-m"),
    ("CreativeML Open RAIL-M", "creativeml-openrail-m"),
    ("bigscience-rail-1.0", "bigscience-bloom-rail-1.0"),
    ("Apache-2.0", "apache-2.0"),
    ("GPL-3.0-only", "gpl-3.0"),
    ("BSD-3-Clause", "bsd-3-clause"),
    ("CC BY-NC-SA 4.0", "cc-by-nc-sa-4.0"),
    ("gemma", "gemma"),
    ("gemma-tou-2024-04-01", "gemma-2024-04-01"),
    ("Gemma Prohibited Use Policy", "gemma-pup"),
    ("DeepSeek License Agreement v1.0", "deepseek"),
    ("qwen-2024", "qwen"),
    ("Tongyi Qianwen LICENSE AGREEMENT", "tongyi-qianwen"),
])
def test_resolve_accepts_tags_names_and_ids(key: str, expected: str) -> None:
    e = load_registry().resolve(key)
    assert e is not None and e.id == expected


def test_facts_from_the_texts() -> None:
    reg = load_registry()
    # ScanCode's llama-license-2023 is the LLaMA 1 research license, not Llama 2
    l1 = reg.get("llama1")
    assert l1.obligations.non_commercial and l1.obligations.research_only
    assert "non-commercial research purposes" in l1.read_text()
    # ScanCode's llama-4-license-2025 is the Llama 4 acceptable-use policy
    aup4 = reg.get("llama4-aup")
    assert aup4.kind == "aup" and aup4.license == "llama4" and reg.get("llama4").aup == "llama4-aup"
    assert "Acceptable Use Policy" in aup4.read_text()[:200]
    for lid in ("llama3.1", "llama3.2", "llama3.3", "llama4"):
        o = reg.get(lid).obligations
        assert o.attribution_text == "Built with Llama" and o.naming_prefix == "Llama"
        assert o.user_threshold == 700_000_000 and o.passthrough_restrictions
        assert o.attribution_text in reg.get(lid).read_text()
    assert reg.get("llama3").obligations.attribution_text == "Built with Meta Llama 3"
    assert reg.get("llama2").obligations.attribution_text is None
    assert reg.get("gemma").aup == "gemma-pup" and reg.get("gemma-pup").kind == "aup"
    assert reg.aup_of("llama3.1").id == "llama3.1-aup"
    assert reg.get("cc-by-nc-4.0").obligations.non_commercial
    assert reg.get("qwen").obligations.user_threshold == 100_000_000
    for e in reg:
        if e.obligations.notice_text and e.text_path is not None and e.family in {"llama", "qwen"}:
            assert e.obligations.notice_text.split(" is licensed")[0] in e.read_text()


def test_behavioral_use_flags() -> None:
    for lid in ("llama2", "llama3.1", "gemma", "creativeml-openrail-m", "openrail", "openrail++",
                "bigscience-bloom-rail-1.0", "bigcode-openrail-m", "deepseek", "llama4-aup"):
        assert is_behavioral_use(lid), lid
    for lid in ("mit", "apache-2.0", "cc-by-4.0", "openmdw-1.0", "other", "", "no-such-license"):
        assert not is_behavioral_use(lid), lid
    assert is_behavioral_use("Llama 3.1 Community License")
    reg = load_registry()
    for e in reg:
        if e.behavioral_use:
            assert e.domains, f"{e.id} is behavioral-use but restricts no domain"


def test_links_and_families_are_consistent() -> None:
    reg = load_registry()
    for e in reg:
        if e.aup:
            aup = reg.get(e.aup)
            assert aup.kind == "aup" and reg.get(aup.license).family == e.family
        if e.kind == "aup":
            assert e.license and reg.get(e.license).kind == "license"
    assert {e.id for e in reg.family_members("llama")} >= {"llama2", "llama3", "llama3.1", "llama4"}
    assert {e.id for e in reg.entries(family="rail")} >= {"creativeml-openrail-m", "openrail++"}


def test_front_matter_is_stripped(tmp_path: Path) -> None:
    p = tmp_path / "x.LICENSE"
    p.write_text("---\nkey: x\n---\nBody text\n", encoding="utf-8")
    assert read_reference_text(p) == "Body text\n"
    assert normalize_key("LicenseRef-scancode-Llama-2-License-2023") == "llama22023"


def test_require_raises_not_found() -> None:
    with pytest.raises(NotFoundError):
        load_registry().require("not-a-license")
    assert load_registry().require("Llama 2").id == "llama2"


def test_duplicate_and_dangling_links_are_rejected() -> None:
    a = LicenseEntry(id="a", name="A", family="f")
    with pytest.raises(InputError, match="duplicate"):
        Registry([a, a])
    with pytest.raises(InputError, match="unknown entry"):
        Registry([LicenseEntry(id="b", name="B", family="f", aup="nope")])


def test_plugin_adds_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from railtrack import plugins

    text = tmp_path / "acme.txt"
    text.write_text("Acme Responsible Model License\nYou agree not to use the Model for military purposes.\n")
    yml = tmp_path / "acme.yaml"
    yml.write_text("family: acme\nlicenses:\n  - id: acme-rail\n    name: Acme RAIL\n    behavioral_use: true\n"
                   "    domains: [military]\n    text: acme.txt\n", encoding="utf-8")

    class Plugin:
        @plugins.hookimpl
        def railtrack_licenses(self):
            return [str(yml), {"id": "acme-plain", "name": "Acme Plain", "family": "acme"}]

    plugins.reset_plugin_manager()
    reg_mod.load_registry.cache_clear()
    pm = plugins.get_plugin_manager()
    pm.register(Plugin())
    try:
        reg = load_registry()
        assert reg.get("acme-rail").source == str(yml)
        assert reg.get("acme-rail").read_text().startswith("Acme Responsible")
        assert is_behavioral_use("Acme RAIL") and not is_behavioral_use("acme-plain")
    finally:
        plugins.reset_plugin_manager()
        reg_mod.load_registry.cache_clear()
    assert load_registry().get("acme-rail") is None


def test_bad_plugin_file_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("licenses:\n  - id: x\n    family: f\n    kind: policy\n    name: X\n", encoding="utf-8")
    with pytest.raises(InputError, match="kind"):
        reg_mod._load_yaml(bad, str(bad))


def test_domains_agree_with_the_clause_catalogue() -> None:
    from railtrack.catalog.clauses import load_catalog

    cat = load_catalog()
    domains = set(cat.domains())
    reg = load_registry()
    for e in reg:
        assert set(e.domains) <= domains, f"{e.id}: unknown domains {set(e.domains) - domains}"
    for clause in cat.clauses:
        for source in clause.sources:
            e = reg.get(source)
            assert e is not None, f"catalogue source {source!r} is not a registry id"
            assert clause.domain in e.domains, f"{source} lacks domain {clause.domain} ({clause.id})"


def test_plugin_license_text_is_identified(tmp_path: Path) -> None:
    from railtrack import plugins
    from railtrack.identify import identify_text

    body = ("Quill Responsible Model License, version 2\n\n" + " ".join(
        f"Clause {i}: the licensee shall keep record number {i} of every deployment of the quill model "
        f"and shall not use the model for purpose {i * 7} described in annex {i % 5}." for i in range(40)))
    (tmp_path / "quill.txt").write_text(body, encoding="utf-8")
    yml = tmp_path / "quill.yaml"
    yml.write_text("family: quill\nlicenses:\n  - id: quill-rml-2\n    name: Quill Responsible Model License\n"
                   "    version: '2'\n    behavioral_use: true\n    domains: [general]\n    text: quill.txt\n",
                   encoding="utf-8")

    class Plugin:
        @plugins.hookimpl
        def railtrack_licenses(self):
            return [str(yml)]

    plugins.reset_plugin_manager()
    reg_mod.load_registry.cache_clear()
    plugins.get_plugin_manager().register(Plugin())
    try:
        got = identify_text("# Quill model\n\n## License\n\n" + body, clauses=False)
        assert got.license == "quill-rml-2" and got.version == "2" and got.behavioral_use
    finally:
        plugins.reset_plugin_manager()
        reg_mod.load_registry.cache_clear()
    assert identify_text(body, clauses=False).license == "unknown"
