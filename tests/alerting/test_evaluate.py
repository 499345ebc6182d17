"""Rule evaluation on a real app and SQLite store with a fake clock: events are posted minute by minute,
then rules are evaluated at chosen times, checking pending → firing after ``for``, severity changes and
resolution, for threshold, relative, anomaly and no-data rules, segment selectors (against numpy on the
posted rows), host CPU, "error rate over 5% or 3x its baseline" and a daily cost rule."""

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
from vigil.alerting.alert import Alert, AlertStatus
from vigil.alerting.evaluate.round import StateKey, evaluate, evaluate_one
from vigil.alerting.rules import AnomalyRule, NoDataRule, RelativeRule, Rule, ThresholdRule
from vigil.alerting.state import AlertState, Phase, Severity
from vigil.config import parse_config
from vigil.errors import InputError
from vigil.server.app import Vigil, create_app
from vigil.store.sqlite import SQLiteStore

T0 = 1_800_000_000.0  # on the hour
CONFIG = """
models:
  credit:
    task: binary
    owner: {team: risk, contact: risk@example.com}
    versions: [v1, v2]
    features: {income: {type: numeric}}
  other:
    task: regression
    owner: {team: pricing}
"""


class App:
    def __init__(self, client: TestClient, vigil: Vigil, clock: FakeClock) -> None:
        self.client, self.vigil, self.clock = client, vigil, clock

    def minute(
        self, k: int, n: int = 10, errors: int = 0, latency: float = 10.0, model: str = "credit"
    ) -> None:
        """Post ``n`` events in minute ``k`` (``errors`` of them failed), with the clock just after it."""
        self.clock.now = T0 + 60 * (k + 1) + 1
        records = [
            {
                "model": model,
                "request_id": f"{model}-{k}-{i}",
                "version": "v2",
                "timestamp": T0 + 60 * k + i * 60 / (n + 1),
                "latency_ms": latency * (1 + 0.01 * i),
                "error": "Boom: failed" if i < errors else None,
                "prediction": 1,
                "score": 0.7,
                "features": {"income": 1000.0 + i},
            }
            for i in range(n)
        ]
        if records:
            r = self.client.post(
                "/v1/events", content=json.dumps(records), headers={"content-type": "application/json"}
            )
            assert r.status_code == 200 and r.json()["rejected"] == [], r.text
        assert self.vigil.aggregator.wait_idle(10)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    with ExitStack() as stack:
        store = SQLiteStore(tmp_path / "vigil.db")
        stack.callback(store.close)
        clock = FakeClock(T0)
        fastapi_app = create_app(parse_config(CONFIG), store, clock=clock, flush_every=3600, root=tmp_path)
        client = stack.enter_context(TestClient(fastapi_app))
        yield App(client, fastapi_app.state.vigil, clock)


def at(k: int) -> float:
    """The evaluation time just after minute ``k``: its window is the last complete one."""
    return T0 + 60 * (k + 1) + 1


def run(app: App, rules: list[Rule], k: int, states: dict[StateKey, AlertState]) -> list[Alert]:
    app.clock.now = at(k)
    new, alerts = evaluate(rules, app.vigil.query, states, at(k))
    states.clear()
    states.update(new)
    return alerts


def test_threshold_goes_pending_then_fires_after_for_changes_severity_and_resolves(app: App) -> None:
    rule = ThresholdRule(
        name="ErrorRateHigh",
        model="credit",
        metric="error_rate",
        warning=0.2,
        critical=0.5,
        window="1m",
        for_="2m",
        owner="oncall@example.com",
        runbook="https://runbooks.example.com/errors",
        route="pager",
        labels={"service": "scoring"},
    )
    errors = [0, 0, 6, 6, 6, 3, 0, 0]
    states: dict[StateKey, AlertState] = {}
    seen: list[tuple[Phase, Severity | None, list[tuple[AlertStatus, str]]]] = []
    for k, bad in enumerate(errors):
        app.minute(k, errors=bad)
        alerts = run(app, [rule], k, states)
        state = states[("ErrorRateHigh", "credit")]
        seen.append((state.phase, state.severity, [(a.status, a.labels["severity"]) for a in alerts]))
        if k == 4:
            (alert,) = alerts
            assert dict(alert.labels) == {
                "alertname": "ErrorRateHigh",
                "model": "credit",
                "metric": "error_rate",
                "kind": "threshold",
                "team": "risk",
                "route": "pager",
                "service": "scoring",
                "severity": "critical",
            }
            notes = alert.annotations
            assert notes["value"] == "0.6" and notes["threshold"] == "0.5"
            assert notes["owner"] == "oncall@example.com" and notes["runbook"].startswith("https://")
            assert notes["dashboard_url"].startswith("/models/credit?metric=error_rate&")
            assert f"to={T0 + 300:.0f}" in notes["dashboard_url"] and "step=60" in notes["dashboard_url"]
            assert "error_rate of credit is 0.6" in notes["summary"]
            assert alert.starts_at == at(4)
    assert seen == [
        (Phase.INACTIVE, None, []),
        (Phase.INACTIVE, None, []),
        (Phase.PENDING, Severity.CRITICAL, []),
        (Phase.PENDING, Severity.CRITICAL, []),  # 60 s held: not yet `for`
        (Phase.FIRING, Severity.CRITICAL, [(AlertStatus.FIRING, "critical")]),
        (
            Phase.FIRING,
            Severity.WARNING,
            [(AlertStatus.RESOLVED, "critical"), (AlertStatus.FIRING, "warning")],
        ),
        (Phase.RESOLVED, Severity.WARNING, [(AlertStatus.RESOLVED, "warning")]),
        (Phase.INACTIVE, None, []),
    ]


def test_keep_firing_for_and_a_short_blip_that_never_fires(app: App) -> None:
    blip = ThresholdRule(
        name="Blip", model="credit", metric="error_rate", critical=0.5, window="1m", for_="2m"
    )
    sticky = ThresholdRule(
        name="Sticky", model="credit", metric="error_rate", critical=0.5, window="1m", keep_firing_for="2m"
    )
    states: dict[StateKey, AlertState] = {}
    phases = []
    for k, bad in enumerate([6, 0, 0, 0, 0]):
        app.minute(k, errors=bad)
        run(app, [blip, sticky], k, states)
        phases.append((states[("Blip", "credit")].phase, states[("Sticky", "credit")].phase))
    assert phases == [
        (Phase.PENDING, Phase.FIRING),
        (Phase.INACTIVE, Phase.FIRING),  # cleared at minute 1, kept for 2 min
        (Phase.INACTIVE, Phase.FIRING),
        (Phase.INACTIVE, Phase.RESOLVED),
        (Phase.INACTIVE, Phase.INACTIVE),
    ]


def test_relative_rule_compares_with_the_trailing_median(app: App) -> None:
    rule = RelativeRule(
        name="LatencySpike",
        model="credit",
        metric="latency_p95",
        factor=3,
        window="1m",
        baseline_window="10m",
        min_baseline_points=5,
        severity="critical",
    )
    states: dict[StateKey, AlertState] = {}
    for k in range(4):
        app.minute(k)
        assert run(app, [rule], k, states) == []  # too little baseline yet, whatever the value
    app.minute(4, latency=100.0)
    assert run(app, [rule], 4, states) == []  # 4 baseline points < 5
    for k in range(5, 10):
        app.minute(k)
        assert run(app, [rule], k, states) == []
    ev = evaluate_one(rule, "credit", app.vigil.registry.get("credit"), app.vigil.query, at(9))  # type: ignore[arg-type]
    assert ev.baseline == pytest.approx(10.8, rel=0.02)  # p95 of 10 events at 10..10.9 ms: the median window
    assert ev.baseline is not None
    assert ev.threshold == pytest.approx(3 * ev.baseline) and ev.start == T0 + 540 and ev.end == T0 + 600
    app.minute(10, latency=40.0)
    (alert,) = run(app, [rule], 10, states)
    assert alert.status is AlertStatus.FIRING and alert.labels["severity"] == "critical"
    assert float(alert.annotations["baseline"]) == pytest.approx(10.8, rel=0.02)
    assert float(alert.annotations["value"]) == pytest.approx(43.6, rel=0.02)
    app.minute(11, latency=20.0)  # 2x: under the bound
    (resolved,) = run(app, [rule], 11, states)
    assert resolved.status is AlertStatus.RESOLVED and resolved.ends_at == at(11)


def test_no_data_fires_after_for_and_resolves_when_events_return(app: App) -> None:
    rule = NoDataRule(name="NoData", model="*", window="1m", for_="3m")
    states: dict[StateKey, AlertState] = {}
    app.minute(0)
    app.minute(0, model="other")
    app.minute(1)
    app.minute(1, model="other")
    phases = []
    for k in range(1, 7):
        if k == 6:
            app.minute(6)
        alerts = run(app, [rule], k, states)
        phases.append((states[("NoData", "credit")].phase, [a.labels["model"] for a in alerts]))
    assert phases == [
        (Phase.INACTIVE, []),
        (Phase.PENDING, []),
        (Phase.PENDING, []),
        (Phase.PENDING, []),
        (Phase.FIRING, ["credit", "other"]),  # held 3 min
        (Phase.RESOLVED, ["credit", "other"]),  # credit resolved; other still firing
    ]
    assert states[("NoData", "other")].phase is Phase.FIRING


def test_version_selector_labels_and_unknown_models(app: App) -> None:
    v1 = ThresholdRule(
        name="V1Errors", model="credit", version="v1", metric="error_rate", critical=0.1, window="1m"
    )
    v2 = ThresholdRule(
        name="V2Errors", model="credit", version="v2", metric="error_rate", critical=0.1, window="1m"
    )
    ghost = ThresholdRule(name="Ghost", model="nope", metric="error_rate", critical=0.1)
    app.minute(0, errors=5)
    states: dict[StateKey, AlertState] = {}
    alerts = run(app, [v1, v2, ghost], 0, states)
    (alert,) = alerts  # all events are v2
    assert alert.labels["model_version"] == "v2" and "version=v2" in alert.annotations["dashboard_url"]
    assert set(states) == {("V1Errors", "credit"), ("V2Errors", "credit")}
    assert states[("V1Errors", "credit")].phase is Phase.INACTIVE


def test_evaluation_is_pure_given_the_store(app: App) -> None:
    rule = ThresholdRule(name="E", model="credit", metric="error_rate", critical=0.1, window="1m")
    app.minute(0, errors=5)
    start: dict[StateKey, AlertState] = {}
    a = evaluate([rule], app.vigil.query, start, at(0))
    b = evaluate([rule], app.vigil.query, start, at(0))
    assert a == b and start == {}
    unrelated = {("Other", "x"): AlertState()}
    assert evaluate([rule], app.vigil.query, unrelated, at(0))[0][("Other", "x")] is unrelated[("Other", "x")]


def _post(app: App, path: str, records: list[dict[str, Any]]) -> None:
    r = app.client.post(path, content=json.dumps(records), headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json()["rejected"] == [], r.text
    assert app.vigil.aggregator.wait_idle(10)


def test_a_segment_rule_fires_on_the_degraded_segment_only(app: App) -> None:
    rng = np.random.default_rng(5)
    rows = []  # (minute, region, prediction, label)
    for k in range(3):
        for i in range(60):
            side = "eu" if i % 2 else "us"
            guess = int(rng.random() < 0.5)
            wrong = rng.random() < (0.5 if (side == "eu" and k == 2) else 0.1)  # eu degrades in minute 2
            rows.append((k, side, guess, 1 - guess if wrong else guess))
    app.clock.now = T0 + 180 + 1
    _post(
        app,
        "/v1/events",
        [
            {
                "model": "credit",
                "request_id": f"s{j}",
                "version": "v2",
                "timestamp": T0 + 60 * k + j % 60,
                "prediction": pred,
                "score": 0.5,
                "segments": {"region": region},
            }
            for j, (k, region, pred, _) in enumerate(rows)
        ],
    )
    _post(
        app,
        "/v1/labels",
        [{"model": "credit", "request_id": f"s{j}", "label": y} for j, (_, _, _, y) in enumerate(rows)],
    )
    minute, region, pred, label = (np.array(c) for c in zip(*rows, strict=True))
    rules: list[Rule] = [
        ThresholdRule(
            name=f"{r.title()}Accuracy",
            model="credit",
            metric="accuracy",
            segment=f"region={r}",
            op="<",
            critical=0.75,
            window="1m",
            min_labels=20,  # 30 labels per segment and minute
        )
        for r in ("eu", "us")
    ]
    states: dict[StateKey, AlertState] = {}
    (alert,) = run(app, rules, 2, states)
    assert alert.labels["alertname"] == "EuAccuracy" and alert.labels["segment"] == "region=eu"
    assert "segment=region%3Deu" in alert.annotations["dashboard_url"]
    assert "accuracy of credit [region=eu] is" in alert.annotations["summary"]
    eu2 = (minute == 2) & (region == "eu")
    # accuracy is a ratio of counts, computed the same way: equal to the last bit
    assert float(alert.annotations["value"]) == pytest.approx(np.mean(pred[eu2] == label[eu2]), abs=5e-7)
    assert states[("UsAccuracy", "credit")].phase is Phase.INACTIVE
    query = app.vigil.query
    everything = query.series("credit", ["accuracy", "f1"], T0, T0 + 180, 60)
    for r in (None, "eu", "us"):
        got = (
            everything
            if r is None
            else query.series("credit", ["accuracy", "f1"], T0, T0 + 180, 60, segment=f"region={r}")
        )
        for k in range(3):
            sel = (minute == k) & (True if r is None else region == r)
            p, y = pred[sel], label[sel]
            tp = np.sum((p == 1) & (y == 1))
            assert got["accuracy"][k][1] == pytest.approx(np.mean(p == y), abs=1e-12)
            assert got["f1"][k][1] == pytest.approx(2 * tp / (np.sum(p == 1) + np.sum(y == 1)), abs=1e-12)
    counts = query.series("credit", ["predictions"], T0, T0 + 180, 60, segment={"region": "eu"})
    assert [v for _, v in counts["predictions"]] == [30.0, 30.0, 30.0]
    with pytest.raises(InputError, match=r"error_rate cannot be read per segment.*accuracy, precision"):
        query.series("credit", ["accuracy", "error_rate"], T0, T0 + 180, 60, segment="region=eu")


def test_an_anomaly_rule_on_the_live_metrics(app: App) -> None:
    rule = AnomalyRule(
        name="LatencyAnomaly",
        model="credit",
        metric="latency_p95",
        window="1m",
        baseline_window="10m",
        direction="up",
    )
    jitter = [10.0, 10.4, 9.8, 10.1, 10.6, 9.9, 10.2, 10.0, 10.3, 9.7]
    states: dict[StateKey, AlertState] = {}
    for k, latency in enumerate(jitter):
        app.minute(k, latency=latency)
        assert run(app, [rule], k, states) == []  # too little history first, then nothing unusual
    app.minute(10, latency=20.0)
    (alert,) = run(app, [rule], 10, states)
    history = [
        v for _, v in app.vigil.query.series("credit", ["latency_p95"], T0, T0 + 600, 60)["latency_p95"]
    ]
    value = app.vigil.query.series("credit", ["latency_p95"], T0 + 600, T0 + 660, 60)["latency_p95"][0][1]
    median = np.median(np.array(history, dtype=float))
    mad = np.median(np.abs(np.array(history, dtype=float) - median))
    notes = alert.annotations
    assert alert.labels["severity"] == "critical" and alert.labels["kind"] == "anomaly"
    # annotations print 4-6 significant digits
    assert float(notes["median"]) == pytest.approx(median, rel=1e-5)
    assert float(notes["mad"]) == pytest.approx(mad, rel=1e-5)
    assert float(notes["z"]) == pytest.approx((value - median) / (1.4826 * mad), rel=1e-3)
    assert notes["baseline_points"] == "10" and "MAD" in notes["summary"]
    app.minute(11, latency=5.0)  # far below, but the rule only watches rises
    (resolved,) = run(app, [rule], 11, states)
    assert resolved.status is AlertStatus.RESOLVED


def test_host_cpu_over_80_percent_for_10_minutes(app: App) -> None:
    rule = ThresholdRule(
        name="CpuHot", model="credit", metric="host_cpu_percent", critical=80, window="5m", for_="10m"
    )
    readings = [
        {
            "model": "credit",
            "host": f"h{h}",
            "timestamp": T0 + s,
            "cpu_percent": 82.0 + 4 * h,
            "gpu_percent": 50.0,
        }
        for s in range(0, 30 * 60, 10)
        for h in range(2)
    ]
    app.clock.now = T0 + 30 * 60
    _post(app, "/v1/host-metrics", readings)
    phases = {}
    states: dict[StateKey, AlertState] = {}
    for k in range(4, 30, 5):  # every 5 minutes, just after each 5-minute window ends
        alerts = run(app, [rule], k, states)
        phases[k + 1] = (states[("CpuHot", "credit")].phase, [a.labels["severity"] for a in alerts])
    assert phases == {
        5: (Phase.PENDING, []),
        10: (Phase.PENDING, []),
        15: (Phase.FIRING, ["critical"]),  # held 10 minutes
        20: (Phase.FIRING, ["critical"]),
        25: (Phase.FIRING, ["critical"]),
        30: (Phase.FIRING, ["critical"]),
    }
    ev = evaluate_one(rule, "credit", app.vigil.registry.get("credit"), app.vigil.query, at(29))  # type: ignore[arg-type]
    assert ev.value == pytest.approx(84.0)  # the mean of both hosts' readings (82 and 86)


def test_error_rate_over_5_percent_or_3x_its_baseline(app: App) -> None:
    high = ThresholdRule(name="ErrorRateHigh", model="credit", metric="error_rate", warning=0.05, window="1m")
    spike = RelativeRule(
        name="ErrorRateSpike",
        model="credit",
        metric="error_rate",
        factor=3,
        window="1m",
        baseline_window="10m",
    )
    states: dict[StateKey, AlertState] = {}
    fired = []
    for k, errors in enumerate([1, 1, 1, 1, 1, 1, 4, 6]):  # of 100 events: 1% usually, then 4%, then 6%
        app.minute(k, n=100, errors=errors)
        fired.append(sorted(a.labels["alertname"] for a in run(app, [high, spike], k, states)))
    assert fired[:6] == [[]] * 6
    assert fired[6] == ["ErrorRateSpike"]  # 4% > 3 × 1%, not over 5%
    assert fired[7] == ["ErrorRateHigh", "ErrorRateSpike"]


def test_daily_cost_20_percent_above_its_weekly_mean(app: App) -> None:
    rule = RelativeRule(
        name="DailyCostUp",
        model="credit",
        metric="cost",
        percent=20,
        baseline="mean",
        window="1d",
    )
    day = 86_400.0
    midnight = T0 - T0 % day

    def spend(d: int, each: float) -> None:
        app.clock.now = midnight + d * day + 3600
        _post(
            app,
            "/v1/events",
            [
                {
                    "model": "credit",
                    "request_id": f"c{d}-{i}",
                    "timestamp": midnight + d * day + 60 * i,
                    "cost": each,
                }
                for i in range(10)
            ],
        )

    for d in range(7):
        spend(d, 1.0 + 0.01 * d)  # about 10 a day
    spend(7, 1.1)  # 11: 8% above the mean of the week
    spec = app.vigil.registry.get("credit")
    assert spec is not None
    quiet = evaluate_one(rule, "credit", spec, app.vigil.query, midnight + 8 * day + 1)
    assert quiet.baseline == pytest.approx(np.mean([10 + 0.1 * d for d in range(7)]), rel=1e-9)
    assert quiet.value == pytest.approx(11.0) and quiet.breached is None
    spend(8, 1.3)  # 13: 26% above
    loud = evaluate_one(rule, "credit", spec, app.vigil.query, midnight + 9 * day + 1)
    assert loud.breached is Severity.WARNING and loud.start == midnight + 8 * day
    week = [10 + 0.1 * d for d in range(1, 7)] + [11.0]  # days 1..7 before day 8
    assert loud.baseline == pytest.approx(np.mean(week), rel=1e-9)  # sums of a few floats: 1e-9 is ample
    assert loud.threshold == pytest.approx(1.2 * np.mean(week), rel=1e-9)
    assert loud.value == pytest.approx(13.0)


@pytest.mark.parametrize(("labelled", "fires"), [(40, False), (99, False), (100, True), (150, True)])
def test_a_label_rule_waits_for_min_labels(app: App, labelled: int, fires: bool) -> None:
    # every labelled prediction is wrong (accuracy 0 and ROC AUC 0): only the number of labels decides
    n = 200
    app.clock.now = at(0)
    _post(
        app,
        "/v1/events",
        [
            {"model": "credit", "request_id": f"m{i}", "timestamp": T0 + i * 0.25, "prediction": i % 2}
            | {"score": 0.9 if i % 2 else 0.8}
            for i in range(n)
        ],
    )
    _post(
        app,
        "/v1/labels",
        [{"model": "credit", "request_id": f"m{i}", "label": 0 if i % 2 else 1} for i in range(labelled)],
    )
    rules: list[Rule] = [
        ThresholdRule(name=f"Low{m}", model="credit", metric=m, op="<", critical=0.5, window="1m")
        for m in ("accuracy", "roc_auc")
    ]
    # label_coverage is itself about the labels' count: never guarded
    rules.append(
        ThresholdRule(
            name="Coverage", model="credit", metric="label_coverage", op="<", critical=0.9, window="1m"
        )
    )
    alerts = run(app, rules, 0, {})
    assert {a.labels["alertname"] for a in alerts} == ({"Lowaccuracy", "Lowroc_auc"} if fires else set()) | {
        "Coverage"
    }
    unguarded = ThresholdRule(
        name="Raw", model="credit", metric="accuracy", op="<", critical=0.5, window="1m", min_labels=0
    )
    assert [a.labels["alertname"] for a in run(app, [unguarded], 0, {})] == ["Raw"]
