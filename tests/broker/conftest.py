"""The broker tests run on the NATS JetStream of this machine (127.0.0.1:4222; VIGIL_TEST_NATS names another,
"skip" skips them), each on a stream of its own, deleted afterwards, and on a fresh PostgreSQL database."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import nats
import nats.js.errors
import pytest
from nats.js import JetStreamContext

from tests.shared_postgres import fresh_database

_T = TypeVar("_T")
NATS = os.environ.get("VIGIL_TEST_NATS", "nats://127.0.0.1:4222")


def _reachable(url: str) -> bool:
    host, _, port = url.removeprefix("nats://").partition(":")
    try:
        socket.create_connection((host, int(port or 4222)), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture
def nats_url() -> str:
    if NATS == "skip":
        pytest.skip("VIGIL_TEST_NATS=skip")
    if not _reachable(NATS):
        pytest.skip(f"no NATS at {NATS} (scripts/ensure-services.sh starts it)")
    return NATS


@pytest.fixture
def stream(nats_url: str) -> Iterator[str]:
    """A unique stream name; the stream is deleted after the test."""
    name = f"vigil_test_{uuid.uuid4().hex[:12]}"
    yield name

    async def delete(js: JetStreamContext) -> None:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_stream(name)

    on_jetstream(nats_url, delete)


def on_jetstream(url: str, do: Callable[[JetStreamContext], Awaitable[_T]]) -> _T:
    """``do`` on a connection of its own (one that makes and changes no stream by itself)."""

    async def run() -> _T:
        nc = await nats.connect(url, connect_timeout=2)
        try:
            return await do(nc.jetstream(timeout=5))
        finally:
            await nc.close()

    return asyncio.run(run())


@pytest.fixture
def database() -> Iterator[str]:
    with fresh_database() as url:
        yield url
