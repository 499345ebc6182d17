"""A window's spend per user and feature: summed from the event table as pandas' group-by sums them,
kept through the codec, merges and the kept hour's service part."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from vigil.monitoring.partials import service
from vigil.monitoring.window import WindowState
from vigil.spec import Spend


def _events(rng: np.random.Generator, n: int) -> pa.Table:
    names: list[str | None] = ["u-1", "u-2", "u-3", "u-4", None]
    users = [names[i] for i in rng.integers(0, len(names), n)]
    return pa.table(
        {
            "cost": rng.lognormal(-6, 1, n),
            "tokens_in": rng.integers(10, 500, n),
            "tokens_out": pa.array([None if i % 7 == 0 else int(i) for i in range(n)], pa.int64()),
            "#user": pa.array(users, pa.string()),
            "#feature": pa.array(rng.choice(["chat", "search"], n).tolist()).dictionary_encode(),
        }
    )


def test_spend_sums_like_pandas_and_survives_codec_merge_and_service_part() -> None:
    rng = np.random.default_rng(3)
    a, b = _events(rng, 300), _events(rng, 200)
    w1, w2 = WindowState(), WindowState()
    for w, t in ((w1, a), (w2, b)):
        w.track_spend(Spend(by=("user", "feature"), top=10))
        w.update(t, pa.table({}), None, rng)
    merged = WindowState.from_bytes(w1.to_bytes()).merge(WindowState.from_bytes(w2.to_bytes()))
    frame = pa.concat_tables([a, b.cast(a.schema)]).to_pandas()
    frame["tokens"] = frame["tokens_in"] + frame["tokens_out"].fillna(0)
    for tag in ("user", "feature"):
        exact = frame.groupby(f"#{tag}", observed=True)[["cost", "tokens"]].sum()  # nulls dropped
        for state in (merged, service(merged)):
            got = state.spend[tag]
            assert got.exact and set(got.cost) == set(exact.index)
            for key, row in exact.iterrows():
                assert got.cost[str(key)] == pytest.approx(row["cost"], rel=1e-12)
                assert got.tokens[str(key)] == int(row["tokens"])
    # a window whose model keeps no spend writes none and reads none
    plain = WindowState()
    plain.update(a, pa.table({}), None, rng)
    assert plain.spend == {} and WindowState.from_bytes(plain.to_bytes()).spend == {}


def test_top_spender_share_is_read_from_twenty_priced_calls_up() -> None:
    """One call of a quiet step is 100% of its cost: the share says nothing there, so it reads NaN (a
    rule then skips the step) until the step holds 20 priced calls."""
    from vigil.monitoring.catalogue import _top_share

    rng = np.random.default_rng(5)
    for n, defined in ((1, False), (19, False), (20, True), (300, True)):
        table = _events(rng, n)
        w = WindowState()
        w.track_spend(Spend(by=("user", "feature"), top=10))
        w.update(table, pa.table({}), None, rng)
        share = _top_share(w, "user")
        if not defined:
            assert np.isnan(share), n
            continue
        frame = table.to_pandas()
        exact = frame.groupby("#user")["cost"].sum().max() / frame["cost"].sum()
        assert share == pytest.approx(exact, rel=1e-12), n
