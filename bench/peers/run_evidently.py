"""Evidently 0.7: Report([DataDriftPreset()]) with declared column types; timed up to the JSON snapshot."""

from collections import Counter

from common import CATEGORICAL, NUMERIC, emit, load, measure
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset


def work(ref, cur):  # type: ignore[no-untyped-def]
    dd = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    report = Report([DataDriftPreset()], include_tests=True)
    snap = report.run(
        Dataset.from_pandas(cur, data_definition=dd), Dataset.from_pandas(ref, data_definition=dd)
    )
    snap.json()
    return snap


ref, cur = load()
snap, m = measure(lambda: work(ref, cur))
flagged, methods = [], Counter()
for test in snap.dict()["tests"]:
    params = test["metric_config"]["params"]
    if params.get("type", "").endswith("ValueDrift"):
        methods[f"{params['method']} (thr {params['threshold']})"] += 1
        if test["status"] == "FAIL":
            flagged.append(params["column"])
note = "defaults chosen: " + "; ".join(f"{k} x{v}" for k, v in methods.items())
emit("evidently", len(cur), m, flagged, note)
