"""Signal counting for automatic triggers: a pure function of the firing alerts.

A firing alert is a **signal** for an action's ``when`` on a model when its ``model`` label is that model,
its ``alertname`` is one of ``when.alerts`` and, if ``when.severity`` is set, its severity ranks at least
that high (critical > warning; an unknown severity ranks below both). Signals are counted by **distinct
rule**: the same rule firing twice (two severities, two versions) counts once, represented by its most
severe, then earliest, alert. The trigger fires when the count reaches ``when.min_signals``.

>>> from vigil.alerting.alert import Alert
>>> from vigil.actions.config import Trigger
>>> when = Trigger(alerts=("AccuracyDrop", "DriftShareHigh"), min_signals=2)
>>> a = Alert({"alertname": "AccuracyDrop", "model": "credit", "severity": "warning"})
>>> check_trigger(when, "credit", [a]).why
'needs 2 distinct signals, have 1 (AccuracyDrop)'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from vigil.actions.config import Trigger
from vigil.actions.runs import Signal
from vigil.alerting.alert import Alert, AlertStatus
from vigil.alerting.state import Severity

__all__ = ["TriggerCheck", "check_trigger", "signal_models"]


@dataclass(frozen=True)
class TriggerCheck:
    """Whether a trigger fires on a model now, the distinct signals (by rule name), and why, in words."""

    fires: bool
    signals: tuple[Signal, ...]
    why: str


def _rank(alert: Alert) -> int:
    try:
        return Severity(alert.labels.get("severity", "")).rank
    except ValueError:
        return 0


def check_trigger(when: Trigger, model: str, firing: Iterable[Alert]) -> TriggerCheck:
    """Count the distinct signals for ``when`` on ``model`` among ``firing`` (resolved alerts are ignored)."""
    floor = when.severity.rank if when.severity is not None else 0
    best: dict[str, Alert] = {}
    for alert in firing:
        labels = alert.labels
        name = labels.get("alertname", "")
        if alert.status is not AlertStatus.FIRING or labels.get("model") != model or name not in when.alerts:
            continue
        if _rank(alert) < floor:
            continue
        held = best.get(name)
        if held is None or (-_rank(alert), alert.starts_at) < (-_rank(held), held.starts_at):
            best[name] = alert
    signals = tuple(Signal.of(best[name]) for name in sorted(best))
    names = ", ".join(s.alertname for s in signals) or "none"
    at = f" at {when.severity.value} or above" if when.severity is not None else ""
    if len(signals) >= when.needed:
        return TriggerCheck(True, signals, f"{len(signals)} distinct signals{at}: {names}")
    return TriggerCheck(
        False, signals, f"needs {when.needed} distinct signals{at}, have {len(signals)} ({names})"
    )


def signal_models(when: Trigger, firing: Iterable[Alert]) -> list[str]:
    """The models (sorted) with at least one firing alert named in ``when.alerts``."""
    return sorted(
        {
            a.labels["model"]
            for a in firing
            if a.status is AlertStatus.FIRING
            and "model" in a.labels
            and a.labels.get("alertname") in when.alerts
        }
    )
