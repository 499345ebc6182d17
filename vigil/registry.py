"""Which models exist: declared in vigil.yaml (the source of truth) or registered through the API.

On start the config's models are written to the store; models registered through the API are read back
from it. A name declared in the config cannot be re-registered through the API (409): edit the config.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from vigil.config import ModelSpec, VigilConfig
from vigil.errors import VigilError
from vigil.store.base import ModelRecord, Store

__all__ = ["Conflict", "Registry"]


class Conflict(VigilError):
    """A registration that contradicts the config."""


class Registry:
    def __init__(self, config: VigilConfig, store: Store) -> None:
        self._config = config
        self._store = store
        self._lock = threading.Lock()
        self._models: dict[str, ModelSpec] = {}
        self._sources: dict[str, str] = {}
        for record in store.models():
            if record.source == "api" and record.name not in config.models:
                self._models[record.name] = ModelSpec.model_validate_json(record.spec, strict=False)
                self._sources[record.name] = "api"
        for name, spec in config.models.items():
            self._models[name] = spec
            self._sources[name] = "config"
            store.put_model(ModelRecord(name, spec.model_dump_json(by_alias=True), "config", time.time()))

    def get(self, name: str) -> ModelSpec | None:
        return self._models.get(name)

    def names(self) -> list[str]:
        return sorted(self._models)

    def items(self) -> Iterable[tuple[str, ModelSpec]]:
        return sorted(self._models.items())

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

    def register_on_first_sight(self, name: str, task: str) -> ModelSpec:
        """A model seen in traffic but declared nowhere (``security.auto_register: true``)."""
        with self._lock:
            existing = self._models.get(name)
        if existing is not None:
            return existing
        spec = ModelSpec.model_validate({"task": task, "owner": {"team": "unassigned"}})
        return self.register(name, spec, source="auto")
