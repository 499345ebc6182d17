"""Vigil: ``Estimator.fit`` on the labelled reference, ``estimate`` per chunk of the current.

Called as ``python run_vigil_estimate.py SPEC.json`` (see ``bench/estimation_bench.py``); prints one JSON
line: the in-process seconds of fit + every chunk's estimate (best of ``repeat``, the columns taken from
the DataFrames included) and each chunk's estimate and band.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import emit_estimates

from vigil.performance.estimation import METRICS, Estimator

spec = json.loads(Path(sys.argv[1]).read_text())
ref, cur = pd.read_parquet(spec["ref"]), pd.read_parquet(spec["cur"]).drop(columns=[spec["label"]])
classes = spec.get("classes")
n = spec["chunk_size"]


def arrays(df):  # type: ignore[no-untyped-def]
    if classes is None:
        return df[spec["score"]].to_numpy(np.float64), df[spec["prediction"]].to_numpy(np.int64)
    scores = df[[f"score_{c}" for c in classes]].to_numpy(np.float64)
    index = pd.Categorical(df[spec["prediction"]], categories=classes).codes.astype(np.int64)
    return scores, index


def work():  # type: ignore[no-untyped-def]
    s, _ = arrays(ref)
    y = ref[spec["label"]]
    y = y.to_numpy(np.int64) if classes is None else pd.Categorical(y, categories=classes).codes
    est = Estimator.fit(s, y, calibration=spec.get("calibration", "auto"))
    s, pred = arrays(cur)
    return [
        (at, min(at + n, len(s)), est.estimate(s[at : at + n], pred[at : at + n]))
        for at in range(0, len(s), n)
    ]


best, out = float("inf"), []
for _ in range(spec["repeat"]):
    t0 = time.perf_counter()
    out = work()
    best = min(best, time.perf_counter() - t0)
chunks = [
    {
        "start": a,
        "end": b,
        **{m: {"value": e[m].value, "lower": e[m].lower, "upper": e[m].upper} for m in METRICS},
    }
    for a, b, e in out
]
emit_estimates("vigil", best, chunks)
