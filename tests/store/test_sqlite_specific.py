"""What only the embedded store has to do: leave a file that holds everything once closed, copy itself
consistently while written, and fail with a sentence that says what to do when its file is locked,
damaged or not a database."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from vigil.errors import StoreError
from vigil.store.base import WindowRow
from vigil.store.sqlite import BUSY_TIMEOUT, SQLiteStore, backup


def _fill(store: SQLiteStore, batches: int, size: int = 2000) -> None:
    for i in range(batches):
        store.append("main", "m", 1, bytes([i % 256]) * size, float(i))
    store.save_windows("main", [WindowRow("m", "v", 60, 0, "main", batches, b"state")], checkpoint=batches)


def test_closing_puts_everything_in_the_file_even_while_another_connection_reads(tmp_path: Path) -> None:
    path = tmp_path / "vigil.db"
    store = SQLiteStore(path)
    reader = sqlite3.connect(path)  # e.g. the CLI, or a second server: the WAL is not the last one's
    reader.execute("SELECT count(*) FROM ingest_log").fetchone()
    _fill(store, 50)
    store.close()
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # all of it is in vigil.db now
    reader.close()
    copy = tmp_path / "copy" / "vigil.db"
    copy.parent.mkdir()
    shutil.copy(path, copy)  # the .db alone, as a naive backup would take it
    again = SQLiteStore(copy)
    assert len(again.read_log("main", 0)) == 50 and again.checkpoint("main") == 50
    again.close()


def test_a_file_locked_by_another_writer_fails_soon_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "vigil.db"
    store = SQLiteStore(path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    started = time.monotonic()
    with pytest.raises(StoreError, match="locked by another connection"):
        store.append("main", "m", 1, b"x", 1.0)
    assert time.monotonic() - started < BUSY_TIMEOUT + 2
    with pytest.raises(StoreError, match="locked"):
        store.check()
    assert store.read_log("main", 0) == []  # reading still works
    other.execute("ROLLBACK")
    store.append("main", "m", 1, b"x", 1.0)
    store.check()
    other.close()
    store.close()


def test_a_file_that_is_not_a_database_is_named_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "vigil.db"
    path.write_bytes(b"this is not a database at all, just some text" * 100)
    with pytest.raises(StoreError, match=r"is damaged.*restore your latest backup.*\.recover"):
        SQLiteStore(path)


def test_damaged_pages_are_found_by_the_thorough_check(tmp_path: Path) -> None:
    path = tmp_path / "vigil.db"
    store = SQLiteStore(path)
    _fill(store, 400)
    store.close()
    size = path.stat().st_size
    with path.open("r+b") as f:  # the header survives; pages in the middle do not
        f.seek(size // 2)
        f.write(b"\xff" * 8192)
    damaged = SQLiteStore(path)  # opens: the first pages are fine
    with pytest.raises(StoreError, match=r"is damaged.*\.recover"):
        damaged.check(thorough=True)
    damaged.close()


def test_backup_is_a_consistent_copy_while_the_file_is_written(tmp_path: Path) -> None:
    path = tmp_path / "vigil.db"
    store = SQLiteStore(path)
    _fill(store, 100)
    stop = threading.Event()

    def write() -> None:
        i = 0
        while not stop.is_set():
            store.append("main", "m", 1, b"more", 1000.0 + i)
            i += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        size = backup(path, tmp_path / "backup.db")
    finally:
        stop.set()
        writer.join()
    assert size == (tmp_path / "backup.db").stat().st_size
    copy = SQLiteStore(tmp_path / "backup.db")
    copy.check(thorough=True)
    assert len(copy.read_log("main", 0, limit=10_000)) >= 100  # everything committed before it began
    assert copy.checkpoint("main") == 100
    copy.close()
    with pytest.raises(StoreError, match="exists already"):
        backup(path, tmp_path / "backup.db")
    with pytest.raises(StoreError, match="no store file"):
        backup(tmp_path / "missing.db", tmp_path / "b2.db")
    store.close()
