"""The live demo end to end (slow, ~1 min): injected trouble → the right alerts → webhook, SMTP, Alertmanager.

One real run of ``run_demo`` (a real server on loopback, the SDK, the alert engine, a webhook recorder, an
aiosmtpd server and Debian's ``prometheus-alertmanager`` when installed) is shared by the tests of this
module. It uses 4 s windows and a 16 s calm start, so the drift is injected at +16 s, the error burst at
+32 s and the cost spike (one user, through OpenTelemetry spans) at +48 s, and it runs just long enough for
the cost spike's worst-case delay (:meth:`DemoTimings.worst_delay`).
"""

from __future__ import annotations

from typing import Any

import pytest

from vigil.demo.assistant import ABUSER
from vigil.demo.live import run_demo
from vigil.demo.receivers import ALERTMANAGER_BINARY, free_port
from vigil.demo.rules import DemoTimings

CALM = 16.0
WINDOW = 4.0
TIMINGS = DemoTimings(WINDOW)
# Worst case from injection to first notification: 2 windows until a window wholly in the trouble ends,
# + for + group_wait + 3 evaluation rounds + 3 s slack (see DemoTimings.worst_delay): errors fire at once
# (for 0) -> 2*4 + 0 + 0.8 + 3*0.8 + 3 = 14.2 s; drift holds one window (for 4 s) -> 18.2 s.
ERRORS_BOUND = TIMINGS.worst_delay(hold=0)
DRIFT_BOUND = TIMINGS.worst_delay(hold=WINDOW)
COST_BOUND = TIMINGS.worst_delay(hold=WINDOW)
DURATION = 3 * CALM + COST_BOUND + 1  # the cost spike is injected at calm + 4 * (calm / 2)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    lines: list[str] = []
    result = run_demo(
        tmp_path_factory.mktemp("demo"),
        port=free_port(),
        duration=DURATION,
        rate=40,
        calm=CALM,
        window=f"{WINDOW:g}s",
        say=lines.append,
    )
    result["lines"] = lines
    return result


def _first(demo: dict[str, Any], receiver: str, alertname: str, model: str) -> dict[str, Any] | None:
    return next(
        (
            n
            for n in demo["notifications"]
            if (n["receiver"], n["alertname"], n["model"], n["status"])
            == (receiver, alertname, model, "firing")
        ),
        None,
    )


def _row(demo: dict[str, Any], trouble: str, alert: str) -> dict[str, Any]:
    rows: list[dict[str, Any]] = [m for m in demo["alerts"] if (m["trouble"], m["alert"]) == (trouble, alert)]
    assert len(rows) == 1, rows
    return rows[0]


def test_the_bounds_follow_from_the_timings() -> None:
    assert (TIMINGS.evaluate_every, TIMINGS.group_wait) == pytest.approx((0.8, 0.8))
    # 2 windows + for + group_wait + 3 evaluation rounds + 3 s of slack
    assert TIMINGS.worst_delay(hold=0) == pytest.approx(2 * 4 + 0 + 0.8 + 3 * 0.8 + 3)
    assert TIMINGS.worst_delay(hold=4) == pytest.approx(2 * 4 + 4 + 0.8 + 3 * 0.8 + 3)


@pytest.mark.parametrize("receiver", ["webhook", "email"])
def test_error_burst_and_drift_reach_the_webhook_and_the_mail_server(
    demo: dict[str, Any], receiver: str
) -> None:
    assert [i["name"] for i in demo["injected"]][:3] == ["drift", "latency spike", "error burst"]
    for alertname, model, trouble, bound in (
        ("ErrorRateHigh", "diabetes-progression", "error burst", ERRORS_BOUND),
        ("DriftMeanRadius", "tumor-classifier", "drift", DRIFT_BOUND),
        ("DriftMeanTexture", "tumor-classifier", "drift", DRIFT_BOUND),
    ):
        got = _first(demo, receiver, alertname, model)
        assert got is not None, f"{receiver} never got {alertname} on {model}: {demo['notifications']}"
        assert got["trouble"] == trouble
        assert 0 < got["delay"] <= bound, (alertname, got["delay"], bound)
        assert _row(demo, trouble, alertname)["first"][receiver] == got["delay"]


def test_nothing_fires_before_the_first_injection_nor_without_a_cause(demo: dict[str, Any]) -> None:
    first_injection = demo["injected"][0]["at"]
    assert demo["notifications"], "no notification at all"
    assert all(n["at"] > first_injection for n in demo["notifications"])
    assert demo["unexpected"] == []


def test_the_demo_prints_where_it_listens_each_notification_and_the_table(demo: dict[str, Any]) -> None:
    text = "\n".join(demo["lines"])
    assert f"webhook     {demo['receivers']['webhook']}" in text
    assert f"SMTP {demo['receivers']['email']}" in text
    assert "NOTIFIED  webhook       ErrorRateHigh diabetes-progression" in text
    assert 'after injection of "error burst")' in text
    header = next(line for line in demo["lines"] if line.strip().startswith("trouble"))
    assert "injected at" in header and "webhook" in header and "email" in header and "resolved" in header


def test_alertmanager_lists_the_error_burst_and_the_drift(demo: dict[str, Any]) -> None:
    if not ALERTMANAGER_BINARY.exists():
        pytest.skip(f"{ALERTMANAGER_BINARY} not installed (scripts/install-prometheus.sh installs it)")
    assert demo["receivers"]["alertmanager"] is not None
    for alertname, model, bound in (
        ("ErrorRateHigh", "diabetes-progression", ERRORS_BOUND),
        ("DriftMeanRadius", "tumor-classifier", DRIFT_BOUND),
        ("DriftMeanTexture", "tumor-classifier", DRIFT_BOUND),
    ):
        got = _first(demo, "alertmanager", alertname, model)
        assert got is not None, f"Alertmanager never listed {alertname} on {model}"
        assert 0 < got["delay"] <= bound + 0.5  # + one 0.25 s poll of GET /api/v2/alerts


def test_the_cost_spike_alerts_name_the_user_behind_it(demo: dict[str, Any]) -> None:
    """The assistant's spans come through the OpenTelemetry SDK; one user causes the spike, and both the
    cost alert and the share alert say who."""
    for alertname in ("CostPerPredictionSpike", "TopSpenderShareJump"):
        got = _first(demo, "webhook", alertname, "support-assistant")
        assert got is not None, f"the webhook never got {alertname}: {demo['notifications']}"
        assert got["trouble"] == "cost spike" and 0 < got["delay"] <= COST_BOUND, got
        assert got["annotations"]["top_user"] == ABUSER, got
        assert float(got["annotations"]["top_user_share"]) > 0.5, got
    share = _first(demo, "webhook", "TopSpenderShareJump", "support-assistant")
    assert share is not None
    assert share["summary"].startswith(f"TopSpenderShareJump: user {ABUSER} spent "), share["summary"]
    assert "of support-assistant's cost in the last 4s" in share["summary"], share["summary"]
    text = "\n".join(demo["lines"])
    assert "CostPerPredictionSpike support-assistant warning firing" in text
    assert f"[top user {ABUSER}]" in text
