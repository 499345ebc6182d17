"""Inhibition: a firing *source* alert mutes *target* alerts that agree with it on the ``equal`` labels.

Given the alerts firing now, a target alert is muted when some rule's target matchers match it and a
firing alert matches that rule's source matchers with the same value for every ``equal`` label (a label
missing on both sides counts as equal, as in Alertmanager). An alert that matches both the source and the
target side of a rule cannot be inhibited through that rule by an alert for which the same is true, so
no alert inhibits itself.

Typical rules: a critical mutes the warning of the same rule and model
(``source severity="critical"``, ``target severity="warning"``, ``equal alertname, model``); a model that
sends no data mutes that model's drift alerts (``source alertname="NoData"``, ``target kind="drift"``,
``equal model``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from vigil.alerting.fingerprint import Labels
from vigil.alerting.matchers import Matcher, matches_all, parse_matcher

__all__ = ["BUILT_IN_INHIBITIONS", "InhibitRule", "Inhibitor"]


@dataclass(frozen=True)
class InhibitRule:
    source_matchers: tuple[Matcher, ...]
    target_matchers: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()
    name: str = ""

    def inhibits(self, source: Labels, target: Labels) -> bool:
        """True when ``source`` (firing) mutes ``target`` through this rule."""
        if not (matches_all(self.target_matchers, target) and matches_all(self.source_matchers, source)):
            return False
        if matches_all(self.source_matchers, target) and matches_all(self.target_matchers, source):
            return False
        return all(source.get(name, "") == target.get(name, "") for name in self.equal)


class Inhibitor:
    """Inhibition rules over a snapshot of the firing alerts; rebuild it when the firing set changes.

    ``now`` is accepted for the :class:`~vigil.alerting.mute.Muter` interface; the snapshot decides.
    """

    def __init__(self, rules: Iterable[InhibitRule], firing: Iterable[Labels]) -> None:
        self.rules = tuple(rules)
        self._firing = [dict(labels) for labels in firing]

    def inhibited_by(self, labels: Labels) -> list[InhibitRule]:
        """The rules through which some firing alert mutes ``labels``."""
        return [r for r in self.rules if any(r.inhibits(source, labels) for source in self._firing)]

    def mutes(self, labels: Labels, now: float) -> bool:
        return bool(self.inhibited_by(labels))


BUILT_IN_INHIBITIONS = (
    InhibitRule(
        (parse_matcher("severity=critical"),),
        (parse_matcher("severity=warning"),),
        ("alertname", "model"),
        "critical mutes warning",
    ),
    InhibitRule(
        (parse_matcher("alertname=NoData"),),
        (parse_matcher("metric=~drift.*"),),
        ("model",),
        "no data mutes drift",
    ),
)
"""What the engine always applies: a critical alert mutes the warning of the same rule and model, and a
model's ``NoData`` alert mutes its drift alerts."""
