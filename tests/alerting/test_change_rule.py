"""The ``change`` rule: its replay equals the detectors run by hand, it fires at the detection with the
change point, holds and resolves, survives a restart (two apps on one SQLite file), and the replay page
marks the change."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.fakes import FakeClock
from vigil.alerting.alert import AlertStatus
from vigil.alerting.evaluate.round import StateKey, evaluate, evaluate_one
from vigil.alerting.rules import ChangeRule, parse_rules
from vigil.alerting.rules.change import detect
from vigil.alerting.state import AlertState, Severity
from vigil.config import parse_config
from vigil.detectors import ADWIN, CUSUM, PageHinkley
from vigil.detectors.locate import change_point
from vigil.errors import ConfigError
from vigil.server.app import create_app
from vigil.spec import ModelSpec
from vigil.store.sqlite import SQLiteStore
from vigil.timefmt import format_time

HOUR = 3600.0
DAY = 86_400.0
T0 = 1_800_000_000.0 - 1_800_000_000.0 % (7 * DAY)  # on a 7-day boundary: the replay starts here
SPEC = parse_config("models: {m: {task: binary, owner: {team: web}, window: 1h}}").models["m"]


class Hourly:
    """A metric source over fixed hourly values of model ``m`` (the evaluator's view of ``Query``)."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = {T0 + HOUR * i: float(v) for i, v in enumerate(values)}
        self.registry = self

    def get(self, name: str) -> ModelSpec | None:
        return SPEC if name == "m" else None

    def names(self) -> list[str]:
        return ["m"]

    def series(
        self,
        model: str,
        names: Sequence[str],
        start: float,
        end: float,
        step: float | None = None,
        version: str | None = None,
        segment: Mapping[str, str] | None = None,
        origin: float = 0.0,
    ) -> dict[str, list[tuple[float, float | None]]]:
        assert step == HOUR
        first = math.floor(start / HOUR) * HOUR
        steps = [first + HOUR * k for k in range(math.ceil((end - first) / HOUR))]
        return {n: [(t, self.values.get(t)) for t in steps] for n in names}

    def windows(self, model: str, start: float, end: float, version: str | None = None) -> dict[Any, Any]:
        return {}


def _series() -> np.ndarray:
    rng = np.random.default_rng(11)
    return np.concatenate([rng.normal(0.01, 0.002, 100), rng.normal(0.016, 0.002, 60)])  # step at hour 100


@pytest.mark.parametrize("detector", ["page_hinkley", "cusum", "adwin"])
def test_the_replay_is_the_detector_over_the_standardised_series(detector: str) -> None:
    values = _series()
    rule = ChangeRule(name="C", model="m", metric="error_rate", window="1h", detector=detector)
    ev = evaluate_one(rule, "m", SPEC, Hourly(values), T0 + HOUR * 160 + 1)
    # by hand: the first 20 values set level and scale, the detector reads the rest standardised
    level, scale = values[:20].mean(), values[:20].std(ddof=1)
    made = {"page_hinkley": PageHinkley(), "cusum": CUSUM(), "adwin": ADWIN(arl=10_000)}[detector]
    hit = 20 + int(made.update((values[20:] - level) / scale)[0])
    assert 100 <= hit < 140
    assert ev.detected_at == T0 + HOUR * hit
    assert ev.change_at == T0 + HOUR * change_point(values[: hit + 1], min_size=2)
    assert ev.change_at is not None and abs(ev.change_at - (T0 + 100 * HOUR)) <= 3 * HOUR
    assert ev.baseline == pytest.approx(values[: int((ev.change_at - T0) / HOUR)].mean())
    times = T0 + HOUR * np.arange(values.size)
    (first, *_) = detect(times, values, detector, 10_000, 20)
    assert first.detected_at == ev.detected_at


def test_fires_at_the_detection_holds_then_resolves() -> None:
    values = _series()
    rule = ChangeRule(name="ErrorsMoved", model="m", metric="error_rate", window="1h", hold="3h")
    source = Hourly(values)
    states: dict[StateKey, AlertState] = {}
    seen: list[tuple[int, AlertStatus, str]] = []
    for hour in range(90, 160):
        states, alerts = evaluate([rule], source, states, T0 + HOUR * (hour + 1) + 1)
        seen += [(hour, a.status, a.annotations.get("change_at", "")) for a in alerts]
    ev = evaluate_one(rule, "m", SPEC, source, T0 + HOUR * 160 + 1)
    assert ev.detected_at is not None and ev.change_at is not None
    hit = int((ev.detected_at - T0) / HOUR)
    # firing from the window of the detection through the 3h hold, then resolved
    firing, resolved = AlertStatus.FIRING, AlertStatus.RESOLVED
    assert [(h, s) for h, s, _ in seen] == [
        (hit, firing),
        (hit + 1, firing),
        (hit + 2, firing),
        (hit + 3, resolved),
    ]
    assert seen[0][2] == format_time(ev.change_at)


def test_a_quiet_series_never_fires() -> None:
    rng = np.random.default_rng(5)
    source = Hourly(rng.normal(0.01, 0.002, 400))
    rule = ChangeRule(name="C", model="m", metric="error_rate", window="1h")  # arl 10,000 windows
    states: dict[StateKey, AlertState] = {}
    for hour in range(30, 400, 7):
        states, alerts = evaluate([rule], source, states, T0 + HOUR * (hour + 1) + 1)
        assert alerts == []


@pytest.mark.parametrize(
    ("rule", "key", "words"),
    [
        ("{name: R, metric: error_rate, kind: change, warning: 3}", "warning", "no levels"),
        ("{name: R, metric: error_rate, kind: change, op: '<'}", "op", "both directions"),
        ("{name: R, metric: error_rate, kind: change, sliding: true}", "sliding", "whole steps"),
        ("{name: R, metric: error_rate, kind: change, window: 1h, history: 1d}", "history", "warmup + 10"),
        ("{name: R, metric: error_rate, kind: change, window: 1h, hold: 10m}", "hold", "at least one window"),
        ("{name: R, metric: error_rate, kind: change, window: 1m, history: 30d}", "history", "10000 windows"),
        ("{name: R, metric: error_rate, kind: change, detector: kswin}", "detector", "page_hinkley"),
        ("{name: R, metric: error_rate, kind: change, arl: 1}", "arl", "greater than 1"),
    ],
)
def test_bad_change_rules(rule: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_rules(parse_config(f"rules:\n  - {rule}\n").rules)
    assert key in str(info.value) and words in str(info.value), str(info.value)


def test_defaults_and_condition() -> None:
    (rule,) = parse_rules(parse_config("rules:\n  - {name: R, metric: latency_p95, kind: change}\n").rules)
    assert isinstance(rule, ChangeRule)
    assert (rule.detector, rule.arl, rule.warmup, rule.severities) == (
        "page_hinkley",
        10_000,
        20,
        (Severity.WARNING,),
    )
    assert (
        rule.condition()
        == "latency_p95 changes (page_hinkley, one false alarm per 10000 steps of 5m, held 1h)"
    )


# -- the real app ----------------------------------------------------------------------------------------

CONFIG = """
models:
  credit:
    task: binary
    owner: {team: risk}
    window: 1m
alerting: {evaluate_every: 1h}
rules:
  - {name: LatencyMoved, model: credit, metric: latency_p95, kind: change, window: 1m, history: 1d, hold: 10m}
"""


def _events(minute: int, ms: float) -> list[dict[str, Any]]:
    rng = np.random.default_rng(minute)
    return [
        {
            "model": "credit",
            "request_id": f"{minute}-{i}",
            "timestamp": T0 + 60 * minute + i * 3,
            "latency_ms": float(ms + rng.normal(0, 4)),
        }
        for i in range(20)
    ]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "vigil.db"


def _app(stack: ExitStack, db: Path, clock: FakeClock, root: Path) -> tuple[TestClient, Any]:
    store = SQLiteStore(db)
    stack.callback(store.close)
    app = create_app(parse_config(CONFIG), store, clock=clock, flush_every=3600, root=root)
    return stack.enter_context(TestClient(app)), app.state.vigil


def test_a_change_in_latency_fires_and_survives_a_restart(db: Path, tmp_path: Path) -> None:
    clock = FakeClock(T0)
    minutes = 90
    with ExitStack() as stack:
        client, vigil = _app(stack, db, clock, tmp_path)
        for minute in range(minutes):
            clock.now = T0 + 60 * (minute + 1) + 1
            ms = 100.0 if minute < 60 else 140.0  # p95 steps up 40 ms at minute 60
            assert client.post("/v1/events", json=_events(minute, ms)).json()["accepted"] == 20
        assert vigil.aggregator.wait_idle(10)
        rules = parse_rules(parse_config(CONFIG).rules)
        ev = evaluate_one(rules[0], "credit", vigil.registry.get("credit"), vigil.query, clock.now)
        assert ev.change_at is not None and ev.detected_at is not None
        assert T0 + 60 * 58 <= ev.change_at <= T0 + 60 * 62
        assert ev.detected_at < T0 + 60 * 70
        page = client.get("/rules/replay", params={"rule": "LatencyMoved", "model": "credit", "range": "6h"})
        assert page.status_code == 200
        assert "change (detected " + format_time(ev.detected_at) in page.text
    # a new server on the same file: the replay from the stored series gives the same change
    with ExitStack() as stack:
        client, vigil = _app(stack, db, clock, tmp_path)
        rules = parse_rules(parse_config(CONFIG).rules)
        again = evaluate_one(rules[0], "credit", vigil.registry.get("credit"), vigil.query, clock.now)
        assert (again.change_at, again.detected_at, again.baseline) == (
            ev.change_at,
            ev.detected_at,
            ev.baseline,
        )
        _states, alerts = evaluate(
            rules, vigil.query, {}, T0 + 60 * (int((ev.detected_at - T0) / 60) + 2) + 1
        )
        (alert,) = alerts
        assert alert.status is AlertStatus.FIRING and alert.labels["kind"] == "change"
        assert alert.annotations["change_at"] == format_time(ev.change_at)
        assert re.search(r"change detected at \S+Z, starting \S+Z", alert.annotations["description"])
        # the alert's link opens the model page with the change point marked on its charts
        link = alert.annotations["dashboard_url"]
        assert f"change_at={ev.change_at:.0f}" in link
        page = client.get(link + "&range=6h")
        assert page.status_code == 200 and f"change from {format_time(ev.change_at)}" in page.text
