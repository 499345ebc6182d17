"""Mergeable sketches: quantiles, distinct counts, frequent items. Each speaks update / merge / read."""

from vigil.sketches.distinct import HyperLogLog
from vigil.sketches.frequent import FrequentItems
from vigil.sketches.quantiles import QuantileSketch

__all__ = ["FrequentItems", "HyperLogLog", "QuantileSketch"]
