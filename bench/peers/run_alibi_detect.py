"""alibi-detect: TabularDrift (KS per numeric feature, chi-square per categorical, Bonferroni-corrected).

TabularDrift takes one float array, so the timed work includes encoding: categories are label-encoded with
the reference's mapping (nulls and unseen values -> an extra "missing" code); numeric nulls are filled with
the reference median.
"""

import numpy as np
from alibi_detect.cd import TabularDrift
from common import CATEGORICAL, NUMERIC, emit, load, measure

COLUMNS = NUMERIC + CATEGORICAL


def encode(ref, cur):  # type: ignore[no-untyped-def]
    xr, xc, cats = np.empty((len(ref), len(COLUMNS))), np.empty((len(cur), len(COLUMNS))), {}
    for j, col in enumerate(COLUMNS):
        if col in NUMERIC:
            median = ref[col].median()
            xr[:, j], xc[:, j] = ref[col].fillna(median), cur[col].fillna(median)
        else:
            levels = sorted(ref[col].dropna().unique())
            mapping = {v: i for i, v in enumerate(levels)}
            xr[:, j] = ref[col].map(mapping).fillna(len(levels))
            xc[:, j] = cur[col].map(mapping).fillna(len(levels))
            cats[j] = len(levels) + 1
    return xr, xc, cats


def work(ref, cur):  # type: ignore[no-untyped-def]
    xr, xc, cats = encode(ref, cur)
    detector = TabularDrift(xr, p_val=0.05, categories_per_feature=cats)
    return detector.predict(xc, drift_type="feature")


ref, cur = load()
preds, m = measure(lambda: work(ref, cur))
flagged = [c for c, d in zip(COLUMNS, preds["data"]["is_drift"], strict=True) if d]
bonferroni = [c for c, p in zip(COLUMNS, preds["data"]["p_val"], strict=True) if p < 0.05 / len(COLUMNS)]
note = (
    "per-feature is_drift is p<0.05 uncorrected (Bonferroni applies to drift_type='batch' only, see "
    "flagged_bonferroni); nulls: numeric -> ref median, categorical -> 'missing' code"
)
emit("alibi-detect", len(cur), m, flagged, note, flagged_bonferroni=bonferroni)
