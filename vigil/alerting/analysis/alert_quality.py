"""The alert-quality review: which rules cry wolf, and where their thresholds should be.

:func:`review` reads alert episodes (:class:`~vigil.alerting.response.episodes.Episode`) and judges each
rule, over all models and per model. Exact semantics:

* An episode **counts** when it fired in ``[start, end)``. Its **firing time** is ``resolved_at - fired_at``
  (``now - fired_at`` while still firing; never negative), counted whole even past ``end``.
* **notified**: ``notified_at`` is set; **unnotified** (muted, or never due): it is not. **acked**:
  ``acked_at`` is set. **ignored**: notified and never acked. ``ack_share`` and ``ignored_share`` are shares
  of the notified episodes (they add up to 1; None when none was notified).
* **time to acknowledge**: ``acked_at - notified_at`` (``- fired_at`` when never notified), at least 0;
  median and p90 over the acked episodes (p90 by linear interpolation, as ``numpy.quantile``).
* A **flap** is an episode that fired within ``flap_window`` seconds (1 h by default) after the previous
  episode of the same rule on the same model resolved (the previous one may lie before ``start``).
  ``flap_score`` = flaps / episodes.
* **false**: marked ``verdict: false`` by a person; ``false_share`` = false / episodes.
* **noise**: episodes not marked true that are false, ignored or a flap; ``noise_share`` = noise / episodes.
* **open**: still firing (no ``resolved_at``).

Each rule gets one verdict, the first that applies: ``false alarms`` (at least 2 marked false and 30% of
its episodes), ``noisy`` (at least 3 episodes and half of them noise), ``flapping`` (at least 2 flaps and a
flap score of 0.25), ``stuck`` (an episode open for more than a day), ``slow`` (p90 time to acknowledge
over 1 h), ``muted`` (no episode notified), ``ok``; ``quiet`` for a rule named in ``rules`` without
episodes. Each verdict comes with a line of facts and advice, e.g. ``noisy: 14 episodes, 71% never
acknowledged, 9 flaps — raise the threshold or lengthen `for```. Rules are sorted worst first: by verdict
in that order, then most noise, then most episodes, then name.

:func:`vigil.alerting.analysis.tuning.suggest_thresholds` proposes levels for one rule on one model from the
metric's own history. :mod:`vigil.alerting.analysis.render` presents a review with its suggestions as JSON,
text or HTML.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vigil.alerting.response.episodes import Episode
from vigil.timefmt import format_duration

__all__ = [
    "Review",
    "RuleReview",
    "RuleStats",
    "plural",
    "quantile",
    "review",
]

FLAP_WINDOW = 3600.0
"""Default seconds after a resolution within which a new episode counts as a flap."""

_VERDICTS = ("false alarms", "noisy", "flapping", "stuck", "slow", "muted", "ok", "quiet")
_RANK = {v: i for i, v in enumerate(_VERDICTS)}
_STUCK_AFTER = 86_400.0
_SLOW_ACK = 3_600.0
_MAD_TO_SIGMA = 1.482602218505602
"""1 / Φ⁻¹(3/4): the MAD of a normal distribution times this is its standard deviation."""


def quantile(ordered: Sequence[float], q: float) -> float:
    """The ``q`` quantile of ascending ``ordered`` values by linear interpolation between closest ranks
    (Hyndman & Fan type 7, numpy's default). Raises ValueError when empty or ``q`` is outside [0, 1].

    >>> quantile([1.0, 2.0, 3.0, 4.0], 0.5), quantile([1.0, 2.0, 3.0, 4.0], 0.9)
    (2.5, 3.7)
    """
    if not ordered or not 0 <= q <= 1:
        raise ValueError(f"quantile needs values and 0 <= q <= 1 (got {len(ordered)} values, q={q})")
    h = (len(ordered) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (h - lo) * (ordered[hi] - ordered[lo])


# -- review ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleStats:
    """One rule's episodes on one model (``model`` None: all models together); see the module docstring."""

    rule: str
    model: str | None
    episodes: int
    firing_seconds: float
    median_firing_seconds: float | None
    notified: int
    unnotified: int
    acked: int
    ignored: int
    ack_share: float | None
    ignored_share: float | None
    median_ack_seconds: float | None
    p90_ack_seconds: float | None
    flaps: int
    flap_score: float | None
    false: int
    false_share: float | None
    noise: int
    noise_share: float | None
    open: int
    longest_open_seconds: float | None
    critical: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class RuleReview:
    """One rule's verdict (see the module docstring), its stats over all models, and per model."""

    rule: str
    verdict: str
    line: str
    overall: RuleStats
    models: tuple[RuleStats, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "verdict": self.verdict,
            "line": self.line,
            "overall": self.overall.to_dict(),
            "models": [m.to_dict() for m in self.models],
        }


@dataclass(frozen=True)
class Review:
    """Every rule with episodes fired in ``[start, end)`` (and the ``rules`` asked for), worst first."""

    start: float
    end: float
    now: float
    flap_window: float
    episodes: int
    rules: tuple[RuleReview, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "now": self.now,
            "flap_window": self.flap_window,
            "episodes": self.episodes,
            "rules": [r.to_dict() for r in self.rules],
        }


def review(
    episodes: Iterable[Episode],
    start: float,
    end: float,
    now: float,
    *,
    flap_window: float = FLAP_WINDOW,
    rules: Iterable[str] = (),
) -> Review:
    """Judge every rule from its episodes fired in ``[start, end)``; ``now`` (seconds) ends open episodes.
    ``rules``: names to list as ``quiet`` when they have no episodes. See the module docstring."""
    every = sorted(episodes, key=lambda e: (e.rule, e.model, e.fired_at))
    flap: dict[str, bool] = {}
    last: dict[tuple[str, str], Episode] = {}
    for ep in every:
        prev = last.get((ep.rule, ep.model))
        flap[ep.id] = (
            prev is not None
            and prev.resolved_at is not None
            and 0 <= ep.fired_at - prev.resolved_at <= flap_window
        )
        last[(ep.rule, ep.model)] = ep
    counted = [ep for ep in every if start <= ep.fired_at < end]
    by_rule: dict[str, list[Episode]] = {name: [] for name in rules}
    for ep in counted:
        by_rule.setdefault(ep.rule, []).append(ep)
    out = []
    for name, eps in by_rule.items():
        overall = _stats(name, None, eps, flap, now)
        per_model: dict[str, list[Episode]] = {}
        for ep in eps:
            per_model.setdefault(ep.model, []).append(ep)
        models = sorted(
            (_stats(name, m, group, flap, now) for m, group in per_model.items()),
            key=lambda s: (-s.noise, -s.episodes, s.model or ""),
        )
        verdict, line = _verdict(overall)
        out.append(RuleReview(name, verdict, line, overall, tuple(models)))
    out.sort(key=lambda r: (_RANK[r.verdict], -r.overall.noise, -r.overall.episodes, r.rule))
    return Review(start, end, now, flap_window, len(counted), tuple(out))


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _stats(
    rule: str, model: str | None, eps: list[Episode], flap: Mapping[str, bool], now: float
) -> RuleStats:
    durations = [max(0.0, ep.duration(now)) for ep in eps]
    notified = [ep for ep in eps if ep.notified_at is not None]
    acked = [ep for ep in eps if ep.acked_at is not None]
    ignored = [ep for ep in notified if ep.acked_at is None]
    waits = sorted(
        max(0.0, ep.acked_at - (ep.notified_at if ep.notified_at is not None else ep.fired_at))
        for ep in acked
        if ep.acked_at is not None
    )
    flaps = sum(flap[ep.id] for ep in eps)
    false = sum(ep.verdict == "false" for ep in eps)
    noise = sum(
        ep.verdict != "true"
        and (ep.verdict == "false" or flap[ep.id] or (ep.notified_at is not None and ep.acked_at is None))
        for ep in eps
    )
    open_ = [max(0.0, ep.duration(now)) for ep in eps if ep.resolved_at is None]
    n = len(eps)
    return RuleStats(
        rule=rule,
        model=model,
        episodes=n,
        firing_seconds=sum(durations),
        median_firing_seconds=statistics.median(durations) if durations else None,
        notified=len(notified),
        unnotified=n - len(notified),
        acked=len(acked),
        ignored=len(ignored),
        ack_share=_share(len(notified) - len(ignored), len(notified)),
        ignored_share=_share(len(ignored), len(notified)),
        median_ack_seconds=statistics.median(waits) if waits else None,
        p90_ack_seconds=quantile(waits, 0.9) if waits else None,
        flaps=flaps,
        flap_score=_share(flaps, n),
        false=false,
        false_share=_share(false, n),
        noise=noise,
        noise_share=_share(noise, n),
        open=len(open_),
        longest_open_seconds=max(open_) if open_ else None,
        critical=sum(ep.severity == "critical" for ep in eps),
    )


def plural(n: int, word: str) -> str:
    """``1 episode``, ``3 episodes``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def _verdict(s: RuleStats) -> tuple[str, str]:
    if s.episodes == 0:
        return "quiet", "quiet: no episodes — nothing to tune"
    facts = [plural(s.episodes, "episode")]
    if s.ignored_share:
        facts.append(f"{s.ignored_share:.0%} never acknowledged")
    if s.flaps:
        facts.append(plural(s.flaps, "flap"))
    if s.false:
        facts.append(f"{s.false} marked false")
    if s.open:
        facts.append(f"{s.open} still firing")
    if s.p90_ack_seconds is not None:
        facts.append(f"p90 time to acknowledge {format_duration(s.p90_ack_seconds)}")
    if s.unnotified:
        facts.append(f"{s.unnotified} never notified")
    said = ", ".join(facts)
    false_share, noise_share, flap_score = s.false_share or 0.0, s.noise_share or 0.0, s.flap_score or 0.0
    if s.false >= 2 and false_share >= 0.3:
        verdict, advice = "false alarms", "raise the threshold (see the suggestions) or lengthen `for`"
    elif s.episodes >= 3 and noise_share >= 0.5:
        verdict = "noisy"
        if 2 * s.flaps >= s.noise:
            advice = "lengthen `for` or set keep_firing_for to ride out the flaps"
        else:
            advice = "raise the threshold or lengthen `for`"
    elif s.flaps >= 2 and flap_score >= 0.25:
        verdict, advice = "flapping", "set keep_firing_for (or lengthen `for`) so one problem is one episode"
    elif s.longest_open_seconds is not None and s.longest_open_seconds > _STUCK_AFTER:
        verdict = "stuck"
        advice = f"firing for {format_duration(s.longest_open_seconds)}: fix the cause, or retire the rule"
    elif s.p90_ack_seconds is not None and s.p90_ack_seconds > _SLOW_ACK:
        verdict, advice = "slow", "check that its route reaches someone who can act"
    elif s.notified == 0:
        verdict, advice = "muted", "nobody was told: check its route, silences and inhibitions"
    else:
        verdict, advice = "ok", "keep it"
    return verdict, f"{verdict}: {said} — {advice}"
