"""The demo's alerting: rules tuned to its short windows, their runbooks, and the receivers it starts.

Every timing derives from the models' window ``W`` (10 s by default), so the same rules work at any
``--window``:

* each rule reads one window (``window: W``) and the engine evaluates every ``W / 5`` (at least 0.5 s);
* troubles that persist (drift, nulls, cost) must hold for ``W`` (two windows in a row) before they fire,
  so one noisy window never pages; short ones (latency, errors) fire on the first window that shows them,
  with levels far above the calm traffic's noise;
* ``NoData`` must hold for ``3 W``: when the server starts, the windows before the traffic are empty, and
  that must not page;
* notifications: grouped by alertname and model, ``group_wait`` ``W / 5``, ``group_interval`` ``W``,
  ``repeat_interval`` 1 h.

The levels, against what the calm traffic shows (measured on 10 s windows, ~400 rows each): the KS
statistic of ``mean radius`` / ``mean texture`` is 0.03–0.09 calm and 0.63–0.75 drifted (warning 0.2,
critical 0.4); latency p95 is 21–25 ms calm and ~130 ms in the spike (3× the trailing median); the error
rate is 0–1% calm and ~30% in the burst (warning 5%, critical 10%); nulls in ``bmi`` are 0% calm and 40%
(warning 1%, critical 5%); the assistant's cost per answer is ~4× during the cost spike (2× the trailing
mean), and its top user's share of the cost ~0.9 against ~0.1 calm (3× the trailing mean).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["DemoTimings", "alerting_section", "alertname_for", "rules_section"]


@dataclass(frozen=True)
class DemoTimings:
    """The alerting timings of a demo whose models use ``window`` seconds."""

    window: float

    @property
    def evaluate_every(self) -> float:
        return max(0.5, self.window / 5)

    @property
    def group_wait(self) -> float:
        return self.window / 5

    @property
    def group_interval(self) -> float:
        return self.window

    def worst_delay(self, hold: float, slack: float = 3.0) -> float:
        """Seconds from injecting a trouble to its first notification, at most, for a rule with ``for``
        ``hold``, when the trouble breaches the rule in every window it covers and lasts at least ``W``.

        The first evaluation window wholly or mostly inside the trouble ends at most ``2 W`` after the
        injection; the next round reads it (``+ E``, ``E`` = evaluate_every) and it turns pending (or
        firing); ``for`` holds at the first round ``hold`` later (``+ hold + E``, rounds being discrete);
        the new group is flushed at the first round after ``group_wait`` (``+ G + E``). ``slack`` covers
        the SDK's flush (0.5 s), the time a round itself takes, delivery, and the 0.25 s Alertmanager poll.
        """
        return 2 * self.window + hold + self.group_wait + 3 * self.evaluate_every + slack


def _s(seconds: float) -> str:
    return f"{seconds:g}s"


_RUNBOOKS = {
    "drift": """\
**Input drift on `{feature}`**: the live distribution moved away from the training data (KS statistic).
1. Open `GET /v1/models/tumor-classifier/drift`: which features moved, by how much, since when.
2. Check the upstream change log (new scanner, new clinic, a unit change) for that time.
3. A real shift in the population: retrain on recent data, or roll back to the previous version.
4. A pipeline bug (units, scaling): fix the producer; the alert resolves once the windows are clean.""",
    "latency": """\
**Latency p95 above 3x its usual level.**
1. `GET /v1/models/<model>/metrics?names=latency_p95,throughput,host_cpu_percent`: load or slowness?
2. Look for a deploy, a slow dependency (feature store, GPU) or a noisy neighbour on the host.
3. Scale out or shed load; roll back a deploy that coincides.""",
    "errors": """\
**Requests failing.** Critical above 10%.
1. `GET /v1/models/<model>/events?limit=20`: read the error messages of the sample.
2. Timeouts: check the feature store and downstream services; validation errors: the client's payloads.
3. Roll back or fail over when it coincides with a deploy; page the owning team above 10%.""",
    "nulls": """\
**The feature pipeline sends nulls in `bmi`.** The model imputes them: predictions degrade silently.
1. `GET /v1/models/diabetes-progression/metrics?names=null_rate:bmi` and the drift report's quality section.
2. Find the producer of `bmi` (the EHR extract) and its last change; check for a schema rename.
3. Until fixed, flag affected predictions; backfill once the pipeline is repaired.""",
    "cost": """\
**Cost per answer at least 2x its trailing mean.** The alert names the top user and feature (`top_user`).
1. Identify the source: `GET /v1/models/support-assistant/spenders?by=user&range=5m` (and `by=feature`).
2. `GET /v1/models/support-assistant/metrics?names=tokens_per_prediction,cost_per_prediction`.
3. One user: rate-limit them. Everyone: check the prompt template, `max_tokens`, a model switch.""",
    "share": """\
**One user spends a far larger share of the cost than usual** (the alert names them).
1. `GET /v1/models/support-assistant/spenders?by=user&range=5m`: who, how much, on which feature.
2. A script or a runaway agent loop on one account, or abuse: rate-limit or block the user.""",
    "nodata": """\
**No events from this model.** Its drift alerts are muted while this fires (nothing to compare).
1. Is the service up? Check its health endpoint and deploy log.
2. Is the SDK sending? Look for 'vigil:' warnings in the service's log (queue full, server unreachable).
3. Restore traffic or the SDK's connection; the alert resolves at the first window with events.""",
}


def rules_section(timings: DemoTimings) -> list[dict[str, Any]]:
    """The ``rules:`` of the demo (see the module docstring for the levels and timings).

    Rules for every model (``model: "*"``) name no ``owner``: each alert then names its model's owner
    (``models.<name>.owner.contact``), which is who should act.
    """
    w = timings.window
    one = {"window": _s(w)}
    relative = {"baseline_window": _s(30 * w), "min_baseline_points": 3}
    drift = [
        {
            "name": f"Drift{feature.title().replace(' ', '')}",
            "model": "tumor-classifier",
            "metric": "drift",
            "feature": feature,
            "warning": 0.2,
            "critical": 0.4,
            **one,
            "for": _s(w),
            "owner": "#diag-oncall",
            "runbook": _RUNBOOKS["drift"].format(feature=feature),
        }
        for feature in ("mean radius", "mean texture")
    ]
    return [
        *drift,
        {
            "name": "LatencyP95Spike",
            "model": "*",
            "metric": "latency_p95",
            "kind": "relative",
            "factor": 3,
            "baseline": "median",
            **relative,
            **one,
            "runbook": _RUNBOOKS["latency"],
        },
        {
            "name": "ErrorRateHigh",
            "model": "*",
            "metric": "error_rate",
            "warning": 0.05,
            "critical": 0.10,
            **one,
            "runbook": _RUNBOOKS["errors"],
        },
        {
            "name": "NullRateHigh",
            "model": "diabetes-progression",
            "metric": "null_rate",
            "feature": "bmi",
            "warning": 0.01,
            "critical": 0.05,
            **one,
            "for": _s(w),
            "owner": "care-analytics@example.com",
            "runbook": _RUNBOOKS["nulls"],
        },
        {
            "name": "CostPerPredictionSpike",
            "model": "support-assistant",
            "metric": "cost_per_prediction",
            "kind": "relative",
            "factor": 2,
            "baseline": "mean",
            **relative,
            **one,
            "for": _s(w),
            "owner": "#assistant-oncall",
            "runbook": _RUNBOOKS["cost"],
        },
        {
            "name": "TopSpenderShareJump",
            "model": "support-assistant",
            "metric": "top_spender_share",
            "kind": "relative",
            "factor": 3,
            "baseline": "mean",
            **relative,
            **one,
            "for": _s(w),
            "owner": "#assistant-oncall",
            "runbook": _RUNBOOKS["share"],
        },
        {
            "name": "NoData",
            "model": "*",
            "kind": "no_data",
            **one,
            "for": _s(3 * w),
            "runbook": _RUNBOOKS["nodata"],
        },
    ]


def alerting_section(
    timings: DemoTimings,
    *,
    external_url: str,
    webhook: str,
    smtp: tuple[str, int],
    alertmanager: str | None,
) -> dict[str, Any]:
    """The ``alerting:`` of the demo: its own rules only, every notification to every receiver.

    The route is flat (no ``routes:``), so each receiver gets everything; a routing tree can later go
    under ``route`` (e.g. ``routes: [{matchers: ['severity="critical"'], receiver: email}]``).
    """
    receivers: list[dict[str, Any]] = [
        {"name": "webhook", "webhook": webhook},
        {
            "name": "email",
            "email": {
                "host": smtp[0],
                "port": smtp[1],
                "from": "vigil-demo@example.com",
                "to": ["oncall@example.com"],
            },
        },
    ]
    if alertmanager is not None:
        receivers.append({"name": "alertmanager", "alertmanager": alertmanager})
    return {
        "evaluate_every": _s(timings.evaluate_every),
        "default_rules": False,  # the defaults read 5 min to 1 h windows: too slow for a demo
        "external_url": external_url,
        "route": {
            "group_by": ["alertname", "model"],
            "group_wait": _s(timings.group_wait),
            "group_interval": _s(timings.group_interval),
            "repeat_interval": "1h",
        },
        "receivers": receivers,
    }


def alertname_for(rules: list[dict[str, Any]]) -> Callable[[Mapping[str, str]], str]:
    """A function ``labels -> alertname`` for alerts of ``rules`` (by model and metric), for e-mails,
    which list an alert's labels but not its name; ``?`` when no rule matches."""
    exact: dict[tuple[str, str], str] = {}
    anywhere: dict[str, str] = {}
    for rule in rules:
        metric = rule.get("metric", "events")
        if "feature" in rule:
            metric = f"{metric}:{rule['feature']}"
        if rule["model"] == "*":
            anywhere[metric] = rule["name"]
        else:
            exact[(rule["model"], metric)] = rule["name"]

    def name(labels: Mapping[str, str]) -> str:
        metric = labels.get("metric", "")
        return exact.get((labels.get("model", ""), metric)) or anywhere.get(metric, "?")

    return name
