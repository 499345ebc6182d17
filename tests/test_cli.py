"""The ``vigil`` command line: reports written, check gates and exit codes, errors as one line, the demo.

Exit codes and stream contents are tested on real runs of the installed console script; option handling
through click's runner (same code, no interpreter start-up).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pytest
from click.testing import CliRunner, Result

import vigil
from vigil.cli.main import main
from vigil.examples.loans import TRUE_DRIFT

N = 3000


def table(seed: int, *, shifted: int = 0) -> pd.DataFrame:
    """Four columns; the first ``shifted`` of them moved far enough to be flagged."""
    rng = np.random.default_rng(seed)
    move = [1.0 if i < shifted else 0.0 for i in range(4)]
    return pd.DataFrame(
        {
            "a": rng.normal(move[0], 1.0, N),
            "b": rng.gamma(2.0 + 2 * move[1], 1.0, N),
            "c": rng.choice(["x", "y", "z"], N, p=[0.6, 0.3, 0.1] if not move[2] else [0.2, 0.3, 0.5]),
            "d": rng.integers(0, 100, N) + 30 * move[3],
        }
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Parquet files: a reference, and currents that are clean, drifted, or carry one kind of trouble."""
    folder = tmp_path_factory.mktemp("data")
    clean = table(2)
    warn_only = clean.copy()
    warn_only.loc[: N // 100 - 1, "c"] = "new"  # 1% of a category never seen: a warning, not drift
    fail_only = clean.copy()
    fail_only.loc[: N // 10 - 1, "a"] = np.nan  # 10% nulls: a failed check, not drift
    frames = {
        "reference": table(1),
        "clean": clean,
        "drifted": table(2, shifted=3),
        "one_drifted": table(2, shifted=1),
        "warn_only": warn_only,
        "fail_only": fail_only,
    }
    paths = {}
    for name, frame in frames.items():
        paths[name] = folder / f"{name}.parquet"
        frame.to_parquet(paths[name], index=False)
    return paths


def invoke(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def run(exe: str, *args: object, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The installed script, its output captured (so neither stream is a terminal)."""
    return subprocess.run(
        [exe, *map(str, args)], capture_output=True, text=True, timeout=120, cwd=cwd, check=False
    )


def strict_json(path: Path) -> Any:
    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in {path}")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


# --- exit codes, on the installed script -----------------------------------------------------------------


def test_check_exits_1_on_drifted_data(vigil_exe: str, data: dict[str, Path]) -> None:
    done = run(vigil_exe, "check", "-r", data["reference"], "-c", data["drifted"])
    assert done.returncode == 1, done.stderr
    assert "CHECK FAILED" in done.stdout
    assert "dataset drift: 3 of 4 columns drifted" in done.stdout


def test_check_exits_0_on_clean_data_and_prints_no_progress_when_not_a_terminal(
    vigil_exe: str, data: dict[str, Path]
) -> None:
    done = run(vigil_exe, "check", "-r", data["reference"], "-c", data["clean"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "CHECK PASSED" in done.stdout
    assert done.stderr == ""  # no progress bar, no warnings


def test_a_missing_file_exits_2_with_one_error_line(
    vigil_exe: str, data: dict[str, Path], tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere.parquet"
    done = run(vigil_exe, "check", "-r", data["reference"], "-c", missing)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ")
    assert done.stderr.count("\n") == 1  # one line
    assert "current" in done.stderr and "file not found" in done.stderr and str(missing) in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_a_corrupt_feather_file_exits_2_instead_of_crashing(
    vigil_exe: str, data: dict[str, Path], tmp_path: Path
) -> None:
    # a well-formed file whose string offsets point far outside the data (used unchecked, this crashed)
    n = 1000
    words = [f"v{i % 7}" for i in range(n)]
    good = tmp_path / "good.feather"
    feather.write_feather(pa.table({"c": words}), good, compression="uncompressed")
    raw = bytearray(good.read_bytes())
    offsets = np.cumsum([0] + [len(w) for w in words]).astype("<i4").tobytes()
    at = raw.find(offsets[:64])
    assert at > 0
    raw[at + 400 : at + 404] = (2**30).to_bytes(4, "little")
    bad = tmp_path / "bad.feather"
    bad.write_bytes(bytes(raw))

    done = run(vigil_exe, "report", "-r", bad, "-c", good)
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.startswith("error: reference: cannot read") and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


def test_validate_reports_file_and_line_and_exits_2(vigil_exe: str, tmp_path: Path) -> None:
    text = (
        "version: 1\ndrift:\n  alpha: 0.05\n  drift_share: 2\n"
        "columns:\n  age: {type: numeric, min: 5, max: 1}\n"
    )
    lines = text.splitlines()
    share_line = 1 + next(i for i, line in enumerate(lines) if "drift_share" in line)
    age_line = 1 + next(i for i, line in enumerate(lines) if line.strip().startswith("age:"))
    path = tmp_path / "vigil.yaml"
    path.write_text(text, encoding="utf-8")
    done = run(vigil_exe, "validate", path)
    assert done.returncode == 2
    assert f"{path}:{share_line}:" in done.stderr and "drift.drift_share" in done.stderr
    assert f"{path}:{age_line}:" in done.stderr and "columns.age.min" in done.stderr
    assert "Traceback" not in done.stderr


def test_demo_flags_exactly_the_injected_drift_and_quality_trouble(vigil_exe: str, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    done = run(vigil_exe, "demo-report", "--out", out, "--rows", 20_000)
    assert done.returncode == 0, done.stderr
    report = strict_json(out / "report.json")
    assert (
        (out / "report.html")
        .read_text(encoding="utf-8")
        .lstrip()[:15]
        .lower()
        .startswith(("<!doctype", "<html"))
    )

    drifted = {name for name, column in report["columns"].items() if column["drift"]}
    assert drifted == set(TRUE_DRIFT)

    # the trouble, measured on the generated current table rather than copied from the story
    cur = pd.read_parquet(out / "current.parquet")
    ref = pd.read_parquet(out / "reference.parquet")
    bad = {(q["check"], q["column"]): q for q in report["quality"] if q["status"] != "pass"}
    assert set(bad) == {("null_rate", "debt_ratio"), ("out_of_range", "age"), ("unseen_category", "region")}
    nulls = bad[("null_rate", "debt_ratio")]
    assert nulls["status"] == "fail"
    assert nulls["values"]["current"] == pytest.approx(cur["debt_ratio"].isna().mean())
    assert nulls["values"]["reference"] == pytest.approx(ref["debt_ratio"].isna().mean())
    ages = bad[("out_of_range", "age")]
    assert ages["status"] == "fail"
    assert ages["values"]["count"] == int(((cur["age"] < 18) | (cur["age"] > 120)).sum())
    region = bad[("unseen_category", "region")]
    assert region["status"] == "warn"
    unseen = ~cur["region"].isin(set(ref["region"]))
    assert region["values"]["examples"] == sorted(set(cur.loc[unseen, "region"]))
    assert region["values"]["count"] == int(unseen.sum())

    # identifiers, timestamps and personal data are left out, and the e-mails never appear
    assert set(report["skipped"]) == {"application_id", "submitted_at", "email"}
    text = (out / "report.json").read_text(encoding="utf-8") + (out / "report.html").read_text(
        encoding="utf-8"
    )
    assert not any(email in text for email in cur["email"].head(200))
    assert "Dataset drift" in done.stdout


# --- report ----------------------------------------------------------------------------------------------


def test_report_writes_json_and_html(data: dict[str, Path], tmp_path: Path) -> None:
    json_out, html_out = tmp_path / "r.json", tmp_path / "r.html"
    result = invoke(
        "report", "-r", data["reference"], "-c", data["drifted"], "--json", json_out, "--html", html_out
    )
    assert result.exit_code == 0, result.output
    written = strict_json(json_out)
    expected = vigil.compare(data["reference"], data["drifted"])
    assert {n: c["drift"] for n, c in written["columns"].items()} == {
        n: c.drift for n, c in expected.columns.items()
    }
    assert written["dataset_drift"] is True
    assert html_out.read_text(encoding="utf-8").lstrip()[:15].lower().startswith(("<!doctype", "<html"))
    assert f"wrote {json_out}" in result.stdout and f"wrote {html_out}" in result.stdout
    assert "Dataset drift: YES" in result.stdout


def test_report_options_reach_compare(data: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    args = ["report", "-r", data["reference"], "-c", data["drifted"], "--json", out]
    result = invoke(*args, "--method", "psi", "--ignore", "b, d", "--correction", "bonferroni")
    assert result.exit_code == 0, result.output
    written = strict_json(out)
    assert set(written["columns"]) == {"a", "c"}
    assert {c["method"] for c in written["columns"].values()} == {"psi"}
    assert written["settings"]["correction"] == "bonferroni"
    assert written["skipped"] == {"b": "ignored (--ignore)", "d": "ignored (--ignore)"}


def test_an_unwritable_output_is_an_error_line_not_a_traceback(data: dict[str, Path], tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "dir" / "r.html"
    result = invoke("report", "-r", data["reference"], "-c", data["clean"], "--html", target)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: cannot write the HTML report") and str(target) in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_bad_data_through_the_runner_is_exit_2_with_the_reason(data: dict[str, Path], tmp_path: Path) -> None:
    text = tmp_path / "notes.xlsx"
    text.write_text("x", encoding="utf-8")
    result = invoke("report", "-r", text, "-c", data["clean"])
    assert result.exit_code == 2
    assert result.stderr == f"error: reference: unknown file type .xlsx for {text}; " + (
        "use .parquet, .csv, .tsv (optionally .gz) or .feather\n"
    )


# --- check gates -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "level", "code"),
    [
        ("warn_only", "fail", 0),
        ("warn_only", "warn", 1),
        ("warn_only", "off", 0),
        ("fail_only", "fail", 1),
        ("fail_only", "warn", 1),
        ("fail_only", "off", 0),
    ],
)
def test_quality_levels(data: dict[str, Path], current: str, level: str, code: int) -> None:
    result = invoke("check", "-r", data["reference"], "-c", data[current], "--quality", level)
    assert result.exit_code == code, result.output
    if code:
        assert "CHECK FAILED" in result.stdout and f"at '{level}' or worse" in result.stdout
    else:
        assert "CHECK PASSED" in result.stdout
    assert "Dataset drift: no — 0 of 4 columns drifted" in result.stdout  # only quality decides here


def test_the_default_quality_level_is_fail(data: dict[str, Path]) -> None:
    assert invoke("check", "-r", data["reference"], "-c", data["fail_only"]).exit_code == 1
    assert invoke("check", "-r", data["reference"], "-c", data["warn_only"]).exit_code == 0


@pytest.mark.parametrize(("limit", "code"), [("0.2", 1), ("0.25", 0), ("0.3", 0), (None, 0)])
def test_max_drift_share(data: dict[str, Path], limit: str | None, code: int) -> None:
    """One of four columns drifted: 25%, below the default dataset-drift share of 50%."""
    args = ["check", "-r", data["reference"], "-c", data["one_drifted"]]
    result = invoke(*args, *(["--max-drift-share", limit] if limit else []))
    assert result.exit_code == code, result.output
    if code:
        assert "drift share 25% is above the allowed 20%" in result.stdout


def test_max_drift_share_replaces_the_dataset_drift_gate(data: dict[str, Path]) -> None:
    args = ["check", "-r", data["reference"], "-c", data["drifted"]]
    assert invoke(*args).exit_code == 1  # 3 of 4 is dataset drift
    assert invoke(*args, "--max-drift-share", "0.8").exit_code == 0


def test_fail_on_column_drift(data: dict[str, Path]) -> None:
    args = ["check", "-r", data["reference"], "-c", data["one_drifted"]]
    result = invoke(*args, "--fail-on-column-drift")
    assert result.exit_code == 1
    assert "columns drifted: a" in result.stdout


def test_check_writes_its_json_even_when_it_fails(data: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "check.json"
    result = invoke("check", "-r", data["reference"], "-c", data["fail_only"], "--json", out)
    assert result.exit_code == 1
    failed = [q for q in strict_json(out)["quality"] if q["status"] == "fail"]
    assert [(q["check"], q["column"]) for q in failed] == [("null_rate", "a")]
    assert failed[0]["values"]["current"] == pytest.approx(0.1)


# --- validate and demo options ---------------------------------------------------------------------------


def test_validate_accepts_the_shipped_example() -> None:
    example = Path(vigil.__file__).parent / "examples" / "vigil.yaml"
    declared = len(vigil.load_config(example).columns)
    result = invoke("validate", example)
    assert result.exit_code == 0, result.output
    assert (
        result.stdout
        == f"{example}: valid (0 models, {declared} columns declared, 0 rules, 0 SLOs, 0 actions)\n"
    )


def test_validate_reports_rule_action_and_alerting_problems_together(tmp_path: Path) -> None:
    text = """models:
  m: {task: binary, owner: {team: t}}
rules:
  - {name: Slow, model: m, metric: latency_p95, warning: fast}
actions:
  - {name: rb, model: m, kind: rollback}
alerting:
  receivers: [{name: ops, webhook: "http://127.0.0.1:1/h"}]
  route: {receiver: pager}
"""
    path = tmp_path / "vigil.yaml"
    path.write_text(text, encoding="utf-8")
    result = invoke("validate", path)
    assert result.exit_code == 2
    lines = text.splitlines()
    rule_line = 1 + next(i for i, line in enumerate(lines) if "Slow" in line)
    action_line = 1 + next(i for i, line in enumerate(lines) if "rb" in line)
    assert f"{path}:{rule_line}:" in result.stderr and "rule 'Slow'" in result.stderr
    assert f"{path}:{action_line}:" in result.stderr and "action 'rb'" in result.stderr
    assert "pager" in result.stderr  # the route names a receiver that does not exist
    good = text.replace("warning: fast", "warning: 500").replace(
        "kind: rollback}", 'kind: rollback, webhook: "http://127.0.0.1:1/rb"}'
    )
    path.write_text(good.replace("receiver: pager", "receiver: ops"), encoding="utf-8")
    ok = invoke("validate", path)
    assert ok.exit_code == 0, ok.stderr
    assert ok.stdout.endswith(
        "valid (1 models, 0 columns declared, 1 rules, 0 SLOs, 1 actions, 1 receivers)\n"
    )


def test_validate_a_missing_file_exits_2(tmp_path: Path) -> None:
    result = invoke("validate", tmp_path / "vigil.yaml")
    assert result.exit_code == 2
    assert "file not found" in result.stderr


@pytest.mark.parametrize("rows", ["0", "-5"])
def test_demo_rejects_a_row_count_below_one(rows: str, tmp_path: Path) -> None:
    result = invoke("demo-report", "--out", tmp_path / "d", "--rows", rows)
    assert result.exit_code == 2
    assert "--rows" in result.stderr
    assert not (tmp_path / "d").exists()


def test_an_unknown_method_is_a_usage_error(data: dict[str, Path]) -> None:
    result = invoke("check", "-r", data["reference"], "-c", data["clean"], "--method", "kolmogorov")
    assert result.exit_code == 2
    assert "Invalid value for '--method'" in result.stderr and "'ks'" in result.stderr


def test_a_bad_config_stops_check_with_exit_2_and_its_line(data: dict[str, Path], tmp_path: Path) -> None:
    config = tmp_path / "vigil.yaml"
    config.write_text("quality:\n  null_rate_fail: 1.5\n", encoding="utf-8")
    result = invoke("check", "-r", data["reference"], "-c", data["clean"], "--config", config)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {config}:2:") and "quality.null_rate_fail" in result.stderr
