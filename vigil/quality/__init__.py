"""Data-quality checks: each compares a current column (or table) profile with the reference's."""

from vigil.quality.base import Bounds, Check, QualityRule

__all__ = ["Bounds", "Check", "QualityRule"]
