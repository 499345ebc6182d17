"""Plain scipy loop: KS two-sample test on numeric columns, chi-square on categorical counts, p < 0.05."""

import pandas as pd
from common import CATEGORICAL, NUMERIC, emit, load, measure
from scipy.stats import chi2_contingency, ks_2samp


def drift(ref: pd.DataFrame, cur: pd.DataFrame) -> list[str]:
    flagged = []
    for col in NUMERIC:
        if ks_2samp(ref[col].dropna().to_numpy(), cur[col].dropna().to_numpy()).pvalue < 0.05:
            flagged.append(col)
    for col in CATEGORICAL:
        counts = pd.concat([ref[col].value_counts(), cur[col].value_counts()], axis=1).fillna(0)
        if chi2_contingency(counts.to_numpy().T).pvalue < 0.05:
            flagged.append(col)
    return flagged


ref, cur = load()
flagged, m = measure(lambda: drift(ref, cur))
emit(
    "scipy",
    len(cur),
    m,
    flagged,
    "ks_2samp (numeric, nulls dropped) / chi2_contingency; p<0.05, no correction",
)
