"""The history cache gives what the source gives, reads less, and takes in late data as documented."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from vigil.alerting.evaluate.cache import SeriesCache

STEP = 60.0


class Source:
    """One value per step: ``values[t]``; counts the steps read."""

    registry: Any = None

    def __init__(self) -> None:
        self.values: dict[float, float | None] = {}
        self.steps_read = 0

    def series(
        self,
        model: str,
        names: Sequence[str],
        start: float,
        end: float,
        step: float | None = None,
        version: str | None = None,
        segment: Mapping[str, str] | None = None,
        origin: float = 0.0,
    ) -> dict[str, list[tuple[float, float | None]]]:
        assert step is not None and not origin, "steps start at start: these tests read aligned windows"
        points = []
        t = start
        while t < end:
            points.append((t, self.values.get(t)))
            t += step
        self.steps_read += len(points)
        return {name: list(points) for name in names}

    def windows(self, model: str, start: float, end: float, version: str | None = None) -> dict[Any, Any]:
        raise AssertionError("the cache reads no windows")


def test_same_answers_fewer_reads_and_late_data_within_the_refresh() -> None:
    source = Source()
    now = [0.0]
    cache = SeriesCache(source, clock=lambda: now[0], refresh=7200, fresh=2)
    for i in range(2000):
        source.values[i * STEP] = float(i % 17)
    direct = Source()
    direct.values = source.values
    for minute in range(1000, 1119):  # two hours of rounds, each reading a day back
        now[0] = minute * STEP
        lo, hi = now[0] - 1440 * STEP, now[0]
        assert cache.series("m", ["x"], lo, hi, STEP) == direct.series("m", ["x"], lo, hi, STEP)
    assert source.steps_read < direct.steps_read / 20  # a day read once per hour, plus the new steps
    # late data: the newest two steps are read anew; an older change shows at the next refresh (the only
    # full read was at minute 1000, so the next is at 1120)
    source.values[1118 * STEP] = 99.0
    source.values[1000 * STEP] = 99.0
    now[0] = 1119 * STEP
    got = dict(cache.series("m", ["x"], now[0] - 1440 * STEP, now[0], STEP)["x"])
    assert got[1118 * STEP] == 99.0 and got[1000 * STEP] == float(1000 % 17)
    now[0] = 1120 * STEP
    got = dict(cache.series("m", ["x"], now[0] - 1440 * STEP, now[0], STEP)["x"])
    assert got[1000 * STEP] == 99.0
