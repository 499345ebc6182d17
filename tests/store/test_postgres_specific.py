"""What only the PostgreSQL store has to do: share one database between processes, migrate once, reconnect,
load large batches, and fail with a readable message. Each test gets a fresh database (see conftest)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from vigil.errors import StoreError, VigilError
from vigil.store.base import LabelRow, ModelRecord, WindowRow

psycopg = pytest.importorskip("psycopg")

from vigil.store.migrations.postgres import MIGRATIONS as _MIGRATIONS  # noqa: E402
from vigil.store.postgres import PostgresStore, mask_password  # noqa: E402 -- needs psycopg

ADMIN = os.environ.get("VIGIL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pg_url() -> Iterator[str]:
    """The URL of a fresh, empty database, dropped afterwards."""
    if ADMIN == "skip":
        pytest.skip("VIGIL_TEST_POSTGRES=skip")
    name = f"vigil_test_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL to test with: {exc}")
    try:
        yield ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _dbname(url: str) -> str:
    return url.rsplit("/", 1)[1]


def _migrations(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [v for (v,) in conn.execute("SELECT version FROM vigil_schema_migrations ORDER BY version")]


# several processes, one database ----------------------------------------------------------------------------


def test_two_stores_appending_concurrently_get_distinct_increasing_sequence_numbers(pg_url: str) -> None:
    stores = [PostgresStore(pg_url), PostgresStore(pg_url)]
    seqs: dict[str, list[int]] = {}
    start = threading.Barrier(4)

    def append(store: PostgresStore, writer: str) -> None:
        start.wait()
        seqs[writer] = [store.append(writer, "m", i, f"{writer}:{i}".encode(), float(i)) for i in range(100)]

    threads = [
        threading.Thread(target=append, args=(stores[i % 2], f"w{i}")) for i in range(4)
    ]  # two threads on each store
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [s for writer_seqs in seqs.values() for s in writer_seqs]
    assert len(everything) == len(set(everything)) == 400
    for writer, writer_seqs in seqs.items():
        assert writer_seqs == sorted(writer_seqs)
        log = stores[0].read_log(writer, 0, limit=1_000)  # every entry is readable through any store
        assert [e.seq for e in log] == writer_seqs
        assert [e.payload for e in log] == [f"{writer}:{i}".encode() for i in range(100)]
    for store in stores:
        store.close()


_APPENDER = """
import json, sys
from vigil.store.postgres import PostgresStore
store = PostgresStore(sys.argv[1])
print(json.dumps([store.append(sys.argv[2], "m", 1, bytes([i % 256]) * 100, float(i)) for i in range(100)]))
store.close()
"""


def test_two_processes_appending_concurrently(pg_url: str) -> None:
    PostgresStore(pg_url).close()  # migrated once up front; concurrent migration has its own test
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _APPENDER, pg_url, writer], stdout=subprocess.PIPE, text=True, env=env
        )
        for writer in ("p1", "p2")
    ]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    p1, p2 = (json.loads(out) for out in outs)
    assert p1 == sorted(p1) and p2 == sorted(p2) and not set(p1) & set(p2) and len(set(p1 + p2)) == 200
    store = PostgresStore(pg_url)
    assert [e.seq for e in store.read_log("p1", 0)] == p1
    assert [e.seq for e in store.read_log("p2", 0)] == p2
    assert store.read_log("p2", 0)[7].payload == bytes([7]) * 100
    store.close()


def test_writers_share_windows_and_keep_their_own_checkpoints(pg_url: str) -> None:
    a, b = PostgresStore(pg_url), PostgresStore(pg_url)
    a.save_windows("a", [WindowRow("m", "v1", 60, 0, "a", 2, b"A")], checkpoint=5)
    b.save_windows("b", [WindowRow("m", "v1", 60, 0, "b", 3, b"B")], checkpoint=8)
    assert [(r.writer, r.state) for r in a.windows("m", 60, 0, 60)] == [("a", b"A"), ("b", b"B")]
    assert (b.checkpoint("a"), a.checkpoint("b")) == (5, 8)
    a.close()
    b.close()


# migrations -------------------------------------------------------------------------------------------------


def test_migrations_are_idempotent(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    store.put_model(ModelRecord("m", "{}", "api", 1.0))
    store.close()
    again = PostgresStore(pg_url)
    assert [m.name for m in again.models()] == ["m"]
    again.close()
    assert _migrations(pg_url) == list(range(1, len(_MIGRATIONS) + 1))


def test_processes_starting_together_migrate_once(pg_url: str) -> None:
    start = threading.Barrier(6)
    errors: list[BaseException] = []

    def open_close() -> None:
        start.wait()
        try:
            PostgresStore(pg_url).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_close) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _migrations(pg_url) == list(range(1, len(_MIGRATIONS) + 1))


def test_servers_racing_for_a_lease_one_wins(pg_url: str) -> None:
    stores = [PostgresStore(pg_url) for _ in range(6)]
    start = threading.Barrier(6)
    won: list[str] = []

    def race(i: int) -> None:
        start.wait()
        if stores[i].lease("alerting", f"server-{i}", now=1000.0, ttl=30.0):
            won.append(f"server-{i}")

    threads = [threading.Thread(target=race, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    assert len(won) == 1


def test_a_newer_schema_is_refused(pg_url: str) -> None:
    PostgresStore(pg_url).close()
    with psycopg.connect(pg_url) as conn:
        conn.execute("INSERT INTO vigil_schema_migrations VALUES (999, 0)")
    with pytest.raises(StoreError, match="schema version 999, newer than this Vigil knows"):
        PostgresStore(pg_url)


def test_foreign_tables_with_vigils_names_give_a_clear_error(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        conn.execute("CREATE TABLE models (id INTEGER)")
    with pytest.raises(StoreError, match="own database or schema"):
        PostgresStore(pg_url)
    with psycopg.connect(pg_url) as conn:  # the failed migration left nothing behind
        assert conn.execute("SELECT to_regclass('vigil_schema_migrations')").fetchone() == (None,)


# errors, URLs, connections ----------------------------------------------------------------------------------


def test_an_unreachable_server_gives_a_clear_error() -> None:
    with pytest.raises(StoreError) as info:
        PostgresStore("postgresql://vigil:s3cret@127.0.0.1:1/vigil?connect_timeout=3")
    message = str(info.value)
    assert isinstance(info.value, VigilError)
    assert "127.0.0.1:1" in message and "refused" in message.lower()
    assert "s3cret" not in message and "vigil:***@" in message
    assert "\n" not in message and "Traceback" not in message


def test_a_missing_database_gives_a_clear_error(pg_url: str) -> None:
    url = pg_url + "_missing"
    with pytest.raises(StoreError, match=r"does not exist") as info:
        PostgresStore(url)
    assert f"database '{_dbname(url)}'" in str(info.value)


def test_a_malformed_url_gives_a_clear_error() -> None:
    with pytest.raises(StoreError, match="PostgreSQL"):
        PostgresStore("postgresql://host:5432/db?nosuchoption=1")


def test_passwords_are_masked() -> None:
    assert mask_password("postgresql://u:p@ss@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert mask_password("postgres://u@h/db") == "postgres://u@h/db"
    assert mask_password("postgresql://h/db?sslmode=require&password=x") == (
        "postgresql://h/db?sslmode=require&password=***"
    )
    assert mask_password("host=h password=x dbname=d") == "host=h password=*** dbname=d"


def test_url_and_repr_mask_the_password(pg_url: str) -> None:
    url = pg_url.replace("postgres@", "postgres:topsecret@")  # trust auth: any password will do
    store = PostgresStore(url)
    assert "topsecret" not in store.url and "topsecret" not in repr(store)
    assert store.url == url.replace("topsecret", "***")
    store.close()


def test_reconnects_once_after_the_server_closed_the_connection(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    store.append("w", "m", 1, b"a", 1.0)

    def kill_backends() -> None:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (_dbname(pg_url),),
            )

    kill_backends()
    assert [e.payload for e in store.read_log("w", 0)] == [b"a"]  # a read after a restart
    kill_backends()
    store.append("w", "m", 1, b"b", 2.0)  # a write whose first statement found the connection dead
    assert [e.payload for e in store.read_log("w", 0)] == [b"a", b"b"]

    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{_dbname(pg_url)}" WITH ALLOW_CONNECTIONS false')
    kill_backends()
    with pytest.raises(StoreError, match="cannot connect to PostgreSQL"):  # the server stays away: raise
        store.read_log("w", 0)
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.models()


# data -------------------------------------------------------------------------------------------------------


def test_bulk_labels(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    n = 12_000
    labels = [LabelRow("m", f"r{i}", "a", float(i)) for i in range(n)] + [LabelRow("m", "r5", "b", 2.0)]
    store.put_labels(labels)  # a duplicate in the batch: the last wins
    store.put_labels([LabelRow("m", "r6", "c", 3.0)])  # a small batch takes the other path
    by_id = {r.request_id: r for r in store.labels("m", 0)}
    assert len(by_id) == n
    assert (by_id["r5"].label, by_id["r5"].ts) == ("b", 2.0)
    assert (by_id["r6"].label, by_id["r7"].label) == ("c", "a")
    store.close()


def test_window_bounds_behave_like_sqlite(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    store.save_windows("w", [WindowRow("m", "v", 60, s, "w", 1, b"") for s in (0, 60, 120)], checkpoint=1)

    def starts(lo: float, hi: float) -> list[int]:
        return [r.start for r in store.windows("m", 60, lo, hi)]

    assert starts(0.5, 120.5) == [60, 120]
    assert starts(-math.inf, math.inf) == [0, 60, 120]
    assert starts(math.nan, 1e9) == []
    assert store.delete_windows("m", 60, before=60.5) == 2
    store.close()


def test_text_orders_by_code_point_whatever_the_locale(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    for name in ("b", "B", "a", "é", "Z"):
        store.put_model(ModelRecord(name, "{}", "api", 1.0))
    assert [m.name for m in store.models()] == sorted(["b", "B", "a", "é", "Z"])
    store.close()
