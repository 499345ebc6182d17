"""Remediation wired to alerting, by the composition root: the ``actions:`` section's remediator, handed the
firing alerts of every alert round (those no person muted) and writing its runs on the models' incidents."""

from __future__ import annotations

from collections.abc import Sequence

from vigil.actions.config import actions_from_config
from vigil.actions.remediator import Remediator
from vigil.alerting.alert import Alert
from vigil.alerting.engine import AlertEngine
from vigil.config import VigilConfig
from vigil.registry import Registry

__all__ = ["subscribe_remediation"]


def subscribe_remediation(engine: AlertEngine, config: VigilConfig, registry: Registry) -> Remediator:
    """The remediator of ``config``'s ``actions:`` section (``ConfigError`` for a bad one; triggers may name
    the engine's rules), subscribed to ``engine``'s rounds when it has actions. A rollback it makes is read
    back into ``registry`` at once."""
    actions = actions_from_config(config, rules=[r.name for r in engine.rulebook.static])
    remediator = Remediator(
        actions,
        registry.declared,
        engine.store,
        on_event=engine.incidents.on_action,
        on_live_change=lambda _: registry.refresh(),
    )

    def on_round(firing: Sequence[Alert], now: float) -> None:
        remediator.expire(now)
        remediator.on_alerts(firing, now)

    if remediator.specs:
        engine.subscribe(on_round)
    return remediator
