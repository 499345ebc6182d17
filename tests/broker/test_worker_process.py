"""``vigil worker`` as a real process, killed with SIGKILL in the middle of the stream and started again:
every event counted exactly once (nothing acknowledged lost, nothing saved counted again)."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from tests.broker.test_broker import events, post, saved_events, served, wait_for
from vigil.store import open_store

CONFIG = """
models:
  m:
    task: binary
    owner: {team: t}
    features: {x: {type: numeric}, region: {type: categorical}}
"""


def _worker(
    vigil_exe: str, nats_url: str, stream: str, database: str, config: Path
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            *(vigil_exe, "worker", "--broker", nats_url, "--stream", stream, "--store", database),
            *("--config", str(config), "--flush-every", "0.05", "--batch", "2", "--log-level", "warning"),
        ],
        stderr=subprocess.PIPE,
    )


def test_a_worker_killed_mid_stream_and_started_again_counts_every_event_once(
    vigil_exe: str, nats_url: str, stream: str, database: str, tmp_path: Path
) -> None:
    config = tmp_path / "vigil.yaml"
    config.write_text(CONFIG)
    now = time.time()
    sent = events(6_000, "r", t0=now - 600, span=540)
    store = open_store(database)

    def total() -> int:
        return saved_events(store, now - 3600, now + 60)

    with served(nats_url, stream, database, clock=time.time) as (client, publisher):
        for i in range(0, len(sent), 200):
            post(client, sent[i : i + 200])
        first = _worker(vigil_exe, nats_url, stream, database, config)
        try:
            wait_for(lambda: total() > 0, 30)  # its first save
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        at_kill = total()
        assert 0 < at_kill < len(sent), at_kill  # killed in the middle of the stream
        second = _worker(vigil_exe, nats_url, stream, database, config)
        try:
            wait_for(lambda: publisher.lag_now().behind == 0, 60)
            assert total() == len(sent)
            time.sleep(1.5)  # past the ack wait: no late redelivery counted again
            assert total() == len(sent)
        finally:
            second.send_signal(signal.SIGTERM)
            _, err = second.communicate(timeout=20)
        assert second.returncode == 0, err.decode()
    store.close()
