"""Ways to make a store fail on purpose: a wrapper whose calls raise when told, a TCP proxy between Vigil
and PostgreSQL that can be cut and restored, and a fresh PostgreSQL database per test."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from vigil.errors import StoreError
from vigil.store.base import Store

POSTGRES = os.environ.get("VIGIL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


class Faulty:
    """A store whose named calls raise ``StoreError`` the next ``times`` times (``fail``); every other call
    goes to the real store. ``after=True`` makes the call run first and raise afterwards (a commit whose
    answer was lost)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._faults: dict[str, list[Any]] = {}
        self.lock = threading.Lock()

    def fail(self, method: str, times: int = 1, *, after: bool = False) -> None:
        with self.lock:
            self._faults[method] = [times, after]

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._store, name)
        if not callable(real):
            return real

        def call(*args: Any, **kwargs: Any) -> Any:
            with self.lock:
                fault = self._faults.get(name)
                armed = fault is not None and fault[0] > 0
                if armed:
                    fault[0] -= 1  # type: ignore[index]
            if armed and fault[1]:  # type: ignore[index]
                real(*args, **kwargs)
            if armed:
                raise StoreError(f"injected failure of {name}")
            return real(*args, **kwargs)

        return call


class TcpProxy:
    """A loopback TCP proxy to ``target``: ``cut()`` closes every connection and refuses new ones (the
    database is gone, as after a crash or a network cut); ``restore()`` listens again on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = int(probe.getsockname()[1])
        probe.close()
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._listener: socket.socket | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, args=(listener,), daemon=True)
        self._thread.start()

    def cut(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for a, b in pairs:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                with contextlib.suppress(OSError):
                    s.close()

    def close(self) -> None:
        self.cut()

    def _serve(self, listener: socket.socket) -> None:
        sel = selectors.DefaultSelector()
        listener.setblocking(False)
        sel.register(listener, selectors.EVENT_READ)
        peers: dict[socket.socket, socket.socket] = {}
        try:
            while not self._stop.is_set():
                for key, _ in sel.select(0.05):
                    sock: socket.socket = key.fileobj  # type: ignore[assignment]
                    if sock is listener:
                        try:
                            client, _ = listener.accept()
                            upstream = socket.create_connection(self.target, timeout=5)
                        except OSError:
                            continue
                        for s in (client, upstream):
                            s.setblocking(False)
                            sel.register(s, selectors.EVENT_READ)
                        peers[client], peers[upstream] = upstream, client
                        with self._lock:
                            self._pairs.append((client, upstream))
                        continue
                    other = peers.get(sock)
                    try:
                        data = sock.recv(65536)
                        if not data:
                            raise ConnectionResetError
                        other.setblocking(True)  # type: ignore[union-attr]
                        other.sendall(data)  # type: ignore[union-attr]
                        other.setblocking(False)  # type: ignore[union-attr]
                    except OSError:
                        for end in (sock, other):
                            if end is not None:
                                with contextlib.suppress(KeyError, ValueError):
                                    sel.unregister(end)
                                peers.pop(end, None)
                                with contextlib.suppress(OSError):
                                    end.close()
        finally:
            sel.close()
            listener.close()


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """The URL of a fresh PostgreSQL database, dropped afterwards (skips the test when there is none)."""
    if POSTGRES == "skip":
        pytest.skip("VIGIL_TEST_POSTGRES=skip")
    psycopg = pytest.importorskip("psycopg")
    name = f"vigil_test_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(POSTGRES, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at {POSTGRES}: {exc}")
    try:
        yield POSTGRES.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def postgres_address() -> tuple[str, int]:
    """Host and port of the PostgreSQL the tests use."""
    from psycopg import conninfo

    params = conninfo.conninfo_to_dict(POSTGRES)
    return str(params.get("host") or "127.0.0.1"), int(params.get("port") or 5432)


def through(url: str, proxy: TcpProxy) -> str:
    """``url`` with its host and port replaced by the proxy's."""
    rest = url.split("@", 1)[1].split("/", 1)[1]
    user = url.split("://", 1)[1].split("@", 1)[0]
    return f"postgresql://{user}@127.0.0.1:{proxy.port}/{rest}"


def wait_for(check: Callable[[], bool], timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return check()


class VigilServer:
    """A real ``vigil serve`` process on a free loopback port; its stderr goes to a file (read with
    ``stderr()``), so that a chatty server never blocks on a full pipe."""

    def __init__(self, folder: Path, config: str, store: str, flush_every: float = 0.5) -> None:
        self.folder = folder
        self.store = store
        self.flush_every = flush_every
        self.config_path = folder / "vigil.yaml"
        self.configure(config)
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = int(probe.getsockname()[1])
        probe.close()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = folder / f"serve-{self.port}.log"
        self._offset = 0

    def configure(self, config: str) -> None:
        self.config_path.write_text(config)

    def args(self) -> list[str]:
        return [
            str(Path(sys.executable).parent / "vigil"),
            "serve",
            "--config",
            str(self.config_path),
            "--store",
            self.store,
            "--port",
            str(self.port),
            "--flush-every",
            str(self.flush_every),
        ]

    def start(self, timeout: float = 60) -> None:
        self._offset = self._log.stat().st_size if self._log.exists() else 0
        with self._log.open("ab") as err:
            self.proc = subprocess.Popen(self.args(), stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"vigil serve exited with {self.proc.returncode}: {self.stderr()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code in (200, 503):
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("vigil serve did not start: " + self.stderr())

    def stderr(self) -> str:
        """What the current (or last) process wrote to stderr."""
        if not self._log.exists():
            return ""
        with self._log.open("rb") as f:
            f.seek(self._offset)
            return f.read().decode(errors="replace")

    def health(self) -> httpx.Response:
        return httpx.get(self.url + "/healthz", timeout=10)

    def count(self, model: str = "m", since: float = 0.0) -> int:
        """Events of ``model`` counted in its windows, all time."""
        r = httpx.get(
            f"{self.url}/v1/models/{model}/metrics",
            params={
                "names": "events",
                "step": "1d",
                "from": since or time.time() - 30 * 86_400,
                "to": time.time() + 3600,
            },
            timeout=30,
        )
        r.raise_for_status()
        return int(sum(v or 0 for _, v in r.json()["series"]["events"]))

    def settled_count(self, want: int, model: str = "m", timeout: float = 30) -> int:
        """The count once it reached ``want`` (or stopped short of it after ``timeout``)."""
        deadline = time.monotonic() + timeout
        got = self.count(model)
        while got < want and time.monotonic() < deadline:
            time.sleep(0.2)
            got = self.count(model)
        return got

    def stop(self, timeout: float = 30) -> None:
        """A clean stop (SIGTERM, as systemd or Docker send)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout)

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


class Load:
    """Events of model ``m`` logged through the real SDK from a background thread, about ``rate`` a
    second, until ``finish``; ``figures`` then says what the SDK saw."""

    def __init__(self, url: str, rate: float = 1000.0, model: str = "m") -> None:
        from vigil.sdk import Client

        self.client = Client(
            url,
            batch_size=200,
            flush_interval=0.2,
            timeout=5.0,
            backoff=0.2,
            max_backoff=2.0,
            host_metrics_every=None,
            close_timeout=60.0,
        )
        self.rate = rate
        self.model = model
        self.logged = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        step = 50
        while not self._stop.is_set():
            for _ in range(step):
                self.client.log(
                    self.model,
                    request_id=f"r{self.logged}",
                    features={"x": float(self.logged % 97)},
                    prediction=self.logged % 2,
                    score=0.5,
                    latency_ms=5.0,
                )
                self.logged += 1
            time.sleep(step / self.rate)

    def finish(self, timeout: float = 90) -> dict[str, int]:
        """Stop logging, deliver what is queued (however long the retries take, up to ``timeout``)."""
        self._stop.set()
        self._thread.join(10)
        delivered = self.client.flush(timeout=timeout)
        stats = self.client.stats()
        self.client.close(timeout=5)
        return {"logged": self.logged, "delivered": int(delivered), **stats}


def report(fault: str, acknowledged: int, counted: int, stats: dict[str, int] | None = None) -> None:
    """One line of figures per fault, for the record (shown with ``pytest -s``)."""
    extra = ""
    if stats is not None:
        extra = (
            f" sdk: logged {stats['logged']}, gave up {stats['failed_records']} records in "
            f"{stats['failed_batches']} batches, dropped {stats['dropped']}, retries {stats['retries']}"
        )
    print(f"\n[fault] {fault}: acknowledged {acknowledged}, counted {counted}.{extra}")
