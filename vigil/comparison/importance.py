"""Which drift matters: each feature's share of the information about the model's own output in the
reference, and the drifted features ranked by that share times how far past its threshold the drift went.

The output is the column with ``role: prediction`` in the config, else one named ``score`` or
``prediction``. Importance is the mutual information between each feature and it (scikit-learn's
``mutual_info_regression`` for a numeric output, ``mutual_info_classif`` for classes; k-nearest-neighbour
estimates, 3 neighbours, on at most 5,000 reference rows), as shares summing to 1. A feature that drifted
but carries 2% of the information is noise for the model; one that carries 40% is why its outputs moved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vigil.comparison.report import ColumnDrift
from vigil.drift.multivariate import Encoder
from vigil.stats.column import CategoricalProfile, as_float
from vigil.stats.profile import Profile

__all__ = ["drift_impact", "importance", "output_column", "rank", "sentence"]

_SAMPLE = 5000


def output_column(roles: Mapping[str, str], names: Sequence[str]) -> str | None:
    """The model's output column: the one declared ``role: prediction``, else ``score`` or ``prediction``."""
    declared = [n for n, role in roles.items() if role == "prediction" and n in names]
    if declared:
        return declared[0]
    return next((n for n in ("score", "prediction") if n in names), None)


def drift_impact(
    ref: pa.Table, ref_p: Profile, features: Sequence[str], output: str, columns: Mapping[str, ColumnDrift]
) -> dict[str, Any] | None:
    """The report's ``importance`` section; None when the output or the features cannot be read."""
    found = importance(ref, ref_p, features, output)
    if found is None:
        return None
    shares, rows = found
    ranked = rank(shares, columns)
    return {
        "output": output,
        "method": "mutual_information",
        "rows": rows,
        "importance": dict(sorted(shares.items(), key=lambda kv: -kv[1])),
        "drifted": ranked,
        "summary": [sentence(r, output) for r in ranked],
    }


def importance(
    ref: pa.Table, ref_p: Profile, features: Sequence[str], output: str
) -> tuple[dict[str, float], int] | None:
    """Each feature's share of the mutual information with ``output`` in the reference (shares summing to
    1; numeric features first, then categorical ones), and the rows it was measured on; None when the
    output or the features cannot be read."""
    from sklearn.feature_selection import mutual_info_classif, mutual_info_regression

    names = [n for n in features if n != output and n in ref_p.columns]
    out_profile = ref_p.columns.get(output)
    if not names or out_profile is None or ref.num_rows < 50:
        return None
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(ref.num_rows, size=min(_SAMPLE, ref.num_rows), replace=False))
    sample = ref.take(pa.array(rows))
    categorical = [n for n in names if isinstance(ref_p.columns[n], CategoricalProfile)]
    numeric = [n for n in names if n not in categorical]
    nums = {n: as_float(sample.column(n), ref_p.columns[n].kind)[0] for n in numeric}
    cats = {n: pc.cast(sample.column(n), pa.string()).to_numpy(zero_copy_only=False) for n in categorical}
    x = Encoder.fit(nums, cats).transform(nums, cats)
    discrete = np.array([False] * len(numeric) + [True] * len(categorical))
    if isinstance(out_profile, CategoricalProfile):
        y_text = pc.cast(sample.column(output), pa.string()).to_numpy(zero_copy_only=False)
        keep = np.array([v is not None for v in y_text])
        _, y = np.unique(y_text[keep].astype(str), return_inverse=True)
        mi = mutual_info_classif(x[keep], y, discrete_features=discrete, random_state=0)
    else:
        y_num = as_float(sample.column(output), out_profile.kind)[0]
        keep = np.isfinite(y_num)
        mi = mutual_info_regression(x[keep], y_num[keep], discrete_features=discrete, random_state=0)
    order = numeric + categorical
    total = float(np.sum(mi))
    shares = {n: (float(v) / total if total > 0 else 0.0) for n, v in zip(order, mi, strict=True)}
    return shares, int(keep.sum())


def rank(shares: Mapping[str, float], columns: Mapping[str, ColumnDrift]) -> list[dict[str, Any]]:
    """The drifted columns among ``shares``' features, each with its importance and its effect ÷ threshold
    (infinite without a threshold or an effect), ranked by importance × that ratio (capped at 10^6)."""
    ranked: list[dict[str, Any]] = []
    for name, share in shares.items():
        c = columns.get(name)
        if c is None or not c.drift:
            continue
        ratio = c.effect / c.threshold if c.threshold and np.isfinite(c.effect) else float("inf")
        ranked.append({"column": name, "importance": share, "effect_ratio": ratio})
    ranked.sort(key=lambda r: -(float(r["importance"]) * min(float(r["effect_ratio"]), 1e6)))
    return ranked


def sentence(r: Mapping[str, Any], output: str) -> str:
    """One ranked drift in words: "income drifted (4.2× its threshold) and carries 60% of ..."."""
    return (
        f"{r['column']} drifted ({r['effect_ratio']:.1f}× its threshold) and carries "
        f"{r['importance']:.0%} of the features' information about {output}"
    )
