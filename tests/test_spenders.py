"""The spend sketch against exact per-value totals (numpy), before and after merges."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.sketches.spenders import Spenders


def _stream(
    rng: np.random.Generator, n: int, users: int, a: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` calls by Zipf-distributed users, each with a lognormal cost and its tokens."""
    who = np.minimum(rng.zipf(a, n), users) - 1
    cost = rng.lognormal(-7, 1.0, n)
    tokens = (cost * 1e6 / 0.6).astype(np.int64)
    return who, cost, tokens


def _feed(s: Spenders, who: np.ndarray, cost: np.ndarray, tokens: np.ndarray) -> Spenders:
    keys = np.unique(who)
    return s.update(
        [f"u-{k}" for k in keys],
        np.bincount(who, cost, minlength=who.max() + 1)[keys],
        np.bincount(who, tokens, minlength=who.max() + 1)[keys].astype(np.int64),
    )


def _check(s: Spenders, who: np.ndarray, cost: np.ndarray, tokens: np.ndarray) -> None:
    exact = np.bincount(who, cost)
    exact_tokens = np.bincount(who, tokens.astype(np.float64))
    assert s.total_cost == pytest.approx(cost.sum(), rel=1e-9)
    assert s.total_tokens == int(tokens.sum())
    kept = {int(k[2:]) for k in s.cost}
    for user in range(len(exact)):
        if exact[user] > s.other_cost * (1 + 1e-9):
            assert user in kept, f"u-{user} spent {exact[user]} > other {s.other_cost} but was not kept"
    for key, c in s.cost.items():
        u = int(key[2:])
        assert exact[u] - s.other_cost - 1e-12 <= c <= exact[u] + 1e-12
        assert s.tokens[key] <= exact_tokens[u]


@pytest.mark.parametrize("a", [1.2, 1.6, 2.5])
@pytest.mark.parametrize("batches", [1, 20])
def test_bound_holds_on_zipf_streams(a: float, batches: int) -> None:
    rng = np.random.default_rng(int(a * 10) + batches)
    who, cost, tokens = _stream(rng, 20_000, 5_000, a)
    s = Spenders(capacity=50)
    for part in np.array_split(np.arange(len(who)), batches):
        _feed(s, who[part], cost[part], tokens[part])
    _check(s, who, cost, tokens)
    # the heavy users are exact: the top 10 by true cost are the sketch's top 10, within other
    exact = np.bincount(who, cost)
    top = [f"u-{u}" for u in np.argsort(-exact)[:5]]
    assert [k for k, _, _ in s.most_expensive(5)] == top


def test_bound_holds_after_merges_in_any_order() -> None:
    rng = np.random.default_rng(7)
    who, cost, tokens = _stream(rng, 30_000, 3_000, 1.4)
    parts = [
        _feed(Spenders(capacity=40), who[p], cost[p], tokens[p])
        for p in np.array_split(np.arange(30_000), 12)
    ]
    forward = Spenders(capacity=40)
    for p in parts:
        forward.merge(p.copy())
    tree = parts[0].copy()
    for a, b in zip(parts[1::2], parts[2::2], strict=False):
        tree.merge(a.copy().merge(b))
    tree.merge(parts[-1]) if len(parts) % 2 == 0 else None
    for s in (forward, tree):
        _check(s, who, cost, tokens)


def test_exact_below_capacity_and_codec() -> None:
    s = Spenders(capacity=3).update(["a", "b"], [0.5, 0.25], [10, 5]).update(["a", "c"], [0.5, 1.0], [1, 2])
    assert s.exact and s.most_expensive() == [("a", 1.0, 11), ("c", 1.0, 2), ("b", 0.25, 5)]
    again = Spenders.from_json(s.to_json())
    assert again == s
    s.update(["d"], [2.0], [7])
    assert not s.exact and s.other_cost == 0.25 and s.other_tokens == 5 and "b" not in s.cost
