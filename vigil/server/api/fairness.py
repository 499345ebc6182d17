"""``GET /v1/models/{model}/fairness`` and ``/slices``: for whom a model does worse, over a time range.

Both read the predictions made in the range joined with their labels (``Query.joined``). Fairness is per
protected attribute (the model's ``fairness.protected``, or ``attributes=``); the slice search covers every
value of the model's declared ``segments`` (every tag the rows carry when it declares none). Ranges
default to the hour before ``to`` (default: now)."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from vigil.errors import InputError
from vigil.monitoring import fairness as figures
from vigil.monitoring.predictions import Joined
from vigil.performance.fairness import FOUR_FIFTHS, Fairness
from vigil.performance.slices import CORRECTIONS, Correction, Search, Slice
from vigil.server.api.answers import Answer, errors
from vigil.server.api.deps import VigilDep
from vigil.server.api.queries import From, Ranged, To
from vigil.server.wire import iso, time_range

__all__ = ["router"]

router = APIRouter(tags=["monitoring"])
_ERRORS = errors(404, 422)


class GroupView(Answer):
    group: str
    n: int
    tp: int
    fp: int
    fn: int
    tn: int
    selection_rate: float | None
    true_positive_rate: float | None
    false_positive_rate: float | None
    accuracy: float | None


class AttributeView(Answer):
    groups: list[GroupView]
    left_out: dict[str, int]
    """Groups with fewer labelled predictions than ``min_group``: name -> rows."""
    demographic_parity_difference: float | None
    equal_opportunity_difference: float | None
    equalized_odds_difference: float | None
    disparate_impact: float | None
    four_fifths_flag: bool | None
    """True when disparate impact is under 0.8; null when it is undefined."""


class FairnessAnswer(Ranged):
    labelled: int
    """Labelled predictions with a prediction in the range."""
    min_group: int
    four_fifths: float
    attributes: dict[str, AttributeView]


class SliceView(Answer):
    slice: str
    n: int
    metric: float | None
    rest: float | None
    effect: float | None
    p_value: float
    p_adjusted: float
    test: str


class SlicesAnswer(Ranged):
    metric: str
    correction: str
    alpha: float
    min_size: int
    rows: int
    """Rows compared (labelled; for regression, with a numeric label and prediction)."""
    worse: list[SliceView]
    """Slices whose metric is significantly worse than the rest's, the worst first."""
    tested: list[SliceView]
    too_small: dict[str, int]


@router.get(
    "/v1/models/{model}/fairness",
    summary="Fairness across protected attributes",
    responses=_ERRORS,
    response_model_exclude_unset=True,
)
async def fairness(
    model: str,
    vigil: VigilDep,
    start: From = None,
    end: To = None,
    version: str | None = None,
    attributes: Annotated[
        str | None, Query(description="comma-separated segment tags; default: the model's fairness.protected")
    ] = None,
    min_group: Annotated[
        int | None, Query(ge=1, description="default: the model's fairness.min_group")
    ] = None,
) -> FairnessAnswer:
    a, b = time_range(start, end, vigil.clock())
    spec = vigil.spec(model)
    if spec.task != "binary":
        raise InputError(f"fairness applies to binary models; {model!r} is {spec.task}")
    chosen = [n.strip() for n in attributes.split(",") if n.strip()] if attributes else []
    if not chosen and spec.fairness is not None:
        chosen = list(spec.fairness.protected)
    if not chosen:
        raise InputError(
            f"model {model!r} declares no protected attributes: add fairness: {{protected: [TAG, ...]}} to "
            "its declaration (each one of its segments), or pass attributes=TAG"
        )
    least = min_group or (spec.fairness.min_group if spec.fairness is not None else 30)
    rows = await run_in_threadpool(vigil.query.joined, model, a, b, version)
    found = {name: figures.fairness_of(rows, name, least) for name in chosen}
    labelled = int((rows.labelled & rows.predicted).sum())
    return FairnessAnswer.model_validate(
        {
            "model": model,
            "from": iso(a),
            "to": iso(b),
            "labelled": labelled,
            "min_group": least,
            "four_fifths": FOUR_FIFTHS,
            "attributes": {name: _attribute(f) for name, f in found.items()},
        }
    )


@router.get(
    "/v1/models/{model}/slices",
    summary="The worst slices over the declared segments",
    responses=_ERRORS,
    response_model_exclude_unset=True,
)
async def worst_slices(
    model: str,
    vigil: VigilDep,
    start: From = None,
    end: To = None,
    version: str | None = None,
    metric: Annotated[
        Literal["accuracy", "error"] | None,
        Query(description="accuracy or error (classification), error (regression: absolute error)"),
    ] = None,
    min_size: Annotated[int, Query(ge=2, description="fewest rows in a slice and in its rest")] = 50,
    alpha: Annotated[float, Query(gt=0, lt=1)] = 0.05,
    correction: Annotated[
        Correction, Query(description=f"multiple-testing correction: {' or '.join(CORRECTIONS)}")
    ] = "benjamini-hochberg",
) -> SlicesAnswer:
    a, b = time_range(start, end, vigil.clock())
    spec = vigil.spec(model)
    if spec.task == "llm":
        raise InputError(f"{model!r} is an llm model: slices compare accuracy or error against labels")
    chosen = metric or ("error" if spec.task == "regression" else "accuracy")
    rows = await run_in_threadpool(vigil.query.joined, model, a, b, version)
    attributes = list(spec.segments) or figures.tag_names(rows)
    try:
        search = await run_in_threadpool(
            figures.worst_slices, rows, spec.task, attributes, chosen, min_size, alpha, correction
        )
    except ValueError as exc:
        raise InputError(str(exc)) from None
    return SlicesAnswer.model_validate(
        {"model": model, "from": iso(a), "to": iso(b), **_search(search, _compared(rows, spec.task))}
    )


def _number(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _attribute(f: Fairness) -> dict[str, object]:
    return {
        "groups": [
            {
                "group": g.name,
                "n": g.n,
                "tp": g.tp,
                "fp": g.fp,
                "fn": g.fn,
                "tn": g.tn,
                "selection_rate": _number(g.selection_rate),
                "true_positive_rate": _number(g.true_positive_rate),
                "false_positive_rate": _number(g.false_positive_rate),
                "accuracy": _number(g.accuracy),
            }
            for g in f.groups
        ],
        "left_out": f.left_out,
        "demographic_parity_difference": _number(f.demographic_parity_difference),
        "equal_opportunity_difference": _number(f.equal_opportunity_difference),
        "equalized_odds_difference": _number(f.equalized_odds_difference),
        "disparate_impact": _number(f.disparate_impact),
        "four_fifths_flag": f.four_fifths_flag,
    }


def _slice(s: Slice) -> dict[str, object]:
    return {
        "slice": s.name,
        "n": s.n,
        "metric": _number(s.metric),
        "rest": _number(s.rest),
        "effect": _number(s.effect),
        "p_value": s.p_value,
        "p_adjusted": s.p_adjusted,
        "test": s.test,
    }


def _search(search: Search, rows: int) -> dict[str, object]:
    return {
        "metric": search.metric,
        "correction": search.correction,
        "alpha": search.alpha,
        "min_size": search.min_size,
        "rows": rows,
        "worse": [_slice(s) for s in search.worse],
        "tested": [_slice(s) for s in search.tested],
        "too_small": search.too_small,
    }


def _compared(rows: Joined, task: str) -> int:
    if task == "regression":
        return int((rows.labelled & rows.label_is_number & rows.prediction_is_number).sum())
    return int(rows.labelled.sum())
