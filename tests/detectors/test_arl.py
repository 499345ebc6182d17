"""False alarms and delay in numbers, by simulation against what each detector's docstring states.

Run lengths between false alarms are close to exponential, so over N false alarms the mean run has a
relative standard error of about 1/√N; each check allows at least 4 standard errors."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from vigil.detectors import ADWIN, CUSUM, Detector, PageHinkley
from vigil.detectors.calibration import ADWIN_TABLE, adwin_delta, cusum_h, siegmund


def _mean_run(detector: Detector, values: np.ndarray) -> tuple[float, int]:
    alarms = detector.update(values).size
    return values.size / max(alarms, 1), alarms


@pytest.mark.parametrize(
    ("make", "arl", "tolerance"),
    [
        (lambda: CUSUM(), 10_000, 0.20),  # 4e6 values: ~400 alarms, SE 5%
        (lambda: CUSUM(arl=1_000, k=0.5), 1_000, 0.10),  # ~4,000 alarms, SE 1.6%
        (lambda: PageHinkley(), 10_000, 0.20),
        (lambda: PageHinkley(arl=1_000, delta=0.3), 1_000, 0.10),
        (lambda: ADWIN(arl=5_000), 5_000, 0.25),  # ~800 alarms, SE 3.5%, plus the table's interpolation
    ],
)
def test_mean_run_between_false_alarms_on_the_null(
    make: Callable[[], Detector], arl: float, tolerance: float
) -> None:
    values = np.random.default_rng(2024).normal(3.0 if not isinstance(make(), CUSUM) else 0.0, 1.0, 4_000_000)
    run, alarms = _mean_run(make(), values)
    assert abs(run / arl - 1) < tolerance, (run, alarms)


def test_page_hinkley_ignores_the_level_and_reads_the_scale() -> None:
    """The same stream shifted and scaled gives the same alarms once ``scale`` says σ."""
    x = np.random.default_rng(1).normal(0, 1, 200_000)
    want = PageHinkley(arl=2_000).update(x).tolist()
    assert PageHinkley(arl=2_000, scale=50.0).update(1000 + 50 * x).tolist() == want


def test_cusum_h_solves_siegmund() -> None:
    h = cusum_h(10_000, 0.25)
    assert abs(siegmund(h, 0.25) - 20_000) < 1e-6 * 20_000
    assert 14.4 < h < 14.6  # the figure the CUSUM docstring states


def test_adwin_delta_interpolates_its_table() -> None:
    for delta, arl in ADWIN_TABLE:
        assert adwin_delta(arl) == pytest.approx(delta, rel=1e-9)
    assert ADWIN_TABLE[1][0] < adwin_delta(50_000) < ADWIN_TABLE[2][0]


@pytest.mark.parametrize(
    ("make", "bound_1", "bound_half"),
    [(lambda: CUSUM(), 25, 65), (lambda: PageHinkley(), 50, 110), (lambda: ADWIN(arl=10_000), 50, 85)],
)
def test_delay_after_a_mean_shift(make: Callable[[], Detector], bound_1: float, bound_half: float) -> None:
    """Mean delay over 300 streams of 500 in-control values (none with a false alarm) then a shift of 1σ
    (and 0.5σ): within the bound stated here (measured: CUSUM 19 and 50, Page-Hinkley 41 and 91, ADWIN 39
    and 67)."""
    rng = np.random.default_rng(3)
    for shift, bound in ((1.0, bound_1), (0.5, bound_half)):
        delays = []
        for _ in range(300):
            d = make()
            while d.update(rng.normal(0, 1, 500)).size:  # a false alarm before the shift: draw again
                d = make()
            hit = d.update(rng.normal(shift, 1, 1000))
            delays.append(hit[0] + 1 if hit.size else 1000)
        assert np.mean(delays) < bound, (type(d).__name__, shift, np.mean(delays))
