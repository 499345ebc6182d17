"""The identity of an alert: a stable fingerprint of its label set.

Two alerts with the same labels are the same alert (Alertmanager deduplicates on labels); annotations,
values and times take no part.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

__all__ = ["Labels", "fingerprint"]

Labels = Mapping[str, str]

# 0xff never occurs in UTF-8, so it separates names and values without ambiguity (as Prometheus does).
_SEP = b"\xff"


def fingerprint(labels: Labels) -> str:
    """Hex SHA-256 over the label pairs sorted by name; independent of insertion order.

    >>> fingerprint({"b": "2", "a": "1"}) == fingerprint({"a": "1", "b": "2"})
    True
    >>> len(fingerprint({}))
    64
    """
    digest = hashlib.sha256()
    for name, value in sorted(labels.items()):
        digest.update(name.encode())
        digest.update(_SEP)
        digest.update(value.encode())
        digest.update(_SEP)
    return digest.hexdigest()
