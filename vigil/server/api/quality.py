"""``GET /v1/models/{model}/quality``: a model's realised quality over a time range, in full.

Where ``/metrics`` gives one figure per step, this gives the whole picture of one range: the confusion
matrix over the classes as the labels name them, every class's precision, recall and F1 with its support,
the three averages; for a binary model the score's ROC AUC and PR AUC with their bounds, log loss, Brier,
ECE, the reliability diagram, the counts at thresholds from 0.05 to 0.95 (what moving the threshold would
do), and the estimate from the scores with the concept-shift check; for a regression the errors and their
quantiles. All of it is computed from the range's labelled predictions merged into one mergeable state
(``vigil.performance``), the same the live metrics read. Ranges default to the hour before ``to``.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from vigil.errors import InputError
from vigil.monitoring.estimates import against_labels, positive_rows
from vigil.monitoring.predictions import Joined
from vigil.monitoring.segments import parse_segment
from vigil.performance.estimation import Estimator, concept_shift, outside
from vigil.server.api.answers import errors
from vigil.server.api.deps import VigilDep
from vigil.server.api.queries import From, Ranged, To
from vigil.server.wire import iso, time_range
from vigil.spec import ModelSpec

__all__ = ["THRESHOLDS", "router"]

router = APIRouter(tags=["monitoring"])

THRESHOLDS = tuple(round(0.05 * k, 2) for k in range(1, 20))
"""The thresholds of a binary model's threshold table."""


class QualityAnswer(Ranged):
    task: str
    predictions: int
    """Predictions in the range sent with a request id (the first per id)."""
    labelled: int
    label_coverage: float | None
    classification: dict[str, Any] | None = None
    """Classification models: ``classes``, ``confusion_matrix`` (rows: label, columns: prediction),
    ``accuracy``, ``per_class``, ``averages``; binary also ``roc_auc``/``pr_auc`` (``value``, ``bound``),
    ``log_loss``, ``brier``, ``ece``, ``reliability``, ``thresholds``."""
    regression: dict[str, Any] | None = None
    """Regression models: ``rows``, ``mae``, ``rmse``, ``mape``, ``r2``, ``abs_error`` quantiles."""
    estimated: dict[str, Any] | None = None
    """Binary models with a baseline of labelled scores: each metric's estimate over every scored
    prediction (``value``, ``lower``, ``upper``), and over the labelled ones the ``concept_shift`` check
    (the figures ``outside`` their band)."""


@router.get(
    "/v1/models/{model}/quality",
    summary="Realised (and estimated) model quality over a range",
    responses=errors(404, 422),
    response_model_exclude_none=True,
)
async def quality(
    model: str,
    vigil: VigilDep,
    start: From = None,
    end: To = None,
    version: str | None = None,
    segment: Annotated[
        str | None, Query(description="only the predictions of a segment: key=value,...")
    ] = None,
) -> QualityAnswer:
    a, b = time_range(start, end, vigil.clock())
    spec = vigil.spec(model)
    if spec.task == "llm":
        raise InputError(f"{model!r} is an llm model: quality compares predictions with labels")
    rows = await run_in_threadpool(vigil.query.joined, model, a, b, version)
    if segment is not None:
        try:
            rows = rows.in_segment(parse_segment(segment))
        except ValueError as exc:
            raise InputError(str(exc)) from None
    estimator = vigil.query.estimators.get(model) if spec.task == "binary" else None
    body = await run_in_threadpool(_quality, rows, spec, estimator)
    return QualityAnswer.model_validate({"model": model, "from": iso(a), "to": iso(b), **body})


def _quality(rows: Joined, spec: ModelSpec, estimator: Estimator | None) -> dict[str, Any]:
    labelled = rows.labelled_count() if len(rows) else 0
    body: dict[str, Any] = {
        "task": spec.task,
        "predictions": len(rows),
        "labelled": labelled,
        "label_coverage": _n(labelled / len(rows)) if len(rows) else None,
    }
    if spec.task == "regression":
        r = rows.realised_regression()
        body["regression"] = {
            "rows": r.rows,
            **{k: _n(getattr(r, k)()) for k in ("mae", "rmse", "mape", "r2")},
            "abs_error": {f"p{round(q * 100)}": _n(r.abs_error_quantile(q)) for q in (0.5, 0.9, 0.99)},
        }
        return body
    binary = spec.task == "binary"
    c = rows.realised_classification(binary=binary)
    classes, matrix = c.confusion_matrix()
    out: dict[str, Any] = {
        "classes": classes,
        "confusion_matrix": matrix.tolist(),
        "accuracy": _n(c.accuracy()),
        "per_class": {
            name: {
                "precision": _n(k.precision),
                "recall": _n(k.recall),
                "f1": _n(k.f1),
                "support": k.tp + k.fn,
            }
            for name, k in c.per_class().items()
        },
        "averages": {
            avg: {f: _n(getattr(c, f)(avg)) for f in ("precision", "recall", "f1")}
            for avg in ("macro", "micro", "weighted")
        },
    }
    if binary and c.score_classes:
        out |= {
            "roc_auc": {"value": _n(c.roc_auc()), "bound": _n(c.roc_auc_bound())},
            "pr_auc": {"value": _n(c.average_precision()), "bound": _n(c.average_precision_bound())},
            "log_loss": _n(c.log_loss()),
            "brier": _n(c.brier()),
            "ece": _n(c.ece()),
            "reliability": [vars(b) for b in c.reliability()],
            "thresholds": [_at(c, t) for t in THRESHOLDS],
        }
    body["classification"] = out
    if estimator is not None:
        body["estimated"] = _estimated(rows, estimator)
    return body


def _at(c: Any, threshold: float) -> dict[str, Any]:
    k, tied = c.confusion_at(threshold)
    n = k.tp + k.fp + k.fn + k.tn
    return {
        "threshold": threshold,
        "tp": k.tp,
        "fp": k.fp,
        "fn": k.fn,
        "tn": k.tn,
        "precision": _n(k.precision),
        "recall": _n(k.recall),
        "f1": _n(k.f1),
        "positive_rate": _n((k.tp + k.fp) / n) if n else None,
        "in_threshold_bin": tied,
    }


def _estimated(rows: Joined, estimator: Estimator) -> dict[str, Any]:
    scores, predictions, _, _ = positive_rows(rows)
    if not len(scores):
        return {}
    bands = estimator.estimate(scores, predictions)
    out: dict[str, Any] = {"metrics": {m: _band(b) for m, b in bands.items()}}
    checked = against_labels(estimator, rows)
    if checked is not None:
        of_labelled, truth = checked
        out["labelled"] = {
            "estimated": {m: _band(b) for m, b in of_labelled.items()},
            "realised": {m: _n(v) for m, v in truth.items()},
            "outside": outside(of_labelled, truth),
            "concept_shift": concept_shift(of_labelled, truth),
        }
    return out


def _band(b: Any) -> dict[str, float | None]:
    return {"value": _n(b.value), "lower": _n(b.lower), "upper": _n(b.upper)}


def _n(value: float | np.floating[Any]) -> float | None:
    v = float(value)
    return v if math.isfinite(v) else None
