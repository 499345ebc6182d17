"""Mergeable sketches: quantiles, distinct counts, frequent items, spend by value. Each speaks update /
merge / read."""

from vigil.sketches.distinct import HyperLogLog
from vigil.sketches.frequent import FrequentItems
from vigil.sketches.quantiles import QuantileSketch
from vigil.sketches.spenders import Spenders

__all__ = ["FrequentItems", "HyperLogLog", "QuantileSketch", "Spenders"]
