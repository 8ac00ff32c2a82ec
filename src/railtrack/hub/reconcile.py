"""The reconciliation rule: what a model declares when its tags and card metadata disagree.

The Hub exposes the same facts twice: in ``tags`` (``license:<id>``,
``base_model:<relation>:<id>``, computed by the Hub) and in the card metadata (``license``,
``license_name``, ``license_link``, ``base_model``, ``base_model_relation``, written by the
model's author). Real data disagrees: a card lists two base models and the tags one, a
license sits in the tags but not in the card. railtrack applies this rule, in SQL, for
every source:

**License** (``models.licenses``)
    1. the card's ``license`` (one id or a list, lowercased) when it declares one - the
       author's own statement, and what the Hub renders on the model page;
    2. otherwise the ``license:`` tags;
    3. otherwise nothing (an empty list, reported as ``none``).
    Both inputs are kept (``models.license_card``, ``models.license_tags``); whenever
    their sets differ (one of them may be empty; both must be known) a ``metadata_conflicts`` row with
    ``field = 'license'`` records tags, card and the resolved value.

**Base models** (``base_models``)
    The union of every parent named by the card ``base_model``, the ``base_model:`` tags,
    the API ``baseModels`` field and, for family trees, the tree's
    children/adapters/quantized/merges columns - a parent named anywhere is a parent.
    When the card and tags name different sets of parents (both considered, at least one
    non-empty), a ``field = 'base_model'`` conflict records both and the union.
    ``base_models.source`` is ``both`` when card and tags agree on the edge, else the
    single source that named it (``card``, ``tags``, ``api``, ``tree``).

**Relation** (``base_models.relation``)
    First of: the card's ``base_model_relation`` (author's declaration), the relation in a
    ``base_model:<relation>:<id>`` tag, the API ``baseModels.relation``, the tree column;
    otherwise ``merge`` when the model has several parents, else ``unknown``. When the
    card's relation and a tag's relation differ, a ``field = 'relation'`` conflict is kept.

Conflicts of the models whose state an import replaces are rewritten by that import, so
``metadata_conflicts`` always describes each model's current metadata.
"""

from __future__ import annotations

import duckdb

RELATIONS_SQL = "('adapter', 'finetune', 'quantized', 'merge')"


#: SQL computing ``tags_known, tag_licenses, licenses`` from a staging row's input columns
#: (``tags``, ``card_licenses``): the license part of the rule above.
TAG_LICENSES_SQL = ("list_sort(list_distinct(list_filter(list_transform("
                 "list_filter(coalesce(tags, []), lambda t: lower(t) LIKE 'license:%'), "
                 "lambda t: lower(trim(substr(t, 9)))), lambda x: x <> '')))")
CARD_LICENSES_SQL = "list_sort(list_distinct(list_filter(coalesce(card_licenses, []), lambda x: x IS NOT NULL AND x <> '')))"
DERIVED_SQL = ("tags IS NOT NULL AS tags_known, _tag_licenses AS tag_licenses, "
               "CASE WHEN len(card_licenses) > 0 THEN card_licenses ELSE _tag_licenses END AS licenses")


def build_edges(con: duckdb.DuckDBPyConnection, table: str, tree_table: str) -> None:
    """Build the ``_rt_edges`` temp table (one row per model and parent) from all sources."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _rt_edges_raw AS
        WITH tag_edges AS (
            SELECT model_id, substr(t, 12) AS rest FROM (
                SELECT model_id, unnest(list_filter(tags, lambda x: x LIKE 'base_model:%')) AS t FROM {table}
            )
        ), tag_parsed AS (
            SELECT model_id,
                CASE WHEN split_part(rest, ':', 1) IN {RELATIONS_SQL} AND strpos(rest, ':') > 0
                     THEN split_part(rest, ':', 1) END AS relation,
                CASE WHEN split_part(rest, ':', 1) IN {RELATIONS_SQL} AND strpos(rest, ':') > 0
                     THEN substr(rest, strpos(rest, ':') + 1) ELSE rest END AS base_id
            FROM tag_edges
        )
        SELECT model_id, base_id, relation, 'tags' AS src FROM tag_parsed WHERE base_id <> ''
        UNION ALL
        SELECT model_id, unnest(card_bases) AS base_id, card_relation AS relation, 'card' AS src
            FROM {table} WHERE len(card_bases) > 0
        UNION ALL
        SELECT model_id, unnest(api_bases) AS base_id, api_relation AS relation, 'api' AS src
            FROM {table} WHERE len(api_bases) > 0
        UNION ALL
        SELECT model_id, base_id, relation, 'tree' AS src FROM {tree_table}
            WHERE model_id IS NOT NULL AND base_id IS NOT NULL AND model_id <> base_id"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _rt_edges AS
        WITH agg AS (
            SELECT model_id, base_id,
                list_distinct(list(src)) AS srcs,
                any_value(relation) FILTER (WHERE src = 'card' AND relation IS NOT NULL) AS rel_card,
                any_value(relation) FILTER (WHERE src = 'tags' AND relation IS NOT NULL) AS rel_tags,
                any_value(relation) FILTER (WHERE src = 'api' AND relation IS NOT NULL) AS rel_api,
                any_value(relation) FILTER (WHERE src = 'tree' AND relation IS NOT NULL) AS rel_tree
            FROM _rt_edges_raw WHERE model_id <> base_id GROUP BY model_id, base_id
        ), parents AS (
            SELECT model_id, count(*) AS n_parents FROM agg GROUP BY model_id
        )
        SELECT a.model_id, a.base_id,
            coalesce(a.rel_card, a.rel_tags, a.rel_api, a.rel_tree,
                     CASE WHEN p.n_parents > 1 THEN 'merge' ELSE 'unknown' END) AS relation,
            CASE WHEN list_contains(a.srcs, 'card') AND list_contains(a.srcs, 'tags') THEN 'both'
                 WHEN list_contains(a.srcs, 'card') THEN 'card'
                 WHEN list_contains(a.srcs, 'tags') THEN 'tags'
                 WHEN list_contains(a.srcs, 'api') THEN 'api'
                 ELSE 'tree' END AS source,
            a.rel_card, a.rel_tags
        FROM agg a JOIN parents p USING (model_id)"""
    )
    con.execute("DROP TABLE _rt_edges_raw")


def write_edges(con: duckdb.DuckDBPyConnection) -> int:
    """Replace the edges of the applied models (``_rt_apply``) and merge in tree edges.

    Metadata edges (card/tags/api) of re-observed models are replaced. A tree edge never
    overrides what a model's own metadata says about an existing edge; it only fills an
    ``unknown`` relation.
    """
    con.execute(
        "DELETE FROM base_models WHERE source <> 'tree' AND model_id IN (SELECT model_id FROM _rt_apply)"
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _rt_edges_new AS
        SELECT e.model_id, e.base_id,
            CASE WHEN e.source = 'tree' AND b.source IS NOT NULL AND b.source <> 'tree' AND b.relation <> 'unknown'
                 THEN b.relation ELSE e.relation END AS relation,
            CASE WHEN e.source = 'tree' AND b.source IS NOT NULL AND b.source <> 'tree'
                 THEN b.source ELSE e.source END AS source,
            b.model_id IS NOT NULL AS existed
        FROM _rt_edges e LEFT JOIN base_models b USING (model_id, base_id)
        WHERE e.source = 'tree' OR e.model_id IN (SELECT model_id FROM _rt_apply)"""
    )
    con.execute(
        """DELETE FROM base_models WHERE (model_id, base_id) IN (
               SELECT (model_id, base_id) FROM _rt_edges_new WHERE existed)"""
    )
    con.execute(
        """INSERT INTO base_models (model_id, base_id, relation, source)
           SELECT model_id, base_id, relation, source FROM _rt_edges_new"""
    )
    con.execute("DROP TABLE _rt_edges_new")
    return int(con.execute("SELECT count(*) FROM _rt_edges").fetchone()[0])


def write_conflicts(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """Rewrite ``metadata_conflicts`` for the applied models; return how many were found."""
    con.execute("DELETE FROM metadata_conflicts WHERE model_id IN (SELECT model_id FROM _rt_apply)")
    con.execute(
        f"""INSERT INTO metadata_conflicts (model_id, field, tags, card, resolved)
        SELECT model_id, 'license', to_json(tag_licenses)::VARCHAR,
               to_json(card_licenses)::VARCHAR, to_json(licenses)::VARCHAR
        FROM {table} SEMI JOIN _rt_apply USING (model_id)
        WHERE has_card_meta AND tags_known
          AND tag_licenses <> card_licenses"""
    )
    con.execute(
        f"""INSERT INTO metadata_conflicts (model_id, field, tags, card, resolved)
        WITH t AS (
            -- only models with an edge named by one of card/tags can disagree
            SELECT model_id,
                list_sort(list(base_id) FILTER (WHERE source IN ('tags', 'both'))) AS from_tags,
                list_sort(list(base_id) FILTER (WHERE source IN ('card', 'both'))) AS from_card,
                list_sort(list(base_id)) AS resolved
            FROM _rt_edges WHERE source <> 'tree'
              AND model_id IN (SELECT model_id FROM _rt_edges WHERE source IN ('card', 'tags'))
            GROUP BY model_id
        )
        SELECT t.model_id, 'base_model', to_json(coalesce(from_tags, []))::VARCHAR,
               to_json(coalesce(from_card, []))::VARCHAR, to_json(resolved)::VARCHAR
        FROM t JOIN {table} s ON s.model_id = t.model_id AND s.has_card_meta AND s.tags_known
        SEMI JOIN _rt_apply a ON a.model_id = t.model_id
        WHERE coalesce(from_tags, []) <> coalesce(from_card, [])"""
    )
    con.execute(
        """INSERT INTO metadata_conflicts (model_id, field, tags, card, resolved)
        SELECT model_id, 'relation',
               to_json(list_sort(list_distinct(list(rel_tags) FILTER (WHERE rel_tags IS NOT NULL))))::VARCHAR,
               to_json(any_value(rel_card))::VARCHAR,
               to_json(any_value(relation))::VARCHAR
        FROM _rt_edges SEMI JOIN _rt_apply USING (model_id)
        WHERE rel_card IS NOT NULL AND rel_tags IS NOT NULL AND rel_card <> rel_tags
        GROUP BY model_id"""
    )
    return int(
        con.execute(
            "SELECT count(*) FROM metadata_conflicts WHERE model_id IN (SELECT model_id FROM _rt_apply)"
        ).fetchone()[0]
    )
