"""Data-quality checks, run the way users run them (through ``compare``), on data with known trouble.

Every expected number is derived from what the test injected, never copied from an output.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from vigil import compare
from vigil.comparison.report import Report
from vigil.config import parse_config
from vigil.quality import Check

N = 5000


def frame(seed: int, n: int = N) -> pd.DataFrame:
    """A numeric, a categorical and a small-integer column; no two rows alike (``x`` is continuous)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(0.0, 1.0, n),
            "c": rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1]),
            "k": rng.integers(0, 5, n),
        }
    )


def shuffled(df: pd.DataFrame, seed: int = 99) -> pd.DataFrame:
    """The same rows in another order: identical distributions and ranges, so only injected trouble shows."""
    return df.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def find(report: Report, check: str, column: str | None) -> Check:
    found = [c for c in report.quality if c.check == check and c.column == column]
    assert len(found) == 1, [(c.check, c.column, c.status) for c in report.quality]
    return found[0]


def present(report: Report, check: str, column: str | None = None) -> bool:
    return any(c.check == check and c.column == column for c in report.quality)


def with_nulls(df: pd.DataFrame, column: str, count: int, seed: int = 5) -> pd.DataFrame:
    out = df.copy()
    rows = np.random.default_rng(seed).choice(len(out), size=count, replace=False)
    out[column] = out[column].astype("float64" if column != "c" else object)
    out.loc[rows, column] = None
    return out


# --- null rate -------------------------------------------------------------------------------------------


def test_null_rate_fails_on_injected_nulls_and_reports_the_rate() -> None:
    ref = frame(1)
    injected = int(0.12 * N)
    cur = with_nulls(shuffled(ref), "x", injected)
    check = find(compare(ref, cur), "null_rate", "x")
    assert check.status == "fail"
    assert check.values["reference"] == 0.0
    assert check.values["current"] == pytest.approx(injected / N)
    assert check.values["current_nulls"] == injected
    assert check.values["current_rows"] == N
    assert "12%" in check.message


def test_null_rate_warns_between_the_warn_and_fail_levels() -> None:
    ref = frame(1)
    cur = with_nulls(shuffled(ref), "c", int(0.03 * N))  # a 3-point rise: above warn (1), below fail (5)
    check = find(compare(ref, cur), "null_rate", "c")
    assert check.status == "warn"
    assert check.values["current"] == pytest.approx(0.03)


def test_null_rate_passes_when_the_rate_is_unchanged_and_honours_config_levels() -> None:
    ref = with_nulls(frame(1), "x", 500)
    cur = with_nulls(frame(2), "x", 500, seed=6)
    check = find(compare(ref, cur), "null_rate", "x")
    assert check.status == "pass"
    assert check.values["reference"] == check.values["current"] == pytest.approx(0.1)

    risen = with_nulls(frame(2), "x", 900, seed=6)  # 10% → 18%: fails at the defaults...
    assert find(compare(ref, risen), "null_rate", "x").status == "fail"
    lenient = parse_config("quality: {null_rate_warn: 0.2, null_rate_fail: 0.3}")
    assert find(compare(ref, risen, config=lenient), "null_rate", "x").status == "pass"  # ...not here


@pytest.mark.parametrize(
    ("ref_nulls", "ref_rows", "cur_nulls", "cur_rows", "status"),
    [
        (10, 1000, 1, 30, "pass"),  # 1% → 3.3%: above the warn level, but one null in 30 proves nothing
        (0, 1000, 1, 20, "pass"),  # 0% → 5%: one null in 20 rows (a 2% chance if nothing changed)
        (0, 1000, 3, 20, "fail"),  # 0% → 15%: three in 20 is significant (p < 1e-5)
    ],
)
def test_null_rate_rise_on_a_tiny_sample_needs_significance(
    ref_nulls: int, ref_rows: int, cur_nulls: int, cur_rows: int, status: str
) -> None:
    ref = with_nulls(frame(1, ref_rows), "x", ref_nulls)
    cur = with_nulls(frame(2, cur_rows), "x", cur_nulls)
    check = find(compare(ref, cur), "null_rate", "x")
    assert check.values["current"] - check.values["reference"] > 0.01  # the rise alone would warn
    assert check.values["current_nulls"] == cur_nulls
    assert check.status == status


def _all_null_pandas(tmp_path: Path, cur: pd.DataFrame) -> object:
    return cur.assign(x=np.nan)


def _all_null_arrow(tmp_path: Path, cur: pd.DataFrame) -> object:
    table = pa.Table.from_pandas(cur, preserve_index=False)
    return table.set_column(0, "x", pa.nulls(len(cur)))  # Arrow type null, as an all-empty column reads


def _all_null_csv(tmp_path: Path, cur: pd.DataFrame) -> object:
    path = tmp_path / "current.csv"
    cur.assign(x=None).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("make", [_all_null_pandas, _all_null_arrow, _all_null_csv])
def test_entirely_null_current_column_fails_and_is_not_drift_tested(
    tmp_path: Path, make: Callable[[Path, pd.DataFrame], object]
) -> None:
    ref = frame(1)
    cur = make(tmp_path, shuffled(ref))
    report = compare(ref, cur)
    check = find(report, "null_rate", "x")
    assert check.status == "fail"
    assert "entirely null" in check.message and str(N) in check.message
    assert check.values["current"] == 1.0 and check.values["current_nulls"] == N
    assert "x" not in report.columns
    assert "entirely null" in report.skipped["x"]
    assert set(report.columns) == {"c", "k"}  # the other columns are still tested


# --- schema and types ------------------------------------------------------------------------------------


def test_schema_passes_when_columns_and_types_match() -> None:
    ref = frame(1)
    report = compare(ref, shuffled(ref))
    assert find(report, "schema", None).status == "pass"
    assert not any(c.check in ("missing_column", "new_column", "type_change") for c in report.quality)


def test_missing_column_fails_and_new_column_warns() -> None:
    ref = frame(1)
    cur = shuffled(ref).drop(columns=["k"]).assign(extra=1.5)
    report = compare(ref, cur)
    missing = find(report, "missing_column", "k")
    assert missing.status == "fail"
    assert missing.values["reference_type"] == "int64"
    new = find(report, "new_column", "extra")
    assert new.status == "warn"
    assert new.values["current_type"] == "double"
    assert set(report.columns) == {"x", "c"}  # neither is drift-tested
    assert not present(report, "schema")


def test_numbers_arriving_as_text_are_a_type_change_but_still_tested_as_numbers() -> None:
    ref = frame(1)
    cur = shuffled(ref)
    cur["x"] = cur["x"].map(repr)  # every value still parses
    report = compare(ref, cur)
    change = find(report, "type_change", "x")
    assert change.status == "warn"
    assert change.values["reference_type"] == "double"
    assert "string" in change.values["current_type"]
    assert not present(report, "type_mismatch", "x")
    assert report.columns["x"].type == "numeric"
    assert not report.columns["x"].drift  # the same values, read back as numbers


def test_words_in_a_numeric_csv_column_are_counted_as_type_mismatches(tmp_path: Path) -> None:
    ref = frame(1)
    cur = shuffled(ref)
    words = 13
    cur["x"] = cur["x"].astype(object)
    cur.loc[np.random.default_rng(3).choice(N, words, replace=False), "x"] = "oops"
    ref.to_csv(tmp_path / "reference.csv", index=False)
    cur.to_csv(tmp_path / "current.csv", index=False)

    report = compare(tmp_path / "reference.csv", tmp_path / "current.csv")
    mismatch = find(report, "type_mismatch", "x")
    assert mismatch.status == "fail"
    assert mismatch.values["count"] == words
    assert mismatch.values["share"] == pytest.approx(words / N)
    assert f"{words} values" in mismatch.message
    assert find(report, "type_change", "x").status == "fail"
    # the column is still read as numbers: the words became nulls and the rest is compared
    assert find(report, "null_rate", "x").values["current_nulls"] == words
    assert report.columns["x"].type == "numeric"
    assert report.columns["x"].current["rows"] == N


# --- ranges ----------------------------------------------------------------------------------------------

BOUNDED = parse_config("columns:\n  x: {type: numeric, min: -10, max: 10}\n")


def test_declared_bounds_fail_on_any_value_outside() -> None:
    ref = frame(1)
    cur = shuffled(ref)
    above, below = 25, 5
    cur.loc[: above - 1, "x"] = 50.0
    cur.loc[above : above + below - 1, "x"] = -50.0
    check = find(compare(ref, cur, config=BOUNDED), "out_of_range", "x")
    assert check.status == "fail"
    assert check.values["min"] == -10 and check.values["max"] == 10
    assert check.values["count"] == above + below
    assert check.values["share"] == pytest.approx((above + below) / N)
    assert check.values["current_max"] == 50.0 and check.values["current_min"] == -50.0

    one = shuffled(ref)
    one.loc[0, "x"] = 10.5  # a single value is enough to fail
    single = find(compare(ref, one, config=BOUNDED), "out_of_range", "x")
    assert single.status == "fail" and single.values["count"] == 1


def test_declared_bounds_pass_when_every_value_is_inside() -> None:
    ref = frame(1)
    check = find(compare(ref, shuffled(ref), config=BOUNDED), "out_of_range", "x")
    assert check.status == "pass"
    assert check.values["count"] == 0


def test_values_beyond_the_reference_range_warn_above_the_tolerance() -> None:
    ref = frame(1)
    top = float(ref["x"].max())
    cur = shuffled(ref)  # same values, so the same range, until the injection
    beyond = 50  # 1% of the rows, tolerance 0.1%
    cur.loc[: beyond - 1, "x"] = top + 1.0 + np.arange(beyond) / 10
    check = find(compare(ref, cur), "out_of_range", "x")
    assert check.status == "warn"
    assert check.values["max"] == top and check.values["min"] == float(ref["x"].min())
    assert check.values["count"] == beyond
    assert check.values["share"] == pytest.approx(beyond / N)

    loose = parse_config("quality: {range_tolerance: 0.02}")
    assert find(compare(ref, cur, config=loose), "out_of_range", "x").status == "pass"


def test_a_few_values_beyond_the_reference_range_stay_within_the_tolerance() -> None:
    ref = frame(1)
    cur = shuffled(ref)
    cur.loc[:1, "x"] = float(ref["x"].max()) + 5.0  # 2 of 5000 = 0.04% < 0.1%
    check = find(compare(ref, cur), "out_of_range", "x")
    assert check.status == "pass"
    assert check.values["count"] == 2


def test_infinities_are_outside_declared_bounds() -> None:
    ref = frame(1)
    cur = shuffled(ref)
    infinite = 50
    cur.loc[: infinite - 1, "x"] = np.inf
    check = find(compare(ref, cur, config=BOUNDED), "out_of_range", "x")
    assert check.status == "fail"
    assert check.values["count"] == check.values["non_finite"] == infinite
    assert check.values["share"] == pytest.approx(infinite / N)


def test_infinities_beyond_the_reference_range_warn_unless_the_reference_had_as_many() -> None:
    ref = frame(1)
    cur = shuffled(ref)
    infinite = 20  # 0.4% > 0.1%
    cur.loc[: infinite - 1, "x"] = -np.inf
    check = find(compare(ref, cur), "out_of_range", "x")
    assert check.status == "warn"
    assert check.values["count"] == infinite
    assert find(compare(cur, shuffled(cur)), "out_of_range", "x").status == "pass"


# --- categories ------------------------------------------------------------------------------------------

ALLOWED = parse_config("columns:\n  c: {type: categorical, allowed: [a, b, c, d]}\n")


def test_values_outside_the_declared_list_fail() -> None:
    ref = frame(1)
    cur = shuffled(ref)
    bad = 17
    cur.loc[: bad - 1, "c"] = "zz"
    check = find(compare(ref, cur, config=ALLOWED), "unexpected_category", "c")
    assert check.status == "fail"
    assert check.values["count"] == bad
    assert check.values["share"] == pytest.approx(bad / N)
    assert check.values["examples"] == ["zz"]
    assert "zz" in check.message
    assert not present(compare(ref, cur, config=ALLOWED), "unseen_category", "c")


def test_declared_list_passes_when_every_value_is_listed() -> None:
    ref = frame(1)
    check = find(compare(ref, shuffled(ref), config=ALLOWED), "unexpected_category", "c")
    assert check.status == "pass"
    assert check.values["count"] == 0


def test_categories_unseen_in_the_reference_warn() -> None:
    ref = frame(1)
    cur = shuffled(ref)
    cur.loc[:29, "c"] = "new"
    cur.loc[30:39, "c"] = "newer"
    check = find(compare(ref, cur), "unseen_category", "c")
    assert check.status == "warn"
    assert check.values["count"] == 40
    assert check.values["categories"] == 2
    assert check.values["share"] == pytest.approx(40 / N)
    assert check.values["examples"] == ["new", "newer"]  # most frequent first

    tolerant = parse_config("quality: {unseen_tolerance: 0.01}")  # 0.8% is within 1%
    assert find(compare(ref, cur, config=tolerant), "unseen_category", "c").status == "pass"


def test_no_unseen_categories_passes() -> None:
    ref = frame(1)
    check = find(compare(ref, frame(2)), "unseen_category", "c")
    assert check.status == "pass"
    assert check.values["count"] == 0 and check.values["examples"] == []


# --- constant columns ------------------------------------------------------------------------------------


def test_a_column_gone_constant_warns_with_its_value() -> None:
    ref = frame(1)
    cur = shuffled(ref).assign(x=7.0, c="b")
    report = compare(ref, cur)
    x = find(report, "constant_column", "x")
    assert x.status == "warn"
    assert x.values == {"value": "7", "reference_constant": False}
    c = find(report, "constant_column", "c")
    assert c.values == {"value": "b", "reference_constant": False}
    assert "the reference varied" in c.message


def test_constant_in_both_says_so_and_varying_columns_get_no_constant_check() -> None:
    ref = frame(1).assign(flag="on")
    report = compare(ref, shuffled(ref))
    flag = find(report, "constant_column", "flag")
    assert flag.values["reference_constant"] is True
    assert not any(present(report, "constant_column", n) for n in ("x", "c", "k"))


# --- duplicate rows --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("injected", "status"), [(0, "pass"), (20, "pass"), (300, "warn")])
def test_duplicate_rows_are_counted_exactly(injected: int, status: str) -> None:
    ref = frame(1)  # no two rows alike
    base = frame(2)
    cur = pd.concat([base, base.sample(injected, random_state=4)], ignore_index=True)
    check = find(compare(ref, cur), "duplicate_rows", None)
    assert check.values["reference"] == 0
    assert check.values["current"] == injected
    assert check.values["current_share"] == pytest.approx(injected / len(cur))
    # a warning needs more than 1 point above the reference's share: 20 of 5020 is 0.4%, 300 of 5300 is 5.7%
    assert check.status == status


def test_duplicates_as_common_as_in_the_reference_pass() -> None:
    base = frame(1)
    ref = pd.concat([base, base.iloc[:300]], ignore_index=True)
    check = find(compare(ref, shuffled(ref)), "duplicate_rows", None)
    assert check.values["reference"] == check.values["current"] == 300
    assert check.status == "pass"
