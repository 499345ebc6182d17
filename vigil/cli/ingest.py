"""``vigil ingest FILE --model M``: a batch-scoring output (Parquet, CSV, Feather) sent to a running server.

The file goes in chunks, each with an ``Idempotency-Key`` made of the file's content hash, the model, the
version and the chunk's place: sending the same file again (after a failure half-way, or by mistake)
stores nothing twice, for as long as the model keeps predictions (``retention.predictions``). A chunk the
server cannot take now (503) is sent again when it says.

Exit codes: 0 every row accepted, 1 some rows refused (a summary says which and why), 2 the file or the
server could not be used (a column of a type no event holds, bytes say, is named before anything is sent).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from vigil.errors import InputError

__all__ = ["ingest"]

_TRIES = 10
"""Sends of one chunk the server answers 503 before giving up (each waits its Retry-After)."""
_EXAMPLES = 3
"""Rows shown for each kind of refusal."""


@click.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--model", "-m", required=True, help="The model these predictions belong to.")
@click.option("--version", help="Model version (default: the model's live version).")
@click.option(
    "--url", default="http://127.0.0.1:8000", show_default=True, envvar="VIGIL_URL", help="The Vigil server."
)
@click.option("--api-key", envvar="VIGIL_API_KEY", help="An ingest key, when the server wants one.")
@click.option("--chunk", default=5_000, show_default=True, type=click.IntRange(1, 50_000))
def ingest(path: str, model: str, version: str | None, url: str, api_key: str | None, chunk: int) -> None:
    """Send a batch-scoring output (Parquet/CSV/Feather) to a running server.

    Columns named like event fields (prediction, score, request_id, timestamp, latency_ms, error, ...) are
    those; segment.NAME columns are segment tags; all other columns are features. Sending the same file
    again (same --model, --version and --chunk) stores nothing twice. Exits 1 when any row was refused,
    naming rows by their place in the file (the first data row is row 1).
    """
    import httpx

    from vigil.ingest.files import check_types, records
    from vigil.tables import read_table

    table = read_table(path, what="input")
    check_types(table, path)  # a column no event holds (bytes, durations, structs): said before any is sent
    with Path(path).open("rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    headers = {"content-type": "application/json", "content-encoding": "gzip"}
    if api_key:
        headers["authorization"] = f"Bearer {api_key}"
    summary = _Summary()
    with (
        httpx.Client(base_url=url, timeout=60) as client,
        _progress_rows(table.num_rows, Path(path).name) as bar,
    ):
        for index, part in enumerate(records(table, model, version=version, chunk=chunk)):
            key = hashlib.sha256(f"{digest}|{model}|{version or ''}|{chunk}|{index}".encode()).hexdigest()
            body = _send(
                client, url, gzip.compress(_encode(part), 1), {**headers, "idempotency-key": f"file-{key}"}
            )
            summary.add(body, first_row=index * chunk + 1)
            bar(len(part))
    for line in summary.lines(table.num_rows, model):
        click.echo(line)
    if summary.refused:
        sys.exit(1)


def _encode(part: list[dict[str, Any]]) -> bytes:
    import orjson

    # orjson writes NaN/Infinity as null; send them as they are, so the server names the bad rows
    bad = any(isinstance(v, float) and not math.isfinite(v) for r in part for v in r["features"].values())
    return json.dumps(part, default=str).encode() if bad else orjson.dumps(part, option=orjson.OPT_NAIVE_UTC)


def _send(client: Any, url: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """The server's answer to one chunk (200 or 422); 503 is waited out, anything else is an error."""
    import httpx

    for _ in range(_TRIES):
        try:
            r = client.post("/v1/events", content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise InputError(
                f"cannot reach {url}: {exc}; run the same command again once it is up (rows already "
                "stored are not stored twice)"
            ) from None
        answer = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
        if r.status_code in (200, 422):
            return dict(answer)
        if r.status_code != 503:
            raise InputError(f"the server answered {r.status_code}: {answer.get('error', r.text[:200])}")
        time.sleep(min(_retry_after(r.headers.get("retry-after")), 30.0))
    raise InputError(
        f"the server at {url} stayed busy (503) through {_TRIES} tries; run the same command again later "
        "(rows already stored are not stored twice)"
    )


def _retry_after(value: str | None) -> float:
    try:
        return max(float(value or 1), 0.1)
    except ValueError:
        return 1.0


@dataclass
class _Summary:
    """What the server accepted and refused, by field, with the first few rows of each."""

    accepted: int = 0
    refused: int = 0
    by_field: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, answer: dict[str, Any], first_row: int) -> None:
        self.accepted += int(answer.get("accepted", 0))
        for rejection in answer.get("rejected", []):
            self.refused += 1
            name = str(rejection.get("field", "?"))
            self.counts[name] = self.counts.get(name, 0) + 1
            examples = self.by_field.setdefault(name, [])
            if len(examples) < _EXAMPLES:
                row = first_row + int(rejection.get("index", 0))
                examples.append((row, str(rejection.get("reason", ""))))

    def lines(self, rows: int, model: str) -> Iterator[str]:
        if not self.refused:
            yield f"{self.accepted} of {rows} rows accepted into {model!r}"
            return
        yield f"{self.accepted} of {rows} rows accepted into {model!r}; {self.refused} refused:"
        for name, count in sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0])):
            yield f"  {count} × {name}"
            for row, reason in self.by_field[name]:
                yield f"      row {row}: {reason}"
            if count > len(self.by_field[name]):
                yield f"      … and {count - len(self.by_field[name])} more"


@contextmanager
def _progress_rows(total: int, label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar over rows on stderr; silent when stderr is not a terminal."""
    if not sys.stderr.isatty():
        yield lambda n: None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield bar.update
