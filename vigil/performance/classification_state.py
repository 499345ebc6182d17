"""Realised classification performance as mergeable state: one per window, any range is their merge.

``ClassificationState`` keeps, for the labelled predictions of a window:

* the confusion matrix over the classes seen (labels or predictions, sorted as text; the list grows as new
  classes appear) and, per true class, the rows that had no prediction (they count as wrong);
* per scored class, a histogram of that class's score among the rows of the class and among the rest
  (``bins`` equal bins over ``[0, 1]``, 10,000 by default): ROC AUC and average precision come from these,
  each within a bound the state computes (``vigil.performance.curves``), at most ``½ · D / bins`` for ROC
  AUC where ``D`` bounds the score densities;
* the sum of log losses, each ``-log p`` of the true class's probability clipped to ``[eps, 1 - eps]`` with
  ``eps`` the float64 machine epsilon (2.2e-16, as scikit-learn clips), and the sum of squared errors of a
  binary score (Brier).

Counts-based figures (accuracy, precision, recall, F1, positive rate, the confusion matrix) are exact.
Merging adds counts, so the merge of the windows of a range equals the state of the range's rows; the sums
of losses agree to float rounding. A precision, recall or F1 whose denominator is zero is undefined (NaN);
the macro and weighted averages leave undefined classes out, as scikit-learn does with
``zero_division=np.nan``.

>>> import numpy as np
>>> s = ClassificationState().update(np.array(["a", "b", "b"]), np.array(["a", "b", "a"]))
>>> s.accuracy(), s.recall("macro"), s.confusion_matrix()[1].tolist()
(0.6666666666666666, 0.75, [[1, 0], [1, 1]])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from vigil.performance import curves
from vigil.performance import reliability as diagram
from vigil.performance.classification import Confusion
from vigil.stats import codec

__all__ = ["EPS", "ClassificationState"]

EPS = float(np.finfo(np.float64).eps)
"""Probabilities are clipped to ``[EPS, 1 - EPS]`` before the log of the log loss."""

Average = Literal["macro", "micro", "weighted"]
Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

_MAGIC = b"VGLC"
_VERSION = 1


@dataclass
class ClassificationState:
    """Confusion counts, score histograms and loss sums of labelled predictions; see the module docstring."""

    bins: int = 10_000
    classes: list[str] = field(default_factory=list)
    matrix: Ints = field(default_factory=lambda: np.zeros((0, 0), np.int64))
    """Rows: true class; columns: predicted class; both in ``classes`` order."""
    unpredicted: Ints = field(default_factory=lambda: np.zeros(0, np.int64))
    """Rows without a prediction, by true class."""
    score_classes: list[str] = field(default_factory=list)
    """The classes whose probability the scores give (one, the positive class, for a binary score)."""
    histograms: Ints = field(default_factory=lambda: np.zeros((0, 2, 0), np.int64))
    """``[class, 1, bin]``: rows of the class with that score; ``[class, 0, bin]``: the other rows."""
    scored: int = 0
    log_loss_sum: float = 0.0
    brier_sum: float = 0.0

    def __post_init__(self) -> None:
        if self.bins < 1:
            raise ValueError(f"bins must be at least 1, got {self.bins}")
        if self.histograms.shape[2] == 0:
            self.histograms = np.zeros((len(self.score_classes), 2, self.bins), np.int64)

    # -- the streaming verbs -------------------------------------------------------------------------------

    def update(
        self,
        y_true: npt.ArrayLike,
        y_pred: npt.ArrayLike,
        scores: npt.ArrayLike | None = None,
        score_classes: list[str] | None = None,
    ) -> ClassificationState:
        """Add labelled predictions: labels and predictions (compared as text; a prediction of None is
        missing), and optionally scores: one probability per row of ``score_classes[0]`` (binary), or one
        column per class of ``score_classes``. Rows with a NaN score count in the confusion matrix only.
        Returns ``self``."""
        truth = _text(y_true)
        pred_raw = np.asarray(y_pred)
        if truth.shape != pred_raw.shape or truth.ndim != 1:
            raise ValueError(f"labels and predictions differ in shape ({truth.shape} and {pred_raw.shape})")
        missing = np.zeros(truth.size, bool)
        if pred_raw.dtype == object:  # only an object array can hold None
            missing = np.fromiter((p is None for p in pred_raw), bool, pred_raw.size)
        pred = _text(np.where(missing, "", pred_raw) if missing.any() else pred_raw)
        self._grow(sorted({*self.classes, *np.unique(truth).tolist(), *np.unique(pred[~missing]).tolist()}))
        k = len(self.classes)
        names = np.array(self.classes, dtype=str)
        t = np.searchsorted(names, truth)
        p = np.searchsorted(names, pred[~missing])
        self.matrix += np.bincount(t[~missing] * k + p, minlength=k * k).reshape(k, k)
        self.unpredicted += np.bincount(t[missing], minlength=k)
        if scores is not None:
            self._update_scores(truth, np.asarray(scores, dtype=np.float64), score_classes)
        return self

    def _update_scores(self, truth: npt.NDArray[np.str_], s: Floats, score_classes: list[str] | None) -> None:
        wanted = [str(c) for c in (score_classes or self.score_classes)]
        if not wanted:
            raise ValueError("scores need score_classes: the class whose probability each column gives")
        if self.score_classes and wanted != self.score_classes:
            raise ValueError(f"score classes {wanted} differ from this state's {self.score_classes}")
        if not self.score_classes:
            self.score_classes = wanted
            self.histograms = np.zeros((len(wanted), 2, self.bins), np.int64)
        s = s.reshape(-1, 1) if s.ndim == 1 else s
        if s.shape != (truth.size, len(wanted)):
            raise ValueError(f"scores have shape {s.shape}; expected ({truth.size}, {len(wanted)})")
        keep = np.all(np.isfinite(s), axis=1)
        bad = keep & np.any((s < 0.0) | (s > 1.0), axis=1)
        if bad.any():
            row = int(np.argmax(bad))
            raise ValueError(f"scores must be probabilities in [0, 1]; row {row} has {s[row].tolist()}")
        s, truth = s[keep], truth[keep]
        binned = curves.bin_of(s, self.bins)
        for i, c in enumerate(wanted):
            own = truth == c
            self.histograms[i, 1] += np.bincount(binned[own, i], minlength=self.bins)
            self.histograms[i, 0] += np.bincount(binned[~own, i], minlength=self.bins)
        if len(wanted) == 1:
            own = truth == wanted[0]
            prob = np.where(own, s[:, 0], 1.0 - s[:, 0])
            self.brier_sum += float(np.sum((s[:, 0] - own) ** 2))
        else:
            column = np.searchsorted(np.array(wanted, dtype=str), truth)
            known = np.isin(truth, wanted)
            prob = np.where(known, s[np.arange(truth.size), np.minimum(column, len(wanted) - 1)], 0.0)
        self.log_loss_sum += float(-np.sum(np.log(np.clip(prob, EPS, 1.0 - EPS))))
        self.scored += int(truth.size)

    def merge(self, other: ClassificationState) -> ClassificationState:
        """Add ``other`` into this state (they must share ``bins`` and, where both have scores, the score
        classes). Returns ``self``."""
        if other.bins != self.bins:
            raise ValueError(f"cannot merge states with {self.bins} and {other.bins} score bins")
        if self.score_classes and other.score_classes and self.score_classes != other.score_classes:
            raise ValueError(f"score classes {other.score_classes} differ from {self.score_classes}")
        if other.classes != self.classes:
            self._grow(sorted({*self.classes, *other.classes}))
            at = np.searchsorted(np.array(self.classes, dtype=str), np.array(other.classes, dtype=str))
            self.matrix[np.ix_(at, at)] += other.matrix
            self.unpredicted[at] += other.unpredicted
        else:
            self.matrix += other.matrix
            self.unpredicted += other.unpredicted
        if other.score_classes:
            if not self.score_classes:
                self.score_classes = list(other.score_classes)
                self.histograms = other.histograms.copy()
            else:
                self.histograms += other.histograms
        self.scored += other.scored
        self.log_loss_sum += other.log_loss_sum
        self.brier_sum += other.brier_sum
        return self

    def copy(self) -> ClassificationState:
        return ClassificationState(
            self.bins,
            list(self.classes),
            self.matrix.copy(),
            self.unpredicted.copy(),
            list(self.score_classes),
            self.histograms.copy(),
            self.scored,
            self.log_loss_sum,
            self.brier_sum,
        )

    def _grow(self, classes: list[str]) -> None:
        if classes == self.classes:
            return
        at = np.searchsorted(np.array(classes, dtype=str), np.array(self.classes, dtype=str))
        matrix = np.zeros((len(classes), len(classes)), np.int64)
        matrix[np.ix_(at, at)] = self.matrix
        unpredicted = np.zeros(len(classes), np.int64)
        unpredicted[at] = self.unpredicted
        self.classes, self.matrix, self.unpredicted = classes, matrix, unpredicted

    # -- the codec -----------------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        header = {
            "bins": self.bins,
            "classes": self.classes,
            "score_classes": self.score_classes,
            "scored": self.scored,
            "log_loss_sum": self.log_loss_sum,
            "brier_sum": self.brier_sum,
        }
        at = np.flatnonzero(self.histograms)  # a window fills few of its bins: keep those only
        counts = self.histograms.ravel()[at]
        return codec.pack(_MAGIC, _VERSION, header, [self.matrix, self.unpredicted, at, counts])

    @classmethod
    def from_bytes(cls, data: bytes) -> ClassificationState:
        h, (matrix, unpredicted, at, counts), _ = codec.unpack(_MAGIC, _VERSION, data, "classification state")
        histograms = np.zeros((len(h["score_classes"]), 2, h["bins"]), np.int64)
        histograms.ravel()[at] = counts
        return cls(
            h["bins"],
            h["classes"],
            matrix,
            unpredicted,
            h["score_classes"],
            histograms,
            h["scored"],
            h["log_loss_sum"],
            h["brier_sum"],
        )

    # -- counts --------------------------------------------------------------------------------------------

    @property
    def rows(self) -> int:
        """Labelled predictions counted."""
        return int(self.matrix.sum() + self.unpredicted.sum())

    def confusion_matrix(self) -> tuple[list[str], Ints]:
        """The classes and the matrix (rows: true class, columns: predicted), rows without a prediction
        left out."""
        return list(self.classes), self.matrix.copy()

    def confusion(self, positive: str) -> Confusion:
        """The one-vs-rest counts of ``positive`` (zeros for a class never seen)."""
        if positive not in self.classes:
            return Confusion(0, 0, 0, self.rows)
        i = self.classes.index(positive)
        tp = int(self.matrix[i, i])
        fp = int(self.matrix[:, i].sum()) - tp
        fn = int(self.matrix[i].sum() + self.unpredicted[i]) - tp
        return Confusion(tp, fp, fn, self.rows - tp - fp - fn)

    def correct(self) -> int:
        return int(np.trace(self.matrix))

    def accuracy(self) -> float:
        """The share of labelled predictions equal to their label; NaN for no rows."""
        return _ratio(self.correct(), self.rows)

    def positive_rate(self, positive: str) -> float:
        """The share of labelled rows predicted ``positive``."""
        return _ratio(self.confusion(positive).tp + self.confusion(positive).fp, self.rows)

    def _per_class(self) -> tuple[Floats, Floats, Floats]:
        tp = np.diag(self.matrix).astype(np.float64)
        predicted = self.matrix.sum(axis=0).astype(np.float64)
        actual = (self.matrix.sum(axis=1) + self.unpredicted).astype(np.float64)
        return tp, predicted, actual

    def per_class(self) -> dict[str, Confusion]:
        """Every class's one-vs-rest counts (precision, recall and F1 are properties of each)."""
        return {c: self.confusion(c) for c in self.classes}

    def precision(self, average: Average = "macro") -> float:
        tp, predicted, actual = self._per_class()
        return self._average(tp, predicted, actual, average)

    def recall(self, average: Average = "macro") -> float:
        tp, _, actual = self._per_class()
        return self._average(tp, actual, actual, average)

    def f1(self, average: Average = "macro") -> float:
        tp, predicted, actual = self._per_class()
        return self._average(2 * tp, predicted + actual, actual, average)

    @staticmethod
    def _average(num: Floats, den: Floats, support: Floats, average: Average) -> float:
        if average == "micro":
            return _ratio(float(num.sum()), float(den.sum()))
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
        defined = ~np.isnan(values)
        if average == "macro":
            return float(values[defined].mean()) if defined.any() else math.nan
        if average == "weighted":
            weight = support[defined]
            return float(np.dot(values[defined], weight) / weight.sum()) if weight.sum() else math.nan
        raise ValueError(f"average must be macro, micro or weighted, got {average!r}")

    # -- scores --------------------------------------------------------------------------------------------

    def _score_figure(self, fn: Any, of: str | None) -> float:
        if not self.score_classes:
            return math.nan
        if of is not None:
            if of not in self.score_classes:
                return math.nan
            i = self.score_classes.index(of)
            return float(fn(self.histograms[i, 1], self.histograms[i, 0]))
        values = [fn(h[1], h[0]) for h in self.histograms]
        defined = [v for v in values if not math.isnan(v)]
        return float(np.mean(defined)) if defined else math.nan

    def roc_auc(self, of: str | None = None) -> float:
        """ROC AUC of class ``of``'s score; by default the binary score's, or the one-vs-rest macro average
        over the scored classes; within ``roc_auc_bound`` of the exact value."""
        return self._score_figure(curves.roc_auc, of)

    def roc_auc_bound(self, of: str | None = None) -> float:
        return self._score_figure(curves.roc_auc_bound, of)

    def average_precision(self, of: str | None = None) -> float:
        """PR AUC as average precision, chosen as ``roc_auc``; within ``average_precision_bound``."""
        return self._score_figure(curves.average_precision, of)

    def average_precision_bound(self, of: str | None = None) -> float:
        return self._score_figure(curves.average_precision_bound, of)

    def confusion_at(self, threshold: float, of: str | None = None) -> tuple[Confusion, int]:
        """The one-vs-rest counts of a scored class (the binary score's by default) if the scored rows with
        a score at or above ``threshold`` were predicted that class, and how many rows share the threshold's
        bin: those count as at or above it, so the counts are exact but for at most that many rows."""
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {threshold}")
        of = of if of is not None else (self.score_classes[0] if len(self.score_classes) == 1 else None)
        if of is None or of not in self.score_classes:
            raise ValueError(f"no score for class {of!r}; scored classes: {self.score_classes}")
        neg, pos = self.histograms[self.score_classes.index(of)]
        k = int(curves.bin_of(np.array([threshold]), self.bins)[0])
        tp, fp = int(pos[k:].sum()), int(neg[k:].sum())
        fn, tn = int(pos.sum()) - tp, int(neg.sum()) - fp
        return Confusion(tp, fp, fn, tn), int(pos[k] + neg[k])

    def ece(self, n: int = diagram.DEFAULT_BINS, of: str | None = None) -> float:
        """Expected calibration error over ``n`` equal bins of class ``of``'s score, chosen as ``roc_auc``
        (multiclass by default: the mean of the classes' one-vs-rest ECE); within ``ece_bound``
        (``vigil.performance.reliability``)."""
        return self._score_figure(lambda pos, neg: diagram.ece(pos, neg, n), of)

    def ece_bound(self) -> float:
        return diagram.ece_bound(self.bins) if self.score_classes else math.nan

    def reliability(
        self, n: int = diagram.DEFAULT_BINS, of: str | None = None
    ) -> list[diagram.ReliabilityBin]:
        """The reliability diagram of class ``of``'s score (the binary score's by default): the non-empty of
        ``n`` equal bins; empty without scores."""
        of = of if of is not None else (self.score_classes[0] if len(self.score_classes) == 1 else None)
        if of is None or of not in self.score_classes:
            return []
        neg, pos = self.histograms[self.score_classes.index(of)]
        return diagram.reliability(pos, neg, n)

    def log_loss(self) -> float:
        """Mean log loss of the scored rows; NaN without any."""
        return _ratio(self.log_loss_sum, self.scored)

    def brier(self) -> float:
        """Mean squared error of a binary score against the 0/1 label; NaN without one."""
        return _ratio(self.brier_sum, self.scored) if len(self.score_classes) == 1 else math.nan


def _text(values: npt.ArrayLike) -> npt.NDArray[np.str_]:
    a = np.asarray(values)
    return a if a.dtype.kind == "U" else a.astype(str)


def _ratio(num: float, den: float) -> float:
    return num / den if den else math.nan
