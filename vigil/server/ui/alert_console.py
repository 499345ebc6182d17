"""The alerts console's content: every current alert in one of four states, read as ``GET /v1/alerts`` reads
them (the engine's current alerts, the store's silences, the inhibitions of what fires now), plus the
pending ones from the rules' saved states, each with what a person needs to act on it: its labels, value
and threshold, since when, runbook, the model's chart, its incident and episode (acknowledged by whom,
judged by whom).

States: ``firing`` (active: notifications go out), ``silenced`` (a silence mutes it; its ids are given),
``inhibited`` (a firing alert mutes it, e.g. a critical mutes the same rule's warning) and ``pending`` (the
condition holds but not yet for the rule's ``for``: it fires at ``fires_at`` if it keeps holding).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

from vigil.alerting.alert import Alert, AlertStatus
from vigil.alerting.engine import AlertEngine
from vigil.alerting.mute.silences import Silence, SilenceState
from vigil.alerting.response.episodes import episode_of
from vigil.alerting.rules import Rule, ThresholdRule
from vigil.alerting.state import Phase, Severity
from vigil.registry import Registry

__all__ = [
    "FILTERS",
    "GROUPS",
    "STATES",
    "AlertRow",
    "Console",
    "SilenceRow",
    "console",
    "facets",
    "filter_rows",
    "group_rows",
    "prefill",
]

STATES = ("firing", "pending", "inhibited", "silenced")
"""The states, in the order the console lists them."""
GROUPS = {
    "model": "model",
    "alertname": "alert",
    "severity": "severity",
    "team": "team",
    "state": "state",
    "none": "nothing",
}
"""What the console can group by: key -> label."""
FILTERS = (("model", "Model"), ("severity", "Severity"), ("state", "State"), ("team", "Team"))
_SEVERITY = {"critical": 0, "warning": 1}
_EXPIRED_SHOWN = 10


@dataclass(frozen=True)
class AlertRow:
    """One alert as the console shows it."""

    state: str
    alertname: str
    model: str
    severity: str
    team: str
    labels: dict[str, str]
    since: float
    """When it fired (pending: since when its condition holds)."""
    summary: str
    value: str
    threshold: str
    runbook: str
    owner: str
    chart: str
    """The model's page over the time before the breach (the alert's ``dashboard_url``)."""
    fingerprint: str = ""
    """Empty for a pending alert (it is not an alert yet)."""
    episode: str | None = None
    incident: str | None = None
    acked_by: str | None = None
    verdict: str | None = None
    verdict_by: str | None = None
    silenced_by: tuple[str, ...] = ()
    inhibited_by: tuple[str, ...] = ()
    fires_at: float | None = None
    """A pending alert: when it fires if its condition keeps holding."""

    def key(self, by: str) -> str:
        """The value this row is grouped under for ``by`` (a key of :data:`GROUPS`)."""
        return {
            "model": self.model,
            "alertname": self.alertname,
            "severity": self.severity,
            "team": self.team,
            "state": self.state,
        }.get(by, "")

    @property
    def order(self) -> tuple[int, int, float, str]:
        return (STATES.index(self.state), _SEVERITY.get(self.severity, 2), self.since, self.alertname)


@dataclass(frozen=True)
class SilenceRow:
    silence: Silence
    state: str
    mutes: int
    """How many current alerts it mutes now."""


@dataclass
class Console:
    rows: list[AlertRow]
    silences: list[SilenceRow]
    expired: int
    """Expired silences not listed (only the latest few are)."""
    rules: int
    """Rules in force."""
    counts: dict[str, int] = field(default_factory=dict)


def console(engine: AlertEngine, registry: Registry, now: float) -> Console:
    """Every current and pending alert, and the silences (active and pending, then the latest expired)."""
    alerts = [a for a in engine.alerts() if a.status is AlertStatus.FIRING]
    silences = engine.silences.all()
    inhibitor = engine.inhibitor()
    rules = {r.name: r for r in engine.rules}
    rows = []
    for alert in alerts:
        silenced = tuple(s.id for s in silences if s.mutes(alert.labels, now))
        inhibited = tuple(r.name or "inhibition" for r in inhibitor.inhibited_by(alert.labels))
        rows.append(_firing(engine, alert, silenced, inhibited))
    firing_keys = {(r.alertname, r.model) for r in rows}
    for (rule_name, model), state in engine.current_states().items():
        rule = rules.get(rule_name)
        if state.phase is not Phase.PENDING or rule is None or (rule_name, model) in firing_keys:
            continue
        rows.append(_pending(rule, model, state.severity, state.active_since, state.last_value, registry))
    rows.sort(key=lambda r: r.order)
    counts = {s: sum(r.state == s for r in rows) for s in STATES}
    listed = [
        SilenceRow(s, s.state(now).value, sum(1 for a in alerts if s.mutes(a.labels, now))) for s in silences
    ]
    live = sorted((r for r in listed if r.state != SilenceState.EXPIRED), key=lambda r: r.silence.ends_at)
    gone = sorted((r for r in listed if r.state == SilenceState.EXPIRED), key=lambda r: -r.silence.ends_at)
    return Console(rows, live + gone[:_EXPIRED_SHOWN], max(0, len(gone) - _EXPIRED_SHOWN), len(rules), counts)


def _firing(
    engine: AlertEngine, alert: Alert, silenced: tuple[str, ...], inhibited: tuple[str, ...]
) -> AlertRow:
    labels, notes = dict(alert.labels), alert.annotations
    model = labels.get("model", "")
    episode = engine.history.get(episode_of(alert))
    state = "silenced" if silenced else "inhibited" if inhibited else "firing"
    return AlertRow(
        state=state,
        alertname=labels.get("alertname", ""),
        model=model,
        severity=labels.get("severity", "warning"),
        team=labels.get("team", ""),
        labels=labels,
        since=alert.starts_at,
        summary=notes.get("summary", ""),
        value=notes.get("value", ""),
        threshold=notes.get("threshold", ""),
        runbook=notes.get("runbook", ""),
        owner=notes.get("owner", ""),
        chart=notes.get("dashboard_url") or f"/models/{quote(model, safe='')}",
        fingerprint=alert.fingerprint,
        episode=episode.id if episode is not None else None,
        incident=episode.incident if episode is not None else None,
        acked_by=episode.acked_by if episode is not None else None,
        verdict=episode.verdict if episode is not None else None,
        verdict_by=episode.verdict_by if episode is not None else None,
        silenced_by=silenced,
        inhibited_by=inhibited,
    )


def _pending(
    rule: Rule,
    model: str,
    severity: Severity | None,
    since: float | None,
    value: float | None,
    registry: Registry,
) -> AlertRow:
    spec = registry.get(model)
    team = rule.labels.get("team") or (spec.owner.team if spec is not None else "")
    level = severity.value if severity is not None else "warning"
    labels = {"alertname": rule.name, "model": model, "metric": rule.metric, "kind": rule.kind, "team": team}
    labels["severity"] = level
    start = since if since is not None else 0.0
    hold = rule.timing.hold(severity or Severity.WARNING)
    owner = rule.owner or (spec.owner.contact or spec.owner.team if spec is not None else "")
    level_value = getattr(rule, level, None) if isinstance(rule, ThresholdRule) else None
    return AlertRow(
        state="pending",
        alertname=rule.name,
        model=model,
        severity=level,
        team=team,
        labels=labels,
        since=start,
        summary=rule.summary or f"{rule.name}: {rule.metric} of {model} breaches; waiting for `for`",
        value="none" if value is None else f"{value:.6g}",
        threshold="" if level_value is None else f"{level_value:.6g}",
        runbook=rule.runbook or "",
        owner=owner,
        chart=f"/models/{quote(model, safe='')}",
        fires_at=start + hold,
    )


def filter_rows(rows: Iterable[AlertRow], chosen: Mapping[str, str]) -> list[AlertRow]:
    """The rows whose model, severity, state and team are those chosen (an empty choice: any)."""
    return [r for r in rows if all(not v or r.key(k) == v for k, v in chosen.items())]


def group_rows(rows: Sequence[AlertRow], by: str) -> list[tuple[str, list[AlertRow]]]:
    """The rows in groups of the same ``by`` value (a key of :data:`GROUPS`; ``none``: one group), the
    group with the worst alert first."""
    if by not in GROUPS or by == "none":
        return [("", list(rows))] if rows else []
    groups: dict[str, list[AlertRow]] = {}
    for r in rows:
        groups.setdefault(r.key(by), []).append(r)
    return sorted(groups.items(), key=lambda kv: (kv[1][0].order, kv[0]))


def facets(rows: Iterable[AlertRow]) -> dict[str, list[str]]:
    """The values each filter can take among ``rows``."""
    items = list(rows)
    return {k: sorted({r.key(k) for r in items if r.key(k)}) for k, _ in FILTERS}


def prefill(labels: Mapping[str, str]) -> list[str]:
    """The matchers a silence of an alert starts from: its rule and model (and its segment or version
    when it has one), so the silence mutes this alert at any severity and no other rule's."""
    keys = ("alertname", "model", "model_version", "segment")
    return [f'{k}="{_escape(labels[k])}"' for k in keys if labels.get(k)]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
