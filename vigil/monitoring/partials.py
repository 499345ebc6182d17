"""The current hour so far, kept: the service part of its windows (events, errors, latency, tokens, cost)
merged, in the store's records (kind ``hour``, one per model and hour), renewed by the server after its
rollups (every minute). A page that sums up the current hour, the overview's newest step, reads one record
and the few windows saved since, not the hour's 60 windows, also on a server that just started.

A kept hour stands for the saved rows starting in ``[hour, upto)`` (every writer's, every version) only
while their event count is the one kept with it (rows only grow: the same count means the same rows);
otherwise it is not used. It holds no feature profile and no event sample: read it for service metrics.
"""

from __future__ import annotations

import base64
import math

import orjson

from vigil.monitoring.reads import Reader
from vigil.monitoring.retention import HOUR, coarse_counts
from vigil.monitoring.window import WindowState
from vigil.store.base import Store

__all__ = ["KIND", "HourSoFar", "service"]

KIND = "hour"


def service(state: WindowState) -> WindowState:
    """The service part of ``state`` (its spend too): no profile, no sample, no error kinds."""
    return WindowState(
        events=state.events,
        errors=state.errors,
        latency=state.latency,
        latency_moments=state.latency_moments,
        tokens_in=state.tokens_in,
        tokens_out=state.tokens_out,
        cost=state.cost,
        sample_size=0,
        spend=state.spend,
    )


class HourSoFar:
    """Keeps and reads the current hour so far (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._reader = Reader(store, None)  # saved rows only: what another process can check
        self._kept: dict[str, float] = {}

    def keep(self, model: str, res: int, now: float) -> bool:
        """Keep the hour of ``now`` up to its last window closed two windows ago (as the overview's newest
        step settles); False when there is nothing new to keep (or windows are an hour or longer)."""
        hour = math.floor(now / HOUR) * HOUR
        upto = math.floor(now / res) * res - 2 * res
        if res >= HOUR or upto <= hour or self._kept.get(model) == upto:
            return False
        chosen, _ = coarse_counts(self.store, model, res, hour, upto, None)
        merged = WindowState(sample_size=0)
        for key, state in sorted(self._reader.states(model, res, hour, upto, None).items()):
            if hour <= key.start < upto:
                merged.merge(service(state))
        body = {
            "upto": upto,
            "events": sum(c.events for c in chosen if hour <= c.start < upto),
            "state": base64.b64encode(merged.to_bytes()).decode(),
        }
        self.store.put_record(KIND, _id(model, hour), orjson.dumps(body).decode(), now)
        self.store.delete_records(KIND, hour - HOUR)  # hours rolled up since: read from their rollups
        self._kept[model] = upto
        return True

    def read(self, store: Store, model: str, res: int, hour: float) -> tuple[float, WindowState] | None:
        """(upto, the service part of the rows starting in ``[hour, upto)`` merged) when kept and still
        true of the rows, read through ``store`` (a page's snapshot); else None."""
        record = store.record(KIND, _id(model, hour))
        if record is None:
            return None
        body = orjson.loads(record.body)
        upto = float(body["upto"])
        chosen, _ = coarse_counts(store, model, res, hour, upto, None)
        if sum(c.events for c in chosen if hour <= c.start < upto) != body["events"]:
            return None
        return upto, WindowState.from_bytes(base64.b64decode(body["state"]), sample=False)


def _id(model: str, hour: float) -> str:
    return orjson.dumps([model, float(hour)]).decode()
