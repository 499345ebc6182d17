"""The broker tests run on the NATS JetStream of this machine (127.0.0.1:4222; VIGIL_TEST_NATS names another,
"skip" skips them), each on a stream of its own, deleted afterwards, and on a fresh PostgreSQL database."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.shared_postgres import fresh_database
from vigil.broker.nats import JetStream, StreamLimits

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
    admin = JetStream(nats_url, name, StreamLimits(ack_wait=timedelta(seconds=1)))
    try:
        admin.delete_stream()
    finally:
        admin.close()


@pytest.fixture
def database() -> Iterator[str]:
    with fresh_database() as url:
        yield url
