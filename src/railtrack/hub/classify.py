"""Behavioral-use classification and license identification of imported models.

* ``models.behavioral_use`` is TRUE when a declared license id is a behavioral-use license
  in the known-license registry (``railtrack.catalog.registry.is_behavioral_use``), or the
  model declares ``other`` (or nothing) with a ``license_name``/``license_link`` the
  registry resolves to one, or identification found one in its card / LICENSE text.
* Identification (``railtrack.identify.identify_text``) runs only where nothing or only
  ``other`` is declared and a card or LICENSE text is present. What it finds goes to
  ``identified_license``/``identified_score``/``identified_source`` and ``license_files``,
  never into the declared ``licenses``.

Both steps degrade cleanly: without the registry ``behavioral_use`` stays NULL; without
the identification engine the ``identified_*`` columns stay NULL. The import itself works.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Callable

import duckdb

from .cards import parse_card



def _registry() -> Any | None:
    try:
        from ..catalog.registry import load_registry
    except ImportError:
        return None
    try:
        return load_registry()
    except Exception:  # a broken plugin registry must not break imports
        return None


def _identifier() -> Callable[..., Any] | None:
    try:
        from ..identify import identify_text  # type: ignore[attr-defined]
    except ImportError:
        return None
    return identify_text


#: Cheap pre-filter before identification of a card body (bulk imports hold many cards).
_LICENSE_WORDS = re.compile(r"licen[cs]|use polic|acceptable use|prohibit|restrict|you (shall|must|will|agree) not",
                            re.IGNORECASE)


def _ident_result(ident: Any) -> tuple[str | None, float | None, bool]:
    """(license id or None, score, behavioral_use) from a ``railtrack.identify.Identification``.

    ``license == "unknown"`` with extracted use restrictions still counts as behavioral use
    (a custom license with restrictions); its id is then stored as ``unknown``.
    """
    if ident is None:
        return None, None, False
    lic = getattr(ident, "license", None)
    score = getattr(ident, "score", None)
    score = float(score) if isinstance(score, (int, float)) else None
    bu = bool(getattr(ident, "behavioral_use", False))
    if not isinstance(lic, str) or not lic or (lic == "unknown" and not bu):
        return None, score, False
    return lic, score, bu


def _sql_list(values: list[str]) -> str:
    if not values:
        return "[]::VARCHAR[]"
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in sorted(values)) + "]::VARCHAR[]"


def behavioral_sql(con: duckdb.DuckDBPyConnection, table: str, alias: str) -> str:
    """A SQL boolean expression (over ``alias``) for behavioral use of the rows of ``table``.

    The registry is consulted once per distinct license id, license name and link found in
    ``table`` (a few thousand values even for 2M models), and the answer is inlined as
    literal lists, so classifying millions of rows is one vectorised pass.
    Returns ``NULL::BOOLEAN`` when the registry is unavailable.
    """
    registry = _registry()
    if registry is None:
        return "NULL::BOOLEAN"
    has_ident = any(c[0] == "identified_license" for c in con.execute(f"DESCRIBE {table}").fetchall())
    ident_sql = f" UNION SELECT DISTINCT 'ident', identified_license FROM {table}" if has_ident else ""
    keys = con.execute(
        f"""SELECT DISTINCT 'id' AS kind, unnest(licenses) AS key FROM {table}
            UNION SELECT DISTINCT 'name', license_name FROM {table}
            UNION SELECT DISTINCT 'link', license_link FROM {table}{ident_sql}"""
    ).fetchall()
    ids, names, links = [], [], []
    for kind, key in keys:
        if not key:
            continue
        if kind in ("id", "ident"):
            entry = registry.get(key) or registry.resolve(key)
        else:
            entry = registry.resolve(key)
        if entry is None or not entry.behavioral_use:
            continue
        {"id": ids, "ident": ids, "name": names, "link": links}[kind].append(key)
    a = alias
    return (
        f"(len(list_intersect({a}.licenses, {_sql_list(ids)})) > 0"
        f" OR ((len({a}.licenses) = 0 OR list_contains({a}.licenses, 'other'))"
        f" AND (coalesce(list_contains({_sql_list(names)}, {a}.license_name), false)"
        f" OR coalesce(list_contains({_sql_list(links)}, {a}.license_link), false))))"
    )


def _ident_behavioral(identified: list[str]) -> set[str]:
    registry = _registry()
    if registry is None:
        return set()
    out = set()
    for key in identified:
        entry = registry.get(key) or registry.resolve(key)
        if entry is not None and entry.behavioral_use:
            out.add(key)
    return out


def _identify(con: duckdb.DuckDBPyConnection, apply_table: str, identify_text: Callable[..., Any]) -> dict[str, tuple]:
    """Run identification where only ``other``/nothing is declared and a text is present."""
    from .stage import STAGE_CARDS, STAGE_FILES

    rows = con.execute(
        f"""SELECT m.model_id, m.licenses, c.card FROM models m
            JOIN {apply_table} a USING (model_id)
            JOIN (SELECT model_id, any_value(card) AS card FROM {STAGE_CARDS} GROUP BY model_id) c USING (model_id)
            WHERE (len(m.licenses) = 0 OR m.licenses = ['other']) AND c.card IS NOT NULL"""
    ).fetchall()
    files = con.execute(
        f"""SELECT f.model_id, f.path, f.text FROM {STAGE_FILES} f JOIN {apply_table} a USING (model_id)
            WHERE f.text IS NOT NULL"""
    ).fetchall()
    found: dict[str, tuple[str, float | None, str, bool]] = {}
    file_rows = []
    for model_id, path, text in files:
        lic, score, bu = _ident_result(_safe_identify(identify_text, text))
        file_rows.append((model_id, path, hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(), lic, score))
        if lic:
            best = found.get(model_id)
            if best is None or (score or 0) > (best[1] or 0):
                found[model_id] = (lic, score, path, bu)
    for model_id, licenses, card in rows:
        if model_id in found:
            continue
        body = parse_card(card).body
        if not body.strip() or not _LICENSE_WORDS.search(body):
            continue  # a card that never mentions a license, a use policy or restrictions holds none
        lic, score, bu = _ident_result(_safe_identify(identify_text, body, licenses[0] if licenses else None))
        if lic:
            found[model_id] = (lic, score, "card", bu)
    if file_rows:
        con.executemany(
            """INSERT INTO license_files (model_id, path, text_hash, identified, score) VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (model_id, path) DO UPDATE SET text_hash = excluded.text_hash,
                 identified = excluded.identified, score = excluded.score""",
            file_rows,
        )
    updates = [(lic, score, src, mid) for mid, (lic, score, src, _bu) in found.items()]
    if updates:
        con.executemany(
            "UPDATE models SET identified_license = ?, identified_score = ?, identified_source = ? WHERE model_id = ?",
            updates,
        )
    return found


def _safe_identify(identify_text: Callable[..., Any], text: str, declared: str | None = None) -> Any:
    try:
        return identify_text(text, declared=declared)
    except TypeError:
        try:
            return identify_text(text)
        except Exception:
            return None
    except Exception:
        return None


def classify_models(con: duckdb.DuckDBPyConnection, apply_table: str | None = None, *, identify: bool = True) -> int:
    """Identify the models listed in ``apply_table``; mark behavioral use from what was identified.

    ``behavioral_use`` from the declared license is set inline when models are written
    (:func:`behavioral_sql`); this step adds identification (where only ``other`` or nothing
    is declared and a card/LICENSE text came with the import) and sets
    ``behavioral_use`` for models whose identified text is a behavioral-use license.
    Returns how many models got an identified license. Runs inside the caller's transaction.
    """
    if not identify or apply_table is None:
        return 0
    fn = _identifier()
    if fn is None:
        return 0
    found = _identify(con, apply_table, fn)
    if not found:
        return 0
    marked = [(mid,) for mid, (_lic, _score, _src, bu) in found.items() if bu]
    if marked:
        con.executemany("UPDATE models SET behavioral_use = true WHERE model_id = ?", marked)
    return len(found)


def reclassify(con: duckdb.DuckDBPyConnection) -> int:
    """Recompute ``behavioral_use`` of every stored model from the current registry.

    Run after the registry changed (a plugin added a license); one transaction.
    Returns the number of models marked behavioral-use.
    """
    con.execute("BEGIN TRANSACTION")
    try:
        expr = behavioral_sql(con, "models", "models")
        con.execute(f"UPDATE models SET behavioral_use = {expr}")
        ident = [r[0] for r in con.execute(
            "SELECT DISTINCT identified_license FROM models WHERE identified_license IS NOT NULL").fetchall()]
        bu = _ident_behavioral(ident)
        if bu:
            con.execute(f"UPDATE models SET behavioral_use = true WHERE list_contains({_sql_list(sorted(bu))}, identified_license)")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return int(con.execute("SELECT count(*) FROM models WHERE behavioral_use").fetchone()[0])
