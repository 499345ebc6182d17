"""What the three OTLP signals share on the wire: the two encodings, attribute values read from either
(``AnyValue`` in protobuf, its OTLP/JSON form), ids, and the export answer with its partial success.

OTLP/JSON differs from protobuf's own JSON mapping in ways that matter here: trace and span ids are hex
strings, not base64 (the specification's "JSON Protobuf Encoding"), and int64 values may be strings.
Unknown fields are ignored, as the specification asks of receivers.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from vigil.errors import InputError

__all__ = ["JSON", "PROTOBUF", "answer", "hex_id", "json_attributes", "json_value", "parse", "read", "value"]

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

M = TypeVar("M", bound=Message)
T = TypeVar("T")


def parse(body: bytes, content_type: str, message: type[Message]) -> Message | dict[str, Any]:
    """``body`` as a ``message`` (protobuf) or as the OTLP/JSON object (read as JSON directly: protobuf's
    JSON parser is 40 times slower). Raises ``InputError`` for a body that is neither (answered 400)."""
    name = message.DESCRIPTOR.name
    if content_type == PROTOBUF:
        request = message()
        try:
            request.ParseFromString(body)
        except DecodeError as exc:
            raise InputError(f"the body is not an OTLP {name} in protobuf: {exc}") from None
        return request
    try:
        data = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise InputError(f"the body is not an OTLP {name} in OTLP/JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"the body is not an OTLP {name} in OTLP/JSON: a JSON {type(data).__name__}")
    return data


def read(
    body: bytes,
    content_type: str,
    message: type[M],
    from_protobuf: Callable[[M], Iterable[T]],
    from_json: Callable[[Mapping[str, Any]], Iterable[T]],
) -> list[T]:
    """The items of the export request in ``body``, read by ``from_protobuf`` or ``from_json`` as it
    came. Raises ``InputError`` for a body that is not one (answered 400)."""
    request = parse(body, content_type, message)
    if isinstance(request, message):
        return list(from_protobuf(request))
    try:
        return list(from_json(request))  # type: ignore[arg-type]
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        name = message.DESCRIPTOR.name
        raise InputError(f"the body is not an OTLP {name} in OTLP/JSON: {exc}") from None


def value(found: Any) -> Any:
    """A protobuf ``AnyValue`` as Python: arrays as lists, key-value lists as dicts, None when unset."""
    kind = found.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [value(v) for v in found.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: value(kv.value) for kv in found.kvlist_value.values}
    return getattr(found, kind)


def json_attributes(values: Any) -> dict[str, Any]:
    """OTLP/JSON ``attributes`` (a list of ``{"key", "value"}``) as a dict."""
    return {kv["key"]: json_value(kv.get("value") or {}) for kv in values or ()}


def json_value(found: Mapping[str, Any]) -> Any:
    """An OTLP/JSON ``AnyValue``: int64 may come as a string; bytes are base64."""
    for kind, item in found.items():
        if kind == "intValue":
            return int(item)
        if kind == "doubleValue":
            return float(item)
        if kind == "arrayValue":
            return [json_value(v) for v in item.get("values") or ()]
        if kind == "kvlistValue":
            return json_attributes(item.get("values"))
        if kind == "bytesValue":
            return base64.b64decode(item)
        return item  # stringValue, boolValue
    return None


def hex_id(text: Any) -> str:
    """An OTLP/JSON trace or span id, lower-case hex ("" when absent); a ValueError for what is not hex."""
    if text is None or text == "":
        return ""
    try:
        return bytes.fromhex(text).hex()
    except (ValueError, TypeError):
        raise ValueError(f"trace and span ids are hex in OTLP/JSON; got {text!r}") from None


def answer(
    response: type[Message], field: str, rejected: int, message: str, content_type: str
) -> tuple[bytes, str]:
    """The body of a successful export's answer (``response``), with ``partial_success`` when some items
    were rejected (``field``: ``rejected_spans``, ``rejected_log_records``...), in the request's encoding."""
    out = response()
    if rejected:
        partial = out.partial_success  # type: ignore[attr-defined]
        setattr(partial, field, rejected)
        partial.error_message = message
    if content_type == PROTOBUF:
        return out.SerializeToString(), PROTOBUF
    return json_format.MessageToJson(out, indent=None).encode(), JSON
