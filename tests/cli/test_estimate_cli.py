"""``vigil estimate``: the JSON a real process writes, the HTML page, multiclass class names, and every bad
input refused with a sentence that says which column and which row (exit 2)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from vigil.cli.main import main


def invoke(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def scored(seed: int, n: int, a: float = 2.0, b: float = 2.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    p = rng.beta(a, b, n)
    return pd.DataFrame({"p": p, "pred": (p >= 0.5).astype(int), "y": (rng.uniform(size=n) < p).astype(int)})


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    ref, cur = tmp_path / "ref.parquet", tmp_path / "cur.csv"
    scored(1, 20_000).to_parquet(ref)
    current = scored(2, 4_500, 3, 2)
    current.loc[2000:2999, "y"] = 1 - current.loc[2000:2999, "y"]  # the relation flips in the third chunk
    current["y"] = current["y"].astype("Int64")
    current.loc[4000:, "y"] = pd.NA  # the last rows have no labels yet
    current.to_csv(cur, index=False)
    return ref, cur


def test_a_real_process_writes_the_chunks_as_json(files: tuple[Path, Path], tmp_path: Path) -> None:
    ref, cur = files
    vigil = shutil.which("vigil", path=str(Path(sys.executable).parent))
    assert vigil is not None
    out = tmp_path / "estimate.json"
    args = ["--score", "p", "--prediction", "pred", "--label", "y", "--chunk-size", "1000", "--json", out]
    done = subprocess.run(
        [vigil, "estimate", "-r", ref, "-c", cur, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    chunks = result["chunks"]
    assert [(c["start"], c["end"]) for c in chunks] == [
        (0, 1000),
        (1000, 2000),
        (2000, 3000),
        (3000, 4000),
        (4000, 4500),
    ]
    for c in chunks:
        assert set(c["estimated"]) == {"roc_auc", "accuracy", "precision", "recall", "f1"}
        for band in c["estimated"].values():
            assert 0 <= band["lower"] <= band["value"] <= band["upper"] <= 1
    assert [c["concept_shift"] for c in chunks] == [False, False, True, False, None]
    assert "realised" not in chunks[4] and chunks[3]["labelled"] == 1000
    assert chunks[2]["realised"]["accuracy"] < chunks[2]["estimated"]["accuracy"]["lower"]
    assert result["concept_shift_chunks"] == 1 and result["reference"]["calibrated"] == {"p": False}
    assert "concept shift" in done.stdout and f"wrote {out}" in done.stdout


def test_labels_missing_from_current_give_estimates_only_and_an_html_page(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    ref, _ = files
    cur = tmp_path / "unlabelled.parquet"
    scored(3, 2500).drop(columns="y").to_parquet(cur)
    html, out = tmp_path / "e.html", tmp_path / "e.json"
    result = invoke(
        "estimate",
        "-r",
        ref,
        "-c",
        cur,
        "--score",
        "p",
        "--label",
        "y",
        "--chunk-size",
        1000,
        "--json",
        out,
        "--html",
        html,
    )
    assert result.exit_code == 0, result.output
    chunks = json.loads(out.read_text())["chunks"]
    assert [c["concept_shift"] for c in chunks] == [None, None, None]
    page = html.read_text()
    assert "<svg" in page and "No labels in the current data" in page and "ROC AUC" in page


def test_a_partly_labelled_chunk_is_checked_on_its_labelled_rows(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    ref, cur = files
    out = tmp_path / "e.json"
    args = (
        "estimate",
        "-r",
        ref,
        "-c",
        cur,
        "--score",
        "p",
        "--label",
        "y",
        "--chunk-size",
        3000,
        "--json",
        out,
    )
    assert invoke(*args).exit_code == 0
    first, second = json.loads(out.read_text())["chunks"]
    assert (first["labelled"], second["labelled"]) == (3000, 1000)  # rows 4000-4499 have no label yet
    frame = pd.read_csv(cur).iloc[3000:4000]
    assert second["realised"]["accuracy"] == pytest.approx(
        float((frame["pred"] == frame["y"]).mean()), abs=1e-12
    )
    assert second["concept_shift"] is False and first["concept_shift"] is True


def test_calibration_can_be_forced_or_turned_off(files: tuple[Path, Path], tmp_path: Path) -> None:
    ref, cur = files
    calibrated = {}
    for mode in ("auto", "always", "never"):
        out = tmp_path / f"{mode}.json"
        args = ("estimate", "-r", ref, "-c", cur, "--score", "p", "--label", "y", "--chunk-size", 1000)
        assert invoke(*args, "--calibration", mode, "--json", out).exit_code == 0
        calibrated[mode] = json.loads(out.read_text())["reference"]["calibrated"]["p"]
    assert calibrated == {"auto": False, "always": True, "never": False}


def test_concept_shift_can_fail_the_run(files: tuple[Path, Path]) -> None:
    ref, cur = files
    args = ("estimate", "-r", ref, "-c", cur, "--score", "p", "--label", "y", "--chunk-size", 1000)
    assert invoke(*args).exit_code == 0
    assert invoke(*args, "--fail-on-concept-shift").exit_code == 1


def test_multiclass_scores_name_their_classes(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)

    def table(n: int) -> pd.DataFrame:
        p = rng.dirichlet([1, 1, 1], n)
        labels = np.array(["cat", "dog", "eel"])[(p.cumsum(1) < rng.uniform(size=(n, 1))).sum(1).clip(0, 2)]
        return pd.DataFrame({"p_cat": p[:, 0], "p_dog": p[:, 1], "p_eel": p[:, 2], "label": labels})

    ref, cur, out = tmp_path / "ref.parquet", tmp_path / "cur.parquet", tmp_path / "e.json"
    table(20_000).to_parquet(ref)
    table(2000).to_parquet(cur)
    scores = ["--score", "cat=p_cat", "--score", "dog=p_dog", "--score", "eel=p_eel"]
    result = invoke(
        "estimate", "-r", ref, "-c", cur, *scores, "--label", "label", "--chunk-size", 1000, "--json", out
    )
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(out.read_text())
    assert data["classes"] == ["cat", "dog", "eel"]
    assert [c["concept_shift"] for c in data["chunks"]] == [False, False]
    for c in data["chunks"]:
        assert abs(c["estimated"]["accuracy"]["value"] - c["realised"]["accuracy"]) < 0.05
    bad = invoke(
        "estimate",
        "-r",
        ref,
        "-c",
        cur,
        "--score",
        "cat=p_cat",
        "--score",
        "dog=p_dog",
        "--label",
        "label",
        "--chunk-size",
        10,
    )
    assert bad.exit_code == 2
    assert "label column 'label' of reference" in bad.output and "'eel' is none of the classes" in bad.output


def test_bad_inputs_are_refused_with_a_sentence(files: tuple[Path, Path], tmp_path: Path) -> None:
    ref, cur = files
    base = ("estimate", "-r", ref, "-c", cur, "--label", "y", "--chunk-size", 100)

    missing = invoke(*base, "--score", "proba")
    assert missing.exit_code == 2
    assert (
        f"error: reference ({ref}) has no score column 'proba'; its columns are: p, pred, y" in missing.output
    )

    unlabelled = tmp_path / "unlabelled.parquet"
    scored(5, 100).drop(columns="y").to_parquet(unlabelled)
    no_labels = invoke(
        "estimate", "-r", unlabelled, "-c", cur, "--score", "p", "--label", "y", "--chunk-size", 10
    )
    assert no_labels.exit_code == 2
    assert "has no label column 'y': the reference needs labels to calibrate the scores" in no_labels.output

    logits = tmp_path / "logits.csv"
    frame = scored(6, 50)
    frame.loc[17, "p"] = 2.5
    frame.to_csv(logits, index=False)
    not_prob = invoke("estimate", "-r", ref, "-c", logits, "--score", "p", "--label", "y", "--chunk-size", 10)
    assert not_prob.exit_code == 2
    assert (
        f"score column 'p' of current ({logits}), row 17: 2.5 is not a probability in [0, 1]"
        in not_prob.output
    )

    three = tmp_path / "three.csv"
    frame = scored(7, 50)
    frame.loc[3, "y"] = 2
    frame.to_csv(three, index=False)
    not_binary = invoke(
        "estimate", "-r", three, "-c", cur, "--score", "p", "--label", "y", "--chunk-size", 10
    )
    assert not_binary.exit_code == 2 and "row 3: 2 is not 0/1" in not_binary.output

    one_class = invoke(*base, "--score", "a=p")
    assert one_class.exit_code == 2 and "one --score CLASS=COLUMN per class" in one_class.output
