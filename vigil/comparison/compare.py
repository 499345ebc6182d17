"""Compare a current table with a reference: profile both, test every column for drift, run the
data-quality checks. This is what ``vigil report`` and ``vigil check`` run.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> ref = pd.DataFrame({"x": rng.normal(size=5000)})
>>> cur = pd.DataFrame({"x": rng.normal(1.0, 1.0, size=5000)})
>>> compare(ref, cur).columns["x"].drift
True
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, cast, get_args

import numpy as np
import pyarrow as pa

from vigil.comparison.importance import drift_impact, output_column
from vigil.comparison.multivariate import MULTIVARIATE_MODES, multivariate
from vigil.comparison.report import ColumnDrift, Report
from vigil.comparison.unstructured import (
    add_descriptors,
    descriptor_names,
    embedding_columns,
    embedding_drift,
    label_descriptors,
    readjust,
    text_columns,
    vector_drift,
)
from vigil.comparison.verdicts import calibrated_thresholds, decide, thresholds
from vigil.config import VigilConfig, load_config
from vigil.drift.decide import Correction, DriftRule, choose_method
from vigil.drift.methods import METHODS, Method, Pair
from vigil.drift.methods import finite as finite_values
from vigil.errors import InputError
from vigil.quality import Bounds, Check, QualityRule
from vigil.quality.categories import unseen_categories
from vigil.quality.constant import constant
from vigil.quality.duplicates import duplicate_rows
from vigil.quality.nulls import infinite_values, null_rate
from vigil.quality.ranges import out_of_range
from vigil.quality.schema import schema, type_mismatches
from vigil.spec.drift import MultivariateMode
from vigil.stats.column import CategoricalProfile, ColumnProfile, NumericProfile, as_float
from vigil.stats.profile import Profile, profile
from vigil.tables import ColumnKind, describe_source, read_table

__all__ = ["compare", "compare_profiles"]

_SKIP_ROLES = {
    "id": "an identifier (role: id)",
    "timestamp": "a timestamp (role: timestamp)",
    "pii": "personal data (role: pii): not profiled, its values stay out of the report",
}


def compare(
    reference: Any,
    current: Any,
    *,
    config: VigilConfig | str | os.PathLike[str] | None = None,
    method: str | None = None,
    ignore: Iterable[str] = (),
    exact: bool = False,
    correction: str | None = None,
    calibrate: bool | None = None,
    multivariate_mode: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Compare ``current`` with ``reference`` (DataFrames, Arrow tables, or file paths).

    ``method`` forces one drift method on every column it applies to (others keep their default).
    ``exact`` computes numeric tests on the raw values (scipy) instead of the sketches.
    ``correction`` (none, bonferroni, bh), ``calibrate`` and ``multivariate_mode`` (both, reconstruction,
    classifier, off) override the config's ``drift:`` section.
    """
    cfg = _config(config)
    mode = cfg.drift.multivariate if multivariate_mode is None else multivariate_mode
    if mode not in MULTIVARIATE_MODES:
        raise InputError(f"unknown multivariate mode {mode!r}; choose one of {', '.join(MULTIVARIATE_MODES)}")
    if method is not None and method not in METHODS:
        raise InputError(f"unknown drift method {method!r}; choose one of {', '.join(METHODS)}")
    rule = _drift_rule(cfg, correction, calibrate)
    qrule = _quality_rule(cfg)
    ref_table = read_table(reference, what="reference", for_profiling=True)
    cur_table = read_table(current, what="current", for_profiling=True)
    skipped = _excluded(cfg, ignore, ref_table.column_names)
    texts = [t for t in text_columns(cfg) if t not in set(ignore)]
    vectors = _embeddings(cfg, ref_table, cur_table, skipped, rule)
    ref_table = ref_table.drop_columns(list(vectors))
    cur_table = cur_table.drop_columns([n for n in vectors if n in cur_table.column_names])
    ref_table, cur_table = add_descriptors(ref_table, cur_table, texts)
    common = [n for n in ref_table.column_names if n in cur_table.column_names and n not in skipped]
    if not common and not vectors:
        raise InputError(
            "reference and current share no columns to compare: reference has "
            f"{_names(ref_table.column_names)}, current has {_names(cur_table.column_names)}"
        )
    kinds = _declared_kinds(cfg)
    # skipped columns are not profiled, but still tell rows apart when counting duplicate rows
    ref_p = profile(ref_table, kinds=kinds, progress=progress, hash_only=list(skipped))
    cur_p = profile(cur_table, like=ref_p, kinds=kinds, progress=progress, hash_only=list(skipped))
    keep_ref = [n for n in ref_table.column_names if n not in skipped]

    def raw(name: str, r: ColumnProfile) -> tuple[np.ndarray, np.ndarray]:
        return _raw(ref_table, cur_table, name, r)

    def calibrator(pairs: Mapping[str, tuple[Pair, Method]]) -> dict[str, float]:
        return calibrated_thresholds(ref_table.select(keep_ref), ref_p, pairs, cur_p.rows, kinds)

    result = _compare(
        ref_p,
        cur_p,
        cfg,
        rule,
        qrule,
        common,
        skipped,
        method,
        raw if exact else None,
        calibrator if rule.calibrate else None,
        reference={"source": describe_source(reference), "rows": ref_table.num_rows},
        current={"source": describe_source(current), "rows": cur_table.num_rows},
        exact=exact,
        texts=texts,
        extra={n: v for n, v in vectors.items() if isinstance(v, ColumnDrift)},
    )
    # the joint tests read the scalar columns both tables hold (not embeddings, not text's descriptors)
    features = [
        name
        for name in result.columns
        if _role(cfg, name) not in ("target", "prediction")
        and name in ref_p.columns
        and name in ref_table.column_names
        and name in cur_table.column_names
    ]
    output = output_column({n: _role(cfg, n) for n in cfg.columns}, list(ref_p.columns))
    if output is not None:
        features = [name for name in features if name != output]
    joint = multivariate(ref_table, cur_table, ref_p, features, cast(MultivariateMode, mode))
    impact = (
        drift_impact(ref_table, ref_p, features, output, result.columns)
        if output and result.drifted
        else None
    )
    return replace(result, multivariate=joint, importance=impact)


def compare_profiles(
    reference: Profile,
    current: Profile,
    *,
    config: VigilConfig | None = None,
    method: str | None = None,
    ignore: Iterable[str] = (),
    labels: tuple[str, str] = ("reference", "current"),
) -> Report:
    """Compare two profiles (``current`` built ``like=reference``, e.g. merged live windows) with the same
    tests and checks as ``compare``; what needs raw values (``exact``, calibration) is not available."""
    cfg = config or VigilConfig()
    rule = _drift_rule(cfg, None, False)
    skipped = _excluded(cfg, ignore, list(reference.columns))
    common = [n for n in reference.columns if n in current.columns and n not in skipped]
    vectors: dict[str, ColumnDrift] = {}
    for name in [n for n in reference.vectors if n in current.vectors and n not in skipped]:
        verdict = vector_drift(name, reference.vectors[name], current.vectors[name], rule)
        if isinstance(verdict, str):
            skipped[name] = verdict
        else:
            vectors[name] = verdict
    return _compare(
        reference,
        current,
        cfg,
        rule,
        _quality_rule(cfg),
        common,
        skipped,
        method,
        None,
        None,
        reference={"source": labels[0], "rows": reference.rows},
        current={"source": labels[1], "rows": current.rows},
        exact=False,
        extra=vectors,
    )


def _compare(
    ref_p: Profile,
    cur_p: Profile,
    cfg: VigilConfig,
    rule: DriftRule,
    qrule: QualityRule,
    common: list[str],
    skipped: dict[str, str],
    method: str | None,
    raw: Callable[[str, ColumnProfile], tuple[np.ndarray, np.ndarray]] | None,
    calibrator: Callable[[Mapping[str, tuple[Pair, Method]]], dict[str, float]] | None,
    *,
    reference: dict[str, Any],
    current: dict[str, Any],
    exact: bool,
    texts: list[str] | None = None,
    extra: Mapping[str, ColumnDrift] | None = None,
) -> Report:
    texts = text_columns(cfg) if texts is None else texts
    descriptors = descriptor_names(texts)
    skipped.update({n: why for n, why in ref_p.skipped.items() if n in common})
    pairs: dict[str, tuple[Pair, Method]] = {}
    for name in common:
        r, c = ref_p.columns.get(name), cur_p.columns.get(name)
        if r is None or c is None:
            continue
        why = _untestable(r, c)
        if why:
            skipped[name] = why
            continue
        values = raw(name, r) if raw is not None and not _discrete(r, c) else None
        pair = Pair(r, c, values, rule.bins)
        spec = cfg.columns.get(name)
        forced = spec.drift.method if spec is not None and spec.drift is not None else None
        if forced is None and descriptors.get(name, ("", ""))[1] == "oov":
            # shares k/n of a few words take dozens of sparse values: chi-square's effect sits near its
            # threshold on two samples of one text (8% false alarms an hour live); KS does not
            forced = "ks"
        chosen = choose_method(pair, rule, forced if forced not in (None, "auto") else method)
        if chosen is None:
            chosen = choose_method(pair, rule)
        assert chosen is not None
        pairs[name] = (pair, chosen)

    limits = thresholds(cfg, rule, pairs, method)
    if calibrator is not None:
        for name, value in calibrator(pairs).items():
            if limits[name][1] == "default":
                limits[name] = (value, "calibrated")
    columns = label_descriptors(decide(pairs, limits, rule, cfg), texts)
    if extra:
        columns = readjust(columns | dict(extra), rule)
    # descriptors are tested for drift only: the reference measures out-of-vocabulary words on half its rows
    checks = _quality(ref_p, cur_p, [n for n in common if n not in descriptors], skipped, qrule)
    return Report(
        reference=reference,
        current=current,
        settings={
            "alpha": rule.alpha,
            "correction": rule.correction,
            "drift_share": rule.drift_share,
            "exact": exact,
            "bins": rule.bins,
            "method": method or "auto",
            "calibrate": rule.calibrate,
        },
        columns=columns,
        skipped=skipped,
        quality=checks,
    )


def _role(cfg: VigilConfig, name: str) -> str:
    spec = cfg.columns.get(name)
    return spec.role if spec is not None else "feature"


def _config(config: VigilConfig | str | os.PathLike[str] | None) -> VigilConfig:
    if config is None:
        return VigilConfig()
    if isinstance(config, VigilConfig):
        return config
    return load_config(config)


def _drift_rule(cfg: VigilConfig, correction: str | None, calibrate: bool | None) -> DriftRule:
    d = cfg.drift
    corr: Correction = d.correction
    if correction is not None:
        if correction not in get_args(Correction):
            raise InputError(f"unknown correction {correction!r}; choose none, bonferroni or bh")
        corr = cast(Correction, correction)
    return DriftRule(
        alpha=d.alpha,
        correction=corr,
        drift_share=d.drift_share,
        numeric_method=d.numeric_method,
        categorical_method=d.categorical_method,
        thresholds={str(k): v for k, v in d.thresholds.items()},
        calibrate=d.calibrate if calibrate is None else calibrate,
    )


def _quality_rule(cfg: VigilConfig) -> QualityRule:
    q = cfg.quality
    declared = {
        name: Bounds(spec.min, spec.max, None if spec.allowed is None else [str(a) for a in spec.allowed])
        for name, spec in cfg.columns.items()
        if spec.min is not None or spec.max is not None or spec.allowed is not None
    }
    return QualityRule(q.null_rate_warn, q.null_rate_fail, q.range_tolerance, q.unseen_tolerance, declared)


def _excluded(cfg: VigilConfig, ignore: Iterable[str], names: list[str]) -> dict[str, str]:
    out = {name: "ignored (--ignore)" for name in ignore}
    for name, spec in cfg.columns.items():
        if spec.ignore:
            out[name] = "ignored (config)"
        elif spec.role in _SKIP_ROLES:
            out[name] = _SKIP_ROLES[spec.role]
        elif spec.type == "text":
            out[name] = f"free text (type: text): tested through {name}.length, .tokens, .empty and .oov"
    return out


def _embeddings(
    cfg: VigilConfig, ref: pa.Table, cur: pa.Table, skipped: dict[str, str], rule: DriftRule
) -> dict[str, ColumnDrift | str]:
    """Each embedding column's MMD verdict; those that cannot be tested go to ``skipped`` with the reason."""
    out: dict[str, ColumnDrift | str] = {}
    for name, dims in embedding_columns(cfg, ref, skipped).items():
        if name not in cur.column_names:
            out[name] = skipped[name] = "an embedding missing from current"
            continue
        out[name] = verdict = embedding_drift(name, ref.column(name), cur.column(name), dims, rule)
        if isinstance(verdict, str):
            skipped[name] = verdict
    return out


def _declared_kinds(cfg: VigilConfig) -> dict[str, ColumnKind]:
    kinds: dict[str, ColumnKind] = {}
    for name, spec in cfg.columns.items():
        if spec.type == "numeric" or spec.type == "categorical" or spec.type == "datetime":
            kinds[name] = spec.type
    return kinds


def _untestable(r: ColumnProfile, c: ColumnProfile) -> str | None:
    if r.kind == "datetime":
        return "a date/time column: timestamps move by nature (declare type: numeric to test it)"
    if r.count == 0:
        return "entirely null in the reference: nothing to compare with"
    if c.count == 0:
        if isinstance(c, NumericProfile) and c.non_finite:
            return "no finite values in current: nothing to test (see the infinite-values check)"
        return "entirely null in current: nothing to test (see the null-rate check)"
    if isinstance(r, CategoricalProfile) and not r.top.exact and r.distinct_estimate > 0.5 * r.count:
        return f"looks like an identifier ({r.distinct_estimate / r.count:.0%} distinct values)"
    return None


def _discrete(r: ColumnProfile, c: ColumnProfile) -> bool:
    return isinstance(r, CategoricalProfile) or (
        isinstance(r, NumericProfile) and isinstance(c, NumericProfile) and r.is_discrete and c.is_discrete
    )


def _raw(ref: pa.Table, cur: pa.Table, name: str, r: ColumnProfile) -> tuple[np.ndarray, np.ndarray]:
    kind = r.kind
    return (
        finite_values(as_float(ref.column(name), kind)[0]),
        finite_values(as_float(cur.column(name), kind)[0]),
    )


def _quality(
    ref: Profile, cur: Profile, common: list[str], skipped: Mapping[str, str], rule: QualityRule
) -> list[Check]:
    checks = schema(ref, cur, skipped)
    for name in common:
        r, c = ref.columns.get(name), cur.columns.get(name)
        if r is None or c is None:
            continue
        checks.append(null_rate(name, r, c, rule))
        if isinstance(r, NumericProfile) and isinstance(c, NumericProfile):
            found = infinite_values(name, r, c)
            if found is not None:
                checks.append(found)
        for check in (type_mismatches(name, c), constant(name, r, c)):
            if check is not None:
                checks.append(check)
        if isinstance(r, NumericProfile) and isinstance(c, NumericProfile) and r.kind == "numeric":
            found = out_of_range(name, r, c, rule)
            if found is not None:
                checks.append(found)
        if isinstance(r, CategoricalProfile) and isinstance(c, CategoricalProfile):
            found = unseen_categories(name, r, c, rule)
            if found is not None:
                checks.append(found)
    checks.append(duplicate_rows(ref, cur))
    order = {"fail": 0, "warn": 1, "pass": 2}
    return sorted(checks, key=lambda ch: order[ch.status])


def _names(names: list[str], shown: int = 8) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return "[" + ", ".join(names[:shown]) + "]" + more
