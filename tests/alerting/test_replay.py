"""Rule replay against hand-computed timelines on a metric series the test controls, against a plain
evaluate_one + step loop (the cache changes nothing), and against the live ``evaluate`` of a real app."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient

from tests.fakes import FakeClock
from vigil.alerting.analysis.replay import (
    MAX_EVALUATIONS,
    Firing,
    Transition,
    format_replay,
    replay,
)
from vigil.alerting.evaluate.cache import SeriesCache
from vigil.alerting.evaluate.round import StateKey, evaluate, evaluate_one
from vigil.alerting.rules import AnomalyRule, RelativeRule, Rule, ThresholdRule, validate_rule
from vigil.alerting.state import AlertState, Phase, Severity, step
from vigil.config import parse_config
from vigil.server.app import create_app
from vigil.spec import ModelSpec
from vigil.store.sqlite import SQLiteStore
from vigil.timefmt import format_duration, format_time

T0 = 1_800_000_000.0 - 1_800_000_000.0 % 3600  # on the hour
P, F, R, OFF = Phase.PENDING, Phase.FIRING, Phase.RESOLVED, Phase.INACTIVE
WARN, CRIT = Severity.WARNING, Severity.CRITICAL


class Models:
    def __init__(self, specs: dict[str, ModelSpec]) -> None:
        self.specs = specs

    def get(self, name: str) -> ModelSpec | None:
        return self.specs.get(name)

    def names(self) -> list[str]:
        return list(self.specs)


class SeriesSource:
    """A MetricSource over fixed values per step start (every metric name reads the same values), aligned
    as ``Query.series`` aligns them; counts its reads. It has no windows (read by latency SLOs only)."""

    def __init__(self, values: dict[float, float | None], resolution: float = 60.0) -> None:
        spec = ModelSpec.model_validate(
            {"task": "binary", "owner": {"team": "t"}, "window": f"{resolution:g}s"}
        )
        self.registry = Models({"m": spec})
        self.values = values
        self.reads = 0

    def series(
        self,
        model: str,
        names: Sequence[str],
        start: float,
        end: float,
        step: float | None = None,
        version: str | None = None,
        segment: object = None,
        origin: float = 0.0,
    ) -> dict[str, list[tuple[float, float | None]]]:
        self.reads += 1
        assert step is not None
        offset = origin % step
        first = math.floor((start - offset) / step) * step + offset
        points = [
            (first + k * step, self.values.get(first + k * step))
            for k in range(math.ceil((end - first) / step))
        ]
        return {name: list(points) for name in names}

    def windows(self, model: str, start: float, end: float, version: str | None = None) -> dict[Any, Any]:
        return {}


def minutes(values: Sequence[float | None], origin: float = T0) -> dict[float, float | None]:
    return {origin + 60 * k: v for k, v in enumerate(values)}


def after(k: int) -> float:
    """The evaluation time that reads minute ``k``: the end of that minute."""
    return T0 + 60 * (k + 1)


ERRORS = [0, 0.3, 0, 0.3, 0.3, 0.3, 0.6, 0.6, 0.6, 0.1, 0, 0]


def errors_rule(**kw: object) -> Rule:
    return validate_rule(
        {
            "name": "Errors",
            "metric": "error_rate",
            "warning": 0.2,
            "critical": 0.5,
            "window": "1m",
            "for": "2m",
        }
        | kw
    )


def test_for_holds_off_a_short_spike_escalates_after_its_own_for_and_resolves() -> None:
    source = SeriesSource(minutes(ERRORS))
    result = replay(errors_rule(), source, "m", after(0), after(len(ERRORS) - 1))
    # minute 1 breaches alone: pending, then back (held off); minutes 3-5 hold the warning for 2 min (fires at
    # the end of minute 5); critical from minute 6 must hold 2 min of its own (minute 8); minute 9 clears
    assert result.transitions == (
        Transition(after(1), P, WARN, 0.3, 0.2),
        Transition(after(2), OFF, None, 0, 0.2),
        Transition(after(3), P, WARN, 0.3, 0.2),
        Transition(after(5), F, WARN, 0.3, 0.2),
        Transition(after(8), F, CRIT, 0.6, 0.5),
        Transition(after(9), R, CRIT, 0.1, 0.2),
        Transition(after(10), OFF, None, 0, 0.2),
    )
    assert result.firings == (Firing(after(5), after(9), CRIT, 0.6),)
    assert result.held_off == 1
    assert result.evaluations == len(ERRORS) and result.every == 60
    assert result.breaching == sum(v > 0.2 for v in ERRORS)
    assert result.firing_seconds == 240
    assert result.final.phase is OFF


def test_the_trace_keeps_what_every_evaluation_saw_when_asked() -> None:
    source = SeriesSource(minutes(ERRORS))
    end = after(len(ERRORS) - 1)
    traced = replay(errors_rule(), source, "m", after(0), end, trace=True)
    # the level of the severity breached (critical's above 0.5), the warning's otherwise
    assert traced.trace == tuple((after(k), v, 0.5 if v > 0.5 else 0.2) for k, v in enumerate(ERRORS))
    assert replay(errors_rule(), source, "m", after(0), end).trace == ()


def test_a_firing_still_open_at_the_end_has_no_resolution_and_lasts_to_the_last_evaluation() -> None:
    source = SeriesSource(minutes(ERRORS))
    result = replay(errors_rule(), source, "m", after(0), after(7) + 59)  # the last evaluation is after(7)
    assert result.firings == (Firing(after(5), None, WARN, 0.6),)  # critical not held yet; the peak is seen
    assert result.last == after(7) and result.firing_seconds == 120
    assert result.final.phase is F


def test_relative_rule_needs_its_baseline_points_and_keep_firing_for_holds_the_resolution() -> None:
    values = [10.0, 10, 10, 100, 10, 10, 10, 10, 10, 10, 40, 20, 10, 10, 10]
    rule = RelativeRule(
        name="Latency",
        metric="latency_p95",
        factor=3,
        window="1m",
        baseline_window="10m",
        min_baseline_points=5,
        keep_firing_for="1m",
        severity="critical",
    )
    result = replay(rule, SeriesSource(minutes(values)), "m", after(0), after(len(values) - 1))
    # minute 3 (100) has 3 baseline points < 5: no breach. Minute 10 (40) against the median 10 of minutes
    # 0-9: bound 30, fires at once. Minute 11 (20 < 30) clears; kept firing 1 min, resolved at minute 12.
    assert result.transitions == (
        Transition(after(10), F, CRIT, 40, 30),
        Transition(after(12), R, CRIT, 10, 30),
        Transition(after(13), OFF, None, 10, 30),
    )
    assert result.firings == (Firing(after(10), after(12), CRIT, 40),)
    assert result.breaching == 1 and result.held_off == 0


def test_peak_is_the_lowest_value_for_less_than_rules() -> None:
    rule = ThresholdRule(
        name="Acc", metric="accuracy", op="<", warning=0.9, critical=0.7, window="1m", min_labels=0
    )  # the source has no label counts: judge every value
    result = replay(rule, SeriesSource(minutes([0.95, 0.85, 0.6, 0.8, 0.95])), "m", after(0), after(4))
    assert result.firings == (Firing(after(1), after(4), CRIT, 0.6),)


def naive(rule: Rule, source: SeriesSource, start: float, end: float, every: float) -> list[Transition]:
    spec = source.registry.get("m")
    assert spec is not None
    state, out = AlertState(timing=rule.timing), []
    for k in range(math.floor((end - start) / every) + 1):
        now = start + k * every
        ev = evaluate_one(rule, "m", spec, source, now)
        new = step(state, ev.breached, ev.value, now)
        if (new.phase, new.severity) != (state.phase, state.severity):
            out.append(Transition(now, new.phase, new.severity, ev.value, ev.threshold))
        state = new
    return out


KINDS = [
    ThresholdRule(
        name="T", metric="latency_p95", warning=2, critical=3, window="3m", for_="5m", keep_firing_for="2m"
    ),
    ThresholdRule(name="L", metric="latency_p95", op="<", warning=0.5, window="1m", for_="1m"),
    RelativeRule(name="R", metric="latency_p95", factor=2.5, window="2m", baseline_window="1h"),
    AnomalyRule(name="A", metric="latency_p95", window="1m", baseline_window="1h", for_="2m"),
    AnomalyRule(
        name="S",
        metric="latency_p95",
        window="1m",
        seasonality="2h",
        baseline_window="10h",  # 5 seasons: 6 ranges read per evaluation
        direction="up",
        warning=2.5,
    ),
]


@pytest.mark.parametrize(
    ("rule", "seed"), [pytest.param(r, s, id=f"{r.kind}-{r.name}-{s}") for r in KINDS for s in (1, 2)]
)
def test_cached_reads_give_what_evaluate_one_reads_directly(rule: Rule, seed: int) -> None:
    rng = random.Random(seed)
    # minutes: more than one chunk (2000 steps) ahead; anomaly scoring is slow, so shorter for those
    n = 3000 if rule.kind in ("threshold", "relative") else 1500
    values = [None if rng.random() < 0.05 else rng.lognormvariate(0, 0.6) for _ in range(n)]
    start, end, every = T0 + 3600 + 17, T0 + 60 * n, 40.0
    direct = naive(rule, SeriesSource(minutes(values)), start, end, every)
    cached_source = SeriesSource(minutes(values))
    result = replay(rule, cached_source, "m", start, end, every)
    assert list(result.transitions) == direct and len(direct) > 4
    assert cached_source.reads <= result.evaluations / 100  # fetched ahead, not per evaluation


def test_default_every_is_the_window_or_a_minute_whichever_is_smaller_and_bad_input_is_refused() -> None:
    source = SeriesSource(minutes([0.0] * 30))
    assert replay(errors_rule(window="5m"), source, "m", T0, T0 + 600).every == 60
    fine = SeriesSource({T0 + 20 * k: 0.0 for k in range(10)}, resolution=20)
    assert replay(errors_rule(window="10s"), fine, "m", T0, T0 + 100).every == 20
    with pytest.raises(ValueError, match=r"'nope' is not registered.*known: m"):
        replay(errors_rule(), source, "nope", T0, T0 + 60)
    with pytest.raises(ValueError, match="every must be a positive"):
        replay(errors_rule(), source, "m", T0, T0 + 60, every=0)
    with pytest.raises(ValueError, match="give start <= end"):
        replay(errors_rule(), source, "m", T0 + 60, T0)
    with pytest.raises(ValueError, match="over the limit"):
        replay(errors_rule(), source, "m", T0, T0 + MAX_EVALUATIONS, every=0.5)


def test_format_replay_and_to_dict_say_when_how_long_how_bad_and_the_peak() -> None:
    source = SeriesSource(minutes(ERRORS))
    result = replay(errors_rule(), source, "m", after(0), after(len(ERRORS) - 1))
    text = format_replay(result)
    head, columns, row = text.splitlines()
    assert head.startswith("Errors on m (error_rate)") and "would have fired 1 time, for 4m" in head
    assert f"({240 / (result.last - result.start):.1%} of the time); 1 held off by `for`" in head
    assert columns.split() == ["fired", "resolved", "lasted", "severity", "peak"]
    assert row.split() == [
        *format_time(after(5)).split(),
        *format_time(after(9)).split(),
        "4m",
        "critical",
        "0.6",
    ]
    body = json.loads(json.dumps(result.to_dict()))
    assert body["firings"] == [
        {"fired_at": after(5), "resolved_at": after(9), "duration": 240, "severity": "critical", "peak": 0.6}
    ]
    assert [(t["at"], t["phase"], t["severity"]) for t in body["transitions"]][:2] == [
        (after(1), "pending", "warning"),
        (after(2), "inactive", None),
    ]
    assert body["held_off"] == 1 and body["evaluations"] == len(ERRORS) and body["firing_seconds"] == 240
    open_ = format_replay(replay(errors_rule(), source, "m", after(0), after(7)))
    assert "still firing" in open_ and "2m+" in open_
    quiet = format_replay(replay(errors_rule(), source, "m", after(0), after(2)))
    assert quiet.endswith("would not have fired (1 breach held off by `for`)\n")
    assert format_duration(3 * 86_400 + 7200) == "3d02h"


# -- against the live engine on a real app -----------------------------------------------------------------

CONFIG = """
models:
  credit:
    task: binary
    owner: {team: risk}
"""


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[TestClient, Any, FakeClock]]:
    with ExitStack() as stack:
        store = SQLiteStore(tmp_path / "vigil.db")
        stack.callback(store.close)
        clock = FakeClock(T0)
        app = create_app(parse_config(CONFIG), store, clock=clock, flush_every=3600, root=tmp_path)
        client = stack.enter_context(TestClient(app))
        yield client, app.state.vigil, clock


def test_replay_after_the_fact_does_what_the_live_engine_did(
    live: tuple[TestClient, Any, FakeClock],
) -> None:
    client, vigil, clock = live
    rules = [
        ThresholdRule(
            name="Errors",
            model="credit",
            metric="error_rate",
            warning=0.2,
            critical=0.5,
            window="1m",
            for_="2m",
        ),
        RelativeRule(
            name="Slow",
            model="credit",
            metric="latency_p95",
            factor=2,
            window="1m",
            baseline_window="5m",
            min_baseline_points=3,
            keep_firing_for="1m",
        ),
    ]
    errors = [0, 3, 0, 3, 3, 3, 6, 6, 6, 1, 0, 0, 0, 0]
    latency = [10.0, 10, 10, 10, 10, 30, 30, 10, 10, 10, 40, 10, 10, 10]
    states: dict[StateKey, AlertState] = {}
    seen: dict[str, list[Transition]] = {r.name: [] for r in rules}
    for k, (bad, ms) in enumerate(zip(errors, latency, strict=True)):
        records = [
            {
                "model": "credit",
                "request_id": f"{k}-{i}",
                "timestamp": T0 + 60 * k + i * 5,
                "latency_ms": ms * (1 + 0.01 * i),
                "error": "Boom: failed" if i < bad else None,
            }
            for i in range(10)
        ]
        clock.now = T0 + 60 * (k + 1) + 1
        assert client.post("/v1/events", json=records).json()["accepted"] == 10
        assert vigil.aggregator.wait_idle(10)
        new, _ = evaluate(rules, vigil.query, states, clock.now)
        for rule in rules:
            before = states.get((rule.name, "credit"), AlertState())
            after_ = new[(rule.name, "credit")]
            if (after_.phase, after_.severity) != (before.phase, before.severity):
                seen[rule.name].append(Transition(clock.now, after_.phase, after_.severity, None, None))
        states = new
    for rule in rules:
        result = replay(rule, vigil.query, "credit", T0 + 61, T0 + 60 * len(errors) + 1)
        got = [Transition(t.at, t.phase, t.severity, None, None) for t in result.transitions]
        assert got == seen[rule.name] and any(t.phase is F for t in got), rule.name
    errors_replay = replay(rules[0], SeriesCache(vigil.query, horizon=T0 + 900), "credit", T0 + 61, T0 + 841)
    assert errors_replay.firings == (Firing(T0 + 361, T0 + 601, CRIT, cast(float, pytest.approx(0.6))),)


def test_a_long_read_is_fetched_as_asked_once_then_extended_by_its_missing_steps() -> None:
    class Limited(SeriesSource):
        def series(
            self,
            model: str,
            names: Sequence[str],
            start: float,
            end: float,
            step: float | None = None,
            version: str | None = None,
            segment: object = None,
            origin: float = 0.0,
        ) -> dict[str, list[tuple[float, float | None]]]:
            assert step is not None and (end - start) / step <= 20_000, "over Query's MAX_POINTS"
            return super().series(model, names, start, end, step, version, segment, origin)

    # a 13-day baseline at 1m is 18,720 steps a read: no room to read ahead of it
    rule = RelativeRule(name="R", metric="latency_p95", factor=3, window="1m", baseline_window="13d")
    values = [1.0] * (13 * 1440 + 120)
    values[-30] = 5.0
    source = Limited(minutes(values))
    result = replay(rule, source, "m", T0 + 13 * 86_400, T0 + 13 * 86_400 + 7200)
    assert result.evaluations == 121 and result.firings == (
        Firing(T0 + 13 * 86_400 + 5460, T0 + 13 * 86_400 + 5520, WARN, 5.0),
    )
    assert source.reads == 2  # the first evaluation's range, then its continuation to the horizon
