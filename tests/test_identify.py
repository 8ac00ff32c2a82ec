"""Identification of license texts: exact id and version on real texts and what repos do to them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from railtrack.catalog.registry import load_registry
from railtrack.identify import identify_text
from railtrack.identify.normalize import token_offsets, tokens

from conftest import FIXTURES

sys.path.insert(0, str(FIXTURES / "identify"))
from variants import VARIANTS, embed_in_readme, swap_quotes, truncate  # noqa: E402

IDENT = FIXTURES / "identify"


def _reference_files(reference_dir: Path) -> list[tuple[Path, str]]:
    """(reference file, expected registry id) for every text in ../shared/reference/licenses."""
    by_name = {e.text_path.name: e.id for e in load_registry().with_text()}
    out = []
    for p in sorted((reference_dir / "licenses").rglob("*")):
        if p.is_file():
            out.append((p, by_name[p.name]))
    return out


def _body(path: Path) -> str:
    from railtrack.catalog.registry import read_reference_text

    return read_reference_text(path)


def test_every_reference_text_and_every_variant_is_exact(reference_dir: Path) -> None:
    reg = load_registry()
    files = _reference_files(reference_dir)
    assert len(files) >= 45
    failures = []
    for path, expected in files:
        text = _body(path)
        entry = reg.get(expected)
        for name, fn in [("verbatim", lambda t: t), *VARIANTS.items()]:
            got = identify_text(fn(text), clauses=False)
            if got.license != expected or got.version != entry.version:
                failures.append(f"{path.name} [{name}] -> {got.license} {got.version} "
                                f"(margin {got.margin}, candidates {[c.license for c in got.candidates[:3]]})")
            elif got.margin < 0.2:
                failures.append(f"{path.name} [{name}] margin {got.margin}")
    assert not failures, "\n".join(failures)


def test_the_file_with_front_matter_is_identified_too(reference_dir: Path) -> None:
    # the ScanCode files keep their YAML front matter; identification must not mind it
    for path, expected in _reference_files(reference_dir)[:10]:
        assert identify_text(path.read_text(encoding="utf-8"), clauses=False).license == expected


def test_truncated_copy_is_partial_not_another_license() -> None:
    reg = load_registry()
    for lid in ("llama3.1", "llama3.2", "gemma", "gemma-2024-04-01", "creativeml-openrail-m", "openrail++"):
        full = identify_text(reg.get(lid).read_text(), clauses=False)
        assert full.complete and full.coverage > 0.95
        part = identify_text(truncate(reg.get(lid).read_text(), 0.7), clauses=False)
        assert part.license == lid
        assert not part.complete and 0.5 < part.coverage < 0.9
        assert part.spans[0].complete is False


@pytest.mark.parametrize("a,b", [("llama3.1", "llama3.2"), ("llama3.2", "llama3.3"), ("llama3.3", "llama4"),
                                 ("gemma", "gemma-2024-04-01"), ("creativeml-openrail-m", "openrail++"),
                                 ("responsible-ai-source-1.0", "responsible-ai-source-1.1"),
                                 ("qwen", "tongyi-qianwen"), ("llama2-aup", "llama3-aup")])
def test_siblings_are_told_apart_on_the_passages_that_differ(a: str, b: str) -> None:
    reg = load_registry()
    for x, y in ((a, b), (b, a)):
        got = identify_text(reg.get(x).read_text(), clauses=False)
        assert got.license == x
        assert y in {c.license for c in got.candidates}, "the sibling must show up as a candidate"
        assert got.margin >= 0.5


def test_shared_passages_only_give_unknown_with_the_family() -> None:
    # the middle of the Gemma terms is word-for-word the same in 2024 and 2025: no version can be told
    text = load_registry().get("gemma").read_text()
    middle = text[len(text) // 3: 2 * len(text) // 3]
    got = identify_text(middle, clauses=False)
    assert got.license == "unknown"
    assert got.family == "gemma"
    assert {c.license for c in got.candidates} >= {"gemma", "gemma-2024-04-01"}


def test_license_and_its_aup_in_one_file_give_two_spans() -> None:
    reg = load_registry()
    for lic, aup in [("llama3.1", "llama3.1-aup"), ("llama2", "llama2-aup"), ("gemma", "gemma-pup"),
                     ("llama4", "llama4-aup"), ("llama3.2", "llama3.2-aup")]:
        text = reg.get(lic).read_text() + "\n\n" + reg.get(aup).read_text()
        got = identify_text(text, clauses=False)
        assert got.license == lic
        assert [s.license for s in got.spans] == [lic, aup]
        first, second = got.spans
        assert first.end <= second.start + 20
        assert text[second.start:second.end].lstrip("*# ").lower().startswith(
            ("llama", "gemma", "meta")), text[second.start:second.start + 40]


def test_llama3_license_file_that_embeds_its_aup_is_llama3() -> None:
    got = identify_text(load_registry().get("llama3").read_text(), clauses=False)
    assert got.license == "llama3" and got.complete


def test_two_different_licenses_in_one_file() -> None:
    reg = load_registry()
    text = reg.get("creativeml-openrail-m").read_text() + "\n\n---\n\n" + reg.get("mit").read_text()
    got = identify_text(text, clauses=False)
    assert {s.license for s in got.spans} == {"creativeml-openrail-m", "mit"}


def test_license_section_in_a_readme_reports_its_span() -> None:
    text = load_registry().get("bigscience-bloom-rail-1.0").read_text()
    readme = embed_in_readme(text)
    got = identify_text(readme, clauses=False)
    assert got.license == "bigscience-bloom-rail-1.0"
    span = got.spans[0]
    assert readme[:span.start].rstrip().endswith("## License")
    assert "Citation" not in readme[span.start:span.end]
    assert span.start_line > 10


@pytest.mark.parametrize("fixture", ["prose.md", "permissive-not-in-registry.txt",
                                     "source-available-not-in-registry.txt", "file-notice-not-in-registry.txt",
                                     "custom-behavioral.md"])
def test_texts_not_in_the_registry_are_unknown(fixture: str) -> None:
    got = identify_text((IDENT / fixture).read_text(encoding="utf-8"))
    assert got.license == "unknown"
    assert got.spans == [] or all(s.license == "unknown" for s in got.spans)


def test_code_is_unknown() -> None:
    src = Path(__file__).resolve().parent.parent / "src" / "railtrack"
    for p in [src / "identify" / "matcher.py", src / "catalog" / "registry.py", src / "_io.py"]:
        assert identify_text(p.read_text(encoding="utf-8"), clauses=False).license == "unknown"


def test_a_license_name_mention_is_not_the_license_text() -> None:
    text = ("This model is a fine-tune of Llama 2. Llama 2 is licensed under the LLAMA 2 Community License, "
            "Copyright (c) Meta Platforms, Inc. All Rights Reserved. See the LICENSE file.")
    assert identify_text(text).license == "unknown"


def test_custom_license_with_restrictions_is_behavioral_use() -> None:
    got = identify_text((IDENT / "custom-behavioral.md").read_text(encoding="utf-8"))
    assert got.license == "unknown" and got.behavioral_use
    assert {"military", "privacy", "health", "disinformation", "malware"} <= set(got.domains)


def test_model_card_declared_license_and_mismatch() -> None:
    reg = load_registry()
    card = embed_in_readme(reg.get("llama3.1").read_text(), tag="llama3.1")
    got = identify_text(card)
    assert got.declared == "llama3.1" and got.license == "llama3.1" and got.mismatch is False
    card = embed_in_readme(reg.get("llama3.2").read_text(), tag="llama3.1")
    got = identify_text(card)
    assert got.declared == "llama3.1" and got.license == "llama3.2" and got.mismatch is True
    card = "---\nlicense: other\nlicense_name: deepseek\n---\n# DS\n\n" + reg.get("deepseek").read_text()
    got = identify_text(card)
    assert got.declared == "deepseek" and got.mismatch is False
    card = "---\nlicense: apache-2.0\n---\n# Just a card\n\nNothing else here."
    got = identify_text(card)
    assert got.declared == "apache-2.0" and got.license == "unknown" and got.mismatch is None
    # explicit declared wins over the card; an AUP found where its license is declared is no mismatch
    got = identify_text(reg.get("llama3.1-aup").read_text(), declared="Llama 3.1 Community License")
    assert got.declared == "llama3.1" and got.mismatch is False


def test_json_shape() -> None:
    got = identify_text(load_registry().get("openrail++").read_text()).to_dict()
    for key in ("path", "license", "version", "family", "score", "margin", "spans", "coverage",
                "candidates", "declared", "status", "clauses", "behavioral_use", "domains"):
        assert key in got
    assert got["license"] == "openrail++" and got["status"] == "ok" and got["behavioral_use"] is True
    assert got["spans"][0]["start_line"] >= 1 and got["clauses"]


def test_empty_text() -> None:
    assert identify_text("").status == "empty"
    assert identify_text("   \n\t ").license == "unknown"


@settings(max_examples=40, deadline=None)
@given(st.text(min_size=0, max_size=300))
def test_token_offsets_point_into_the_text(text: str) -> None:
    toks = tokens(text)
    offs = token_offsets(text)
    assert len(toks) == len(offs)
    for tok, (s, e) in zip(toks, offs):
        assert text[s:e].lower() == tok or len(text[s:e]) == len(tok)


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=20, max_value=140), st.booleans(), st.sampled_from(["llama3.2", "gemma", "openrail++"]))
def test_wrapping_and_quotes_never_change_the_answer(width: int, quotes: bool, lid: str) -> None:
    import textwrap

    text = load_registry().get(lid).read_text()
    if quotes:
        text = swap_quotes(text)
    wrapped = "\n\n".join(textwrap.fill(" ".join(p.split()), width, break_long_words=False, break_on_hyphens=False) for p in text.split("\n\n") if p.strip())
    assert tokens(wrapped) == tokens(text)
    assert identify_text(wrapped, clauses=False).license == lid


def test_a_licence_with_a_passage_added_or_removed_is_not_that_licence() -> None:
    """BSD-2-like (a clause cut out) and BSD-4-like (a clause added) texts are not BSD-3."""
    reg = load_registry()
    bsd = reg.get("bsd-3-clause").read_text()
    clause3 = bsd[bsd.index("Neither the name"):bsd.index("THIS SOFTWARE IS PROVIDED")]
    added = ("All advertising materials mentioning features or use of this software must display the "
             "following acknowledgement: This product includes software developed by the organisation "
             "and its contributors, in every copy and every announcement.\n\n")
    for text in (bsd.replace(clause3, ""), bsd.replace(clause3, added + clause3)):
        got = identify_text(text, clauses=False)
        assert got.license == "unknown" and got.family == "bsd"
        assert got.candidates[0].license == "bsd-3-clause"
    rail = reg.get("creativeml-openrail-m").read_text()
    cut = rail[:rail.index("Section III")] + rail[rail.index("Section IV"):]
    assert identify_text(cut, clauses=False).license == "unknown"
    # small edits inside stay the licence: a filled-in copyright line
    mit = reg.get("mit").read_text().replace(
        "Permission is hereby granted", "Copyright (c) 2021 Jane Q. Developer and contributors\n\nPermission is hereby granted")
    assert identify_text(mit, clauses=False).license == "mit"


def test_index_cache_round_trip_and_corruption(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from railtrack.identify import index as index_mod

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    index_mod.reset_index()
    try:
        built = index_mod.load_index()
        files = list((tmp_path / "railtrack").glob("identify-index-*.pkl"))
        assert len(files) == 1
        index_mod.reset_index()
        cached = index_mod.load_index()
        assert cached is not built
        assert (cached.member == built.member).all() and cached.vocab == built.vocab
        assert [r.id for r in cached.refs] == [r.id for r in built.refs]
        assert identify_text(load_registry().get("llama3.3").read_text(), clauses=False).license == "llama3.3"
        files[0].write_bytes(b"not a pickle")
        index_mod.reset_index()
        rebuilt = index_mod.load_index()
        assert (rebuilt.member == built.member).all()
    finally:
        index_mod.reset_index()
