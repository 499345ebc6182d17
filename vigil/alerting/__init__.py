"""Alerting as a pipeline of pure stages, all driven by explicit times in seconds.

``state`` (rule evaluation: inactive → pending → firing → resolved) → ``alert`` (label sets, fingerprints)
→ ``dispatch`` (group, wait, repeat, dedup) with ``silence`` and ``inhibit`` as ``mute.Muter`` s.
Nothing here reads a clock or touches storage or HTTP.
"""

from __future__ import annotations

from vigil.alerting.alert import Alert, AlertStatus, alerts_for
from vigil.alerting.dispatch.dispatcher import Dispatcher, Notification, Reason, Route
from vigil.alerting.fingerprint import Labels, fingerprint
from vigil.alerting.matchers import Matcher, MatcherError, MatchType, matches_all, parse_matcher
from vigil.alerting.mute import AnyMuter, Muter
from vigil.alerting.mute.inhibit import Inhibitor, InhibitRule
from vigil.alerting.mute.silences import Silence, Silences, SilenceState
from vigil.alerting.state import AlertState, Phase, Severity, Timing, step

__all__ = [
    "Alert",
    "AlertState",
    "AlertStatus",
    "AnyMuter",
    "Dispatcher",
    "InhibitRule",
    "Inhibitor",
    "Labels",
    "MatchType",
    "Matcher",
    "MatcherError",
    "Muter",
    "Notification",
    "Phase",
    "Reason",
    "Route",
    "Severity",
    "Silence",
    "SilenceState",
    "Silences",
    "Timing",
    "alerts_for",
    "fingerprint",
    "matches_all",
    "parse_matcher",
    "step",
]
