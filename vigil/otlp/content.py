"""Prompts and completions, wherever an instrumentation puts them, as two texts: the event's prompt
(feature ``prompt``) and completion (its ``prediction``).

Read from a span's attributes, first found wins:

* input: the GenAI conventions' ``gen_ai.system_instructions`` + ``gen_ai.input.messages`` (current),
  ``gen_ai.prompt`` (previous, also from a ``gen_ai.content.prompt`` span event), OpenLLMetry's indexed
  ``gen_ai.prompt.<i>.role``/``.content``, OpenInference's ``llm.input_messages.<i>.message.role``/
  ``.content``, else its ``input.value``;
* output: ``gen_ai.output.messages``, ``gen_ai.completion``, ``gen_ai.completion.<i>.content``,
  ``llm.output_messages.<i>.message.content``, ``output.value``.

And from log records (``POST /v1/logs``) joined to their span by trace and span id: the previous
conventions' events ``gen_ai.system.message``, ``gen_ai.user.message``, ``gen_ai.assistant.message`` and
``gen_ai.tool.message`` (the conversation sent: input) and ``gen_ai.choice`` (output), and the current
``gen_ai.client.inference.operation.details`` (the same attributes as a span's).

Messages are written one per line as ``role: text``; a tool call as ``[tool call NAME(ARGUMENTS)]``, a
tool's answer as ``[tool response: ...]``. A text that is not a message list (``input.value``, a plain
``gen_ai.prompt``) is kept as sent. Texts are cut to ``MAX_TEXT`` characters (the event schema's limit).
Scrubbing is the caller's: this layer cannot see the model's redaction settings.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = ["CONTENT_EVENTS", "MAX_TEXT", "Content", "Pending", "from_event", "from_span"]

MAX_TEXT = 65_536
"""Longest text kept (``vigil.schema.MAX_STRING``); a longer one is cut, its end marked ``…``."""

_INPUT_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
DETAILS = "gen_ai.client.inference.operation.details"
CONTENT_EVENTS = frozenset({*_INPUT_EVENTS, "gen_ai.choice", DETAILS})
"""The log events that carry an LLM call's content."""

_INDEXED_PREFIXES = ("gen_ai.prompt.", "gen_ai.completion.", "llm.input_messages.", "llm.output_messages.")
_INDEXED = (
    re.compile(r"gen_ai\.(prompt|completion)\.(\d+)\.(role|content)$"),
    re.compile(r"llm\.(input|output)_messages\.(\d+)\.message\.(role|content)$"),
)


@dataclass
class Content:
    """The prompt and completion of one LLM call (None when not sent)."""

    prompt: str | None = None
    completion: str | None = None

    def __bool__(self) -> bool:
        return self.prompt is not None or self.completion is not None


def from_span(attributes: Mapping[str, Any]) -> Content:
    """The prompt and completion in a span's (or a details event's) attributes."""
    system = _messages(attributes.get("gen_ai.system_instructions"), "system")
    prompt = _messages(attributes.get("gen_ai.input.messages"))
    if prompt is not None and system is not None:
        prompt = system + "\n" + prompt
    prompt = prompt or system or _plain(attributes.get("gen_ai.prompt"))
    completion = _messages(attributes.get("gen_ai.output.messages")) or _plain(
        attributes.get("gen_ai.completion")
    )
    if (prompt is None or completion is None) and any(k.startswith(_INDEXED_PREFIXES) for k in attributes):
        indexed = _indexed(attributes)
        prompt = prompt or indexed.prompt
        completion = completion or indexed.completion
    prompt = prompt or _plain(attributes.get("input.value"))
    completion = completion or _plain(attributes.get("output.value"))
    return Content(_cut(prompt), _cut(completion))


def from_event(name: str, body: Any, attributes: Mapping[str, Any]) -> Content:
    """The content a log event (one of ``CONTENT_EVENTS``) carries: a line of the prompt or completion."""
    if name == DETAILS:
        merged = {**body, **attributes} if isinstance(body, Mapping) else attributes
        return from_span(merged)
    fields = body if isinstance(body, Mapping) else {"content": body}
    if name == "gen_ai.choice":
        message = fields.get("message")
        message = message if isinstance(message, Mapping) else fields
        return Content(completion=_cut(_message(message, "assistant")))
    role = _INPUT_EVENTS[name]
    return Content(prompt=_cut(_message(fields, str(fields.get("role") or role))))


def _indexed(attributes: Mapping[str, Any]) -> Content:
    """OpenLLMetry's and OpenInference's flattened messages (``gen_ai.prompt.0.content``...)."""
    found: dict[str, dict[int, dict[str, Any]]] = {"input": {}, "output": {}}
    for key, v in attributes.items():
        for pattern in _INDEXED:
            m = pattern.match(key)
            if m:
                side = "input" if m.group(1) in ("prompt", "input") else "output"
                found[side].setdefault(int(m.group(2)), {})[m.group(3)] = v
    texts = [
        "\n".join(
            _message(msg, "assistant" if side == "output" else "user")
            for _, msg in sorted(found[side].items())
        )
        or None
        for side in ("input", "output")
    ]
    return Content(texts[0], texts[1])


def _messages(found: Any, role: str | None = None) -> str | None:
    """GenAI conventions' messages (a JSON string or structured): one ``role: text`` line each. ``role``
    given: a list of parts (the system instructions), not of messages."""
    if found is None or found == "" or found == []:
        return None
    if isinstance(found, str | bytes):
        try:
            found = orjson.loads(found)
        except orjson.JSONDecodeError:
            return found if isinstance(found, str) else None
    if isinstance(found, Mapping):
        found = [found]
    if not isinstance(found, list):
        return _plain(found)
    if role is not None:
        return _message({"role": role, "parts": found}, role)
    return "\n".join(_message(m, "user") for m in found if isinstance(m, Mapping)) or None


def _message(message: Mapping[str, Any], role: str) -> str:
    """One message as ``role: text``: its ``parts`` (current conventions) or ``content`` and
    ``tool_calls`` (previous ones, and OpenAI's form)."""
    pieces = []
    parts = message.get("parts")
    if isinstance(parts, list):
        pieces += [_part(p) for p in parts if isinstance(p, Mapping)]
    content = message.get("content")
    if isinstance(content, list):  # OpenAI's content parts
        pieces += [_part(p) for p in content if isinstance(p, Mapping)]
    elif content is not None and content != "":
        pieces.append(_plain(content) or "")
    for call in message.get("tool_calls") or ():
        if isinstance(call, Mapping):
            fn = call.get("function")
            fn = fn if isinstance(fn, Mapping) else call
            pieces.append(_call(fn.get("name"), fn.get("arguments")))
    return f"{message.get('role') or role}: " + " ".join(p for p in pieces if p)


def _part(part: Mapping[str, Any]) -> str:
    kind = part.get("type")
    if kind == "tool_call":
        return _call(part.get("name"), part.get("arguments"))
    if kind == "tool_call_response":
        return f"[tool response: {_plain(part.get('response')) or ''}]"
    text = part.get("content", part.get("text"))
    return _plain(text) or (f"[{kind}]" if kind and kind != "text" else "")


def _call(name: Any, arguments: Any) -> str:
    return f"[tool call {name or '?'}({_plain(arguments) or ''})]"


def _plain(found: Any) -> str | None:
    """A text as sent; anything else as JSON."""
    if found is None or found == "":
        return None
    if isinstance(found, str):
        return found
    if isinstance(found, bytes):
        return found.decode("utf-8", "replace")
    try:
        return orjson.dumps(found).decode()
    except TypeError:
        return str(found)


def _cut(text: str | None) -> str | None:
    return text if text is None or len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


@dataclass
class _Held:
    prompt: list[str] = field(default_factory=list)
    completion: list[str] = field(default_factory=list)
    since: float = 0.0
    size: int = 0
    records: set[Hashable] = field(default_factory=set)
    """The records held (a log export retried after a lost answer sends them again)."""


class Pending:
    """Content from log records waiting for its span: by (trace id, span id), for ``ttl`` seconds, at most
    ``budget`` characters in all (the oldest dropped first); the last ``spans`` ingested LLM spans are
    remembered as long, to tell late content. Thread-safe.

    OpenTelemetry's SDK emits a call's content events while the span is open and exports its logs sooner
    than its spans (batch delays 1 s and 5 s by default), so the content is usually here before the span.
    Content that arrives after its span was ingested finds nothing to join here (``late``); it is in the
    store all the same (``POST /v1/logs`` stores every content record, scrubbed), where the drill-down
    finds it, as it finds content whose span reached another server process.
    """

    def __init__(
        self,
        ttl: float = 120.0,
        budget: int = 32_000_000,
        spans: int = 1_000_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl, self.budget, self.spans, self._clock = ttl, budget, spans, clock
        self._held: OrderedDict[tuple[str, str], _Held] = OrderedDict()
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def hold(self, trace_id: str, span_id: str, content: Content, record: Hashable = None) -> bool:
        """Keep ``content`` for the span; False when that span was ingested already (late content).
        ``record`` identifies the log record (its time and event name): one held already is not
        added again."""
        key = (trace_id, span_id)
        now = self._clock()
        with self._lock:
            self._expire(now)
            if key in self._seen:
                return False
            held = self._held.get(key)
            if held is None:
                held = self._held[key] = _Held(since=now)
            if record is not None:
                if record in held.records:
                    return True
                held.records.add(record)
            added = 0
            for text, into in ((content.prompt, held.prompt), (content.completion, held.completion)):
                if text is not None:
                    into.append(text)
                    added += len(text)
            held.size += added
            self._size += added
            while self._size > self.budget and self._held:
                self._size -= self._held.popitem(last=False)[1].size
            return True

    def peek(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Content]:
        """The content held for these spans, left held: ``done`` forgets it once their events are stored
        (a refused export is retried, and must find it again)."""
        out = {}
        with self._lock:
            self._expire(self._clock())
            for key in keys:
                held = self._held.get(key)
                if held is not None:
                    out[key] = Content(
                        _cut("\n".join(held.prompt)) if held.prompt else None,
                        _cut("\n".join(held.completion)) if held.completion else None,
                    )
        return out

    def done(self, keys: Iterable[tuple[str, str]]) -> None:
        """These spans' events are stored: their content forgotten, and each marked ingested for ``ttl``
        (content arriving for it later is late)."""
        now = self._clock()
        with self._lock:
            for key in keys:
                self._seen[key] = now
                self._seen.move_to_end(key)
                if len(self._seen) > self.spans:
                    self._seen.popitem(last=False)
                held = self._held.pop(key, None)
                if held is not None:
                    self._size -= held.size

    def __len__(self) -> int:
        return len(self._held)

    def _expire(self, now: float) -> None:
        while self._held:
            key, held = next(iter(self._held.items()))
            if now - held.since <= self.ttl:
                break
            self._size -= self._held.pop(key).size
        while self._seen and now - next(iter(self._seen.values())) > self.ttl:
            self._seen.popitem(last=False)
