"""The broker seam: ``vigil serve --broker`` publishes accepted batches to a stream, and ``vigil worker``
processes fold them into windows. Two small protocols, ``Publisher`` and ``Consumer``, so that another
broker (Kafka) can follow through the same seam; NATS JetStream is the one shipped (``vigil.broker.nats``).

What a broker must give for Vigil's guarantees:

* ``publish`` returns only once the broker holds the message durably, and a message id seen in the
  broker's duplicate window is stored once (the server's answer is sent after it: acknowledged means kept);
* a message keeps what it was published with: the model, and the client's idempotency key (``Keyed``),
  which the worker records with the windows so that a retry published after the duplicate window is
  still folded once;
* every message carries a stream sequence number, increasing, the same on each redelivery;
* a message not acknowledged by a consumer is delivered again (to any consumer of the group);
* ``publish`` raises ``Refused`` when the broker will not take a message now (full, down): the server
  answers 503 with Retry-After, and nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["Consumer", "Keyed", "Lag", "Message", "Publisher", "Refused"]


class Refused(Exception):
    """The broker would not take the message now; ``retry_after`` seconds is a fair wait."""

    def __init__(self, reason: str, retry_after: float = 1.0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True)
class Lag:
    """How far the workers are behind, as the broker counts it."""

    pending: int
    """Messages in the stream not yet delivered to any worker."""
    ack_pending: int
    """Messages delivered and not acknowledged yet (being folded, or their worker died)."""
    redelivered: int
    """Messages delivered more than once and not acknowledged yet."""
    stream_messages: int
    """Messages the stream holds (at most its limit)."""
    stream_bytes: int
    """Bytes the stream holds (at most its limit)."""

    @property
    def behind(self) -> int:
        """Messages published and not acknowledged: what the back-pressure limit compares."""
        return self.pending + self.ack_pending


@dataclass(frozen=True)
class Keyed:
    """The client's ``Idempotency-Key`` a batch came with, published with it: what the worker that folds it
    records (in ``ingest_keys``, as the direct path does), so that a retry is folded once however late."""

    key: str
    digest: bytes | None
    """A hash of the request's body (the same key with another body is not a retry)."""
    received_at: float
    """When the server accepted the request (the key is forgotten with the model's predictions)."""

    def msg_id(self, model: str) -> str:
        """The broker's message id of the model's part: a retry within the duplicate window is stored once.

        >>> Keyed("file-1/chunk-0", bytes(range(20)), 0.0).msg_id("m")
        'file-1/chunk-0:m:000102030405060708090a0b0c0d0e0f'
        """
        return f"{self.key}:{model}:{(self.digest or b'').hex()[:32]}"


@dataclass(frozen=True)
class Message:
    """One delivered batch: a model's events as Arrow IPC (``vigil.events.from_ipc`` reads it)."""

    seq: int
    """Its stream sequence number: the same on every delivery."""
    deliveries: int
    """How many times it was delivered (1: the first)."""
    model: str
    payload: bytes
    handle: object = None
    """The broker's own message, for acknowledging it."""
    keyed: Keyed | None = None
    """The idempotency key it was published with, if any."""


@runtime_checkable
class Publisher(Protocol):
    """The server's side."""

    stream: str

    def publish(self, model: str, payload: bytes, keyed: Keyed | None = None) -> int:
        """Store one batch durably, with ``keyed``; returns its stream sequence number (the first one's for
        a duplicate ``keyed.msg_id`` within the duplicate window). Raises ``Refused`` when the broker will
        not take it now."""
        ...

    def lag(self) -> Lag | None:
        """The consumer group's lag as last read (every second or so); None before the first read."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class Consumer(Protocol):
    """A worker's side: one member of the durable consumer group."""

    stream: str

    def fetch(self, batch: int, timeout: float) -> list[Message]:
        """Up to ``batch`` messages, waiting at most ``timeout`` seconds for the first; [] when none."""
        ...

    def ack(self, messages: Sequence[Message]) -> None:
        """Acknowledge: never delivered again."""
        ...

    def nak(self, messages: Sequence[Message], delay: float) -> None:
        """Deliver again in ``delay`` seconds (a message that cannot be folded now)."""
        ...

    def first_seq(self) -> int:
        """The lowest sequence number the stream still holds: anything below is never redelivered."""
        ...

    def close(self) -> None: ...
