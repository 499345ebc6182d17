"""The binary form of a detector: ``b"VGCD"``, a format version, then :func:`vigil.stats.codec.pack`'s
layout (a JSON header naming the detector, its settings and scalar state, then its arrays)."""

from __future__ import annotations

from vigil.detectors.base import Detector
from vigil.errors import InputError
from vigil.stats.codec import pack, unpack

__all__ = ["FORMAT_VERSION", "MAGIC", "dump", "load"]

MAGIC = b"VGCD"
FORMAT_VERSION = 1


def _kinds() -> dict[str, type[Detector]]:
    from vigil.detectors.adwin import ADWIN
    from vigil.detectors.cusum import CUSUM
    from vigil.detectors.page_hinkley import PageHinkley

    return {k.NAME: k for k in (ADWIN, PageHinkley, CUSUM)}


def dump(detector: Detector) -> bytes:
    """The bytes of ``detector`` (any kind in this package)."""
    header, arrays = detector.state()
    return pack(MAGIC, FORMAT_VERSION, {"kind": detector.NAME, **header}, arrays)


def load(data: bytes) -> Detector:
    """The detector :func:`dump` wrote; raises ``InputError`` for other bytes or a newer format."""
    header, arrays, _ = unpack(MAGIC, FORMAT_VERSION, data, "change detector")
    kind = _kinds().get(header.get("kind", ""))
    if kind is None:
        raise InputError(f"unknown change detector {header.get('kind')!r} (known: {', '.join(_kinds())})")
    return kind.from_state(header, arrays)
