"""The embedded DuckDB store: connection, versioned migrations, shared queries."""

from .db import SCHEMA_VERSION, Store, connect, open_store

__all__ = ["SCHEMA_VERSION", "Store", "connect", "open_store"]
