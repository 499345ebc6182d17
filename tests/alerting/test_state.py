"""The alert state machine, driven through timelines (t in seconds)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from vigil.alerting.state import AlertState, Phase, Severity, Timing, step

W, C = Severity.WARNING, Severity.CRITICAL
INACTIVE, PENDING, FIRING, RESOLVED = Phase.INACTIVE, Phase.PENDING, Phase.FIRING, Phase.RESOLVED


def run(timing: Timing, timeline: Sequence[tuple[float, Severity | None]]) -> list[AlertState]:
    state = AlertState(timing=timing)
    states = []
    for t, breached in timeline:
        state = step(state, breached, None if breached is None else 1.0, now=t)
        states.append(state)
    return states


def phases(states: Sequence[AlertState]) -> list[tuple[Phase, Severity | None]]:
    return [(s.phase, s.severity) for s in states]


def every(
    start: float, stop: float, dt: float, breached: Severity | None
) -> list[tuple[float, Severity | None]]:
    out: list[tuple[float, Severity | None]] = []
    t = start
    while t < stop:
        out.append((t, breached))
        t += dt
    return out


def test_for_pending_until_elapsed_then_firing() -> None:
    # condition true from t=0, for=5m: pending until t=5m, firing at t=5m.
    states = run(Timing(for_warning=300), every(0, 420, 60, W))
    assert [s.phase for s in states] == [PENDING] * 5 + [FIRING] * 2
    fired = states[5]
    assert (fired.active_since, fired.fired_at, fired.severity) == (0, 300, W)


def test_for_zero_fires_on_first_evaluation() -> None:
    (state,) = run(Timing(), [(10, C)])
    assert (state.phase, state.severity, state.active_since, state.fired_at) == (FIRING, C, 10, 10)


def test_pending_that_clears_goes_back_to_inactive_and_for_restarts() -> None:
    states = run(Timing(for_warning=300), [(0, W), (240, W), (250, None), (260, W), (500, W), (560, W)])
    assert [s.phase for s in states] == [PENDING, PENDING, INACTIVE, PENDING, PENDING, FIRING]
    assert states[3].active_since == 260
    assert states[5].fired_at == 560


def test_flapping_faster_than_for_never_fires() -> None:
    timeline = [(t, W if (t // 60) % 2 == 0 else None) for t in range(0, 3600, 60)]
    states = run(Timing(for_warning=120), timeline)
    assert FIRING not in {s.phase for s in states}


def test_resolves_when_condition_clears_then_inactive() -> None:
    states = run(Timing(for_warning=60), [(0, W), (60, W), (120, None), (180, None)])
    assert [s.phase for s in states] == [PENDING, FIRING, RESOLVED, INACTIVE]
    resolved = states[2]
    assert (resolved.severity, resolved.fired_at, resolved.resolved_at) == (W, 60, 120)
    inactive = states[3]
    assert (inactive.severity, inactive.fired_at, inactive.resolved_at) == (None, None, 120)


def test_keep_firing_for_holds_firing_after_condition_clears() -> None:
    # firing at t=0; condition clears at t=60; keep_firing_for=2m: firing until t=180, resolved at t=180.
    timing = Timing(keep_firing_for=120)
    states = run(timing, [(0, W), (60, None), (120, None), (179, None), (180, None)])
    assert [s.phase for s in states] == [FIRING, FIRING, FIRING, FIRING, RESOLVED]
    assert states[3].cleared_at == 60
    assert states[4].resolved_at == 180


def test_keep_firing_for_bridges_flapping_into_one_episode() -> None:
    timeline = [(t, W if (t // 60) % 2 == 0 else None) for t in range(0, 1200, 30)]
    states = run(Timing(keep_firing_for=90), timeline)
    assert {s.phase for s in states} == {FIRING}
    assert {s.fired_at for s in states} == {0}


def test_condition_returning_during_keep_firing_for_resets_the_timer() -> None:
    states = run(
        Timing(keep_firing_for=120), [(0, W), (60, None), (150, W), (200, None), (310, None), (320, None)]
    )
    assert [s.phase for s in states] == [FIRING, FIRING, FIRING, FIRING, FIRING, RESOLVED]
    assert states[5].resolved_at == 320


def test_escalates_when_critical_holds_for_its_own_for() -> None:
    # warning from t=0 (for 5m), critical from t=400 (for 2m): warning firing at 300, critical at 520.
    timing = Timing(for_warning=300, for_critical=120)
    timeline = [*every(0, 400, 100, W), *every(400, 700, 60, C)]
    states = run(timing, timeline)
    by_time = {t: (s.phase, s.severity) for (t, _), s in zip(timeline, states, strict=True)}
    assert by_time[200] == (PENDING, W)
    assert by_time[300] == (FIRING, W)
    assert by_time[460] == (FIRING, W)
    assert by_time[520] == (FIRING, C)
    assert states[-1].fired_at == 300  # same episode


def test_critical_escalates_a_pending_warning_immediately_when_held() -> None:
    states = run(Timing(for_warning=300, for_critical=0), [(0, W), (60, C)])
    assert phases(states) == [(PENDING, W), (FIRING, C)]


def test_pending_critical_shows_critical_and_falls_back_to_warning() -> None:
    states = run(Timing(for_warning=300, for_critical=300), [(0, C), (100, W), (300, W)])
    assert phases(states) == [(PENDING, C), (PENDING, W), (FIRING, W)]


def test_de_escalates_immediately_even_before_warning_for_elapses() -> None:
    # critical fires fast (for 1m); warning's for is 10m; dropping to warning de-escalates at once.
    timing = Timing(for_warning=600, for_critical=60)
    states = run(timing, [(0, C), (60, C), (120, W), (180, C), (240, C), (300, None)])
    assert phases(states) == [
        (PENDING, C),
        (FIRING, C),
        (FIRING, W),
        (FIRING, W),  # critical is back but must hold its for again
        (FIRING, C),
        (RESOLVED, C),
    ]


def test_last_value_tracks_the_latest_non_none_value() -> None:
    state = step(AlertState(), W, 0.4, now=0)
    state = step(state, W, None, now=1)
    assert state.last_value == 0.4
    state = step(state, None, 0.1, now=2)
    assert state.last_value == 0.1


def test_time_going_backwards_is_refused() -> None:
    state = step(AlertState(), W, 1.0, now=100)
    with pytest.raises(ValueError, match="went backwards"):
        step(state, W, 1.0, now=99)


def test_negative_timing_is_refused() -> None:
    with pytest.raises(ValueError, match="keep_firing_for"):
        Timing(keep_firing_for=-1)
