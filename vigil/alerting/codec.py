"""The store forms of what the engine keeps between rounds and servers: each rule's alert state on each model
(records of kind :data:`STATE_KIND`, so a restarted engine does not start ``for`` over or announce a firing
alert as new), and the evaluator's current alerts (one record of kind :data:`CURRENT_KIND`, read by the
servers that do not evaluate). JSON, with the times in seconds since the epoch.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from vigil.alerting.alert import Alert, AlertStatus
from vigil.alerting.state import AlertState, Phase, Severity, Timing

__all__ = [
    "CURRENT_KIND",
    "STATE_KIND",
    "alerts_from_json",
    "alerts_to_json",
    "state_from_json",
    "state_id",
    "state_key",
    "state_to_json",
]


STATE_KIND = "alert_state"
"""Records of each rule's alert state on each model (id ``<rule>\x1f<model>``)."""
CURRENT_KIND = "alerts"
"""One record (id ``current``): the evaluator's current alerts, for the servers that do not evaluate."""


def alerts_to_json(alerts: Iterable[Alert]) -> str:
    """The current alerts as the store keeps them (sorted keys, so equal alerts give equal text)."""
    return json.dumps(
        [
            {
                "labels": dict(a.labels),
                "status": a.status.value,
                "starts_at": a.starts_at,
                "ends_at": a.ends_at,
                "annotations": dict(a.annotations),
            }
            for a in alerts
        ],
        sort_keys=True,
    )


def alerts_from_json(text: str) -> list[Alert]:
    """The alerts :func:`alerts_to_json` wrote."""
    return [
        Alert(d["labels"], AlertStatus(d["status"]), d["starts_at"], d["ends_at"], d["annotations"])
        for d in json.loads(text)
    ]


def state_to_json(state: AlertState) -> str:
    """One alert state as the store keeps it (its timing comes from the rule when read back)."""
    return json.dumps(
        {
            "phase": state.phase.value,
            "severity": state.severity.value if state.severity else None,
            "active_since": state.active_since,
            "fired_at": state.fired_at,
            "resolved_at": state.resolved_at,
            "last_value": state.last_value,
            "evaluated_at": state.evaluated_at,
            "warning_since": state.warning_since,
            "critical_since": state.critical_since,
            "cleared_at": state.cleared_at,
        }
    )


def state_from_json(text: str, timing: Timing) -> AlertState:
    """The state :func:`state_to_json` wrote, with the rule's ``timing`` as it is now."""
    data = json.loads(text)
    severity = data.pop("severity")
    return AlertState(
        timing=timing,
        phase=Phase(data.pop("phase")),
        severity=Severity(severity) if severity else None,
        **data,
    )


def state_id(rule: str, model: str) -> str:
    """The record id of the state of ``rule`` on ``model``."""
    return f"{rule}\x1f{model}"


def state_key(id: str) -> tuple[str, str]:
    """``(rule, model)`` of a state record's id."""
    rule, _, model = id.partition("\x1f")
    return rule, model
