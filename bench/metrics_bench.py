"""Label metrics: ``Query.series`` over predictions joined with their labels.

Run from the repository root:
    .venv/bin/python bench/metrics_bench.py [--rows 100000] [--code PATH]

Writes ``--rows`` predictions of a binary model (one hour, batches of 1,000, 80% labelled a minute later,
two segments) into a fresh SQLite store, then times, best of ``--repeat`` runs: the join alone
(``Query.joined``), the label metrics for the whole hour as one step and as 60 steps, the realised-quality
metrics (AUCs, calibration, averages: one ``ClassificationState`` per step) likewise and with their
``support`` (labels, coverage, Wilson intervals), and the hour's accuracy for one segment. ``--code PATH``
measures the ``vigil`` package found in another checkout (say the commit before a change), in this same
interpreter.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

T0 = 1_800_000_000.0
LABELLED = ["accuracy", "precision", "recall", "f1", "label_coverage", "label_lag_p50", "predictions"]
REALISED = ["roc_auc", "pr_auc", "log_loss", "brier", "ece", "positive_rate", "f1_weighted", "recall:0"]
"""Read from one mergeable state per step (``Step.classification``), shared by all of them."""


def _use(code: str | None) -> None:
    if code is None:
        return
    # the project's editable install answers ``import vigil`` before sys.path: take it out of the way
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in type(f).__module__.lower()]
    sys.path.insert(0, str(Path(code).resolve()))


def _fill(store: Any, rows: int) -> None:
    import numpy as np
    import pyarrow as pa

    from vigil.ingest.batch import to_ipc
    from vigil.store.base import LabelRow, PredictionBatch

    rng = np.random.default_rng(7)
    ts = T0 + np.sort(rng.uniform(0, 3600, rows))
    truth = rng.random(rows) < 0.3
    predicted = np.where(rng.random(rows) < 0.85, truth, ~truth)
    ids = np.array([f"r{i:08d}" for i in range(rows)], dtype=object)
    segments = np.where(rng.random(rows) < 0.5, '{"region":"eu"}', '{"region":"us"}')
    for seq, lo in enumerate(range(0, rows, 1000), start=1):
        hi = min(lo + 1000, rows)
        table = pa.table(
            {
                "request_id": pa.array(ids[lo:hi], pa.string()),
                "version": pa.array(["v1"] * (hi - lo)),
                "ts": pa.array(ts[lo:hi]),
                "prediction": pa.array(predicted[lo:hi].astype(int).astype(str)),
                "score": pa.array(rng.random(hi - lo)),
                "segment": pa.array(segments[lo:hi]),
            }
        )
        store.put_predictions(
            PredictionBatch("m", "main", seq, float(ts[lo]), float(ts[hi - 1]), hi - lo, to_ipc(table))
        )
    labelled = np.flatnonzero(rng.random(rows) < 0.8)
    store.put_labels([LabelRow("m", str(ids[i]), str(int(truth[i])), float(ts[i] + 60.0)) for i in labelled])


def _best(fn: Any, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--code", help="a checkout whose vigil package to measure")
    args = ap.parse_args()
    _use(args.code)

    import vigil
    from vigil.config import parse_config
    from vigil.monitoring.query import Baselines, Query
    from vigil.registry import Registry
    from vigil.store.sqlite import SQLiteStore

    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "v.db")
        _fill(store, args.rows)
        config = parse_config("models:\n  m: {task: binary, window: 1m, owner: {team: bench}}\n")
        registry = Registry(config, store)
        query = Query(store, registry, None, Baselines(registry, store), time.time)
        end = T0 + 3600
        figures = {
            "join": _best(lambda: query.joined("m", T0, end), args.repeat),
            "label metrics, 1 step": _best(
                lambda: query.series("m", LABELLED, T0, end, step=3600), args.repeat
            ),
            "label metrics, 60 steps": _best(
                lambda: query.series("m", LABELLED, T0, end, step=60), args.repeat
            ),
            "realised quality, 1 step": _best(
                lambda: query.series("m", REALISED, T0, end, step=3600), args.repeat
            ),
            "realised quality, 60 steps": _best(
                lambda: query.series("m", REALISED, T0, end, step=60), args.repeat
            ),
            "same, with support": _best(
                lambda: query.readings("m", REALISED, T0, end, step=60, support=True), args.repeat
            ),
            "accuracy, one segment": _best(
                lambda: query.series("m", ["accuracy"], T0, end, step=3600, segment="region=eu"), args.repeat
            ),
        }
        values = query.series("m", LABELLED, T0, end, step=3600)
        store.close()
    print(f"vigil from {Path(vigil.__file__).parent}, {args.rows:,} predictions (best of {args.repeat})")
    for what, seconds in figures.items():
        print(f"  {what:<26} {seconds * 1000:8.1f} ms")
    print(json.dumps({n: v[0][1] for n, v in values.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
