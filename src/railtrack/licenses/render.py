"""Renderers: one manifest, every format, byte-identical across runs and processes.

``render(spec, fmt) -> bytes`` for ``fmt`` in :data:`FORMATS`:

========  ==========================================================================
md        Markdown license (one paragraph / item per line)
txt       plain-text LICENSE, wrapped at 78 columns (continuation lines indented)
html      standalone printable HTML page: domain-icon banner, QR code, embedded manifest
tex       LaTeX source (``article`` class, standard packages only)
pdf       PDF (fpdf2, DejaVu Sans from matplotlib, fixed dates and ids)
json      the manifest, plus the computed ``license_id``, ``title`` and ``spdx_id``
card      Hugging Face model card metadata block (``license: other``, ...) and a short section
notice    NOTICE file for redistributors
badge     SVG badge naming the restricted domains
========  ==========================================================================

Everything user-typed is escaped for the format it is rendered into.
"""

from __future__ import annotations

import json
import re
import textwrap
from functools import lru_cache
from html import escape as html_escape
from typing import Callable

from ..catalog.clauses import load_catalog
from ..errors import UsageError
from .document import Block, build_document, footer_line, restriction_items
from .icons import icon_svg
from .manifest import (
    ARTIFACT_LABELS,
    LicenseSpec,
    card_slug,
    license_id,
    rail_name,
    spdx_id,
    title,
)

__all__ = ["FORMATS", "TEXT_FORMATS", "BINARY_FORMATS", "EXTENSIONS", "render", "md_escape", "tex_escape",
           "qr_payload"]

FORMATS: tuple[str, ...] = ("md", "txt", "html", "tex", "pdf", "json", "card", "notice", "badge")
BINARY_FORMATS: tuple[str, ...] = ("pdf",)
TEXT_FORMATS: tuple[str, ...] = tuple(f for f in FORMATS if f not in BINARY_FORMATS)
#: conventional file name suffix per format
EXTENSIONS = {"md": ".md", "txt": ".txt", "html": ".html", "tex": ".tex", "pdf": ".pdf", "json": ".json",
              "card": ".md", "notice": "", "badge": ".svg"}

WRAP = 78


# ------------------------------------------------------------------------------ escaping
_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~])")
# a leading "-", "+" or "=" (list item, thematic break "---", setext underline) or "1." / "1)"
_MD_LINE_START = re.compile(r"^(\s*)(?:([-+=])|(\d+)([.)])(?=\s|$))")


def md_escape(text: str, *, line_start: bool = False) -> str:
    """Escape Markdown / inline HTML so ``text`` renders literally (CommonMark)."""
    out = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out = _MD_SPECIAL.sub(r"\\\1", out)
    if line_start:
        out = _MD_LINE_START.sub(
            lambda m: m.group(1) + (f"\\{m.group(2)}" if m.group(2) else f"{m.group(3)}\\{m.group(4)}"),
            out,
        )
    return out


_TEX_MAP = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "%": r"\%",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    '"': r"\textquotedbl{}",
}
_TEX_RE = re.compile("|".join(re.escape(k) for k in _TEX_MAP))


def tex_escape(text: str) -> str:
    """Escape every LaTeX special character (one pass, so replacements are not re-escaped)."""
    return _TEX_RE.sub(lambda m: _TEX_MAP[m.group(0)], text)


def _xml(text: str) -> str:
    return html_escape(text, quote=True)


# ------------------------------------------------------------------------------ markdown
def _render_md(spec: LicenseSpec) -> str:
    lines: list[str] = []
    for b in build_document(spec):
        if b.kind == "title":
            lines += [f"# {md_escape(b.text)}", ""]
        elif b.kind == "meta":
            lines += [f"{b.label}: {md_escape(b.text)}", ""]
        elif b.kind == "heading":
            lines += [f"## {md_escape(b.text)}", ""]
        elif b.kind == "subheading":
            lines += [f"### {md_escape(b.text)}", ""]
        elif b.kind in ("para", "lead"):
            lines += [md_escape(b.text, line_start=True), ""]
        elif b.kind == "quote":
            lines += ["> " + md_escape(b.text, line_start=True), ""]
        elif b.kind == "item":
            lines += [f"{b.label} {md_escape(b.text, line_start=True)}", ""]
        elif b.kind == "clause":
            lines.append(f"{b.label}. {md_escape(b.text, line_start=True)}")
        elif b.kind == "footer":
            if lines and lines[-1] != "":
                lines.append("")
            lines += ["---", "", b.text]
    return "\n".join(lines).rstrip("\n") + "\n"


# ------------------------------------------------------------------------------ plain text
def _wrap(text: str, width: int = WRAP, first: str = "", rest: str = "") -> list[str]:
    wrapper = textwrap.TextWrapper(width=width, initial_indent=first, subsequent_indent=rest,
                                   break_long_words=False, break_on_hyphens=False)
    return wrapper.wrap(text) or [first.rstrip()]


def _render_txt(spec: LicenseSpec) -> str:
    lines: list[str] = []
    for b in build_document(spec):
        if b.kind == "title":
            lines += _wrap(b.text) + ["=" * min(WRAP, max(len(b.text), 1)), ""]
        elif b.kind == "meta":
            line = f"{b.label}: {b.text}"
            head = f"{b.label}: {b.text.split(' ', 1)[0]}"
            # keep the label and the start of its value on one line, even past the margin
            lines += _wrap(line, rest="    ") if len(head) <= WRAP else [line]
            continue
        elif b.kind == "heading":
            if lines and lines[-1] != "":
                lines.append("")
            lines += [b.text, "-" * min(WRAP, len(b.text)), ""]
        elif b.kind == "subheading":
            lines += [f"[{b.text}]", ""]
        elif b.kind in ("para", "lead"):
            if lines and lines[-1] != "":
                lines.append("")
            lines += _wrap(b.text) + [""]
        elif b.kind == "quote":
            lines += _wrap(b.text, first="    ", rest="    ") + [""]
        elif b.kind == "item":
            pad = " " * (len(b.label) + 1)
            lines += _wrap(b.text, first=f"{b.label} ", rest=pad) + [""]
        elif b.kind == "clause":
            pad = " " * (len(b.label) + 2)
            lines += _wrap(b.text, first=f"{b.label}. ", rest=pad) + [""]
        elif b.kind == "footer":
            lines += ["-" * 20, b.text]
    return "\n".join(lines).rstrip("\n") + "\n"


# ------------------------------------------------------------------------------ html
def qr_payload(spec: LicenseSpec) -> str:
    """What the QR code encodes: the project URL when given, else the license id as a URN."""
    return spec.url or f"urn:railtrack:license:{license_id(spec)}"


@lru_cache(maxsize=1)
def _jinja_env():  # type: ignore[no-untyped-def]
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("railtrack.licenses", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "j2"), default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@lru_cache(maxsize=512)
def _qr_svg(payload: str) -> str:
    import segno

    return segno.make(payload, error="m").svg_inline(scale=3, dark="#111111", omitsize=False,
                                                     svgclass="qr", title="QR code")


def _script_json(data: object) -> str:
    text = json.dumps(data, ensure_ascii=False, sort_keys=False, indent=None, separators=(",", ":"))
    # safe inside <script>: no "</", no HTML comment openers, no line separators
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _render_html(spec: LicenseSpec) -> str:
    from markupsafe import Markup

    cat = load_catalog()
    banner = [Markup(icon_svg(d, cat.domain_title(d))) for d in spec.domains()]
    domains = [(d, cat.domain_title(d)) for d in spec.domains()]
    qr = Markup(_qr_svg(qr_payload(spec)))
    template = _jinja_env().get_template("license.html.j2")
    return template.render(
        spec=spec,
        title=title(spec),
        blocks=build_document(spec),
        banner=list(zip(domains, banner)),
        qr=qr,
        qr_payload=qr_payload(spec),
        license_id=license_id(spec),
        manifest_json=Markup(_script_json(_json_manifest(spec))),
    )


# ------------------------------------------------------------------------------ latex
def _render_tex(spec: LicenseSpec) -> str:
    e = tex_escape
    out: list[str] = [
        "% railtrack generated license. Compile with pdflatex, xelatex or lualatex.",
        "\\documentclass[11pt,a4paper]{article}",
        "\\usepackage{iftex}",
        "\\ifPDFTeX",
        "  \\usepackage[T1]{fontenc}",
        "  \\usepackage[utf8]{inputenc}",
        "  \\usepackage{lmodern}",
        "\\else",
        "  \\usepackage{fontspec}",
        "\\fi",
        "\\usepackage[margin=2.5cm]{geometry}",
        "\\usepackage{enumitem}",
        "\\setlength{\\parindent}{0pt}",
        "\\setlength{\\parskip}{0.6em}",
        f"\\title{{{e(title(spec))}}}",
        f"\\author{{{e(spec.licensor)}}}",
        "\\date{}",
        "\\begin{document}",
        "\\maketitle",
        "\\thispagestyle{empty}",
        "",
    ]
    in_list: str | None = None

    def close() -> None:
        nonlocal in_list
        if in_list == "item":
            out.append("\\end{description}")
        elif in_list == "clause":
            out.append("\\end{enumerate}")
        in_list = None

    for b in build_document(spec):
        if b.kind == "title":
            continue
        if b.kind == "meta":
            close()
            out.append(f"\\noindent\\textbf{{{e(b.label)}:}} {e(b.text)}\\\\")
        elif b.kind == "heading":
            close()
            out += ["", f"\\section*{{{e(b.text)}}}"]
        elif b.kind == "subheading":
            close()
            out += ["", f"\\subsection*{{{e(b.text)}}}"]
        elif b.kind in ("para", "lead"):
            close()
            out += ["", e(b.text)]
        elif b.kind == "quote":
            close()
            out += ["", "\\begin{quote}", e(b.text), "\\end{quote}"]
        elif b.kind == "item":
            if in_list != "item":
                close()
                out.append("\\begin{description}[leftmargin=2.2em,labelwidth=1.8em,style=sameline]")
                in_list = "item"
            out.append(f"\\item[{e(b.label)}] {{}}{e(b.text)}")
        elif b.kind == "clause":
            if in_list != "clause":
                close()
                out.append(f"\\begin{{enumerate}}[start={int(b.label)}]")
                in_list = "clause"
            out.append(f"\\item{{}} {e(b.text)}")
        elif b.kind == "footer":
            close()
            out += ["", "\\vfill", f"\\noindent{{\\small {e(b.text)}}}"]
    close()
    out += ["\\end{document}", ""]
    return "\n".join(out)


# ------------------------------------------------------------------------------ json
def _json_manifest(spec: LicenseSpec) -> dict:
    return {"license_id": license_id(spec), "title": title(spec), "spdx_id": spdx_id(spec), **spec.manifest()}


def _render_json(spec: LicenseSpec) -> str:
    return json.dumps(_json_manifest(spec), indent=2, ensure_ascii=False) + "\n"


# ------------------------------------------------------------------------------ card
def _yaml_scalar(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # JSON strings are valid YAML double-quoted scalars


def _render_card(spec: LicenseSpec) -> str:
    cat = load_catalog()
    domains = ", ".join(cat.domain_title(d) for d in spec.domains())
    what = {"open": "You may use, share and modify it",
            "rail": "You may use it within your own organisation only (no redistribution, no derivatives)",
            "research": "You may use, share and modify it for research purposes only"}[spec.flavor]
    lines = [
        "---",
        "license: other",
        f"license_name: {card_slug(spec)}",
        "license_link: LICENSE",
        "---",
        "",
        "## License",
        "",
        f"{md_escape(spec.name)} is released by {md_escape(spec.licensor)} under the "
        f"[{md_escape(title(spec))}](LICENSE) ({license_id(spec)}), a behavioral-use license. "
        f"{what}, but not for the uses listed in Attachment A of the license "
        f"(restricted domains: {md_escape(domains)}); anyone you pass it on to"
        + (" within your organisation" if spec.flavor == "rail" else "")
        + " must follow the same restrictions.",
        "",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------------------ notice
def _render_notice(spec: LicenseSpec) -> str:
    cat = load_catalog()
    lines = [spec.name, f"Licensed by {spec.licensor}", ""]
    if spec.notice:
        for para in spec.notice.split("\n\n"):
            lines += _wrap(para) + [""]
    artifacts = ", ".join(ARTIFACT_LABELS[a] for a in spec.artifacts)
    lines += _wrap(f"This work ({artifacts}) is licensed under the {title(spec)} ({spdx_id(spec)}). "
                   "A copy of the license must accompany every copy of the work.") + [""]
    passed = {"open": "Anyone who shares the work or a derivative must pass these restrictions on.",
              "rail": "The work may not be redistributed.",
              "research": "The work may be used for research purposes only, and anyone who shares the work or "
                          "a derivative must pass this limit and these restrictions on."}[spec.flavor]
    lines += _wrap("Use of the work is subject to the use restrictions in Attachment A of the license "
                   f"({len(spec.restrictions) + len(spec.custom_restrictions)} restrictions; domains: "
                   f"{', '.join(cat.domain_title(d) for d in spec.domains())}). {passed}") + [""]
    if spec.url:
        lines += [spec.url, ""]
    lines.append(footer_line(spec))
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------ badge
def _text_width(text: str) -> int:
    """Approximate width in px of ``text`` at 11px Verdana/DejaVu Sans."""
    narrow = set("iIl.,:;|!'()[] ")
    wide = set("MWmw@%")
    width = 0.0
    for ch in text:
        width += 3.6 if ch in narrow else 9.5 if ch in wide else 8.2 if ch.isupper() else 6.6
    return int(width + 0.5)


def _render_badge(spec: LicenseSpec) -> str:
    cat = load_catalog()
    left = rail_name(spec)
    titles = [cat.domain_title(d).lower() for d in spec.domains()]
    right = "restricted: " + ", ".join(titles)
    lw, rw = _text_width(left) + 14, _text_width(right) + 14
    width = lw + rw
    label = f"{title(spec)}: {right}"
    color = {"open": "#2b7a3d", "rail": "#8a4b08", "research": "#35589a"}[spec.flavor]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" '
        f'aria-label="{_xml(label)}">'
        f"<title>{_xml(label)}</title>"
        f'<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/>'
        f'<stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{width}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{lw}" height="20" fill="#555"/>'
        f'<rect x="{lw}" width="{rw}" height="20" fill="{color}"/>'
        f'<rect width="{width}" height="20" fill="url(#s)"/></g>'
        f'<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" '
        f'font-size="11">'
        f'<text x="{lw / 2:.1f}" y="14">{_xml(left)}</text>'
        f'<text x="{lw + rw / 2:.1f}" y="14">{_xml(right)}</text></g>'
        f"<desc>{_xml(license_id(spec))}</desc></svg>\n"
    )


# ------------------------------------------------------------------------------ dispatch
def _render_pdf(spec: LicenseSpec) -> bytes:
    from .pdf import render_pdf

    return render_pdf(spec)


_RENDERERS: dict[str, Callable[[LicenseSpec], str | bytes]] = {
    "md": _render_md,
    "txt": _render_txt,
    "html": _render_html,
    "tex": _render_tex,
    "pdf": _render_pdf,
    "json": _render_json,
    "card": _render_card,
    "notice": _render_notice,
    "badge": _render_badge,
}


def render(spec: LicenseSpec, fmt: str) -> bytes:
    """Render ``spec`` in ``fmt`` (one of :data:`FORMATS`) as bytes (UTF-8 for text formats)."""
    try:
        renderer = _RENDERERS[fmt]
    except KeyError:
        raise UsageError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}") from None
    out = renderer(spec)
    return out.encode("utf-8") if isinstance(out, str) else out


#: The release kit: file name -> format. ``LICENSE`` is what the model card's
#: ``license_link: LICENSE`` points at.
KIT_FILES: dict[str, str] = {
    "LICENSE": "txt",
    "LICENSE.md": "md",
    "LICENSE.html": "html",
    "LICENSE.pdf": "pdf",
    "LICENSE.tex": "tex",
    "NOTICE": "notice",
    "license.json": "json",
    "model-card-license.md": "card",
    "license-badge.svg": "badge",
}


def release_kit(spec: LicenseSpec) -> dict[str, bytes]:
    """Every file a release needs, rendered in memory: ``{file name: bytes}`` (see :data:`KIT_FILES`)."""
    return {name: render(spec, fmt) for name, fmt in KIT_FILES.items()}


__all__ += ["restriction_items", "Block", "KIT_FILES", "release_kit"]
