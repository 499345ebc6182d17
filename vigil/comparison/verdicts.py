"""Each column's drift verdict: its threshold (config, default or calibrated on the reference), its test,
and what the report shows and draws of it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from vigil.comparison.report import ColumnDrift
from vigil.config import VigilConfig
from vigil.drift import align
from vigil.drift.decide import DriftRule, adjust_p_values
from vigil.drift.methods import Method, Pair
from vigil.stats.column import CategoricalProfile, ColumnProfile, NumericProfile
from vigil.stats.profile import Profile, profile
from vigil.tables import ColumnKind

__all__ = ["calibrated_thresholds", "decide", "thresholds"]

_PLOT_BINS = 20
_CALIBRATION_CHUNKS = 20


def thresholds(
    cfg: VigilConfig, rule: DriftRule, pairs: Mapping[str, tuple[Pair, Method]], forced: str | None
) -> dict[str, tuple[float, str]]:
    """Each column's effect threshold and where it came from: the column's ``drift:``, the config's
    ``drift.thresholds``, or the method's default."""
    out: dict[str, tuple[float, str]] = {}
    for name, (_, m) in pairs.items():
        spec = cfg.columns.get(name)
        if spec is not None and spec.drift is not None and spec.drift.threshold is not None:
            out[name] = (spec.drift.threshold, "config")
        elif m.name in cfg.drift.thresholds:
            out[name] = (rule.threshold(m), "config")
        else:
            out[name] = (m.threshold, "default")
    return out


def calibrated_thresholds(
    ref_table: pa.Table,
    ref_p: Profile,
    pairs: Mapping[str, tuple[Pair, Method]],
    n_current: int,
    kinds: Mapping[str, ColumnKind],
) -> dict[str, float]:
    """Mean + 3 sd of each column's effect between consecutive reference chunks and the whole reference.

    Chunks are runs of consecutive rows, the size of the current sample (at most a fifth of the reference),
    spread evenly over it: a reference in time order shows its natural swings, a shuffled one its noise.
    """
    size = min(n_current, ref_table.num_rows // 5)
    if size < 20:
        return {}
    starts = np.linspace(0, ref_table.num_rows - size, _CALIBRATION_CHUNKS).round().astype(int)
    effects: dict[str, list[float]] = {name: [] for name in pairs}
    for start in np.unique(starts):
        chunk = profile(ref_table.slice(int(start), size), like=ref_p, kinds=kinds, columns=list(pairs))
        for name, (pair, m) in pairs.items():
            effects[name].append(m.run(Pair(pair.reference, chunk.columns[name], None, pair.bins)).effect)
    return {name: float(np.mean(e) + 3 * np.std(e, ddof=1)) for name, e in effects.items()}


def decide(
    pairs: Mapping[str, tuple[Pair, Method]],
    thresholds: Mapping[str, tuple[float, str]],
    rule: DriftRule,
    cfg: VigilConfig,
) -> dict[str, ColumnDrift]:
    """Run each column's method and decide: drifted when the (adjusted) p-value is under alpha and the
    effect reaches the column's threshold."""
    outcomes = {name: m.run(pair) for name, (pair, m) in pairs.items()}
    names = list(outcomes)
    raw_p = [1.0 if outcomes[n].p_value is None else float(outcomes[n].p_value or 0.0) for n in names]
    adjusted = dict(zip(names, adjust_p_values(raw_p, rule.correction), strict=True))
    columns: dict[str, ColumnDrift] = {}
    for name in names:
        pair, m = pairs[name]
        o = outcomes[name]
        threshold, source = thresholds[name]
        p = adjusted[name]
        spec = cfg.columns.get(name)
        role = spec.role if spec is not None else "feature"
        note = {"target": "target drift", "prediction": "prediction drift"}.get(role)
        columns[name] = ColumnDrift(
            column=name,
            type="categorical" if isinstance(pair.reference, CategoricalProfile) else "numeric",
            method=m.name,
            method_title=m.title,
            statistic=o.statistic,
            p_value=o.p_value,
            p_value_adjusted=p if rule.correction != "none" else None,
            alpha=rule.alpha,
            effect=o.effect,
            threshold=threshold,
            threshold_source=source,
            drift=bool(p < rule.alpha and o.effect >= threshold),
            error_bound=o.error_bound,
            note=note,
            reference=_summary(pair.reference),
            current=_summary(pair.current),
            distribution=_distribution(pair),
        )
    return columns


def _summary(p: ColumnProfile) -> dict[str, Any]:
    out: dict[str, Any] = {"rows": p.rows, "nulls": p.nulls, "distinct": round(p.distinct_estimate)}
    if isinstance(p, NumericProfile):
        q = [p.sketch.quantile(x) for x in (0.05, 0.5, 0.95)] if p.count else [None, None, None]
        out |= {
            "mean": p.moments.mean if p.count else None,
            "std": p.moments.std,
            "min": p.moments.min,
            "p05": q[0],
            "p50": q[1],
            "p95": q[2],
            "max": p.moments.max,
        }
    else:
        top = p.top.most_common(1)
        out |= {
            "mode": top[0][0] if top else None,
            "mode_share": top[0][1] / p.count if top and p.count else None,
        }
    return out


def _distribution(pair: Pair) -> dict[str, Any]:
    if pair.discrete:
        counts, kind = align.categories(pair.reference, pair.current), "categories"
    else:
        counts, kind = Pair(pair.reference, pair.current, None, _PLOT_BINS).counts(), "bins"
    r, c = counts.shares()
    return {"kind": kind, "labels": counts.labels, "reference": r.tolist(), "current": c.tolist()}
