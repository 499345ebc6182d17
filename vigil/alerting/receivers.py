"""The receivers of the ``alerting:`` section: built from the settings, and told when a person acknowledges.

:func:`build_receivers` makes one receiver per ``alerting.receivers`` entry (each channel builds its own, see
:mod:`vigil.alerting.notify.registry`). :func:`acknowledge_pages` tells every PagerDuty receiver that paged a
group of an acknowledged incident (``acknowledge`` on the group's ``dedup_key``), so its escalation stops.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from vigil.alerting.dispatch.routes import receivers_for
from vigil.alerting.notify.channel import Receiver
from vigil.alerting.notify.pagerduty import PagerDutyReceiver
from vigil.alerting.notify.retry import DeliveryStatus
from vigil.alerting.settings import AlertingSettings

__all__ = ["acknowledge_pages", "build_receivers"]

log = logging.getLogger("vigil.alerting")


def build_receivers(settings: AlertingSettings) -> list[Receiver]:
    """One receiver per entry of ``settings.receivers``, in order."""
    return [entry.build(settings.external_url) for entry in settings.receivers]


def acknowledge_pages(receivers: Sequence[Receiver], groups: Iterable[tuple[str, str]]) -> None:
    """Acknowledge each ``(route receiver, group key)`` on the PagerDuty receivers it went to; a failure is
    logged, not raised (the incident is acknowledged in Vigil either way)."""
    ordered = sorted(groups)
    for receiver in receivers:
        if not isinstance(receiver, PagerDutyReceiver):
            continue
        for route, key in ordered:
            if receiver in receivers_for(route, receivers):
                result = receiver.acknowledge(key)
                if result.status is not DeliveryStatus.SENT:
                    log.warning("PagerDuty acknowledge for %s failed: %s", key, result.error)
