"""Comparing a current table with a reference, as ``vigil report`` and ``vigil check`` do.

* ``compare``: :func:`compare` profiles both sides (DataFrames, Arrow tables or files), tests every column
  for drift and runs the data-quality checks; :func:`compare_profiles` does the same from two profiles (the
  live windows against a model's baseline);
* ``verdicts``: each column's threshold, test and verdict, and what the report draws of it;
* ``report``: the typed result, :class:`Report`, with its JSON form (rendered by :mod:`vigil.reports`).
"""

from vigil.comparison.compare import compare, compare_profiles
from vigil.comparison.report import ColumnDrift, Report

__all__ = ["ColumnDrift", "Report", "compare", "compare_profiles"]
