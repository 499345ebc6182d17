"""User feedback and evaluator scores in the live catalogue (``POST /v1/feedback``; for spans sent over
OTLP, by trace id): each step reads the feedback given in it, the latest per request id and kind.

``feedback`` counts the thumbs and ratings of the step; ``positive_feedback_rate`` is the share of thumbs
up among its thumbs; ``rating_mean`` the mean rating (on the application's own scale);
``eval_score:<evaluator>`` the mean score of one evaluator (``faithfulness``, ``relevance``...). A step
without any has no value for the rates and means (0 for the count), so a quiet hour does not read as a
drop.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from vigil.monitoring.metric import Metric, Step

__all__ = ["FEEDBACK", "PER_EVALUATOR"]


def _mean(values: Sequence[float] | None) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _count(step: Step, feature: str | None) -> float:
    return float(len(step.feedback.get("thumb", ())) + len(step.feedback.get("rating", ())))


FEEDBACK: tuple[Metric, ...] = (
    Metric("feedback", "thumbs and ratings given in the step", "events", "feedback", _count),
    Metric(
        "positive_feedback_rate",
        "share of thumbs up among the thumbs given in the step",
        "ratio",
        "feedback",
        lambda step, feature: _mean(step.feedback.get("thumb")),
    ),
    Metric(
        "rating_mean",
        "mean rating given in the step (the application's own scale)",
        "rating",
        "feedback",
        lambda step, feature: _mean(step.feedback.get("rating")),
    ),
)
"""The feedback metrics, in catalogue order."""

PER_EVALUATOR: dict[str, Metric] = {
    "eval_score": Metric(
        "eval_score",
        "mean score one evaluator gave the step's predictions (its scores sent as feedback)",
        "score",
        "feedback",
        lambda step, evaluator: _mean(step.feedback.get(f"eval:{evaluator}")),
    )
}
"""Metrics of one evaluator, read as ``eval_score:<evaluator>``."""
