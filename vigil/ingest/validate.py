"""Turn a request body into checked records: every rejected record says which one, which field and why.

The body is JSON (an array, or one object) or NDJSON, optionally gzip-compressed (in one member or several,
as ``cat a.gz b.gz`` makes; nothing after the last). Decoding tolerates the
``NaN``/``Infinity`` tokens some JSON writers emit, so that they can be rejected record by record instead of
failing the whole batch. Records are checked by pydantic in one pass over the batch; when some fail, the
rest are checked again on their own and accepted.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError

from vigil.errors import VigilError
from vigil.schema import MAX_DIMENSIONS, MAX_NUMBER, MAX_TOKENS

__all__ = [
    "BadRequest",
    "Checked",
    "Limits",
    "Rejection",
    "check_records",
    "decode_body",
    "inflate",
    "is_ndjson",
    "parse_body",
]

R = TypeVar("R", bound=BaseModel)


class BadRequest(VigilError):
    """The request as a whole cannot be used; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.details = details


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 32 * 1024 * 1024
    """Largest body accepted, compressed or not (decompressed bodies are held to the same limit)."""
    max_records: int = 50_000
    """Most records in one request."""


@dataclass(frozen=True)
class Rejection:
    index: int
    field: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "reason": self.reason}


@dataclass
class Checked(Generic[R]):
    """Accepted records with their positions in the request, and the rejections."""

    records: list[R] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    def reject(self, position: int, field_name: str, reason: str) -> None:
        self.rejected.append(Rejection(position, field_name, reason))


def decode_body(
    body: bytes, content_type: str | None, content_encoding: str | None, limits: Limits
) -> list[Any]:
    """The records in a body. Raises ``BadRequest`` (413 too large, 400 unreadable)."""
    return parse_body(inflate(body, content_encoding, limits), content_type, limits)


def inflate(body: bytes, content_encoding: str | None, limits: Limits) -> bytes:
    """The body as sent, decompressed. Raises ``BadRequest`` (413 too large, 400 unreadable, 415 unknown
    encoding)."""
    if len(body) > limits.max_body_bytes:
        raise BadRequest(413, f"body of {len(body)} bytes is over the limit", limit=limits.max_body_bytes)
    if (content_encoding or "").strip().lower() in ("gzip", "x-gzip"):
        return _gunzip(body, limits.max_body_bytes)
    if content_encoding and content_encoding.strip().lower() not in ("identity", ""):
        raise BadRequest(415, f"unsupported Content-Encoding {content_encoding!r}; send gzip or nothing")
    return body


def is_ndjson(content_type: str | None) -> bool:
    """Whether a body of ``content_type`` is NDJSON (one record a line) rather than JSON."""
    return "ndjson" in (content_type or "") or "jsonl" in (content_type or "")


def parse_body(body: bytes, content_type: str | None, limits: Limits) -> list[Any]:
    """The records in a decompressed body: a JSON array, one JSON object, or NDJSON."""
    if not body.strip():
        raise BadRequest(400, "empty body; send a JSON array of records or NDJSON")
    if is_ndjson(content_type):
        records = [_loads(line, i + 1) for i, line in enumerate(body.splitlines()) if line.strip()]
    else:
        data = _loads(body, None)
        records = data if isinstance(data, list) else [data]
    if len(records) > limits.max_records:
        raise BadRequest(
            413, f"{len(records)} records in one request is over the limit", limit=limits.max_records
        )
    return records


def check_records(records: Sequence[Any], adapter: TypeAdapter[list[R]]) -> Checked[R]:
    """Validate ``records``: one pass for the whole batch; when some fail, the others are kept."""
    out: Checked[R] = Checked()
    try:
        out.records = adapter.validate_python(records)
        out.positions = list(range(len(records)))
        return out
    except ValidationError as exc:
        bad: set[int] = set()
        for index, loc, reason in _problems(exc.errors(include_url=False)):
            bad.add(index)
            out.reject(index, _field(loc), reason)
    good = [i for i in range(len(records)) if i not in bad]
    if good:
        out.records = adapter.validate_python([records[i] for i in good])
        out.positions = good
    out.rejected.sort(key=lambda r: r.index)
    return out


_UNION_MEMBERS = frozenset(
    {"bool", "int", "float", "str", "constrained-int", "constrained-float", "constrained-str"}
)
"""How pydantic names the members of a scalar union (``Scalar``) at the end of an error's location."""


def _problems(errors: Sequence[Any]) -> list[tuple[int, tuple[Any, ...], str]]:
    """(record index, location in the record, reason) for each problem. A value that fits no member of a
    union (a feature given a list, say) is one problem, not one per member."""
    out: list[tuple[int, tuple[Any, ...], str]] = []
    unions: dict[tuple[int, tuple[Any, ...]], list[Any]] = {}
    for error in errors:
        loc = tuple(error["loc"])
        index = int(loc[0]) if loc and isinstance(loc[0], int) else 0
        where = loc[1:] if loc and isinstance(loc[0], int) else loc
        vector = next((k for k, part in enumerate(where) if str(part).startswith("list[")), None)
        if vector is not None or (len(where) > 1 and where[-1] in _UNION_MEMBERS):
            key = (index, where[:vector] if vector is not None else where[:-1])
            if key not in unions:
                unions[key] = []
                out.append((index, where[:-1], ""))
            unions[key].append(error)
        elif len(where) > 1 and where[-1] == "[key]":  # ("features", "", "[key]"): the name is at fault
            out.append((index, where[:-2], f"bad name {_shown(where[-2])}: {error['msg']}"))
        else:
            out.append((index, where, _reason(error)))
    return [(i, loc, reason or _union_reason(unions[(i, loc)])) for i, loc, reason in out]


def _union_reason(errors: list[Any]) -> str:
    value = errors[0].get("input")
    if isinstance(value, list):  # meant as an embedding: say what is wrong inside the list
        for error in errors:
            loc = [str(part) for part in error["loc"]]
            at = next((k for k, part in enumerate(loc) if part.startswith("list[")), None)
            if at is None:
                continue
            if at + 1 < len(loc):
                return f"an embedding is a list of numbers; item {loc[at + 1]}: {_reason(error)}"
            return f"an embedding is a list of 1 to {MAX_DIMENSIONS:,} numbers (got {len(value):,})"
    for error in errors:  # past the size of any number (the float member), not only of 64-bit integers
        if _limit(error) in (MAX_NUMBER, -MAX_NUMBER):
            return _reason(error)
    for kind in ("string_too_long", "finite_number", "less_than_equal", "greater_than_equal"):
        for error in errors:
            if error["type"] == kind:
                return _reason(error)
    if value is None:
        return "required: a number, a boolean or a string (got null)"
    lists = any(str(part).startswith("list[") for e in errors for part in e["loc"])
    listed = "a number, a boolean, a string, a list of numbers or null" if lists else None
    return f"expected {listed or 'a number, a boolean, a string or null'} (got {_shown(value)})"


def _limit(error: Any) -> Any:
    """The bound a ``less_than_equal`` / ``greater_than_equal`` error is about (None for others)."""
    ctx = error.get("ctx") or {}
    return ctx.get("le") if error["type"] == "less_than_equal" else ctx.get("ge")


def _field(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc) or "(record)"


def _reason(error: Any) -> str:
    kind, message, value = error["type"], error["msg"], error.get("input")
    if kind == "finite_number":
        return "NaN and infinity are not allowed; send null for a missing value"
    limit = _limit(error)
    if limit in (MAX_NUMBER, -MAX_NUMBER):
        return (
            f"{_shown(value)} is too large: numbers are limited to ±{MAX_NUMBER:g}, past which a window's "
            "statistics would overflow; send null for a missing value"
        )
    if limit == MAX_TOKENS:
        return f"{_shown(value)} tokens is more than one call holds (at most {MAX_TOKENS:,})"
    if kind == "extra_forbidden":
        return "unknown field; features go under 'features', tags under 'segments'"
    if kind == "missing":
        return "required field is missing"
    if kind == "string_too_long":
        return f"{message} (got {len(value) if isinstance(value, str) else '?'})"
    if kind == "model_type" or kind == "dict_type":
        return f"{message} (got {type(value).__name__})"
    if kind.startswith("datetime"):
        return f"{message}; send RFC 3339 (2026-11-21T10:00:00Z) or seconds since the epoch"
    return f"{message} (got {_shown(value)})"


def _shown(value: Any) -> str:
    shown = repr(value)
    return shown[:60] + "…" if len(shown) > 60 else shown


def _loads(data: bytes, line: int | None) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    try:  # the standard library reads NaN/Infinity tokens; the records carrying them are rejected later
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f"line {line}" if line is not None else f"line {getattr(exc, 'lineno', '?')}"
        raise BadRequest(400, f"malformed JSON at {where}: {getattr(exc, 'msg', exc)}") from None
    except (RecursionError, ValueError) as exc:  # nested too deep; an integer of thousands of digits
        where = f" at line {line}" if line is not None else ""
        problem = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).split(";")[0]
        raise BadRequest(400, f"unreadable JSON{where}: {problem}") from None


_GZIP_MAGIC = b"\x1f\x8b"
_PIECE = 1 << 16
"""Compressed bytes given to the inflater at a time: what it leaves over at the end of a member (and
copies) is at most this, so many small members do not cost a copy of the whole body each."""
_MAX_MEMBERS = 10_000


def _gunzip(body: bytes, limit: int) -> bytes:
    """Every member of a gzip body (``cat a.gz b.gz`` is one body of two), at most ``limit`` bytes of
    output in all, however many members there are; anything after the last member is refused."""
    out: list[bytes] = []
    size = offset = 0
    view = memoryview(body)
    for member in range(1, _MAX_MEMBERS + 1):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        while not inflater.eof:
            if offset == len(body):  # a cut-off stream inflates without complaint: say so, use none of it
                raise BadRequest(400, "body is not valid gzip: the stream is truncated")
            piece = view[offset : offset + _PIECE]
            offset += len(piece)
            try:
                chunk = inflater.decompress(piece, limit + 1 - size)
            except zlib.error as exc:
                where = f" (member {member})" if member > 1 else ""
                raise BadRequest(400, f"body is not valid gzip{where}: {exc}") from None
            size += len(chunk)
            if size > limit:  # also when output stopped at the bound with input left (unconsumed_tail)
                raise BadRequest(413, "decompressed body is over the limit", limit=limit)
            out.append(chunk)
        offset -= len(inflater.unused_data)
        if offset == len(body):
            return b"".join(out)
        if body[offset : offset + 2] != _GZIP_MAGIC:
            raise BadRequest(
                400,
                f"body has {len(body) - offset} byte(s) after the end of its gzip data (from byte {offset}) "
                "that are not gzip: send the compressed stream alone",
            )
    raise BadRequest(400, f"body has more than {_MAX_MEMBERS:,} gzip members: compress it as one stream")
