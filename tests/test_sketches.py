"""Sketches against exact answers (numpy), on many distributions, before and after merges."""

from __future__ import annotations

import numpy as np
import pytest

from tests.distributions import SHAPES
from vigil.sketches import FrequentItems, HyperLogLog, QuantileSketch
from vigil.sketches.hashing import count_duplicates, hash_floats, hash_strings
from vigil.stats.column import sketch_for

QS = np.array([0.0, 0.001, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 0.999, 1.0])


def _assert_quantiles_within_bound(sketch: QuantileSketch, x: np.ndarray) -> None:
    exact = np.quantile(x, QS, method="lower")  # the sketch answers the value of rank floor(q (n - 1))
    got = np.asarray(sketch.quantile(QS))
    # stated bound: alpha * |q - centre|, plus the zero bucket's 1e-9 * scale near the centre
    allowed = sketch.alpha * np.abs(exact - sketch.centre) + 1e-9 * sketch.scale
    assert np.all(np.abs(got - exact) <= allowed * (1 + 1e-9)), np.abs(got - exact) / allowed


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("n", [1, 57, 20_000])
def test_quantiles_within_stated_relative_error(shape: str, n: int) -> None:
    x = SHAPES[shape](np.random.default_rng(7), n)
    s = sketch_for(x).update(x)
    assert s.count == n
    _assert_quantiles_within_bound(s, x)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_merge_in_any_order_equals_one_sketch(shape: str) -> None:
    rng = np.random.default_rng(11)
    x = SHAPES[shape](rng, 30_000)
    whole = sketch_for(x).update(x)
    parts = np.array_split(x, [3, 5_000, 5_001, 17_000])
    for order in (range(len(parts)), reversed(range(len(parts))), rng.permutation(len(parts))):
        merged = whole.empty_like()
        for i in order:
            merged.merge(whole.empty_like().update(parts[i]))
        assert np.array_equal(merged.positive, whole.positive)
        assert np.array_equal(merged.negative, whole.negative)
        assert (merged.zero, merged.min, merged.max) == (whole.zero, whole.min, whole.max)
        _assert_quantiles_within_bound(merged, x)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_cdf_is_exact_at_every_bucket_edge(shape: str) -> None:
    x = SHAPES[shape](np.random.default_rng(3), 20_000)
    s = sketch_for(x).update(x)
    edges, cdf = s.cdf_at_edges()
    xs = np.sort(x)
    # below the centre buckets are [lo, hi): the CDF there is the share strictly below the edge
    side_left = np.searchsorted(xs, edges, side="left") / x.size
    side_right = np.searchsorted(xs, edges, side="right") / x.size
    exact = np.where(edges < s.centre, side_left, side_right)
    assert np.max(np.abs(cdf - exact)) <= 1e-12


def test_plain_ddsketch_latencies_relative_error() -> None:
    x = np.random.default_rng(5).lognormal(-3, 1.2, 50_000)  # latencies in seconds
    s = QuantileSketch(alpha=0.01).update(x)
    exact = np.quantile(x, [0.5, 0.95, 0.99], method="lower")
    got = np.asarray(s.quantile([0.5, 0.95, 0.99]))
    assert np.all(np.abs(got - exact) <= 0.01 * exact)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_merge_across_mappings_keeps_the_summed_bound(shape: str) -> None:
    rng = np.random.default_rng(13)
    a, b = SHAPES[shape](rng, 8_000), SHAPES[shape](rng, 5_000)
    sa = sketch_for(a).update(a)
    sb = QuantileSketch(alpha=0.01, centre=sa.centre + 0.37 * sa.scale, scale=2 * sa.scale).update(b)
    merged = sa.copy().merge(sb)
    x = np.concatenate([a, b])
    assert merged.count == x.size and (merged.min, merged.max) == (x.min(), x.max())
    exact = np.quantile(x, QS, method="lower")
    got = np.asarray(merged.quantile(QS))
    allowed = (sa.alpha + sb.alpha) * np.abs(exact - merged.centre) + 1e-9 * merged.scale
    # plus: a value re-counted from b's mapping may cross one of a's bucket edges
    allowed += sb.alpha * np.abs(exact - sb.centre)
    assert np.all(np.abs(got - exact) <= allowed * (1 + 1e-9))


def test_empty_sketch_answers_nan() -> None:
    assert np.isnan(QuantileSketch().quantile(0.5))
    assert QuantileSketch().rank(3.0) == 0.0


@pytest.mark.parametrize("true_n", [0, 1, 10, 300, 5_000, 100_000, 1_000_000])
def test_distinct_count_within_four_standard_errors(true_n: int) -> None:
    values = np.arange(true_n, dtype=np.float64) * 1.37
    repeated = np.concatenate([values, values[: true_n // 2]])  # duplicates must not count
    h = HyperLogLog().update(hash_floats(repeated))
    se = 1.04 / np.sqrt(4096)
    assert abs(h.estimate() - true_n) <= max(4 * se * true_n, 0.5)


def test_distinct_merge_is_the_union() -> None:
    a = hash_floats(np.arange(0, 60_000, dtype=np.float64))
    b = hash_floats(np.arange(40_000, 90_000, dtype=np.float64))
    merged = HyperLogLog().update(a).merge(HyperLogLog().update(b))
    union = HyperLogLog().update(np.concatenate([a, b]))
    assert np.array_equal(merged.registers, union.registers)


def test_string_hashes_are_stable_and_distinct() -> None:
    words = np.array(["a", "b", "a", "ab"], dtype=object)
    h = hash_strings(words)
    assert h[0] == h[2] and len({int(v) for v in h}) == 3
    assert np.array_equal(h, hash_strings(words.copy()))


def test_count_duplicates() -> None:
    h = hash_floats(np.array([1.0, 2.0, 1.0, 3.0, 1.0, 2.0, -0.0, 0.0]))
    assert count_duplicates(h) == 4  # two extra 1.0, one extra 2.0, and -0.0 equals 0.0


def test_frequent_items_exact_under_capacity_and_bounded_over() -> None:
    rng = np.random.default_rng(2)
    labels = np.array([f"c{i}" for i in range(300)])
    draws = labels[rng.zipf(1.6, 200_000) % 300]
    keys, counts = np.unique(draws, return_counts=True)
    truth = dict(zip(keys.tolist(), counts.tolist(), strict=True))
    exact = FrequentItems[str](capacity=500)
    small = FrequentItems[str](capacity=50)
    for chunk in np.array_split(draws, 7):
        k, c = np.unique(chunk, return_counts=True)
        exact.update(k.tolist(), c)
        small.update(k.tolist(), c)
    assert exact.exact and exact.counts == truth
    assert small.total == draws.size and len(small.counts) == 50
    for key, n in small.counts.items():
        assert truth[key] - small.other <= n <= truth[key]  # the stated bound
    top_true = sorted(truth, key=lambda k: -truth[k])[:10]
    assert set(top_true) <= set(small.counts)
