"""Classification performance estimated from the model's own scores, before the labels arrive.

Confidence-based performance estimation: on a reference that has labels, each class's score column is
calibrated to the labels (:mod:`vigil.performance.calibration`, isotonic, only where it helps); in a chunk
without labels, the calibrated probability ``p[i, k]`` that row ``i`` is of class ``k`` stands in for the
unknown label. Every metric is then the realised metric's formula applied to these fractional labels:

* the expected confusion counts (``TP_k = Σ_{ŷ=k} p[i, k]``, ...) give accuracy, precision, recall, F1;
* ROC AUC is the expected number of correctly ordered (positive, negative) pairs of distinct rows, ranked
  by the raw scores, over the expected number of such pairs.

Binary models give a 1-D array of positive-class scores, labels and predictions 0/1, and every metric is of
the positive class. Multiclass models give an ``(n, K)`` score matrix (one column per class, one-vs-rest),
labels and predictions as class indices ``0..K-1``; the calibrated rows are rescaled to sum to 1 and
precision, recall, F1 and ROC AUC are macro averages over the classes where they are defined (a class
never predicted has no precision; scikit-learn counts it as 0 instead).

**The band.** ``se`` is the standard deviation the realised metric would have if each row's label were
drawn from its calibrated probability (independent rows): exact for accuracy and precision (their
denominators are fixed by the predictions), first order (delta method) for recall, F1 and ROC AUC. It is
computed from the chunk itself, so it shrinks as ``1/√n`` and widens where the scores are uncertain.
``lower``/``upper`` are ``value ∓ 3·se`` clipped to ``[0, 1]``: if the calibration holds on the chunk, the
realised figure lies inside with probability ≈ 99.7% per metric (checked in the tests: ≥ 95% of chunks,
all five metrics at once, across seeds and covariate shift). Not included: the calibration's own error
from a finite reference (small beside the sampling error for references ≥ 10× the chunk).

**Concept shift.** Score-based estimation assumes ``P(y | score)`` is the reference's. When the labels do
arrive, :func:`concept_shift` says whether any realised figure lies outside its band: the relation between
inputs and outcome has changed, which no estimate made from the scores alone can see.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> s = rng.uniform(size=20_000); y = (rng.uniform(size=s.size) < s).astype(int)
>>> est = Estimator.fit(s, y)
>>> band = est.estimate(s[:2000], (s[:2000] >= 0.5).astype(int))["accuracy"]
>>> round(band.value, 2), band.lower < band.value < band.upper
(0.75, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from vigil.errors import InputError
from vigil.performance.calibration import Calibration, fit_calibration
from vigil.stats import codec

__all__ = ["METRICS", "Band", "CalibrationMode", "Estimator", "concept_shift", "outside", "realised"]

METRICS = ("roc_auc", "accuracy", "precision", "recall", "f1")
"""The estimated metrics, in the order reports show them."""

WIDTH = 3.0
"""Half-width of a band, in standard errors."""

_MAGIC = b"VGLE"
_VERSION = 1

CalibrationMode = Literal["auto", "always", "never"]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Band:
    """An estimated metric: ``value`` with its standard error and ``value ∓ 3·se`` clipped to ``[0, 1]``
    (NaN throughout where the metric is undefined)."""

    value: float
    se: float
    lower: float
    upper: float

    @classmethod
    def of(cls, value: float, se: float, width: float = WIDTH) -> Band:
        if not math.isfinite(value):
            return cls(math.nan, math.nan, math.nan, math.nan)
        return cls(value, se, max(0.0, value - width * se), min(1.0, value + width * se))

    def contains(self, x: float) -> bool:
        """Whether ``x`` lies in ``[lower, upper]`` (a small tolerance for rounding at the edges)."""
        return self.lower - 1e-12 <= x <= self.upper + 1e-12


def _figures(y: Floats, pred: Ints, ranks: Floats, binary: bool) -> dict[str, tuple[float, Floats]]:
    """Each metric's value and its gradient with respect to ``y`` (``(n, K)`` class memberships, one-hot or
    fractional), at ``y``; ``ranks`` are the mid-ranks of each class's raw scores."""
    n, k_all = y.shape
    onehot = np.zeros((n, k_all))
    onehot[np.arange(n), pred] = 1.0
    out: dict[str, tuple[float, Floats]] = {}
    grad = onehot / n if n else onehot
    out["accuracy"] = (float(np.sum(y * onehot) / n) if n else math.nan, grad)
    per: dict[str, list[tuple[float, Floats]]] = {m: [] for m in ("roc_auc", "precision", "recall", "f1")}
    for k in [1] if binary else range(k_all):
        yk, hit, r = y[:, k], onehot[:, k], ranks[:, k]
        predicted, positives = float(hit.sum()), float(yk.sum())
        tp = float(np.dot(yk, hit))

        def add(name: str, num: float, den: float, g: Floats, k: int = k) -> None:
            if den > 0:  # else undefined for this class: left out of the macro average
                column = np.zeros((n, k_all))
                column[:, k] = g
                per[name].append((num / den, column))

        add("precision", tp, predicted, hit / max(predicted, 1.0))
        recall = tp / positives if positives > 0 else 0.0
        add("recall", tp, positives, (hit - recall) / max(positives, 1e-300))
        f1 = 2 * tp / (predicted + positives) if predicted + positives > 0 else 0.0
        add("f1", 2 * tp, predicted + positives, (2 * hit - f1) / max(predicted + positives, 1e-300))
        # pairs of distinct rows: the fractional self-pairs Σ y(1-y) are neither wins nor pairs
        own = float(np.dot(yk, 1.0 - yk))
        pairs = positives * (n - positives) - own
        if pairs > 1e-9:
            wins = float(np.dot(yk, r)) - positives * (positives + 1) / 2 - own / 2
            auc = wins / pairs
            add("roc_auc", wins, pairs, ((r - positives - 0.5) - auc * (n - 2 * positives)) / pairs)
    for name, items in per.items():
        if items:
            value = float(np.mean([v for v, _ in items]))
            out[name] = (value, sum((g for _, g in items), np.zeros((n, k_all))) / len(items))
        else:
            out[name] = (math.nan, np.zeros((n, k_all)))
    return out


def _ranks(scores: Floats) -> Floats:
    """Each column's mid-ranks (ties share the mean of their ranks, 1-based), as ``scipy.stats.rankdata``."""
    out = np.empty(scores.shape, dtype=np.float64)
    for k in range(scores.shape[1]):
        order = np.argsort(scores[:, k], kind="stable")
        ordered = scores[order, k]
        first = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        ends = np.r_[first[1:], ordered.size]
        out[order, k] = np.repeat((first + ends + 1) / 2.0, ends - first)
    return out


class Estimator:
    """Calibrations fitted on a labelled reference; estimates any chunk's metrics from scores alone.

    ``fit`` once on the reference, then ``estimate(scores, predictions)`` per chunk. ``to_bytes`` /
    ``from_bytes`` keep the fitted state (the calibrations' knots: its size grows with the number of
    calibration steps, not with the reference's rows)."""

    def __init__(self, calibrations: tuple[Calibration, ...], binary: bool) -> None:
        self.calibrations = calibrations
        self.binary = binary

    @property
    def n_classes(self) -> int:
        return 2 if self.binary else len(self.calibrations)

    @property
    def calibrated(self) -> list[bool]:
        """Per score column, whether a calibration was kept (False: the raw scores are used as they are)."""
        return [not c.is_identity for c in self.calibrations]

    @classmethod
    def fit(
        cls,
        scores: npt.ArrayLike,
        labels: npt.ArrayLike,
        *,
        calibration: CalibrationMode = "auto",
        seed: int = 0,
    ) -> Estimator:
        """Fit on a reference: ``scores`` 1-D (binary, labels 0/1) or ``(n, K)`` (labels ``0..K-1``).
        ``calibration``: ``auto`` calibrates a column only where that lowers its out-of-sample Brier score,
        ``always`` calibrates every column, ``never`` takes the scores as probabilities."""
        s, y = _scores(scores), np.asarray(labels)
        _check_codes(y, 2 if s.ndim == 1 else s.shape[1], "label")
        if calibration not in ("auto", "always", "never"):
            raise InputError(f"calibration must be auto, always or never, not {calibration!r}")

        def fitted(column: Floats, positive: npt.ArrayLike) -> Calibration:
            if calibration == "never":
                return Calibration.identity()
            return fit_calibration(column, positive, check=calibration == "auto", seed=seed)

        if s.ndim == 1:
            return cls((fitted(s, y),), binary=True)
        return cls(tuple(fitted(s[:, k], y == k) for k in range(s.shape[1])), binary=False)

    def probabilities(self, scores: npt.ArrayLike) -> Floats:
        """The calibrated ``(n, K)`` class probabilities of ``scores`` (rows sum to 1)."""
        s = _scores(scores)
        if self.binary:
            p = self.calibrations[0].apply(s)
            return np.column_stack([1.0 - p, p])
        if s.ndim != 2 or s.shape[1] != len(self.calibrations):
            raise InputError(
                f"the scores have shape {s.shape}; this estimator takes {len(self.calibrations)} columns"
            )
        p = np.column_stack([c.apply(s[:, k]) for k, c in enumerate(self.calibrations)])
        total = p.sum(axis=1, keepdims=True)
        out: Floats = np.divide(p, total, out=np.full_like(p, 1.0 / p.shape[1]), where=total > 0)
        return out

    def estimate(self, scores: npt.ArrayLike, predictions: npt.ArrayLike) -> dict[str, Band]:
        """Every metric of ``METRICS`` estimated on one chunk, with its band (module docstring)."""
        s, pred = _scores(scores), np.asarray(predictions)
        _check_codes(pred, self.n_classes, "prediction")
        p = self.probabilities(s)
        ranks = _ranks(s.reshape(len(s), -1))
        if self.binary:
            ranks = np.column_stack([ranks[:, 0], ranks[:, 0]])
        out = {}
        for name, (value, g) in _figures(p, pred.astype(np.int64), ranks, self.binary).items():
            linear = np.sum(g * p, axis=1)
            var = float(np.sum(np.sum(g * g * p, axis=1) - linear * linear))
            out[name] = Band.of(value, math.sqrt(max(var, 0.0)))
        return {m: out[m] for m in METRICS}

    def to_bytes(self) -> bytes:
        arrays = [a for c in self.calibrations for a in (c.knots, c.values)]
        return codec.pack(
            _MAGIC, _VERSION, {"binary": self.binary, "columns": len(self.calibrations)}, arrays
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Estimator:
        h, arrays, _ = codec.unpack(_MAGIC, _VERSION, data, "performance estimator")
        columns = tuple(Calibration(arrays[2 * k], arrays[2 * k + 1]) for k in range(h["columns"]))
        return cls(columns, binary=bool(h["binary"]))


def realised(scores: npt.ArrayLike, labels: npt.ArrayLike, predictions: npt.ArrayLike) -> dict[str, float]:
    """The metrics of ``METRICS`` from the labels, with the same definitions as the estimates (NaN where
    undefined)."""
    s, y, pred = _scores(scores), np.asarray(labels), np.asarray(predictions)
    k_all = 2 if s.ndim == 1 else s.shape[1]
    _check_codes(y, k_all, "label")
    _check_codes(pred, k_all, "prediction")
    onehot = np.zeros((len(y), k_all))
    onehot[np.arange(len(y)), y.astype(np.int64)] = 1.0
    ranks = _ranks(s.reshape(len(s), -1))
    if s.ndim == 1:
        ranks = np.column_stack([ranks[:, 0], ranks[:, 0]])
    figures = _figures(onehot, pred.astype(np.int64), ranks, s.ndim == 1)
    return {m: figures[m][0] for m in METRICS}


def outside(estimated: Mapping[str, Band], realised: Mapping[str, float]) -> list[str]:
    """The metrics whose realised figure lies outside its estimated band (undefined ones are skipped)."""
    return [
        m
        for m, band in estimated.items()
        if math.isfinite(band.value)
        and math.isfinite(realised.get(m, math.nan))
        and not band.contains(realised[m])
    ]


def concept_shift(estimated: Mapping[str, Band], realised: Mapping[str, float] | None) -> bool | None:
    """True when a realised figure lies outside its band (``P(y | score)`` changed since the reference);
    None without labels."""
    if realised is None:
        return None
    return bool(outside(estimated, realised))


def _scores(scores: npt.ArrayLike) -> Floats:
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim not in (1, 2):
        raise InputError(f"scores must be 1-D (binary) or 2-D (one column per class), not {s.ndim}-D")
    bad = ~((s >= 0) & (s <= 1))
    if bad.any():
        row, *col = np.argwhere(bad)[0]
        where = f"row {row}" + (f", column {col[0]}" if col else "")
        raise InputError(f"score {float(s[bad][0])!r} at {where} is not a probability in [0, 1]")
    return s


def _check_codes(codes: npt.NDArray[np.generic], k: int, what: str) -> None:
    if codes.size and (codes.dtype.kind not in "biu" or codes.min() < 0 or codes.max() >= k):
        raise InputError(
            f"{what}s must be class indices 0..{k - 1} (binary: 0/1); got {codes[:5].tolist()}..."
        )
