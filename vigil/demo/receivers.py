"""Where the demo's alerts land: a webhook recorder, an SMTP server and a real Prometheus Alertmanager.

All three listen on 127.0.0.1 (free ports), are started and stopped by the demo, and turn what they get
into :class:`Received` records (one per alert in a notification, stamped with the wall-clock time of
arrival) handed to one callback:

* :class:`WebhookRecorder`: a threaded ``http.server`` that records each POST's JSON (Alertmanager's
  webhook v4 body, as Vigil sends it);
* :class:`SmtpRecorder`: an ``aiosmtpd`` server that records each message's subject and plain-text body;
  the alerts are read back from the body's ``- firing: ... [label=value, ...]`` lines;
* :class:`AlertmanagerWatch`: runs Debian's ``prometheus-alertmanager`` (a ``null`` receiver of its own)
  and polls ``GET /api/v2/alerts``: an alert is received when it first appears and resolved when it leaves
  the list.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

__all__ = [
    "ALERTMANAGER_BINARY",
    "AlertmanagerWatch",
    "Received",
    "SmtpRecorder",
    "WebhookRecorder",
    "free_port",
    "parse_email_alerts",
]

ALERTMANAGER_BINARY = Path("/usr/bin/prometheus-alertmanager")
"""Debian's ``prometheus-alertmanager`` (``scripts/install-prometheus.sh`` installs it)."""

_ALERTMANAGER_CONFIG = """\
# Written by `vigil demo`: Vigil forwards its alerts here; this Alertmanager only shows them.
global:
  resolve_timeout: 1h   # Vigil posts firing alerts without endsAt: keep them until Vigil resolves them
route:
  receiver: "null"
  group_by: [alertname, model]
receivers:
  - name: "null"
"""


@dataclass(frozen=True)
class Received:
    """One alert as a receiver got it; ``at`` is the arrival time (Unix seconds)."""

    at: float
    receiver: str
    alertname: str
    model: str
    severity: str
    status: str
    """``firing`` or ``resolved``."""
    labels: Mapping[str, str] = field(default_factory=dict, compare=False)
    annotations: Mapping[str, str] = field(default_factory=dict, compare=False)
    """The alert's annotations where the receiver gets them (webhook, Alertmanager); empty by e-mail."""


OnReceive = Callable[[Received], None]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _from_labels(
    at: float,
    receiver: str,
    labels: Mapping[str, str],
    status: str,
    annotations: Mapping[str, str] | None = None,
) -> Received:
    return Received(
        at,
        receiver,
        labels.get("alertname", "?"),
        labels.get("model", "?"),
        labels.get("severity", "?"),
        status,
        dict(labels),
        dict(annotations or {}),
    )


# ------------------------------------------------------------------------------------------- webhook


class WebhookRecorder:
    """Records every POST (arrival time and JSON body) on ``url``; ``receiver`` names it in records."""

    def __init__(self, on_receive: OnReceive, *, receiver: str = "webhook") -> None:
        self.on_receive, self.receiver = on_receive, receiver
        self.posts: list[tuple[float, Any]] = []
        """(arrival time, parsed JSON) of every POST, oldest first."""
        self._lock = threading.Lock()
        record = self._record  # the handler's one way into this recorder

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                at = time.time()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                record(at, body)

            def log_message(self, format: str, *args: Any) -> None:  # quiet: the demo prints its own lines
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="demo-webhook", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/hook"

    def start(self) -> WebhookRecorder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _record(self, at: float, body: bytes) -> None:
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        with self._lock:
            self.posts.append((at, payload))
        alerts = payload.get("alerts", []) if isinstance(payload, dict) else []
        for alert in alerts:
            self.on_receive(
                _from_labels(
                    at,
                    self.receiver,
                    alert.get("labels", {}),
                    alert.get("status", "?"),
                    alert.get("annotations", {}),
                )
            )


# ---------------------------------------------------------------------------------------------- smtp


def parse_email_alerts(body: str) -> list[tuple[str, dict[str, str]]]:
    """The ``(status, labels)`` of each alert line of a Vigil e-mail's text body.

    Vigil lists each alert as ``- <status>: <summary> ... [label=value, ...]`` (labels sorted, without
    ``alertname``).

    >>> parse_email_alerts("Alerts (1 firing, 0 resolved):\\n- firing: x is 3 [model=m, severity=warning]")
    [('firing', {'model': 'm', 'severity': 'warning'})]
    """
    out = []
    for line in body.splitlines():
        status, colon, rest = line.removeprefix("- ").partition(":")
        if not line.startswith("- ") or not colon or status not in ("firing", "resolved"):
            continue
        inside = rest.rpartition("[")[2].removesuffix("]")
        labels = dict(pair.split("=", 1) for pair in inside.split(", ") if "=" in pair)
        out.append((status, labels))
    return out


class SmtpRecorder:
    """An SMTP server (aiosmtpd) on 127.0.0.1 that records each message: arrival time, subject, body.

    ``alertname`` gives an alert's name from its labels: Vigil's e-mails list the labels but not the name.
    """

    def __init__(
        self,
        on_receive: OnReceive,
        alertname: Callable[[Mapping[str, str]], str],
        *,
        receiver: str = "email",
        port: int | None = None,
    ) -> None:
        try:
            from aiosmtpd.controller import Controller
        except ImportError as exc:
            raise SystemExit("vigil demo receives e-mail with aiosmtpd: pip install 'vigil[demo]'") from exc
        self.on_receive, self.alertname, self.receiver = on_receive, alertname, receiver
        self.messages: list[tuple[float, str, str]] = []
        """(arrival time, subject, plain-text body) of every message, oldest first."""
        self.host, self.port = "127.0.0.1", port or free_port()
        self._controller = Controller(self, hostname=self.host, port=self.port)

    def start(self) -> SmtpRecorder:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """aiosmtpd's hook: one accepted message."""
        at = time.time()
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        part = message.get_body(("plain",))
        body = part.get_content() if part is not None else ""
        self.messages.append((at, str(message["Subject"] or "").strip(), body))
        for status, labels in parse_email_alerts(body):
            labels["alertname"] = self.alertname(labels)
            self.on_receive(_from_labels(at, self.receiver, labels, status))
        return "250 Message accepted for delivery"


# -------------------------------------------------------------------------------------- alertmanager


class AlertmanagerWatch:
    """A real Alertmanager in ``folder`` on a free port, polled every ``poll`` seconds for its alerts."""

    def __init__(
        self,
        folder: Path,
        on_receive: OnReceive,
        *,
        binary: Path = ALERTMANAGER_BINARY,
        receiver: str = "alertmanager",
        poll: float = 0.25,
    ) -> None:
        self.folder, self.on_receive, self.binary = folder, on_receive, binary
        self.receiver, self.poll = receiver, poll
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.seen: dict[str, tuple[float, Mapping[str, str]]] = {}
        """Fingerprint → (first seen, labels) of the alerts listed now."""
        self._proc: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="demo-alertmanager", daemon=True)

    def start(self, timeout: float = 20.0) -> AlertmanagerWatch:
        """Start the process and wait until it is ready; raises RuntimeError (with its log) when it fails."""
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "alertmanager.yml"
        config.write_text(_ALERTMANAGER_CONFIG, encoding="utf-8")
        log = self.folder / "alertmanager.log"
        with log.open("wb") as out:
            self._proc = subprocess.Popen(
                [
                    str(self.binary),
                    f"--config.file={config}",
                    f"--storage.path={self.folder / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--cluster.listen-address=",  # one instance: no gossip port
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while not self._ready():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:]
                raise RuntimeError(f"Alertmanager did not start: {tail[0] if tail else 'no output'}")
            time.sleep(0.1)
        self._thread.start()
        return self

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def alerts(self) -> list[dict[str, Any]]:
        """``GET /api/v2/alerts`` (active, silenced and inhibited alike)."""
        listed: list[dict[str, Any]] = httpx.get(f"{self.url}/api/v2/alerts", timeout=2).json()
        return listed

    def _watch(self) -> None:
        while not self._stop.wait(self.poll):
            try:
                listed = self.alerts()
            except (httpx.HTTPError, ValueError):
                continue
            at = time.time()
            now = {a["fingerprint"]: a.get("labels", {}) for a in listed}
            for fp, labels in now.items():
                if fp not in self.seen:
                    self.seen[fp] = (at, labels)
                    self.on_receive(_from_labels(at, self.receiver, labels, "firing"))
            for fp in [fp for fp in self.seen if fp not in now]:
                _, labels = self.seen.pop(fp)
                self.on_receive(_from_labels(at, self.receiver, labels, "resolved"))

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
