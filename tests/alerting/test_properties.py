"""Invariants over random timelines: the state machine's bookkeeping and the dispatcher's dedup."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.alerting.alert import Alert, AlertStatus
from vigil.alerting.dispatch.dispatcher import Dispatcher, Route
from vigil.alerting.state import AlertState, Phase, Severity, Timing, step

breaches = st.sampled_from([None, Severity.WARNING, Severity.CRITICAL])
holds = st.sampled_from([0.0, 30.0, 60.0, 300.0])


@settings(max_examples=200, deadline=None)
@given(
    timing=st.builds(Timing, for_warning=holds, for_critical=holds, keep_firing_for=holds),
    timeline=st.lists(st.tuples(st.integers(0, 120), breaches), max_size=60),
)
def test_state_invariants(timing: Timing, timeline: list[tuple[int, Severity | None]]) -> None:
    state, now = AlertState(timing=timing), 0
    for gap, breached in timeline:
        now += gap
        prev, state = state, step(state, breached, 1.0, now)
        if state.phase in (Phase.PENDING, Phase.FIRING, Phase.RESOLVED):
            assert state.severity is not None and state.active_since is not None
        if state.phase is Phase.FIRING:
            assert state.fired_at is not None and state.active_since <= state.fired_at <= now  # type: ignore[operator]
            assert breached is None or state.severity.rank <= breached.rank  # type: ignore[union-attr]
        if state.phase is Phase.PENDING:
            assert breached is not None and state.fired_at is None
        if breached is None:
            assert state.phase is not Phase.PENDING
            assert state.phase is not Phase.FIRING or now - state.cleared_at < timing.keep_firing_for  # type: ignore[operator]
        if state.phase is Phase.RESOLVED:
            assert prev.phase is Phase.FIRING and state.resolved_at == now


@settings(max_examples=100, deadline=None)
@given(events=st.lists(st.tuples(st.integers(0, 400), st.sampled_from("abc"), st.booleans()), max_size=40))
def test_dispatcher_never_repeats_a_notification_within_repeat_interval(
    events: list[tuple[int, str, bool]],
) -> None:
    route = Route(group_wait=30, group_interval=300, repeat_interval=1200)
    dispatcher, now = Dispatcher(route), 0
    last_sent: dict[str, tuple[tuple[frozenset[str], frozenset[str]], int]] = {}
    for gap, model, firing in [*events, (5000, "a", True)]:
        for t in range(now, now + gap, 10):
            for n in dispatcher.flush(t):
                content = (
                    frozenset(a.fingerprint for a in n.firing),
                    frozenset(a.fingerprint for a in n.resolved),
                )
                previous = last_sent.get(n.group_key)
                assert previous is None or previous[0] != content or t - previous[1] >= route.repeat_interval
                last_sent[n.group_key] = (content, t)
        now += gap
        status = AlertStatus.FIRING if firing else AlertStatus.RESOLVED
        dispatcher.receive([Alert({"alertname": "Drift", "model": model}, status, starts_at=now)], now)
