"""SLO math against hand computations, multi-window burn-rate alerts on constructed timelines, and the
counts read from a real app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.fakes import FakeClock
from vigil.alerting.slo import (
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
    error_ratio,
    read_counts,
    slo_status,
)
from vigil.config import parse_config
from vigil.server.app import create_app
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
