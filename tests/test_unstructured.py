"""Embeddings and text in ``vigil report``: descriptors against a plain-Python reading, vectors read from
list columns, and the report's verdicts from Parquet files through the command line."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from vigil.cli.main import main
from vigil.comparison.compare import compare, compare_profiles
from vigil.config import VigilConfig
from vigil.drift.mmd import mmd_test
from vigil.errors import InputError
from vigil.stats.profile import Profile, profile
from vigil.stats.text import descriptors, reference_descriptors, vocabulary
from vigil.stats.vectors import VectorProfile, as_matrix

_ALPHABET = ["the", "Cat", "sat,", "on", "mat.", "ÉTÉ", "naïve", "x_1", "42", "?!", "", "  ", "\t"]


def _texts(rng: np.random.Generator, n: int) -> list[str | None]:
    out: list[str | None] = []
    for _ in range(n):
        if rng.random() < 0.05:
            out.append(None)
        else:
            out.append(" ".join(rng.choice(_ALPHABET, size=int(rng.integers(0, 8)))))
    return out


def _words(s: str) -> list[str]:
    return re.findall(r"\w+", s.lower())


def test_descriptors_match_plain_python() -> None:
    rng = np.random.default_rng(0)
    texts = _texts(rng, 500)
    known = frozenset({"the", "cat", "été", "42"})
    d = descriptors(pa.array(texts, pa.string()), known)
    for i, s in enumerate(texts):
        if s is None:
            assert all(math.isnan(d[k][i]) for k in d)
            continue
        words = _words(s)
        assert d["length"][i] == len(s)
        assert d["tokens"][i] == len(words)
        assert d["empty"][i] == (s.strip() == "")
        if words:
            assert d["oov"][i] == pytest.approx(sum(w not in known for w in words) / len(words), abs=1e-15)
        else:
            assert math.isnan(d["oov"][i])


def test_reference_vocabulary_from_even_rows_measured_on_odd_rows() -> None:
    column = pa.array(["alpha beta", "alpha gamma", "beta", "delta delta", None, "beta alpha"])
    table, known = reference_descriptors("t", column)
    assert known == frozenset({"alpha", "beta"})
    oov = table.column("t.oov").to_pylist()
    assert oov == [None, 0.5, None, 1.0, None, 0.0]
    assert vocabulary(column, size=1) == frozenset({"alpha"}) or vocabulary(column, size=1) == frozenset(
        {"beta"}
    )


def test_vectors_read_from_list_columns() -> None:
    column = pa.chunked_array([pa.array([[1.0, 2.0], None]), pa.array([[3.0, float("nan")], [5, 6]])])
    m = as_matrix(column, "e")
    assert m.vectors.tolist() == [[1.0, 2.0], [5.0, 6.0]]
    assert (m.nulls, m.non_finite) == (1, 1)
    fixed = pa.FixedSizeListArray.from_arrays(pa.array(np.arange(6, dtype=np.float32)), 3)
    assert as_matrix(fixed, "e", 3).vectors.shape == (2, 3)


def test_vectors_of_another_length_are_refused_with_the_row() -> None:
    with pytest.raises(InputError, match=r"column 'e' row 2 has 3 numbers where 2 \(as row 0\)"):
        as_matrix(pa.array([[1.0, 2.0], None, [1.0, 2.0, 3.0]]), "e")
    with pytest.raises(InputError, match=r"row 0 has 2 numbers where 4 \(declared dimensions\)"):
        as_matrix(pa.array([[1.0, 2.0]]), "e", 4)
    with pytest.raises(InputError, match="not a list of numbers"):
        as_matrix(pa.array(["a"]), "e")


def test_dimensions_only_for_embeddings() -> None:
    with pytest.raises(Exception, match="dimensions applies only to embedding columns"):
        VigilConfig.model_validate({"columns": {"x": {"type": "numeric", "dimensions": 3}}})


def _table(rng: np.random.Generator, n: int, shift: float, new_words: bool) -> pa.Table:
    vocab = [f"w{i}" for i in range(200)] + ([f"new{i}" for i in range(200)] if new_words else [])
    texts = [" ".join(rng.choice(vocab, size=int(rng.integers(1, 10)))) for _ in range(n)]
    vectors = rng.normal(shift, 1.0, size=(n, 24))
    return pa.table({"x": rng.normal(size=n), "emb": pa.array(list(vectors)), "answer": texts})


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(12)
    out = {}
    for name, shift, new in (("reference", 0.0, False), ("same", 0.0, False), ("moved", 0.3, True)):
        out[name] = tmp_path / f"{name}.parquet"
        pq.write_table(_table(rng, 1500, shift, new), out[name])
    out["config"] = tmp_path / "vigil.yaml"
    out["config"].write_text(
        "columns:\n  answer:\n    type: text\n  emb:\n    type: embedding\n    dimensions: 24\n",
        encoding="utf-8",
    )
    return out


def _report(files: dict[str, Path], current: str, tmp_path: Path) -> dict[str, dict[str, object]]:
    out = tmp_path / f"{current}.json"
    args = [
        "report",
        "-r",
        files["reference"],
        "-c",
        files[current],
        "--config",
        files["config"],
        "--json",
        out,
    ]
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    columns: dict[str, dict[str, object]] = json.loads(out.read_text(encoding="utf-8"))["columns"]
    return columns


def test_report_tests_embeddings_and_text(files: dict[str, Path], tmp_path: Path) -> None:
    same = _report(files, "same", tmp_path)
    assert set(same) == {"x", "emb", "answer.length", "answer.tokens", "answer.empty", "answer.oov"}
    assert same["emb"]["method"] == "mmd" and same["emb"]["type"] == "embedding"
    assert not any(c["drift"] for c in same.values()), {
        n: (c["drift"], c["p_value"]) for n, c in same.items()
    }
    moved = _report(files, "moved", tmp_path)
    assert moved["emb"]["drift"] is True and moved["answer.oov"]["drift"] is True
    assert moved["x"]["drift"] is False
    # the report's statistic is the test's, on the same (seeded) sample
    ref = pq.read_table(files["reference"]).column("emb")
    cur = pq.read_table(files["moved"]).column("emb")
    direct = mmd_test(as_matrix(ref, "emb").vectors, as_matrix(cur, "emb").vectors)
    assert moved["emb"]["statistic"] == pytest.approx(direct.statistic, rel=1e-12)
    assert moved["emb"]["p_value"] == pytest.approx(direct.p_value, rel=1e-12)


def test_text_descriptors_quiet_under_the_null() -> None:
    """Zipf-distributed words, 1,000 answers per side, 40 seeds: each descriptor flagged in at most 4 runs
    (alpha 0.05 plus 3 binomial standard deviations is 0.153 of 40 = 6; measured at most 1)."""
    cfg = VigilConfig.model_validate({"columns": {"answer": {"type": "text"}}})
    flags: dict[str, int] = {}
    for seed in range(40):
        rng = np.random.default_rng(seed)
        sides = []
        for _ in range(2):
            words = rng.zipf(1.3, size=8000)
            sizes = rng.poisson(6, size=1000)
            ends = np.cumsum(sizes)
            sides.append(
                pa.table(
                    {
                        "answer": [
                            " ".join(f"w{w}" for w in words[e - s : e])
                            for s, e in zip(sizes, ends, strict=True)
                        ]
                    }
                )
            )
        for name, c in compare(sides[0], sides[1], config=cfg).columns.items():
            flags[name] = flags.get(name, 0) + c.drift
    assert set(flags) == {"answer.length", "answer.tokens", "answer.empty", "answer.oov"}
    assert max(flags.values()) <= 4, flags


def test_mixed_lengths_stop_the_report_with_the_row() -> None:
    ref = pa.table({"emb": pa.array([[1.0, 2.0]] * 5)})
    cur = pa.table({"emb": pa.array([[1.0, 2.0]] * 3 + [[1.0]] * 2)})
    with pytest.raises(InputError, match="current: column 'emb' row 3 has 1 numbers"):
        compare(ref, cur)


# --- the mergeable state of an embedding column ------------------------------------------------------------


def test_vector_profile_merges_as_one_pass() -> None:
    """Counts, mean and per-axis variance of merged parts equal numpy's over all vectors (to 1e-12
    relative), and the merged sample is exactly the bottom-k of the union of the parts' priorities."""
    rng = np.random.default_rng(4)
    parts = [rng.normal(i, 1.0 + i, size=(300 + 200 * i, 6)) for i in range(4)]
    profiles = [VectorProfile(capacity=250).update(pa.array(list(p)), "e") for p in parts]
    merged = VectorProfile(capacity=250)
    for p in profiles:
        merged.merge(p)
    everything = np.concatenate(parts)
    assert (merged.rows, merged.count, merged.dimensions) == (len(everything), len(everything), 6)
    assert merged.mean is not None and merged.m2 is not None
    np.testing.assert_allclose(merged.mean, everything.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(merged.m2 / (merged.count - 1), everything.var(axis=0, ddof=1), rtol=1e-12)
    pooled = np.concatenate([p.priorities for p in profiles])
    np.testing.assert_array_equal(merged.priorities, np.sort(pooled)[:250])
    assert merged.sample.shape == (250, 6) and merged.sample.dtype == np.float32
    # every sampled vector is one of the inputs
    rows = {tuple(v) for v in everything.astype(np.float32)}
    assert all(tuple(v) in rows for v in merged.sample)


def test_vector_profile_sample_is_uniform() -> None:
    """Vectors 0..9,999 folded in 10 batches, sample of 1,000: the sampled indices' mean is within 4
    standard errors of 4,999.5 (sd of a uniform sample mean without replacement: 2,886.8 / sqrt(1,000)
    x sqrt(1 - 1,000/10,000) = 86.6)."""
    values = np.arange(10_000, dtype=np.float64)[:, None] * np.ones((1, 2))
    merged = VectorProfile()
    for chunk in np.array_split(values, 10):
        merged.merge(VectorProfile().update(pa.array(list(chunk)), "e"))
    assert len(merged.sample) == 1000 and len(np.unique(merged.sample[:, 0])) == 1000
    assert abs(merged.sample[:, 0].mean() - 4999.5) <= 4 * 86.6


def test_profile_keeps_embeddings_through_the_codec() -> None:
    rng = np.random.default_rng(2)
    table = pa.table(
        {"x": rng.normal(size=500), "e": pa.array([*map(list, rng.normal(size=(499, 8))), None])}
    )
    p = profile(table)
    assert "e" not in p.columns and "e" not in p.skipped
    back = Profile.from_bytes(p.to_bytes())
    v, w = p.vectors["e"], back.vectors["e"]
    assert (w.rows, w.nulls, w.count, w.capacity) == (500, 1, 499, v.capacity)
    assert w.total is not None and v.total is not None
    np.testing.assert_array_equal(w.total, v.total)
    np.testing.assert_array_equal(w.sample, v.sample)
    np.testing.assert_array_equal(w.priorities, v.priorities)
    # a later batch without the column counts as nulls; merging keeps the rows aligned
    p.update(pa.table({"x": [1.0, 2.0]}))
    assert (p.vectors["e"].rows, p.vectors["e"].nulls) == (502, 3)
    assert Profile().merge(back).vectors["e"].rows == 500


def test_profiles_compare_embeddings_with_mmd() -> None:
    rng = np.random.default_rng(8)
    ref = profile(pa.table({"e": pa.array(list(rng.normal(size=(3000, 16))))}))
    same = profile(pa.table({"e": pa.array(list(rng.normal(size=(3000, 16))))}), like=ref)
    moved = profile(pa.table({"e": pa.array(list(rng.normal(0.2, 1.0, size=(3000, 16))))}), like=ref)
    quiet, loud = compare_profiles(ref, same).columns["e"], compare_profiles(ref, moved).columns["e"]
    assert quiet.method == loud.method == "mmd"
    assert not quiet.drift and loud.drift
    direct = mmd_test(ref.vectors["e"].sample, moved.vectors["e"].sample)
    assert loud.statistic == pytest.approx(direct.statistic, rel=1e-12)
