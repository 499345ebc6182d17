"""alibi-detect: ClassifierDrift with its scikit-learn backend and the same model Vigil uses
(``HistGradientBoostingClassifier(max_iter=50)``), 5-fold out-of-fold probabilities, p_val 0.05 (its
default test on the probabilities). It trains on every row it is given. Prints one JSON line."""

import json
from importlib.metadata import version

from alibi_detect.cd import ClassifierDrift
from common import load, measure
from sklearn.ensemble import HistGradientBoostingClassifier


def work(ref, cur):  # type: ignore[no-untyped-def]
    model = HistGradientBoostingClassifier(max_iter=50, early_stopping=False)
    detector = ClassifierDrift(
        ref.to_numpy("float32"), model=model, backend="sklearn", p_val=0.05, preds_type="probs", n_folds=5
    )
    return detector.predict(cur.to_numpy("float32"))


ref, cur = load()
out, m = measure(lambda: work(ref, cur))
record = {
    "tool": "alibi-detect",
    "rows": len(cur),
    "seconds": round(m.seconds, 4),
    "drift": bool(out["data"]["is_drift"]),
    "statistic": float(out["data"]["distance"]),
    "p_value": float(out["data"]["p_val"]),
    "version": version("alibi-detect"),
}
print(json.dumps(record), flush=True)
