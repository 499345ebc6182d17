"""Test doubles shared across the suite."""

from __future__ import annotations


class FakeClock:
    """A clock the test moves by hand: call it for the time (seconds), set ``now`` to move it."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
