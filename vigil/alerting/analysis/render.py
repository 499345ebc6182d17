"""The alert-quality review (:mod:`vigil.alerting.analysis.alert_quality`) presented: as JSON, as text for
a terminal and as one HTML page.

The HTML is one self-contained page: inline CSS, no scripts or external resources, every value from the data
escaped by Jinja's autoescaping (``templates/review.html.j2`` beside this module).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jinja2

from vigil.alerting.analysis.alert_quality import Review, RuleStats, plural
from vigil.alerting.analysis.tuning import Candidate, Suggestion
from vigil.timefmt import format_duration, format_time

__all__ = ["review_html", "review_json", "review_text"]


def review_json(review: Review, suggestions: Sequence[Suggestion] = ()) -> dict[str, Any]:
    """The review and suggestions as one JSON-ready dict (seconds since the epoch; None for no value)."""
    return {**review.to_dict(), "suggestions": [s.to_dict() for s in suggestions]}


def _n(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def _p(share: float | None) -> str:
    return "—" if share is None else f"{share:.0%}"


def _d(seconds: float | None) -> str:
    return "—" if seconds is None else format_duration(seconds)


_STAT_HEAD: tuple[str, ...] = (
    "model",
    "episodes",
    "firing",
    "median",
    "acked",
    "ignored",
    "ack p50",
    "ack p90",
)
_STAT_HEAD += ("flaps", "false", "open", "unnotified")
_CAND_HEAD = ("candidate", "warning", "critical", "breaching", "episodes", "firing")


def _stat_row(s: RuleStats) -> tuple[str, ...]:
    return (
        s.model if s.model is not None else "all",
        str(s.episodes),
        _d(s.firing_seconds),
        _d(s.median_firing_seconds),
        _p(s.ack_share),
        _p(s.ignored_share),
        _d(s.median_ack_seconds),
        _d(s.p90_ack_seconds),
        str(s.flaps),
        str(s.false),
        str(s.open),
        str(s.unnotified),
    )


def _cand_row(c: Candidate) -> tuple[str, ...]:
    return (
        c.name,
        _n(c.warning),
        _n(c.critical),
        f"{c.breach_share:.2%}",
        str(c.episodes),
        _d(c.firing_seconds),
    )


def _suggestion_head(s: Suggestion) -> str:
    return (
        f"{s.rule} on {s.model} ({s.metric} {s.op}, {s.values} of {s.windows} windows of "
        f"{format_duration(s.step)}): median {_n(s.median)}, σ̂ {_n(s.sigma)}, "
        + ", ".join(f"{k} {_n(v)}" for k, v in s.quantiles.items())
    )


def _table(rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def review_text(review: Review, suggestions: Sequence[Suggestion] = ()) -> str:
    """The review for a terminal: one verdict line per rule (worst first) with a table of its models, then
    each suggestion with its candidates."""
    lines = [
        f"Alert review {format_time(review.start)} to {format_time(review.end)}: "
        f"{plural(review.episodes, 'episode')} of {plural(len(review.rules), 'rule')}",
    ]
    for r in review.rules:
        lines += ["", f"{r.rule}  {r.line}"]
        if r.overall.episodes:
            lines += _table([_STAT_HEAD, _stat_row(r.overall), *(_stat_row(m) for m in r.models)])
    if suggestions:
        lines += ["", "Threshold suggestions"]
    for s in suggestions:
        lines += ["", _suggestion_head(s)]
        lines.append(f"  suggested: warning {_n(s.warning)}, critical {_n(s.critical)}  ({s.method})")
        lines += [f"  note: {note}" for note in s.notes]
        lines += _table([_CAND_HEAD, *(_cand_row(c) for c in s.candidates)])
    return "\n".join(lines) + "\n"


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("vigil.alerting.analysis", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def review_html(review: Review, suggestions: Sequence[Suggestion] = ()) -> str:
    """The review as one self-contained HTML page (``vigil/alerting/analysis/templates/review.html.j2``)."""
    context = {
        "title": f"Vigil alert review {format_time(review.start)} to {format_time(review.end)}",
        "summary": f"{plural(review.episodes, 'episode')} of {plural(len(review.rules), 'rule')}, "
        f"flaps within {format_duration(review.flap_window)} of a resolution",
        "generated": format_time(review.now),
        "stat_head": _STAT_HEAD,
        "rules": [
            {
                "name": r.rule,
                "verdict": r.verdict,
                "tone": "good"
                if r.verdict in ("ok", "quiet")
                else "warn"
                if r.verdict in ("slow", "muted")
                else "bad",
                "line": r.line,
                "rows": [_stat_row(r.overall), *(_stat_row(m) for m in r.models)]
                if r.overall.episodes
                else [],
            }
            for r in review.rules
        ],
        "cand_head": _CAND_HEAD,
        "suggestions": [
            {
                "head": _suggestion_head(s),
                "levels": f"warning {_n(s.warning)}, critical {_n(s.critical)}",
                "method": s.method,
                "notes": list(s.notes),
                "rows": [_cand_row(c) for c in s.candidates],
            }
            for s in suggestions
        ],
    }
    return _environment().get_template("review.html.j2").render(**context)
