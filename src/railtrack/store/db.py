"""Opening the DuckDB store and applying versioned migrations.

Migrations are the SQL files ``store/migrations/NNN_name.sql``, applied in order of
``NNN``, each in its own transaction, and recorded in ``schema_migrations``. A store
written by a newer railtrack (a migration number we do not know) is refused rather than
silently misread.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import duckdb

from ..config import resolve_db_path
from ..errors import InputError

_MIGRATION_RE = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


def _migrations() -> list[tuple[int, str, str]]:
    folder = resources.files("railtrack.store") / "migrations"
    found = []
    for entry in folder.iterdir():
        m = _MIGRATION_RE.match(entry.name)
        if m:
            found.append((int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    found.sort()
    return found


SCHEMA_VERSION = max((n for n, _, _ in _migrations()), default=0)


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply pending migrations; return the schema version now in force."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
        " applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"
    )
    applied = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    known = {n for n, _, _ in _migrations()}
    unknown = sorted(applied - known)
    if unknown:
        raise InputError(
            f"the store was written by a newer railtrack (schema version {unknown[-1]}); upgrade railtrack"
        )
    for number, name, sql in _migrations():
        if number in applied:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [number, name])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    return max(known, default=0)


def connect(db: str | os.PathLike[str] | None = None, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the store and bring its schema up to date.

    ``db`` may be ``":memory:"`` for a throwaway store. Read-only connections of a file
    that does not exist yet raise :class:`InputError`.
    """
    if db is not None and str(db) == ":memory:":
        con = duckdb.connect(":memory:")
        migrate(con)
        return con
    path = resolve_db_path(db)
    if read_only and not path.exists():
        raise InputError(f"no store at {path}: import some data first (see `railtrack hub --help`)")
    if not read_only:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create the store folder {path.parent}: {exc.strerror or exc}") from None
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        raise InputError(f"cannot open the store {path}: {str(exc).splitlines()[0]}") from None
    except duckdb.Error as exc:
        raise InputError(f"{path} is not a railtrack store: {str(exc).splitlines()[0]}") from None
    if not read_only:
        migrate(con)
    return con


@dataclass
class Store:
    """A thin holder of the connection and its path, handed to library functions."""

    con: duckdb.DuckDBPyConnection
    path: Path | None = None

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(db: str | os.PathLike[str] | None = None, *, read_only: bool = False) -> Store:
    path = None if (db is not None and str(db) == ":memory:") else resolve_db_path(db)
    return Store(connect(db, read_only=read_only), path)
