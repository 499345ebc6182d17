"""The report's ``multivariate`` section: a correlation that changes while no column does is flagged in the
JSON, the HTML, the text and by ``vigil check --fail-on-multivariate-drift``; a current like the reference
is not; the model's outputs stay out of it; ``--multivariate`` picks the methods."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from vigil.cli.main import main
from vigil.comparison.compare import compare
from vigil.config import parse_config
from vigil.errors import InputError

N = 4000


def table(seed: int, rho: float) -> pd.DataFrame:
    """income and amount correlated by ``rho`` (marginals independent of it), a channel, and a score."""
    rng = np.random.default_rng(seed)
    z = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], N)
    return pd.DataFrame(
        {
            "income": np.exp(10 + 0.5 * z[:, 0]),
            "amount": 1000 + 200 * z[:, 1],
            "channel": rng.choice(["web", "app"], N, p=[0.7, 0.3]),
            "score": rng.random(N),
        }
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("mv")
    paths = {}
    for name, frame in {"ref": table(1, 0.9), "same": table(2, 0.9), "apart": table(3, 0.0)}.items():
        paths[name] = folder / f"{name}.parquet"
        frame.to_parquet(paths[name])
    return paths


def test_correlation_change_flagged_though_no_column_drifted(files: dict[str, Path]) -> None:
    report = compare(files["ref"], files["apart"], multivariate_mode="both")
    assert report.drifted == []  # every column alone looks the same
    joint = report.to_dict()["multivariate"]
    assert joint["drift"] is True
    assert joint["features"] == ["income", "amount", "channel"]  # score: the model's output, left out
    assert [m["method"] for m in joint["methods"]] == ["reconstruction", "domain_classifier"]
    assert all(m["drift"] for m in joint["methods"])
    assert joint["method"] == "reconstruction"
    assert joint["statistic"] > joint["threshold"]
    assert joint["p_value"] < 1e-6
    assert "Multivariate drift: YES" in report.to_text()
    html = report.to_html()
    assert 'id="multivariate-methods"' in html and "Joint drift detected" in html


def test_same_distribution_is_quiet(files: dict[str, Path]) -> None:
    joint = compare(files["ref"], files["same"]).to_dict()["multivariate"]
    assert joint["drift"] is False
    assert all(not m["drift"] for m in joint["methods"])
    rec = joint["methods"][0]
    assert rec["lower_threshold"] < rec["statistic"] < rec["threshold"]


def test_outputs_left_out_and_modes(files: dict[str, Path]) -> None:
    config = parse_config("columns:\n  score: {role: prediction}\n")
    one = compare(files["ref"], files["apart"], config=config, multivariate_mode="reconstruction")
    assert one.multivariate is not None
    assert one.multivariate["features"] == ["income", "amount", "channel"]
    assert [m["method"] for m in one.multivariate["methods"]] == ["reconstruction"]
    assert compare(files["ref"], files["apart"], multivariate_mode="off").to_dict()["multivariate"] is None
    with pytest.raises(InputError, match="unknown multivariate mode 'pca'; choose one of both"):
        compare(files["ref"], files["apart"], multivariate_mode="pca")


def test_check_gates_on_multivariate_drift(files: dict[str, Path]) -> None:
    args = ["check", "--reference", str(files["ref"]), "--multivariate", "reconstruction"]
    failed = CliRunner().invoke(
        main, [*args, "--current", str(files["apart"]), "--fail-on-multivariate-drift"]
    )
    assert failed.exit_code == 1, failed.output
    assert "multivariate drift: reconstruction" in failed.output
    assert CliRunner().invoke(main, [*args, "--current", str(files["apart"])]).exit_code == 0
    same = CliRunner().invoke(main, [*args, "--current", str(files["same"]), "--fail-on-multivariate-drift"])
    assert same.exit_code == 0, same.output


def test_drift_that_matters_ranks_by_importance_to_the_output() -> None:
    rng = np.random.default_rng(4)

    def frame(shift: float) -> pd.DataFrame:
        income = rng.normal(50 + shift, 10, N)
        zip_code = rng.normal(2 * shift / 5, 1, N)  # drifts more (in effect), but the model ignores it
        score = 1 / (1 + np.exp(-(income - 50) / 10))
        return pd.DataFrame({"income": income, "zip_code": zip_code, "score": score})

    report = compare(frame(0), frame(5), multivariate_mode="off")
    impact = report.to_dict()["importance"]
    assert impact["output"] == "score"
    # the output is a function of income alone: income carries nearly all of the mutual information
    assert impact["importance"]["income"] > 0.9 > 0.05 > impact["importance"]["zip_code"]
    assert [r["column"] for r in impact["drifted"]] == ["income", "zip_code"]
    assert report.columns["zip_code"].effect > report.columns["income"].effect
    assert impact["summary"][0].startswith("income drifted (")
    assert "Drift that matters" in report.to_text() and 'id="impact-list"' in report.to_html()
