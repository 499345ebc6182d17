"""Alert evaluation cost: one engine round over many models, each with the default rules.

    .venv/bin/python bench/alerting_bench.py [--models 10,50,200] [--hours 24] [--rounds 5]

For each model count: a fresh embedded store; a day of 1-minute windows per model (written through the
ingest path, 60 events a minute, 10 features with a baseline, labels for half); then `--rounds` engine
rounds one minute apart, timed. Prints milliseconds per round, per model and per rule evaluation. A round
reads each rule's metric over its window (and the relative rules' 7-day baseline), steps the state
machine, saves changed states, groups and delivers (no receivers here).
Target (2-core machine): a round over 200 models within the default evaluate_every of 30 s, with room
to spare (under 5 s).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vigil.alerting.engine import AlertEngine  # noqa: E402
from vigil.config import parse_config  # noqa: E402
from vigil.server.app import Vigil  # noqa: E402
from vigil.store.sqlite import SQLiteStore  # noqa: E402

T0 = 1_800_000_000.0 - 1_800_000_000.0 % 86_400


def _config(models: int) -> str:
    lines = ["models:"]
    for i in range(models):
        lines.append(f"  m{i}: {{task: binary, owner: {{team: t{i % 7}}}, window: 1m}}")
    lines.append("alerting: {evaluate_every: 30s, default_rules: true}")
    return "\n".join(lines) + "\n"


def run(models: int, hours: int, rounds: int) -> dict[str, float]:
    now = [T0]
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "v.db")
        config = parse_config(_config(models))
        vigil = Vigil(config, store, clock=lambda: now[0], flush_every=3600)
        vigil.aggregator.start()
        rng = np.random.default_rng(0)
        start = time.perf_counter()
        for minute in range(hours * 60):
            now[0] = T0 + minute * 60 + 59
            events = []
            for i in range(models):
                for j in range(60):
                    events.append(
                        {
                            "model": f"m{i}",
                            "timestamp": T0 + minute * 60 + j,
                            "request_id": f"{i}-{minute}-{j}",
                            "latency_ms": float(rng.gamma(4, 3)),
                            "prediction": int(j % 2),
                            "score": float(rng.random()),
                            "features": {f"f{k}": float(rng.normal()) for k in range(10)},
                            **({"error": "x"} if j == 0 and minute % 30 == 0 else {}),
                        }
                    )
            result = vigil.ingestor.events(orjson.dumps(events), "application/json", None)
            assert not result.rejected, result.rejected[:1]
        vigil.aggregator.wait_idle(600)
        vigil.aggregator.flush()
        loaded = time.perf_counter() - start
        engine = AlertEngine.from_config(config, vigil.query, store, clock=lambda: now[0])
        times = []
        for r in range(rounds):
            now[0] = T0 + hours * 3600 + 60 * r + 1
            t = time.perf_counter()
            engine.tick(now[0])
            times.append(time.perf_counter() - t)
        rules = len(engine.rules)
        vigil.aggregator.stop()
        store.close()
    ms = statistics.median(times) * 1e3
    return {
        "models": models,
        "rules": rules,
        "round_ms": ms,
        "per_model_ms": ms / models,
        "per_rule_ms": ms / rules,
        "first_round_ms": times[0] * 1e3,
        "load_s": loaded,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", default="10,50,200")
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"{'models':>7} {'rules':>6} {'round ms':>9} {'first ms':>9} {'ms/model':>9} {'ms/rule':>8}")
    for n in (int(x) for x in args.models.split(",")):
        r = run(n, args.hours, args.rounds)
        print(
            f"{r['models']:>7.0f} {r['rules']:>6.0f} {r['round_ms']:>9.1f} {r['first_round_ms']:>9.1f} "
            f"{r['per_model_ms']:>9.2f} {r['per_rule_ms']:>8.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
