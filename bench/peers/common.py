"""Shared helpers for the per-tool runners (stdlib only; each runner lives in its own venv).

A runner is called as ``python run_<tool>.py REF.parquet CUR.parquet`` and prints one JSON line.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

# No usage analytics from the peers (there is no network here anyway; a failed upload would cost time).
for _var in ("DO_NOT_TRACK", "NML_DISABLE_USAGE_LOGGING", "WHYLOGS_NO_ANALYTICS", "SCARF_NO_ANALYTICS"):
    os.environ.setdefault(_var, "1")

# Column roles are fixed by bench/drift_bench.py's generator.
NUMERIC = [
    "normal", "normal_wide", "gamma", "uniform", "lognormal", "exponential", "bimodal", "student_t",
    "poisson", "beta", "offset_normal", "zero_inflated", "binary", "negbinom", "pareto",
]  # fmt: skip
CATEGORICAL = ["color", "segment", "country", "browser", "tier"]


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def load() -> tuple[Any, Any]:
    import pandas as pd

    return pd.read_parquet(sys.argv[1]), pd.read_parquet(sys.argv[2])


class Meter:
    """Wall time and peak RSS of one block of work, measured after the data is loaded."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.rss_before_mb = 0.0
        self.hwm_mb = 0.0
        self.method = "VmHWM after clear_refs"

    def __enter__(self) -> Meter:
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")  # resets VmHWM to the current RSS
        except OSError:
            self.method = "ru_maxrss (not resettable: includes loading)"
        self.rss_before_mb = (_status_kb("VmRSS") or 0) / 1024
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._t0
        hwm = _status_kb("VmHWM")
        self.hwm_mb = (hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024

    @property
    def peak_mb(self) -> float:
        return max(self.hwm_mb - self.rss_before_mb, 0.0)


def measure(fn: Callable[[], Any]) -> tuple[Any, Meter]:
    with Meter() as m:
        out = fn()
    return out, m


def emit(tool: str, rows: int, m: Meter, flagged: list[str], note: str = "", **extra: Any) -> None:
    from importlib.metadata import version

    record = {
        "tool": tool,
        "rows": rows,
        "seconds": round(m.seconds, 4),
        "peak_mb": round(m.peak_mb, 1),
        "flagged": sorted(flagged),
        "note": note,
        "vmhwm_mb": round(m.hwm_mb, 1),
        "rss_after_load_mb": round(m.rss_before_mb, 1),
        "memory_method": m.method,
        "version": version(tool),
        **extra,
    }
    print(json.dumps(record), flush=True)


def emit_estimates(tool: str, seconds: float, chunks: list[dict[str, Any]]) -> None:
    """One JSON line of a performance-estimation runner: in-process seconds and each chunk's estimates."""
    from importlib.metadata import version

    print(
        json.dumps({"tool": tool, "seconds": round(seconds, 5), "version": version(tool), "chunks": chunks})
    )
