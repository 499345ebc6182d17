"""Storage: one protocol (``base.Store``), an embedded SQLite file and PostgreSQL."""

from __future__ import annotations

from vigil.store.base import Store

__all__ = ["Store", "open_store"]


def open_store(url: str) -> Store:
    """A store from a path (embedded SQLite file) or a ``postgresql://`` URL."""
    if url.startswith(("postgresql://", "postgres://")):
        from vigil.store.postgres import PostgresStore

        return PostgresStore(url)
    from vigil.store.sqlite import SQLiteStore

    return SQLiteStore(url)
