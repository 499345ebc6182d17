"""``vigil demo``: a live system to look at, with trouble injected on a schedule and alerts delivered.

It starts the server on an embedded store, trains two models on data sets scikit-learn ships (breast
cancer: a binary classifier; diabetes: a regression) and simulates an LLM assistant, then streams traffic
to the two models through the SDK, with ground-truth labels arriving late, while the assistant sends
OpenTelemetry spans (:mod:`vigil.demo.assistant`) with its users' feedback. After a calm start it injects:
drift in two features, a latency spike, a burst of errors, a feature pipeline that starts sending nulls,
a cost spike on the LLM caused by one user (the alerts name them), and a silence (the assistant stops
sending). It prints what it injected, when, and where to look.

The server's alert engine runs the demo's rules (:mod:`vigil.demo.rules`) and notifies three receivers
the demo starts on 127.0.0.1 (:mod:`vigil.demo.receivers`): a webhook recorder, an SMTP server and, when
Debian's ``prometheus-alertmanager`` is installed, a real Alertmanager. Each alert a receiver gets is
printed with its delay after the injection that explains it, and at the end a table gives, per trouble,
the first notification per receiver and when it resolved (:mod:`vigil.demo.timeline`).
"""

from __future__ import annotations

import math
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from vigil.demo.assistant import ABUSER, Assistant
from vigil.demo.receivers import ALERTMANAGER_BINARY, AlertmanagerWatch, SmtpRecorder, WebhookRecorder
from vigil.demo.rules import DemoTimings, alerting_section, alertname_for, rules_section
from vigil.demo.timeline import Timeline
from vigil.timefmt import format_wall_clock, parse_duration

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
    description: a simulated LLM support assistant, sending OpenTelemetry spans (tokens, cost per user)
    owner: {{team: assistant, contact: "#assistant-oncall"}}
    versions: [gpt-small-2026-10]
    live: gpt-small-2026-10
    window: {window}
    features:
      prompt: {{type: text}}   # length, tokens and emptiness watched (text descriptors), not categories
    spend: {{by: [user, feature]}}
pricing:
  version: demo-2026-12
  models:
    openai/gpt-small-2026-10: {{input: 0.15, output: 0.6}}
"""


@dataclass(frozen=True)
class Trouble:
    name: str
    """Short name, as the notification lines and the table show it."""
    kind: str
    """``drift``, ``latency``, ``errors``, ``nulls``, ``cost`` or ``silence``: what the traffic does."""
    at: float
    """Seconds after the start."""
    lasts: float
    model: str
    what: str
    look: str
    """The dashboard page that shows it (a path)."""
    alerts: tuple[str, ...]
    """The alerts (rule names, on ``model``) it should fire."""


def schedule(calm: float, window: float = 10.0) -> list[Trouble]:
    """When each trouble starts, ``calm`` seconds into the run, then every ``calm / 2`` seconds.

    The silence lasts ``calm`` (at least 6 windows: ``NoData`` needs 3 empty windows in a row, plus the
    window the silence starts in and the one that reads it), then the assistant sends again. Every
    trouble fires its alerts when ``calm`` is at least 6 windows (the cost spike, ``calm / 2``, must
    cover the two windows its rule holds for, plus the window it starts in).
    """
    step = calm / 2
    return [
        Trouble(
            "drift",
            "drift",
            calm,
            1e9,
            "tumor-classifier",
            "drift: 'mean radius' +1.5 sd and 'mean texture' ×1.6",
            "/models/tumor-classifier?range=15m#drift",
            ("DriftMeanRadius", "DriftMeanTexture"),
        ),
        Trouble(
            "latency spike",
            "latency",
            calm + step,
            step,
            "tumor-classifier",
            "latency spike: ×6 for a while",
            "/models/tumor-classifier?range=15m#service (latency)",
            ("LatencyP95Spike",),
        ),
        Trouble(
            "error burst",
            "errors",
            calm + 2 * step,
            step / 2,
            "diabetes-progression",
            "error burst: 30% of requests fail",
            "/models/diabetes-progression?range=15m#service (error rate)",
            ("ErrorRateHigh",),
        ),
        Trouble(
            "nulls in bmi",
            "nulls",
            calm + 3 * step,
            1e9,
            "diabetes-progression",
            "feature pipeline sends nulls in 'bmi' (40%)",
            "/models/diabetes-progression/features/bmi?range=15m",
            ("NullRateHigh",),
        ),
        Trouble(
            "cost spike",
            "cost",
            calm + 4 * step,
            step,
            "support-assistant",
            f"cost spike: user {ABUSER} runs a script of long summaries (tokens out, cost, latency)",
            "/v1/models/support-assistant/spenders?by=user&range=5m",
            ("CostPerPredictionSpike", "LatencyP95Spike", "TopSpenderShareJump"),
        ),
        Trouble(
            "assistant silent",
            "silence",
            calm + 5 * step,
            max(calm, 6 * window),
            "support-assistant",
            "silence: the assistant stops sending for a while",
            "/models/support-assistant?range=15m (throughput; firing alerts)",
            ("NoData",),
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
    base["label"] = cancer.target  # labelled scores: the live performance estimate is fitted on them
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


def _active(troubles: list[Trouble], model: str, elapsed: float, kind: str) -> bool:
    return any(t.model == model and t.kind == kind and t.at <= elapsed < t.at + t.lasts for t in troubles)


def run_demo(
    out: Path,
    *,
    port: int,
    duration: float | None,
    rate: float,
    calm: float,
    window: str,
    say: Callable[[str], None] = print,
    alertmanager: Path | None = ALERTMANAGER_BINARY,
) -> dict[str, Any]:
    """Run until ``duration`` seconds of traffic have passed (None: until interrupted).

    Starts the receivers (``alertmanager``: the binary to run, None for none; a missing binary is said
    in one line and skipped), writes ``out/vigil.yaml`` (models, alerting, rules), starts the server on
    ``port``, waits for the next window boundary (so no window is half empty), then streams traffic and
    injects trouble on :func:`schedule`. Everything it started is stopped on the way out, whatever
    happens. Returns what happened: ``injected``, ``notifications`` (every received alert, see
    :meth:`Timeline.notifications`), ``alerts`` (per trouble and alert, the delays:
    :meth:`Timeline.measurements`), ``unexpected``, ``receivers`` (where they listened), ``timings``.
    """
    out.mkdir(parents=True, exist_ok=True)
    w = parse_duration(window).total_seconds()
    timings = DemoTimings(w)
    rules = rules_section(timings)
    troubles = schedule(calm, w)
    tumor, diabetes = _train(out)
    url = f"http://127.0.0.1:{port}"
    timeline = Timeline(["webhook", "email"], say)
    store_path = out / "vigil.db"
    with ExitStack() as running:
        where = _start_receivers(out, timeline, rules, alertmanager, say, running)
        _write_config(out, window, timings, rules, url, where)
        _start_server(out, port, running)
        say(f"Dashboard: {url}/  (open it in a browser)")
        say(f"Vigil is running: {url}  (store {store_path}, config {out / 'vigil.yaml'})")
        say(f"  a model     {url}/models/tumor-classifier?range=15m")
        say(f"  models      {url}/v1/models")
        say(
            f"  metrics     {url}/v1/models/tumor-classifier/metrics"
            "?names=throughput,latency_p95,error_rate&step=1m"
        )
        say(f"  drift       {url}/v1/models/tumor-classifier/drift")
        say(f"  events      {url}/v1/models/diabetes-progression/events?limit=5")
        say(f"  Prometheus  {url}/metrics      API docs {url}/docs")
        say(
            f"  alerts      {url}/v1/alerts   ({len(rules)} rules, evaluated every "
            f"{timings.evaluate_every:g} s; every notification goes to every receiver)"
        )
        say(f"  webhook     {where['webhook']}   (records every POST)")
        say(f"  e-mail      SMTP {where['email']}   (records every message)")
        if where["alertmanager"] is not None:
            say(f"  Alertmanager {where['alertmanager']}/#/alerts   (a real one; Vigil forwards to it)")
        say(f"streaming ~{rate:.0f} predictions/s per model; labels arrive 5–20 s late. Planned trouble:")
        for t in troubles:
            say(
                f"  +{t.at:>4.0f}s  {t.model}: {t.what}   → {url}{t.look}"
                f"   (should fire {', '.join(t.alerts)})"
            )
        if calm < 6 * w:
            say(
                f"note: a calm of {calm:g} s is under 6 windows ({6 * w:g} s): the shorter troubles (calm/4, "
                "calm/2) may end before their alerts hold"
            )
        start = math.ceil(time.time() / w) * w  # a window boundary: the first window is a whole one
        injected: list[dict[str, Any]] = []
        sent = 0
        try:
            time.sleep(max(0.0, start - time.time()))
            say(f"{format_wall_clock(start)}  traffic starts (calm for {calm:.0f} s)")
            sent = _stream(url, start, duration, rate, troubles, (tumor, diabetes), timeline, injected, say)
        except KeyboardInterrupt:
            say("stopping")
    say(f"sent {sent} predictions in {time.time() - start:.0f} s; the store stays in {store_path}")
    say("Injection → first notification, in seconds after the injection:")
    for line in timeline.table():
        say(f"  {line}")
    return {
        "url": url,
        "injected": injected,
        "sent": sent,
        "started": start,
        "receivers": where,
        "timings": {
            "window": w,
            "evaluate_every": timings.evaluate_every,
            "group_wait": timings.group_wait,
            "group_interval": timings.group_interval,
        },
        "notifications": timeline.notifications(),
        "alerts": timeline.measurements(),
        "unexpected": timeline.unexpected(),
    }


def _start_receivers(
    out: Path,
    timeline: Timeline,
    rules: list[dict[str, Any]],
    alertmanager: Path | None,
    say: Callable[[str], None],
    running: ExitStack,
) -> dict[str, str | None]:
    """Start the webhook recorder, the SMTP server and (when it can) Alertmanager, each stopped by
    ``running``; returns where they listen (``alertmanager`` None when not started)."""
    webhook = WebhookRecorder(timeline.receive).start()
    running.callback(webhook.stop)
    smtp = SmtpRecorder(timeline.receive, alertname_for(rules)).start()
    running.callback(smtp.stop)
    where: dict[str, str | None] = {
        "webhook": webhook.url,
        "email": f"{smtp.host}:{smtp.port}",
        "alertmanager": None,
    }
    if alertmanager is None:
        return where
    if not alertmanager.exists():
        say(
            f"Alertmanager: {alertmanager} is not installed (scripts/install-prometheus.sh); going on without"
        )
        return where
    shutil.rmtree(out / "alertmanager", ignore_errors=True)  # no alerts or silences of an earlier run
    try:
        watch = AlertmanagerWatch(out / "alertmanager", timeline.receive, binary=alertmanager).start()
    except RuntimeError as exc:
        say(f"Alertmanager: {exc}; going on without")
        return where
    running.callback(watch.stop)
    timeline.receivers.append("alertmanager")
    where["alertmanager"] = watch.url
    return where


def _write_config(
    out: Path,
    window: str,
    timings: DemoTimings,
    rules: list[dict[str, Any]],
    url: str,
    where: dict[str, str | None],
) -> None:
    """``out/vigil.yaml``: the models, then the alerting section and the rules."""
    host, _, smtp_port = str(where["email"]).rpartition(":")
    alerting = alerting_section(
        timings,
        external_url=url,
        webhook=str(where["webhook"]),
        smtp=(host, int(smtp_port)),
        alertmanager=where["alertmanager"],
    )
    text = CONFIG.format(out=out.resolve(), window=window) + _ALERTING_HEADER
    text += yaml.dump({"alerting": alerting, "rules": rules}, Dumper=_Dumper, sort_keys=False, width=110)
    (out / "vigil.yaml").write_text(text, encoding="utf-8")


def _start_server(out: Path, port: int, running: ExitStack) -> None:
    """Serve ``out/vigil.yaml`` on a fresh ``out/vigil.db`` in a thread, until ``running`` closes."""
    import uvicorn

    from vigil.config import load_config
    from vigil.server.app import create_app
    from vigil.store.sqlite import SQLiteStore

    config = load_config(out / "vigil.yaml")
    for stale in out.glob("vigil.db*"):
        stale.unlink()
    app = create_app(config, SQLiteStore(out / "vigil.db"), flush_every=1.0, root=out)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, name="vigil-server", daemon=True)
    thread.start()

    def stop() -> None:
        server.should_exit = True
        thread.join(10)

    running.callback(stop)
    while not server.started:
        if not thread.is_alive():
            raise SystemExit(f"the demo server could not start on port {port} (is it in use? try --port)")
        time.sleep(0.05)


def _stream(
    url: str,
    start: float,
    duration: float | None,
    rate: float,
    troubles: list[Trouble],
    models: tuple[_Model, _Model],
    timeline: Timeline,
    injected: list[dict[str, Any]],
    say: Callable[[str], None],
) -> int:
    """Send traffic from ``start`` until ``duration`` has passed or Ctrl-C, injecting ``troubles`` on time
    (each recorded in ``timeline`` and appended to ``injected``); returns the number of predictions sent."""
    from vigil.sdk import Client

    client = Client(url, flush_interval=0.5, host_metrics_every=5.0)
    rng = np.random.default_rng(0)
    assistant = Assistant(url, client, rng)
    pending: deque[tuple[float, str, str, object]] = deque()
    announced: set[int] = set()
    sent = 0
    tick = 0.25
    try:
        while duration is None or time.time() - start < duration:
            elapsed = time.time() - start
            for i, t in enumerate(troubles):
                if i not in announced and elapsed >= t.at:
                    announced.add(i)
                    now = time.time()
                    timeline.inject(t.name, t.model, t.alerts, now, now - start)
                    injected.append({"at": now, "name": t.name, "model": t.model, "what": t.what})
                    say(f"{format_wall_clock(time.time())}  INJECTED  {t.model}: {t.what}   → {url}{t.look}")
            n = max(1, int(rng.poisson(rate * tick)))
            for m in models:
                sent += _serve(client, m, n, elapsed, troubles, rng, pending)
            if not _active(troubles, "support-assistant", elapsed, "silence"):
                spike = _active(troubles, "support-assistant", elapsed, "cost")
                sent += assistant.answer(max(1, n // 3), spike)
            now = time.time()
            while pending and pending[0][0] <= now:
                _, model, rid, label = pending.popleft()
                client.log_label(model, rid, label)
            time.sleep(tick)
    except KeyboardInterrupt:
        say("stopping")
    finally:
        assistant.close()
        client.close(timeout=5)
        time.sleep(1.5)  # the last batches reach the windows before the server stops
    return sent


_ALERTING_HEADER = """
# Alerting, tuned to the demo's short windows (see vigil/demo/rules.py). The route is flat: every
# notification goes to every receiver; a routing tree would go under route: as routes: [...].
"""


class _Dumper(yaml.SafeDumper):
    """YAML with multi-line strings (the runbooks) as literal blocks."""


def _literal(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None)


_Dumper.add_representer(str, _literal)


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
    failing = 0.3 if _active(troubles, m.name, elapsed, "errors") else 0.002
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
