"""The binary form of profiles: the only module that serialises.

Layout: ``b"VGLP"``, one byte of format version, then zlib of (4-byte header length, a JSON header, the
raw little-endian bytes of every array). The header holds scalars and, for each array, its dtype, shape and
offset. Bucket arrays are fixed-size and mostly zero, so the size depends on the number of columns and
categories, never on the number of rows. Reading an unknown version fails with a clear message.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from vigil.errors import InputError
from vigil.sketches.distinct import HyperLogLog
from vigil.sketches.frequent import FrequentItems
from vigil.sketches.quantiles import QuantileSketch
from vigil.stats.column import CategoricalProfile, ColumnProfile, NumericProfile
from vigil.stats.moments import Moments

__all__ = ["FORMAT_VERSION", "MAGIC", "ProfileParts", "dump_profile", "load_profile", "pack", "unpack"]

MAGIC = b"VGLP"
FORMAT_VERSION = 1


class _Arrays:
    """Collects arrays while the header is built; reads them back when it is parsed."""

    def __init__(self, blob: bytes = b"") -> None:
        self.parts: list[bytes] = []
        self.offset = 0
        self.blob = blob

    def put(self, a: np.ndarray[Any, Any]) -> dict[str, Any]:
        a = np.ascontiguousarray(a)
        data = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        ref = {"dtype": a.dtype.str.lstrip("<>|="), "shape": list(a.shape), "at": self.offset}
        self.parts.append(data)
        self.offset += len(data)
        return ref

    def get(self, ref: dict[str, Any]) -> np.ndarray[Any, Any]:
        dtype = np.dtype("<" + ref["dtype"]) if ref["dtype"][0] in "iuf" else np.dtype(ref["dtype"])
        count = int(np.prod(ref["shape"]))
        return (
            np.frombuffer(self.blob, dtype=dtype, count=count, offset=ref["at"]).reshape(ref["shape"]).copy()
        )


@dataclass(frozen=True)
class ProfileParts:
    """What a profile is made of, as the codec reads and writes it (``Profile`` builds itself from these)."""

    rows: int
    columns: Mapping[str, ColumnProfile]
    types: Mapping[str, str]
    duplicate_rows: int
    skipped: Mapping[str, str]


def dump_profile(p: ProfileParts) -> bytes:
    """The binary form of a profile (``Profile.to_bytes``)."""
    arrays = _Arrays()
    header = {
        "rows": p.rows,
        "duplicate_rows": p.duplicate_rows,
        "types": p.types,
        "skipped": p.skipped,
        "columns": {name: _dump_column(col, arrays) for name, col in p.columns.items()},
    }
    head = json.dumps(header, separators=(",", ":"), allow_nan=True).encode()
    body = struct.pack("<I", len(head)) + head + b"".join(arrays.parts)
    return MAGIC + bytes([FORMAT_VERSION]) + zlib.compress(body, 6)


def load_profile(data: bytes) -> ProfileParts:
    """Read what ``dump_profile`` wrote; a foreign, newer or damaged blob raises ``InputError``."""
    if data[:4] != MAGIC:
        raise InputError("not a Vigil profile (the file does not start with VGLP)")
    if data[4] != FORMAT_VERSION:
        raise InputError(
            f"profile format version {data[4]} is not readable by this Vigil "
            f"(it reads version {FORMAT_VERSION}); upgrade Vigil or re-create the profile"
        )
    try:
        body = zlib.decompress(data[5:])
    except zlib.error as exc:
        raise InputError(f"the profile is damaged: {exc}") from exc
    (n,) = struct.unpack_from("<I", body)
    header = json.loads(body[4 : 4 + n])
    arrays = _Arrays(body[4 + n :])
    return ProfileParts(
        rows=header["rows"],
        columns={name: _load_column(c, arrays) for name, c in header["columns"].items()},
        types=header["types"],
        duplicate_rows=header["duplicate_rows"],
        skipped=header["skipped"],
    )


def _dump_column(col: ColumnProfile, arrays: _Arrays) -> dict[str, Any]:
    common = {
        "kind": col.kind,
        "rows": col.rows,
        "nulls": col.nulls,
        "hll": arrays.put(col.distinct.registers),
    }
    if isinstance(col, CategoricalProfile):
        return common | {"top": _dump_items(col.top)}
    s, m = col.sketch, col.moments
    return common | {
        "non_finite": col.non_finite,
        "type_mismatches": col.type_mismatches,
        "moments": [m.count, m.mean, m.m2, m.min, m.max],
        "sketch": {
            "alpha": s.alpha,
            "centre": s.centre,
            "scale": s.scale,
            "zero": s.zero,
            "min": s.min,
            "max": s.max,
            "positive": arrays.put(s.positive),
            "negative": arrays.put(s.negative),
        },
        "values": None if col.values is None else _dump_items(col.values),
    }


def _load_column(c: dict[str, Any], arrays: _Arrays) -> ColumnProfile:
    hll = HyperLogLog(p=int(np.log2(np.prod(c["hll"]["shape"]))), registers=arrays.get(c["hll"]))
    if c["kind"] == "categorical":
        return CategoricalProfile(rows=c["rows"], nulls=c["nulls"], top=_load_items(c["top"]), distinct=hll)
    s = c["sketch"]
    sketch = QuantileSketch(
        alpha=s["alpha"],
        centre=s["centre"],
        scale=s["scale"],
        positive=arrays.get(s["positive"]),
        negative=arrays.get(s["negative"]),
        zero=s["zero"],
        min=s["min"],
        max=s["max"],
    )
    return NumericProfile(
        sketch=sketch,
        kind=c["kind"],
        rows=c["rows"],
        nulls=c["nulls"],
        non_finite=c["non_finite"],
        type_mismatches=c["type_mismatches"],
        moments=Moments(*c["moments"]),
        distinct=hll,
        values=None if c["values"] is None else _load_items(c["values"]),
    )


def _dump_items(f: FrequentItems[Any]) -> dict[str, Any]:
    return {
        "capacity": f.capacity,
        "other": f.other,
        "keys": list(f.counts),
        "counts": list(f.counts.values()),
    }


def _load_items(d: dict[str, Any]) -> FrequentItems[Any]:
    return FrequentItems(
        capacity=d["capacity"], counts=dict(zip(d["keys"], d["counts"], strict=True)), other=d["other"]
    )


def pack(magic: bytes, version: int, header: dict[str, Any], arrays: list[np.ndarray[Any, Any]]) -> bytes:
    """The same layout for any object: ``magic``, a version byte, zlib(header JSON + raw arrays)."""
    parts = _Arrays()
    refs = [parts.put(a) for a in arrays]
    head = json.dumps({"header": header, "arrays": refs}, separators=(",", ":"), allow_nan=True).encode()
    body = struct.pack("<I", len(head)) + head + b"".join(parts.parts)
    return magic + bytes([version]) + zlib.compress(body, 1)


def unpack(
    magic: bytes, version: int, data: bytes, what: str
) -> tuple[dict[str, Any], list[np.ndarray[Any, Any]]]:
    """Read what ``pack`` wrote; a wrong magic or version raises ``InputError`` naming ``what``."""
    if data[: len(magic)] != magic:
        raise InputError(f"not a Vigil {what}")
    if data[len(magic)] != version:
        raise InputError(
            f"{what} format version {data[len(magic)]} is not readable (reads version {version})"
        )
    body = zlib.decompress(data[len(magic) + 1 :])
    (n,) = struct.unpack_from("<I", body)
    doc = json.loads(body[4 : 4 + n])
    blob = _Arrays(body[4 + n :])
    return doc["header"], [blob.get(ref) for ref in doc["arrays"]]
