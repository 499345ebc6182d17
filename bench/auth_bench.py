"""What the gate costs a request: identifying a key held in the config (in memory) or in the store (one
indexed lookup), and reading a session cookie, on SQLite and, when reachable, PostgreSQL.

    .venv/bin/python bench/auth_bench.py [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from vigil.config import parse_config
from vigil.server.keyring import Keyring
from vigil.server.sessions import Sessions
from vigil.store import Store, open_store

CONFIG = """
security:
  api_keys:
    viewer: [{name: carol, key: carol-key-0001}]
    editor: [{name: dan, key: dan-key-0002}]
    admin: [{name: ana, key: ana-key-0003}, {name: bo, key: bo-key-0004}]
    ingest: [{name: scorer, key: ingest-key-0005}]
"""


def _per_call(f: Callable[[], object], n: int) -> float:
    """The median over 5 rounds of the mean µs per call of ``n`` calls."""
    rounds = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            f()
        rounds.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(rounds)


def _measure(name: str, store: Store) -> None:
    keys = parse_config(CONFIG).security.api_keys
    keyring = Keyring(keys, store, b"s" * 32)
    _, made = keyring.create("eve", "editor", "bench")
    for i in range(999):  # a store holding 1,000 keys
        keyring.create(f"user{i}", "viewer", "bench")
    holder = keyring.identify(made)
    assert holder is not None
    sessions = Sessions(b"s" * 32, store, 3600)
    cookie, _ = sessions.issue(holder.id)
    rows = [
        ("config key (5 configured)", _per_call(lambda: keyring.identify("ingest-key-0005"), 20_000)),
        ("store key (1,000 stored)", _per_call(lambda: keyring.identify(made), 2_000)),
        ("unknown key", _per_call(lambda: keyring.identify("nope"), 2_000)),
        ("session cookie + its key", _per_call(lambda: keyring.holder(sessions.read(cookie).key_id), 2_000)),  # type: ignore[union-attr]
    ]
    for what, us in rows:
        print(f"| {name} | {what} | {us:,.1f} µs |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    print("| store | identifying | per request |\n|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(str(Path(tmp) / "v.db"))
        _measure("SQLite", store)
        store.close()
    try:
        import psycopg

        name = f"vigil_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(args.postgres, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # no server: SQLite only
        print(f"(PostgreSQL skipped: {exc})")
        return
    try:
        store = open_store(args.postgres.rsplit("/", 1)[0] + "/" + name)
        _measure("PostgreSQL", store)
        store.close()
    finally:
        with psycopg.connect(args.postgres, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
