"""What a step of a series reads besides its windows and its predictions: the hosts' readings (SDK host
metrics) and the feedback given in it, each grouped by step."""

from __future__ import annotations

from collections.abc import Callable

from vigil.store.base import Store

__all__ = ["feedback_by_step", "host_means"]


def host_means(
    store: Store, model: str, names: list[str], first: float, end: float, bucket: Callable[[float], float]
) -> dict[float, dict[str, float]]:
    """Mean host readings per step: {step start: {reading (``cpu_percent``...): mean}}, for the steps and
    readings there are."""
    if not names:
        return {}
    sums: dict[float, dict[str, list[float]]] = {}
    for row in store.host_metrics(model, first, end):
        t = bucket(row.ts)
        for name in names:
            reading = name[len("host_") :]
            value = getattr(row, reading, None)
            if value is not None:
                sums.setdefault(t, {}).setdefault(reading, []).append(float(value))
    return {t: {r: sum(v) / len(v) for r, v in readings.items()} for t, readings in sums.items()}


def feedback_by_step(
    store: Store, model: str, start: float, end: float, bucket: Callable[[float], float]
) -> dict[float, dict[str, list[float]]]:
    """The feedback given in ``[start, end)``, by step and kind."""
    out: dict[float, dict[str, list[float]]] = {}
    for row in store.feedback(model, start, end):
        out.setdefault(bucket(row.ts), {}).setdefault(row.name, []).append(row.value)
    return out
