"""The state of one window (model × version × time bucket): everything live metrics need, mergeable.

* service: events, errors, a latency sketch (plain DDSketch, 1% relative error) and latency moments;
* LLM: tokens in and out, cost (sum and moments);
* data: a ``Profile`` of the features, the prediction (``@prediction``), the score (``@score``) and the
  segment tags (``#name``), built like the model's template so every window's buckets line up;
* drill-down: a bottom-k sample of raw events, the ``sample_size`` rows with the smallest random
  priorities. Bottom-k samples merge (union, keep the k smallest), so a merged range holds a uniform
  sample of all its events, like every other statistic here.

Events arrive as an Arrow table with the columns named in ``EventColumns``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from vigil.events import PREDICTION, SCORE, SEGMENT_PREFIX
from vigil.sketches import QuantileSketch
from vigil.stats import codec
from vigil.stats.column import CategoricalProfile, NumericProfile
from vigil.stats.moments import Moments
from vigil.stats.profile import Profile

__all__ = ["PREDICTION", "SCORE", "SEGMENT_PREFIX", "WindowState"]

POSITIVE = "1"
"""The positive class of a binary model (predictions are kept as class labels: ``True`` and ``1`` as "1")."""
_MAGIC = b"VGLW"
_VERSION = 1


@dataclass
class WindowState:
    """See the module docstring."""

    events: int = 0
    errors: int = 0
    latency: QuantileSketch = field(default_factory=lambda: QuantileSketch(alpha=0.01))
    latency_moments: Moments = field(default_factory=Moments)
    tokens_in: int = 0
    tokens_out: int = 0
    cost: Moments = field(default_factory=Moments)
    encoded: list[bytes] = field(default_factory=list, repr=False)
    """Encoded profiles not decoded yet (a window read from the store, or merged with one): decoded and
    merged in on first use of ``profile``, so service metrics never pay for the features."""
    sample: list[tuple[float, str]] = field(default_factory=list)
    """(priority, event as JSON) pairs, the smallest priorities kept."""
    sample_size: int = 100
    error_kinds: dict[str, int] = field(default_factory=dict)
    """Errors by kind (the text before the first colon), at most 20 kinds plus "other"."""

    def update(
        self, events: pa.Table, data: pa.Table, template: Profile | None, rng: np.random.Generator
    ) -> WindowState:
        """Add ``events`` (service columns) whose profiled part is ``data`` (features, prediction, score,
        segments; possibly a sample of the rows). Returns ``self``."""
        n = events.num_rows
        self.events += n
        if "error" in events.column_names:
            err = events.column("error")
            self.errors += n - err.null_count
            if err.null_count < n:
                self._count_error_kinds(err)
        if "latency_ms" in events.column_names:
            lat = events.column("latency_ms").to_numpy(zero_copy_only=False)
            lat = lat[np.isfinite(lat)] if lat.dtype.kind == "f" else lat.astype(np.float64)
            self.latency.update(lat)
            self.latency_moments.update(lat.astype(np.float64))
        for name in ("tokens_in", "tokens_out"):
            if name in events.column_names:
                total = pc.sum(events.column(name)).as_py()
                setattr(self, name, getattr(self, name) + int(total or 0))
        if "cost" in events.column_names:
            cost = events.column("cost").to_numpy(zero_copy_only=False).astype(np.float64)
            self.cost.update(cost[np.isfinite(cost)])
        if data.num_rows:
            if template is not None:
                self._align(template)
            self.profile.update(data)
        if self.sample_size:
            self._sample(events, rng)
        return self

    @property
    def profile(self) -> Profile:
        """The feature profile (decoding any encoded parts now)."""
        decoded = self.__dict__.get("_profile")
        if decoded is None:
            decoded = Profile()
            self.__dict__["_profile"] = decoded
        if self.encoded:
            pending, self.encoded = self.encoded, []
            for raw in pending:
                decoded.merge(Profile.from_bytes(raw))
        return decoded

    @profile.setter
    def profile(self, value: Profile) -> None:
        self.__dict__["_profile"] = value
        self.encoded = []

    def merge(self, other: WindowState) -> WindowState:
        self.events += other.events
        self.errors += other.errors
        self.latency.merge(other.latency)
        self.latency_moments.merge(other.latency_moments)
        self.tokens_in += other.tokens_in
        self.tokens_out += other.tokens_out
        self.cost.merge(other.cost)
        if other.__dict__.get("_profile") is not None:
            self.profile.merge(other.profile)
        self.encoded.extend(other.encoded)
        self.sample = sorted(self.sample + other.sample)[: max(self.sample_size, other.sample_size)]
        for kind, count in other.error_kinds.items():
            self.error_kinds[kind] = self.error_kinds.get(kind, 0) + count
        return self

    def copy(self) -> WindowState:
        """An independent copy (a deep copy: 18x faster than an encode-decode round trip)."""
        return copy.deepcopy(self)

    def _profile_bytes(self) -> bytes:
        """The profile encoded: as read when it was never decoded nor merged (no work at all)."""
        if self.__dict__.get("_profile") is None and len(self.encoded) == 1:
            return self.encoded[0]
        return self.profile.to_bytes()

    # -- reading -----------------------------------------------------------------------------------------

    @property
    def error_rate(self) -> float:
        return self.errors / self.events if self.events else math.nan

    def latency_quantile(self, q: float) -> float:
        return float(self.latency.quantile(q)) if self.latency.count else math.nan

    def mean(self, column: str) -> float:
        """The mean of a numeric column of the profile (NaN when it has no values)."""
        col = self.profile.columns.get(column)
        return col.moments.mean if isinstance(col, NumericProfile) and col.count else math.nan

    def score_mean(self) -> float:
        """The mean score (NaN when no score was sent)."""
        return self.mean(SCORE)

    def prediction_mean(self, task: str) -> float:
        """The mean prediction: of the values (regression), or the share of class 1 (binary). NaN for other
        tasks or no predictions."""
        if task != "binary":
            return self.mean(PREDICTION)
        col = self.profile.columns.get(PREDICTION)
        if not isinstance(col, CategoricalProfile) or not col.top.exact:
            return math.nan
        total = col.top.total
        return col.top.counts.get(POSITIVE, 0) / total if total else math.nan

    def null_rate(self, column: str | None = None) -> float:
        """The share of nulls in one feature, or over all features (NaN when there are none)."""
        cols = [
            c
            for n, c in self.profile.columns.items()
            if not n.startswith(("@", "#")) and (column is None or n == column)
        ]
        rows = sum(c.rows for c in cols)
        return sum(c.nulls for c in cols) / rows if rows else math.nan

    # -- internals ---------------------------------------------------------------------------------------

    def _align(self, template: Profile) -> None:
        """Give the profile every column of the template it lacks (built like the template's, so windows
        merge), with the rows seen so far counted as nulls."""
        for name, column in template.columns.items():
            if name not in self.profile.columns:
                fresh = column.empty_like()
                fresh.rows = fresh.nulls = self.profile.rows
                self.profile.columns[name] = fresh

    def _count_error_kinds(self, err: pa.ChunkedArray) -> None:
        # "TimeoutError: upstream took 3 s" -> "TimeoutError"
        kinds = pc.list_element(pc.split_pattern(pc.drop_null(err), ":", max_splits=1), 0)
        counts = pc.value_counts(kinds)
        for item in counts.to_pylist():
            kind = str(item["values"]).strip()[:80] or "error"
            key = kind if kind in self.error_kinds or len(self.error_kinds) < 20 else "other"
            self.error_kinds[key] = self.error_kinds.get(key, 0) + int(item["counts"])

    def _sample(self, events: pa.Table, rng: np.random.Generator) -> None:
        n = events.num_rows
        k = min(self.sample_size, n)
        priority = rng.random(n)
        cutoff = self.sample[-1][0] if len(self.sample) >= self.sample_size else 1.0
        candidates = np.flatnonzero(priority < cutoff)
        if candidates.size == 0:
            return
        if candidates.size > k:
            candidates = candidates[np.argpartition(priority[candidates], k - 1)[:k]]
        rows = events.take(pa.array(candidates)).to_pylist()
        fresh = [
            (float(priority[i]), orjson.dumps({k: v for k, v in r.items() if v is not None}).decode())
            for i, r in zip(candidates, rows, strict=True)
        ]
        self.sample = sorted(self.sample + fresh)[: self.sample_size]

    # -- codec -------------------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        lat = self.latency
        header = {
            "events": self.events,
            "errors": self.errors,
            "latency": {
                "alpha": lat.alpha,
                "centre": lat.centre,
                "scale": lat.scale,
                "zero": lat.zero,
                "min": lat.min,
                "max": lat.max,
            },
            "latency_moments": _moments(self.latency_moments),
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost": _moments(self.cost),
            "sample": self.sample,
            "sample_size": self.sample_size,
            "error_kinds": self.error_kinds,
        }
        return codec.pack(
            _MAGIC,
            _VERSION,
            header,
            [lat.positive, lat.negative, np.frombuffer(self._profile_bytes(), np.uint8)],
        )

    @staticmethod
    def from_bytes(data: bytes) -> WindowState:
        header, (pos, neg, prof) = codec.unpack(_MAGIC, _VERSION, data, "window state")
        lat = header["latency"]
        return WindowState(
            events=header["events"],
            errors=header["errors"],
            latency=QuantileSketch(
                alpha=lat["alpha"],
                centre=lat["centre"],
                scale=lat["scale"],
                positive=pos,
                negative=neg,
                zero=lat["zero"],
                min=lat["min"],
                max=lat["max"],
            ),
            latency_moments=Moments(*header["latency_moments"]),
            tokens_in=header["tokens_in"],
            tokens_out=header["tokens_out"],
            cost=Moments(*header["cost"]),
            encoded=[prof.tobytes()],
            sample=[(float(p), str(r)) for p, r in header["sample"]],
            sample_size=header["sample_size"],
            error_kinds=dict(header["error_kinds"]),
        )


def _moments(m: Moments) -> list[float]:
    return [m.count, m.mean, m.m2, m.min, m.max]
