"""The receiver channels, registered in one place.

:data:`CHANNELS` maps the key that names a channel in an ``alerting.receivers`` entry (``webhook``,
``slack``, ``pagerduty``, ``email``, ``alertmanager``) to its config class, which owns its schema and builds
its receiver; :data:`ReceiverConfig` is the discriminated union that validates one entry by the channel key it
gives (exactly one). Adding a channel is one module beside the others and one line here, in each.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BeforeValidator, Discriminator, Tag

from vigil.alerting.notify.alertmanager import AlertmanagerConfig
from vigil.alerting.notify.channel import ChannelConfig
from vigil.alerting.notify.email import EmailConfig
from vigil.alerting.notify.pagerduty import PagerDutyConfig
from vigil.alerting.notify.slack import SlackConfig
from vigil.alerting.notify.webhook import WebhookConfig
from vigil.errors import Invalid, Issue

__all__ = ["CHANNELS", "ReceiverConfig"]

CHANNELS: dict[str, type[ChannelConfig]] = {
    "webhook": WebhookConfig,
    "slack": SlackConfig,
    "pagerduty": PagerDutyConfig,
    "alertmanager": AlertmanagerConfig,
    "email": EmailConfig,
}


def _one_channel(entry: object) -> object:
    if isinstance(entry, Mapping):
        given = [key for key in CHANNELS if key in entry]
        if len(given) != 1:
            who = f"receiver {entry['name']!r}" if isinstance(entry.get("name"), str) else "a receiver"
            raise Invalid(
                Issue(
                    f"{who} must name exactly one kind (got {', '.join(given) or 'none'})",
                    f"give one of {', '.join(CHANNELS)}",
                )
            )
    return entry


def _channel(entry: Any) -> str | None:
    if isinstance(entry, Mapping):
        return next((key for key in CHANNELS if key in entry), None)
    return getattr(entry, "CHANNEL", None)


ReceiverConfig = Annotated[
    Annotated[WebhookConfig, Tag("webhook")]
    | Annotated[SlackConfig, Tag("slack")]
    | Annotated[PagerDutyConfig, Tag("pagerduty")]
    | Annotated[AlertmanagerConfig, Tag("alertmanager")]
    | Annotated[EmailConfig, Tag("email")],
    Discriminator(_channel),
    BeforeValidator(_one_channel),
]
"""One entry of ``alerting.receivers``: ``name`` and exactly one channel key (problems inside a channel's
fields are located under the channel's name first, pydantic's tagged-union location)."""
