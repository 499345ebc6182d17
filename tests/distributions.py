"""Seeded samples of assorted shapes, shared by the statistics tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Sampler = Callable[[np.random.Generator, int], np.ndarray]

SHAPES: dict[str, Sampler] = {
    "normal": lambda g, n: g.normal(0, 1, n),
    "shifted_narrow": lambda g, n: g.normal(1000, 1, n),
    "lognormal": lambda g, n: g.lognormal(0, 1, n),
    "exponential": lambda g, n: g.exponential(2.0, n),
    "uniform": lambda g, n: g.uniform(-5, 5, n),
    "bimodal": lambda g, n: np.where(g.random(n) < 0.3, g.normal(-4, 0.5, n), g.normal(3, 1, n)),
    "student_t2": lambda g, n: g.standard_t(2, n),
    "pareto": lambda g, n: g.pareto(1.5, n),
    "negative_skew": lambda g, n: -g.gamma(2.0, 3.0, n),
    "tiny_values": lambda g, n: g.normal(1e-6, 1e-7, n),
    "poisson": lambda g, n: g.poisson(20, n).astype(float),
}
