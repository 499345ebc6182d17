"""Spend per user: the cost-weighted heavy-hitters sketch against exact per-user totals, and what keeping
it costs a window's update per event.

    .venv/bin/python bench/spend_bench.py [--events 1000000] [--users 100000] [--top 100] [--batch 2000]

Accuracy: ``--events`` LLM calls by Zipf-distributed users (exponent 1.1, 1.3 and 2.0 over ``--users``
users), each with a lognormal cost, fed in batches of ``--batch`` into one window per minute (60 batches
a window, as the aggregator folds them), the windows then merged into the whole range. Compared with
exact per-user sums (numpy): whether the true top 10 are listed in order, how many of the true top
``--top`` are listed, the largest relative error of the true top 10, 20 and 50 (a user not listed: 1) and
of any listed cost, "other"'s share, and whether the stated bound held. (The users are clipped at
``--users``: the last one gathers the Zipf tail and is the costliest.)
Overhead: ``WindowState.update`` over the same batches with and without ``spend`` (user and feature),
per event, best of 3. Prints one JSON line per exponent and one for the overhead.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import orjson
import pyarrow as pa

from vigil.monitoring.window import WindowState
from vigil.sketches.spenders import Spenders


def _table(who: np.ndarray, cost: np.ndarray, feature: np.ndarray) -> pa.Table:
    users = np.char.add("u-", who.astype(str))
    return pa.table(
        {
            "cost": cost,
            "tokens_in": (cost * 2e6).astype(np.int64),
            "tokens_out": (cost * 1e6).astype(np.int64),
            "#user": users,
            "#feature": feature,
        }
    )


def accuracy(args: argparse.Namespace, a: float, rng: np.random.Generator) -> dict[str, object]:
    who = np.minimum(rng.zipf(a, args.events), args.users) - 1
    cost = rng.lognormal(-7, 1.0, args.events)
    features = np.array(["answer", "summarise", "translate", "search"])[rng.integers(0, 4, args.events)]
    empty = pa.table({})
    whole = WindowState(sample_size=0, spend={"user": Spenders(args.top)})
    per_window = 60 * args.batch
    for w in range(0, args.events, per_window):
        window = WindowState(sample_size=0, spend={"user": Spenders(args.top)})
        for b in range(w, min(w + per_window, args.events), args.batch):
            sl = slice(b, b + args.batch)
            window.update(_table(who[sl], cost[sl], features[sl]), empty, None, rng)
        whole.merge(WindowState.from_bytes(window.to_bytes(), sample=False))
    s = whole.spend["user"]
    exact = np.bincount(who, cost)
    order = np.argsort(-exact)
    listed = {int(k[2:]): c for k, c in s.cost.items()}
    rel = [abs(c - exact[u]) / exact[u] for u, c in listed.items()]
    bound = all(exact[u] - s.other_cost <= c + 1e-12 for u, c in listed.items()) and all(
        u in listed for u in np.flatnonzero(exact > s.other_cost)
    )
    top10 = [int(k[2:]) for k, _, _ in s.most_expensive(10)]
    return {
        "zipf": a,
        "events": args.events,
        "users_seen": int((exact > 0).sum()),
        "top": args.top,
        "windows": -(-args.events // per_window),
        "top10_listed_in_order": top10 == [int(u) for u in order[:10]],
        "true_top_k_listed": len(set(listed) & {int(u) for u in order[: args.top]}),
        "max_rel_error_listed": max(rel),
        "max_rel_error_top10": max(abs(listed[int(u)] - exact[u]) / exact[u] for u in order[:10]),
        "max_rel_error_top20": max(abs(listed.get(int(u), 0.0) - exact[u]) / exact[u] for u in order[:20]),
        "max_rel_error_top50": max(abs(listed.get(int(u), 0.0) - exact[u]) / exact[u] for u in order[:50]),
        "other_share": s.other_cost / cost.sum(),
        "total_rel_error": abs(s.total_cost - cost.sum()) / cost.sum(),
        "bound_held": bound,
    }


def overhead(args: argparse.Namespace, rng: np.random.Generator) -> dict[str, object]:
    n = args.batch * 50
    who = np.minimum(rng.zipf(1.3, n), args.users) - 1
    cost = rng.lognormal(-7, 1.0, n)
    features = np.array(["answer", "summarise", "translate", "search"])[rng.integers(0, 4, n)]
    tables = [
        _table(who[b : b + args.batch], cost[b : b + args.batch], features[b : b + args.batch])
        for b in range(0, n, args.batch)
    ]
    empty = pa.table({})

    def run(spend: bool) -> float:
        best = float("inf")
        for _ in range(3):
            state = WindowState(sample_size=0)
            if spend:
                state.spend = {"user": Spenders(args.top), "feature": Spenders(args.top)}
            t0 = time.perf_counter()
            for t in tables:
                state.update(t, empty, None, rng)
            best = min(best, time.perf_counter() - t0)
        return best / n * 1e9

    without, with_ = run(False), run(True)
    return {
        "batch": args.batch,
        "events": n,
        "ns_per_event_without_spend": round(without, 1),
        "ns_per_event_with_spend": round(with_, 1),
        "overhead_ns_per_event": round(with_ - without, 1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--users", type=int, default=100_000)
    p.add_argument("--top", type=int, default=100)
    p.add_argument("--batch", type=int, default=2000)
    args = p.parse_args()
    rng = np.random.default_rng(1)
    for a in (1.1, 1.3, 2.0):
        print(orjson.dumps(accuracy(args, a, rng), option=orjson.OPT_SERIALIZE_NUMPY, default=float).decode())
    print(orjson.dumps(overhead(args, rng)).decode())


if __name__ == "__main__":
    main()
