"""The server's log: what it does after it starts (the evaluator lease, alert state changes, notifications
sent or failed, actions run, retention), on stderr, as text or as one JSON object per line.

JSON lines carry ``time`` (RFC 3339, UTC), ``level``, ``logger``, ``message`` and the fields a line was
logged with (``event`` such as ``alert.firing`` or ``notification.failed``, ``model``, ``receiver``...),
formatted by python-json-logger.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

from vigil.timefmt import TIME_FORMAT

__all__ = ["FORMATS", "configure"]

FORMATS = ("text", "json")
_LEVELS = ("debug", "info", "warning", "error")


def configure(fmt: str = "text", level: str = "info", stream: TextIO | None = None) -> logging.Handler:
    """Send Vigil's and the web server's log records at ``level`` or above to ``stream`` (stderr) in
    ``fmt``; replaces the handlers of the root logger. Returns the handler. Raises ValueError naming the
    choices for an unknown format or level."""
    if fmt not in FORMATS:
        raise ValueError(f"log format {fmt!r} is not one of {', '.join(FORMATS)}")
    if level.lower() not in _LEVELS:
        raise ValueError(f"log level {level!r} is not one of {', '.join(_LEVELS)}")
    handler = logging.StreamHandler(stream or sys.stderr)
    formatter: logging.Formatter
    if fmt == "json":
        from pythonjsonlogger.json import JsonFormatter

        formatter = JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            datefmt=TIME_FORMAT,
            json_ensure_ascii=False,
        )
    else:
        formatter = logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", TIME_FORMAT)
    formatter.converter = time.gmtime  # UTC, like every time Vigil shows
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)  # other libraries: warnings and worse
    logging.getLogger("vigil").setLevel(level.upper())
    return handler
