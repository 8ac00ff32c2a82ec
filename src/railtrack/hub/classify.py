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
from typing import Any, Callable

import duckdb

from .cards import parse_card

IDENTIFY_MIN_SCORE = 0.5


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


def _ident_result(ident: Any) -> tuple[str | None, float | None]:
    """(license id, score) from an ``Identification`` (tolerant of its exact field names)."""
    if ident is None:
        return None, None
    lic = None
    for name in ("license_id", "id", "license", "best"):
        value = getattr(ident, name, None)
        if isinstance(value, str) and value:
            lic = value
            break
        if value is not None and hasattr(value, "id"):
            lic = getattr(value, "id")
            break
    score = None
    for name in ("score", "confidence", "similarity"):
        value = getattr(ident, name, None)
        if isinstance(value, (int, float)):
            score = float(value)
            break
    return lic, score


def behavioral_map(con: duckdb.DuckDBPyConnection, registry: Any, scope_sql: str) -> None:
    """Temp table ``_rt_bu(key, kind, bu, family)`` for every license id / name / link in scope."""
    import pyarrow as pa

    keys = con.execute(
        f"""SELECT DISTINCT 'id' AS kind, unnest(licenses) AS key FROM models WHERE {scope_sql}
            UNION SELECT DISTINCT 'name', license_name FROM models WHERE {scope_sql} AND license_name IS NOT NULL
            UNION SELECT DISTINCT 'link', license_link FROM models WHERE {scope_sql} AND license_link IS NOT NULL
            UNION SELECT DISTINCT 'ident', identified_license FROM models WHERE {scope_sql} AND identified_license IS NOT NULL"""
    ).fetchall()
    out_kind, out_key, out_bu = [], [], []
    for kind, key in keys:
        if key is None:
            continue
        entry = registry.resolve(key) if kind != "id" else (registry.get(key) or registry.resolve(key))
        bu = bool(entry.behavioral_use) if entry is not None else False
        if kind == "link" and entry is None:
            continue
        out_kind.append(kind)
        out_key.append(key)
        out_bu.append(bu)
    table = pa.table({"kind": pa.array(out_kind, pa.string()), "key": pa.array(out_key, pa.string()),
                      "bu": pa.array(out_bu, pa.bool_())})
    con.register("_rt_bu_arrow", table)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE _rt_bu AS SELECT * FROM _rt_bu_arrow")
    finally:
        con.unregister("_rt_bu_arrow")


def _update_behavioral(con: duckdb.DuckDBPyConnection, scope_sql: str) -> None:
    con.execute(
        f"""UPDATE models SET behavioral_use = coalesce(
                (SELECT bool_or(b.bu) FROM _rt_bu b WHERE b.kind = 'id' AND list_contains(models.licenses, b.key)), false)
              OR ((len(models.licenses) = 0 OR list_contains(models.licenses, 'other')) AND coalesce(
                (SELECT bool_or(b.bu) FROM _rt_bu b WHERE (b.kind = 'name' AND b.key = models.license_name)
                    OR (b.kind = 'link' AND b.key = models.license_link)), false))
              OR coalesce((SELECT bool_or(b.bu) FROM _rt_bu b WHERE b.kind = 'ident' AND b.key = models.identified_license), false)
            WHERE {scope_sql}"""
    )


def _identify(con: duckdb.DuckDBPyConnection, apply_table: str, identify_text: Callable[..., Any]) -> int:
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
    found: dict[str, tuple[str | None, float | None, str]] = {}
    file_rows = []
    for model_id, path, text in files:
        lic, score = _ident_result(_safe_identify(identify_text, text))
        file_rows.append((model_id, path, hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(), lic, score))
        if lic and (score is None or score >= IDENTIFY_MIN_SCORE):
            best = found.get(model_id)
            if best is None or (score or 0) > (best[1] or 0):
                found[model_id] = (lic, score, path)
    for model_id, licenses, card in rows:
        if model_id in found:
            continue
        body = parse_card(card).body
        if not body.strip():
            continue
        lic, score = _ident_result(_safe_identify(identify_text, body, licenses[0] if licenses else None))
        if lic and (score is None or score >= IDENTIFY_MIN_SCORE):
            found[model_id] = (lic, score, "card")
    if file_rows:
        con.executemany(
            """INSERT INTO license_files (model_id, path, text_hash, identified, score) VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (model_id, path) DO UPDATE SET text_hash = excluded.text_hash,
                 identified = excluded.identified, score = excluded.score""",
            file_rows,
        )
    updates = [(lic, score, src, mid) for mid, (lic, score, src) in found.items()]
    if updates:
        con.executemany(
            "UPDATE models SET identified_license = ?, identified_score = ?, identified_source = ? WHERE model_id = ?",
            updates,
        )
    return len(updates)


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
    """Identify and classify the models listed in ``apply_table`` (all models when None).

    Returns how many models got an identified license. Runs inside the caller's transaction.
    """
    scope = "true" if apply_table is None else f"model_id IN (SELECT model_id FROM {apply_table})"
    identified = 0
    if identify and apply_table is not None:
        fn = _identifier()
        if fn is not None:
            identified = _identify(con, apply_table, fn)
    registry = _registry()
    if registry is None:
        return identified
    behavioral_map(con, registry, scope)
    _update_behavioral(con, scope)
    con.execute("DROP TABLE IF EXISTS _rt_bu")
    return identified


def reclassify(con: duckdb.DuckDBPyConnection) -> int:
    """Recompute ``behavioral_use`` of every stored model from the current registry.

    Run after the registry changed (a plugin added a license); one transaction.
    Returns the number of models marked behavioral-use.
    """
    con.execute("BEGIN TRANSACTION")
    try:
        classify_models(con, None, identify=False)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return int(con.execute("SELECT count(*) FROM models WHERE behavioral_use").fetchone()[0])
