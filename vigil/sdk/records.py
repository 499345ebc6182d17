"""Records as the wire wants them: request ids, one record to JSON bytes, DataFrame rows to records.

Everything here runs on the caller's thread, inside ``Client.log``: it is written to cost a microsecond or
two and never to keep a reference to the caller's objects (a record is serialised at once).
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Iterable, Mapping
from typing import Any, Final, cast

import orjson

__all__ = [
    "EVENT_FIELDS",
    "JSON_OPTS",
    "RequestIds",
    "dump",
    "dumps",
    "exact",
    "json_default",
    "model_of",
    "new_request_id",
    "request_ids",
    "reseed",
    "rows_of",
]

EVENT_FIELDS: Final = frozenset(
    {
        "model",
        "version",
        "request_id",
        "timestamp",
        "features",
        "prediction",
        "score",
        "probabilities",
        "latency_ms",
        "error",
        "tokens_in",
        "tokens_out",
        "cost",
        "segments",
    }
)
"""The fields of a wire ``Event`` (``vigil.schema.Event``)."""

JSON_OPTS: Final = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NAIVE_UTC | orjson.OPT_NON_STR_KEYS
"""The orjson options of the slower path (with :func:`json_default`): numpy arrays, naive times as UTC,
non-string keys."""
dumps: Final = orjson.dumps
"""``orjson.dumps``: :func:`dump`'s serialiser, named here for ``Client.log``, which inlines :func:`dump`."""
exact: Final = bytes
"""An exact-size copy of orjson's over-allocated output (``exact(memoryview(data))``): see :func:`dump`."""


class RequestIds:
    """Request ids: a random per-process prefix and a counter, about 0.2 µs each (uuid4 costs about 3 µs).
    A forked child draws a new prefix (:meth:`reseed`), so ids stay unique across processes."""

    __slots__ = ("count", "prefix")

    def __init__(self) -> None:
        self.prefix = ""
        self.count = itertools.count()
        self.reseed()

    def reseed(self) -> None:
        """Draw a new prefix and restart the counter (in a forked child: the parent's counter goes on
        there)."""
        self.prefix = os.urandom(8).hex()
        self.count = itertools.count()

    def next(self) -> str:
        """The next id: the prefix then the counter in hex."""
        return f"{self.prefix}{next(self.count):x}"


request_ids: Final = RequestIds()
"""The process's ids (reseeded in place after a fork, so a reference to it stays good): ``Client.log``
calls ``request_ids.next()`` directly, :func:`new_request_id` without the extra call."""


def new_request_id() -> str:
    """A fresh id, unique across processes and machines with overwhelming probability (64 random bits
    per process plus a counter): 17 to 32 lowercase hex characters."""
    return request_ids.next()


def reseed() -> None:
    """Draw a new prefix for this process's ids (in a forked child: the parent's counter goes on there)."""
    request_ids.reseed()


def json_default(obj: Any) -> Any:
    """orjson fallback: numpy/pandas scalars, pandas missing values, datetimes, sets, decimals."""
    name = type(obj).__name__
    if name in ("NAType", "NaTType"):
        return None
    iso = getattr(obj, "isoformat", None)
    if callable(iso):
        text = iso()
        if getattr(obj, "tzinfo", "") is None and "T" in str(text):
            text = f"{text}+00:00"  # a naive datetime is taken as UTC
        return text
    item = getattr(obj, "item", None)
    if callable(item):
        return item()
    if isinstance(obj, set | frozenset):
        return list(obj)
    if name == "Decimal":
        return float(obj)
    raise TypeError(f"cannot serialise {name}")


def dump(record: Mapping[str, Any]) -> bytes:
    """One record as JSON: the plain (fastest) orjson call, then with numpy/pandas/datetime support.

    orjson returns a shrunk over-allocated buffer; a long-lived one costs ~6 µs more per call in allocator
    work than an exact-size copy (measured, 20 features), so the bytes are copied to an exact-size object.
    Raises TypeError for a value JSON cannot carry."""
    try:
        data = dumps(record)
    except TypeError:  # numpy/pandas scalars, datetimes, non-str keys: the slower options
        data = dumps(record, default=json_default, option=JSON_OPTS)
    return exact(memoryview(data))


def model_of(record: bytes) -> Any:
    """The ``model`` of one serialised record (None when unreadable)."""
    try:
        return orjson.loads(record).get("model")
    except Exception:
        return None


def rows_of(data: Any) -> list[dict[str, Any]]:
    """Rows of a pandas/polars DataFrame or an iterable of mappings, split into Event fields + features."""
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(data, pd.DataFrame):
        columns = [str(c) for c in data.columns]
        frame = data.set_axis(columns, axis=1)
        fields = [c for c in columns if c in EVENT_FIELDS]
        feats = [] if "features" in fields else [c for c in columns if c not in EVENT_FIELDS]
        rows: list[dict[str, Any]] = (
            frame[fields].to_dict("records") if fields else [{} for _ in range(len(frame))]
        )
        if feats:
            for row, f in zip(rows, frame[feats].to_dict("records"), strict=True):
                row["features"] = f
        return rows
    pl = sys.modules.get("polars")
    if pl is not None and isinstance(data, pl.DataFrame):
        columns = list(data.columns)
        fields = [c for c in columns if c in EVENT_FIELDS]
        feats = [] if "features" in fields else [c for c in columns if c not in EVENT_FIELDS]
        rows = data.select(fields).to_dicts() if fields else [{} for _ in range(data.height)]
        if feats:
            for row, f in zip(rows, data.select(feats).to_dicts(), strict=True):
                row["features"] = f
        return rows
    if isinstance(data, Mapping | str | bytes):
        raise TypeError("log_batch wants a DataFrame or an iterable of dicts")
    out: list[dict[str, Any]] = []
    for item in cast(Iterable[Mapping[str, Any]], data):
        if "features" in item or all(k in EVENT_FIELDS for k in item):
            out.append(dict(item))
        else:
            row = {k: v for k, v in item.items() if k in EVENT_FIELDS}
            row["features"] = {k: v for k, v in item.items() if k not in EVENT_FIELDS}
            out.append(row)
    return out
