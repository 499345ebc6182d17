"""Sequential change detectors, one algorithm per module: :class:`ADWIN`, :class:`PageHinkley`,
:class:`CUSUM`. Pure numpy; each ``update(values)`` returns the positions of that batch where a change was
detected, and ``arl`` (the mean number of values between false alarms on the null stream each states)
sets the trade-off between delay and false alarms the same way for all three
(:mod:`vigil.detectors.calibration`)."""

from vigil.detectors.adwin import ADWIN
from vigil.detectors.base import Detector, Positions
from vigil.detectors.cusum import CUSUM
from vigil.detectors.page_hinkley import PageHinkley

__all__ = ["ADWIN", "CUSUM", "Detector", "PageHinkley", "Positions"]
