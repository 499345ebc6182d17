"""Names of the event table's columns that ingest writes and monitoring reads.

Features keep their own names; the model's outputs and the segment tags get reserved ones, so that a
feature called ``prediction`` or ``score`` cannot collide with them.
"""

__all__ = ["PREDICTION", "SCORE", "SEGMENT_PREFIX"]

PREDICTION = "@prediction"
"""The prediction (class labels as text, regression values as numbers)."""
SCORE = "@score"
"""The score (the positive-class probability)."""
SEGMENT_PREFIX = "#"
"""Prefix of segment tag columns: tag ``region`` is column ``#region``."""
