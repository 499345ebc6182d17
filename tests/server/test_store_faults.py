"""Fault injections on real processes: ``vigil serve`` on the real PostgreSQL (through a TCP proxy the test
cuts and restores) or on an SQLite file (locked by another connection, unwritable, damaged), fed by the
real SDK, or restarted with a model taken out of its config. Each checks that every event the server
acknowledged is counted, exactly once (also after a restart), and that the SDK gave nothing up. Each
fault lasts seconds; ``pytest -s`` prints the figures."""

from __future__ import annotations

import contextlib
import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.server.faults import (
    Load,
    TcpProxy,
    VigilServer,
    postgres_address,
    postgres_database,
    report,
    through,
    wait_for,
)

CONFIG = """
models:
  m:
    task: binary
    owner: {team: t}
    features: {x: {type: numeric}}
"""
TWO_MODELS = (
    CONFIG
    + """
  n:
    task: binary
    owner: {team: t}
    features: {x: {type: numeric}}
"""
)


def _check(server: VigilServer, fault: str, stats: dict[str, int]) -> None:
    """Every acknowledged event counted, none given up; the same after a clean restart (nothing twice)."""
    acknowledged = stats["sent"]
    counted = server.settled_count(acknowledged)
    report(fault, acknowledged, counted, stats)
    assert stats["failed_records"] == 0 and stats["dropped"] == 0 and stats["rejected_records"] == 0
    assert stats["delivered"] == 1 and acknowledged == stats["logged"]
    assert counted == acknowledged
    server.stop()
    server.start()
    assert server.count() == acknowledged
    assert server.health().json()["status"] == "ok"


def test_postgresql_cut_mid_load(tmp_path: Path) -> None:
    with postgres_database() as url:
        proxy = TcpProxy(postgres_address())
        server = VigilServer(tmp_path, CONFIG, through(url, proxy))
        try:
            server.start()
            load = Load(server.url)
            time.sleep(3)
            proxy.cut()  # PostgreSQL is gone: every connection closed, new ones refused
            assert wait_for(lambda: server.health().status_code == 503, 10)
            assert "PostgreSQL" in " ".join(server.health().json()["problems"])
            time.sleep(10)
            proxy.restore()
            time.sleep(3)
            stats = load.finish()
            assert stats["retries"] > 0  # the outage was felt
            assert wait_for(lambda: server.health().status_code == 200, 20)
            _check(server, "PostgreSQL cut for 10 s mid-load", stats)
        finally:
            server.stop()
            proxy.close()


def test_sqlite_locked_by_another_writer_mid_load(tmp_path: Path) -> None:
    path = tmp_path / "vigil.db"
    server = VigilServer(tmp_path, CONFIG, str(path))
    try:
        server.start()
        load = Load(server.url)
        time.sleep(2)
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # e.g. a tool holding a write transaction
        assert wait_for(lambda: server.health().status_code == 503, 10)
        assert "locked" in " ".join(server.health().json()["problems"])
        time.sleep(6)
        other.execute("ROLLBACK")
        other.close()
        time.sleep(2)
        stats = load.finish()
        assert stats["retries"] > 0
        _check(server, "SQLite locked by another connection for 6 s mid-load", stats)
    finally:
        server.stop()


def test_sqlite_file_that_cannot_be_written_mid_load(tmp_path: Path) -> None:
    """Health says so from the first refused append: with nothing for the aggregator to save in the
    meantime (it saves hourly here), it was 200 while every batch was refused with 503."""
    server = VigilServer(tmp_path, CONFIG, str(tmp_path / "vigil.db"), flush_every=3600)
    try:
        server.start()
        load = Load(server.url)
        time.sleep(2)
        assert server.proc is not None
        soft, hard = resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (4096, hard))  # as with a full disk
        assert wait_for(lambda: server.health().status_code == 503, 10)
        assert "cannot write the store file" in " ".join(server.health().json()["problems"])
        time.sleep(6)
        resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (soft, hard))
        time.sleep(2)
        stats = load.finish()
        assert stats["retries"] > 0
        _check(server, "SQLite file unwritable (file size limit) for 6 s mid-load", stats)
    finally:
        server.stop()


def test_a_model_removed_from_the_config_across_a_restart(tmp_path: Path) -> None:
    server = VigilServer(tmp_path, TWO_MODELS, str(tmp_path / "vigil.db"), flush_every=3600)
    try:
        server.start()
        m, n = Load(server.url, model="m"), Load(server.url, model="n")
        time.sleep(2)
        acked_m, acked_n = m.finish()["sent"], n.finish()["sent"]
        server.kill9()  # nothing saved: the log holds both models' events
        server.configure(CONFIG)  # n taken out of the config
        server.start()
        assert f"the store holds {acked_n} events of n" in server.stderr()
        health = server.health().json()
        assert health["status"] == "degraded" and health["held"]["events"] == acked_n, health
        assert server.count("m") == acked_m
        server.stop()  # a clean stop saves the checkpoint past n's batches; they stay held
        server.configure(TWO_MODELS)  # n is back
        server.start()
        counted_n = server.settled_count(acked_n, "n")
        report("model n removed from the config across a restart, then put back", acked_n, counted_n)
        assert counted_n == acked_n and server.count("m") == acked_m
        assert server.health().json()["status"] == "ok"
        server.stop()
        server.start()
        assert server.count("n") == acked_n  # once
    finally:
        server.stop()


def test_a_damaged_store_file_stops_the_start_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "vigil.db"
    server = VigilServer(tmp_path, CONFIG, str(path))
    try:
        server.start()
        load = Load(server.url, rate=4000)
        time.sleep(2)
        stats = load.finish()
        assert server.settled_count(stats["sent"]) == stats["sent"]
        backup = subprocess.run(
            [str(Path(sys.executable).parent / "vigil"), "backup", str(tmp_path / "backup.db"), "--store",
             str(path)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert backup.returncode == 0 and "backup.db" in backup.stdout, backup.stderr
        server.stop()
        size = path.stat().st_size
        with path.open("r+b") as f:  # pages in the middle of the file go bad; its header survives
            f.seek(size // 2)
            f.write(b"\xff" * 16384)
        damaged = subprocess.run(server.args(), capture_output=True, text=True, timeout=60)
        assert damaged.returncode == 2
        assert "Traceback" not in damaged.stderr
        assert "is damaged" in damaged.stderr and ".recover" in damaged.stderr, damaged.stderr

        server.store = str(tmp_path / "backup.db")  # what the message says to do
        server.start()
        counted = server.count()
        report(
            "store file damaged; restarted from the backup taken with vigil backup", stats["sent"], counted
        )
        assert counted == stats["sent"] and stats["failed_records"] == 0
    finally:
        server.stop()


def test_a_file_that_is_not_a_store_stops_the_start_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "vigil.db"
    path.write_bytes(b"\x00\x01 not SQLite " * 1000)
    server = VigilServer(tmp_path, CONFIG, str(path))
    done = subprocess.run(server.args(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("error: the store file") and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_clean_stop_leaves_the_store_file_complete_on_its_own(tmp_path: Path) -> None:
    path = tmp_path / "vigil.db"
    server = VigilServer(tmp_path, CONFIG, str(path))
    try:
        server.start()
        load = Load(server.url, rate=4000)
        time.sleep(2)
        stats = load.finish()
        assert server.settled_count(stats["sent"]) == stats["sent"]
    finally:
        server.stop()
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "vigil.db").write_bytes(path.read_bytes())  # the .db alone, as a plain file copy takes it
    again = VigilServer(copy, CONFIG, str(copy / "vigil.db"))
    try:
        again.start()
        counted = again.count()
        report("clean stop, then the .db file alone copied", stats["sent"], counted, stats)
        assert counted == stats["sent"]
    finally:
        again.stop()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_kill_9_mid_load_with_the_sdk(tmp_path: Path, backend: str) -> None:
    sqlite = contextlib.nullcontext(str(tmp_path / "vigil.db"))
    with postgres_database() if backend == "postgresql" else sqlite as store:
        server = VigilServer(tmp_path, CONFIG, store)
        try:
            server.start()
            load = Load(server.url)
            time.sleep(3)
            server.kill9()  # mid-load: requests in flight, windows unsaved
            time.sleep(1)
            server.start()
            time.sleep(2)
            stats = load.finish()
            _check(server, f"kill -9 mid-load ({backend})", stats)
        finally:
            server.stop()


def test_healthz_names_a_store_that_is_down(tmp_path: Path) -> None:
    with postgres_database() as url:
        proxy = TcpProxy(postgres_address())
        server = VigilServer(tmp_path, CONFIG, through(url, proxy))
        try:
            server.start()
            assert server.health().json()["status"] == "ok"
            proxy.cut()
            r = server.health()
            assert r.status_code == 503 and r.json()["status"] == "unavailable"
            assert "cannot connect to PostgreSQL" in r.json()["problems"][0]
            r = httpx.post(server.url + "/v1/events", json=[{"model": "m"}], timeout=10)
            assert r.status_code == 503 and r.headers["retry-after"] == "2", r.text
            proxy.restore()
            assert wait_for(lambda: server.health().status_code == 200, 10)
        finally:
            server.stop()
            proxy.close()
