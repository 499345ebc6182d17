"""The report's ``multivariate`` section: the joint distribution of the features tested, by PCA
reconstruction error and by a domain classifier (:mod:`vigil.drift.multivariate`), from the raw rows.

``drift`` is true when either method flags; ``method``, ``statistic``, ``threshold`` and ``p_value`` are
those of the method that decided (the first that flagged, else the first run), and ``methods`` lists both.
Columns with a ``target`` or ``prediction`` role are left out: this is about the model's inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, get_args

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vigil.drift.multivariate import Encoder, MultivariateOutcome, Reconstruction, domain_classifier_drift
from vigil.drift.multivariate.domain import MIN_ROWS
from vigil.drift.multivariate.reconstruction import MIN_REFERENCE_ROWS
from vigil.spec.drift import MultivariateMode
from vigil.stats.column import CategoricalProfile, as_float
from vigil.stats.profile import Profile

__all__ = ["MULTIVARIATE_MODES", "MultivariateMode", "multivariate"]

MULTIVARIATE_MODES: tuple[str, ...] = get_args(MultivariateMode)


def multivariate(
    ref: pa.Table, cur: pa.Table, ref_p: Profile, columns: Sequence[str], mode: MultivariateMode = "both"
) -> dict[str, Any] | None:
    """The section for ``columns`` (tested, present in both tables), or ``None`` when ``mode`` is off."""
    if mode == "off":
        return None
    features = list(columns)
    base: dict[str, Any] = {"features": features, "drift": False, "methods": []}
    if not features:
        return {**base, "note": "no feature columns were tested: nothing to compare jointly"}
    if ref.num_rows < MIN_REFERENCE_ROWS or cur.num_rows < MIN_ROWS:
        return {
            **base,
            "note": f"too few rows for a joint test: {ref.num_rows} reference and {cur.num_rows} current; "
            f"at least {MIN_REFERENCE_ROWS} and {MIN_ROWS} are needed",
        }
    numeric = [n for n in features if not isinstance(ref_p.columns[n], CategoricalProfile)]
    categorical = [n for n in features if isinstance(ref_p.columns[n], CategoricalProfile)]
    encoder, x_ref = Encoder.fit_transform(*_columns(ref, ref_p, numeric, categorical))
    x_cur = encoder.transform(*_columns(cur, ref_p, numeric, categorical))
    outcomes: list[MultivariateOutcome] = []
    if mode in ("both", "reconstruction"):
        outcomes.append(Reconstruction(x_ref).test(x_cur))
    if mode in ("both", "classifier"):
        outcomes.append(domain_classifier_drift(x_ref, x_cur))
    decided = next((o for o in outcomes if o.drift), outcomes[0])
    return {
        **base,
        "drift": any(o.drift for o in outcomes),
        "method": decided.method,
        "statistic": decided.statistic,
        "threshold": decided.threshold,
        "p_value": decided.p_value,
        "methods": [o.to_dict() for o in outcomes],
    }


def _columns(
    table: pa.Table, ref_p: Profile, numeric: list[str], categorical: list[str]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    nums = {n: as_float(table.column(n), ref_p.columns[n].kind)[0] for n in numeric}
    cats = {n: pc.cast(table.column(n), pa.string()).to_numpy(zero_copy_only=False) for n in categorical}
    return nums, cats
