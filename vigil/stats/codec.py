"""The binary form of profiles: the only module that serialises.

Layout: ``b"VGLP"``, one byte of format version, then zlib of (4-byte header length, a JSON header, the
raw little-endian bytes of every array). The header holds scalars and, for each array, its dtype, shape and
offset. Bucket arrays are fixed-size and mostly zero, so the size depends on the number of columns and
categories, never on the number of rows. Reading an unknown version fails with a clear message.

Since version 2 an integer array that is mostly zero (sketch buckets, HyperLogLog registers of a small
window) is written sparse: the positions of its non-zero entries (``uint32``) then their values, its
reference saying how many (``nonzero``). A window's profile then unpacks some 10x faster (zlib no longer
inflates hundreds of KB of zeros). Version 1 is still read.
"""

from __future__ import annotations

import functools
import json
import math
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from vigil.errors import InputError
from vigil.sketches.distinct import HyperLogLog
from vigil.sketches.frequent import FrequentItems
from vigil.sketches.quantiles import QuantileSketch
from vigil.stats.column import CategoricalProfile, ColumnProfile, NumericProfile
from vigil.stats.moments import Moments
from vigil.stats.vectors import VectorProfile

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "ProfileParts",
    "dump_profile",
    "load_profile",
    "loads",
    "moments",
    "number",
    "pack",
    "unpack",
]

MAGIC = b"VGLP"
FORMAT_VERSION = 2
_SPARSE_FROM = 256
"""Integer arrays at least this long are written sparse when that takes under half their dense size."""


class _Arrays:
    """Collects arrays while the header is built; reads them back when it is parsed."""

    def __init__(self, blob: bytes = b"") -> None:
        self.parts: list[bytes] = []
        self.offset = 0
        self.blob = blob

    def put(self, a: np.ndarray[Any, Any]) -> dict[str, Any]:
        a = np.ascontiguousarray(a)
        little = a.dtype.newbyteorder("<")
        ref: dict[str, Any] = {"dtype": a.dtype.str.lstrip("<>|="), "shape": list(a.shape), "at": self.offset}
        data: bytes | None = None
        if a.dtype.kind in "iu" and a.size >= _SPARSE_FROM:
            nonzero = np.flatnonzero(a)
            if nonzero.size * (4 + a.itemsize) < a.nbytes // 2:
                flat = a.reshape(-1)
                data = nonzero.astype("<u4").tobytes() + flat[nonzero].astype(little, copy=False).tobytes()
                ref["nonzero"] = int(nonzero.size)
        if data is None:
            data = a.astype(little, copy=False).tobytes()
        self.parts.append(data)
        self.offset += len(data)
        return ref

    def get(self, ref: dict[str, Any]) -> np.ndarray[Any, Any]:
        dtype = _dtype(ref["dtype"])
        shape = ref["shape"]
        count = math.prod(shape)
        at = ref["at"]
        nonzero = ref.get("nonzero")
        if nonzero is None:
            out = np.frombuffer(self.blob, dtype=dtype, count=count, offset=at).copy()
        else:
            where = np.frombuffer(self.blob, dtype="<u4", count=nonzero, offset=at)
            out = np.zeros(count, dtype=dtype)
            out[where] = np.frombuffer(self.blob, dtype=dtype, count=nonzero, offset=at + 4 * nonzero)
        return out if len(shape) == 1 else out.reshape(shape)


@functools.lru_cache(maxsize=32)
def _dtype(name: str) -> np.dtype[Any]:
    """The little-endian dtype a header names."""
    return np.dtype("<" + name) if name[0] in "iuf" else np.dtype(name)


@dataclass(frozen=True)
class ProfileParts:
    """What a profile is made of, as the codec reads and writes it (``Profile`` builds itself from these)."""

    rows: int
    columns: Mapping[str, ColumnProfile]
    types: Mapping[str, str]
    duplicate_rows: int
    skipped: Mapping[str, str]
    vectors: Mapping[str, VectorProfile] = field(default_factory=dict)
    vocabularies: Mapping[str, frozenset[str]] = field(default_factory=dict)


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
    if p.vectors:  # absent from profiles without embeddings (and from those written before them)
        header["vectors"] = {name: _dump_vectors(v, arrays) for name, v in p.vectors.items()}
    if p.vocabularies:  # absent from profiles without text features (and from those written before them)
        header["vocabularies"] = {name: sorted(words) for name, words in p.vocabularies.items()}
    head = json.dumps(header, separators=(",", ":"), allow_nan=True).encode()
    body = struct.pack("<I", len(head)) + head + b"".join(arrays.parts)
    return MAGIC + bytes([FORMAT_VERSION]) + zlib.compress(body, 6)


def load_profile(data: bytes) -> ProfileParts:
    """Read what ``dump_profile`` wrote; a foreign, newer or damaged blob raises ``InputError``."""
    if data[:4] != MAGIC:
        raise InputError("not a Vigil profile (the file does not start with VGLP)")
    if not 1 <= data[4] <= FORMAT_VERSION:
        raise InputError(
            f"profile format version {data[4]} is not readable by this Vigil "
            f"(it reads version {FORMAT_VERSION}); upgrade Vigil or re-create the profile"
        )
    try:
        body = zlib.decompress(data[5:])
    except zlib.error as exc:
        raise InputError(f"the profile is damaged: {exc}") from exc
    (n,) = struct.unpack_from("<I", body)
    header = loads(body[4 : 4 + n])
    arrays = _Arrays(body[4 + n :])
    return ProfileParts(
        rows=header["rows"],
        columns={name: _load_column(c, arrays) for name, c in header["columns"].items()},
        types=header["types"],
        duplicate_rows=header["duplicate_rows"],
        skipped=header["skipped"],
        vectors={name: _load_vectors(v, arrays) for name, v in header.get("vectors", {}).items()},
        vocabularies={name: frozenset(words) for name, words in header.get("vocabularies", {}).items()},
    )


def _dump_vectors(v: VectorProfile, arrays: _Arrays) -> dict[str, Any]:
    empty = np.zeros(0)
    return {
        "capacity": v.capacity,
        "rows": v.rows,
        "nulls": v.nulls,
        "non_finite": v.non_finite,
        "count": v.count,
        "total": arrays.put(empty if v.total is None else v.total),
        "m2": arrays.put(empty if v.m2 is None else v.m2),
        "priorities": arrays.put(v.priorities),
        "sample": arrays.put(v.sample),
    }


def _load_vectors(d: dict[str, Any], arrays: _Arrays) -> VectorProfile:
    total, m2 = arrays.get(d["total"]), arrays.get(d["m2"])
    return VectorProfile(
        capacity=d["capacity"],
        rows=d["rows"],
        nulls=d["nulls"],
        non_finite=d["non_finite"],
        count=d["count"],
        total=total if d["count"] else None,
        m2=m2 if d["count"] else None,
        priorities=arrays.get(d["priorities"]),
        sample=arrays.get(d["sample"]),
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
        "moments": [m.count, number(m.mean), number(m.m2), number(m.min), number(m.max)],
        "sketch": {
            "alpha": s.alpha,
            "centre": s.centre,
            "scale": s.scale,
            "zero": s.zero,
            "min": number(s.min),
            "max": number(s.max),
            "positive": arrays.put(s.positive),
            "negative": arrays.put(s.negative),
        },
        "values": None if col.values is None else _dump_items(col.values),
    }


def _load_column(c: dict[str, Any], arrays: _Arrays) -> ColumnProfile:
    hll = HyperLogLog(p=math.prod(c["hll"]["shape"]).bit_length() - 1, registers=arrays.get(c["hll"]))
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
        min=float(s["min"]),
        max=float(s["max"]),
    )
    return NumericProfile(
        sketch=sketch,
        kind=c["kind"],
        rows=c["rows"],
        nulls=c["nulls"],
        non_finite=c["non_finite"],
        type_mismatches=c["type_mismatches"],
        moments=moments(c["moments"]),
        distinct=hll,
        values=None if c["values"] is None else _load_items(c["values"]),
    )


def number(x: float) -> float | str:
    """``x`` as a header holds it: a non-finite value as text (``"inf"``), which ``float`` reads back, so
    that headers parse with orjson (JSON has no infinities)."""
    return x if math.isfinite(x) else repr(float(x))


def moments(m: list[Any]) -> Moments:
    """Moments from a header's ``[count, mean, m2, min, max]`` (numbers, or non-finite ones as text)."""
    return Moments(int(m[0]), float(m[1]), float(m[2]), float(m[3]), float(m[4]))


def loads(header: bytes) -> Any:
    """A JSON header: with orjson (fast), or the standard library's reader for headers orjson refuses
    (older ones write infinities as ``Infinity``)."""
    try:
        return orjson.loads(header)
    except orjson.JSONDecodeError:
        return json.loads(header)


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


def pack(
    magic: bytes, version: int, header: dict[str, Any], arrays: list[np.ndarray[Any, Any]], tail: bytes = b""
) -> bytes:
    """The same layout for any object: ``magic``, a version byte, zlib(header JSON + arrays, mostly-zero
    integer arrays sparse as in a version 2 profile), then ``tail`` as it is (parts the caller compressed
    already, or reads only sometimes: ``unpack`` hands it back without inflating it)."""
    parts = _Arrays()
    refs = [parts.put(a) for a in arrays]
    head = json.dumps({"header": header, "arrays": refs}, separators=(",", ":"), allow_nan=True).encode()
    body = struct.pack("<I", len(head)) + head + b"".join(parts.parts)
    return magic + bytes([version]) + zlib.compress(body, 1) + tail


def unpack(
    magic: bytes, version: int, data: bytes, what: str
) -> tuple[dict[str, Any], list[np.ndarray[Any, Any]], bytes]:
    """Read what ``pack`` wrote with any version from 1 to ``version``: (header, arrays, tail). A wrong magic
    or a newer version raises ``InputError`` naming ``what``."""
    if data[: len(magic)] != magic:
        raise InputError(f"not a Vigil {what}")
    if not 1 <= data[len(magic)] <= version:
        raise InputError(
            f"{what} format version {data[len(magic)]} is not readable (reads versions 1 to {version})"
        )
    inflate = zlib.decompressobj()
    body = inflate.decompress(data[len(magic) + 1 :])
    (n,) = struct.unpack_from("<I", body)
    doc = loads(body[4 : 4 + n])
    blob = _Arrays(body[4 + n :])
    return doc["header"], [blob.get(ref) for ref in doc["arrays"]], inflate.unused_data
