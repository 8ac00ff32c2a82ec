"""Property tests (hypothesis): license ids and rendering are deterministic, canonical and content-addressed."""

from __future__ import annotations

import json
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from railtrack.catalog.clauses import load_catalog
from railtrack.licenses import ARTIFACTS, LicenseSpec, license_id, parse_manifest, render, spdx_id, title
from railtrack.licenses.document import restriction_items
from railtrack.licenses.manifest import rejected_character

CAT = load_catalog()
OPTIONAL = [c.id for c in CAT.clauses if not c.baseline]

#: Any character the manifest validators accept in user text: the validator's own definition
#: (:func:`rejected_character`), so noncharacters such as U+FDD0 or U+FFFE are never drawn.
accepted_chars = st.characters(blacklist_categories=("Cs", "Cc")).filter(lambda c: rejected_character(c) is None)

names = st.text(alphabet=accepted_chars, min_size=1, max_size=40).filter(lambda s: s.strip())
customs = st.lists(
    st.builds(lambda t, d: {"text": t, "domain": d},
              st.text(alphabet=accepted_chars, min_size=1, max_size=80)
              .filter(lambda s: s.strip()),
              st.sampled_from(["general", "privacy", "aviation", "health"])),
    max_size=3,
)


@st.composite
def manifests(draw):
    return {
        "name": draw(names),
        "licensor": draw(names),
        "flavor": draw(st.sampled_from(["open", "rail", "research"])),
        "artifacts": draw(st.lists(st.sampled_from(ARTIFACTS), min_size=1, max_size=4)),
        "restrictions": draw(st.lists(st.sampled_from(OPTIONAL), max_size=8)),
        "custom_restrictions": draw(customs),
        "commercial_use": draw(st.sampled_from([None, True, False])),
    }


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(manifests(), st.randoms(use_true_random=False))
def test_id_is_canonical_and_stable(data, rnd) -> None:
    spec = LicenseSpec(**data)
    lid = license_id(spec)
    assert re.fullmatch(r"rt-[0-9a-f]{12}", lid)
    # order and duplicates of artifacts / restrictions do not matter
    shuffled = dict(data)
    shuffled["artifacts"] = rnd.sample(data["artifacts"], len(data["artifacts"])) + data["artifacts"][:1]
    shuffled["restrictions"] = rnd.sample(data["restrictions"], len(data["restrictions"]))
    assert license_id(LicenseSpec(**shuffled)) == lid
    # the JSON rendering reads back to the same manifest and id
    back = parse_manifest(json.loads(render(spec, "json")))
    assert back == spec and license_id(back) == lid
    assert spdx_id(spec).endswith(lid)
    assert title(spec).startswith(spec.name)


@SETTINGS
@given(manifests(), st.sampled_from(OPTIONAL))
def test_changing_the_restrictions_changes_the_id(data, extra) -> None:
    spec = LicenseSpec(**data)
    other = LicenseSpec(**{**data, "restrictions": list(data["restrictions"]) + [extra]})
    assert (license_id(other) == license_id(spec)) == (extra in spec.restrictions)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(manifests())
def test_markdown_lists_exactly_the_chosen_restrictions(data) -> None:
    spec = LicenseSpec(**data)
    md = render(spec, "md").decode("utf-8")
    assert md == render(LicenseSpec(**data), "md").decode("utf-8")
    items = [line for line in md.splitlines() if re.match(r"^\d+\. ", line)]
    expected = [t for _, group in restriction_items(spec) for t in group]
    assert len(items) == len(expected) == len(spec.restrictions) + len(spec.custom_restrictions)
    assert [int(line.split(".", 1)[0]) for line in items] == list(range(1, len(items) + 1))
    assert {c.id for c in CAT.baseline()} <= set(spec.restrictions)


_MARKUP = list("-+=*_`#[]()<>!&\\|~{}$%^\"';:.,/0123456789 aAx\u00e9\u2014")
one_line = st.one_of(
    st.text(alphabet=accepted_chars, min_size=1, max_size=60),
    st.text(alphabet=st.sampled_from(_MARKUP), min_size=1, max_size=30),
).map(lambda s: re.sub(r"\s+", " ", s).strip()).filter(bool)


@settings(max_examples=300, deadline=None)
@given(one_line)
def test_markdown_escaping_renders_literally(text) -> None:
    """CommonMark (markdown-it) shows an escaped paragraph as exactly the text typed, as one paragraph."""
    import html

    from markdown_it import MarkdownIt

    from railtrack.licenses.render import md_escape

    out = MarkdownIt("commonmark").render(md_escape(text, line_start=True))
    assert out.startswith("<p>") and out.endswith("</p>\n"), out
    inner = out[3:-5]
    assert "<" not in inner, out  # no element made from user text
    assert html.unescape(inner) == text


@settings(max_examples=300, deadline=None)
@given(one_line)
def test_tex_escaping_leaves_no_active_specials(text) -> None:
    from railtrack.licenses.render import tex_escape

    out = tex_escape(text)
    plain = re.sub(r"\\(?:[{}$&#%_]|[a-z]+\{\})", "", out)
    for ch in "\\{}$&#%_^~":
        assert ch not in plain, (text, out)


@settings(max_examples=150, deadline=None)
@given(one_line, one_line)
def test_markdown_license_shows_user_text_literally(name, custom) -> None:
    """The whole Markdown license, rendered by CommonMark: the title is the name, the custom
    restriction is one plain list item, and no user text becomes markup."""
    import html

    from markdown_it import MarkdownIt

    spec = LicenseSpec(name=name, licensor=name, flavor="open", artifacts=["model"],
                       custom_restrictions=[{"text": custom, "domain": "aviation"}])
    out = MarkdownIt("commonmark").render(render(spec, "md").decode("utf-8"))
    h1 = re.search(r"<h1>(.*?)</h1>", out).group(1)
    assert html.unescape(h1) == title(spec)
    items = re.findall(r"<li>(.*?)</li>", out, re.S)
    assert html.unescape(items[-1]) == custom
    assert len(items) == len(spec.restrictions) + 1
    assert "<script" not in out and "<img" not in out


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=30).filter(lambda s: s.strip()))
def test_any_accepted_name_gives_well_formed_xml(name) -> None:
    """Whatever name validation accepts renders to well-formed SVG and encodable text."""
    import xml.etree.ElementTree as ET

    from railtrack.errors import InputError

    try:
        spec = parse_manifest({"name": name, "licensor": "L", "flavor": "open", "artifacts": ["model"]})
    except InputError as exc:
        assert "character" in exc.message or "must not be empty" in exc.message
        return
    root = ET.fromstring(render(spec, "badge"))
    assert root.find("{http://www.w3.org/2000/svg}title").text.startswith(spec.name)
    render(spec, "html").decode("utf-8")
