"""Segment selectors: which predictions of a model a per-segment metric reads (``region=eu,tier=gold``).

The prediction log keeps each prediction's segment tags; a selector keeps the predictions whose tags include
every ``key=value`` it gives, values compared as text (``True`` is ``"1"``, ``3.0`` is ``"3"``).
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["Segment", "parse_segment", "segment_text", "tag_text"]

Segment = Mapping[str, str]
"""A segment selector: every ``tag: value`` must match (``{"region": "eu"}``)."""


def parse_segment(value: object) -> dict[str, str]:
    """A segment selector from ``"region=eu"`` / ``"region=eu,tier=gold"`` or a mapping ``{region: eu}``
    (values as text, see the module docstring). Raises ValueError saying what is wrong.

    >>> parse_segment("region=eu, tier=gold"), parse_segment({"tier": 1})
    ({'region': 'eu', 'tier': 'gold'}, {'tier': '1'})
    """
    if isinstance(value, str):
        pairs: list[tuple[object, object]] = []
        for part in value.split(","):
            key, sep, val = part.partition("=")
            if not sep:
                raise ValueError(f"segment {value!r}: {part.strip()!r} is not key=value")
            pairs.append((key.strip(), val.strip()))
    elif isinstance(value, Mapping):
        pairs = list(value.items())
    else:
        raise ValueError(f"a segment is 'key=value' or a mapping, not {value!r}")
    out: dict[str, str] = {}
    for tag, given in pairs:
        if not isinstance(tag, str) or not tag or given is None or isinstance(given, Mapping | list):
            raise ValueError(f"segment {value!r}: each tag needs a name and a plain value")
        text = tag_text(given)
        if not text:
            raise ValueError(f"segment {value!r}: tag {tag!r} has an empty value")
        out[tag] = text
    if not out:
        raise ValueError("a segment selector needs at least one key=value")
    return dict(sorted(out.items()))


def segment_text(segment: Segment) -> str:
    """The canonical text of a selector: ``key=value`` pairs sorted by key, comma-separated."""
    return ",".join(f"{k}={v}" for k, v in sorted(segment.items()))


def tag_text(value: object) -> str:
    """A tag value as the selector compares it: booleans as ``1``/``0``, whole floats without ``.0``."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
