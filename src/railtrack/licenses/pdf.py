"""PDF renderer (fpdf2, pure Python) with DejaVu Sans from matplotlib's font folder.

Output is byte-identical across runs and processes: the creation date is fixed, the
document id is derived from the content, and the font subset is deterministic.

Speed: loading a TrueType font costs fpdf2 tens of milliseconds per document, embedding
each font costs more, and its general-purpose line breaker is slow for long legal text.
So one font is embedded (DejaVu Sans; headings are set bold by stroking the glyph outlines,
PDF text render mode 2), and, once per process, it is cut down with fontTools to Latin-1,
Latin Extended-A and common punctuation and parsed once; each document whose characters all
lie in that repertoire gets a fresh copy of the per-document state only. Any other document
(e.g. Greek, Cyrillic, Arabic or Hebrew names) loads the full DejaVu Sans. Lines are broken
here with the font's own advance widths and placed with ``FPDF.text``.
"""

from __future__ import annotations

import atexit
import copy
import io
import shutil
import tempfile
import threading
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from .document import build_document
from .manifest import LicenseSpec, license_id, title

__all__ = ["render_pdf", "font_paths", "FIXED_DATE"]

#: Every generated PDF carries this creation date, so that output does not depend on the clock.
FIXED_DATE = datetime(2024, 1, 1, tzinfo=timezone.utc)

_FAMILY = "DejaVu"
_REPERTOIRE = [
    (0x20, 0x7E), (0xA0, 0x17F), (0x2010, 0x2027), (0x2030, 0x203A), (0x20AC, 0x20AC), (0x2122, 0x2122),
]
_REPERTOIRE_SET = frozenset(cp for lo, hi in _REPERTOIRE for cp in range(lo, hi + 1))

# bold: stroke width as a fraction of the font size, and the extra advance it takes
_BOLD_STROKE = 0.025
_BOLD_WIDEN = 1.03
#: word -> advance width (font units) for the cut-down font; bounded, legal text reuses few words
_SHARED_WIDTHS: dict[str, float] = {}
#: (text, width, style, size) -> wrapped lines, for the cut-down font
_SHARED_WRAPS: dict[tuple[str, float, str, float], list[str]] = {}
# layout (mm and pt)
_MARGIN_L, _MARGIN_R, _MARGIN_T, _MARGIN_B = 20.0, 20.0, 18.0, 18.0


@lru_cache(maxsize=1)
def font_paths() -> tuple[Path, Path]:
    """(regular, bold) DejaVu Sans TTF files shipped with matplotlib."""
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"


_lock = threading.Lock()
_small: tuple[bytes, object] | None = None


_small_path: Path | None = None


def _small_font_path() -> Path:
    _small_font()
    assert _small_path is not None
    return _small_path


def _subset_bytes(src: Path) -> bytes:
    from fontTools import subset as ftsubset
    from fontTools.ttLib import TTFont

    font = TTFont(str(src), recalcTimestamp=False)
    options = ftsubset.Options(notdef_outline=True, recommended_glyphs=True, name_IDs=["*"],
                               layout_features=[], hinting=False, glyph_names=True)
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "FFTM", "hdmx", "kern", "MATH"]
    sub = ftsubset.Subsetter(options)
    sub.populate(unicodes=sorted(_REPERTOIRE_SET))
    sub.subset(font)
    buf = io.BytesIO()
    font.save(buf)
    return buf.getvalue()


def _small_font() -> tuple[bytes, object]:
    """DejaVu Sans cut down to :data:`_REPERTOIRE` (bytes) and a parsed fpdf2 font object for
    it, both made once per process."""
    global _small
    with _lock:
        if _small is not None:
            return _small
        from fpdf import FPDF

        folder = Path(tempfile.mkdtemp(prefix="railtrack-fonts-"))
        atexit.register(shutil.rmtree, folder, True)
        proto_pdf = FPDF()
        src = font_paths()[0]
        data = _subset_bytes(src)
        target = folder / src.name
        target.write_bytes(data)
        proto_pdf.add_font(_FAMILY, "", str(target))
        _small = (data, proto_pdf.fonts[_FAMILY.lower()])
        global _small_path
        _small_path = target
        return _small


@lru_cache(maxsize=1)
def _fast_font_class():  # type: ignore[no-untyped-def]
    """A TTFFont whose ``encode_text`` maps characters with ``str.translate`` and a per-document
    table, instead of one cached method call per character. Glyphs are picked in the order
    the characters first occur, exactly as fpdf2 does, so the output is unchanged."""
    from fpdf.fonts import TTFFont

    class _FastTTFFont(TTFFont):
        __slots__ = ("_rt_table",)

        def encode_text(self, text: str) -> str:
            text = self._map_symbol_text(text)
            table = self._rt_table
            for ch in dict.fromkeys(text):
                code = ord(ch)
                if code not in table:
                    mapped = self.subset.pick(code)
                    table[code] = chr(mapped) if mapped is not None else None
            return f"({self.escape_text(text.translate(table))}) Tj"

    return _FastTTFFont


def _slots(cls) -> list[str]:  # type: ignore[no-untyped-def]
    names: list[str] = []
    for klass in cls.__mro__:
        for name in getattr(klass, "__slots__", ()):
            if name not in names:
                names.append(name)
    return names


def _attach_small_font(pdf) -> None:  # type: ignore[no-untyped-def]
    """Give ``pdf`` the cut-down font without re-parsing it.

    The parsed metrics (widths, cmap, glyph ids) are shared read-only; what a document
    changes is fresh for every document: the glyph subset it uses, the font file fpdf2
    subsets in place when writing, and the font descriptor - a PDF object to which fpdf2
    assigns the document's object number and font file when writing, so sharing it made
    two documents written at the same time in two threads corrupt each other's
    cross-reference table. The prototype is never written itself, so its descriptor stays
    pristine and each document copies it. Thread-safe: nothing shared is written.
    """
    from fontTools.ttLib import TTFont
    from fpdf.fonts import SubsetMap

    data, proto = _small_font()
    cls = _fast_font_class()
    font = cls.__new__(cls)
    for name in _slots(type(proto)):
        if hasattr(proto, name):
            setattr(font, name, getattr(proto, name))
    font._rt_table = {}
    font.desc = copy.copy(proto.desc)
    font.i = len(pdf.fonts) + 1
    font.ttfont = TTFont(io.BytesIO(data), lazy=True, recalcTimestamp=False, recalcBBoxes=False)
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    font.subset = SubsetMap(font)
    pdf.fonts[_FAMILY.lower()] = font


def _in_repertoire(text_chars: set[str]) -> bool:
    return all(ord(c) in _REPERTOIRE_SET for c in text_chars)


class _Layout:
    """Minimal flowing layout on top of fpdf2: wrapped paragraphs, hanging labels, page breaks."""

    def __init__(self, pdf, spec: LicenseSpec, small: bool) -> None:  # type: ignore[no-untyped-def]
        self.pdf = pdf
        self.spec = spec
        self.y = _MARGIN_T
        self.width = pdf.w - _MARGIN_L - _MARGIN_R
        self.bottom = pdf.h - _MARGIN_B
        font = pdf.fonts[_FAMILY.lower()]
        self._cw = font.cw
        # the cut-down font's widths are shared by every document: so is the word-width memo
        self._widths = _SHARED_WIDTHS if small else {}
        self._bold = False
        self._size = 10.0
        self._font_size = -1.0
        # wrapped lines of the template's fixed paragraphs are the same in every document
        self._wraps = _SHARED_WRAPS if small else {}

    def set_style(self, style: str, size: float) -> None:
        """Regular, or bold: filled and stroked outlines (text render mode 2), see :meth:`put`."""
        if size != self._font_size:  # fpdf2's set_font is costly; call it only on a change
            self.pdf.set_font(_FAMILY, "", size)
            self._font_size = size
        self._bold = style == "B"
        self._size = size

    def put(self, x: float, baseline: float, text: str) -> None:
        """Place ``text``; bold text inside its own graphics state (q ... Q) so the render mode
        and stroke width do not leak into the text that follows."""
        pdf = self.pdf
        if not self._bold:
            pdf.text(x, baseline, text)
            return
        from fpdf.enums import TextMode

        with pdf.local_context(text_mode=TextMode.FILL_STROKE, line_width=self._size * _BOLD_STROKE / pdf.k):
            pdf.text(x, baseline, text)

    def text_width(self, text: str, style: str, size: float) -> float:
        cw = self._cw
        factor = _BOLD_WIDEN if style == "B" else 1.0
        return sum(cw[ord(c)] for c in text) * factor * size / 1000.0 / self.pdf.k

    def word_width(self, word: str) -> float:
        """Advance width of ``word`` in font units (memoised: legal text repeats its words)."""
        cache = self._widths
        w = cache.get(word)
        if w is None:
            if len(cache) > 50_000:
                cache.clear()
            cw = self._cw
            w = cache[word] = sum(cw[ord(c)] for c in word)
        return w

    def wrap(self, text: str, width: float, style: str, size: float) -> list[str]:
        key = (text, width, style, size)
        lines = self._wraps.get(key)
        if lines is None:
            if len(self._wraps) > 20_000:
                self._wraps.clear()
            lines = self._wraps[key] = self._wrap(text, width, style, size)
        return lines

    def _wrap(self, text: str, width: float, style: str, size: float) -> list[str]:
        cw = self._cw
        factor = _BOLD_WIDEN if style == "B" else 1.0
        limit = width * self.pdf.k * 1000.0 / size / factor  # in font units
        space = cw[32]
        lines: list[str] = []
        current: list[str] = []
        current_w = 0.0
        word_width = self.word_width
        for word in text.split(" "):
            w = word_width(word)
            if current and current_w + space + w > limit:
                lines.append(" ".join(current))
                current, current_w = [], 0.0
            if not current and w > limit:  # a single word longer than the line: break it
                chunk, chunk_w = "", 0.0
                for ch in word:
                    c_w = cw[ord(ch)]
                    if chunk and chunk_w + c_w > limit:
                        lines.append(chunk)
                        chunk, chunk_w = "", 0.0
                    chunk += ch
                    chunk_w += c_w
                current, current_w = [chunk], chunk_w
                continue
            current_w = current_w + space + w if current else w
            current.append(word)
        if current:
            lines.append(" ".join(current))
        return lines or [""]

    def new_page(self) -> None:
        self.pdf.add_page()
        self.y = _MARGIN_T
        self._font_size = -1.0  # the page footer changed the font: set it again

    def need(self, height: float) -> None:
        if self.y + height > self.bottom:
            self.new_page()

    def space(self, height: float) -> None:
        self.y += height

    def paragraph(self, text: str, *, size: float = 10, style: str = "", lh: float = 5.0, indent: float = 0.0,
                  label: str = "", label_width: float = 0.0, keep_with_next: float = 0.0) -> None:
        pdf = self.pdf
        lines = self.wrap(text, self.width - indent - label_width, style, size)
        self.set_style(style, size)
        # keep at least two lines (or the whole short paragraph) together with what follows
        self.need(lh * min(len(lines), 2) + keep_with_next)
        x = _MARGIN_L + indent
        first = True
        for line in lines:
            if self.y + lh > self.bottom:
                self.new_page()
                self.set_style(style, size)
            baseline = self.y + 0.5 * lh + 0.3 * size / pdf.k
            if first and label:
                self.put(x, baseline, label)
            self.put(x + label_width, baseline, line)
            self.y += lh
            first = False

    def meta(self, label: str, value: str, size: float = 9, lh: float = 4.8) -> None:
        pdf = self.pdf
        head = f"{label}: "
        head_w = self.text_width(head, "B", size)
        lines = self.wrap(value, self.width - head_w, "", size)
        self.need(lh)
        baseline = self.y + 0.5 * lh + 0.3 * size / pdf.k
        self.set_style("B", size)
        self.put(_MARGIN_L, baseline, head)
        self.set_style("", size)
        for line in lines:
            self.need(lh)
            baseline = self.y + 0.5 * lh + 0.3 * size / pdf.k
            self.put(_MARGIN_L + head_w, baseline, line)
            self.y += lh


def render_pdf(spec: LicenseSpec) -> bytes:
    """The license as PDF bytes (A4, DejaVu Sans, page footer with title, id and page number)."""
    from fpdf import FPDF

    blocks = build_document(spec)
    chars: set[str] = set()
    for b in blocks:
        chars.update(b.text)
        chars.update(b.label)

    pdf = FPDF(format="A4", unit="mm")
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_producer("railtrack")
    pdf.set_creator(f"railtrack license template {spec.template_version}")
    pdf.set_title(title(spec))
    pdf.set_author(spec.licensor)
    pdf.set_subject(f"railtrack license {license_id(spec)}")
    pdf.set_lang("en")
    pdf.set_margins(_MARGIN_L, _MARGIN_T, _MARGIN_R)
    pdf.set_auto_page_break(False)
    small = _in_repertoire(chars)
    if small:
        try:
            _attach_small_font(pdf)
        except (AttributeError, TypeError, ImportError):  # pragma: no cover - another fpdf2 layout
            pdf.fonts.pop(_FAMILY.lower(), None)
            pdf.add_font(_FAMILY, "", str(_small_font_path()))
    else:
        pdf.add_font(_FAMILY, "", str(font_paths()[0]))
    foot = f"{title(spec)} \u00b7 {license_id(spec)} \u00b7 page "

    def page_footer() -> None:
        pdf.set_font(_FAMILY, "", 7.5)
        pdf.set_text_color(110, 110, 110)
        text = f"{foot}{pdf.page_no()}/{{nb}}"
        if len(text) > 120:
            text = f"{license_id(spec)} \u00b7 page {pdf.page_no()}/{{nb}}"
        pdf.set_xy(_MARGIN_L, pdf.h - 12)
        pdf.cell(pdf.w - _MARGIN_L - _MARGIN_R, 5, text, align="C")
        pdf.set_text_color(0, 0, 0)

    pdf.footer = page_footer  # type: ignore[method-assign]
    pdf.alias_nb_pages()
    pdf.add_page()
    lay = _Layout(pdf, spec, small)

    for b in blocks:
        k = b.kind
        if k == "title":
            lay.paragraph(b.text, size=18, style="B", lh=8.5)
            lay.space(2)
        elif k == "meta":
            lay.meta(b.label, b.text)
        elif k == "lead":
            lay.space(3)
            lay.paragraph(b.text, size=10, lh=5)
            lay.space(1.5)
        elif k == "heading":
            if b.text.startswith("Attachment A"):
                lay.new_page()
            else:
                lay.space(3)
            lay.paragraph(b.text, size=11.5, style="B", lh=6, keep_with_next=10)
            lay.space(1)
        elif k == "subheading":
            lay.space(1.5)
            lay.paragraph(b.text, size=10, style="B", lh=5.5, keep_with_next=10)
        elif k == "para":
            lay.paragraph(b.text, size=10, lh=5)
            lay.space(1.5)
        elif k == "quote":
            lay.paragraph(b.text, size=10, lh=5, indent=8)
            lay.space(1.5)
        elif k in ("item", "clause"):
            label = b.label if k == "item" else f"{b.label}."
            lay.paragraph(b.text, size=10, lh=5, label=label, label_width=9)
            lay.space(1.2)
        elif k == "footer":
            lay.space(6)
            pdf.set_text_color(90, 90, 90)
            lay.paragraph(b.text, size=8, lh=4)
            pdf.set_text_color(0, 0, 0)
    return bytes(pdf.output())
