"""Where railtrack keeps its data.

The store is one embedded DuckDB file. Its path is, in order of precedence: an explicit
``--db PATH`` / ``db=`` argument, the ``RAILTRACK_DB`` environment variable, then
``railtrack.duckdb`` in the user data directory (``platformdirs.user_data_dir("railtrack")``).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "railtrack"
DB_ENV = "RAILTRACK_DB"


def data_dir() -> Path:
    """The user data directory (created on demand by callers that write to it)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_db_path() -> Path:
    env = os.environ.get(DB_ENV)
    if env:
        return Path(env).expanduser()
    return data_dir() / "railtrack.duckdb"


def resolve_db_path(db: str | os.PathLike[str] | None = None) -> Path:
    """The store path for an optional explicit ``db`` argument."""
    if db is not None and str(db) != "":
        return Path(db).expanduser()
    return default_db_path()
