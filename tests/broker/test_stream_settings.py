"""The stream's limits follow the settings of the process started last, server or worker: a worker started
before any server no longer makes the stream with defaults that silently outlive the servers' settings.
Real ``vigil worker`` and ``vigil serve`` processes on the real NATS JetStream, and the stream's checks
(what is not vigil's stops the start; what JetStream refuses, or what would drop messages, is left as it
is with a warning)."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

from tests.broker.conftest import on_jetstream
from tests.broker.test_broker import wait_for
from vigil.broker.nats import JetStreamConsumer, JetStreamPublisher, StreamLimits
from vigil.errors import VigilError

CONFIG = """
models:
  m:
    task: binary
    owner: {team: t}
    features: {x: {type: numeric}}
"""


def window(url: str, stream: str) -> float | None:
    """The stream's duplicate window in seconds (None while there is no stream)."""

    async def read(js: JetStreamContext) -> float | None:
        try:
            return float((await js.stream_info(stream)).config.duplicate_window)
        except Exception:
            return None

    return on_jetstream(url, read)


@contextmanager
def running(args: Sequence[str], log: Path, env: dict[str, str] | None = None) -> Iterator[Path]:
    """A vigil process writing its log to ``log``; stopped with SIGTERM at the end."""
    with log.open("wb") as out:
        proc = subprocess.Popen(list(args), stderr=out, env={**os.environ, **(env or {})})
        try:
            yield log
        finally:
            proc.terminate()
            proc.wait(20)


def logged(log: Path, text: str) -> bool:
    return text in log.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def commands(
    vigil_exe: str, nats_url: str, stream: str, database: str, tmp_path: Path
) -> dict[str, list[str]]:
    config = tmp_path / "vigil.yaml"
    config.write_text(CONFIG)
    common = ["--broker", nats_url, "--store", database, "--config", str(config)]
    return {
        "worker": [vigil_exe, "worker", "--stream", stream, *common, "--log-level", "info"],
        "serve": [vigil_exe, "serve", "--broker-stream", stream, *common, "--port", str(free_port())],
    }


def test_a_server_started_after_a_worker_brings_the_stream_to_its_duplicate_window(
    commands: dict[str, list[str]], nats_url: str, stream: str, tmp_path: Path
) -> None:
    with running(commands["worker"], tmp_path / "worker.log") as worker_log:
        wait_for(lambda: logged(worker_log, "vigil worker"), 30)
        assert window(nats_url, stream) == 600.0  # made by the worker, with the default
        serve = [*commands["serve"], "--broker-duplicate-window", "30"]
        with running(serve, tmp_path / "serve.log") as serve_log:
            wait_for(lambda: window(nats_url, stream) == 30.0, 30)
            wait_for(lambda: logged(serve_log, f"stream {stream} updated"), 10)
        assert logged(serve_log, "duplicate_window 600 s → 30 s")
    assert window(nats_url, stream) == 30.0


def test_a_worker_started_after_a_server_keeps_its_window_unless_given_one(
    commands: dict[str, list[str]], nats_url: str, stream: str, tmp_path: Path
) -> None:
    env = {"VIGIL_BROKER_DUPLICATE_WINDOW": "30"}
    with running(commands["serve"], tmp_path / "serve.log", env):
        wait_for(lambda: window(nats_url, stream) == 30.0, 30)  # made by the server, with its window
        with running(commands["worker"], tmp_path / "plain.log") as plain:
            wait_for(lambda: logged(plain, "vigil worker"), 30)
        assert window(nats_url, stream) == 30.0  # a worker given no window leaves the stream's
        assert not logged(plain, "updated")
        given = [*commands["worker"], "--broker-duplicate-window", "45"]
        with running(given, tmp_path / "given.log") as worker_log:
            wait_for(lambda: logged(worker_log, "vigil worker"), 30)
        assert window(nats_url, stream) == 45.0  # one given a window applies it, and says so
        assert logged(
            worker_log,
            f"JetStream stream {stream} updated to this process's settings: duplicate_window 30 s → 45 s",
        )


def test_the_limits_follow_the_process_started_last(nats_url: str, stream: str) -> None:
    first = JetStreamPublisher(nats_url, stream, StreamLimits(max_bytes=1 << 20, max_messages=50))
    try:
        second = JetStreamConsumer(nats_url, stream, StreamLimits(max_bytes=2 << 20, max_messages=80))
        second.close()
        config = first.stream_info().config
        assert (config.max_bytes, config.max_msgs, config.duplicate_window) == (2 << 20, 80, 600.0)
        JetStreamConsumer(nats_url, stream, StreamLimits()).close()  # none given: none changed
        assert first.stream_info().config.max_msgs == 80
    finally:
        first.close()


def test_a_limit_is_not_lowered_below_twice_what_the_stream_holds(
    nats_url: str, stream: str, caplog: pytest.LogCaptureFixture
) -> None:
    """JetStream drops the oldest messages past a lowered limit, whatever the discard policy: batches
    acknowledged to clients would be lost."""
    publisher = JetStreamPublisher(nats_url, stream, StreamLimits(max_messages=100))
    try:
        for _ in range(10):
            publisher.publish("m", b"x" * 100)
        with caplog.at_level(logging.INFO, "vigil.broker"):
            JetStreamConsumer(nats_url, stream, StreamLimits(max_messages=15)).close()
        info = publisher.stream_info()
        assert (info.config.max_msgs, info.state.messages) == (100, 10)
        assert f"JetStream stream {stream}: max_msgs stays 100 (asked 15): the stream holds 10" in caplog.text
        caplog.clear()
        with caplog.at_level(logging.INFO, "vigil.broker"):
            JetStreamConsumer(nats_url, stream, StreamLimits(max_messages=20)).close()
        info = publisher.stream_info()
        assert (info.config.max_msgs, info.state.messages) == (20, 10)
        assert "max_msgs 100 → 20" in caplog.text
    finally:
        publisher.close()


def test_an_update_the_server_refuses_is_said_and_the_stream_kept(
    nats_url: str, stream: str, caplog: pytest.LogCaptureFixture
) -> None:
    JetStreamPublisher(nats_url, stream).close()

    async def age(js: JetStreamContext) -> None:  # set by hand: a window past it is refused
        config = (await js.stream_info(stream)).config
        await js.update_stream(config.evolve(max_age=60.0, duplicate_window=30.0))

    on_jetstream(nats_url, age)
    with caplog.at_level(logging.INFO, "vigil.broker"):
        consumer = JetStreamConsumer(nats_url, stream, StreamLimits(duplicate_window=timedelta(seconds=120)))
    try:
        assert consumer.fetch(1, 0.1) == []  # it goes on with the stream as it is
        assert window(nats_url, stream) == 30.0
        assert (
            f"JetStream stream {stream}: the server refused to change duplicate_window 30 s → 120 s "
            "(duplicates window can not be larger then max age); going on with the stream as it is"
        ) in caplog.text
    finally:
        consumer.close()


def test_a_stream_that_is_not_vigils_stops_the_start_and_a_dropping_one_is_made_to_refuse(
    nats_url: str, stream: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def make(js: JetStreamContext) -> None:
        await js.add_stream(
            StreamConfig(name=stream, subjects=[f"{stream}.batches"], retention=RetentionPolicy.LIMITS)
        )

    on_jetstream(nats_url, make)
    with pytest.raises(VigilError) as caught:
        JetStreamConsumer(nats_url, stream)
    assert str(caught.value).startswith(
        f"the JetStream stream {stream} exists and is not one vigil can use: retention limits (vigil needs "
        "workqueue). JetStream cannot change retention or storage on a stream"
    )

    async def remake(js: JetStreamContext) -> None:
        await js.delete_stream(stream)
        await js.add_stream(
            StreamConfig(
                name=stream,
                subjects=[f"{stream}.batches"],
                retention=RetentionPolicy.WORK_QUEUE,
                storage=StorageType.FILE,
                discard=DiscardPolicy.OLD,
            )
        )

    on_jetstream(nats_url, remake)
    with caplog.at_level(logging.INFO, "vigil.broker"):
        publisher = JetStreamPublisher(nats_url, stream)
    try:
        assert publisher.stream_info().config.discard == DiscardPolicy.NEW  # full: refuse, never drop
        assert "discard old → new" in caplog.text
    finally:
        publisher.close()


def test_a_stream_the_server_will_not_make_stops_the_start_saying_why(nats_url: str, stream: str) -> None:
    with pytest.raises(VigilError) as caught:
        JetStreamConsumer(nats_url, stream, StreamLimits(max_bytes=1 << 50))
    assert str(caught.value).startswith(
        f"JetStream refused to make the stream {stream}: insufficient storage resources available (its "
        f"limits: max_bytes {1 << 50}, max_msgs 100000, duplicate_window 600 s)"
    )
