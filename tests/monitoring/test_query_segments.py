"""``Query.series`` per segment, on a real app and SQLite store: every metric of ``SEGMENT_METRICS`` for
each segment selector against numpy on the posted rows, the unsegmented label metrics over all rows, and
the refusal of metrics that are not kept per segment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.fakes import FakeClock
from vigil.config import parse_config
from vigil.errors import InputError
from vigil.monitoring.query import SEGMENT_METRICS, Query, parse_segment, segment_text
from vigil.server.app import create_app
from vigil.store.sqlite import SQLiteStore

T0 = 1_800_000_000.0
CONFIG = """
models:
  clf: {task: binary, owner: {team: risk}, segments: [region, tier]}
  reg: {task: regression, owner: {team: pricing}, segments: [region, tier]}
"""
N = 400
REGIONS = np.array(["eu", "us", "apac"])


@pytest.fixture
def posted(tmp_path: Path) -> Iterator[tuple[Query, dict[str, np.ndarray]]]:
    """400 events a model over 4 minutes with random regions (one in ten untagged) and tiers 1 or 2 (sent as
    numbers); 80% of them labelled."""
    rng = np.random.default_rng(17)
    cols: dict[str, np.ndarray] = {
        "ts": np.sort(T0 + rng.uniform(0, 240, N)),
        "region": REGIONS[rng.integers(0, 3, N)],
        "tagged": rng.random(N) > 0.1,
        "tier": rng.integers(1, 3, N),
        "pred": (rng.random(N) < 0.4).astype(int),
        "score": rng.random(N),
        "truth": (rng.random(N) < 0.5).astype(int),
        "y_hat": rng.normal(10, 3, N),
        "y": rng.normal(10, 3, N),
        "labelled": rng.random(N) < 0.8,
    }
    with ExitStack() as stack:
        store = SQLiteStore(tmp_path / "vigil.db")
        stack.callback(store.close)
        clock = FakeClock(T0 + 300)
        app = create_app(parse_config(CONFIG), store, clock=clock, flush_every=3600, root=tmp_path)
        client = stack.enter_context(TestClient(app))

        def post(path: str, records: list[dict[str, Any]]) -> None:
            r = client.post(path, content=json.dumps(records), headers={"content-type": "application/json"})
            assert r.status_code == 200 and r.json()["rejected"] == [], r.text

        # the classifier first: its int predictions are cached, and the regression's floats must not be
        # truncated to them (tests/ingest/test_columnar.py)
        for model in ("clf", "reg"):
            events = []
            for i in range(N):
                tags = (
                    {"region": str(cols["region"][i]), "tier": int(cols["tier"][i])}
                    if cols["tagged"][i]
                    else {}
                )
                events.append(
                    {
                        "model": model,
                        "request_id": f"{model}{i}",
                        "timestamp": float(cols["ts"][i]),
                        "prediction": int(cols["pred"][i]) if model == "clf" else float(cols["y_hat"][i]),
                        "score": float(cols["score"][i]),
                        "segments": tags,
                    }
                )
            post("/v1/events", events)
            truth = cols["truth"] if model == "clf" else cols["y"]
            post(
                "/v1/labels",
                [
                    {"model": model, "request_id": f"{model}{i}", "label": truth[i].item()}
                    for i in np.flatnonzero(cols["labelled"])
                ],
            )
        assert app.state.vigil.aggregator.wait_idle(10)
        yield app.state.vigil.query, cols


def _expected(name: str, cols: dict[str, np.ndarray], sel: np.ndarray) -> float | None:
    lab = sel & cols["labelled"]
    p, t = cols["pred"][lab], cols["truth"][lab]
    err = cols["y_hat"][lab] - cols["y"][lab]
    tp = float(np.sum((p == 1) & (t == 1)))
    values: dict[str, Any] = {
        "predictions": float(sel.sum()),
        "score_mean": np.mean(cols["score"][sel]) if sel.any() else None,
        "prediction_mean": np.mean(cols["y_hat"][sel]) if sel.any() else None,
        "label_coverage": np.mean(cols["labelled"][sel]) if sel.any() else None,
        "accuracy": np.mean(p == t) if lab.any() else None,
        "precision": tp / np.sum(p == 1) if np.sum(p == 1) else None,
        "recall": tp / np.sum(t == 1) if np.sum(t == 1) else None,
        "f1": 2 * tp / (np.sum(p == 1) + np.sum(t == 1)) if lab.any() else None,
        "mae": np.mean(np.abs(err)) if lab.any() else None,
        "rmse": np.sqrt(np.mean(err**2)) if lab.any() else None,
    }
    value: float | None = values[name]
    return value


CLASSIFICATION = ["predictions", "score_mean", "label_coverage", "accuracy", "precision", "recall", "f1"]
REGRESSION = ["predictions", "prediction_mean", "mae", "rmse"]


@pytest.mark.parametrize(
    "selector", [None, "region=eu", {"region": "us", "tier": 2}, "tier=1", "region=mars"]
)
def test_segment_metrics_equal_numpy_on_the_rows_of_the_segment(
    posted: tuple[Query, dict[str, np.ndarray]], selector: Any
) -> None:
    query, cols = posted
    wanted = parse_segment(selector) if selector is not None else {}
    in_segment = cols["tagged"].copy()
    if "region" in wanted:
        in_segment &= cols["region"] == wanted["region"]
    if "tier" in wanted:
        in_segment &= cols["tier"].astype(str) == wanted["tier"]
    if selector is None:
        in_segment = np.ones(N, bool)
    for model, names in (("clf", CLASSIFICATION), ("reg", REGRESSION)):
        if selector is None:  # without a segment the window metrics come from the windows' profiles
            names = [n for n in names if n not in ("score_mean", "prediction_mean")]
        got = query.series(model, names, T0, T0 + 240, 60, segment=selector)
        for k in range(4):
            sel = in_segment & (cols["ts"] >= T0 + 60 * k) & (cols["ts"] < T0 + 60 * (k + 1))
            for name in names:
                want = _expected(name, cols, sel)
                value = got[name][k][1]
                # sums and means of a few hundred doubles, computed in another order: 1e-12 relative
                assert value == (None if want is None else pytest.approx(want, rel=1e-12)), (model, name, k)


def test_unsegmented_window_means_and_refusals(posted: tuple[Query, dict[str, np.ndarray]]) -> None:
    query, cols = posted
    got = query.series("clf", ["score_mean"], T0, T0 + 240, 240)
    assert got["score_mean"][0][1] == pytest.approx(np.mean(cols["score"]), rel=1e-9)  # from the profile
    with pytest.raises(InputError, match="latency_p95, drift:x cannot be read per segment"):
        query.series("clf", ["accuracy", "latency_p95", "drift:x"], T0, T0 + 240, 60, segment="region=eu")
    with pytest.raises(InputError, match="is not key=value"):
        query.series("clf", ["accuracy"], T0, T0 + 240, 60, segment="eu")
    assert set(SEGMENT_METRICS) >= set(CLASSIFICATION + REGRESSION + ["label_lag_p50"])


def test_segment_parsing() -> None:
    assert parse_segment({"on": True, "w": 2.0, "x": 2.5}) == {"on": "1", "w": "2", "x": "2.5"}
    assert segment_text(parse_segment("b=2, a=1")) == "a=1,b=2"
    for bad in ("", "a=", "=1", {"a": None}, {"a": [1]}, 3, {}):
        with pytest.raises(ValueError):
            parse_segment(bad)
