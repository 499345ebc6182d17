"""``vigil demo``: a live system to look at, with trouble injected on a schedule.

It starts the server on an embedded store, trains two models on data sets scikit-learn ships (breast
cancer: a binary classifier; diabetes: a regression) and simulates an LLM assistant, then streams traffic
to all three through the SDK, with ground-truth labels arriving late. After a calm start it injects:
drift in two features, a latency spike, a burst of errors, a feature pipeline that starts sending nulls,
and a cost spike on the LLM. It prints what it injected, when, and where to look.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Trouble", "run_demo", "schedule"]

CONFIG = """\
# Written by `vigil demo`: three inference points declared as code.
version: 1
models:
  tumor-classifier:
    task: binary
    description: logistic regression on scikit-learn's breast cancer data
    owner: {{team: diagnostics-ml, contact: "#diag-oncall"}}
    versions: [v1, v2]
    live: v2
    baseline: {{file: {out}/tumor-baseline.parquet}}
    window: {window}
  diabetes-progression:
    task: regression
    description: ridge regression on scikit-learn's diabetes data
    owner: {{team: care-analytics, contact: care-analytics@example.com}}
    versions: [v1]
    live: v1
    baseline: {{file: {out}/diabetes-baseline.parquet}}
    window: {window}
    features:
      bmi: {{type: numeric}}
  support-assistant:
    task: llm
    description: a simulated LLM support assistant (tokens and cost)
    owner: {{team: assistant, contact: "#assistant-oncall"}}
    versions: [gpt-small-2026-10]
    live: gpt-small-2026-10
    window: {window}
    features:
      customer_email: {{role: pii, redact: drop}}
      prompt: {{type: text, scrub: true}}
"""


@dataclass(frozen=True)
class Trouble:
    at: float
    """Seconds after the start."""
    lasts: float
    model: str
    what: str
    look: str
    """Which metric or endpoint shows it."""


def schedule(calm: float) -> list[Trouble]:
    """When each trouble starts, ``calm`` seconds into the run, then every ``calm / 2`` seconds."""
    step = calm / 2
    return [
        Trouble(
            calm,
            1e9,
            "tumor-classifier",
            "drift: 'mean radius' +1.5 sd and 'mean texture' ×1.6",
            "GET /v1/models/tumor-classifier/drift",
        ),
        Trouble(
            calm + step,
            step,
            "tumor-classifier",
            "latency spike: ×6 for a while",
            "metrics latency_p95 / latency_p99",
        ),
        Trouble(
            calm + 2 * step,
            step / 2,
            "diabetes-progression",
            "error burst: 30% of requests fail",
            "metrics error_rate",
        ),
        Trouble(
            calm + 3 * step,
            1e9,
            "diabetes-progression",
            "feature pipeline sends nulls in 'bmi' (40%)",
            "metrics null_rate:bmi; GET /drift quality section",
        ),
        Trouble(
            calm + 4 * step,
            1e9,
            "support-assistant",
            "cost spike: answers 5× longer (tokens out, cost)",
            "metrics cost_per_prediction / tokens_per_prediction",
        ),
    ]


class _Model:
    """A trained model with its test rows, ready to serve."""

    def __init__(
        self, name: str, version: str, x: pd.DataFrame, y: np.ndarray, predict: Callable[[pd.DataFrame], Any]
    ):
        self.name, self.version, self.x, self.y, self.predict = name, version, x, y, predict


def _train(out: Path) -> tuple[_Model, _Model]:
    try:
        from sklearn.datasets import load_breast_cancer, load_diabetes
        from sklearn.linear_model import LogisticRegression, Ridge
        from sklearn.model_selection import train_test_split
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
    except ImportError as exc:
        raise SystemExit("vigil demo trains models with scikit-learn: pip install 'vigil[demo]'") from exc
    cancer = load_breast_cancer(as_frame=True)
    features = list(cancer.data.columns[:10])
    x_train, x_test, y_train, y_test = train_test_split(cancer.data[features], cancer.target, random_state=0)
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x_train, y_train)
    # the baseline and the traffic both come from the whole population the model serves
    population = cancer.data[features]
    base = population.copy()
    base["score"] = clf.predict_proba(population)[:, 1]
    base["prediction"] = clf.predict(population)
    base.to_parquet(out / "tumor-baseline.parquet", index=False)

    diabetes = load_diabetes(as_frame=True, scaled=False)
    dx_train, dx_test, dy_train, dy_test = train_test_split(diabetes.data, diabetes.target, random_state=0)
    reg = Ridge(alpha=1.0).fit(dx_train, dy_train)
    dbase = diabetes.data.copy()
    dbase["prediction"] = reg.predict(diabetes.data)
    dbase.to_parquet(out / "diabetes-baseline.parquet", index=False)

    def classify(rows: pd.DataFrame) -> Any:
        return clf.predict_proba(rows)[:, 1]

    del x_test, y_test, dx_test, dy_test  # held out from training; traffic draws from the population
    return (
        _Model("tumor-classifier", "v2", population, cancer.target.to_numpy(), classify),
        _Model("diabetes-progression", "v1", diabetes.data, diabetes.target.to_numpy(), reg.predict),
    )


def _active(troubles: list[Trouble], model: str, elapsed: float, word: str) -> bool:
    return any(t.model == model and word in t.what and t.at <= elapsed < t.at + t.lasts for t in troubles)


def run_demo(
    out: Path,
    *,
    port: int,
    duration: float | None,
    rate: float,
    calm: float,
    window: str,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run until ``duration`` seconds have passed (None: until interrupted). Returns what was injected."""
    import uvicorn

    from vigil.config import load_config
    from vigil.sdk import Client
    from vigil.server.app import create_app
    from vigil.store.sqlite import SQLiteStore

    out.mkdir(parents=True, exist_ok=True)
    tumor, diabetes = _train(out)
    (out / "vigil.yaml").write_text(CONFIG.format(out=out.resolve(), window=window), encoding="utf-8")
    config = load_config(out / "vigil.yaml")
    store_path = out / "vigil.db"
    for stale in out.glob("vigil.db*"):
        stale.unlink()
    app = create_app(config, SQLiteStore(store_path), flush_every=1.0, root=out)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, name="vigil-server", daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    troubles = schedule(calm)
    say(f"Vigil is running: {url}  (store {store_path}, config {out / 'vigil.yaml'})")
    say(f"  models      {url}/v1/models")
    say(
        f"  metrics     {url}/v1/models/tumor-classifier/metrics"
        "?names=throughput,latency_p95,error_rate&step=1m"
    )
    say(f"  drift       {url}/v1/models/tumor-classifier/drift")
    say(f"  events      {url}/v1/models/diabetes-progression/events?limit=5")
    say(f"  Prometheus  {url}/metrics      API docs {url}/docs")
    say(f"streaming ~{rate:.0f} predictions/s per model; labels arrive 5–20 s late. Planned trouble:")
    for t in troubles:
        say(f"  +{t.at:>4.0f}s  {t.model}: {t.what}   → {t.look}")

    client = Client(url, flush_interval=0.5, host_metrics_every=5.0)
    rng = np.random.default_rng(0)
    pending: deque[tuple[float, str, str, object]] = deque()
    start = time.time()
    announced: set[int] = set()
    injected: list[dict[str, Any]] = []
    sent = 0
    tick = 0.25
    try:
        while duration is None or time.time() - start < duration:
            elapsed = time.time() - start
            for i, t in enumerate(troubles):
                if i not in announced and elapsed >= t.at:
                    announced.add(i)
                    stamp = time.strftime("%H:%M:%S")
                    injected.append({"at": time.time(), "model": t.model, "what": t.what})
                    say(f"{stamp}  INJECTED  {t.model}: {t.what}   → {t.look}")
            n = max(1, int(rng.poisson(rate * tick)))
            sent += _serve(client, tumor, n, elapsed, troubles, rng, pending)
            sent += _serve(client, diabetes, n, elapsed, troubles, rng, pending)
            sent += _assistant(client, max(1, n // 3), elapsed, troubles, rng)
            now = time.time()
            while pending and pending[0][0] <= now:
                _, model, rid, label = pending.popleft()
                client.log_label(model, rid, label)
            time.sleep(tick)
    except KeyboardInterrupt:
        say("stopping")
    finally:
        client.close(timeout=5)
        time.sleep(1.5)
        server.should_exit = True
        thread.join(10)
    say(f"sent {sent} predictions in {time.time() - start:.0f} s; the store stays in {store_path}")
    return {"url": url, "injected": injected, "sent": sent, "started": start}


def _serve(
    client: Any,
    m: _Model,
    n: int,
    elapsed: float,
    troubles: list[Trouble],
    rng: np.random.Generator,
    pending: deque[tuple[float, str, str, object]],
) -> int:
    idx = rng.integers(0, len(m.x), n)
    rows = m.x.iloc[idx].copy()
    rows *= rng.normal(1.0, 0.02, rows.shape)  # measurement noise: no two requests alike
    if _active(troubles, m.name, elapsed, "drift"):
        rows["mean radius"] += 1.5 * m.x["mean radius"].std()
        rows["mean texture"] *= 1.6
    nulls = _active(troubles, m.name, elapsed, "nulls")
    outputs = m.predict(rows)
    slow = 6.0 if _active(troubles, m.name, elapsed, "latency") else 1.0
    failing = 0.3 if _active(troubles, m.name, elapsed, "error") else 0.002
    for j, (features, out) in enumerate(zip(rows.to_dict("records"), outputs, strict=True)):
        if nulls and rng.random() < 0.4:
            features["bmi"] = None
        rid = f"{m.name[:4]}-{time.time_ns()}-{j}"
        error = "TimeoutError: feature store did not answer in 2 s" if rng.random() < failing else None
        latency = float(rng.gamma(4.0, 3.0)) * slow
        if m.name == "tumor-classifier":
            prediction: object = int(out >= 0.5)
            client.log(
                m.name,
                version=m.version,
                request_id=rid,
                features=features,
                prediction=prediction,
                score=float(out),
                latency_ms=latency,
                error=error,
            )
            truth: object = int(m.y[idx[j]])
        else:
            prediction = float(out)
            client.log(
                m.name,
                version=m.version,
                request_id=rid,
                features=features,
                prediction=None if error else prediction,
                latency_ms=latency,
                error=error,
            )
            truth = float(m.y[idx[j]])
        if error is None:
            pending.append((time.time() + float(rng.uniform(5, 20)), m.name, rid, truth))
    return n


_TOPICS = ["refund", "delivery", "password reset", "invoice", "upgrade", "cancellation"]


def _assistant(client: Any, n: int, elapsed: float, troubles: list[Trouble], rng: np.random.Generator) -> int:
    verbose = 5.0 if _active(troubles, "support-assistant", elapsed, "cost") else 1.0
    for _ in range(n):
        topic = random.choice(_TOPICS)
        tokens_in = int(rng.integers(40, 400))
        tokens_out = int(rng.gamma(3.0, 60.0) * verbose)
        cost = tokens_in * 0.15e-6 + tokens_out * 0.6e-6
        client.log(
            "support-assistant",
            request_id=f"chat-{time.time_ns()}",
            features={
                "topic": topic,
                "customer_email": "someone@example.com",
                "prompt": f"About my {topic}: call me on +44 20 7946 0958",
            },
            prediction=f"Here is how to handle your {topic} …",
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cost=cost,
            latency_ms=float(200 + tokens_out * 8 * rng.uniform(0.8, 1.2)),
        )
    return n
