"""Delivery results and retries: exponential backoff with jitter, on an injectable sleep, clock and rng.

Retried: connect errors, timeouts and other network errors, HTTP 429 and 5xx (honouring ``Retry-After``
in seconds, capped at ``max_delay``). Not retried: other 4xx, bad URLs, anything else.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import httpx
import orjson

__all__ = ["Attempt", "Delivery", "DeliveryStatus", "RetryPolicy", "http_attempt", "post_json", "run"]


class DeliveryStatus(StrEnum):
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"  # already sent, per the notification log


@dataclass(frozen=True)
class Delivery:
    """The outcome of sending one notification to one receiver."""

    status: DeliveryStatus
    attempts: int
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not DeliveryStatus.FAILED


@dataclass(frozen=True)
class Attempt:
    """One try: success, or an error saying whether a retry may help (and how long the peer asked)."""

    ok: bool
    retryable: bool = False
    error: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """Delay before retry ``n`` (1-based) is ``min(max_delay, initial_delay * multiplier**(n-1))``, times
    a factor drawn uniformly from ``[1 - jitter, 1]``. At most ``max_attempts`` tries; no retry starts
    once ``max_elapsed`` seconds (by ``clock``) would be exceeded."""

    max_attempts: int = 5
    initial_delay: float = 0.5
    multiplier: float = 2.0
    max_delay: float = 30.0
    jitter: float = 0.5
    max_elapsed: float = 120.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)
    rng: Callable[[], float] = field(default=random.random, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"RetryPolicy.max_attempts must be >= 1, got {self.max_attempts!r}")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"RetryPolicy.jitter must be in [0, 1], got {self.jitter!r}")
        if self.initial_delay < 0 or self.max_delay < 0 or self.multiplier < 1:
            raise ValueError("RetryPolicy delays must be >= 0 and multiplier >= 1")

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1 = the second try)."""
        base = min(self.max_delay, self.initial_delay * self.multiplier ** (retry - 1))
        wait = base * (1.0 - self.jitter * self.rng())
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_delay))
        return wait


def run(attempt: Callable[[], Attempt], policy: RetryPolicy) -> Delivery:
    """Call ``attempt`` until it succeeds, fails for good, or the policy runs out."""
    start = policy.clock()
    tries = 0
    while True:
        tries += 1
        result = attempt()
        if result.ok:
            return Delivery(DeliveryStatus.SENT, tries)
        if not result.retryable or tries >= policy.max_attempts:
            return Delivery(DeliveryStatus.FAILED, tries, result.error)
        wait = policy.delay(tries, result.retry_after)
        if policy.clock() - start + wait > policy.max_elapsed:
            return Delivery(DeliveryStatus.FAILED, tries, f"{result.error} (gave up: max_elapsed)")
        policy.sleep(wait)


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def http_attempt(send: Callable[[], httpx.Response]) -> Attempt:
    """Classify one HTTP exchange: 2xx ok; 429/5xx and network errors retryable; the rest final."""
    try:
        response = send()
    except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
        return Attempt(False, True, f"{type(exc).__name__}: {exc}")
    except httpx.HTTPError as exc:
        return Attempt(False, False, f"{type(exc).__name__}: {exc}")
    code = response.status_code
    if 200 <= code < 300:
        return Attempt(True)
    error = f"HTTP {code}: {response.text[:200]}"
    if code == 429 or code >= 500:
        return Attempt(False, True, error, _retry_after(response))
    return Attempt(False, False, error)


def post_json(
    url: str,
    body: Any,
    *,
    client: httpx.Client | None,
    timeout: float,
    policy: RetryPolicy,
    headers: dict[str, str] | None = None,
) -> Delivery:
    """POST ``body`` as JSON to ``url`` with retries; uses ``client`` if given, else a fresh one."""
    content = orjson.dumps(body)
    all_headers = {"Content-Type": "application/json", "User-Agent": "vigil-alerting", **(headers or {})}

    def exchange(c: httpx.Client) -> Delivery:
        return run(lambda: http_attempt(lambda: c.post(url, content=content, headers=all_headers)), policy)

    if client is not None:
        return exchange(client)
    with httpx.Client(timeout=timeout) as own:
        return exchange(own)
