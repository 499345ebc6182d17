"""Every store test runs against every backend: the embedded SQLite file and the PostgreSQL on this
machine (a fresh database per test module, dropped afterwards). Set VIGIL_TEST_POSTGRES to another URL of
a server where the test may create databases, or to "skip" to run SQLite only."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from vigil.store import Store, open_store

POSTGRES = os.environ.get("VIGIL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        s = open_store(str(tmp_path / "vigil.db"))
        yield s
        s.close()
        return
    if POSTGRES == "skip":
        pytest.skip("VIGIL_TEST_POSTGRES=skip")
    psycopg = pytest.importorskip("psycopg")
    name = f"vigil_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = POSTGRES.rsplit("/", 1)[0] + "/" + name
    s = open_store(url)
    try:
        yield s
    finally:
        s.close()
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
