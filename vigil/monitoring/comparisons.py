"""Live profiles compared with a baseline: the drift reports ``Query`` hands out, and a step's drift.

The comparison is the core's (``comparison.compare.compare_profiles``) with the model's features as its
columns (``model_config``); the prediction and the score are compared too, segment tags never (they slice
the metrics; they are not model inputs). A report is then said in the user's words (``in_user_words``):
the outputs named ``prediction`` and ``score`` rather than by their internal columns, and ``skipped``
saying what was not compared, why, and what to do. The baseline a model declares is read here as well
(``baseline_profile``): a baseline file's profile (with a production range's outputs where the file has
none), or the merged windows of a production range.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from vigil.comparison.compare import compare_profiles
from vigil.comparison.report import Report
from vigil.config import VigilConfig
from vigil.errors import InputError
from vigil.events import PREDICTION, SCORE, SEGMENT_PREFIX
from vigil.monitoring.baselines import Baselines
from vigil.monitoring.catalogue import Drift
from vigil.monitoring.window import WindowState
from vigil.spec import ModelSpec
from vigil.stats.profile import Profile

__all__ = [
    "BaselineRef",
    "against_baseline",
    "against_reference",
    "baseline_profile",
    "compare",
    "in_user_words",
    "model_config",
    "window_drift",
]

Merged = Callable[[str, float, float], WindowState]
"""A model's windows of ``[start, end)`` merged into one (``Query.merged``)."""

_OUTPUTS = {PREDICTION: "prediction", SCORE: "score"}


@dataclass(frozen=True)
class BaselineRef:
    """The model's baseline as a step's drift reads it: its digest now, its profile only when a step is
    compared (a baseline file's profile is then decoded only if some step's drift is not kept already)."""

    digest: str
    profile: Callable[[], Profile | None]


def against_baseline(model: str, baseline: Profile | None, current: Profile, spec: ModelSpec) -> Report:
    """The drift report of ``current`` (merged windows' profile) against the model's ``baseline``, in the
    user's words; ``InputError`` where the model declares no baseline or ``current`` has no events."""
    if baseline is None:
        raise InputError(
            f"model {model!r} has no baseline: declare baseline: {{file: ...}} or {{from:, to:}}"
        )
    if not current.columns:
        raise InputError(f"no events of {model!r} between the given times")
    report = compare(baseline, current, spec, labels=("baseline", "current"))
    return in_user_words(report, baseline, current, spec)


def against_reference(
    model: str, reference: Profile, current: Profile, spec: ModelSpec, labels: tuple[str, str]
) -> Report:
    """The drift report of ``current`` against a ``reference`` range's profile, in the user's words;
    ``InputError`` naming the range that has no events."""
    for profile, which in ((reference, "reference"), (current, "current")):
        if not profile.columns:
            raise InputError(f"no events of {model!r} in the {which} range")
    report = compare(reference, current, spec, labels=labels)
    return in_user_words(report, reference, current, spec, against="the reference range")


def baseline_profile(baselines: Baselines, model: str, spec: ModelSpec, merged: Merged) -> Profile | None:
    """The profile of the baseline ``spec`` declares: its file's (the prediction and score a file lacks
    taken from ``baseline.predictions``' range, where given), or its range's merged windows; None without
    a baseline, or with a range that has no events."""
    if spec.baseline is None:
        return None
    if spec.baseline.file is not None:
        found = baselines.file_profile(model)
        extra = spec.baseline.predictions
        missing = [c for c in (PREDICTION, SCORE) if found is not None and c not in found.columns]
        if found is None or extra is None or not missing:
            return found
        outputs = merged(model, extra.start.timestamp(), extra.end.timestamp()).profile
        taken = {c: outputs.columns[c] for c in missing if c in outputs.columns}
        return Profile(
            found.rows,
            {**found.columns, **taken},
            {**found.types, **{c: outputs.types[c] for c in taken if c in outputs.types}},
            found.duplicate_rows,
            dict(found.skipped),
        )
    assert spec.baseline.start is not None and spec.baseline.end is not None
    profile = merged(model, spec.baseline.start.timestamp(), spec.baseline.end.timestamp()).profile
    return profile if profile.columns else None


def window_drift(baseline: Profile, window: WindowState, spec: ModelSpec) -> Drift | None:
    """The baseline compared with a step's window; None without a profiled window."""
    if not window.profile.columns:
        return None
    report = compare(baseline, window.profile, spec)
    effects = {name: c.effect for name, c in report.columns.items()}
    return Drift(report.drift_share, effects, frozenset(n for n, c in report.columns.items() if c.drift))


def compare(
    baseline: Profile, current: Profile, spec: ModelSpec, labels: tuple[str, str] = ("a", "b")
) -> Report:
    """Drift of the features, the prediction and the score; segment tags slice metrics and are not
    compared."""
    tags = [n for n in {*baseline.columns, *current.columns} if n.startswith(SEGMENT_PREFIX)]
    return compare_profiles(baseline, current, config=model_config(spec), ignore=tags, labels=labels)


def _logged(profile: Profile, column: str) -> bool:
    """Whether ``profile`` holds a value of ``column``."""
    found = profile.columns.get(column)
    return found is not None and found.nulls < found.rows


def in_user_words(
    report: Report, baseline: Profile, current: Profile, spec: ModelSpec, against: str = ""
) -> Report:
    """``report`` with the prediction and score named so (not by their internal column names), segment
    tags left out, and ``skipped`` saying what was not compared and why, with what to do. ``against``
    names a reference other than the model's baseline (``the reference range``)."""
    source = None if against else spec.baseline
    names = {
        inner: outer if outer not in spec.features else f"{outer} (model output)"
        for inner, outer in _OUTPUTS.items()
    }
    skipped = {k: v for k, v in report.skipped.items() if not k.startswith(SEGMENT_PREFIX) and k not in names}
    for inner, shown in names.items():
        if inner in report.columns:
            continue
        # an output never logged may be absent or a column of nulls, by the template the windows share
        in_baseline, in_current = _logged(baseline, inner), _logged(current, inner)
        if inner in report.skipped and in_baseline and in_current:  # the comparison's reason (untestable)
            skipped[shown] = report.skipped[inner]
            continue
        if not in_current:
            if in_baseline:
                skipped[shown] = f"not compared: no {_OUTPUTS[inner]}s were logged in this range"
            continue
        if source is not None and source.file is not None and source.predictions is None:
            skipped[shown] = (
                f"not compared: the baseline file has no {_OUTPUTS[inner]} column; add one to it, or set "
                "baseline.predictions: {from: ..., to: ...} to compare with a production time range"
            )
        elif source is not None and source.predictions is not None:
            skipped[shown] = (
                f"not compared: no {_OUTPUTS[inner]}s were logged in the baseline's prediction range "
                f"({source.predictions.start:%Y-%m-%d %H:%M} to {source.predictions.end:%Y-%m-%d %H:%M} UTC)"
            )
        else:
            skipped[shown] = f"not compared: {against or 'the baseline'} has no {_OUTPUTS[inner]}s"
    tags = sorted({n[len(SEGMENT_PREFIX) :] for n in current.columns if n.startswith(SEGMENT_PREFIX)})
    if tags:
        skipped["segment tags"] = (
            f"not compared: segment tags ({', '.join(tags)}) slice the metrics; they are not model inputs"
        )
    columns = {
        names.get(n, n): replace(c, column=names.get(n, n))
        for n, c in report.columns.items()
        if not n.startswith(SEGMENT_PREFIX)
    }
    hidden = {n for n in (*names, *current.columns, *baseline.columns) if n.startswith(SEGMENT_PREFIX)}
    hidden |= {n for n in names if n not in report.columns}  # said in skipped, once
    quality = [
        replace(q, column=names.get(q.column, q.column)) if q.column is not None else q
        for q in report.quality
        if q.column not in hidden
    ]
    return replace(report, columns=columns, skipped=skipped, quality=quality)


def model_config(spec: ModelSpec) -> VigilConfig:
    """The core's config for one model: its features as columns (prediction and score are columns too)."""
    return VigilConfig(columns=dict(spec.features))
