"""whylogs: profile both tables with why.log(df), then its default per-column drift scores.

The profiling part alone gives the throughput figure (rows/s over both tables).
"""

import time

from common import emit, load, measure
from whylogs import log
from whylogs.viz.drift.column_drift_algorithms import calculate_drift_scores


def work(ref, cur):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    ref_view, cur_view = log(ref).view(), log(cur).view()
    profile_s = time.perf_counter() - t0
    return calculate_drift_scores(
        target_view=cur_view, reference_view=ref_view, with_thresholds=True
    ), profile_s


ref, cur = load()
(scores, profile_s), m = measure(lambda: work(ref, cur))
flagged = [c for c, s in scores.items() if s and s.get("drift_category") == "DRIFT"]
possible = sorted(c for c, s in scores.items() if s and s.get("drift_category") == "POSSIBLE_DRIFT")
algos = sorted({s["algorithm"] for s in scores.values() if s})
note = f"flagged = DRIFT category ({'/'.join(algos)}); POSSIBLE_DRIFT: {', '.join(possible) or 'none'}"
rate = (len(ref) + len(cur)) / profile_s
emit(
    "whylogs", len(cur), m, flagged, note, profile_seconds=round(profile_s, 4), profile_rows_per_s=round(rate)
)
