"""NannyML's CBPE: fit on the labelled reference, estimate ROC AUC and accuracy per chunk of the current.

Called as ``python run_nannyml_cbpe.py SPEC.json`` (see ``bench/estimation_bench.py``); prints one JSON line:
the in-process seconds of fit + calculate (best of ``repeat``) and each chunk's estimate and band.
"""

import json
import sys
import time
from pathlib import Path

import pandas as pd
from common import emit_estimates
from nannyml import CBPE

METRICS = ("roc_auc", "accuracy", "precision", "recall", "f1")
spec = json.loads(Path(sys.argv[1]).read_text())
ref, cur = pd.read_parquet(spec["ref"]), pd.read_parquet(spec["cur"]).drop(columns=[spec["label"]])
classes = spec.get("classes")
problem = "classification_binary" if classes is None else "classification_multiclass"
proba = spec["score"] if classes is None else {c: f"score_{c}" for c in classes}


def work():  # type: ignore[no-untyped-def]
    cbpe = CBPE(
        metrics=list(METRICS),
        y_pred_proba=proba,
        y_pred=spec["prediction"],
        y_true=spec["label"],
        problem_type=problem,
        chunk_size=spec["chunk_size"],
    )
    cbpe.fit(ref)
    return cbpe.estimate(cur).filter(period="analysis").to_df()


best, df = float("inf"), None
for _ in range(spec["repeat"]):
    t0 = time.perf_counter()
    df = work()
    best = min(best, time.perf_counter() - t0)
chunks = []
for _, row in df.iterrows():
    chunk = {"start": int(row[("chunk", "start_index")]), "end": int(row[("chunk", "end_index")]) + 1}
    for m in METRICS:
        chunk[m] = {
            "value": float(row[(m, "value")]),
            "lower": float(row[(m, "lower_confidence_boundary")]),
            "upper": float(row[(m, "upper_confidence_boundary")]),
        }
    chunks.append(chunk)
emit_estimates("nannyml", best, chunks)
