"""Vigil (the project's own .venv): vigil.compare(ref, cur) then report.to_json() -- the full default report.

Separately, vigil.profile(df) on both tables gives the profiling throughput (rows/s).
"""

from common import emit, load, measure

# resolved here, as the peers import theirs, so that library import time is not timed
from vigil import compare, profile


def work(ref, cur):  # type: ignore[no-untyped-def]
    report = compare(ref, cur)
    report.to_json()
    return report


ref, cur = load()
report, m = measure(lambda: work(ref, cur))
flagged = [name for name, c in report.to_dict()["columns"].items() if c["drift"]]
_, prof = measure(lambda: (profile(ref), profile(cur)))
rate = (len(ref) + len(cur)) / prof.seconds
emit(
    "vigil",
    len(cur),
    m,
    flagged,
    "compare + to_json (profiles, all default tests, JSON)",
    profile_seconds=round(prof.seconds, 4),
    profile_rows_per_s=round(rate),
    profile_peak_mb=round(prof.peak_mb, 1),
)
