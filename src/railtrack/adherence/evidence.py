"""Evidence about a model, read from the store in bulk: what the rules look at.

For each model: its declared licenses (Hub tags after reconciliation), ``license_name`` and
``license_link`` from the card metadata, the license identified from its card or LICENSE
text, the repository file listing (``None`` when unknown - never the same as "no files"),
identified license files, and the model card text.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Iterable

import duckdb

_WS = re.compile(r"\s+")
_FRONT = re.compile(r"\A\ufeff?\s*---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.S)


_TRANS = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u00a9": "(c)"})


def normalize_text(text: str) -> str:
    """Lowercase, unify quotes and the copyright sign, collapse whitespace (for phrase search)."""
    t = text.lower()
    if not t.isascii():
        t = t.translate(_TRANS)
    if "&copy;" in t:
        t = t.replace("&copy;", "(c)")
    if "\\n" in t:
        t = t.replace("\\n", " ")
    return " ".join(t.split())


@dataclass(slots=True)
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
    _classes: tuple[list[str], list[str], list[str]] | None = field(default=None, repr=False)
    _declared: str | None = field(default=None, repr=False)
    # set by gather(): (licenses, license_name, license_link, identified_license, identified_source,
    # (files unknown, license files, NOTICE files, policy files)) as tuples, for memo keys
    _key: tuple | None = field(default=None, repr=False)

    def file_classes(self) -> tuple[list[str], list[str], list[str]]:
        """(license files, NOTICE files, policy files) at the repository root; empty when unknown."""
        if self._classes is None:
            files = _top(self.files) if self.files else []
            self._classes = (_license_like(files), _notices(files), _policies(files)) if files else ([], [], [])
        return self._classes

    @property
    def name(self) -> str:
        """The model name: the repository id without its owner."""
        return self.id.rsplit("/", 1)[-1]

    @property
    def declared(self) -> str:
        """Declared license(s) as shown in reports: ``a,b`` or ``none``."""
        d = self._declared
        if d is None:
            d = self._declared = ",".join(self.licenses) if self.licenses else "none"
        return d

    def _normalise(self) -> None:
        card = self.card
        if not card:
            self._norm = self._body = ""
            return
        m = _FRONT.match(card)
        if m is None:
            self._norm = self._body = normalize_text(card)
            return
        # the front matter ends right after a newline, so normalising the two parts separately
        # and joining them with one space equals normalising the whole card
        head, body = normalize_text(card[:m.end()]), normalize_text(card[m.end():])
        self._body = body
        self._norm = f"{head} {body}" if head and body else head or body

    @property
    def card_norm(self) -> str:
        """The whole card (front matter included), normalised for phrase search."""
        if self._norm is None:
            self._normalise()
        return self._norm  # type: ignore[return-value]

    @property
    def card_body(self) -> str:
        """The card's Markdown body without its YAML front matter, normalised."""
        if self._body is None:
            self._normalise()
        return self._body  # type: ignore[return-value]

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


def _sql_top(cond: str) -> str:
    return (f"list_filter(m.files, lambda f: NOT contains(f, '/') AND NOT contains(f, '\\') AND ({cond}))")


_SQL_CLASSES = ", ".join([
    _sql_top("contains(lower(f), 'license') OR contains(lower(f), 'licence') OR starts_with(lower(f), 'copying') "
             "OR starts_with(lower(f), 'terms_of_use') OR starts_with(lower(f), 'terms-of-use')"),
    _sql_top("starts_with(lower(f), 'notice')"),
    _sql_top("contains(lower(f), 'use_policy') OR contains(lower(f), 'use-policy') OR contains(lower(f), 'usepolicy') "
             "OR contains(lower(f), 'acceptable_use') OR contains(lower(f), 'acceptable-use') "
             "OR contains(lower(f), 'prohibited_use') OR contains(lower(f), 'prohibited-use') "
             "OR starts_with(lower(f), 'aup.') OR lower(f) = 'aup'"),
])


_TEMP_IDS = itertools.count()


def gather(con: duckdb.DuckDBPyConnection, ids: Iterable[str], *, with_cards: bool = True) -> dict[str, Evidence]:
    """Load the evidence of every model in ``ids`` with three set-based queries.

    Ids that are not in the store get an ``Evidence(in_store=False)``.
    """
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    if len(wanted) <= 256:
        # a few ids: an inline VALUES list lets DuckDB use the primary-key index instead of a full join
        name = "(SELECT * FROM (VALUES " + ", ".join(["(?)"] * len(wanted)) + ") v(model_id))"
        return _gather(con, wanted, name, list(wanted), with_cards)
    # many ids: a temporary table filled from one list parameter (no pyarrow/pandas round trip)
    name = f"_rt_adherence_ids_{next(_TEMP_IDS)}"
    con.execute(f"CREATE TEMP TABLE {name} AS SELECT unnest(?::VARCHAR[]) AS model_id", [wanted])
    try:
        return _gather(con, wanted, name, [], with_cards)
    finally:
        try:
            con.execute(f"DROP TABLE IF EXISTS {name}")
        except duckdb.Error:  # pragma: no cover - a failed transaction: the error above is the one to see
            pass


def _gather(con: duckdb.DuckDBPyConnection, wanted: list[str], name: str, params: list[str],
            with_cards: bool) -> dict[str, Evidence]:
    out: dict[str, Evidence] = {}
    # Converting a DuckDB list into a Python list per row is the slow part of a large load, and
    # families share a handful of license sets and file listings: fetch each distinct list once
    # (with its file-name classes, computed by DuckDB with the same rules as the Python helpers
    # below) and refer to it by its hash. Exact: a hash collision between two distinct lists is
    # detected and falls back to fetching the lists row by row.
    join = f"FROM models m JOIN {name} w USING (model_id)"
    lic_rows = con.execute(f"SELECT hash(licenses), licenses FROM (SELECT DISTINCT m.licenses {join} "
                           f"WHERE m.licenses IS NOT NULL) m", params).fetchall()
    file_rows = con.execute(f"SELECT hash(files), files, {_SQL_CLASSES} FROM (SELECT DISTINCT m.files {join} "
                            f"WHERE m.files IS NOT NULL) m", params).fetchall()
    lic_of: dict[int, list[str]] = {}
    for h, lic in lic_rows:
        # license ids are stored lowercase (store convention); guard against stray empties only
        lic_of[h] = [x for x in lic if x] if ("" in lic or None in lic) else lic
    files_of: dict[int, tuple[list[str], tuple[list[str], list[str], list[str]]]] = {
        h: (files, (lf or [], nf or [], pf or [])) for h, files, lf, nf, pf in file_rows}
    lic_key = {h: tuple(lic) for h, lic in lic_of.items()}
    files_key = {h: (False, tuple(c[0]), tuple(c[1]), tuple(c[2])) for h, (_, c) in files_of.items()}
    if len(lic_of) == len(lic_rows) and len(files_of) == len(file_rows):
        rows = con.execute(
            "SELECT m.model_id, CASE WHEN m.licenses IS NULL THEN NULL ELSE hash(m.licenses) END, m.license_name, "
            "m.license_link, m.identified_license, m.identified_source, "
            f"CASE WHEN m.files IS NULL THEN NULL ELSE hash(m.files) END {join}", params).fetchall()
        no_files: tuple[list[str], list[str], list[str]] = ([], [], [])
        no_files_key = (True, (), (), ())
        for mid, lh, lname, llink, ident, isrc, fh in rows:
            if fh is None:
                files, classes, fkey = None, no_files, no_files_key
            else:
                files, classes = files_of[fh]
                fkey = files_key[fh]
            e = Evidence(mid, True, [] if lh is None else lic_of[lh], lname, llink, ident, isrc, files)
            e._classes = classes
            e._key = (() if lh is None else lic_key[lh], lname, llink, ident, isrc, fkey)
            out[mid] = e
    else:  # pragma: no cover - a 64-bit hash collision between two distinct lists
        for mid, lic, lname, llink, ident, isrc, files, lf, nf, pf in con.execute(
            f"SELECT m.model_id, m.licenses, m.license_name, m.license_link, m.identified_license, "
            f"m.identified_source, m.files, {_SQL_CLASSES} {join}", params
        ).fetchall():
            if lic is None:
                lic = []
            elif "" in lic or None in lic:
                lic = [x for x in lic if x]
            e = Evidence(mid, True, lic, lname, llink, ident, isrc, files)
            e._classes = (lf or [], nf or [], pf or [])
            out[mid] = e
    if with_cards:
        for mid, card in con.execute(
            f"SELECT c.model_id, c.card FROM model_cards c JOIN {name} w USING (model_id)", params
        ).fetchall():
            e = out.get(mid)
            if e is not None:
                e.card = card
    lf_rows = con.execute(
        f"SELECT f.model_id, f.path, f.identified FROM license_files f JOIN {name} w USING (model_id) "
        f"ORDER BY f.model_id, f.path", params
    ).fetchall()
    for mid, path, ident in lf_rows:
        e = out.get(mid)
        if e is not None:
            e.license_files.append((path, ident))
    for mid in wanted:
        if mid not in out:
            out[mid] = Evidence(mid, in_store=False)
    return out


# -- file-name classes ----------------------------------------------------------------------
def _base(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1].lower()


def _top(files: Iterable[str]) -> list[str]:
    """Files at the repository root (a LICENSE inside a vendored folder is not the repo's license)."""
    return [f for f in files if "/" not in f and "\\" not in f]


def _license_like(files: list[str]) -> list[str]:
    out = []
    for f in files:
        b = f.lower()
        if "license" in b or "licence" in b or b.startswith(("copying", "terms_of_use", "terms-of-use")):
            out.append(f)
    return out


def _policies(files: list[str]) -> list[str]:
    out = []
    for f in files:
        b = f.lower()
        if ("use_policy" in b or "use-policy" in b or "usepolicy" in b or "acceptable_use" in b
                or "acceptable-use" in b or "prohibited_use" in b or "prohibited-use" in b
                or b.startswith("aup.") or b == "aup"):
            out.append(f)
    return out


def _notices(files: list[str]) -> list[str]:
    return [f for f in files if f.lower().startswith("notice")]


def license_like_files(files: Iterable[str]) -> list[str]:
    """Root-level files that hold a license text: LICENSE, LICENCE.md, COPYING, llama2-license.txt ..."""
    return _license_like(_top(files))


def policy_files(files: Iterable[str]) -> list[str]:
    """Root-level files that hold an acceptable/prohibited-use policy: USE_POLICY.md, AUP.md ..."""
    return _policies(_top(files))


def notice_files(files: Iterable[str]) -> list[str]:
    """Root-level files named NOTICE (any extension)."""
    return _notices(_top(files))
