"""What vigil.yaml declares about inference points, and the pieces every section schema is built from.

Pure pydantic and the standard library: services (ingest, monitoring, alerting, actions) read a model's
declaration from here; the whole file's schema, with every section, is :mod:`vigil.config`.
"""

from vigil.spec.columns import COLUMN_ROLES, COLUMN_TYPES, ColumnDrift, ColumnRole, ColumnSpec, ColumnType
from vigil.spec.drift import (
    CATEGORICAL_METHODS,
    DRIFT_METHODS,
    METHODS_BY_TYPE,
    NUMERIC_METHODS,
    CategoricalMethod,
    Correction,
    DriftMethod,
    DriftSettings,
    NumericMethod,
)
from vigil.spec.fields import (
    FOLDER,
    SECTION,
    Duration,
    Secret,
    Section,
    check,
    config_folder,
    expand_env,
    suggest,
)
from vigil.spec.models import TASKS, Baseline, ModelSpec, Owner, PredictionBaseline, Retention, Spend, Task
from vigil.spec.otlp import OtlpSettings
from vigil.spec.pricing import Price, PricingSettings
from vigil.spec.quality import QualitySettings
from vigil.spec.security import RESERVED_ACTORS, ApiKey, ApiKeys, SecuritySettings

__all__ = [
    "CATEGORICAL_METHODS",
    "COLUMN_ROLES",
    "COLUMN_TYPES",
    "DRIFT_METHODS",
    "FOLDER",
    "METHODS_BY_TYPE",
    "NUMERIC_METHODS",
    "RESERVED_ACTORS",
    "SECTION",
    "TASKS",
    "ApiKey",
    "ApiKeys",
    "Baseline",
    "CategoricalMethod",
    "ColumnDrift",
    "ColumnRole",
    "ColumnSpec",
    "ColumnType",
    "Correction",
    "DriftMethod",
    "DriftSettings",
    "Duration",
    "ModelSpec",
    "NumericMethod",
    "OtlpSettings",
    "Owner",
    "PredictionBaseline",
    "Price",
    "PricingSettings",
    "QualitySettings",
    "Retention",
    "Secret",
    "Section",
    "SecuritySettings",
    "Spend",
    "Task",
    "check",
    "config_folder",
    "expand_env",
    "suggest",
]
