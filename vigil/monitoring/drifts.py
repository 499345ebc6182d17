"""Drift of complete steps, worked out once and kept.

Comparing a step's merged profile with the baseline costs some 6–10 ms of tests per model (more to merge
the profiles); a dashboard reads the same complete steps again and again (the overview reads every model's
last complete hour, a model page up to 30 heatmap cells). So a complete step's numbers, its drift share,
each compared column's effect size and which columns drifted, are kept in the store's records (kind
``drift``, one per model, version, step and step start): every server sharing the store, and this one
after a restart, reads the record instead. A server keeps the drift of ``KEPT_STEPS`` as they complete, so
the dashboard finds it kept.

A record is used only while it describes the same comparison: its ``stamp`` holds the step's event count
(rows only ever grow, so the same count means the same windows merged), a digest of the baseline's
profile, and a digest of the comparison's settings (the model's columns as the comparison sees them) and
of this Vigil's version. Anything else is worked out again, and the record replaced. Steps that are not
complete (ended less than ``GRACE`` ago) are not kept: they still change.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from vigil._version import __version__
from vigil.monitoring.catalogue import Drift
from vigil.monitoring.retention import GRACE
from vigil.spec import ModelSpec
from vigil.stats.profile import Profile
from vigil.store.base import Store

__all__ = ["KEPT_STEPS", "KIND", "DriftKeep", "Stamp"]

KIND = "drift"
KEPT_STEPS = (300, 900, 3600, 6 * 3600, 86_400)
"""Steps whose drift a server keeps as each completes (``Query.keep_drift``, after its rollups): those the
dashboard reads for its preset ranges (heatmap cells of 5 minutes for an hour, 15 for 6 hours, an hour for
a day, 6 hours for a week, a day for a month; the overview's last hour). Per model, some 17 comparisons
an hour."""
_FORMAT = 2
"""Of the records' bodies; part of every stamp, so a change of what is kept makes old records unused."""
_DIGESTS = 256
"""Most digests remembered (each holds its profile or spec alive)."""


@dataclass(frozen=True)
class Stamp:
    """What a kept step's numbers depend on (see the module docstring)."""

    events: int
    baseline: str
    settings: str


class DriftKeep:
    """Kept drift of complete steps, in ``store``'s records (see the module docstring)."""

    def __init__(self, store: Store, clock: Callable[[], float]) -> None:
        self.store = store
        self.clock = clock
        self._digests: dict[int, tuple[object, str]] = {}
        self._lock = threading.Lock()

    def profile_digest(self, baseline: Profile) -> str:
        """A digest of a baseline profile (worked out once per profile object): what a stamp holds of a
        baseline made from windows. A baseline file's is ``Baselines.file_digest``."""
        return self._digest(baseline, lambda: baseline.to_bytes())

    def settings(self, spec: ModelSpec, config_json: Callable[[], bytes]) -> str:
        """A digest of the comparison's settings for ``spec`` (``config_json``: the config the comparison
        runs with, as JSON) and of this Vigil's version."""
        return self._digest(spec, lambda: config_json() + f"|{__version__}|{_FORMAT}".encode())

    def read(
        self, model: str, version: str | None, step: float, start: float, stamp: Stamp
    ) -> tuple[bool, Drift | None]:
        """(whether numbers are kept for the step under this stamp, the numbers: None when the step was
        kept as having nothing to compare)."""
        record = self.store.record(KIND, _id(model, version, step, start))
        if record is None:
            return False, None
        body = orjson.loads(record.body)
        if body.get("stamp") != [stamp.events, stamp.baseline, stamp.settings]:
            return False, None
        if body.get("effects") is None:
            return True, None
        effects = {c: _number(e) for c, e in body["effects"].items()}
        return True, Drift(_number(body["share"]), effects, frozenset(body.get("drifted", ())))

    def keep(
        self, model: str, version: str | None, step: float, start: float, stamp: Stamp, drift: Drift | None
    ) -> bool:
        """Keep the step's numbers when the step is complete; True when kept."""
        now = self.clock()
        if start + step + GRACE > now:
            return False
        body = {
            "stamp": [stamp.events, stamp.baseline, stamp.settings],
            "share": None if drift is None else _finite(drift.share),
            "effects": None if drift is None else {c: _finite(e) for c, e in drift.effects.items()},
            "drifted": [] if drift is None else sorted(drift.drifted),
        }
        self.store.put_record(KIND, _id(model, version, step, start), orjson.dumps(body).decode(), now)
        return True

    def prune(self, before: float) -> int:
        """Forget the numbers kept before ``before`` (by when they were worked out); returns how many."""
        return self.store.delete_records(KIND, before)

    def _digest(self, owner: object, data: Callable[[], bytes]) -> str:
        """A digest of ``data()``, worked out once per ``owner`` object (profiles and specs are not changed
        in place once made)."""
        with self._lock:
            found = self._digests.get(id(owner))
        if found is not None and found[0] is owner:
            return found[1]
        digest = hashlib.blake2b(data(), digest_size=12).hexdigest()
        with self._lock:
            if len(self._digests) >= _DIGESTS:
                self._digests.clear()
            self._digests[id(owner)] = (owner, digest)
        return digest


def _id(model: str, version: str | None, step: float, start: float) -> str:
    return orjson.dumps([model, version, float(step), float(start)]).decode()


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None


def _number(v: float | None) -> float:
    return math.nan if v is None else float(v)
