"""Vigil: watch ML and AI models in production.

Names load on first use, so ``import vigil`` (and the SDK, ``vigil.Client``) stay cheap in a serving
process: the statistics stack (scipy, pandas) is imported only by what needs it.

>>> import vigil
>>> sorted(vigil.__all__)[:3]
['Client', 'ColumnDrift', 'ConfigError']
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from vigil._version import __version__

_WHERE = {
    "Client": "vigil.sdk",
    "ColumnDrift": "vigil.comparison.report",
    "ConfigError": "vigil.errors",
    "InputError": "vigil.errors",
    "Profile": "vigil.stats.profile",
    "Report": "vigil.comparison.report",
    "VigilConfig": "vigil.config",
    "VigilError": "vigil.errors",
    "compare": "vigil.comparison.compare",
    "load_config": "vigil.config",
    "profile": "vigil.stats.profile",
}

__all__ = [
    "Client",
    "ColumnDrift",
    "ConfigError",
    "InputError",
    "Profile",
    "Report",
    "VigilConfig",
    "VigilError",
    "__version__",
    "compare",
    "load_config",
    "profile",
]

if TYPE_CHECKING:
    from vigil.comparison.compare import compare
    from vigil.comparison.report import ColumnDrift, Report
    from vigil.config import VigilConfig, load_config
    from vigil.errors import ConfigError, InputError, VigilError
    from vigil.sdk import Client
    from vigil.stats.profile import Profile, profile


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'vigil' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
