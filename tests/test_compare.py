"""``compare()``: every input kind, every bad input, config roles and overrides, forced methods,
corrections, the exact path, the dataset verdict, the JSON, and the defaults' false-alarm behaviour."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats

import vigil
from vigil import compare
from vigil.comparison.report import Report
from vigil.config import parse_config


def sample(seed: int, n: int = 3000, shift: float = 0.0) -> pd.DataFrame:
    """Float with nulls, small counts, a category, a flag; ``shift`` moves all four."""
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, n)
    x[rng.random(n) < 0.03] = np.nan
    return pd.DataFrame(
        {
            "x": x,
            "k": rng.poisson(3.0 + shift, n),
            "c": rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2] if shift == 0 else [0.4, 0.3, 0.3]),
            "flag": rng.random(n) < 0.3 + 0.1 * shift,
        }
    )


def verdicts(report: Report) -> dict[str, tuple[str, float, float | None, bool]]:
    return {n: (c.method, c.statistic, c.p_value, c.drift) for n, c in report.columns.items()}


def strict_json(text: str) -> Any:
    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in the JSON")

    return json.loads(text, parse_constant=refuse)


# --- inputs ----------------------------------------------------------------------------------------------

REF, CUR = sample(1), sample(2, shift=0.3)


def _polars(df: pd.DataFrame, tmp: Path, name: str) -> Any:
    pl = pytest.importorskip("polars")
    return pl.from_pandas(df)


def _parquet(df: pd.DataFrame, tmp: Path, name: str) -> Any:
    df.to_parquet(tmp / f"{name}.parquet", index=False)
    return tmp / f"{name}.parquet"


def _csv(df: pd.DataFrame, tmp: Path, name: str) -> Any:
    df.to_csv(tmp / f"{name}.csv", index=False)
    return str(tmp / f"{name}.csv")  # a path given as text


def _feather(df: pd.DataFrame, tmp: Path, name: str) -> Any:
    df.to_feather(tmp / f"{name}.feather")
    return tmp / f"{name}.feather"


@pytest.mark.parametrize(
    "convert",
    [
        lambda df, tmp, name: pa.Table.from_pandas(df, preserve_index=False),
        _polars,
        _parquet,
        _csv,
        _feather,
    ],
    ids=["arrow", "polars", "parquet", "csv", "feather"],
)
def test_every_input_kind_gives_the_pandas_result(
    tmp_path: Path, convert: Callable[[pd.DataFrame, Path, str], Any]
) -> None:
    expected = compare(REF, CUR)
    assert expected.drifted  # the shift is visible, so agreement is not agreement on "nothing"
    got = compare(convert(REF, tmp_path, "reference"), convert(CUR, tmp_path, "current"))
    assert verdicts(got) == verdicts(expected)
    assert [(q.check, q.column, q.status) for q in got.quality] == [
        (q.check, q.column, q.status) for q in expected.quality
    ]
    assert got.reference["rows"] == len(REF) and got.current["rows"] == len(CUR)


def test_parquet_text_read_dictionary_encoded_reports_as_decoded_text(tmp_path: Path) -> None:
    """Parquet text columns are read dictionary-encoded (faster); the report is the one of plain text: the
    same statistics, checks and the types the file declares (here a column that changed type, too)."""
    rng = np.random.default_rng(5)

    def table(shift: float, code_type: pa.DataType) -> pa.Table:
        n = 4000
        city = rng.choice(np.array([f"c{i}" for i in range(300)], dtype=object), n).astype(object)
        city[rng.random(n) < 0.05] = None
        return pa.table(
            {
                "x": rng.normal(shift, 1.0, n),
                "city": pa.array(city, pa.string()),
                "id": pa.array([f"u{i}-{shift}" for i in range(n)], pa.large_string()),
                "code": pa.array(rng.integers(0, 5, n).astype(str), pa.string()).cast(code_type),
            }
        )

    ref, cur = table(0.0, pa.string()), table(0.2, pa.string())
    cur = cur.set_column(3, "code", pa.array(rng.integers(0, 5, cur.num_rows)))  # text in ref, int in cur
    pq.write_table(ref, tmp_path / "ref.parquet")
    pq.write_table(cur, tmp_path / "cur.parquet")
    from_files = compare(tmp_path / "ref.parquet", tmp_path / "cur.parquet").to_dict()
    from_tables = compare(ref, cur).to_dict()
    for d in (from_files, from_tables):
        d.pop("generated_at"), d.pop("reference"), d.pop("current")
    assert from_files == from_tables
    changed = [q for q in from_files["quality"] if q["check"] == "type_change" and q["column"] == "code"]
    assert changed and changed[0]["values"] == {"reference_type": "string", "current_type": "int64"}


def test_a_file_source_is_named_in_the_report(tmp_path: Path) -> None:
    path = _parquet(REF, tmp_path, "reference")
    report = compare(path, CUR)
    assert report.reference["source"] == str(path)
    assert report.current["source"] == "pandas.DataFrame"


# --- bad input: always an InputError that says what is wrong ---------------------------------------------


def _corrupt_parquet(tmp: Path) -> Path:
    good = tmp / "good.parquet"
    REF.to_parquet(good)
    data = good.read_bytes()
    bad = tmp / "corrupt.parquet"
    bad.write_bytes(data[: len(data) // 2] + data[-8:])  # the footer's magic survives, its content does not
    return bad


def _write(name: str, content: bytes) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        (tmp / name).write_bytes(content)
        return tmp / name

    return make


def _empty_parquet(tmp: Path) -> Path:
    pq.write_table(pa.Table.from_pandas(REF.iloc[:0], preserve_index=False), tmp / "empty.parquet")
    return tmp / "empty.parquet"


BAD_INPUTS: dict[str, tuple[Callable[[Path], Any], list[str]]] = {
    "missing file": (lambda tmp: tmp / "nope.parquet", ["file not found", "nope.parquet"]),
    "directory": (lambda tmp: tmp, ["is a directory"]),
    "unknown extension": (_write("data.xlsx", b"PK\x03\x04"), ["unknown file type .xlsx", ".parquet"]),
    "no extension": (_write("data", b"x\n1\n"), ["unknown file type (none)"]),
    "garbage parquet": (_write("junk.parquet", b"not parquet at all" * 20), ["cannot read", "junk.parquet"]),
    "zero-byte parquet": (_write("zero.parquet", b""), ["cannot read", "zero.parquet"]),
    "truncated parquet": (_corrupt_parquet, ["cannot read", "corrupt.parquet"]),
    "garbage feather": (_write("junk.feather", b"ARROW1" + b"\x00" * 10), ["cannot read", "junk.feather"]),
    "zero-byte csv": (_write("zero.csv", b""), ["cannot read", "zero.csv"]),
    "ragged csv": (_write("ragged.csv", b"x,c\n1,a\n2,b,3\n"), ["cannot read", "ragged.csv"]),
    "header-only csv": (_write("header.csv", b"x,c,k,flag\n"), ["has no rows"]),
    "empty parquet": (_empty_parquet, ["has no rows"]),
    "empty DataFrame": (lambda tmp: REF.iloc[:0], ["has no rows"]),
    "no columns": (lambda tmp: pd.DataFrame(index=range(5)), ["has no columns"]),
    "duplicate column names": (
        lambda tmp: pd.DataFrame([[1.0, 2.0]] * 5, columns=["x", "x"]),
        ["duplicate column names", "x"],
    ),
    "unsupported object": (lambda tmp: [1, 2, 3], ["cannot read a list", "pandas"]),
    "None": (lambda tmp: None, ["cannot read a NoneType"]),
    "unconvertible pandas column": (
        lambda tmp: pd.DataFrame({"x": [1, "a", 2.5]}),
        ["could not be converted"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
@pytest.mark.parametrize("side", ["reference", "current"])
def test_bad_input_is_an_input_error_naming_the_side(tmp_path: Path, case: str, side: str) -> None:
    make, fragments = BAD_INPUTS[case]
    bad = make(tmp_path)
    args = (bad, CUR) if side == "reference" else (REF, bad)
    with pytest.raises(vigil.InputError) as caught:  # any other exception type fails the test
        compare(*args)
    message = str(caught.value)
    assert message.startswith(side), message
    for fragment in fragments:
        assert fragment in message, message
    assert "\n" not in message


def test_no_common_columns_names_the_columns_of_both() -> None:
    with pytest.raises(vigil.InputError) as caught:
        compare(pd.DataFrame({"age": [1.0, 2.0], "income": [3.0, 4.0]}), pd.DataFrame({"AGE": [1.0, 2.0]}))
    message = str(caught.value)
    assert "share no columns" in message
    assert "[age, income]" in message and "[AGE]" in message


def test_ignoring_every_common_column_is_an_input_error() -> None:
    with pytest.raises(vigil.InputError, match="share no columns"):
        compare(REF, CUR, ignore=list(REF.columns))


@pytest.mark.parametrize(
    ("kwargs", "fragments"),
    [
        ({"method": "kolmogorov"}, ["unknown drift method 'kolmogorov'", "ks", "chi2", "psi"]),
        ({"correction": "holm"}, ["unknown correction 'holm'", "bonferroni", "bh"]),
    ],
)
def test_unknown_method_or_correction_is_an_input_error(kwargs: dict[str, str], fragments: list[str]) -> None:
    with pytest.raises(vigil.InputError) as caught:
        compare(REF, CUR, **kwargs)  # type: ignore[arg-type]
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_a_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(vigil.ConfigError, match="file not found"):
        compare(REF, CUR, config=tmp_path / "vigil.yaml")


# --- what is tested and what is skipped ------------------------------------------------------------------


def test_an_all_null_column_is_reported_not_raised() -> None:
    cur = CUR.assign(x=None)
    report = compare(REF, cur)
    assert "x" not in report.columns
    assert "entirely null in current" in report.skipped["x"]
    null = [q for q in report.quality if q.check == "null_rate" and q.column == "x"]
    assert [q.status for q in null] == ["fail"]
    assert set(report.columns) == {"k", "c", "flag"}
    strict_json(report.to_json())


def test_ignore_leaves_columns_out_of_tests_and_checks() -> None:
    cur = CUR.assign(x=None)  # would fail the null check if it were looked at
    report = compare(REF, cur, ignore=["x", "c"])
    assert set(report.columns) == {"k", "flag"}
    assert report.skipped["x"] == report.skipped["c"] == "ignored (--ignore)"
    assert not [q for q in report.quality if q.column in ("x", "c")]
    assert not report.failed_checks


def people(seed: int, n: int = 2000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    emails = np.array([f"secret.person{i}@private.example" for i in range(5)])
    return pd.DataFrame(
        {
            "user_id": np.arange(n) + seed * n,
            "email": emails[rng.integers(0, 5, n)],  # few values: it would be profiled as a category
            "seen_at": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 10**6, n), "s"),
            "score": rng.normal(size=n),
            "label": rng.choice(["yes", "no"], n),
        }
    )


ROLES = """\
columns:
  user_id: {role: id}
  email: {role: pii}
  seen_at: {role: timestamp}
  label: {role: target}
"""


def test_config_roles_skip_ids_pii_and_timestamps_with_their_reason() -> None:
    report = compare(people(1), people(2), config=parse_config(ROLES))
    assert set(report.columns) == {"score", "label"}
    assert "role: id" in report.skipped["user_id"]
    assert "role: pii" in report.skipped["email"]
    assert "role: timestamp" in report.skipped["seen_at"]
    assert report.columns["label"].note == "target drift"
    assert not [q for q in report.quality if q.column in ("user_id", "email", "seen_at")]


def test_pii_values_never_reach_the_report() -> None:
    ref, cur = people(1), people(2)
    values = set(ref["email"]) | set(cur["email"])
    unprotected = compare(ref, cur).to_json()
    assert any(v in unprotected for v in values)  # without the role they do show (mode, labels)
    report = compare(ref, cur, config=parse_config(ROLES))
    for text in (report.to_json(), report.to_html()):
        assert not any(v in text for v in values)
        assert "secret.person" not in text


def test_config_per_column_method_and_threshold_override() -> None:
    ref, cur = sample(1), sample(2, shift=1.0)
    plain = compare(ref, cur)
    assert plain.columns["x"].drift and plain.columns["x"].method == "ks"
    cfg = parse_config("columns:\n  x: {type: numeric, drift: {method: psi, threshold: 50}}\n")
    report = compare(ref, cur, config=cfg)
    x = report.columns["x"]
    assert (x.method, x.threshold, x.threshold_source) == ("psi", 50.0, "config")
    assert x.p_value is not None and x.p_value < 1e-10 and x.effect < 50
    assert not x.drift  # significant, but below the declared threshold
    others = {n: c.threshold_source for n, c in report.columns.items() if n != "x"}
    assert set(others.values()) == {"default"}


def test_config_method_thresholds_apply_to_every_column_of_that_method() -> None:
    report = compare(REF, CUR, config=parse_config("drift: {thresholds: {chi2: 0.5}}"))
    for column in report.columns.values():
        if column.method == "chi2":
            assert (column.threshold, column.threshold_source) == (0.5, "config")
            assert not column.drift
        else:
            assert column.threshold_source == "default"
    assert report.columns["c"].method == "chi2" and report.columns["x"].method == "ks"


# --- forced methods, corrections, exact ------------------------------------------------------------------


def test_method_psi_applies_to_numeric_and_categorical_columns() -> None:
    report = compare(REF, CUR, method="psi")
    assert {c.method for c in report.columns.values()} == {"psi"}
    assert report.settings["method"] == "psi"
    # categorical PSI from the shares of the input: sum (c - r) ln(c / r)
    r = REF["c"].value_counts(normalize=True)
    c = CUR["c"].value_counts(normalize=True)
    expected = float(sum((c[k] - r[k]) * math.log(c[k] / r[k]) for k in r.index))
    assert report.columns["c"].statistic == pytest.approx(expected, rel=1e-9)
    assert report.columns["c"].threshold == 0.2


def test_method_ks_applies_to_numeric_columns_only() -> None:
    report = compare(REF, CUR, method="ks")
    methods = {n: c.method for n, c in report.columns.items()}
    assert methods == {"x": "ks", "k": "ks", "c": "chi2", "flag": "chi2"}


def _grid_shift() -> tuple[pd.DataFrame, pd.DataFrame]:
    """``x``: the values 0..199, then moved up by 30 (KS D = 30/200 exactly, p about 0.02); three columns
    that did not move."""
    n, step = 200, 30
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"x": np.arange(n, dtype=float), "y": rng.normal(size=n), "z": rng.normal(size=n)})
    cur = pd.DataFrame(
        {"x": np.arange(n, dtype=float) + step, "y": rng.normal(size=n), "z": rng.normal(size=n)}
    )
    ref["w"], cur["w"] = rng.normal(size=n), rng.normal(size=n)
    return ref, cur


def test_bonferroni_multiplies_p_values_by_the_number_of_tests() -> None:
    ref, cur = _grid_shift()
    plain = compare(ref, cur, exact=True)
    assert plain.columns["x"].drift
    assert all(c.p_value_adjusted is None for c in plain.columns.values())
    report = compare(ref, cur, exact=True, correction="bonferroni")
    m = len(report.columns)
    for column in report.columns.values():
        assert column.p_value is not None
        assert column.p_value_adjusted == pytest.approx(min(1.0, column.p_value * m))
    x = report.columns["x"]
    assert x.p_value is not None and x.p_value < 0.05 <= x.p_value * m
    assert not x.drift  # the verdict uses the adjusted p-value
    assert report.settings["correction"] == "bonferroni"


def test_exact_gives_scipy_ks_on_the_raw_values() -> None:
    ref, cur = sample(1), sample(2, shift=0.05)
    report = compare(ref, cur, exact=True)
    x = report.columns["x"]
    expected = stats.ks_2samp(ref["x"].dropna(), cur["x"].dropna())
    assert x.method == "ks"
    assert x.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert x.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert x.error_bound is None

    sketched = compare(ref, cur).columns["x"]  # the default reads sketches, within its stated bound
    assert sketched.error_bound is not None
    assert abs(sketched.effect - expected.statistic) <= sketched.error_bound + 1e-12


def test_exact_is_the_scipy_value_on_a_known_shift() -> None:
    ref, cur = _grid_shift()
    x = compare(ref, cur, exact=True).columns["x"]
    expected = stats.ks_2samp(ref["x"], cur["x"])
    assert x.statistic == pytest.approx(expected.statistic) == pytest.approx(30 / 200)
    assert x.p_value == pytest.approx(expected.pvalue, rel=1e-9)


# --- the dataset verdict and the JSON --------------------------------------------------------------------


def _four(drifted: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(7)
    n = 4000
    ref = pd.DataFrame({f"f{i}": rng.normal(size=n) for i in range(4)})
    cur = pd.DataFrame({f"f{i}": rng.normal(1.0 if i < drifted else 0.0, 1.0, n) for i in range(4)})
    return ref, cur


@pytest.mark.parametrize("drifted", [0, 1, 2, 3])
def test_drift_share_and_dataset_drift(drifted: int) -> None:
    ref, cur = _four(drifted)
    report = compare(ref, cur)
    assert report.drifted == [f"f{i}" for i in range(drifted)]
    assert report.n_tested == 4
    assert report.drift_share == drifted / 4
    assert report.dataset_drift == (drifted / 4 >= 0.5)
    strict = compare(ref, cur, config=parse_config("drift: {drift_share: 0.75}"))
    assert strict.dataset_drift == (drifted >= 3)
    data = strict_json(strict.to_json())
    assert (data["drift_share"], data["n_drifted"], data["n_tested"]) == (drifted / 4, drifted, 4)


def test_json_has_the_documented_keys_and_is_strict() -> None:
    rng = np.random.default_rng(3)
    n = 1000
    ref = pd.DataFrame({"x": rng.normal(size=n), "const": 1.0, "c": rng.choice(["a", "b"], n)})
    cur = pd.DataFrame({"x": rng.normal(size=n), "const": 2.0, "c": rng.choice(["a", "b"], n)})
    cur.loc[:99, "x"] = np.inf  # non-finite values must not leak as NaN or Infinity
    report = compare(ref, cur.assign(gone=None), method="wasserstein")  # effect / sd 0 = inf for const
    data = strict_json(report.to_json())
    assert isinstance(data["dataset_drift"], bool)
    assert data["drift_share"] == report.drift_share
    assert set(data["columns"]) == set(report.columns) == {"x", "const", "c"}
    for name, column in data["columns"].items():
        for key in ("type", "method", "statistic", "p_value", "threshold", "drift"):
            assert key in column, (name, key)
        assert column["drift"] == report.columns[name].drift
    assert data["columns"]["c"]["type"] == "categorical" and data["columns"]["x"]["type"] == "numeric"
    assert isinstance(data["quality"], list) and data["quality"]
    for check in data["quality"]:
        assert set(check) == {"check", "column", "status", "message", "values"}
        assert check["status"] in ("pass", "warn", "fail")
    assert {"check": "new_column", "column": "gone"}.items() <= next(
        q for q in data["quality"] if q["column"] == "gone"
    ).items()


# --- the defaults: no false alarms on large samples, real changes found ----------------------------------


def shapes(seed: int, n: int = 200_000, shift: float = 0.0, share: float = 0.10) -> pd.DataFrame:
    """Five columns of assorted shapes; ``shift`` moves ``normal`` by that many sd, ``share`` is the share
    of category ``d`` (the others keep their proportions)."""
    rng = np.random.default_rng(seed)
    rest = (1.0 - share) / 0.9
    return pd.DataFrame(
        {
            "normal": rng.normal(50.0, 10.0, n) + 10.0 * shift,
            "lognormal": rng.lognormal(3.0, 1.0, n),
            "counts": rng.poisson(4.0, n),
            "category": rng.choice(["a", "b", "c", "d"], n, p=[0.5 * rest, 0.3 * rest, 0.1 * rest, share]),
            "bimodal": np.where(rng.random(n) < 0.3, rng.normal(-2.0, 0.5, n), rng.normal(3.0, 1.0, n)),
        }
    )


@pytest.mark.parametrize("seed", [0, 10])
def test_independent_draws_from_the_same_distributions_flag_nothing(seed: int) -> None:
    report = compare(shapes(seed), shapes(seed + 1))
    assert report.n_tested == 5
    assert report.drifted == []
    assert not report.dataset_drift


def test_a_half_sd_shift_and_a_category_share_change_are_exactly_what_is_flagged() -> None:
    report = compare(shapes(0), shapes(1, shift=0.5, share=0.25))
    assert sorted(report.drifted) == ["category", "normal"]
    assert report.columns["normal"].method == "ks"
    assert report.columns["category"].method == "chi2"
