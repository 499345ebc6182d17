"""Comparing a current table with a reference, as ``vigil report`` and ``vigil check`` do.

* ``compare``: :func:`compare` profiles both sides (DataFrames, Arrow tables or files), tests every column
  for drift and runs the data-quality checks; :func:`compare_profiles` does the same from two profiles (the
  live windows against a model's baseline);
* ``verdicts``: each column's threshold, test and verdict, and what the report draws of it;
* ``report``: the typed result, :class:`Report`, with its JSON form (rendered by :mod:`vigil.reports`);
* ``estimate``: performance estimated per chunk of a file of scored rows (``vigil estimate``).

The names below load on first use, so that ``vigil estimate`` does not pay for the drift stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vigil.comparison.compare import compare, compare_profiles
    from vigil.comparison.report import ColumnDrift, Report

__all__ = ["ColumnDrift", "Report", "compare", "compare_profiles"]

_WHERE = {"ColumnDrift": "report", "Report": "report", "compare": "compare", "compare_profiles": "compare"}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'vigil.comparison' has no attribute {name!r}")
    return getattr(importlib.import_module(f"vigil.comparison.{_WHERE[name]}"), name)
