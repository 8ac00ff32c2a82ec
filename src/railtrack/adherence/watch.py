"""Watchlist for licensors: watch a model's family and report what changed since the last run.

``watch_run`` audits every descendant of every watched model, compares the verdicts with
the state saved by the previous run (tables ``watch_runs`` and ``watch_state``) and
reports new derivatives, new violations (a derivative that is a violation now and was not
at the last run, new derivatives included) and resolved ones (a violation that is no
longer one, or whose derivative left the store). The first run of a watched model has no
previous state: everything is new. Each run is saved in one transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Callable

import duckdb

from ..errors import NotFoundError
from .audit import Auditor, audit, no_gc
from .lineage import LineageGraph
from .rules import VIOLATION


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> tuple[Any, ...] | None:
    """First row of a query, consuming the whole result (DuckDB refuses work on a half-read result)."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else None


def _in_store(con: duckdb.DuckDBPyConnection, model_id: str) -> bool:
    if _one(con, "SELECT 1 FROM models WHERE model_id = ?", [model_id]):
        return True
    return bool(_one(con, "SELECT 1 FROM base_models WHERE base_id = ? OR model_id = ? LIMIT 1", [model_id, model_id]))


def watch_add(con: duckdb.DuckDBPyConnection, model_id: str) -> bool:
    """Watch ``model_id``; return False when it was already watched. The model must be in the store."""
    if not _in_store(con, model_id):
        raise NotFoundError(f"model {model_id!r} is not in the store")
    if _one(con, "SELECT 1 FROM watchlist WHERE model_id = ?", [model_id]):
        return False
    con.execute("INSERT INTO watchlist (model_id) VALUES (?)", [model_id])
    return True


def watch_remove(con: duckdb.DuckDBPyConnection, model_id: str) -> None:
    """Stop watching ``model_id`` (its saved state is kept with the old runs)."""
    if not _one(con, "SELECT 1 FROM watchlist WHERE model_id = ?", [model_id]):
        raise NotFoundError(f"model {model_id!r} is not on the watchlist")
    con.execute("DELETE FROM watchlist WHERE model_id = ?", [model_id])


def watch_list(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Watched models with when they were added and the last run that covered them."""
    rows = con.execute(
        "SELECT w.model_id, w.added_at, max(s.run_id) AS last_run, "
        " count(s.model_id) FILTER (WHERE s.run_id = (SELECT max(run_id) FROM watch_state x WHERE x.watched = w.model_id)"
        "   AND s.model_id <> w.model_id) AS derivatives, "
        " count(s.model_id) FILTER (WHERE s.run_id = (SELECT max(run_id) FROM watch_state x WHERE x.watched = w.model_id)"
        "   AND s.verdict = 'violation') AS violations "
        "FROM watchlist w LEFT JOIN watch_state s ON s.watched = w.model_id "
        "GROUP BY w.model_id, w.added_at ORDER BY w.model_id"
    ).fetchall()
    return [{"model": m, "added_at": a.isoformat() if a else None, "last_run": r,
             "derivatives": int(d or 0), "violations": int(v or 0)} for m, a, r, d, v in rows]


def _previous(con: duckdb.DuckDBPyConnection, watched: str) -> tuple[int | None, dict[str, str]]:
    row = _one(con, "SELECT max(run_id) FROM watch_state WHERE watched = ?", [watched])
    last = row[0] if row else None
    if last is None:
        return None, {}
    state = dict(con.execute("SELECT model_id, verdict FROM watch_state WHERE run_id = ? AND watched = ?",
                             [last, watched]).fetchall())
    return last, state


def watch_run(con: duckdb.DuckDBPyConnection, *, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Audit every watched family, compare with the last run, save this run; return the report.

    ``{run_id, ran_at, watched: [{model, previous_run, derivatives, new_derivatives: [ids],
    new_violations: [{id, rules: [...]}], resolved: [{id, verdict}], verdicts}], totals}``.
    """
    with no_gc():
        return _watch_run(con, progress)


def _watch_run(con: duckdb.DuckDBPyConnection, progress: Callable[[str], None] | None) -> dict[str, Any]:
    watched = [r[0] for r in con.execute("SELECT model_id FROM watchlist ORDER BY model_id").fetchall()]
    ran_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    graph = LineageGraph.from_store(con)
    auditor = Auditor(con, graph)
    reports = []
    # watch_state rows, column by column
    st_watched: list[str] = []
    st_model: list[str] = []
    st_verdict: list[str] = []
    st_rules: list[int] = []  # 1-based index into rule_texts
    rule_texts: dict[str, int] = {}  # the distinct saved rule lists (a handful)
    for model in watched:
        if progress:
            progress(model)
        prev_run, prev = _previous(con, model)
        rep = audit(con, model, descendants=True, auditor=auditor)
        now = {d["id"]: d for d in rep["derivatives"]}
        new_ids = [i for i in now if i not in prev]
        new_viol = [i for i, d in now.items() if d["verdict"] == VIOLATION and prev.get(i) != VIOLATION]
        resolved = [{"id": i, "verdict": now[i]["verdict"] if i in now else "gone"}
                    for i, v in prev.items() if v == VIOLATION and (i not in now or now[i]["verdict"] != VIOLATION)]
        reports.append({
            "model": model,
            "previous_run": prev_run,
            "derivatives": len(now),
            "verdicts": rep["summary"]["verdicts"],
            "new_derivatives": new_ids,
            "new_violations": [{"id": i, "declared_license": now[i]["declared_license"],
                                "rules": [r for r in now[i]["rules"] if r["verdict"] == VIOLATION]} for i in new_viol],
            "resolved": resolved,
        })
        # most derivatives share their rule dicts (see Auditor): the saved [[rule, verdict], ...]
        # is formatted once per list of shared dicts (ids are stable while `rep` is alive)
        rules_json: dict[tuple[int, ...], int] = {}
        dumps = json.dumps
        for d in now.values():
            rules = d["rules"]
            key = tuple(map(id, rules))
            js = rules_json.get(key)
            if js is None:
                text = dumps([[r["rule"], r["verdict"]] for r in rules], separators=(",", ":"))
                js = rules_json[key] = rule_texts.setdefault(text, len(rule_texts) + 1)
            st_rules.append(js)
            st_verdict.append(d["verdict"])
        st_model.extend(now)
        st_watched.extend([model] * len(now))
    totals = {
        "watched": len(watched),
        "derivatives": sum(r["derivatives"] for r in reports),
        "new_derivatives": sum(len(r["new_derivatives"]) for r in reports),
        "new_violations": sum(len(r["new_violations"]) for r in reports),
        "resolved": sum(len(r["resolved"]) for r in reports),
    }
    con.execute("BEGIN TRANSACTION")
    try:
        run_id = _one(con, "SELECT nextval('watch_runs_seq')")[0]
        con.execute("INSERT INTO watch_runs (run_id, ran_at, summary) VALUES (?, ?, ?)",
                    [run_id, ran_at, json.dumps(totals)])
        if st_model:
            # list parameters unnested side by side (no pyarrow/pandas round trip); the rules JSON
            # is cast once per distinct text and picked by index
            con.execute("INSERT INTO watch_state (run_id, watched, model_id, verdict, rules) "
                        "SELECT ?, w, m, v, r[i] FROM (SELECT unnest(?::VARCHAR[]) AS w, unnest(?::VARCHAR[]) AS m, "
                        "unnest(?::VARCHAR[]) AS v, unnest(?::INTEGER[]) AS i), (SELECT ?::JSON[] AS r)",
                        [run_id, st_watched, st_model, st_verdict, st_rules, list(rule_texts)])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return {"run_id": run_id, "ran_at": ran_at.isoformat(timespec="seconds") + "Z", "watched": reports, "totals": totals}
