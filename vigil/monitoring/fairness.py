"""Fairness and worst slices of a model's joined predictions, grouped by their segment tags.

The arithmetic is ``vigil.performance.fairness`` and ``vigil.performance.slices``; this module turns the
prediction–label join (``predictions.Joined``) into their inputs. A row's group for an attribute is the
text of its segment tag of that name (as selectors compare it: ``True`` is ``"1"``); rows without the tag
belong to no group. Fairness reads the labelled rows with a prediction of a binary model, the class "1"
being both the positive label and the selection; the slice search reads the labelled rows (a missing
prediction counts as wrong) or, for regression, the rows whose label and prediction are both numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
import orjson

from vigil.monitoring.predictions import Joined
from vigil.monitoring.segments import tag_text
from vigil.performance import slices
from vigil.performance.fairness import Fairness, fairness, group_counts

__all__ = ["FIGURES", "candidates", "fairness_of", "figure", "tag_groups", "tag_names", "worst_slices"]

FIGURES: dict[str, Callable[[Fairness], float]] = {
    "demographic_parity_difference": lambda f: f.demographic_parity_difference,
    "equal_opportunity_difference": lambda f: f.equal_opportunity_difference,
    "equalized_odds_difference": lambda f: f.equalized_odds_difference,
    "disparate_impact": lambda f: f.disparate_impact,
}
"""The fairness figures the catalogue reads as ``name:<attribute>``, each read of a ``Fairness``."""


def tag_groups(rows: Joined, attribute: str) -> tuple[list[str], npt.NDArray[np.int64]]:
    """The values of tag ``attribute`` among ``rows`` (sorted as text) and each row's index into them (-1:
    the row has no such tag). Each distinct tag text is parsed once."""
    values: list[str | None] = []
    for text in rows.segments:
        tags = orjson.loads(text) if text else {}
        value = tags.get(attribute) if isinstance(tags, dict) else None
        values.append(None if value is None else tag_text(value))
    names = sorted({v for v in values if v is not None})
    index = {name: i for i, name in enumerate(names)}
    lookup = np.array([index.get(v, -1) if v is not None else -1 for v in values] + [-1], dtype=np.int64)
    return names, lookup[rows.segment]  # a row without tags has segment -1: the last entry


def tag_names(rows: Joined) -> list[str]:
    """Every tag name the rows carry, sorted."""
    found: set[str] = set()
    for text in rows.segments:
        tags = orjson.loads(text) if text else {}
        if isinstance(tags, dict):
            found.update(str(k) for k, v in tags.items() if v is not None)
    return sorted(found)


def fairness_of(rows: Joined, attribute: str, min_group: int = 30) -> Fairness:
    """The fairness figures of a binary model's labelled, predicted ``rows`` across the groups of tag
    ``attribute``."""
    done = rows.take(rows.labelled & rows.predicted)
    names, at = tag_groups(done, attribute)
    has = at >= 0
    groups = np.array(names, dtype=str)[at[has]] if names else np.zeros(0, dtype=str)
    found, counts = group_counts(
        groups, done.label[has] == done.positive, done.prediction[has] == done.positive
    )
    return fairness(found, counts, min_group)


def figure(rows: Joined, name: str, attribute: str, min_group: int = 30) -> float:
    """One of ``FIGURES`` for ``rows`` across the groups of ``attribute`` (NaN where undefined)."""
    return FIGURES[name](fairness_of(rows, attribute, min_group))


def candidates(rows: Joined, attributes: Sequence[str]) -> list[slices.Candidate]:
    """Every value of every tag in ``attributes`` as a slice named ``tag=value``."""
    out: list[slices.Candidate] = []
    for attribute in attributes:
        names, at = tag_groups(rows, attribute)
        out.extend((f"{attribute}={value}", at == k) for k, value in enumerate(names))
    return out


def worst_slices(
    rows: Joined,
    task: str,
    attributes: Sequence[str],
    metric: str,
    min_size: int = 50,
    alpha: float = 0.05,
    correction: slices.Correction = "benjamini-hochberg",
) -> slices.Search:
    """The slices (each value of each tag of ``attributes``) whose ``metric`` is significantly worse than
    the rest's: ``accuracy`` or ``error`` (the error rate) for classification, ``error`` (absolute error)
    for regression. Raises ValueError for a metric the task has not."""
    if task == "regression":
        if metric != "error":
            raise ValueError(f"a regression model's slices compare error (absolute error), not {metric!r}")
        done = rows.take(rows.label_is_number & rows.prediction_is_number & rows.labelled)
        errors = done.prediction_value - done.label_value
        return slices.regression(
            errors, candidates(done, attributes), min_size=min_size, alpha=alpha, correction=correction
        )
    if metric not in ("accuracy", "error"):
        raise ValueError(f"a classifier's slices compare accuracy or error, not {metric!r}")
    done = rows.take(rows.labelled)
    correct = done.predicted & (done.prediction == done.label)
    return slices.classification(
        correct,
        candidates(done, attributes),
        min_size=min_size,
        alpha=alpha,
        correction=correction,
        metric="accuracy" if metric == "accuracy" else "error_rate",
    )
