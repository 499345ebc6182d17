"""Vigil: watch ML and AI models in production.

>>> import vigil
>>> sorted(vigil.__all__)[:3]
['ColumnDrift', 'ConfigError', 'InputError']
"""

from vigil.compare import compare
from vigil.config import VigilConfig, load_config
from vigil.errors import ConfigError, InputError, VigilError
from vigil.reports.model import ColumnDrift, Report
from vigil.stats.profile import Profile, profile

__version__ = "0.1.0"

__all__ = [
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
