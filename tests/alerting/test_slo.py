"""SLO math against hand computations, multi-window burn-rate alerts on constructed timelines, the counts
read from a real app, the ``slos:`` section, and SLOs through the alert state machine on a fake metric
source: an outage at 20x pages when expected and resolves, a slow burn at 2x tickets without paging."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.fakes import FakeClock
from vigil.alerting.alert import Alert
from vigil.alerting.evaluate.round import StateKey, evaluate
from vigil.alerting.rules import Rule, parse_rules
from vigil.alerting.rules.error_budget import (
    DAY,
    DEFAULT_BURN_WINDOWS,
    HOUR,
    BurnWindow,
    Counts,
    Sli,
    Slo,
    budget_consumed,
    budget_remaining,
    burn_alerts,
    burn_rate,
    burn_windows_for,
    error_ratio,
    read_counts,
    slo_status,
    slo_statuses,
)
from vigil.alerting.rules.slo import parse_slos, slos_from_config
from vigil.alerting.state import AlertState, Phase, Severity
from vigil.config import parse_config
from vigil.errors import ConfigError
from vigil.server.app import create_app
from vigil.spec import ModelSpec
from vigil.store.sqlite import SQLiteStore


def test_hand_computed_math() -> None:
    # 30 days of 1,000,000 requests at 99.9%: the budget is 1,000 bad requests.
    month = Counts(bad=250, total=1_000_000)
    assert error_ratio(month) == 0.00025
    assert budget_consumed(month, 0.999) == pytest.approx(0.25)
    assert budget_remaining(month, 0.999) == pytest.approx(0.75)
    assert budget_remaining(Counts(1500, 1_000_000), 0.999) == pytest.approx(-0.5)  # overspent
    # 1.44% errors against a 0.1% budget burns 14.4x.
    assert burn_rate(Counts(144, 10_000), 0.999) == pytest.approx(14.4)
    assert burn_rate(Counts(0, 0), 0.999) == 0.0 and budget_consumed(Counts(0, 0), 0.99) == 0.0
    with pytest.raises(ValueError, match="between 0 and 1"):
        burn_rate(month, 1.0)
    with pytest.raises(ValueError, match="bad <= total"):
        Counts(5, 3)


def windows_of(error_ratio_by_minute: list[float], per_minute: float = 1000.0) -> dict[float, Counts]:
    """Counts of every burn window ending at the last minute of a per-minute timeline."""
    out = {}
    for w in DEFAULT_BURN_WINDOWS:
        for length in (w.long, w.short):
            minutes = error_ratio_by_minute[-int(length // 60) :]
            out[length] = Counts(sum(r * per_minute for r in minutes), per_minute * len(minutes))
    return out


def severities(counts: dict[float, Counts], target: float = 0.999) -> list[tuple[str, float]]:
    return [(a.severity, a.window.factor) for a in burn_alerts(counts, target)]


def test_burn_rate_alerts_on_timelines() -> None:
    quiet = [0.0005] * (3 * 24 * 60)  # burning at 0.5x for 3 days
    assert severities(windows_of(quiet)) == []
    # An outage: 2% errors (20x) for the last 10 minutes of a quiet day. 1h: (50*0.0005 + 10*0.02)/60.
    outage = quiet[:-10] + [0.02] * 10
    counts = windows_of(outage)
    assert burn_rate(counts[HOUR], 0.999) == pytest.approx((50 * 0.0005 + 10 * 0.02) / 60 / 0.001)  # 3.75
    assert severities(counts) == []  # 1h rate 3.75 < 14.4: not yet
    long_outage = quiet[:-60] + [0.02] * 60  # a whole hour at 20x: 1h and 5m both 20 >= 14.4
    assert severities(windows_of(long_outage)) == [("page", 14.4)]
    # The outage ended 10 minutes ago: the 1h rate is still high, the 5m rate is 0.5 → the page stops.
    recovered = quiet[:-70] + [0.02] * 60 + [0.0005] * 10
    assert burn_rate(windows_of(recovered)[HOUR], 0.999) > 14.4 * 0.8
    assert severities(windows_of(recovered)) == []
    # A slow burn: 0.7% (7x) for 6 hours pages on the 6h/30m pair (not the 1h/5m one), and it also
    # tips the 3-day rate over 1: (66 h at 0.05% + 6 h at 0.7%) / 72 h / 0.1% = 1.0417.
    slow = quiet[: -6 * 60] + [0.007] * (6 * 60)
    assert burn_rate(windows_of(slow)[72 * HOUR], 0.999) == pytest.approx(
        (66 * 0.0005 + 6 * 0.007) / 72 / 0.001
    )
    assert severities(windows_of(slow)) == [("page", 6.0), ("ticket", 1.0)]
    shorter = quiet[: -4 * 60] + [0.007] * (4 * 60)  # 3d: (68*0.05% + 4*0.7%)/72 = 0.86x: no ticket
    assert severities(windows_of(shorter)) == []  # and 6h: (2*0.05% + 4*0.7%)/6 = 4.8x: no page
    # 0.15% (1.5x) for 3 days: a ticket.
    assert severities(windows_of([0.0015] * (3 * 24 * 60))) == [("ticket", 1.0)]
    with pytest.raises(KeyError, match="no counts"):
        burn_alerts({HOUR: Counts(0, 1)}, 0.999)
    with pytest.raises(ValueError):
        BurnWindow(300, 3600, 14.4, "page")


T0 = 1_800_000_000.0
CONFIG = """
models:
  credit: {task: binary, owner: {team: risk}}
"""


def test_counts_read_from_the_query(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "vigil.db")
    clock = FakeClock(T0 + 600)
    app = create_app(parse_config(CONFIG), store, clock=clock, flush_every=3600, root=tmp_path)
    try:
        with TestClient(app) as client:
            # 10 minutes x 20 events; minutes 8 and 9 have 4 errors each; latency 10 ms, 1 in 10 at 500 ms.
            records = [
                {
                    "model": "credit",
                    "request_id": f"r{k}-{i}",
                    "timestamp": T0 + 60 * k + i,
                    "latency_ms": 500.0 if i % 10 == 0 else 10.0,
                    "error": "Boom: x" if k >= 8 and i < 4 else None,
                    "prediction": 1,
                }
                for k in range(10)
                for i in range(20)
            ]
            r = client.post(
                "/v1/events", content=json.dumps(records), headers={"content-type": "application/json"}
            )
            assert r.status_code == 200, r.text
            vigil = app.state.vigil
            assert vigil.aggregator.wait_idle(10)
            now = T0 + 600
            avail = Slo(
                "avail", "credit", target=0.99, window=600, burn_windows=(BurnWindow(600, 120, 3, "page"),)
            )
            counts = read_counts(vigil.query, avail, now, [600, 120])
            assert counts == {600: Counts(8, 200), 120: Counts(8, 40)}
            status = slo_status(vigil.query, avail, now)
            assert status.budget_remaining == pytest.approx(1 - 8 / (0.01 * 200))  # -3: overspent
            assert status.burn_rates[120] == pytest.approx((8 / 40) / 0.01)
            assert [a.severity for a in status.alerts] == ["page"]
            fast = Slo("fast", "credit", sli=Sli("latency", threshold_ms=100), target=0.95, window=600)
            (lat,) = read_counts(vigil.query, fast, now, [600]).values()
            assert lat.total == 200 and lat.bad == pytest.approx(20, abs=0.5)
            good = Slo(
                "q", "credit", sli=Sli("quality", metric="error_rate", op=">", threshold=0.1), window=600
            )
            assert read_counts(vigil.query, good, now, [600])[600] == Counts(2, 10)  # 2 of 10 minutes bad
    finally:
        store.close()


def test_burn_windows_scale_with_the_slo_window_and_compare_strictly() -> None:
    assert [(w.long, w.short, w.factor, w.severity) for w in DEFAULT_BURN_WINDOWS] == [
        (HOUR, 300.0, 14.4, "page"),
        (6 * HOUR, 1800.0, 6.0, "page"),
        (24 * HOUR, 2 * HOUR, 3.0, "ticket"),
        (72 * HOUR, 6 * HOUR, 1.0, "ticket"),
    ]  # the workbook's table 5-8 plus its 24h/2h ticket tier (ops-conventions.md §4)
    week = burn_windows_for(7 * DAY)  # the same budget shares over 7 days: 2% in 1h is 0.02 × 168 = 3.36
    assert [w.factor for w in week] == pytest.approx([3.36, 1.4, 0.7, 0.1 * 168 / 72], rel=1e-12)
    assert [w.long for w in burn_windows_for(12 * HOUR)] == [HOUR, 6 * HOUR]
    assert Slo("s", "m", window=7 * DAY).burn_windows == week
    exact = {HOUR: Counts(144, 10_000), 300.0: Counts(144, 10_000)}  # exactly 14.4
    assert burn_alerts(exact, 0.999, DEFAULT_BURN_WINDOWS[:1]) == []  # "> 14.4", as the workbook's PromQL
    over = {HOUR: Counts(145, 10_000), 300.0: Counts(145, 10_000)}
    assert len(burn_alerts(over, 0.999, DEFAULT_BURN_WINDOWS[:1])) == 1
    assert burn_alerts(over, 0.999, DEFAULT_BURN_WINDOWS[:1], min_events=10_001) == []  # too few events


class MinuteSource:
    """A metric source over per-minute ``events`` and ``errors`` of one model (1m windows), from minute 0
    at ``T0``; sums come from cumulative sums, so 30-day windows cost nothing."""

    def __init__(self, events: np.ndarray, errors: np.ndarray) -> None:
        self.spec = parse_config(CONFIG).models["credit"]
        self.cum = {
            "events": np.concatenate([[0.0], np.cumsum(events)]),
            "errors": np.concatenate([[0.0], np.cumsum(errors)]),
        }
        self.registry = self
        self.reads = 0

    def get(self, name: str) -> ModelSpec | None:
        return self.spec if name == "credit" else None

    def names(self) -> list[str]:
        return ["credit"]

    def _sum(self, name: str, start: float, end: float) -> float:
        n = len(self.cum[name]) - 1
        lo, hi = (int(np.clip((t - T0) // 60, 0, n)) for t in (start, end))
        return float(self.cum[name][hi] - self.cum[name][lo])

    def series(
        self,
        model: str,
        names: Sequence[str],
        start: float,
        end: float,
        step: float | None = None,
        version: str | None = None,
        segment: Mapping[str, str] | None = None,
        origin: float = 0.0,  # one step over the whole range: where steps start does not matter
    ) -> dict[str, list[tuple[float, float | None]]]:
        assert start % 60 == 0 and end % 60 == 0 and step is not None and step >= end - start
        self.reads += 1
        return {name: [(start, self._sum(name, start, end))] for name in names}

    def windows(self, model: str, start: float, end: float, version: str | None = None) -> dict[Any, Any]:
        raise AssertionError("an availability SLO reads no windows")


SLOS = """
models:
  credit: {task: binary, owner: {team: risk, contact: risk@example.com}}
rules:
  - {name: Errors, model: credit, metric: error_rate, critical: 0.5}
slos:
  - name: credit-availability
    model: credit
    sli: availability
    target: 0.999
    window: 30d
    owner: risk-oncall@example.com
    runbook: https://runbooks.example.com/credit-slo
    labels: {service: scoring}
"""


def timeline(
    source: MinuteSource, rule: Rule, times: Sequence[float]
) -> list[tuple[float, Phase, Severity | None, list[Alert]]]:
    states: dict[StateKey, AlertState] = {}
    out = []
    for now in times:
        states, alerts = evaluate([rule], source, states, now)
        state = states[(rule.name, "credit")]
        out.append((now, state.phase, state.severity, alerts))
    return out


def test_an_outage_at_20x_pages_within_the_expected_time_and_recovery_resolves() -> None:
    (slo_rule,) = slos_from_config(parse_config(SLOS), "vigil.yaml", SLOS)
    minutes = 5 * 24 * 60
    start = 4 * 24 * 60  # the outage starts 4 days in, after a clean history of 1,000 requests a minute
    events = np.full(minutes, 1000.0)
    errors = np.zeros(minutes)
    errors[start : start + 60] = 20.0  # 2% errors for an hour: 20x the 0.1% budget
    source = MinuteSource(events, errors)
    times = [T0 + 60 * m + 1 for m in range(start, start + 120)]  # every minute, just after it ends
    seen = timeline(source, slo_rule, times)
    fired = [(now, sev) for now, phase, sev, alerts in seen if phase is Phase.FIRING and alerts]
    first_page = fired[0][0] - (T0 + 60 * start)
    # The 1h rate passes 14.4 once 14.4/20 of the hour (43.2 min) is outage; the 5m one after 3.6 min.
    # Windows end on whole minutes, so the page comes at the 44th minute (evaluated 1 s after it ends).
    assert first_page == 44 * 60 + 1 and 43.2 * 60 < first_page <= 45 * 60
    assert {sev for _, sev in fired} == {Severity.CRITICAL}  # a page, never downgraded to a ticket
    assert all(phase is Phase.INACTIVE for now, phase, _, _ in seen if now < T0 + 60 * (start + 44))
    # The outage ends at minute 60; the 5m rate is 4 × 20 = 16 > 14.4 one minute on, 12 two minutes on.
    (resolved,) = [now for now, phase, _, _ in seen if phase is Phase.RESOLVED]
    assert resolved - (T0 + 60 * (start + 60)) == 2 * 60 + 1
    assert seen[-1][1] is Phase.INACTIVE  # and no ticket follows: 3d rate 0.28, 24h rate 0.83
    page = next(a for now, _, _, alerts in seen for a in alerts if now == fired[0][0])
    assert dict(page.labels) == {
        "alertname": "credit-availability",
        "model": "credit",
        "metric": "availability",
        "kind": "slo",
        "slo": "credit-availability",
        "sli": "availability",
        "team": "risk",
        "service": "scoring",
        "severity": "critical",
    }
    notes = page.annotations
    assert float(notes["burn_rate_1h"]) == pytest.approx(44 * 20 / 60, rel=1e-3)  # 14.67
    assert float(notes["burn_rate_5m"]) == pytest.approx(20.0, rel=1e-3)
    assert float(notes["value"]) == pytest.approx(44 * 20 / 60, rel=1e-5) and notes["threshold"] == "14.4"
    # 44 minutes × 20 errors against a budget of 0.1% of the 30 days' requests (4 days and 44 minutes here)
    budget = 0.001 * 1000 * (4 * 24 * 60 + 44)
    assert float(notes["error_budget_remaining"]) == pytest.approx(1 - 44 * 20 / budget, rel=1e-3)
    assert notes["slo_window"] == "30d" and notes["target"] == "0.999"
    assert (
        notes["burn_windows"]
        == "1h/5m > 14.4 (page); 6h/30m > 6 (page); 1d/2h > 3 (ticket); 3d/6h > 1 (ticket)"
    )
    assert notes["owner"] == "risk-oncall@example.com" and notes["runbook"].endswith("/credit-slo")
    assert "burns its error budget 14.7x over 1h and 20x over 5m (> 14.4: page)" in notes["summary"]


def test_a_slow_burn_at_2x_tickets_without_paging_then_resolves() -> None:
    (slo_rule,) = slos_from_config(parse_config(SLOS))
    start = 4 * 24 * 60
    minutes = start + 48 * 60
    events = np.full(minutes, 1000.0)
    errors = np.zeros(minutes)
    errors[start : start + 40 * 60] = 2.0  # 0.2% errors: 2x, for 40 hours
    source = MinuteSource(events, errors)
    times = [T0 + 60 * m + 1 for m in range(start, minutes, 10)]  # every 10 minutes
    seen = timeline(source, slo_rule, times)
    assert {sev for _, _, sev, _ in seen} == {None, Severity.WARNING}  # a ticket, never a page
    (first,) = [now for now, _, _, alerts in seen if alerts and alerts[0].starts_at == now]
    # 6h rate 2 > 1 after 3 h; 3d rate = 2 × burnt hours / 72 > 1 after 36 h: the ticket, at the first
    # 10-minute evaluation past it
    assert 36 * HOUR < first - (T0 + 60 * start) <= 36 * HOUR + 601
    resolved = [now for now, phase, _, _ in seen if phase is Phase.RESOLVED]
    # after the burn stops (40 h) the 6h rate falls to 1 three hours later: resolved at the next evaluation
    assert len(resolved) == 1 and 43 * HOUR < resolved[0] - (T0 + 60 * start) <= 43 * HOUR + 601


def test_slo_statuses_for_the_server() -> None:
    (slo_rule,) = slos_from_config(parse_config(SLOS))
    errors = np.zeros(3 * 24 * 60)
    errors[-30:] = 50.0  # 5% errors in the last half hour: 50x
    source = MinuteSource(np.full(errors.size, 1000.0), errors)
    assert slo_rule.slo is not None
    (status,) = slo_statuses(source, [slo_rule.slo], T0 + 60 * errors.size + 42)  # aligned to the minute
    view = status.as_dict()
    assert view["at"] == T0 + 60 * errors.size and view["sli"] == "availability"
    assert view["bad"] == 1500 and view["total"] == 1000 * errors.size
    assert view["error_budget_remaining"] == pytest.approx(1 - 1500 / (0.001 * 1000 * errors.size))
    assert view["burn_rates"]["5m"] == pytest.approx(50.0) and view["burn_rates"]["1h"] == pytest.approx(25.0)
    # 1h: 1500 / 60,000 = 2.5% = 25x and 5m: 50x page; 6h: 1500 / 360,000 = 4.2x < 6; 1d: 1.04x < 3
    assert view["severity"] == "page" and [a["long"] for a in view["alerts"]] == ["1h"]
    json.dumps(view)  # JSON-ready
    ghost = Slo("ghost", "nope")
    assert slo_statuses(source, [ghost], T0) == []


SLO_PROBLEMS = [
    ("{name: S, model: credit, target: 1.5}", "target", "strictly between 0 and 1"),
    ("{name: S, model: credit, target: 0.99, sli: latency}", "threshold_ms", "needs threshold_ms"),
    ("{name: S, model: credit, target: 0.99, sli: accuracy}", "threshold", "needs threshold"),
    ("{name: S, model: credit, target: 0.99, sli: speed}", "sli", "unknown SLI 'speed'"),
    ("{name: S, model: credit, target: 0.99, threshold_ms: 3}", "threshold_ms", "does not apply"),
    ("{name: S, model: credit, target: 0.99, window: 30m}", "window", "at least 1h"),
    ("{name: S, model: '*', target: 0.99}", "model", "one model"),
    ("{name: S, model: credit}", "", "'target' is missing"),
    ("{name: S, model: credit, target: 0.99, colour: red}", "colour", "unknown key 'colour'"),
    ("{name: Errors, model: credit, target: 0.99}", "name", "a rule has the same name"),
    ("{name: S, model: credit, target: 0.99, window: soon}", "window", "not a duration"),
]


@pytest.mark.parametrize(("slo", "key", "words"), SLO_PROBLEMS)
def test_a_bad_slo_is_named_with_its_problem(slo: str, key: str, words: str) -> None:
    text = f"rules:\n  - {{name: Errors, metric: errors, critical: 1}}\nslos:\n  - {slo}\n"
    with pytest.raises(ConfigError) as info:
        slos_from_config(parse_config(text), "vigil.yaml", text)
    (problem,) = info.value.problems
    assert "SLO " in problem.message and words in problem.message, problem
    assert problem.line == 4 and problem.file == "vigil.yaml" and problem.hint
    assert problem.path.startswith("slos[0]") and key in problem.path


def test_slos_parse_into_rules_of_kind_slo() -> None:
    text = """
slos:
  - {name: avail, model: credit, target: 0.999}
  - {name: fast, model: credit, version: v2, sli: latency, threshold_ms: 300, target: 0.99, window: 7d}
  - {name: right, model: credit, sli: accuracy, threshold: 0.9, target: 0.95, min_events: 10, for: 5m}
  - {name: close, model: reg, sli: mae, threshold: 3, target: 0.9}
"""
    avail, fast, right, close = slos_from_config(parse_config(text), "vigil.yaml", text)
    assert all(r.kind == "slo" and r.slo is not None for r in (avail, fast, right, close))
    assert avail.slo == Slo("avail", "credit", Sli(), 0.999, 30 * DAY)
    assert fast.slo == Slo("fast", "credit", Sli("latency", threshold_ms=300), 0.99, 7 * DAY, "v2")
    assert fast.slo.burn_windows == burn_windows_for(7 * DAY) and fast.metric == "latency"
    assert right.slo == Slo(
        "right",
        "credit",
        Sli("quality", metric="accuracy", op="<", threshold=0.9),
        0.95,
        30 * DAY,
        min_events=10,
    )  # good: accuracy >= 0.9, so bad: < 0.9
    assert right.timing.for_critical == 300 and right.metric == "accuracy"
    assert close.slo is not None and close.slo.sli.op == ">"  # mae: good <= 3 by default
    assert slos_from_config(parse_config("")) == ()
    with pytest.raises(ConfigError, match="SLOs are declared in the slos: section"):
        parse_rules([{"name": "X", "kind": "slo"}])
    with pytest.raises(ConfigError, match="used twice"):
        parse_slos([{"name": "a", "model": "m", "target": 0.9}] * 2)
