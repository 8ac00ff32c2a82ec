"""Text normalisation for identification: the same tokens whatever the formatting.

A license copied into a repository is re-wrapped, Markdown-formatted (bold, headings, lists,
tables), turned into HTML, given curly or straight quotes, or pasted into a model card.
Identification compares *word tokens* only, so all of that disappears:

* HTML tags, HTML entities and Markdown link targets (``[text](url)``) are blanked out
  (replaced by spaces of the same length, so token offsets still point into the original);
* tokens are runs of letters and digits (``[^\\W_]+``), lower-cased; punctuation, quotes,
  Markdown markers and whitespace never reach the matcher.

Offsets are kept so that matched spans can be reported in the original text.
"""

from __future__ import annotations

import re
import unicodedata
from itertools import accumulate

#: Version of the normalisation rules (part of the index cache fingerprint).
VERSION = "1"

_HTML_TAG = re.compile(r"<(?:[a-zA-Z/!][^<>]{0,2000})>")
_HTML_ENTITY = re.compile(r"&(?:[a-zA-Z]{2,10}|#\d{1,7}|#x[0-9a-fA-F]{1,6});")
_MD_LINK_TARGET = re.compile(r"\]\([^()\s]{0,2000}\)")
_TOKEN = re.compile(r"[^\W_]+")


def _blank(match: re.Match[str]) -> str:
    return " " * (match.end() - match.start())


def mask_markup(text: str) -> str:
    """Blank out HTML tags, HTML entities and Markdown link targets, keeping every offset."""
    if "<" in text:
        text = _HTML_TAG.sub(_blank, text)
    if "&" in text:
        text = _HTML_ENTITY.sub(_blank, text)
    if "](" in text:
        text = _MD_LINK_TARGET.sub(_blank, text)
    return text


def _lower_same_length(text: str) -> str:
    low = text.lower()
    if len(low) == len(text):
        return low
    # only U+0130 (capital I with dot) grows when lower-cased
    return text.replace("\u0130", "i").lower()


def tokens(text: str) -> list[str]:
    """Word tokens of ``text`` (masked, lower-cased), in order."""
    return _TOKEN.findall(_lower_same_length(mask_markup(text)))


_SPLIT = re.compile(r"([^\W_]+)")


class TokenOffsets:
    """Lazy ``(start, end)`` offsets of tokens: ``offs[i]``, ``len(offs)`` (see :func:`token_offsets`)."""

    __slots__ = ("_cum",)

    def __init__(self, cum: list[int]) -> None:
        self._cum = cum

    def __len__(self) -> int:
        return len(self._cum) // 2

    def __getitem__(self, i: int) -> tuple[int, int]:
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(i)
        return self._cum[2 * i], self._cum[2 * i + 1]

    def __iter__(self):
        return (self[i] for i in range(len(self)))


def split_tokens(text: str) -> tuple[list[str], list[str]]:
    """(tokens, parts): the tokens of ``text`` and the ``[sep, token, ..., sep]`` split they came from.

    ``offsets_from_parts(parts)`` then gives the offsets without scanning the text again.
    """
    parts = _SPLIT.split(_lower_same_length(mask_markup(text)))
    return parts[1::2], parts


def offsets_from_parts(parts: list[str]) -> TokenOffsets:
    return TokenOffsets(list(accumulate(map(len, parts))))


def token_offsets(text: str) -> TokenOffsets:
    """``(start, end)`` character offsets in ``text`` of the tokens :func:`tokens` returns."""
    # one split into [sep, token, sep, token, ..., sep]; cumulative lengths give the offsets
    parts = _SPLIT.split(_lower_same_length(mask_markup(text)))
    return TokenOffsets(list(accumulate(map(len, parts))))


def nfkc(text: str) -> str:
    """Unicode compatibility normalisation (used for reference texts and patterns)."""
    return unicodedata.normalize("NFKC", text)
