"""NannyML: UnivariateDriftCalculator with its defaults (jensen_shannon for both column types).

Alert thresholds come from NannyML's default chunking of the reference (10 chunks: mean + 3 sd of the
reference chunks' JS distances); the analysis (current) is then scored as a single chunk. With one chunk
for the reference too, every threshold collapses to 0 and every column alerts.
"""

from common import CATEGORICAL, NUMERIC, emit, load, measure
from nannyml import UnivariateDriftCalculator
from nannyml.chunk import CountBasedChunker


def work(ref, cur):  # type: ignore[no-untyped-def]
    calc = UnivariateDriftCalculator(column_names=NUMERIC + CATEGORICAL, treat_as_categorical=CATEGORICAL)
    calc.fit(ref)
    calc.chunker = CountBasedChunker(chunk_number=1)  # the whole current is one analysis chunk
    return calc.calculate(cur).filter(period="analysis").to_df()


ref, cur = load()
df, m = measure(lambda: work(ref, cur))
flagged = [c for c in NUMERIC + CATEGORICAL if bool(df[(c, "jensen_shannon", "alert")].any())]
note = "thresholds from 10 reference chunks (default chunker), current = 1 chunk; jensen_shannon both types"
emit("nannyml", len(cur), m, flagged, note)
