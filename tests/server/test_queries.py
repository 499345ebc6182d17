"""GET /v1/models/{m}/metrics, /drift and /events through the real HTTP app (in process) on a real SQLite
store, checked against numpy on the events the test generated.

Events are posted over a quarter of an hour of a fake clock (injected with ``clock=``), with windows saved
and evicted along the way and some events arriving late, so a range merges saved windows, windows still in
memory and windows reopened from the store.

Tolerances: counts, error rates, sums and means are exact (to float rounding, 1e-9 relative); latency
quantiles are within 1% relative of numpy's ``quantile(..., method="lower")`` (the sketch's stated bound,
at the rank ``floor(q * (n - 1))``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.fakes import FakeClock
from vigil.config import parse_config
from vigil.server.app import create_app
from vigil.store.sqlite import SQLiteStore

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z: a whole hour, so 60 s, 300 s and 900 s steps line up
T0 = NOW - 900
JSON = {"content-type": "application/json"}

CONFIG = """
models:
  credit:
    task: binary
    owner: {team: risk}
    features:
      income: {type: numeric}
      region: {type: categorical}
"""


@dataclass
class Server:
    client: TestClient
    app: FastAPI
    clock: FakeClock
    stop: Callable[[], None]

    def post(self, path: str, records: list[dict[str, Any]]) -> dict[str, Any]:
        r = self.client.post(path, content=json.dumps(records), headers=JSON)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        assert body["rejected"] == [], body
        return body

    def settle(self) -> None:
        assert self.app.state.vigil.aggregator.wait_idle(10)

    def flush(self) -> None:
        self.settle()
        self.app.state.vigil.aggregator.flush()

    def series(self, model: str, names: str, **params: Any) -> dict[str, list[tuple[float, Any]]]:
        self.settle()
        r = self.client.get(f"/v1/models/{model}/metrics", params={"names": names, **params})
        assert r.status_code == 200, r.text
        return {name: [(_epoch(t), v) for t, v in points] for name, points in r.json()["series"].items()}


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    with ExitStack() as stack:

        def start(config: str = CONFIG, now: float = NOW + 5) -> Server:
            own = ExitStack()  # this server's: stop() ends it, or the test's end does
            stack.callback(own.close)
            store = SQLiteStore(tmp_path / "vigil.db")
            own.callback(store.close)
            clock = FakeClock(now)
            app = create_app(parse_config(config), store, clock=clock, flush_every=3600, root=tmp_path)
            return Server(own.enter_context(TestClient(app)), app, clock, own.close)

        yield start


# -- the generated traffic -----------------------------------------------------------------------------------


def _traffic(rng: np.random.Generator, n: int, start: float, seconds: float) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "ts": np.round(start + rng.uniform(0, seconds, n), 3),
            "latency": rng.lognormal(3.0, 0.6, n),
            "has_latency": rng.random(n) > 0.05,
            "error": rng.random(n) < 0.07,
            "score": rng.random(n),
            "has_score": rng.random(n) > 0.03,
            "cost": rng.gamma(2.0, 0.001, n),
            "tokens_in": rng.integers(10, 500, n),
            "tokens_out": rng.integers(1, 200, n),
            "income": rng.lognormal(10, 0.5, n),
            "income_null": rng.random(n) < 0.10,
            "region": rng.choice(["eu", "us", "apac"], n),
            "region_absent": rng.random(n) < 0.05,
            "age": rng.integers(18, 90, n),
            "age_absent": rng.random(n) < 0.4,
        }
    )
    df["request_id"] = [f"r{i}" for i in range(n)]
    return df.sort_values("ts", kind="stable").reset_index(drop=True)


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    row: Any  # a pandas row: attributes of any type
    for row in df.itertuples():
        features: dict[str, Any] = {"income": None if row.income_null else float(row.income)}
        if not row.region_absent:
            features["region"] = row.region
        if not row.age_absent:
            features["age"] = int(row.age)
        out.append(
            {
                "model": "credit",
                "request_id": row.request_id,
                "timestamp": float(row.ts),
                "latency_ms": float(row.latency) if row.has_latency else None,
                "error": "TimeoutError: upstream took too long" if row.error else None,
                "score": float(row.score) if row.has_score else None,
                "prediction": int(row.score > 0.5),
                "cost": float(row.cost),
                "tokens_in": int(row.tokens_in),
                "tokens_out": int(row.tokens_out),
                "features": features,
            }
        )
    return out


def _expected(df: pd.DataFrame) -> dict[str, float | None]:
    """Every metric of one step, from the raw events with numpy."""
    n = len(df)
    if n == 0:
        return {"events": 0.0, "errors": 0.0, "cost": 0.0, "tokens_in": 0.0, "tokens_out": 0.0}
    lat = df.latency[df.has_latency].to_numpy()
    nulls = df.income_null.sum() + df.region_absent.sum() + df.age_absent.sum()
    return {
        "events": float(n),
        "errors": float(df.error.sum()),
        "error_rate": float(df.error.mean()),
        "latency_p50": float(np.quantile(lat, 0.5, method="lower")),
        "latency_p95": float(np.quantile(lat, 0.95, method="lower")),
        "latency_p99": float(np.quantile(lat, 0.99, method="lower")),
        "latency_mean": float(lat.mean()),
        "cost": float(df.cost.sum()),
        "tokens_in": float(df.tokens_in.sum()),
        "tokens_out": float(df.tokens_out.sum()),
        "score_mean": float(df.score[df.has_score].mean()),
        "null_rate": float(nulls / (3 * n)),
        "null_rate:income": float(df.income_null.mean()),
    }


NAMES = (
    "events,errors,error_rate,throughput,latency_p50,latency_p95,latency_p99,latency_mean,cost,tokens_in,"
    "tokens_out,score_mean,null_rate,null_rate:income"
)


def _check_step(got: dict[str, Any], want: dict[str, float | None], step: float, where: str) -> None:
    for name, value in got.items():
        if name == "throughput":
            assert value == pytest.approx(want["events"] / step, rel=1e-12), where  # type: ignore[operator]
            continue
        expected = want.get(name)
        if expected is None:
            assert value is None, (where, name, value)
        elif name.startswith("latency_p"):
            assert abs(value - expected) <= 0.01 * expected + 1e-9, (where, name, value, expected)
        else:
            assert value == pytest.approx(expected, rel=1e-9, abs=1e-12), (where, name, value, expected)


@pytest.fixture(scope="module")
def traffic() -> pd.DataFrame:
    return _traffic(np.random.default_rng(20261121), 3000, T0, 900)


def _post_over_time(server: Server, df: pd.DataFrame, rng: np.random.Generator) -> None:
    """Post ``df`` minute by minute as the clock moves, saving windows every 4 minutes (the clock moving
    on evicts old ones); 5% of the events arrive at the very end, into windows saved long before."""
    late = rng.random(len(df)) < 0.05
    records = _records(df)
    for minute in range(15):
        server.clock.now = T0 + 60 * (minute + 1) + 1
        batch = [
            r
            for r, is_late, ts in zip(records, late, df.ts, strict=True)
            if not is_late and T0 + 60 * minute <= ts < T0 + 60 * (minute + 1)
        ]
        for chunk in range(0, len(batch), 70):
            server.post("/v1/events", batch[chunk : chunk + 70])
        if minute % 4 == 3:
            server.flush()
    server.clock.now = NOW + 5
    server.post("/v1/events", [r for r, is_late in zip(records, late, strict=True) if is_late])


@pytest.fixture
def loaded(serve: Callable[..., Server], traffic: pd.DataFrame) -> Server:
    server = serve()
    _post_over_time(server, traffic, np.random.default_rng(7))
    return server


# -- service, LLM and data metrics ---------------------------------------------------------------------------


@pytest.mark.parametrize("step", [60, 300, 900])
def test_metrics_per_step_match_numpy(loaded: Server, traffic: pd.DataFrame, step: int) -> None:
    series = loaded.series("credit", NAMES, step=step, **{"from": T0, "to": NOW})
    starts = [t for t, _ in series["events"]]
    assert starts == [T0 + k * step for k in range(900 // step)]
    for k, t in enumerate(starts):
        part = traffic[(traffic.ts >= t) & (traffic.ts < t + step)]
        got = {name: points[k][1] for name, points in series.items()}
        _check_step(got, _expected(part), step, f"step {step} at {t}")
    assert sum(v for _, v in series["events"]) == len(traffic)


def test_a_sub_range_holds_exactly_its_windows(loaded: Server, traffic: pd.DataFrame) -> None:
    a, b = T0 + 180, T0 + 540  # on the 2-minute grid
    series = loaded.series("credit", NAMES, step="2m", **{"from": a, "to": b})
    assert [t for t, _ in series["events"]] == [a, a + 120, a + 240]
    for k, (t, _) in enumerate(series["events"]):
        part = traffic[(traffic.ts >= t) & (traffic.ts < t + 120)]
        _check_step({n: p[k][1] for n, p in series.items()}, _expected(part), 120, f"at {t}")


def test_steps_without_events_say_zero_or_nothing(loaded: Server) -> None:
    series = loaded.series(
        "credit", "events,cost,error_rate,latency_p95", step=60, **{"from": NOW, "to": NOW + 120}
    )
    assert [v for _, v in series["events"]] == [0.0, 0.0]
    assert [v for _, v in series["cost"]] == [0.0, 0.0]
    assert [v for _, v in series["error_rate"]] == [None, None]
    assert [v for _, v in series["latency_p95"]] == [None, None]


def test_metrics_survive_a_restart(
    serve: Callable[..., Server], traffic: pd.DataFrame, tmp_path: Path
) -> None:
    server = serve()
    _post_over_time(server, traffic, np.random.default_rng(7))
    before = server.series("credit", NAMES, step=300, **{"from": T0, "to": NOW})
    server.stop()  # an orderly stop: windows saved
    again = serve()
    after = again.series("credit", NAMES, step=300, **{"from": T0, "to": NOW})
    assert after.keys() == before.keys()
    for name, points in before.items():  # counts exactly; means to the last bits (merge order may differ)
        assert [t for t, _ in after[name]] == [t for t, _ in points]
        assert [v for _, v in after[name]] == [pytest.approx(v, rel=1e-12) if v else v for _, v in points]


def test_bad_query_parameters_are_client_errors(loaded: Server) -> None:
    c = loaded.client
    for params in (
        {"step": "nan"},
        {"step": "inf"},
        {"step": "-60"},
        {"step": "0"},
        {"step": "soon"},
        {"to": "1e300"},
        {"from": "-1e300", "to": "0"},
        {"from": "garbage"},
        {"from": NOW, "to": NOW - 60},
        {"from": 0, "to": NOW, "step": 60},  # 30 million steps
        {"names": "events,bogus"},
    ):
        r = c.get("/v1/models/credit/metrics", params=params)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["error"]
    r = c.get("/v1/models/nope/metrics")
    assert r.status_code == 404
    assert r.json()["known_models"] == ["credit"]
    assert c.get("/v1/models/credit/drift", params={"to": "1e300"}).status_code == 422
    assert c.get("/v1/models/credit/events", params={"limit": 0}).status_code == 422


def test_a_feature_first_seen_null_is_still_profiled(serve: Callable[..., Server]) -> None:
    server = serve()
    at = T0 + 30
    server.post("/v1/events", [{"model": "credit", "timestamp": at, "features": {"age": None}}])
    server.settle()  # folded on its own: "age" has no type yet in this window
    server.post(
        "/v1/events", [{"model": "credit", "timestamp": at, "features": {"age": a}} for a in (30, 40, 50)]
    )
    series = server.series("credit", "events,null_rate:age", step=60, **{"from": T0, "to": T0 + 60})
    assert series["events"] == [(T0, 4.0)]
    assert series["null_rate:age"] == [(T0, 0.25)]


def test_an_undeclared_feature_that_changes_type_does_not_break_queries(serve: Callable[..., Server]) -> None:
    server = serve()
    server.post("/v1/events", [{"model": "credit", "timestamp": T0 + 10, "features": {"code": 1.5}}])
    server.settle()
    server.post("/v1/events", [{"model": "credit", "timestamp": T0 + 70, "features": {"code": "A7"}}])
    server.settle()
    server.post("/v1/events", [{"model": "credit", "timestamp": T0 + 20, "features": {"code": "B2"}}])
    series = server.series("credit", "events,null_rate", step=300, **{"from": T0, "to": T0 + 300})
    assert series["events"] == [(T0, 3.0)]  # the windows merged (a number in one, text in the other)
    r = server.client.get("/v1/models/credit/events", params={"from": T0, "to": T0 + 300})
    assert sorted(str(e["features"]["code"]) for e in r.json()["events"]) == ["1.5", "A7", "B2"]


# -- labels --------------------------------------------------------------------------------------------------


def test_accuracy_and_label_coverage_on_the_joined_labels(serve: Callable[..., Server]) -> None:
    server = serve()
    rng = np.random.default_rng(11)
    n = 200
    ts = np.sort(T0 + rng.uniform(0, 300, n))
    pred = (rng.random(n) < 0.5).astype(int)
    truth = np.where(rng.random(n) < 0.2, 1 - pred, pred)
    events = [
        {"model": "credit", "request_id": f"r{i}", "timestamp": float(ts[i]), "prediction": int(pred[i])}
        for i in range(n)
    ]
    final: dict[int, int] = {}

    def label(ids: range | list[int], values: Any = None, *, as_bool: bool = False) -> None:
        records = []
        for i in ids:
            value = int(truth[i]) if values is None else int(values[i])
            final[i] = value
            records.append(
                {"model": "credit", "request_id": f"r{i}", "label": bool(value) if as_bool else value}
            )
        server.post("/v1/labels", records)

    server.clock.now = T0 + 310
    label(range(150, 160))  # before their predictions exist
    server.post("/v1/events", events[:100])
    label(range(0, 40))
    server.flush()
    label(range(40, 70), as_bool=True)  # True/False for predictions sent as 1/0
    label([5, 160], 1 - truth)  # wrong at first ...
    server.post("/v1/events", events[100:])
    server.flush()
    label([5, 160])  # ... then corrected
    label([199])  # the last prediction, labelled after everything was saved

    ids = np.array(sorted(final))
    assert final[5] == truth[5] and final[160] == truth[160]
    labelled = np.zeros(n, bool)
    labelled[ids] = True
    for step in (60, 300):
        series = server.series(
            "credit", "accuracy,label_coverage,events", step=step, **{"from": T0, "to": T0 + 300}
        )
        for k, (t, _) in enumerate(series["events"]):
            in_step = (ts >= t) & (ts < t + step)
            got_acc, got_cov = series["accuracy"][k][1], series["label_coverage"][k][1]
            if not in_step.any():
                assert got_acc is None and got_cov is None
                continue
            assert got_cov == pytest.approx(labelled[in_step].mean(), abs=1e-12)
            sel = in_step & labelled
            want = (
                (pred[sel] == np.array([final[int(i)] for i in np.flatnonzero(sel)])).mean()
                if sel.any()
                else None
            )
            assert got_acc == (None if want is None else pytest.approx(want, abs=1e-12)), (step, t)


# -- drift ---------------------------------------------------------------------------------------------------


def _population(rng: np.random.Generator, n: int, shift: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "a": rng.normal(shift, 1.0, n),
            "b": rng.normal(5.0, 2.0, n),
            "c": rng.exponential(3.0, n),
            "region": rng.choice(["eu", "us", "apac"], n, p=[0.5, 0.3, 0.2]),
        }
    )


def _as_events(
    df: pd.DataFrame, start: float, seconds: float, rng: np.random.Generator
) -> list[dict[str, Any]]:
    ts = start + rng.uniform(0, seconds, len(df))
    rows: list[Any] = list(df.itertuples())  # pandas rows: attributes of any type
    return [
        {
            "model": "credit",
            "timestamp": float(t),
            "features": {"a": float(r.a), "b": float(r.b), "c": float(r.c), "region": r.region},
        }
        for t, r in zip(ts, rows, strict=True)
    ]


DRIFT_MODEL = """
models:
  credit:
    task: binary
    owner: {team: risk}
    baseline: %s
    features:
      a: {type: numeric}
      b: {type: numeric}
      c: {type: numeric}
      region: {type: categorical}
"""


def _drifted(report: dict[str, Any]) -> set[str]:
    return {name for name, column in report["columns"].items() if column["drift"] and name[0] not in "@#"}


def test_drift_against_a_baseline_file_flags_the_shifted_feature(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    rng = np.random.default_rng(3)
    _population(rng, 4000, 0.0).to_parquet(tmp_path / "train.parquet")
    server = serve(DRIFT_MODEL % "{file: train.parquet}")
    live = _population(rng, 2000, 0.5)  # half a standard deviation
    events = _as_events(live, T0, 600, rng)
    for chunk in range(0, len(events), 500):
        server.post("/v1/events", events[chunk : chunk + 500])
    server.settle()
    r = server.client.get("/v1/models/credit/drift", params={"from": T0, "to": T0 + 600})
    assert r.status_code == 200, r.text
    report = r.json()
    assert {"a", "b", "c", "region"} <= report["columns"].keys()
    assert _drifted(report) == {"a"}
    series = server.series("credit", "drift_share,drift:a,drift:b", step=900, **{"from": T0, "to": NOW})
    [(_, effect_a)] = series["drift:a"]
    [(_, effect_b)] = series["drift:b"]
    assert effect_a > effect_b


def test_drift_against_a_production_time_range(serve: Callable[..., Server]) -> None:
    rng = np.random.default_rng(4)
    ref_start, ref_end = NOW - 7200, NOW - 3600

    def iso(t: float) -> str:
        return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    server = serve(DRIFT_MODEL % f"{{from: '{iso(ref_start)}', to: '{iso(ref_end)}'}}")
    reference = _as_events(_population(rng, 2000, 0.0), ref_start, 3600, rng)
    current = _as_events(_population(rng, 2000, 0.0).assign(a=lambda d: d.a * 1.8), T0, 600, rng)
    for chunk in range(0, 2000, 500):
        server.post("/v1/events", reference[chunk : chunk + 500])
        server.post("/v1/events", current[chunk : chunk + 500])
    server.flush()
    r = server.client.get("/v1/models/credit/drift", params={"from": T0, "to": T0 + 600})
    assert r.status_code == 200, r.text
    assert _drifted(r.json()) == {"a"}  # the spread of a changed, nothing else
    # the reference range against itself: nothing
    r = server.client.get("/v1/models/credit/drift", params={"from": ref_start, "to": ref_end})
    assert _drifted(r.json()) == set()


def test_drift_without_a_baseline_or_without_events_is_a_clear_422(serve: Callable[..., Server]) -> None:
    server = serve()
    r = server.client.get("/v1/models/credit/drift")
    assert r.status_code == 422 and "baseline" in r.json()["error"]


# -- the raw-event sample ------------------------------------------------------------------------------------


def test_events_sample_in_the_wire_shape_bounded_by_limit(serve: Callable[..., Server]) -> None:
    server = serve()
    rng = np.random.default_rng(5)
    sent = {}
    records = []
    for i in range(30):
        t = T0 + 100 + i // 2 + (0.25 if i % 2 else 0.0)  # whole and fractional seconds in the same second
        record = {
            "model": "credit",
            "request_id": f"r{i}",
            "timestamp": t,
            "features": {"income": float(rng.lognormal(10, 1)), "region": str(rng.choice(["eu", "us"]))},
            "segments": {"tier": "gold" if i % 3 else "free"},
            "prediction": i % 2,
            "score": float(rng.random()),
            "latency_ms": float(rng.gamma(2, 5)),
        }
        sent[record["request_id"]] = record
        records.append(record)
    server.post("/v1/events", records[::-1])
    server.settle()

    r = server.client.get("/v1/models/credit/events", params={"limit": 10, "from": T0, "to": NOW})
    assert r.status_code == 200, r.text
    events = r.json()["events"]
    assert len(events) == 10
    everything = server.client.get("/v1/models/credit/events", params={"limit": 1000, "from": T0, "to": NOW})
    assert len(everything.json()["events"]) == 30
    for got in events + everything.json()["events"]:
        want = sent[got["request_id"]]
        assert got["features"] == want["features"]
        assert got["segments"] == want["segments"]
        assert got["prediction"] == want["prediction"]  # a binary prediction comes back as sent
        assert got["score"] == want["score"]
        assert got["latency_ms"] == want["latency_ms"]
        assert _epoch(got["timestamp"]) == pytest.approx(want["timestamp"], abs=1e-6)
    for listing in (events, everything.json()["events"]):
        times = [_epoch(e["timestamp"]) for e in listing]
        assert times == sorted(times, reverse=True)  # newest first
    # outside the range: nothing
    r = server.client.get("/v1/models/credit/events", params={"from": NOW - 60, "to": NOW})
    assert r.json()["events"] == []


def test_openapi_documents_the_event_schema(serve: Callable[..., Server]) -> None:
    doc = serve().client.get("/openapi.json").json()
    post = doc["paths"]["/v1/events"]["post"]
    content = post["requestBody"]["content"]
    assert content["application/json"]["schema"]["items"]["$ref"] == "#/components/schemas/Event"
    assert "application/x-ndjson" in content
    event = doc["components"]["schemas"]["Event"]
    assert event["required"] == ["model"]
    for field in (
        "model",
        "request_id",
        "timestamp",
        "features",
        "prediction",
        "score",
        "latency_ms",
        "segments",
    ):
        assert field in event["properties"]
    assert event["additionalProperties"] is False
    for ref in ("Label", "HostMetrics"):
        assert ref in doc["components"]["schemas"]


def test_host_metrics_are_served_as_step_means(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from vigil.config import parse_config
    from vigil.server.app import create_app
    from vigil.store.sqlite import SQLiteStore

    config = parse_config("models:\n  m: {task: binary, owner: {team: t}}\n")
    app = create_app(config, SQLiteStore(tmp_path / "h.db"), clock=lambda: 1_800_000_600.0)
    readings = [
        {
            "model": "m",
            "host": "a",
            "timestamp": 1_800_000_000 + 10 * i,
            "cpu_percent": cpu,
            "memory_percent": 40.0,
        }
        for i, cpu in enumerate([10.0, 30.0, 50.0, 70.0])
    ]
    with TestClient(app) as client:
        assert client.post("/v1/host-metrics", json=readings).json()["accepted"] == 4
        body = client.get(
            "/v1/models/m/metrics",
            params={
                "names": "host_cpu_percent,host_memory_percent,host_gpu_percent",
                "from": 1_800_000_000,
                "to": 1_800_000_060,
                "step": 60,
            },
        ).json()["series"]
    assert body["host_cpu_percent"][0][1] == 40.0  # the mean of the four readings in the step
    assert body["host_memory_percent"][0][1] == 40.0
    assert body["host_gpu_percent"][0][1] is None  # no GPU readings: nothing, rather than a made-up zero
