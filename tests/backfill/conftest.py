"""A real local Dask cluster for the backfill tests (one per module: two workers, a thread each)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from vigil.backfill.run import local_client


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with local_client(None, workers=2, threads=1, processes=False) as c:
        yield c
