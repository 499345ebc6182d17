"""What is live for each model, and what a rollback goes to (store records of kind ``deployment``, id =
the model name; every change also goes to the audit log as ``deployment.<kind>`` on
``model/<name>/deployment`` with the state before and after).

Exact semantics:

* **Initial state.** Until something is recorded, ``live`` is the model's declared ``live``, else the last of
  its ``versions`` (None when it declares neither), with no ``previous`` and no history.
* **A change** (:meth:`Deployments.record`: a deploy annotation, a rollback, a fallback) sets ``live`` to
  the new version and ``previous`` to the version live until then, and appends ``(version, from_version,
  at, by, kind, why)`` to the history (the last 50 are kept). Recording the version already live changes
  nothing.
* **The config moves too.** When the declared live version (``live``, else the last of ``versions``) differs
  from the one declared at the last change, the next read records a change of kind ``config`` by
  ``config``: editing ``live:`` is a deploy.
* **Rollback target**: ``previous`` (the version live before the current one), else the version before
  ``live`` in the declared ``versions``; None when there is neither ("no previous version to roll back
  to").
* **What follows it**: :class:`vigil.registry.Registry` reads these records, so the ``/v1/models`` view,
  ``vigil_model_info`` and the version stamped on events sent without one follow the live version on
  every server sharing the store (``on_change`` tells this process's registry at once).
* **Double rollback** works like ``kubectl rollout undo``: a rollback records the version it left as
  ``previous``, so a second rollback returns to it (the undo of the undo) rather than walking further into
  the past. Going further back takes an explicit ``to_version`` or a deploy.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from vigil.registry import DEPLOYMENT_KIND, declared_live
from vigil.spec import ModelSpec
from vigil.store.base import Store

__all__ = ["HISTORY_LIMIT", "KIND", "Change", "Deployment", "Deployments", "record_deploy", "rollback_target"]

KIND = DEPLOYMENT_KIND
HISTORY_LIMIT = 50

RegistryLookup = Callable[[str], ModelSpec | None]


@dataclass(frozen=True)
class Change:
    """One change of the live version."""

    version: str
    from_version: str | None
    at: float
    by: str
    kind: str
    """``deploy``, ``rollback``, ``fallback`` or ``config``."""
    why: str = ""


@dataclass(frozen=True)
class Deployment:
    """The deployment state of one model; ``history`` is oldest first."""

    model: str
    live: str | None
    previous: str | None = None
    declared: str | None = None
    """The live version the config declared when this state was last written."""
    history: tuple[Change, ...] = ()

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Deployment:
        data: dict[str, Any] = json.loads(text)
        data["history"] = tuple(Change(**c) for c in data.get("history", ()))
        return cls(**data)


_declared = declared_live


def rollback_target(state: Deployment, spec: ModelSpec | None) -> str | None:
    """The version a rollback of ``state`` goes to (see the module docstring), or None."""
    if state.previous is not None and state.previous != state.live:
        return state.previous
    if spec is not None and state.live is not None and state.live in spec.versions:
        i = spec.versions.index(state.live)
        return spec.versions[i - 1] if i > 0 else None
    return None


class Deployments:
    """Reads and records deployment states in ``store``; ``registry_lookup`` gives declared models (as
    written, not as running: ``Registry.declared``); ``on_change(model)`` is called after each change."""

    def __init__(
        self,
        store: Store,
        registry_lookup: RegistryLookup,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        self._store = store
        self._lookup = registry_lookup
        self._on_change = on_change

    def get(self, model: str, now: float) -> Deployment:
        """The state of ``model`` at ``now`` (recording a change of kind ``config`` when the config moved)."""
        spec = self._lookup(model)
        declared = _declared(spec)
        stored = self._store.record(KIND, model)
        if stored is None:
            return Deployment(model, declared, declared=declared)
        state = Deployment.from_json(stored.body)
        if declared is not None and declared != state.declared:
            return self._change(state, declared, now, "config", "config", "the declared live version changed")
        return state

    def rollback_target(self, model: str, now: float) -> str | None:
        return rollback_target(self.get(model, now), self._lookup(model))

    def record(
        self, model: str, version: str, at: float, by: str, kind: str = "deploy", why: str = ""
    ) -> Deployment:
        """Make ``version`` live for ``model`` (see the module docstring); returns the new state."""
        return self._change(self.get(model, at), version, at, by, kind, why)

    def _change(self, state: Deployment, version: str, at: float, by: str, kind: str, why: str) -> Deployment:
        declared = _declared(self._lookup(state.model)) or state.declared
        if version == state.live:
            if declared == state.declared:
                return state
            new = replace(state, declared=declared)  # the config caught up with what is live
        else:
            change = Change(version, state.live, at, by, kind, why)
            new = Deployment(
                state.model, version, state.live, declared, (*state.history, change)[-HISTORY_LIMIT:]
            )
        before = self._store.record(KIND, state.model)
        self._store.put_record(KIND, state.model, new.to_json(), at)
        if new.live != state.live:
            self._store.append_audit(
                at,
                by,
                f"deployment.{kind}",
                f"model/{state.model}/deployment",
                before.body if before is not None else state.to_json(),
                new.to_json(),
            )
        if self._on_change is not None:
            self._on_change(state.model)
        return new


def record_deploy(
    store: Store,
    model: str,
    version: str,
    at: float,
    by: str,
    why: str = "",
    registry_lookup: RegistryLookup | None = None,
    on_change: Callable[[str], None] | None = None,
) -> Deployment:
    """Record that ``version`` of ``model`` went live at ``at`` (a deploy annotation); returns the state."""
    return Deployments(store, registry_lookup or (lambda _: None), on_change).record(
        model, version, at, by, "deploy", why
    )
