"""Profiles: exact summaries, merge(profile(A), profile(B)) == profile(A + B), inputs of every kind, codec."""

from __future__ import annotations

import math
from typing import cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from tests.distributions import SHAPES
from vigil import Profile, profile
from vigil.stats.column import CategoricalProfile, NumericProfile


def _table(rng: np.random.Generator, n: int, shape: str = "lognormal") -> pd.DataFrame:
    x = SHAPES[shape](rng, n)
    x[rng.random(n) < 0.05] = np.nan
    cats = np.array(["red", "green", "blue", "cyan", "magenta"], dtype=object)[rng.integers(0, 5, n)]
    cats[rng.random(n) < 0.02] = None
    return pd.DataFrame({"x": x, "k": rng.integers(0, 4, n), "c": cats})


def test_summaries_are_exact() -> None:
    df = _table(np.random.default_rng(0), 10_000)
    p = profile(df)
    x = df["x"].to_numpy()
    col = p.columns["x"]
    assert isinstance(col, NumericProfile)
    assert (col.rows, col.nulls) == (10_000, int(np.isnan(x).sum()))
    finite = x[~np.isnan(x)]
    assert col.moments.mean == pytest.approx(finite.mean(), rel=1e-12)
    assert col.moments.variance == pytest.approx(finite.var(ddof=1), rel=1e-10)
    assert (col.moments.min, col.moments.max) == (finite.min(), finite.max())
    cat = p.columns["c"]
    assert isinstance(cat, CategoricalProfile)
    assert cat.top.counts == df["c"].value_counts().to_dict()
    assert cat.nulls == df["c"].isna().sum()
    k = p.columns["k"]
    assert isinstance(k, NumericProfile) and k.values is not None
    assert k.values.counts == {float(cast(float, v)): int(n) for v, n in df["k"].value_counts().items()}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_merge_equals_profile_of_the_union(shape: str) -> None:
    rng = np.random.default_rng(hash(shape) % 2**32)
    a, b, c = _table(rng, 3_000, shape), _table(rng, 17, shape), _table(rng, 9_000, shape)
    whole = profile(pd.concat([a, b, c], ignore_index=True))
    for order in ((a, b, c), (c, a, b), (b, c, a)):
        merged = profile(order[0], like=whole)
        for part in order[1:]:
            merged.merge(profile(part, like=whole))
        assert merged.rows == whole.rows
        for name, w in whole.columns.items():
            m = merged.columns[name]
            assert (m.rows, m.nulls, m.count) == (w.rows, w.nulls, w.count)
            assert np.array_equal(m.distinct.registers, w.distinct.registers)
            if isinstance(w, NumericProfile):
                assert isinstance(m, NumericProfile)
                assert np.array_equal(m.sketch.positive, w.sketch.positive)
                assert np.array_equal(m.sketch.negative, w.sketch.negative)
                assert m.moments.mean == pytest.approx(w.moments.mean, rel=1e-9, abs=1e-12)
                assert m.moments.m2 == pytest.approx(w.moments.m2, rel=1e-9, abs=1e-12)
                assert (m.moments.min, m.moments.max) == (w.moments.min, w.moments.max)
                assert (m.values is None) == (w.values is None)
            else:
                assert isinstance(m, CategoricalProfile)
                assert m.top.counts == w.top.counts and m.top.other == w.top.other


def test_every_input_kind_gives_the_same_profile(tmp_path: pytest.TempPathFactory) -> None:
    df = _table(np.random.default_rng(4), 2_000)
    df["c"] = df["c"].astype("string")
    parquet, csv = tmp_path / "t.parquet", tmp_path / "t.csv"  # type: ignore[operator]
    df.to_parquet(parquet)
    df.to_csv(csv, index=False)
    sources = [df, pa.Table.from_pandas(df), parquet, str(csv)]
    try:
        import polars as pl

        sources.append(pl.from_pandas(df))
    except ImportError:
        pass
    reference = profile(df)
    for source in sources:
        p = profile(source)
        assert p.rows == reference.rows
        for name in ("x", "c", "k"):
            assert p.columns[name].nulls == reference.columns[name].nulls, (type(source), name)
            assert p.columns[name].count == reference.columns[name].count
        assert p.columns["x"].moments.mean == pytest.approx(reference.columns["x"].moments.mean)  # type: ignore[union-attr]


def test_codec_round_trip_and_size_does_not_grow_with_rows() -> None:
    rng = np.random.default_rng(9)
    sizes = []
    for n in (10_000, 1_000_000):
        p = profile(_table(rng, n))
        data = p.to_bytes()
        q = Profile.from_bytes(data)
        assert q.rows == p.rows and q.types == p.types
        for name, col in p.columns.items():
            other = q.columns[name]
            assert type(other) is type(col) and other.nulls == col.nulls
            assert np.array_equal(other.distinct.registers, col.distinct.registers)
        qx, px = q.columns["x"], p.columns["x"]
        assert isinstance(qx, NumericProfile) and isinstance(px, NumericProfile)
        assert np.array_equal(qx.sketch.positive, px.sketch.positive)
        assert qx.sketch.quantile(0.9) == px.sketch.quantile(0.9)
        sizes.append(len(data))
    # 100x the rows: the sketch fills a few more buckets, the form stays bounded (fixed-size arrays)
    assert sizes[1] < 2 * sizes[0]
    assert sizes[1] < 64 * 1024


def test_codec_rejects_foreign_and_future_data() -> None:
    from vigil.errors import InputError

    with pytest.raises(InputError, match="not a Vigil profile"):
        Profile.from_bytes(b"PK\x03\x04 a zip file")
    data = bytearray(profile(pd.DataFrame({"x": [1.0]})).to_bytes())
    data[4] = 99
    with pytest.raises(InputError, match="version 99"):
        Profile.from_bytes(bytes(data))


def test_duplicate_rows_and_missing_columns_across_batches() -> None:
    df = pd.DataFrame({"a": [1.0, 1.0, 2.0, np.nan, np.nan], "b": ["x", "x", "x", None, None]})
    p = profile(df)
    assert p.duplicate_rows == 2  # row 1 repeats row 0, row 4 repeats row 3
    p.merge(profile(pd.DataFrame({"a": [5.0, 6.0]})))
    assert p.rows == 7 and p.columns["b"].rows == 7 and p.columns["b"].nulls == 4


def test_non_finite_values_are_counted_apart_from_nulls() -> None:
    p = profile(pd.DataFrame({"x": [1.0, math.inf, -math.inf, np.nan, 2.0]}))
    col = p.columns["x"]
    assert isinstance(col, NumericProfile)
    assert (col.nulls, col.non_finite, col.count) == (1, 2, 2)
    assert col.moments.mean == 1.5


def test_integers_beyond_float_precision_stay_distinct() -> None:
    ids = np.arange(1_400_000_000_000_000_001, 1_400_000_000_000_000_001 + 5_000, dtype=np.int64)
    p = profile(pd.DataFrame({"id": ids}))
    assert p.duplicate_rows == 0  # as floats these 5,000 ids collapse onto ~20 values
    assert abs(p.columns["id"].distinct_estimate - 5_000) < 5_000 * 4 * 1.04 / 64


def test_duplicate_rows_compare_hash_only_columns() -> None:
    df = pd.DataFrame({"id": [1, 2, 3, 3], "email": ["a@x", "b@x", "c@x", "c@x"], "x": [0.5, 0.5, 0.5, 0.5]})
    assert profile(df, columns=["x"]).duplicate_rows == 3
    p = profile(df, hash_only=["id", "email"])
    assert p.duplicate_rows == 1 and set(p.columns) == {"x"}  # only the true repeat; no profile of id/email


def test_entirely_null_text_column() -> None:
    table = pa.table({"c": pa.array([None, None, None], pa.string()), "x": [1.0, 2.0, 3.0]})
    p = profile(table)
    assert (p.columns["c"].rows, p.columns["c"].nulls, p.columns["c"].count) == (3, 3, 0)
    p.update(pa.table({"c": pa.array(["a", None], pa.string()), "x": [1.0, 1.0]}))
    assert p.columns["c"].top.counts == {"a": 1}  # type: ignore[union-attr]


def test_a_baselines_vocabularies_survive_the_codec_and_stay_out_of_windows() -> None:
    p = profile(pa.table({"answer": ["a b", "c"]}))
    p.vocabularies = {"answer": frozenset({"a", "b", "c"})}
    back = Profile.from_bytes(p.to_bytes())
    assert back.vocabularies == {"answer": frozenset({"a", "b", "c"})}
    assert back.empty_like().vocabularies == {}  # windows start from the template's columns only
    assert Profile.from_bytes(profile(pa.table({"x": [1.0]})).to_bytes()).vocabularies == {}
