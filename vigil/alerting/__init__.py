"""Alerting as a pipeline of stages, one folder each, as Alertmanager lays them out; times are explicit.

* ``rules/``: what to watch and when it is bad, one module per kind (a discriminated union on ``kind``),
  the ``slos:`` section and the default rules;
* ``evaluate/``: one metric source protocol, one cache, the window a rule judges, one round of evaluation;
* ``state`` (inactive → pending → firing → resolved), ``alert`` (label sets, ``fingerprint``);
* ``dispatch/``: the routing tree, then per route group, wait, repeat and dedup;
* ``mute/``: silences, inhibition, maintenance windows with their time intervals, deploy grace: each a
  ``Muter``;
* ``notify/``: one module per channel, registered in one place; retries; the notification log;
* ``response/``: episodes and incidents; ``analysis/``: replay, the alert-quality review, threshold tuning;
* ``engine``: ``AlertEngine.tick(now)`` runs the stages, and its thread; beside it the ``settings``
  (``alerting:``), the ``receivers`` factory, the state ``codec`` and the ``rulebook``.

This package exports the pure stages, which read no clock and touch neither storage nor HTTP.
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
