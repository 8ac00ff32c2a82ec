"""License generator library: manifest, ids, every renderer, every flavor, escaping, store, diff."""

from __future__ import annotations

import html.parser
import io
import json
import re
import xml.etree.ElementTree as ET

import pytest
import yaml

import railtrack
from railtrack.catalog.clauses import load_catalog
from railtrack.errors import InputError, NotFoundError, UsageError
from railtrack.licenses import (
    FORMATS,
    CustomRestriction,
    LicenseSpec,
    card_slug,
    diff_specs,
    json_schema,
    license_id,
    parse_manifest,
    render,
    spdx_id,
    title,
)
from railtrack.licenses.document import ATTACHMENT_HEADING, restriction_items
from railtrack.licenses.manifest import CUSTOM_MAX_CHARS, parse_custom

from conftest import REPO

HOSTILE = "<script>alert(1)</script> & \\input{x} % _ {} $ # ^ ~"
FLAVORS = ("open", "rail", "research")


def make(**kw) -> LicenseSpec:
    base = dict(name="Acme", licensor="Acme Labs", flavor="open", artifacts=["model"])
    base.update(kw)
    return LicenseSpec(**base)


def full_spec(flavor: str = "open", name: str = "Acme Vision 2") -> LicenseSpec:
    return LicenseSpec(
        name=name,
        licensor="Acme Labs B.V.",
        flavor=flavor,
        artifacts=["source", "model", "application"],
        restrictions=["military.military-use", "weapons.mass-casualty", "biometrics.remote-identification",
                      "health.medical-advice"],
        custom_restrictions=[CustomRestriction(text="To rank job applicants without a human interview.",
                                               domain="discrimination"),
                             CustomRestriction(text="To steer drones.", domain="aviation")],
        notice="Copyright 2025 Acme Labs B.V.\n\nIncludes data from the Open Birds project.",
        jurisdiction="the Netherlands",
        url="https://example.org/acme?x=1&y=2",
        info="Questions: legal@example.org",
    )


def expected_texts(spec: LicenseSpec) -> list[str]:
    cat = load_catalog()
    return [cat.get(r).text for r in spec.restrictions] + [c.text for c in spec.custom_restrictions]


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# --------------------------------------------------------------------------- manifest
def test_public_api_is_exported() -> None:
    assert railtrack.LicenseSpec is LicenseSpec
    assert railtrack.render is render
    assert railtrack.license_id is license_id


@pytest.mark.parametrize(
    "flavor, artifacts, expected",
    [
        ("open", ["application", "model", "source"], "Acme OpenRAIL-AMS"),
        ("open", ["source", "model", "application"], "Acme OpenRAIL-AMS"),
        ("rail", ["model"], "Acme RAIL-M"),
        ("research", ["source", "data"], "Acme RESEARCH-ONLY RAIL-DS"),
        ("open", ["data", "application", "model", "source"], "Acme OpenRAIL-DAMS"),
    ],
)
def test_title_follows_rail_naming(flavor, artifacts, expected) -> None:
    spec = make(flavor=flavor, artifacts=artifacts)
    assert title(spec) == expected
    assert spec.title == expected


def test_baseline_added_deduplicated_and_sorted() -> None:
    cat = load_catalog()
    spec = make(restrictions=["weapons.mass-casualty", "military.military-use", "weapons.mass-casualty",
                              "general.unlawful-use"])
    baseline = {c.id for c in cat.baseline()}
    assert baseline <= set(spec.restrictions)
    assert len(spec.restrictions) == len(set(spec.restrictions)) == len(baseline) + 2
    assert spec.restrictions == sorted(spec.restrictions, key=cat.order)
    assert make().restrictions == [c.id for c in cat.baseline()]


def test_commercial_default_depends_on_flavor() -> None:
    assert make(flavor="open").commercial_use is True
    assert make(flavor="rail").commercial_use is True
    assert make(flavor="research").commercial_use is False
    assert make(flavor="research", commercial_use=True).commercial_use is True


def test_license_id_deterministic_and_content_addressed() -> None:
    a = make(restrictions=["military.military-use"], artifacts=["source", "model"])
    b = make(restrictions=["military.military-use"], artifacts=["model", "source"])
    assert re.fullmatch(r"rt-[0-9a-f]{12}", license_id(a))
    assert license_id(a) == license_id(b) == a.license_id
    assert license_id(a) != license_id(make(restrictions=["military.espionage"], artifacts=["source", "model"]))
    assert license_id(a) != license_id(a.model_copy(update={"licensor": "Other"}))


@pytest.mark.parametrize(
    "data, message",
    [
        ({"restrictions": ["military.nope"]}, "unknown clause id 'military.nope'"),
        ({"restrictions": ["military.militray-use"]}, "did you mean 'military.military-use'"),
        ({"artifacts": []}, "at least one artifact"),
        ({"artifacts": ["weights"]}, "artifacts.0"),
        ({"flavor": "copyleft"}, "flavor"),
        ({"name": "   "}, "name must not be empty"),
        ({"custom_restrictions": [{"text": "  \n "}]}, "custom restriction text is empty"),
        ({"custom_restrictions": [{"text": "x" * (CUSTOM_MAX_CHARS + 1)}]}, "the limit is 2000"),
        ({"custom_restrictions": [{"text": "ok", "domain": "Bad Domain!"}]}, "invalid domain"),
        ({"url": "javascript:alert(1)"}, "url must be an http"),
        ({"template_version": "9.9"}, "template version '9.9' is not known"),
        ({"colour": "red"}, "colour: unknown field"),
        ({"name": "a\x00b"}, "control character"),
        ({"name": "a\ud800b"}, "name: Input should be a valid string"),
        ({"licensor": "a\uffffb"}, "invalid character (U+FFFF)"),
    ],
)
def test_invalid_manifests_give_one_readable_line(data, message) -> None:
    manifest = {"name": "Acme", "licensor": "Acme Labs", "flavor": "open", "artifacts": ["model"], **data}
    with pytest.raises(InputError) as info:
        parse_manifest(manifest)
    assert message in info.value.message
    assert "\n" not in info.value.message
    assert info.value.message.startswith("invalid license manifest: ")


def test_custom_restriction_limits_and_normalisation() -> None:
    ok = CustomRestriction(text="x" * CUSTOM_MAX_CHARS)
    assert len(ok.text) == CUSTOM_MAX_CHARS
    assert CustomRestriction(text="  two\n  lines  ").text == "two lines"
    spec = make(custom_restrictions=[{"text": "Same."}, {"text": "Same."}])
    assert len(spec.custom_restrictions) == 1
    with pytest.raises(InputError, match="word for word"):
        parse_manifest({"name": "A", "licensor": "B", "flavor": "open", "artifacts": ["model"],
                        "custom_restrictions": [{"text": load_catalog().get("military.military-use").text}]})


def test_parse_custom_domain_prefix() -> None:
    assert parse_custom("privacy: Do not scrape profiles.").domain == "privacy"
    assert parse_custom("privacy: Do not scrape profiles.").text == "Do not scrape profiles."
    assert parse_custom("Child safety: No toys.").domain == "child-safety"
    note = parse_custom("Note: this stays whole.")
    assert (note.domain, note.text) == ("general", "Note: this stays whole.")
    with pytest.raises(InputError, match="empty"):
        parse_custom("privacy:   ")


def test_json_roundtrip_is_identity() -> None:
    spec = full_spec()
    data = json.loads(render(spec, "json"))
    assert data["license_id"] == license_id(spec)
    assert data["title"] == title(spec)
    back = parse_manifest(data)
    assert back == spec
    assert license_id(back) == license_id(spec)


def test_published_schema_is_current() -> None:
    on_disk = json.loads((REPO / "docs" / "manifest.schema.json").read_text(encoding="utf-8"))
    assert on_disk == json_schema(), "regenerate docs/manifest.schema.json with `railtrack license schema`"


def test_schema_validates_rendered_manifests() -> None:
    import jsonschema_rs

    validator = jsonschema_rs.validator_for(json_schema())
    for flavor in FLAVORS:
        assert validator.is_valid(json.loads(render(full_spec(flavor), "json")))
    assert not validator.is_valid({"name": "A", "licensor": "B", "flavor": "open", "artifacts": []})
    assert not validator.is_valid({"name": "A", "licensor": "B", "flavor": "open", "artifacts": ["model"],
                                   "extra": 1})
    assert not validator.is_valid({"name": "A", "licensor": "B", "flavor": "open", "artifacts": ["model"],
                                   "custom_restrictions": [{"text": "x" * 2001}]})


# --------------------------------------------------------------------------- ids
def test_spdx_id_validates_with_license_expression() -> None:
    from license_expression import Licensing, get_spdx_licensing

    for spec in (full_spec(), make(name=HOSTILE), make(name="Ελληνικά"), make(name="模型")):
        ref = spdx_id(spec)
        assert re.fullmatch(r"LicenseRef-[A-Za-z0-9.\-]+", ref), ref
        assert ref.endswith(license_id(spec))
        licensing = get_spdx_licensing()
        parsed = licensing.parse(f"Apache-2.0 AND {ref}")
        assert [s.key for s in licensing.license_symbols(parsed)] == ["Apache-2.0", ref]
        assert Licensing([ref]).validate(ref).errors == []


def test_card_slug_is_hub_friendly() -> None:
    assert card_slug(make(name="Acme Vision 2", artifacts=["model", "source"])) == "acme-vision-2-openrail-ms"
    assert re.fullmatch(r"[a-z0-9-]+", card_slug(make(name=HOSTILE)))
    assert card_slug(make(name="模型")).startswith("rt-")


# --------------------------------------------------------------------------- formats x flavors
@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_every_flavor(fmt: str, flavor: str) -> None:
    spec = full_spec(flavor)
    data = render(spec, fmt)
    assert data == render(spec, fmt), "rendering is not deterministic"
    texts = expected_texts(spec)
    if fmt == "pdf":
        from pypdf import PdfReader

        assert data.startswith(b"%PDF-")
        reader = PdfReader(io.BytesIO(data))
        text = squash(" ".join(page.extract_text() for page in reader.pages))
        assert title(spec) in text
        for t in texts:
            assert squash(t) in text, t
        assert f"railtrack license {license_id(spec)}" in text
        assert reader.metadata.title == title(spec)
        return
    out = data.decode("utf-8")
    lid = license_id(spec)
    if fmt in ("md", "txt", "html", "tex"):
        assert lid in out
        body = squash(out if fmt != "html" else _html_text(out))
        for t in texts:
            assert squash(t) in body, (fmt, t)
    if fmt == "md":
        lines = out.splitlines()
        assert lines[0] == f"# {title(spec)}"
        assert "Licensed Artifact(s): Application, Model, Source code" in lines
        # every restriction is its own numbered item whose text is exactly the clause text
        items = [re.sub(r"^\d+\. ", "", line) for line in lines if re.match(r"^\d+\. ", line)]
        assert items == [t for _, group in restriction_items(spec) for t in group]
        assert set(items) == set(texts)
        assert f"railtrack license {lid}, template 1.0, catalogue 1.0" in lines
    elif fmt == "txt":
        # wrapped at 78 columns, except an unbreakable word (e.g. a long SPDX id after its label)
        assert all(len(line) <= 78 or " " not in line.strip().split(": ", 1)[-1] for line in out.splitlines())
        assert out.splitlines()[0] == title(spec)
    elif fmt == "html":
        assert out.startswith("<!DOCTYPE html>")
        _check_html(out, spec)
    elif fmt == "tex":
        _check_tex(out)
    elif fmt == "json":
        assert parse_manifest(json.loads(out)) == spec
    elif fmt == "card":
        from huggingface_hub import ModelCard

        card = ModelCard(out)
        assert card.data.license == "other"
        assert card.data.license_name == card_slug(spec)
        assert card.data.license_link == "LICENSE"
        assert title(spec) in card.text
    elif fmt == "notice":
        assert out.splitlines()[0] == spec.name
        assert "Copyright 2025 Acme Labs B.V." in out
        assert spdx_id(spec) in out
    elif fmt == "badge":
        root = ET.fromstring(out)
        assert root.tag.endswith("svg")
        label = root.get("aria-label")
        cat = load_catalog()
        for d in spec.domains():
            assert cat.domain_title(d).lower() in label
        assert "aviation" in label  # a custom restriction's own domain is named too


def test_flavors_have_their_own_terms() -> None:
    md = {f: render(full_spec(f), "md").decode() for f in FLAVORS}
    assert "## 3. Distribution and conditions passed on" in md["open"]
    assert "## 3. No distribution" in md["rail"]
    assert "## 3. Distribution for research and conditions passed on" in md["research"]
    assert "Research Purposes" in md["research"] and "Research Purposes" not in md["open"]
    assert "You shall not Distribute, sell" in md["rail"]
    for f, text in md.items():
        for heading in ("1. Definitions", "2. Grant of rights", "4. Use restrictions", "6. Output",
                        "7. Updates and runtime restrictions", "9. Disclaimer of warranty",
                        "10. Limitation of liability", "11. Termination", ATTACHMENT_HEADING):
            assert f"## {heading}" in text, (f, heading)
    assert len({md[f] for f in FLAVORS}) == 3
    no_commercial = render(make(flavor="open", commercial_use=False), "md").decode()
    assert "Commercial use: not permitted" in no_commercial
    assert "for commercial advantage" in no_commercial


def test_license_text_is_our_own_wording(reference_dir) -> None:
    """No 10-word run of the rendered legal text is copied from a reference license."""
    corpus = " ".join(
        re.sub(r"\W+", " ", p.read_text(encoding="utf-8", errors="replace").lower())
        for p in sorted((reference_dir / "licenses").rglob("*")) if p.is_file()
    )
    for flavor in FLAVORS:
        words = re.sub(r"\W+", " ", render(full_spec(flavor), "txt").decode().lower()).split()
        copied = [" ".join(words[i:i + 10]) for i in range(len(words) - 9)
                  if f" {' '.join(words[i:i + 10])} " in corpus]
        assert not copied, copied[:3]


# --------------------------------------------------------------------------- escaping
@pytest.mark.parametrize("fmt", FORMATS)
def test_markup_in_names_is_escaped(fmt: str) -> None:
    spec = make(name=HOSTILE, licensor=HOSTILE, custom_restrictions=[{"text": f"Never {HOSTILE}"}],
                notice=HOSTILE, info=HOSTILE, jurisdiction=HOSTILE)
    data = render(spec, fmt)
    if fmt == "pdf":
        from pypdf import PdfReader

        text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
        assert HOSTILE in squash(text)
        return
    out = data.decode("utf-8")
    if fmt in ("html", "badge", "md", "card"):
        assert "<script>" not in out
        assert "&lt;script&gt;" in out
    if fmt == "html":
        text = _html_text(out)
        assert HOSTILE in text  # the browser shows the name literally
        manifest = json.loads(re.search(r'id="railtrack-manifest">(.*?)</script>', out, re.S).group(1))
        assert manifest["name"] == HOSTILE
    elif fmt == "badge":
        root = ET.fromstring(out)
        assert HOSTILE in root.find("{http://www.w3.org/2000/svg}title").text
    elif fmt == "tex":
        _check_tex(out)
        assert "\\input{x}" not in out
        assert r"\textbackslash{}input\{x\}" in out
        assert r"\% \_ \{\} \$ \# \textasciicircum{} \textasciitilde{}" in out
    elif fmt in ("md", "card"):
        assert "\\_" in out and "\\input" not in out.replace("\\\\input", "")
    elif fmt == "json":
        assert json.loads(out)["name"] == HOSTILE
    else:  # txt, notice: plain text keeps the name as typed
        assert HOSTILE in squash(out)
    if fmt == "card":
        meta = yaml.safe_load(out.split("---")[1])
        assert set(meta) == {"license", "license_name", "license_link"}


def test_markdown_line_start_is_escaped() -> None:
    out = render(make(info="- not a list\n\n1. not a list either\n\n# not a heading"), "md").decode()
    assert "\n\\- not a list\n" in out
    assert "\n1\\. not a list either\n" in out
    assert "\n\\# not a heading\n" in out


def test_unicode_names_render_in_pdf() -> None:
    from pypdf import PdfReader

    spec = make(name="Ελληνικά Модель", licensor="Zoë Æsir")
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(render(spec, "pdf"))).pages)
    assert "Ελληνικά Модель" in text and "Zoë Æsir" in text


def test_html_banner_and_qr() -> None:
    spec = full_spec()
    out = render(spec, "html").decode()
    banner = re.search(r'<ul class="banner".*?</ul>', out, re.S).group(0)
    assert banner.count("<svg") == len(spec.domains())
    assert 'class="qr"' in out and "<path" in out
    assert "https://example.org/acme?x=1&amp;y=2" in out  # the QR caption and the link, escaped
    no_url = render(make(), "html").decode()
    assert f"urn:railtrack:license:{license_id(make())}" in no_url


def test_unknown_format() -> None:
    with pytest.raises(UsageError, match="unknown format 'docx'"):
        render(make(), "docx")


# --------------------------------------------------------------------------- diff
def test_diff_is_clause_level() -> None:
    a = make(restrictions=["military.military-use", "weapons.mass-casualty"],
             custom_restrictions=[{"text": "Old rule.", "domain": "privacy"}])
    b = make(flavor="research", restrictions=["weapons.mass-casualty", "health.medical-advice"],
             custom_restrictions=[{"text": "New rule.", "domain": "privacy"}])
    d = diff_specs(a, b)
    assert not d.identical
    assert d.added == ["health.medical-advice"]
    assert d.removed == ["military.military-use"]
    assert "weapons.mass-casualty" in d.common
    assert d.custom_added == [{"text": "New rule.", "domain": "privacy"}]
    assert d.custom_removed == [{"text": "Old rule.", "domain": "privacy"}]
    assert d.domains_added == ["health"] and d.domains_removed == ["military"]
    assert d.fields["flavor"] == ["open", "research"]
    assert d.fields["commercial_use"] == [True, False]
    assert diff_specs(a, a).identical
    assert json.loads(json.dumps(d.to_dict()))["added"] == ["health.medical-advice"]


# --------------------------------------------------------------------------- store
def test_store_record_and_get() -> None:
    from railtrack.licenses import store as license_store
    from railtrack.store import connect

    con = connect(":memory:")
    spec = full_spec()
    lid = license_store.record(con, spec)
    assert lid == license_id(spec)
    assert license_store.record(con, spec) == lid  # upsert, no duplicate
    assert con.execute("SELECT count(*) FROM generated_licenses").fetchone()[0] == 1
    row = con.execute("SELECT title, flavor, artifacts, restrictions, custom_count, domains, template_version "
                      "FROM generated_licenses").fetchone()
    assert row[0] == title(spec) and row[1] == "open"
    assert row[2] == ["application", "model", "source"]
    assert row[3] == spec.restrictions and row[4] == 2 and row[5] == spec.domains() and row[6] == "1.0"
    assert license_store.get(con, lid) == spec
    assert license_store.get(con, lid[:9]) == spec  # a unique prefix
    assert license_store.get(con, lid[3:]) == spec  # without rt-
    with pytest.raises(NotFoundError):
        license_store.get(con, "rt-000000000000")
    other = make()
    license_store.record(con, other)
    assert [r["license_id"] for r in license_store.list_licenses(con)] and len(license_store.list_licenses(con)) == 2
    counts = dict(license_store.clause_counts(con))
    assert counts["general.unlawful-use"] == 2 and counts["military.military-use"] == 1


# --------------------------------------------------------------------------- helpers
class _TextExtractor(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):  # noqa: D401
        if tag in ("script", "style", "svg"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style", "svg"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def _html_text(out: str) -> str:
    p = _TextExtractor()
    p.feed(out)
    return squash(" ".join(p.parts))


def _check_html(out: str, spec: LicenseSpec) -> None:
    class Checker(html.parser.HTMLParser):
        void = {"meta", "br", "img", "link", "input", "hr"}

        def __init__(self):
            super().__init__()
            self.stack: list[str] = []

        def handle_starttag(self, tag, attrs):
            if tag not in self.void:
                self.stack.append(tag)

        def handle_startendtag(self, tag, attrs):
            pass

        def handle_endtag(self, tag):
            assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
            self.stack.pop()

    c = Checker()
    c.feed(out)
    assert c.stack == []
    assert f'<meta name="railtrack-license-id" content="{license_id(spec)}">' in out
    manifest = json.loads(re.search(r'id="railtrack-manifest">(.*?)</script>', out, re.S).group(1))
    assert parse_manifest(manifest) == spec
    assert "@media print" in out


def _check_tex(out: str) -> None:
    body = re.sub(r"\\[{}%$#_&]", "", out)  # escaped specials
    depth = 0
    for ch in body:
        depth += ch == "{"
        depth -= ch == "}"
        assert depth >= 0
    assert depth == 0
    # no unescaped special characters outside the preamble's comments
    lines = [ln for ln in out.splitlines() if not ln.startswith("%")]
    for ln in lines:
        stripped = re.sub(r"\\[{}%$#_&]", "", ln)
        assert "%" not in stripped and "$" not in stripped and "#" not in stripped, ln
        assert not re.search(r"(?<!\\)_", ln), ln
    assert out.count("\\begin{document}") == 1 and out.rstrip().endswith("\\end{document}")
    assert out.count("\\begin{enumerate}") == out.count("\\end{enumerate}")
    assert out.count("\\begin{description}") == out.count("\\end{description}")


def test_pdf_bold_does_not_leak_into_body_text() -> None:
    """Headings are stroked (render mode 2) inside q ... Q; every other text object is filled (mode 0)."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(render(full_spec(), "pdf")))
    bold = plain = 0
    for page in reader.pages:
        stream = page.get_contents().get_data().decode("latin-1")
        stack, mode = [], 0
        for token in re.findall(r"\bq\b|\bQ\b|\d+ Tr|\bBT\b.*?\bET\b", stream, re.S):
            if token == "q":
                stack.append(mode)
            elif token == "Q":
                mode = stack.pop()
            elif token.endswith("Tr"):
                mode = int(token.split()[0])
            else:  # a text object
                own = re.search(r"(\d+) Tr", token)
                effective = int(own.group(1)) if own else mode
                mode = effective  # the text render mode outlives ET: it is graphics state
                if own and effective == 2:
                    bold += 1
                    assert stack, "bold text outside a saved graphics state"
                else:
                    plain += 1
                    assert effective == 0, token[:80]
    assert bold >= 10 and plain > bold


def test_store_record_inside_a_callers_transaction() -> None:
    from railtrack.licenses import store as license_store
    from railtrack.store import connect

    con = connect(":memory:")
    con.execute("BEGIN TRANSACTION")
    license_store.record(con, make())
    con.execute("ROLLBACK")  # the caller's transaction decides
    assert con.execute("SELECT count(*) FROM generated_licenses").fetchone()[0] == 0
    license_store.record(con, make())
    assert con.execute("SELECT count(*) FROM generated_licenses").fetchone()[0] == 1


def test_pdf_rendering_is_thread_safe_and_byte_identical() -> None:
    """Different PDFs rendered at the same time in several threads (cut-down and full font, all
    flavors) are the bytes a sequential run gives, and the bytes a fresh process gives."""
    import hashlib
    import os
    import subprocess
    import sys
    import threading
    from concurrent.futures import ThreadPoolExecutor

    specs = [full_spec(flavor, name=f"Acme Vision {i}") for i, flavor in enumerate(FLAVORS * 2)]
    specs += [make(name=f"Модель {i}", licensor="Zoë Æsir", flavor=f) for i, f in enumerate(FLAVORS)]
    specs += [make(name=f"Tiny {i}", custom_restrictions=[CustomRestriction(text="x " * (40 * i + 1))])
              for i in range(3)]
    sequential = [render(s, "pdf") for s in specs]
    assert len(set(sequential)) == len(specs)  # all different documents

    workers = 6
    start = threading.Barrier(workers)

    def job(k: int) -> list[tuple[int, bytes]]:
        start.wait()  # all threads begin together
        order = list(range(len(specs)))[k::1] + list(range(len(specs)))[:k]  # a different order per thread
        return [(i, render(specs[i], "pdf")) for i in order]

    with ThreadPoolExecutor(workers) as pool:
        results = [r for rs in pool.map(job, range(workers)) for r in rs]
    assert len(results) == workers * len(specs)
    for i, out in results:
        assert out == sequential[i], f"document {i} differs when rendered concurrently"

    # a new process, rendering the same documents concurrently, gives the same bytes
    code = (
        "import hashlib, json, sys\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        "from railtrack.licenses import parse_manifest, render\n"
        "specs = [parse_manifest(m) for m in json.loads(sys.stdin.read())]\n"
        "with ThreadPoolExecutor(4) as pool:\n"
        "    outs = list(pool.map(lambda s: render(s, 'pdf'), specs))\n"
        "print(json.dumps([hashlib.sha256(o).hexdigest() for o in outs]))\n"
    )
    manifests = json.dumps([json.loads(render(s, "json")) for s in specs])
    env = dict(os.environ, PYTHONHASHSEED="random")
    proc = subprocess.run([sys.executable, "-c", code], input=manifests, capture_output=True, text=True,
                          env=env, timeout=300, check=True)
    assert json.loads(proc.stdout) == [hashlib.sha256(o).hexdigest() for o in sequential]


def _raw_catalog() -> dict:
    from importlib import resources

    return yaml.safe_load((resources.files("railtrack.catalog") / "clauses.yaml").read_text(encoding="utf-8"))


def test_domain_descriptions_are_full_sentences() -> None:
    """An unquoted comma in a YAML flow mapping ends the scalar: ``{description: Unlawful, violent ...}``
    read as "Unlawful" plus a stray key. Every domain has exactly a title and a whole sentence."""
    raw = _raw_catalog()["domains"]
    info = load_catalog().domain_info
    assert set(raw) == set(info) and len(info) >= 10
    for key, entry in raw.items():
        assert set(entry) == {"title", "description"}, (key, entry)  # no key split off a description
        assert all(isinstance(v, str) for v in entry.values()), (key, entry)
        desc = info[key].description
        assert desc == entry["description"].strip(), key
        assert desc[0].isupper() and desc.endswith(".") and len(desc.split()) > 2, (key, desc)
        assert info[key].title == entry["title"] and info[key].title[0].isupper(), key


def test_clause_titles_and_texts_are_read_whole() -> None:
    """Every catalogue clause has exactly its keys, a title and a one-line sentence of text; no YAML
    comma, colon or ``#`` cut either short (a cut text would also change recorded licenses' bytes)."""
    raw = _raw_catalog()["clauses"]
    cat = load_catalog()
    assert len(raw) >= 30
    for entry in raw:
        assert set(entry) == {"id", "domain", "title", "baseline", "text", "sources"}, entry.get("id")
        assert isinstance(entry["title"], str) and isinstance(entry["text"], str), entry["id"]
        clause = cat.get(entry["id"])
        assert clause.title == entry["title"] and clause.text == entry["text"], entry["id"]
        assert clause.title[0].isupper() and not clause.title.endswith((",", ":")), clause.id
        assert clause.text[0].isupper() and clause.text.endswith(".") and len(clause.text.split()) > 5, clause.id
        assert "\n" not in clause.text and " #" not in clause.text, clause.id
        assert all(isinstance(s, str) and s for s in entry["sources"]), entry["id"]


def test_store_record_many_is_one_idempotent_transaction() -> None:
    from railtrack.licenses import store as license_store
    from railtrack.store import connect

    con = connect(":memory:")
    a, b, c = make(name="A"), make(name="B"), make(name="C")
    assert license_store.record(con, a) == license_id(a)
    first_created = con.execute("SELECT created_at FROM generated_licenses").fetchone()[0]
    out = license_store.record_many(con, [b, a, b, c])
    assert out == [(license_id(b), True), (license_id(a), False), (license_id(b), False), (license_id(c), True)]
    assert con.execute("SELECT count(*) FROM generated_licenses").fetchone()[0] == 3
    assert con.execute("SELECT created_at FROM generated_licenses WHERE license_id = ?",
                       [license_id(a)]).fetchone()[0] == first_created  # kept, not rewritten
    assert license_store.record_many(con, []) == []
    # inside a caller's transaction: joined, and the caller's rollback undoes it
    con.execute("BEGIN TRANSACTION")
    assert license_store.record_many(con, [make(name="D")]) == [(license_id(make(name="D")), True)]
    con.execute("ROLLBACK")
    assert con.execute("SELECT count(*) FROM generated_licenses").fetchone()[0] == 3
    assert [license_store.get(con, license_id(s)) for s in (a, b, c)] == [a, b, c]
