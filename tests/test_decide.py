"""The drift decision: default methods by column type, effect and significance together, calibration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import vigil


def _seasonal(rng: np.random.Generator, n: int, amplitude: float) -> np.ndarray:
    """Values whose level swings with time of day: chunks of the reference differ among themselves."""
    t = np.sort(rng.random(n))
    return amplitude * np.sin(2 * np.pi * 6 * t) + rng.normal(size=n)


def test_default_methods_by_column_type() -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "x": rng.normal(size=2_000),
            "flag": rng.integers(0, 2, 2_000),
            "c": rng.choice(["a", "b"], 2_000),
            "b": rng.random(2_000) < 0.3,
        }
    )
    report = vigil.compare(df, df.sample(frac=1, random_state=1))
    assert {n: c.method for n, c in report.columns.items()} == {
        "x": "ks",
        "flag": "chi2",
        "c": "chi2",
        "b": "chi2",
    }
    assert not report.drifted


def test_small_samples_need_significance_and_large_ones_need_effect() -> None:
    rng = np.random.default_rng(1)
    # 40 rows: a visible shift of 0.6 sd gives D ~ 0.25 > 0.1, yet p > 0.05 is plausible; check the rule
    ref, cur = rng.normal(size=40), rng.normal(0.6, 1, 40)
    col = vigil.compare(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur})).columns["x"]
    assert col.drift == (col.p_value is not None and col.p_value < 0.05 and col.effect >= col.threshold)
    # 400k rows: a shift of 0.03 sd is highly significant but far below the effect threshold
    big_ref, big_cur = rng.normal(size=400_000), rng.normal(0.03, 1, 400_000)
    col = vigil.compare(pd.DataFrame({"x": big_ref}), pd.DataFrame({"x": big_cur})).columns["x"]
    assert col.p_value is not None and col.p_value < 1e-6
    assert col.effect < col.threshold and not col.drift


def test_calibrated_thresholds_follow_the_references_own_variability() -> None:
    rng = np.random.default_rng(2)
    steady_ref, steady_cur = rng.normal(size=100_000), rng.normal(size=2_000)
    wavy_ref = _seasonal(rng, 100_000, amplitude=1.0)
    # today's 2,000 rows come from one part of the cycle: a swing the reference itself shows
    wavy_cur = 1.0 * np.sin(2 * np.pi * 6 * rng.uniform(0.0, 0.05, 2_000)) + rng.normal(size=2_000)
    ref = pd.DataFrame({"steady": steady_ref, "wavy": wavy_ref})
    cur = pd.DataFrame({"steady": steady_cur, "wavy": wavy_cur})
    plain = vigil.compare(ref, cur)
    calibrated = vigil.compare(ref, cur, calibrate=True)
    assert plain.columns["wavy"].drift  # the fixed default cries wolf on a column that always wanders
    wavy, steady = calibrated.columns["wavy"], calibrated.columns["steady"]
    assert wavy.threshold_source == steady.threshold_source == "calibrated"
    assert wavy.threshold > plain.columns["wavy"].effect  # the swing is within what the reference shows
    assert not wavy.drift
    # a steady column's calibrated threshold sits near the sampling noise of 2,000 rows (D ~ 1/sqrt(m))
    assert steady.threshold < 0.06
    # ... so a real shift is still caught
    shifted = vigil.compare(ref, cur.assign(steady=cur["steady"] + 0.5), calibrate=True)
    assert shifted.columns["steady"].drift


def test_config_thresholds_win_over_calibration(tmp_path: pytest.TempPathFactory) -> None:
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"x": rng.normal(size=20_000)})
    cfg = vigil.config.parse_config("columns:\n  x: {type: numeric, drift: {method: ks, threshold: 0.3}}\n")
    col = vigil.compare(ref, ref.sample(5_000, random_state=0), config=cfg, calibrate=True).columns["x"]
    assert (col.threshold, col.threshold_source) == (0.3, "config")
