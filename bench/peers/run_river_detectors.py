"""river's ADWIN and PageHinkley over the detectors benchmark's streams, one value at a time (how river is
used). Called as ``python run_river_detectors.py DIR NAME...`` (``DIR/NAME.npy`` each); prints one JSON
line: per stream and detector, the positions detected and the seconds taken."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import river
from river import drift

SETTINGS = {
    "ADWIN": lambda: drift.ADWIN(),  # delta 0.002, clock 32, max_buckets 5, min_window_length 5, grace 10
    "PageHinkley": lambda: drift.PageHinkley(),  # min_instances 30, delta 0.005, threshold 50, alpha 0.9999
}


def run(make, values: list[float], repeats: int = 3) -> tuple[list[int], float]:
    """The positions detected, and the best time of ``repeats`` runs (the machine is shared)."""
    best = float("inf")
    for _ in range(repeats):
        detector = make()
        found = []
        start = time.perf_counter()
        for i, x in enumerate(values):
            detector.update(x)
            if detector.drift_detected:
                found.append(i)
        best = min(best, time.perf_counter() - start)
    return found, best


folder = Path(sys.argv[1])
out: dict[str, object] = {"version": river.__version__, "streams": {}}
for name in sys.argv[2:]:
    values = np.load(folder / f"{name}.npy").tolist()
    out["streams"][name] = {  # type: ignore[index]
        det: dict(zip(("positions", "seconds"), run(make, values), strict=True))
        for det, make in SETTINGS.items()
    }
print(json.dumps(out))
