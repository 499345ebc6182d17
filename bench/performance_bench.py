"""Realised performance over 30 days of per-minute states, against scikit-learn on the raw rows.

Run from the repository root:
    .venv/bin/python bench/performance_bench.py [--days 30] [--per-minute 20] [--bins 10000] [--repeat 3]

Generates a binary model's labelled predictions (``--per-minute`` rows a minute, 30% positives, scores from
two beta distributions, prediction = score >= 0.5), builds one ``ClassificationState`` per minute and keeps
it as bytes, as a store would (43,200 of them for 30 days). Then times, best of ``--repeat``: decoding and
merging every minute's state into one, computing every metric from the merged state, and scikit-learn
computing the same metrics from the raw rows. Prints a JSON object with the timings, the state sizes, and
each AUC's distance from scikit-learn's beside the bound the state states.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn import metrics

from vigil.performance import ClassificationState


def _best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def _figures(s: ClassificationState) -> dict[str, float]:
    out = {
        "accuracy": s.accuracy(),
        "positive_rate": s.positive_rate("1"),
        "precision": s.confusion("1").precision,
        "recall": s.confusion("1").recall,
        "f1": s.confusion("1").f1,
        "roc_auc": s.roc_auc(),
        "roc_auc_bound": s.roc_auc_bound(),
        "average_precision": s.average_precision(),
        "average_precision_bound": s.average_precision_bound(),
        "log_loss": s.log_loss(),
        "brier": s.brier(),
    }
    for average in ("macro", "micro", "weighted"):
        out[f"f1_{average}"] = s.f1(average)
        out[f"precision_{average}"] = s.precision(average)
        out[f"recall_{average}"] = s.recall(average)
    out["confusion_total"] = float(s.confusion_matrix()[1].sum())
    return out


def _sklearn(y: np.ndarray, pred: np.ndarray, score: np.ndarray) -> dict[str, float]:
    out = {
        "accuracy": metrics.accuracy_score(y, pred),
        "positive_rate": float(np.mean(pred == "1")),
        "precision": metrics.precision_score(y, pred, pos_label="1"),
        "recall": metrics.recall_score(y, pred, pos_label="1"),
        "f1": metrics.f1_score(y, pred, pos_label="1"),
        "roc_auc": metrics.roc_auc_score(y == "1", score),
        "average_precision": metrics.average_precision_score(y == "1", score),
        "log_loss": metrics.log_loss(y == "1", score),
        "brier": metrics.brier_score_loss(y == "1", score),
    }
    for average in ("macro", "micro", "weighted"):
        out[f"f1_{average}"] = metrics.f1_score(y, pred, average=average)
        out[f"precision_{average}"] = metrics.precision_score(y, pred, average=average)
        out[f"recall_{average}"] = metrics.recall_score(y, pred, average=average)
    out["confusion_total"] = float(metrics.confusion_matrix(y, pred).sum())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--per-minute", type=int, default=20)
    parser.add_argument("--bins", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    minutes = args.days * 24 * 60
    n = minutes * args.per_minute
    rng = np.random.default_rng(11)
    truth = rng.random(n) < 0.3
    score = np.where(truth, rng.beta(4, 2, n), rng.beta(2, 4, n))
    y = np.where(truth, "1", "0")
    pred = np.where(score >= 0.5, "1", "0")

    start = time.perf_counter()
    blobs = []
    for m in range(minutes):
        cut = slice(m * args.per_minute, (m + 1) * args.per_minute)
        state = ClassificationState(bins=args.bins).update(y[cut], pred[cut], score[cut], ["1"])
        blobs.append(state.to_bytes())
    build = time.perf_counter() - start

    def merge_all() -> ClassificationState:
        total = ClassificationState(bins=args.bins)
        for blob in blobs:
            total.merge(ClassificationState.from_bytes(blob))
        return total

    merge_s, merged = _best(merge_all, args.repeat)
    states = [ClassificationState.from_bytes(b) for b in blobs[:1440]]  # one day in memory: 230 MB

    def merge_day() -> ClassificationState:
        total = ClassificationState(bins=args.bins)
        for s in states:
            total.merge(s)
        return total

    merge_day_s, _ = _best(merge_day, args.repeat)
    states.clear()
    metrics_s, ours = _best(lambda: _figures(merged), args.repeat)
    sklearn_s, theirs = _best(lambda: _sklearn(y, pred, score), args.repeat)
    result = {
        "minutes": minutes,
        "rows": n,
        "bins": args.bins,
        "state_bytes_mean": float(np.mean([len(b) for b in blobs])),
        "build_and_encode_s": round(build, 3),
        "decode_and_merge_all_s": round(merge_s, 3),
        "merge_one_day_in_memory_s": round(merge_day_s, 4),
        "metrics_from_merged_state_s": round(metrics_s, 4),
        "sklearn_on_raw_rows_s": round(sklearn_s, 3),
        "roc_auc_error": abs(ours["roc_auc"] - theirs["roc_auc"]),
        "roc_auc_bound": ours["roc_auc_bound"],
        "average_precision_error": abs(ours["average_precision"] - theirs["average_precision"]),
        "average_precision_bound": ours["average_precision_bound"],
        "largest_other_difference": max(
            abs(ours[k] - theirs[k]) for k in theirs if k not in ("roc_auc", "average_precision")
        ),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
