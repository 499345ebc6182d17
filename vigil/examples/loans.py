"""A generated example: loan applications scored by a credit model, before and after things go wrong.

The current table has known trouble, so a newcomer can see what each part of a report looks like:
drift in ``income`` (incomes up 30%), ``credit_score`` (down 25 points) and ``channel`` (the app's share
doubles), and through them in the model's ``risk_score`` (prediction drift); a feature pipeline that
sends nulls in ``debt_ratio``; a new ``region`` code; a handful of impossible ``age`` values.
Nothing else changes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["STORY", "TRUE_DRIFT", "generate", "write_example"]

TRUE_DRIFT = ("income", "credit_score", "channel", "risk_score")
"""Injected drift, and the prediction drift it causes (the score is computed from income and credit)."""

STORY = """injected into current:
  drift      income ×1.3, credit_score −25 points, channel: app share 20% → 45%
             (so the model's risk_score drifts too: prediction drift)
  quality    debt_ratio 12% nulls (was 1%), region 'XX' (new code), age > 120 in 40 rows
  unchanged  age, loan_amount, debt_ratio (values), open_accounts, employment, region mix, risk_score"""

_CONFIG = """\
# Declares what the columns are; `vigil validate` checks this file.
version: 1
drift:
  alpha: 0.05
columns:
  application_id: {role: id}
  email: {role: pii}
  submitted_at: {role: timestamp}
  age: {type: numeric, min: 18, max: 120}
  risk_score: {type: numeric, role: prediction, min: 0, max: 1}
  channel: {type: categorical, allowed: [web, app, branch, partner]}
"""


def generate(rows: int, *, drifted: bool, seed: int) -> pd.DataFrame:
    """One table of loan applications; ``drifted`` injects the trouble listed in ``STORY``."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(mean=10.8, sigma=0.5, size=rows)
    credit = rng.normal(680, 60, size=rows).clip(300, 850)
    channel_p = [0.55, 0.20, 0.20, 0.05]
    if drifted:
        income *= 1.3
        credit = (credit - 25).clip(300, 850)
        channel_p = [0.35, 0.45, 0.15, 0.05]
    age = rng.gamma(9.0, 4.5, size=rows).clip(18, 95).round()
    debt = rng.beta(2.0, 5.0, size=rows)
    regions = np.array(["north", "south", "east", "west", "central"])
    region = regions[rng.choice(5, size=rows, p=[0.3, 0.25, 0.2, 0.15, 0.1])].astype(object)
    logit = -4.0 + 0.004 * (700 - credit) * 2 + 3.0 * debt - 0.3 * np.log(income / 50_000)
    df = pd.DataFrame(
        {
            "application_id": np.arange(rows) + (10_000_000 if drifted else 0),
            "submitted_at": pd.Timestamp("2026-10-01")
            + pd.to_timedelta(rng.integers(0, 86_400 * 30, rows), "s"),
            "email": [f"user{i}@example.com" for i in rng.integers(0, 10**9, rows)],
            "age": age,
            "income": income.round(2),
            "loan_amount": rng.lognormal(9.5, 0.7, size=rows).round(-2),
            "credit_score": credit.round(),
            "debt_ratio": debt,
            "open_accounts": rng.poisson(3.0, size=rows),
            "employment": rng.choice(
                ["salaried", "self-employed", "contract", "retired"], size=rows, p=[0.6, 0.2, 0.15, 0.05]
            ),
            "region": region,
            "channel": rng.choice(["web", "app", "branch", "partner"], size=rows, p=channel_p),
            "risk_score": 1 / (1 + np.exp(-logit)),
        }
    )
    null_share = 0.12 if drifted else 0.01
    df.loc[rng.random(rows) < null_share, "debt_ratio"] = np.nan
    if drifted:
        df.loc[rng.random(rows) < 0.01, "region"] = "XX"
        df.loc[rng.choice(rows, size=min(40, rows), replace=False), "age"] = 150.0
    return df


def write_example(folder: Path, rows: int) -> tuple[Path, Path, str]:
    """Write reference.parquet, current.parquet and vigil.yaml into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    ref, cur = folder / "reference.parquet", folder / "current.parquet"
    generate(rows, drifted=False, seed=1).to_parquet(ref, index=False)
    generate(rows, drifted=True, seed=2).to_parquet(cur, index=False)
    (folder / "vigil.yaml").write_text(_CONFIG, encoding="utf-8")
    return ref, cur, STORY
