"""The alert-quality review on hand-made episodes (counts, shares and times worked out by hand or with
numpy), threshold suggestions on generated series checked against numpy's exact quantiles and MAD, and the
three presentations (JSON, terminal, HTML with hostile names escaped)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any, cast

import numpy as np
import pytest
from scipy.stats import norm

from tests.alerting.test_replay import SeriesSource
from vigil.alerting.analysis.alert_quality import quantile, review
from vigil.alerting.analysis.render import review_html, review_json, review_text
from vigil.alerting.analysis.tuning import Suggestion, suggest_thresholds
from vigil.alerting.response.episodes import Episode
from vigil.alerting.rules import AnomalyRule, NoDataRule, RelativeRule, ThresholdRule

T0 = 1_800_000_000.0 - 1_800_000_000.0 % 3600
H = 3600.0
START, END = T0, T0 + 7 * 86_400
NOW = END


def ep(rule: str, model: str, fired: float, resolved: float | None, **kw: Any) -> Episode:
    return Episode(
        rule, model, T0 + fired, "warning", resolved_at=None if resolved is None else T0 + resolved, **kw
    )


EPISODES = [
    # Noisy on a: one before the range (counts only as the previous of the first), then three flaps in a row
    ep("Noisy", "a", -2000, -100, notified_at=T0 - 1990),
    ep("Noisy", "a", 0, 600, notified_at=T0 + 30),  # flap: 100 s after the previous resolved
    ep("Noisy", "a", 1200, 1500, notified_at=T0 + 1230),  # flap: 600 s
    ep("Noisy", "a", 1800, 2400, notified_at=T0 + 1830, acked_at=T0 + 1890, verdict="false"),  # flap: 300 s
    ep("Noisy", "a", 10 * H, 10 * H + 900, notified_at=T0 + 10 * H),
    # Noisy on b: a true problem acked after 300 s, then a flap (700 s) marked true, still firing
    ep(
        "Noisy",
        "b",
        2 * H,
        2 * H + 300,
        notified_at=T0 + 2 * H + 10,
        acked_at=T0 + 2 * H + 310,
        verdict="true",
    ),
    ep("Noisy", "b", 2 * H + 1000, None, notified_at=T0 + 2 * H + 1010, verdict="true"),
    # Good: acknowledged within minutes, far apart; a third fired after the range
    ep("Good", "a", H, H + 120, notified_at=T0 + H + 5, acked_at=T0 + H + 65),
    ep("Good", "a", 30 * H, 30 * H + 240, notified_at=T0 + 30 * H + 5, acked_at=T0 + 30 * H + 185),
    ep("Good", "a", 7 * 86_400 + 10, 7 * 86_400 + 20, notified_at=T0 + 7 * 86_400 + 15),
    # Muted: never notified
    ep("Muted", "c", 5 * H, 5 * H + 60),
]


def test_review_counts_shares_times_and_flaps_as_defined() -> None:
    result = review(EPISODES, START, END, NOW, rules=["Quiet", "Good"])
    assert [(r.rule, r.verdict) for r in result.rules] == [
        ("Noisy", "noisy"),
        ("Muted", "muted"),
        ("Good", "ok"),
        ("Quiet", "quiet"),
    ]
    assert result.episodes == 6 + 2 + 1
    noisy = result.rules[0].overall
    durations = [600, 300, 600, 900, 300, END - (T0 + 2 * H + 1000)]
    assert noisy.episodes == 6 and noisy.firing_seconds == sum(durations)
    assert noisy.median_firing_seconds == np.median(durations)
    assert (noisy.notified, noisy.acked, noisy.ignored, noisy.unnotified) == (6, 2, 4, 0)
    assert noisy.ack_share == 2 / 6 and noisy.ignored_share == 4 / 6
    waits = [60.0, 300.0]
    assert noisy.median_ack_seconds == np.median(waits)
    assert noisy.p90_ack_seconds == pytest.approx(np.quantile(waits, 0.9), rel=1e-12)
    assert (noisy.flaps, noisy.flap_score) == (4, 4 / 6)
    assert (noisy.false, noisy.false_share) == (1, 1 / 6)
    assert (noisy.noise, noisy.noise_share) == (4, 4 / 6)  # the two marked true are not noise
    assert (noisy.open, noisy.longest_open_seconds) == (1, durations[-1])
    assert [(m.model, m.episodes, m.flaps, m.noise) for m in result.rules[0].models] == [
        ("a", 4, 3, 4),
        ("b", 2, 1, 0),
    ]
    assert result.rules[0].line.startswith(
        "noisy: 6 episodes, 67% never acknowledged, 4 flaps, 1 marked false, 1 still firing"
    )
    assert result.rules[0].line.endswith("— lengthen `for` or set keep_firing_for to ride out the flaps")
    good = result.rules[2].overall
    assert (good.episodes, good.ack_share, good.flaps) == (2, 1.0, 0)
    assert good.p90_ack_seconds == pytest.approx(np.quantile([60.0, 180.0], 0.9), rel=1e-12)
    muted = result.rules[1].overall
    assert (muted.unnotified, muted.ack_share, muted.ignored_share) == (1, None, None)
    assert result.rules[3].overall.episodes == 0


def test_flap_window_is_a_parameter() -> None:
    noisy = review(EPISODES, START, END, NOW, flap_window=200).rules[0].overall
    assert noisy.flaps == 1  # only the 100 s gap


@pytest.mark.parametrize(
    ("episodes", "verdict", "advice"),
    [
        # 2 of 3 marked false
        (
            [
                ep("X", "a", k * H, k * H + 60, notified_at=T0 + k * H, acked_at=T0 + k * H + 60)
                for k in (0, 5, 9)
            ],
            "false alarms",
            "raise the threshold",
        ),
        # 5 acked episodes, 2 of them flaps: 40% noise, flap score 0.4
        (
            [
                ep("X", "a", t, t + 60, notified_at=T0 + t, acked_at=T0 + t + 30)
                for t in (0, 600, 1200, 10 * H, 20 * H)
            ],
            "flapping",
            "set keep_firing_for",
        ),
        ([ep("X", "a", 0, None, notified_at=T0, acked_at=T0 + 60)], "stuck", "fix the cause"),
        ([ep("X", "a", 0, 60, notified_at=T0, acked_at=T0 + 2 * H)], "slow", "check that its route"),
    ],
)
def test_each_verdict_and_its_advice(episodes: list[Episode], verdict: str, advice: str) -> None:
    if verdict == "false alarms":
        episodes = [replace(e, verdict="false") for e in episodes[:2]] + episodes[2:]
    (rule,) = review(episodes, START, END, NOW).rules
    assert rule.verdict == verdict and rule.line.startswith(f"{verdict}: ") and advice in rule.line


# -- suggestions -------------------------------------------------------------------------------------------

STEP = 300.0  # a 5m rule on a model with 1m windows


def runs(breach: list[bool]) -> list[tuple[int, int]]:
    """(first index, length) of each run of consecutive True."""
    out, k = [], 0
    while k < len(breach):
        if breach[k]:
            j = k
            while j < len(breach) and breach[j]:
                j += 1
            out.append((k, j - k))
            k = j
        else:
            k += 1
    return out


def expected_replay(
    values: list[float | None], beyond: Callable[..., object], hold: int
) -> tuple[float, int, float]:
    """Share of windows breaching, episodes and firing seconds of a threshold rule with ``for`` = ``hold``
    windows and no keep_firing_for, evaluated once per window: a run of r breaching windows fires at its
    (hold+1)-th window and resolves at the window after it, or stays open to the last evaluation."""
    breach = [v is not None and bool(beyond(v)) for v in values]
    episodes, firing = 0, 0.0
    for first, length in runs(breach):
        if length > hold:
            episodes += 1
            stop = first + length if first + length < len(values) else len(values) - 1
            firing += (stop - (first + hold)) * STEP
    return sum(breach) / len(values), episodes, firing


def by_name_episodes(got: Suggestion, name: str) -> int:
    return next(c.episodes for c in got.candidates if c.name == name)


def series(values: list[float | None]) -> SeriesSource:
    return SeriesSource({T0 + STEP * k: v for k, v in enumerate(values)})


def test_suggestion_for_a_greater_than_rule_matches_numpy_and_each_candidate_its_replay() -> None:
    rng = np.random.default_rng(7)
    data = rng.normal(10.0, 2.0, 2000)
    data[[100, 101, 102, 500, 900, 901, 902, 903, 1999]] += 30  # incidents, one still on at the end
    values: list[float | None] = [float(v) for v in data]
    values[5] = values[50] = None
    rule = ThresholdRule(name="Lat", metric="latency_p95", warning=15, critical=25, window="5m", for_="10m")
    got = suggest_thresholds(rule, series(values), "m", START, START + STEP * len(values))

    x = np.array([v for v in values if v is not None])
    median = np.median(x)
    mad = np.median(np.abs(x - median))
    sigma = mad / norm.ppf(0.75)
    q99, q999 = np.quantile(x, [0.99, 0.999])
    tol = 1e-12  # both exact: the same order statistics, interpolated the same way
    assert (got.windows, got.values, got.step) == (2000, 1998, STEP)
    assert got.median == pytest.approx(median, rel=tol) and got.mad == pytest.approx(mad, rel=tol)
    assert got.sigma == pytest.approx(sigma, rel=1e-9)
    assert got.quantiles == {"p99": pytest.approx(q99, rel=tol), "p99.9": pytest.approx(q999, rel=tol)}
    tail = max(sigma, (q99 - median) / 3)
    assert got.warning == pytest.approx(median + 3 * tail, rel=1e-9)
    assert got.warning == pytest.approx(max(median + 3 * sigma, q99), rel=1e-9)  # the same, said differently
    assert got.critical == pytest.approx(median + 5 * tail, rel=1e-9)
    # the incidents fill 0.45% of the windows: p99.9 lies among them and would have missed both, the
    # suggested critical (extrapolated from p99) catches the 3- and 4-window ones
    assert q999 > 35 and by_name_episodes(got, "p99.9") == 0 and by_name_episodes(got, "suggested") >= 2

    by_name = {c.name: c for c in got.candidates}
    assert list(by_name) == [
        "current rule",
        "current warning",
        "current critical",
        "median+3σ",
        "median+5σ",
        "p99",
        "p99.9",
        "suggested",
    ]
    for c in got.candidates:
        lowest = c.warning if c.warning is not None else c.critical
        share, episodes, firing = expected_replay(values, lambda v, L=lowest: v > L, hold=2)
        assert (c.breach_share, c.episodes, c.firing_seconds) == (
            cast(float, pytest.approx(share, abs=1e-15)),
            episodes,
            firing,
        ), c
    # the 3- and 4-window incidents hold `for` (10m: the third window) and fire; the single windows do not
    assert by_name["current rule"].episodes >= 2


def test_suggestion_for_a_less_than_rule_is_mirrored() -> None:
    rng = np.random.default_rng(11)
    data = rng.normal(0.9, 0.02, 3000)
    data[1000:1004] -= 0.3
    values: list[float | None] = [float(v) for v in data]
    # the synthetic source has no label counts: min_labels=0 judges every value
    rule = ThresholdRule(name="Acc", metric="accuracy", op="<", warning=0.85, window="5m", min_labels=0)
    got = suggest_thresholds(rule, series(values), "m", START, START + STEP * len(values))
    median = np.median(data)
    sigma = np.median(np.abs(data - median)) / norm.ppf(0.75)
    q01, q001 = np.quantile(data, [0.01, 0.001])
    assert got.quantiles == {"p1": pytest.approx(q01, rel=1e-12), "p0.1": pytest.approx(q001, rel=1e-12)}
    tail = max(sigma, (median - q01) / 3)
    assert got.warning == pytest.approx(min(median - 3 * sigma, q01), rel=1e-9)
    assert got.critical == pytest.approx(median - 5 * tail, rel=1e-9)
    assert got.critical is not None and got.warning is not None
    assert got.critical < got.warning
    for c in got.candidates:
        lowest = c.warning if c.warning is not None else c.critical
        share, episodes, firing = expected_replay(values, lambda v, L=lowest: v < L, hold=0)
        assert (c.breach_share, c.episodes, c.firing_seconds) == (
            cast(float, pytest.approx(share, abs=1e-15)),
            episodes,
            firing,
        ), c


def test_suggestion_edge_cases_constant_empty_unaligned_and_refused() -> None:
    rule = ThresholdRule(name="E", metric="error_rate", warning=0.5, window="5m")
    flat = suggest_thresholds(rule, series([0.0] * 50), "m", START, START + 50 * STEP)
    assert (flat.mad, flat.warning, flat.critical) == (0.0, 0.0, None)
    assert any("warning only" in n for n in flat.notes)
    # an unaligned range keeps the whole windows inside it only
    part = suggest_thresholds(rule, series([0.1] * 50), "m", START + 10, START + 10 * STEP + 10)
    assert (part.start, part.end, part.windows) == (START + STEP, START + 10 * STEP, 9)
    empty = suggest_thresholds(rule, series([None] * 20), "m", START, START + 20 * STEP)
    assert (empty.values, empty.warning) == (0, None) and "nothing to suggest" in empty.notes[0]
    assert [c.name for c in empty.candidates] == ["current rule", "current warning"]
    drops = AnomalyRule(
        name="D", metric="accuracy", direction="down", window="5m", baseline_window="1h", min_labels=0
    )
    acc = np.array([0.9, 0.91, 0.89] * 30)
    down = suggest_thresholds(drops, series(list(acc)), "m", START, START + 90 * STEP)
    sigma = np.median(np.abs(acc - 0.9)) / norm.ppf(0.75)
    assert down.op == "<" and down.warning == pytest.approx(min(0.9 - 3 * sigma, np.quantile(acc, 0.01)))
    assert (down.candidates[0].warning, down.candidates[0].critical) == (None, None)  # z levels are not shown
    with pytest.raises(ValueError, match="no_data"):
        suggest_thresholds(
            NoDataRule(
                name="N",
            ),
            series([1.0]),
            "m",
            START,
            START + STEP,
        )
    with pytest.raises(ValueError, match="not registered"):
        suggest_thresholds(rule, series([1.0]), "x", START, START + STEP)


def test_quantile_matches_numpy_on_many_shapes() -> None:
    rng = np.random.default_rng(3)
    for n in (1, 2, 3, 10, 101, 1000):
        for draw in (rng.normal(size=n), rng.exponential(size=n), rng.integers(0, 3, size=n).astype(float)):
            ordered = sorted(float(v) for v in draw)
            for q in (0.0, 0.001, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0):
                assert quantile(ordered, q) == pytest.approx(np.quantile(draw, q), rel=1e-12, abs=1e-15)
    with pytest.raises(ValueError):
        quantile([], 0.5)


# -- presentation ------------------------------------------------------------------------------------------

HOSTILE = '<script>alert("pwn")</script>'


def test_json_text_and_html_carry_every_rule_and_html_escapes_hostile_names() -> None:
    episodes = [*EPISODES, ep(HOSTILE, "<img src=x onerror=alert(1)>", 3 * H, 3 * H + 60)]
    result = review(episodes, START, END, NOW)
    rule = RelativeRule(name=HOSTILE, metric="latency_p95", factor=3, window="5m", baseline_window="1h")
    suggestion = suggest_thresholds(rule, series([10.0, 11, 9, 10, 50] * 40), "m", START, START + 200 * STEP)
    assert any("relative rule" in n for n in suggestion.notes)

    body = json.loads(json.dumps(review_json(result, [suggestion])))
    assert [r["rule"] for r in body["rules"]] == [r.rule for r in result.rules]
    assert body["rules"][0]["overall"]["episodes"] == 6 and body["suggestions"][0]["rule"] == HOSTILE
    assert body["suggestions"][0]["warning"] == suggestion.warning

    text = review_text(result, [suggestion])
    for r in result.rules:
        assert f"{r.rule}  {r.line}" in text
    assert "Threshold suggestions" in text and "current rule" in text

    page = review_html(result, [suggestion])
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&#34;pwn&#34;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    for r in result.rules:
        assert f"</span>{r.rule}</h3>" in page or r.rule == HOSTILE
    assert re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page) is None  # nothing fetched
    assert "<link" not in page and page.startswith("<!DOCTYPE html>")
