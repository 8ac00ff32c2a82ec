"""Evidence about a model, read from the store in bulk: what the rules look at.

For each model: its declared licenses (Hub tags after reconciliation), ``license_name`` and
``license_link`` from the card metadata, the license identified from its card or LICENSE
text, the repository file listing (``None`` when unknown - never the same as "no files"),
identified license files, and the model card text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

import duckdb
import pyarrow as pa

_WS = re.compile(r"\s+")
_FRONT = re.compile(r"\A\ufeff?\s*---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.S)


def normalize_text(text: str) -> str:
    """Lowercase, unify quotes and the copyright sign, collapse whitespace (for phrase search)."""
    t = text.lower().replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"')
    t = t.replace("\u00a9", "(c)").replace("&copy;", "(c)").replace("\\n", " ")
    return _WS.sub(" ", t)


@dataclass
class Evidence:
    """Everything the store knows about one model that bears on its license obligations."""

    id: str
    in_store: bool = True
    licenses: list[str] = field(default_factory=list)
    license_name: str | None = None
    license_link: str | None = None
    identified_license: str | None = None
    identified_source: str | None = None
    files: list[str] | None = None
    license_files: list[tuple[str, str | None]] = field(default_factory=list)
    card: str | None = None
    _norm: str | None = field(default=None, repr=False)
    _body: str | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        """The model name: the repository id without its owner."""
        return self.id.rsplit("/", 1)[-1]

    @property
    def declared(self) -> str:
        """Declared license(s) as shown in reports: ``a,b`` or ``none``."""
        return ",".join(self.licenses) if self.licenses else "none"

    @property
    def card_norm(self) -> str:
        """The whole card (front matter included), normalised for phrase search."""
        if self._norm is None:
            self._norm = normalize_text(self.card) if self.card else ""
        return self._norm

    @property
    def card_body(self) -> str:
        """The card's Markdown body without its YAML front matter, normalised."""
        if self._body is None:
            if not self.card:
                self._body = ""
            else:
                m = _FRONT.match(self.card)
                self._body = normalize_text(self.card[m.end():] if m else self.card)
        return self._body

    def has_metadata(self) -> bool:
        return bool(self.card and _FRONT.match(self.card))

    def quote(self, phrase: str, width: int = 80, body_only: bool = False) -> str | None:
        """A short excerpt of the card around ``phrase`` (already normalised), or ``None``."""
        hay = self.card_body if body_only else self.card_norm
        i = hay.find(phrase)
        if i < 0:
            return None
        start = max(0, i - width // 2)
        end = min(len(hay), i + len(phrase) + width // 2)
        return ("..." if start else "") + hay[start:end].strip() + ("..." if end < len(hay) else "")


def gather(con: duckdb.DuckDBPyConnection, ids: Iterable[str], *, with_cards: bool = True) -> dict[str, Evidence]:
    """Load the evidence of every model in ``ids`` with three set-based queries.

    Ids that are not in the store get an ``Evidence(in_store=False)``.
    """
    wanted = list(dict.fromkeys(ids))
    out: dict[str, Evidence] = {}
    if not wanted:
        return out
    tbl = pa.table({"model_id": pa.array(wanted, pa.string())})
    name = "_rt_adherence_ids"
    con.register(name, tbl)
    try:
        rows = con.execute(
            f"SELECT m.model_id, m.licenses, m.license_name, m.license_link, m.identified_license, "
            f"m.identified_source, m.files FROM models m JOIN {name} w USING (model_id)"
        ).fetchall()
        for mid, lic, lname, llink, ident, isrc, files in rows:
            out[mid] = Evidence(mid, True, [str(x).lower() for x in (lic or []) if x], lname, llink,
                                ident, isrc, list(files) if files is not None else None)
        if with_cards:
            for mid, card in con.execute(
                f"SELECT c.model_id, c.card FROM model_cards c JOIN {name} w USING (model_id)"
            ).fetchall():
                if mid in out:
                    out[mid].card = card
        for mid, path, ident in con.execute(
            f"SELECT f.model_id, f.path, f.identified FROM license_files f JOIN {name} w USING (model_id) "
            f"ORDER BY f.model_id, f.path"
        ).fetchall():
            if mid in out:
                out[mid].license_files.append((path, ident))
    finally:
        con.unregister(name)
    for mid in wanted:
        if mid not in out:
            out[mid] = Evidence(mid, in_store=False)
    return out


# -- file-name classes ----------------------------------------------------------------------
def _base(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1].lower()


def _top(files: Iterable[str]) -> list[str]:
    """Files at the repository root (a LICENSE inside a vendored folder is not the repo's license)."""
    return [f for f in files if "/" not in f.replace("\\", "/").strip("/")]


def license_like_files(files: Iterable[str]) -> list[str]:
    """Files that hold a license text: LICENSE, LICENCE.md, COPYING, llama2-license.txt ..."""
    out = []
    for f in _top(files):
        b = _base(f)
        if "license" in b or "licence" in b or b.startswith("copying") or b.startswith("terms_of_use") \
                or b.startswith("terms-of-use"):
            out.append(f)
    return out


def policy_files(files: Iterable[str]) -> list[str]:
    """Files that hold an acceptable/prohibited-use policy: USE_POLICY.md, AUP.md ..."""
    out = []
    for f in _top(files):
        b = _base(f)
        if "use_policy" in b or "use-policy" in b or "usepolicy" in b or "acceptable_use" in b \
                or "acceptable-use" in b or "prohibited_use" in b or "prohibited-use" in b \
                or b.startswith("aup.") or b == "aup":
            out.append(f)
    return out


def notice_files(files: Iterable[str]) -> list[str]:
    """Files named NOTICE (any extension)."""
    return [f for f in _top(files) if _base(f).startswith("notice")]
