"""One run of a remediation action, as kept in the store (records of kind ``action_run``, id = run id).

States and the only transitions there are::

    (request) ──> refused                                   a guard said no; nothing was executed
    (request) ──> running ──> succeeded | failed            no approval needed
    (request) ──> awaiting_approval ──(approve)──> running ──> succeeded | failed
                                    ──(approve, but the live version moved meanwhile)──> refused
                                    ──(reject, or not approved within approval_timeout)──> rejected
    running ──(no result within 4 × timeout + 60 s: the process died)──> failed

``refused``, ``rejected``, ``succeeded`` and ``failed`` are final. Times are seconds since the epoch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any

from vigil.alerting.alert import Alert

__all__ = ["KIND", "ExecutorResponse", "Run", "RunState", "Signal"]

KIND = "action_run"


class RunState(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"
    REFUSED = "refused"

    @property
    def final(self) -> bool:
        return self in (RunState.SUCCEEDED, RunState.FAILED, RunState.REJECTED, RunState.REFUSED)


@dataclass(frozen=True)
class Signal:
    """A firing alert that counted towards an automatic trigger."""

    alertname: str
    severity: str
    starts_at: float
    fingerprint: str
    metric: str = ""

    @classmethod
    def of(cls, alert: Alert) -> Signal:
        labels = alert.labels
        return cls(
            alertname=labels.get("alertname", ""),
            severity=labels.get("severity", ""),
            starts_at=alert.starts_at,
            fingerprint=alert.fingerprint,
            metric=labels.get("metric", ""),
        )


@dataclass(frozen=True)
class ExecutorResponse:
    """What the executor saw. HTTP: ``status_code`` and the first 2 KB of ``body``; command: ``exit_code``
    and the last 2 KB of ``stderr``; MLflow: the alias ``before`` and ``after`` the move."""

    executor: str
    attempts: int = 1
    status_code: int | None = None
    body: str | None = None
    exit_code: int | None = None
    stderr: str | None = None
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Run:
    """One run of one action on one model; see the module docstring for its states."""

    id: str
    action: str
    kind: str
    model: str
    state: RunState
    requested_by: str
    requested_at: float
    reason: str
    """Why it was asked for: the requester's words, or the signals that triggered it."""
    from_version: str | None = None
    to_version: str | None = None
    fallback: str | None = None
    trigger: str = "manual"
    """``automatic`` (started by :meth:`Remediator.on_alerts`) or ``manual``."""
    forced: bool = False
    """Requested with ``force=True``: the cooldown did not apply."""
    signals: tuple[Signal, ...] = ()
    approval_required: bool = False
    approved_by: str | None = None
    approved_at: float | None = None
    rejected_by: str | None = None
    rejected_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    result: str | None = None
    """What was done, when it succeeded."""
    error: str | None = None
    """Why it was refused, rejected or failed."""
    response: ExecutorResponse | None = None
    updated_at: float = 0.0

    @property
    def target(self) -> str:
        """This run's audit-log target, under its model's (``audit_log(target="model/credit/")``)."""
        return f"model/{self.model}/run/{self.id}"

    def evolve(self, **changes: Any) -> Run:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["state"] = self.state.value
        return body

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Run:
        data: dict[str, Any] = json.loads(text)
        data["state"] = RunState(data["state"])
        data["signals"] = tuple(Signal(**s) for s in data.get("signals", ()))
        if data.get("response") is not None:
            data["response"] = ExecutorResponse(**data["response"])
        return cls(**data)
