"""Isotonic calibration of one score column against binary labels, fitted only where it helps.

:func:`fit_calibration` fits the monotone step function that maps a score to the share of positive labels
among scores like it (the pool-adjacent-violators solution, ``scipy.optimize.isotonic_regression``), and
keeps it only when it is needed: the reference is split in two halves at random (``seed``), a calibration
is fitted on each half and scored on the other, and the calibration is kept when the out-of-half Brier
score of the calibrated scores is lower than that of the raw scores. Otherwise the raw scores are used as
they are (``Calibration.identity``). Scoring out of sample is what keeps the check honest: in sample,
isotonic regression always beats the raw scores.

A fitted calibration is stored as the ends of its constant blocks (two knots per block) and applied by
linear interpolation between them, constant beyond the first and last knot (scikit-learn's
``IsotonicRegression(out_of_bounds="clip")`` does the same), so its size grows with the number of blocks,
not with the number of reference rows.

>>> import numpy as np
>>> c = fit_calibration(np.array([0.1, 0.2, 0.3, 0.4]), np.array([0, 1, 0, 1]), check=False)
>>> c.apply(np.array([0.0, 0.15, 0.35, 1.0])).round(3).tolist()
[0.0, 0.25, 0.75, 1.0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Calibration", "fit_calibration"]

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Calibration:
    """A monotone map from score to probability; ``identity`` when the scores are used as they are."""

    knots: Floats
    values: Floats

    @classmethod
    def identity(cls) -> Calibration:
        return cls(np.empty(0), np.empty(0))

    @property
    def is_identity(self) -> bool:
        return self.knots.size == 0

    def apply(self, scores: Floats) -> Floats:
        """The calibrated probability of each score (the scores themselves for the identity)."""
        scores = np.asarray(scores, dtype=np.float64)
        if self.is_identity:
            return scores
        out: Floats = np.interp(scores, self.knots, self.values)
        return out


def _fit(scores: Floats, labels: Floats) -> Calibration:
    from scipy.optimize import isotonic_regression  # here: applying a fitted calibration needs no scipy

    x, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    mean = np.bincount(inverse, weights=labels, minlength=x.size) / counts
    fitted = isotonic_regression(mean, weights=counts.astype(np.float64)).x
    # keep the first and last knot of each constant block: interpolation between them is the same function
    change = np.flatnonzero(np.diff(fitted) != 0)
    keep = np.unique(np.concatenate([[0, x.size - 1], change, change + 1]))
    return Calibration(x[keep].astype(np.float64), np.clip(fitted[keep], 0.0, 1.0))


def _brier(p: Floats, y: Floats) -> float:
    return float(np.mean((p - y) ** 2))


def needs_calibration(scores: Floats, labels: Floats, *, seed: int = 0) -> bool:
    """Whether isotonic calibration lowers the Brier score out of sample (two-fold, module docstring)."""
    n = scores.size
    if n < 20:
        return False
    order = np.random.default_rng(seed).permutation(n)
    halves = (order[: n // 2], order[n // 2 :])
    raw = calibrated = 0.0
    for fit_on, score_on in (halves, halves[::-1]):
        c = _fit(scores[fit_on], labels[fit_on])
        raw += _brier(scores[score_on], labels[score_on])
        calibrated += _brier(c.apply(scores[score_on]), labels[score_on])
    return calibrated < raw


def fit_calibration(
    scores: npt.ArrayLike, labels: npt.ArrayLike, *, check: bool = True, seed: int = 0
) -> Calibration:
    """Calibrate ``scores`` (in ``[0, 1]``) to ``labels`` (0/1); with ``check``, only where it helps."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if check and not needs_calibration(s, y, seed=seed):
        return Calibration.identity()
    return _fit(s, y)
