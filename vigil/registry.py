"""Which models exist: declared in vigil.yaml (the source of truth) or registered through the API; and
which version of each is live now.

On start the config's models are written to the store; models registered through the API are read back
from it. A name declared in the config cannot be re-registered through the API (409): edit the config.

**The live version.** A model's ``live:`` in the config (else the last of its ``versions``) is where it
starts. A rollback, a fallback or a deploy annotation (``vigil.actions.deployments``) records the new live
version in the store, and from then on :meth:`Registry.get` gives the model with ``live`` set to it: the
``/v1/models`` view, ``vigil_model_info`` and the version stamped on events sent without one follow it,
across restarts and on every server sharing the store (each reads the store's records again at most
``refresh`` seconds after the last read; the server that made the change at once). Editing ``live:`` in
the config is a deploy too: a declared live version that differs from the one declared when the store's
record was written wins. :meth:`Registry.declared` gives the declaration as written.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from vigil.config import VigilConfig
from vigil.errors import VigilError
from vigil.spec import ModelSpec
from vigil.store.base import ModelRecord, Store

__all__ = ["DEPLOYMENT_KIND", "Conflict", "Registry", "declared_live"]

log = logging.getLogger("vigil.registry")

DEPLOYMENT_KIND = "deployment"
"""Store records of the live version of each model (id: the model's name; see vigil.actions.deployments)."""


class Conflict(VigilError):
    """A registration that contradicts the config."""


def declared_live(spec: ModelSpec | None) -> str | None:
    """The live version a declaration names: ``live``, else the last of ``versions``, else None."""
    if spec is None:
        return None
    return spec.live or (spec.versions[-1] if spec.versions else None)


class Registry:
    def __init__(self, config: VigilConfig, store: Store, *, refresh: float = 2.0) -> None:
        self._config = config
        self._store = store
        self._lock = threading.Lock()
        self._models: dict[str, ModelSpec] = {}
        self._sources: dict[str, str] = {}
        self._refresh = refresh
        self._recorded: dict[str, tuple[str | None, str | None, str | None]] = {}
        """(live, declared then, previous) of each model with a deployment record."""
        self._read_at = -math.inf
        self._running: dict[str, ModelSpec] = {}
        for record in store.models():
            if record.source == "api" and record.name not in config.models:
                self._models[record.name] = ModelSpec.model_validate_json(record.spec, strict=False)
                self._sources[record.name] = "api"
        for name, spec in config.models.items():
            self._models[name] = spec
            self._sources[name] = "config"
            store.put_model(ModelRecord(name, spec.model_dump_json(by_alias=True), "config", time.time()))

    def get(self, name: str) -> ModelSpec | None:
        """The model as it runs now: its declaration with ``live`` set to the live version."""
        spec = self._models.get(name)
        if spec is None:
            return None
        live = self.live(name)
        if live is None or live == spec.live_version:
            return spec
        with self._lock:
            running = self._running.get(name)
            if running is None or running.live != live or running.versions != spec.versions:
                running = spec.model_copy(update={"live": live})
                self._running[name] = running  # the same object while nothing changes (callers cache on it)
            return running

    def declared(self, name: str) -> ModelSpec | None:
        """The model as declared (in the config or through the API), ``live`` as written there."""
        return self._models.get(name)

    def live(self, name: str) -> str | None:
        """The version of ``name`` live now (see the module docstring); None for an unknown model."""
        spec = self._models.get(name)
        if spec is None:
            return None
        recorded = self._current(name, spec)
        return recorded[0] if recorded is not None and recorded[0] else spec.live_version

    def previous(self, name: str) -> str | None:
        """The version a rollback of ``name`` goes to now: the version live before the current one, else
        the one before it in the declared ``versions``; None when there is neither."""
        spec = self.get(name)
        if spec is None:
            return None
        recorded = self._current(name, spec)
        if recorded is not None and recorded[2] is not None and recorded[2] != recorded[0]:
            return recorded[2]
        return spec.previous_version

    def _current(self, name: str, spec: ModelSpec) -> tuple[str | None, str | None, str | None] | None:
        """The store's record for ``name``, or None while the declaration holds."""
        if time.monotonic() - self._read_at >= self._refresh:
            self.refresh()
        recorded = self._recorded.get(name)
        declared = declared_live(self._models.get(name, spec))
        if recorded is None or (declared is not None and declared != recorded[1]):
            return None  # nothing recorded, or the config moved since (a deploy of its own)
        return recorded

    def refresh(self) -> None:
        """Read the live versions from the store now (after a change made in this process)."""
        found: dict[str, tuple[str | None, str | None, str | None]] = {}
        try:
            records = self._store.records(DEPLOYMENT_KIND)
        except Exception:  # the store is down: keep what was read last, try again after `refresh`
            log.warning("could not read the live versions from the store; keeping the last ones read")
            self._read_at = time.monotonic()
            return
        for record in records:
            try:
                body = json.loads(record.body)
                found[record.id] = (body.get("live"), body.get("declared"), body.get("previous"))
            except (ValueError, AttributeError):
                continue  # a damaged record: the declaration holds
        with self._lock:
            self._recorded = found
            self._read_at = time.monotonic()

    def names(self) -> list[str]:
        return sorted(self._models)

    def unknown(self, name: str) -> str:
        """What to tell someone who named a model that is not registered: how to add one."""
        how = (
            "declare it under models: in vigil.yaml, set security.auto_register: true to register models "
            "on first sight, or register it with POST /v1/models"
        )
        return f"unknown model {name!r}; {how}"

    def items(self) -> Iterable[tuple[str, ModelSpec]]:
        out = []
        for name in sorted(self._models):
            spec = self.get(name)
            if spec is not None:
                out.append((name, spec))
        return out

    def source(self, name: str) -> str:
        return self._sources.get(name, "unknown")

    @property
    def auto_register(self) -> bool:
        return self._config.security.auto_register

    def register(self, name: str, spec: ModelSpec, source: str = "api") -> ModelSpec:
        """Add or replace an API-registered model."""
        with self._lock:
            if self._sources.get(name) == "config":
                raise Conflict(f"model {name!r} is declared in the config, which wins; change it there")
            self._models[name] = spec
            self._sources[name] = source
            self._store.put_model(ModelRecord(name, spec.model_dump_json(by_alias=True), source, time.time()))
            return spec

    def register_on_first_sight(
        self, name: str, task: str, features: Mapping[str, Mapping[str, Any]] | None = None
    ) -> ModelSpec:
        """A model seen in traffic but declared nowhere (``security.auto_register: true``); ``features``
        declares what the sender knows of some (as ``features:`` in vigil.yaml)."""
        with self._lock:
            existing = self._models.get(name)
        if existing is not None:
            return self.get(name) or existing
        declared: dict[str, Any] = {"task": task, "owner": {"team": "unassigned"}}
        if features:
            declared["features"] = dict(features)
        spec = ModelSpec.model_validate(declared)
        return self.register(name, spec, source="auto")
