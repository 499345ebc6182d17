"""NannyML: DataReconstructionDriftCalculator (PCA reconstruction error) with its defaults.

Fitted on the reference with its default chunker (thresholds: mean ± 3 sd of the reference chunks'
errors), the current scored as one chunk. Prints one JSON line: seconds, drift, the error and thresholds.
"""

import json
from importlib.metadata import version

from common import load, measure
from nannyml import DataReconstructionDriftCalculator
from nannyml.chunk import CountBasedChunker


def work(ref, cur):  # type: ignore[no-untyped-def]
    calc = DataReconstructionDriftCalculator(column_names=list(ref.columns))
    calc.fit(ref)
    calc.chunker = CountBasedChunker(chunk_number=1)
    return calc.calculate(cur).filter(period="analysis").to_df()


ref, cur = load()
df, m = measure(lambda: work(ref, cur))
row = df.iloc[0]
key = "reconstruction_error"
record = {
    "tool": "nannyml",
    "rows": len(cur),
    "seconds": round(m.seconds, 4),
    "drift": bool(row[(key, "alert")]),
    "statistic": float(row[(key, "value")]),
    "threshold": float(row[(key, "upper_threshold")]),
    "version": version("nannyml"),
}
print(json.dumps(record), flush=True)
