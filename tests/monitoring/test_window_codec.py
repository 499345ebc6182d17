"""A window state's binary form: version 2 reads back what was written (sketches bucket for bucket, the
profile, the sample), leaves the sample out when asked, reads null rates from the header exactly as the
decoded and merged profiles give them, and windows and profiles written by the version before (1) are
still read."""

from __future__ import annotations

import json
import math
import struct
import zlib
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pytest

from vigil.monitoring.window import WindowState
from vigil.stats import codec
from vigil.stats.profile import Profile, profile


def _state(seed: int, columns: tuple[str, ...] = ("x", "c"), n: int = 300) -> WindowState:
    rng = np.random.default_rng(seed)
    events = pa.table(
        {
            "latency_ms": rng.gamma(2, 20, n),
            "error": pa.array([("Timeout: slow" if i % 9 == 0 else None) for i in range(n)], pa.string()),
            "cost": np.full(n, 0.002),
            "ts": np.arange(n, dtype=np.float64),
        }
    )
    data = {}
    if "x" in columns:
        data["x"] = pa.array([None if i % 5 == 0 else float(v) for i, v in enumerate(rng.normal(size=n))])
    if "c" in columns:
        data["c"] = pa.array(
            [None if i % 4 == 0 else str(v) for i, v in enumerate(rng.choice(["a", "b"], n))]
        )
    return WindowState(sample_size=20).update(events, pa.table(data), None, rng)


@pytest.fixture
def v1_writer(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Write as version 1 did: dense arrays, infinities as JSON's ``Infinity``."""
    monkeypatch.setattr(codec, "_SPARSE_FROM", 1 << 62)
    monkeypatch.setattr(codec, "number", lambda x: x)
    yield


def _v1_profile(p: Profile) -> bytes:
    data = bytearray(p.to_bytes())
    data[4] = 1
    return bytes(data)


def _v1_window(s: WindowState) -> bytes:
    lat = s.latency
    header = {
        "events": s.events,
        "errors": s.errors,
        "latency": {
            "alpha": lat.alpha,
            "centre": lat.centre,
            "scale": lat.scale,
            "zero": lat.zero,
            "min": lat.min,
            "max": lat.max,
        },
        "latency_moments": [
            s.latency_moments.count,
            s.latency_moments.mean,
            s.latency_moments.m2,
            s.latency_moments.min,
            s.latency_moments.max,
        ],
        "tokens_in": s.tokens_in,
        "tokens_out": s.tokens_out,
        "cost": [s.cost.count, s.cost.mean, s.cost.m2, s.cost.min, s.cost.max],
        "sample": s.sample,
        "sample_size": s.sample_size,
        "error_kinds": s.error_kinds,
    }
    prof = np.frombuffer(_v1_profile(s.profile), np.uint8)
    return codec.pack(b"VGLW", 1, header, [lat.positive, lat.negative, prof])


def _same(a: WindowState, b: WindowState, sample: bool = True) -> None:
    assert (a.events, a.errors, a.tokens_in, a.tokens_out) == (b.events, b.errors, b.tokens_in, b.tokens_out)
    assert np.array_equal(a.latency.positive, b.latency.positive)
    assert np.array_equal(a.latency.negative, b.latency.negative)
    assert (a.latency.min, a.latency.max, a.latency.zero) == (b.latency.min, b.latency.max, b.latency.zero)
    assert a.latency_moments == b.latency_moments and a.cost == b.cost
    assert a.error_kinds == b.error_kinds
    assert a.profile.to_bytes() == b.profile.to_bytes()
    if sample:
        assert a.sample == b.sample


def test_round_trip() -> None:
    s = _state(1)
    back = WindowState.from_bytes(s.to_bytes())
    _same(s, back)
    assert len(back.sample) == 20


def test_an_empty_window_round_trips_with_its_infinities() -> None:
    empty = WindowState()
    back = WindowState.from_bytes(empty.to_bytes())
    assert back.latency.min == math.inf and back.latency.max == -math.inf
    assert back.cost.min == math.inf and back.latency_quantile(0.5) != back.latency_quantile(0.5)  # NaN


def test_the_sample_is_left_out_when_asked() -> None:
    s = _state(2)
    lean = WindowState.from_bytes(s.to_bytes(), sample=False)
    assert lean.sample == []
    _same(s, lean, sample=False)


def test_null_rates_from_the_header_equal_the_decoded_profiles() -> None:
    """Windows with different columns merged: a column missing from one counts its rows as nulls, as
    ``Profile.merge`` does."""
    parts = [_state(3), _state(4, ("x",)), _state(5, ("c",), n=50), WindowState()]
    merged_lean = WindowState(sample_size=0)
    merged_full = WindowState(sample_size=0)
    for p in parts:
        merged_lean.merge(WindowState.from_bytes(p.to_bytes(), sample=False))
        full = WindowState.from_bytes(p.to_bytes())
        assert full.profile is not None  # decoded
        merged_full.merge(full)
    rates = [merged_lean.null_rate(), merged_lean.null_rate("x"), merged_lean.null_rate("c")]
    assert "_profile" not in merged_lean.__dict__  # read from the headers
    assert rates == [merged_full.null_rate(), merged_full.null_rate("x"), merged_full.null_rate("c")]
    assert 0 < rates[1] < 1 and 0 < rates[2] < 1
    x = merged_full.profile.columns["x"]
    assert rates[1] == x.nulls / x.rows


def test_version_1_windows_and_profiles_are_read(v1_writer: None) -> None:
    s = _state(6)
    old = _v1_window(s)
    assert old[4] == 1
    _same(WindowState.from_bytes(old), s)
    assert WindowState.from_bytes(old, sample=False).sample == []
    assert WindowState.from_bytes(old).null_rate("x") == s.null_rate("x")  # no counts in it: decoded


def test_version_1_profiles_with_infinities_are_read(v1_writer: None) -> None:
    p = profile(pa.table({"x": [1.0, 2.0, None], "e": pa.array([None, None, None], pa.float64())}))
    old = _v1_profile(p)
    assert old[4] == 1
    body = zlib.decompress(old[5:])
    (n,) = struct.unpack_from("<I", body)
    assert b"Infinity" in body[4 : 4 + n]  # as version 1 wrote an empty column's min
    back = Profile.from_bytes(old)
    assert back.to_bytes() == p.to_bytes()
    assert json.loads(body[4 : 4 + n])["columns"]["x"]["hll"].get("nonzero") is None  # dense then


def test_reading_the_service_part_inflates_little(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a read must inflate: version 1 inflated the dense latency buckets and the profile (tens of KB of
    zeros); version 2 only the service header and the non-zero buckets."""
    s = _state(7)
    data = s.to_bytes()
    inflate = zlib.decompressobj()
    inflated_v2 = len(inflate.decompress(data[5:]))
    assert len(inflate.unused_data) > 1000  # the profile and the sample, after the zlib'd part: not inflated
    monkeypatch.setattr(codec, "_SPARSE_FROM", 1 << 62)
    monkeypatch.setattr(codec, "number", lambda x: x)
    inflated_v1 = len(zlib.decompress(_v1_window(s)[5:]))
    assert inflated_v2 < 4096 < 30_000 < inflated_v1
