"""The rules every model gets unless ``alerting.default_rules`` is false (see :data:`DEFAULT_RULES_DOC`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vigil.alerting.rules.base import RuleBase
from vigil.alerting.rules.section import DeclaredRule, validate_rule
from vigil.spec import ModelSpec

__all__ = ["DEFAULT_RULES_DOC", "DEFAULT_RUNBOOKS", "default_rules", "defaults_besides"]


DEFAULT_RULES_DOC = """\
Rules every model gets (``default_rules``), labelled with the model owner's team. Each judges the latest
complete model windows over its range at every evaluation (``sliding: true``): drift seen at 18:42 fires
once the 18:42 window closes, not at 19:00.

* ``ErrorRateHigh``: error_rate over 5m > 5% warning, > 10% critical, for 5m.
* ``LatencyP95Spike``: latency_p95 over 5m > 3× its trailing 7-day median, for 10m (warning).
* ``DriftShareHigh``: drift_share over 1h > 0.3 warning, > 0.5 critical (quiet without a baseline).
* ``NullRateHigh``: null_rate over 15m > 1% warning, > 5% critical (the quality defaults), for 15m.
* ``NoData``: no events in 5m windows for 15m (warning; its inhibition mutes the model's other alerts).
* ``AccuracyDrop`` (binary, multiclass): accuracy over 1h 10% below its 7-day median; quiet until labels
  have arrived for at least 5 hourly windows.
* ``RocAucDrop`` (binary): roc_auc over 1h 5% below its 7-day median, likewise.
* ``CalibrationOff`` (binary): ece over 1h > 0.1 warning, > 0.2 critical.
* ``ConceptShift`` (binary): concept_shift over 1h > 0.5, i.e. 1 (warning): a realised figure fell outside
  the band estimated from the scores (quiet without a baseline of labelled scores).
* ``MaeRise`` (regression): mae over 1h 20% above its 7-day median, likewise once labels exist.
* ``CostPerPredictionSpike`` (llm): cost_per_prediction over 1h 50% above its 7-day mean; the alert names
  the costliest user and feature of the hour (``top_user``, ``top_feature``).
* ``TopSpenderShareJump`` (llm): top_spender_share (the costliest user's share of the cost) over 15m 3×
  its 7-day mean: one user suddenly spends most (abuse, a runaway loop); the alert names the user.
* ``NegativeFeedbackSurge`` (llm): positive_feedback_rate over 1h 20% below its 7-day median (quiet
  until feedback has been given in at least 5 hourly windows).

Rules on label metrics judge only hours with at least ``min_labels`` (100) labelled predictions.
"""


DEFAULT_RUNBOOKS: dict[str, str] = {
    "ErrorRateHigh": (
        "The model's requests fail. Look at the errors in the event sample "
        "(`GET /v1/models/{model}/events`); check the serving service's logs and its dependencies. If a "
        "deploy started it, roll back (`vigil actions run rollback-{model}` when one is configured)."
    ),
    "LatencyP95Spike": (
        "p95 latency is over 3x its usual level. Check the hosts' CPU, memory and GPU "
        "(`host_cpu_percent` and the others), the request volume (`throughput`) and any dependency the "
        "model calls; a recent deploy or larger inputs are the usual causes."
    ),
    "DriftShareHigh": (
        "A large share of the features no longer look like the baseline. Open the drift report "
        "(`GET /v1/models/{model}/drift`) to see which ones moved and how; an upstream change (a pipeline, "
        "a unit, a new source of traffic) is more likely than a changed world. Decide whether to fix the "
        "input, retrain, or move the baseline."
    ),
    "NullRateHigh": (
        "Features arrive empty more often than before. Find the columns with `null_rate:<feature>` and "
        "check the producer of those fields (a renamed field, a failed join, a broken upstream job)."
    ),
    "NoData": (
        "The model sent no events for 15 minutes. Is the service up and taking traffic? Is its SDK "
        "pointed at this server with a valid key? A deploy that broke logging shows here first."
    ),
    "AccuracyDrop": (
        "Accuracy on labelled predictions fell 10% below its weekly median. Check label coverage and lag "
        "first (late or partial labels bias it), then drift of the features and the prediction; retrain or "
        "roll back if the fall is real."
    ),
    "RocAucDrop": (
        "The score ranks positives above negatives less well than last week (ROC AUC 5% below its weekly "
        "median): the model lost signal, not just its threshold. Check label coverage, then the drift report "
        "(`GET /v1/models/{model}/drift`) for the features that moved; retrain or roll back if it is real."
    ),
    "CalibrationOff": (
        "The score no longer means what it says: among predictions scored p, the share that are positive is "
        "far from p (expected calibration error over 0.1). See the reliability diagram on the model's "
        "dashboard page; decisions that read the score as a probability need recalibration (e.g. isotonic "
        "on recent labels) or a retrain."
    ),
    "ConceptShift": (
        "Labelled outcomes no longer follow the scores the way they did on the baseline: a realised figure "
        "(accuracy, precision, recall, F1 or ROC AUC) lies outside the band estimated from the same "
        "predictions' scores. The inputs may look unchanged (no drift), yet what they mean for the outcome "
        "moved (a new fraud pattern, a changed policy, a label pipeline that changed meaning). Check the "
        "labels' source first, then compare `accuracy` with `estimated_accuracy` over time; retrain on "
        "recent labels if it is real."
    ),
    "MaeRise": (
        "The mean absolute error rose 20% above its weekly median. Check label coverage and lag, then the "
        "drift report; retrain or roll back if the rise is real."
    ),
    "NegativeFeedbackSurge": (
        "Users give thumbs down far more often than this week (the share of thumbs up is 20% below its "
        "weekly median). Read the comments of the hour's feedback, check a recent deploy or a prompt or "
        "model change (the `llm_model` segment), and the evaluator scores (`eval_score:<evaluator>`); roll "
        "back if a change explains it."
    ),
    "CostPerPredictionSpike": (
        "Each prediction costs 50% more than last week's mean. Compare tokens in and out per prediction "
        "(prompt growth, longer answers, retries) and check for a model or price change in the last deploy. "
        "The alert names the source: the costliest user and feature of the hour (`top_user`, `top_feature`; "
        "all of them: `GET /v1/models/{model}/spenders?by=user&range=1h`)."
    ),
    "TopSpenderShareJump": (
        "One user spends a far larger share of the cost than usual (the alert names them). See who and how "
        "much (`GET /v1/models/{model}/spenders?by=user&range=15m`, and `by=feature`): a script or a runaway "
        "agent loop on one account, or abuse. Rate-limit or block the user if it is not legitimate use."
    ),
}
"""A short inline runbook for each default rule (``{model}`` is the model's name)."""


def default_rules(model_name: str, spec: ModelSpec) -> list[DeclaredRule]:
    """Sensible rules for a new model, so it is monitored from day one; see ``DEFAULT_RULES_DOC``. Each
    carries its inline runbook from ``DEFAULT_RUNBOOKS``."""
    base: dict[str, Any] = {"model": model_name, "labels": {"team": spec.owner.team}, "sliding": True}
    if spec.owner.contact:
        base["owner"] = spec.owner.contact
    specs: list[dict[str, Any]] = [
        {"name": "ErrorRateHigh", "metric": "error_rate", "warning": 0.05, "critical": 0.10, "for": "5m"},
        {
            "name": "LatencyP95Spike",
            "metric": "latency_p95",
            "kind": "relative",
            "factor": 3,
            "baseline": "median",
            "for": "10m",
        },
        {"name": "DriftShareHigh", "metric": "drift_share", "warning": 0.3, "critical": 0.5, "window": "1h"},
        {"name": "NullRateHigh", "metric": "null_rate", "warning": 0.01, "critical": 0.05, "window": "15m"}
        | {"for": "15m"},
        {"name": "NoData", "kind": "no_data", "window": "5m", "for": "15m"},
    ]
    relative_1h: dict[str, Any] = {"kind": "relative", "window": "1h", "baseline_window": "7d"}
    if spec.task in ("binary", "multiclass"):
        specs.append({"name": "AccuracyDrop", "metric": "accuracy", "op": "<", "percent": 10, **relative_1h})
    if spec.task == "binary":
        specs.append({"name": "RocAucDrop", "metric": "roc_auc", "op": "<", "percent": 5, **relative_1h})
        specs.append(
            {"name": "CalibrationOff", "metric": "ece", "warning": 0.1, "critical": 0.2, "window": "1h"}
        )
        specs.append({"name": "ConceptShift", "metric": "concept_shift", "warning": 0.5, "window": "1h"})
    elif spec.task == "regression":
        specs.append({"name": "MaeRise", "metric": "mae", "percent": 20, **relative_1h})
    elif spec.task == "llm":
        specs.append(
            {"name": "CostPerPredictionSpike", "metric": "cost_per_prediction", "percent": 50}
            | relative_1h
            | {"baseline": "mean"}
        )
        specs.append(
            {"name": "TopSpenderShareJump", "metric": "top_spender_share", "factor": 3}
            | relative_1h
            | {"window": "15m", "baseline": "mean"}
        )
        specs.append(
            {"name": "NegativeFeedbackSurge", "metric": "positive_feedback_rate", "op": "<", "percent": 20}
            | relative_1h
        )
    return [
        validate_rule({**base, "runbook": DEFAULT_RUNBOOKS[s["name"]].format(model=model_name), **s})
        for s in specs
    ]


def defaults_besides(
    models: Iterable[tuple[str, ModelSpec]], configured: Iterable[RuleBase]
) -> list[DeclaredRule]:
    """The default rules of each ``(name, spec)`` in ``models``, bar those ``configured`` names for that model
    (a rule of the same name on the same model replaces the default)."""
    named = {(r.name, r.model) for r in configured}
    return [r for name, spec in models for r in default_rules(name, spec) if (r.name, r.model) not in named]
