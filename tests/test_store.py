"""The DuckDB store: creation, migrations, refusal of newer schemas, path resolution."""

from __future__ import annotations

import duckdb
import pytest

from railtrack.config import resolve_db_path
from railtrack.errors import InputError
from railtrack.store import SCHEMA_VERSION, connect, open_store
from railtrack.store.db import migrate


def test_new_store_has_every_migration(tmp_path):
    path = tmp_path / "s.duckdb"
    con = connect(path)
    versions = [r[0] for r in con.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()]
    assert versions == list(range(1, SCHEMA_VERSION + 1))
    tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
    assert {"models", "base_models", "generated_licenses", "snapshots", "import_runs", "watchlist"} <= tables
    con.close()


def test_migrate_is_idempotent(tmp_path):
    path = tmp_path / "s.duckdb"
    connect(path).close()
    con = connect(path)
    assert migrate(con) == SCHEMA_VERSION
    assert con.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == SCHEMA_VERSION
    con.close()


def test_store_from_newer_railtrack_is_refused(tmp_path):
    path = tmp_path / "s.duckdb"
    con = connect(path)
    con.execute("INSERT INTO schema_migrations (version, name) VALUES (999, 'future')")
    con.close()
    with pytest.raises(InputError, match="newer railtrack"):
        connect(path)


def test_env_var_and_explicit_path(tmp_path, monkeypatch):
    monkeypatch.setenv("RAILTRACK_DB", str(tmp_path / "env.duckdb"))
    assert resolve_db_path(None) == tmp_path / "env.duckdb"
    assert resolve_db_path(tmp_path / "x.duckdb") == tmp_path / "x.duckdb"
    with open_store() as store:
        assert store.path == tmp_path / "env.duckdb"
    assert (tmp_path / "env.duckdb").exists()


def test_read_only_missing_store_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="no store"):
        connect(tmp_path / "missing.duckdb", read_only=True)


def test_not_a_database_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.duckdb"
    bad.write_bytes(b"this is not a duckdb file" * 100)
    with pytest.raises(InputError):
        connect(bad)


def test_memory_store():
    con = connect(":memory:")
    assert isinstance(con, duckdb.DuckDBPyConnection)
    assert con.execute("SELECT count(*) FROM models").fetchone()[0] == 0
