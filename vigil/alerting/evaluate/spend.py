"""What a cost alert says about who spends: the costliest user and feature behind the breaching window.

A firing alert on a spend metric (``cost``, ``cost_per_prediction``, ``tokens_in``, ``tokens_out``,
``tokens_per_prediction``, ``top_spender_share``) reads the window's states once and adds, per tag the
model keeps spend by (``spend.by``), ``top_<tag>`` (the value) and ``top_<tag>_share`` (its share of the
window's cost). The ``top_spender_share`` rule's summary names the user: "user u-4821 spent 38% of
assistant's cost in the last 15m, 1.2% on average" (the average: the rule's baseline, the top user's
share over the baseline window, whoever it was); the other rules' summaries end with the source:
"top user u-4821 (38% of the cost), top feature chat (90%)". A rule's own ``summary`` is left as
written. Only breaching evaluations read the windows (once per round while pending or firing), so quiet
rounds cost nothing more.
"""

from __future__ import annotations

from vigil.alerting.evaluate.source import MetricSource
from vigil.alerting.rules.base import Evaluation
from vigil.monitoring.spend import TopSpender, top_spender
from vigil.spec import ModelSpec
from vigil.timefmt import format_span

__all__ = ["SPEND_METRICS", "spend_notes"]

SPEND_METRICS = frozenset(
    {"cost", "cost_per_prediction", "tokens_in", "tokens_out", "tokens_per_prediction", "top_spender_share"}
)


def _pct(share: float) -> str:
    """``0.38`` → ``38%``, ``0.012`` → ``1.2%``: two significant digits below 10%."""
    return f"{share * 100:.2g}%" if share < 0.1 else f"{share * 100:.0f}%"


def spend_notes(ev: Evaluation, spec: ModelSpec, source: MetricSource, summary: str) -> dict[str, str]:
    """The annotations to add to a firing spend alert's (see the module docstring); ``summary`` is the
    one ``annotations_for`` gave. Empty for other metrics, or when the window has no spend by tag."""
    rule = ev.rule
    if ev.breached is None or rule.metric not in SPEND_METRICS or not spec.spend.by:
        return {}
    states = list(source.windows(ev.model, ev.start, ev.end, rule.version).values())
    tops: list[TopSpender] = []
    for tag in spec.spend.by:
        top = top_spender(states, tag)
        if top is not None:
            tops.append(top)
    if not tops:
        return {}
    notes: dict[str, str] = {}
    for top in tops:
        notes[f"top_{top.tag}"] = top.value
        notes[f"top_{top.tag}_share"] = f"{top.share:.4g}"
    if rule.summary is not None:
        return notes
    user = next((t for t in tops if t.tag == "user"), None)
    if rule.metric == "top_spender_share" and user is not None:
        said = (
            f"{rule.name}: user {user.value} spent {_pct(user.share)} of {ev.model}'s cost in the last "
            f"{format_span(ev.end - ev.start)}"
        )
        if ev.baseline is not None:
            said += f", {_pct(ev.baseline)} on average"
        notes["summary"] = said
    else:
        first, *rest = tops
        source_ = f"top {first.tag} {first.value} ({_pct(first.share)} of the cost)"
        source_ += "".join(f", top {t.tag} {t.value} ({_pct(t.share)})" for t in rest)
        notes["summary"] = f"{summary}; {source_}"
    return notes
