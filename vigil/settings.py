"""Server settings: one table drives the ``vigil serve`` flags, the environment variables and the docs
(a test fails when a setting is missing from the README)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from vigil.errors import InputError

__all__ = ["SETTINGS", "Setting", "explicit", "resolve"]


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    env: str
    help: str

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def parse(self, text: str) -> Any:
        try:
            return type(self.default)(text) if self.default is not None else text
        except ValueError:
            kind = type(self.default).__name__
            raise InputError(f"{self.env}={text!r}: not {'an' if kind == 'int' else 'a'} {kind}") from None


SETTINGS: tuple[Setting, ...] = (
    Setting("config", "vigil.yaml", "VIGIL_CONFIG", "The config file: models, columns, security. Optional."),
    Setting(
        "store", "vigil.db", "VIGIL_STORE", "Embedded store file, or a postgresql:// URL for a shared store."
    ),
    Setting("host", "127.0.0.1", "VIGIL_HOST", "Address to listen on."),
    Setting("port", 8000, "VIGIL_PORT", "Port to listen on."),
    Setting(
        "otlp_port",
        0,
        "VIGIL_OTLP_PORT",
        "Also listen on this port (OTLP/HTTP's is 4318) for OpenTelemetry exporters: POST /v1/traces, "
        "/v1/logs and /v1/metrics. 0: only on --port, which takes them too.",
    ),
    Setting(
        "writer",
        "",
        "VIGIL_WRITER",
        "This process's name among the servers sharing a store (default: main, or host:port with "
        "PostgreSQL). Keep it stable across restarts: the process replays its own log.",
    ),
    Setting(
        "broker",
        "",
        "VIGIL_BROKER",
        "A NATS JetStream URL (nats://HOST:4222): accepted events are published to its stream, answered once "
        "the broker holds them, and folded by `vigil worker` processes. Empty: folded by this process "
        "(`vigil worker` needs one).",
    ),
    Setting("broker_stream", "vigil", "VIGIL_BROKER_STREAM", "The JetStream stream (made when missing)."),
    Setting(
        "broker_max_bytes",
        1 << 30,
        "VIGIL_BROKER_MAX_BYTES",
        "The stream's limit in bytes: past it, publishing is refused (503). Applied to the stream "
        "when given (see --broker-duplicate-window).",
    ),
    Setting(
        "broker_max_messages",
        100_000,
        "VIGIL_BROKER_MAX_MESSAGES",
        "The stream's limit in batches: past it, publishing is refused (503). Applied to the stream "
        "when given (see --broker-duplicate-window).",
    ),
    Setting(
        "broker_duplicate_window",
        600.0,
        "VIGIL_BROKER_DUPLICATE_WINDOW",
        "Seconds the stream drops a retry (same Idempotency-Key and body) before storing it; a later retry "
        "is stored and the worker skips it (the key is kept with the predictions). The stream limits, given "
        "to `vigil serve` or `vigil worker` (flag or environment), are set when the stream is made and "
        "applied to it at each start where they differ, logged old → new; those not given leave it as it is.",
    ),
    Setting(
        "broker_max_lag",
        10_000,
        "VIGIL_BROKER_MAX_LAG",
        "Batches published and not acknowledged by the workers past which events are refused (503).",
    ),
    Setting("flush_every", 2.0, "VIGIL_FLUSH_EVERY", "Seconds between saves of the live windows."),
    Setting("max_body_bytes", 32 * 1024 * 1024, "VIGIL_MAX_BODY_BYTES", "Largest request body (413 above)."),
    Setting("max_records", 50_000, "VIGIL_MAX_RECORDS", "Most records in one request (413 above)."),
    Setting(
        "log_format",
        "text",
        "VIGIL_LOG_FORMAT",
        "text (one readable line per event) or json (one JSON object per line, for log pipelines).",
    ),
    Setting("log_level", "info", "VIGIL_LOG_LEVEL", "Least severe log level written: debug, info, warning."),
)


def explicit(given: dict[str, Any], names: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Each setting named (all without names) from the command line if given, else its environment
    variable, else None."""
    out: dict[str, Any] = {}
    for s in SETTINGS:
        if names is None or s.name in names:
            value = given.get(s.name)
            if value is None and s.env in os.environ:
                value = s.parse(os.environ[s.env])
            out[s.name] = value
    return out


def resolve(given: dict[str, Any]) -> dict[str, Any]:
    """Each setting from the command line if given, else its environment variable, else its default."""
    return {
        name: next(s.default for s in SETTINGS if s.name == name) if value is None else value
        for name, value in explicit(given).items()
    }
