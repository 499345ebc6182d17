"""The settings of ``vigil.settings`` as click options, shared by the commands that take them (``vigil serve``
all of them, ``vigil worker`` the broker's), and the broker's stream limits read from them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from vigil.broker.nats import StreamLimits

__all__ = ["STREAM_SETTINGS", "setting_options", "stream_limits"]

STREAM_SETTINGS = ("broker_max_bytes", "broker_max_messages", "broker_duplicate_window")
"""The stream's limits: a server or worker applies those given (flag or environment) to the stream."""


def setting_options(
    names: tuple[str, ...] | None = None, aliases: Mapping[str, tuple[str, ...]] | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Click options for the settings named (all without names), each defaulting to None so that
    ``vigil.settings.resolve`` can tell a flag from the environment from the default; ``aliases``: more
    flags for a setting (kept for an older spelling)."""
    from vigil.settings import SETTINGS

    chosen = [s for s in SETTINGS if names is None or s.name in names]
    unknown = set(names or ()) - {s.name for s in chosen}
    assert not unknown, f"no such settings: {sorted(unknown)}"

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        for s in reversed(chosen):
            kind = type(s.default) if s.default not in (None, "") else str
            flags = (s.flag, *(aliases or {}).get(s.name, ()))
            f = click.option(
                *flags, s.name, type=kind, default=None, help=f"{s.help} [env {s.env}; default {s.default!r}]"
            )(f)
        return f

    return decorate


def stream_limits(given: Mapping[str, Any]) -> StreamLimits:
    """The stream limits set on the command line (``given``: the command's arguments) or in the
    environment; those set neither way stay None (the default when the stream is made, else kept)."""
    from vigil.broker.nats import StreamLimits
    from vigil.settings import explicit

    value = explicit(dict(given), STREAM_SETTINGS)
    window = value["broker_duplicate_window"]
    if window is not None and not float(window) > 0:
        raise click.BadParameter(
            f"{float(window):g} seconds: must be more than 0", param_hint="--broker-duplicate-window"
        )
    return StreamLimits(
        value["broker_max_bytes"],
        value["broker_max_messages"],
        None if window is None else timedelta(seconds=float(window)),
    )
