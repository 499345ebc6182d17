"""Sequential detectors: exact positions on seeded streams (ADWIN's equal to river 0.26's, checked when the
figures were pinned and again by ``bench/detectors_bench.py`` on every stream it runs), a batch equal to
its pieces, the binary form mid-stream, and errors a user can act on."""

from __future__ import annotations

import random

import numpy as np
import pytest

from vigil.detectors import ADWIN, CUSUM, Detector, PageHinkley
from vigil.errors import InputError


def _stream() -> np.ndarray:
    rng = np.random.default_rng(42)
    return np.concatenate([rng.normal(0, 1, 2000), rng.normal(0.8, 1, 2000), rng.normal(-0.5, 1, 2000)])


def _mixed(seed: int) -> np.ndarray:
    """Many level shifts of random sizes, then an error rate stepping from 1% to 5%."""
    rng = np.random.default_rng(seed)
    parts = [rng.normal(rng.choice([0, 0.5, 1, 2]), 1, int(rng.integers(200, 3000))) for _ in range(12)]
    parts += [(rng.random(20_000) < 0.01).astype(float), (rng.random(5_000) < 0.05).astype(float)]
    return np.concatenate(parts)


def _all() -> list[Detector]:
    return [ADWIN(), ADWIN(arl=2_000), PageHinkley(), PageHinkley(arl=500, delta=0.3), CUSUM(), CUSUM(k=0.5)]


def test_adwin_positions_are_rivers() -> None:
    # river.drift.ADWIN() gives [2047, 4031] on this stream, and 1023 on its own docstring's stream
    assert ADWIN().update(_stream()).tolist() == [2047, 4031]
    r = random.Random(12345)
    assert ADWIN().update(r.choices([0, 1], k=1000) + r.choices(range(4, 8), k=1000)).tolist() == [1023]


def test_page_hinkley_and_cusum_positions() -> None:
    assert PageHinkley().update(_stream()).tolist() == [2035, 4015, 5912]
    assert CUSUM().update(_stream())[:5].tolist() == [1948, 2018, 2048, 2085, 2111]


def test_page_hinkley_matches_its_definition_one_value_at_a_time() -> None:
    """The vectorised test against the statistic written out as a loop (module docstring)."""
    x = _mixed(5)
    ph = PageHinkley(arl=2_000)
    want: list[int] = []
    n, total, up, up_min, down, down_max = 0, 0.0, 0.0, np.inf, 0.0, -np.inf
    for i, v in enumerate(x):
        n, total = n + 1, total + v
        d = v - total / n
        up, down = up + d - ph.delta, down + d + ph.delta
        up_min, down_max = min(up_min, up), max(down_max, down)
        if n >= ph.min_instances and (up - up_min > ph.threshold or down_max - down > ph.threshold):
            want.append(i)
            n, total, up, up_min, down, down_max = 0, 0.0, 0.0, np.inf, 0.0, -np.inf
    assert ph.update(x).tolist() == want
    assert len(want) > 10


def test_cusum_matches_its_definition_one_value_at_a_time() -> None:
    x = _mixed(6)
    c = CUSUM(arl=2_000, target=0.3, scale=0.9)
    want: list[int] = []
    up = down = 0.0
    for i, v in enumerate(x):
        z = (v - c.target) / c.scale
        up, down = max(0.0, up + z - c.k), max(0.0, down - z - c.k)
        if up > c.h or down > c.h:
            want.append(i)
            up = down = 0.0
    assert c.update(x).tolist() == want
    assert len(want) > 10


@pytest.mark.parametrize("seed", [1, 2])
def test_a_batch_equals_its_pieces(seed: int) -> None:
    x = _mixed(seed)
    cuts = np.sort(np.random.default_rng(seed).choice(np.arange(1, x.size), 40, replace=False))
    for whole, parts in zip(_all(), _all(), strict=True):
        want = whole.update(x).tolist()
        got: list[int] = []
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, x.size], strict=True):
            got += (parts.update(x[lo:hi]) + lo).tolist()
        assert got == want, type(whole).__name__
        assert len(want) >= 5, type(whole).__name__


def test_one_value_at_a_time_equals_a_batch() -> None:
    x = _mixed(3)[:6000]
    for whole, single in zip(_all(), _all(), strict=True):
        got = [i for i, v in enumerate(x) if single.update(np.array([v])).size]
        assert got == whole.update(x).tolist(), type(whole).__name__


def test_bytes_round_trip_mid_stream() -> None:
    x = _mixed(4)
    for a, b in zip(_all(), _all(), strict=True):
        head = a.update(x[:7777]).tolist()
        assert b.update(x[:7777]).tolist() == head
        restored = type(b).from_bytes(b.to_bytes())
        assert restored.update(x[7777:]).tolist() == a.update(x[7777:]).tolist()


def test_bytes_of_another_kind_or_version_are_refused() -> None:
    data = CUSUM().to_bytes()
    with pytest.raises(InputError, match=r"hold a CUSUM; read them with CUSUM\.from_bytes"):
        ADWIN.from_bytes(data)
    with pytest.raises(InputError, match="format version 9 is not readable"):
        CUSUM.from_bytes(data[:4] + bytes([9]) + data[5:])
    with pytest.raises(InputError, match="not a Vigil change detector"):
        CUSUM.from_bytes(b"nonsense")


def test_non_finite_values_are_refused_with_their_position() -> None:
    with pytest.raises(ValueError, match="position 2 is nan"):
        PageHinkley().update([1.0, 2.0, float("nan")])


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="delta must be in"):
        ADWIN(delta=2)
    with pytest.raises(ValueError, match="arl must be > 1"):
        CUSUM(arl=0.5)


def test_an_empty_batch_detects_nothing() -> None:
    for d in _all():
        assert d.update(np.array([])).tolist() == []
