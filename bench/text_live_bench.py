"""Live text descriptor drift: false alarms on same-distribution hours and detection of shifted ones.

Each seed profiles a baseline file of Zipf-worded answers (3,000 words, 4-13 words an answer, 3% empty,
1% null), then folds hours of events through the server's ingest path (in-process, SQLite) and reads
``text_drift:answer`` per hour: hours like the baseline (false alarms), answers 8-21 words long, 15%
empty, a share of words from another vocabulary.

    .venv/bin/python bench/text_live_bench.py --seeds 40 --rows 900
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from vigil.config import parse_config
from vigil.server.app import Vigil
from vigil.store.sqlite import SQLiteStore

HOUR = 3600.0
T0 = 1_800_000_000.0 - 1_800_000_000.0 % HOUR
WORDS = np.array([f"w{i}" for i in range(3000)])
NEW = np.array([f"n{i}" for i in range(400)])
P = 1.0 / np.arange(1, len(WORDS) + 1)
P /= P.sum()
CONFIG = """
models:
  bot:
    task: regression
    owner: {{team: t}}
    window: 1m
    sample_size: 0
    baseline: {{file: {base}}}
    features: {{answer: {{type: text, scrub: false}}}}
"""
KINDS: dict[str, dict[str, Any]] = {
    "same": {},
    "longer": {"words": (8, 22)},
    "empty 15%": {"empty": 0.15},
    "new words 10%": {"new": 0.10},
    "new words 5%": {"new": 0.05},
}


DESCRIPTORS: dict[str, dict[str, int]] = {}
"""Per kind of hour, how many hours each descriptor was flagged in."""


def answers(
    rng: np.random.Generator, n: int, words: tuple[int, int] = (4, 14), empty: float = 0.03, new: float = 0.0
) -> list[str | None]:
    out: list[str | None] = []
    for _ in range(n):
        u = rng.random()
        if u < 0.01:
            out.append(None)
        elif u < 0.01 + empty:
            out.append("")
        else:
            picked = rng.choice(WORDS, size=int(rng.integers(*words)), p=P)
            swap = rng.random(len(picked)) < new
            picked[swap] = rng.choice(NEW, size=int(swap.sum()))
            out.append(" ".join(picked))
    return out


def run(seed: int, rows: int, hours: list[str]) -> list[float | None]:
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base.parquet"
        pd.DataFrame({"answer": answers(rng, 4000), "prediction": 1.0}).to_parquet(base)
        vigil = Vigil(
            parse_config(CONFIG.format(base=base)),
            SQLiteStore(Path(tmp) / "v.db"),
            clock=lambda: T0 + (len(hours) + 1) * HOUR,
            flush_every=3600,
        )
        vigil.aggregator.start()
        events = []
        for k, kind in enumerate(hours):
            times = T0 + k * HOUR + np.sort(rng.uniform(0, HOUR, rows))
            for t, a in zip(times, answers(rng, rows, **KINDS[kind]), strict=True):
                events.append(
                    {"model": "bot", "timestamp": float(t), "features": {"answer": a}, "prediction": 1}
                )
        assert vigil.ingestor.events(orjson.dumps(events), "application/json", None).accepted == len(events)
        assert vigil.aggregator.wait_idle(60)
        vigil.aggregator.flush()
        got = vigil.query.series("bot", ["text_drift:answer"], T0, T0 + len(hours) * HOUR, HOUR)
        for k, kind in enumerate(hours):
            report = vigil.query.drift("bot", T0 + k * HOUR, T0 + (k + 1) * HOUR)
            for name, c in report.columns.items():
                if name.startswith("answer.") and c.drift:
                    DESCRIPTORS.setdefault(kind, {}).setdefault(name, 0)
                    DESCRIPTORS[kind][name] += 1
        vigil.aggregator.stop()
        vigil.store.close()
        return [v for _, v in got["text_drift:answer"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--rows", type=int, default=900, help="events an hour")
    args = parser.parse_args()
    hours = ["same", "same", "same", *[k for k in KINDS if k != "same"]]
    flags: dict[str, list[float]] = {k: [] for k in KINDS}
    started = time.perf_counter()
    for seed in range(args.seeds):
        for kind, value in zip(hours, run(seed, args.rows, hours), strict=True):
            assert value is not None
            flags[kind].append(value)
    print(f"{args.seeds} seeds, {args.rows} events an hour, {time.perf_counter() - started:.0f} s")
    for kind, values in flags.items():
        what = "false alarms" if kind == "same" else "detected"
        print(f"{kind:>14}: {what} {int(sum(values))}/{len(values)} hours ({np.mean(values):.1%})")
        print(f"{'':>14}  by descriptor: {dict(sorted(DESCRIPTORS.get(kind, {}).items()))}")


if __name__ == "__main__":
    main()
