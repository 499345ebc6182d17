"""Anomaly scores against numpy computed by hand, the MAD = 0 cases, and a daily-seasonal series: the
plain robust z false-alarms at the daily peak, the seasonal one does not, and an injected spike fires
through ``evaluate`` (on a fake metric source holding the series)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from vigil.alerting.alert import AlertStatus
from vigil.alerting.evaluate.round import StateKey, evaluate, evaluate_one
from vigil.alerting.rules import AnomalyRule, parse_rules
from vigil.alerting.rules.anomaly import MAD_SCALE, MEAN_AD_SCALE, lagged, robust_z, seasonal_lags
from vigil.alerting.state import AlertState, Severity
from vigil.config import parse_config
from vigil.errors import ConfigError
from vigil.spec import ModelSpec

HOUR = 3600.0
DAY = 24 * HOUR
T0 = 1_800_000_000.0 - 1_800_000_000.0 % DAY  # midnight UTC


def test_robust_z_equals_numpy_row_by_row() -> None:
    rng = np.random.default_rng(7)
    history = rng.standard_t(3, size=(200, 50)) * rng.uniform(0.5, 5, size=(200, 1))
    history[rng.random(history.shape) < 0.2] = np.nan  # gaps
    values = rng.normal(0, 8, 200)
    got = robust_z(values, history)
    for i in range(200):
        row = history[i][~np.isnan(history[i])]
        median = np.median(row)
        mad = np.median(np.abs(row - median))
        assert got.points[i] == row.size
        assert got.median[i] == median and got.mad[i] == mad  # the same arithmetic: exact
        # tolerance: one division and one multiplication apart, so a few ulps
        assert got.z[i] == pytest.approx((values[i] - median) / (1.4826 * mad), rel=1e-12)


def test_mad_zero_falls_back_to_the_mean_absolute_deviation_then_to_inf() -> None:
    # 6 of 8 equal: median 0, MAD 0; mean absolute deviation (0*6 + 1 + 2) / 8 = 0.375.
    sparse = [0, 0, 0, 0, 0, 0, 1, 2]
    got = robust_z([1.5], [sparse])
    assert got.mad[0] == 0 and got.scale[0] == pytest.approx(MEAN_AD_SCALE * 0.375, rel=1e-15)
    assert got.z[0] == pytest.approx(1.5 / (1.2533 * 0.375), rel=1e-12)
    constant = robust_z([2.0, 3.0, 1.0], [[2.0] * 6] * 3)
    assert constant.z.tolist() == [0.0, math.inf, -math.inf] and constant.scale.tolist() == [0.0] * 3
    empty = robust_z([1.0, 1.0], [[np.nan, np.nan], [np.nan, 4.0]])
    assert math.isnan(empty.z[0]) and empty.points.tolist() == [0, 1]
    assert empty.z[1] == -math.inf  # one point is a constant history
    assert MAD_SCALE == 1.4826
    with pytest.raises(ValueError, match="one row per value"):
        robust_z([1.0, 2.0], [[1.0, 2.0, 3.0]])


def test_lags() -> None:
    assert seasonal_lags(24, 3).tolist() == [23, 24, 25, 47, 48, 49, 71, 72, 73]
    assert seasonal_lags(10, 1, tolerance=0).tolist() == [10]
    h = lagged(np.arange(6.0), [1, 3])
    assert h[5].tolist() == [4.0, 2.0] and np.isnan(h[2, 1]) and h[3, 1] == 0.0
    with pytest.raises(ValueError):
        lagged([1.0], [0])
    with pytest.raises(ValueError):
        seasonal_lags(2, 1)


def daily(days: int, seed: int = 3) -> np.ndarray:
    """Hourly values: 100 + a sharp daily peak of 80 at noon (exp(4(cos - 1)), a sharpened sinusoid that is
    near 0 most of the day) + normal noise of sd 3."""
    hours = np.arange(days * 24)
    phase = 2 * np.pi * ((hours % 24) - 12) / 24
    noise = np.random.default_rng(seed).normal(0, 3, hours.size)
    values: np.ndarray = 100 + 80 * np.exp(4 * (np.cos(phase) - 1)) + noise
    return values


def test_a_daily_peak_fools_the_plain_z_not_the_seasonal_one() -> None:
    values = daily(14)
    plain = robust_z(values, lagged(values, np.arange(1, 7 * 24 + 1))).z
    seasonal = robust_z(values, lagged(values, seasonal_lags(24, 7))).z
    week2 = np.arange(7 * 24, 14 * 24)  # every hour with a full week of history
    noon = week2[week2 % 24 == 12]
    peak = week2[np.abs(week2 % 24 - 12) <= 3]
    assert np.all(plain[noon] > 5)  # the plain z pages every day at noon ...
    assert np.sum(np.abs(plain[week2]) > 3.5) >= 30
    assert np.max(np.abs(seasonal[peak])) < 3.5  # ... the seasonal z does not even warn around the peak
    # With 21 history points the z has heavier tails than a normal one: with this seed one quiet hour
    # (4 am, pure noise) reaches 3.8; none reaches the critical 5.
    assert np.sum(np.abs(seasonal[week2]) > 3.5) == 1 and np.max(np.abs(seasonal[week2])) < 5
    spiked = values.copy()
    spiked[10 * 24 + 3] += 40  # 3 am on day 10: 40 above a quiet hour (noise sd 3)
    z = robust_z(spiked, lagged(spiked, seasonal_lags(24, 7))).z
    assert z[10 * 24 + 3] > 5 and np.flatnonzero(np.abs(z[week2]) > 5).tolist() == [3 * 24 + 3]


class SeriesSource:
    """A metric source over fixed hourly values of one model (the evaluator's view of ``Query``)."""

    def __init__(self, spec: ModelSpec, metric: str, values: np.ndarray) -> None:
        self.spec, self.metric = spec, metric
        self.values = {T0 + HOUR * i: float(v) for i, v in enumerate(values)}
        self.registry = self

    def get(self, name: str) -> ModelSpec | None:
        return self.spec if name == "traffic" else None

    def names(self) -> list[str]:
        return ["traffic"]

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
        assert step == HOUR and list(names) == [self.metric]
        offset = origin % HOUR
        first = math.floor((start - offset) / HOUR) * HOUR + offset
        steps = [first + HOUR * k for k in range(math.ceil((end - first) / HOUR))]
        return {self.metric: [(t, self.values.get(t)) for t in steps]}

    def windows(self, model: str, start: float, end: float, version: str | None = None) -> dict[Any, Any]:
        return {}


SPEC = parse_config("models: {traffic: {task: binary, owner: {team: web}, window: 1h}}").models["traffic"]
SEASONAL = AnomalyRule(
    name="TrafficAnomaly",
    model="traffic",
    metric="throughput",
    window="1h",
    seasonality="1d",
    runbook="https://runbooks.example.com/traffic",
)
PLAIN = AnomalyRule(name="TrafficAnomalyPlain", model="traffic", metric="throughput", window="1h")


def at(hour: int) -> float:
    """Evaluation time just after hour ``hour`` (its window is the last complete one)."""
    return T0 + HOUR * (hour + 1) + 1


def test_the_rules_agree_with_the_vectorised_scores() -> None:
    values = daily(14)
    source = SeriesSource(SPEC, "throughput", values)
    seasonal = robust_z(values, lagged(values, seasonal_lags(24, 7))).z
    plain = robust_z(values, lagged(values, np.arange(1, 7 * 24 + 1))).z
    for hour in (8 * 24 + 3, 8 * 24 + 10, 8 * 24 + 12, 9 * 24 + 15):
        s = evaluate_one(SEASONAL, "traffic", SPEC, source, at(hour))
        p = evaluate_one(PLAIN, "traffic", SPEC, source, at(hour))
        assert s.start == T0 + HOUR * hour and s.value == pytest.approx(values[hour], abs=1e-9)
        assert s.points == 21 and p.points == 168
        # the same numbers taken two ways (a list from the source, a lagged matrix): float noise only
        assert s.z == pytest.approx(seasonal[hour], rel=1e-9)
        assert p.z == pytest.approx(plain[hour], rel=1e-9)
        assert s.breached is None
    noon = evaluate_one(PLAIN, "traffic", SPEC, source, at(8 * 24 + 12))
    assert noon.breached is Severity.CRITICAL  # the false alarm the seasonal rule avoids
    assert noon.threshold == pytest.approx(noon.baseline + 5 * noon.scale)  # type: ignore[operator]
    early = evaluate_one(SEASONAL, "traffic", SPEC, source, at(24 + 5))  # one season: 3 points < 5
    assert early.points == 3 and early.z is None and early.breached is None


def test_an_injected_spike_fires_and_resolves_through_evaluate() -> None:
    values = daily(12)
    spike = 9 * 24 + 3
    values[spike] += 40
    values[spike + 1] += 40
    source = SeriesSource(SPEC, "throughput", values)
    down = AnomalyRule(name="Drop", model="traffic", metric="throughput", window="1h")
    down = down.model_copy(update={"direction": "down", "seasonality": SEASONAL.seasonality})
    states: dict[StateKey, AlertState] = {}
    fired: list[tuple[int, str, AlertStatus]] = []
    for hour in range(8 * 24, 10 * 24):
        states, alerts = evaluate([SEASONAL, down], source, states, at(hour))
        fired.extend((hour, a.labels["alertname"], a.status) for a in alerts)
        if hour == spike:
            (alert,) = alerts
            assert alert.labels["severity"] == "critical" and alert.labels["kind"] == "anomaly"
            notes = alert.annotations
            assert float(notes["z"]) > 5 and int(notes["baseline_points"]) == 21
            assert notes["seasonality"] == "1d" and notes["runbook"].endswith("/traffic")
            history = values[[spike - 24 * j + d for j in range(1, 8) for d in (-1, 0, 1)]]
            median = np.median(history)
            mad = np.median(np.abs(history - median))
            assert float(notes["median"]) == pytest.approx(median, rel=1e-5)  # printed to 6 digits
            assert float(notes["mad"]) == pytest.approx(mad, rel=1e-5)
            assert float(notes["z"]) == pytest.approx((values[spike] - median) / (1.4826 * mad), rel=1e-3)
            assert (
                "z = +" in notes["summary"] and "same phase of the last 7 seasons of 1d" in notes["summary"]
            )
    assert fired == [
        (spike, "TrafficAnomaly", AlertStatus.FIRING),
        (spike + 1, "TrafficAnomaly", AlertStatus.FIRING),
        (spike + 2, "TrafficAnomaly", AlertStatus.RESOLVED),
    ]  # the rule watching drops stays quiet


@pytest.mark.parametrize(
    ("rule", "key", "words"),
    [
        ("{name: R, metric: errors, kind: anomaly, factor: 3}", "factor", "relative rules"),
        ("{name: R, metric: errors, kind: anomaly, op: '<'}", "op", "no op"),
        ("{name: R, metric: errors, kind: anomaly, baseline: mean}", "baseline", "median"),
        ("{name: R, metric: errors, kind: anomaly, warning: 5, critical: 4}", "warning", "below critical"),
        ("{name: R, metric: errors, kind: anomaly, critical: -1}", "critical", "must be > 0"),
        ("{name: R, metric: errors, kind: anomaly, seasonality: 10m}", "seasonality", "at least 3 windows"),
        (
            "{name: R, metric: errors, kind: anomaly, seasonality: 1w, baseline_window: 3d}",
            "baseline_window",
            "one season",
        ),
        ("{name: R, metric: errors, kind: anomaly, seasonality: 1w}", "baseline_window", "could never alert"),
        ("{name: R, metric: errors, kind: anomaly, baseline_window: 20m}", "baseline_window", "never alert"),
        ("{name: R, metric: errors, critical: 1, direction: up}", "direction", "anomaly rules"),
        ("{name: R, metric: errors, critical: 1, seasonality: 1d}", "seasonality", "anomaly rules"),
    ],
)
def test_bad_anomaly_rules(rule: str, key: str, words: str) -> None:
    text = f"rules:\n  - {rule}\n"
    with pytest.raises(ConfigError) as info:
        parse_rules(parse_config(text).rules, "vigil.yaml", text)
    (problem,) = info.value.problems
    assert words in problem.message and problem.path == f"rules[0].{key}" and problem.line == 2, problem


def test_anomaly_defaults_and_levels() -> None:
    weekly = AnomalyRule(name="W", metric="cost", window="1h", seasonality="1w", baseline_window="28d")
    assert weekly.seasons == 4 and weekly.levels() == {Severity.WARNING: 3.5, Severity.CRITICAL: 5.0}
    only = AnomalyRule(name="C", metric="cost", critical=6)
    assert only.levels() == {Severity.CRITICAL: 6.0}
    assert [only.breached_z(z) for z in (5.9, 6.1, -7.0, math.inf, math.nan, None)] == [
        None,
        Severity.CRITICAL,
        Severity.CRITICAL,
        Severity.CRITICAL,
        None,
        None,
    ]
    up = AnomalyRule(name="U", metric="cost", direction="up")
    assert up.breached_z(-10) is None and up.breached_z(4) is Severity.WARNING
    assert up.breached(4.0) is Severity.WARNING  # for anomaly rules breached() takes the z
    parse_rules([r.model_dump(by_alias=True) for r in (weekly, only, up)])  # they round-trip
