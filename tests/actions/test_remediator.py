"""The remediation runtime as timelines with explicit times: automatic triggers, guards, approvals with four
eyes, rejections, expiry, executions through a real HTTP server and real commands, and the audit trail."""

from __future__ import annotations

import json
import sys
from functools import partial
from typing import Any

import pytest

from tests.actions.conftest import ALIAS_PATH, T0, Events, FakeServer, alert, lookup
from vigil.actions import (
    ActionDenied,
    ActionSpec,
    NotIdentified,
    Remediator,
    RunState,
    UnknownAction,
    executor_for,
    unverified,
)
from vigil.store.base import Store

SIGNALS = [alert("AccuracyDrop"), alert("DriftShareHigh")]
HOUR = 3600.0


def rollback(url: str, model: str = "credit", **extra: Any) -> ActionSpec:
    return ActionSpec.model_validate(
        {
            "name": f"rollback-{model}",
            "model": model,
            "kind": "rollback",
            "when": {"alerts": ["AccuracyDrop", "DriftShareHigh"], "min_signals": 2},
            "webhook": f"{url}/hooks/rollback",
            **extra,
        }
    )


def make(store: Store, *specs: ActionSpec, events: Events | None = None) -> Remediator:
    return Remediator(
        list(specs), lookup, store, on_event=events, executor_for=partial(executor_for, retry_delay=0)
    )


def trail(store: Store, model: str) -> list[tuple[str, str]]:
    return [(e.actor, e.action) for e in store.audit_log(target=f"model/{model}/")]


def test_two_distinct_signals_start_a_rollback(store: Store, server: FakeServer) -> None:
    remediator = make(store, rollback(server.url))
    assert remediator.on_alerts([alert("AccuracyDrop")], T0) == []
    assert remediator.on_alerts([alert("AccuracyDrop", severity="warning"), alert("AccuracyDrop")], T0) == []
    assert server.requests == [] and remediator.runs() == []
    [run] = remediator.on_alerts(SIGNALS, T0)
    assert (run.state, run.trigger, run.requested_by) == (RunState.SUCCEEDED, "automatic", "vigil")
    assert (run.from_version, run.to_version, run.started_at) == ("v3", "v2", T0)
    assert run.reason == "2 distinct signals: AccuracyDrop, DriftShareHigh"
    assert [s.alertname for s in run.signals] == ["AccuracyDrop", "DriftShareHigh"]
    assert (
        run.result == "webhook answered 200" and run.response is not None and run.response.status_code == 200
    )
    [req] = server.posts("/hooks/rollback")
    body = req.json()
    assert (body["action"], body["model"], body["from_version"], body["to_version"], body["run_id"]) == (
        "rollback-credit",
        "credit",
        "v3",
        "v2",
        run.id,
    )
    assert [s["alertname"] for s in body["signals"]] == ["AccuracyDrop", "DriftShareHigh"]
    assert remediator.deployments.get("credit", T0).live == "v2"
    assert remediator.get(run.id) == run
    # the same alerts keep firing: quiet, nothing recorded
    assert remediator.on_alerts(SIGNALS, T0 + 60) == []
    assert len(remediator.runs()) == 1 and len(server.requests) == 1


def test_cooldown_blocks_then_allows(store: Store, server: FakeServer) -> None:
    remediator = make(store, rollback(server.url))
    first = remediator.request("rollback-credit", "credit", "alice", "accuracy fell", T0)
    assert first.state is RunState.SUCCEEDED and first.trigger == "manual"
    blocked = remediator.request("rollback-credit", "credit", "alice", "again", T0 + HOUR / 2)
    assert blocked.state is RunState.REFUSED
    assert blocked.error == (
        "cooldown: rollback-credit ran on credit at 2026-01-01T00:00:00Z, "
        "next allowed at 2026-01-01T01:00:00Z"
    )
    assert remediator.on_alerts(SIGNALS, T0 + HOUR - 1) == []  # automatic: quiet
    [after] = remediator.on_alerts(SIGNALS, T0 + HOUR)
    assert after.state is RunState.SUCCEEDED and (after.from_version, after.to_version) == ("v2", "v3")
    assert len(server.posts("/hooks/rollback")) == 2
    assert trail(store, "credit") == [
        ("alice", "action.request"),
        ("alice", "action.execute"),
        ("alice", "deployment.rollback"),
        ("alice", "action.refuse"),
        ("vigil", "action.request"),
        ("vigil", "action.execute"),
        ("vigil", "deployment.rollback"),
    ]


def test_force_lifts_the_cooldown_and_is_audited(store: Store, server: FakeServer) -> None:
    remediator = make(store, rollback(server.url))
    remediator.request("rollback-credit", "credit", "alice", "accuracy fell", T0)
    forced = remediator.request("rollback-credit", "credit", "bob", "v2 crashes", T0 + 60, force=True)
    assert forced.state is RunState.SUCCEEDED and forced.forced
    [override] = [
        e for e in store.audit_log(target="model/credit/") if e.action == "action.cooldown_override"
    ]
    assert override.actor == "bob" and override.target == forced.target
    assert json.loads(override.after or "") == {
        "run": forced.id,
        "overridden": "cooldown: rollback-credit ran on credit at 2026-01-01T00:00:00Z, "
        "next allowed at 2026-01-01T01:00:00Z",
    }


def test_high_impact_waits_for_approval_and_nothing_runs_before(
    store: Store, server: FakeServer, events: Events
) -> None:
    remediator = make(store, rollback(server.url, "loans"), events=events)
    [run] = remediator.on_alerts([alert("AccuracyDrop", "loans"), alert("DriftShareHigh", "loans")], T0)
    assert (run.state, run.approval_required, run.started_at) == (RunState.AWAITING_APPROVAL, True, None)
    assert server.requests == []
    # while it waits, the trigger is quiet and a manual request is refused
    assert (
        remediator.on_alerts([alert("AccuracyDrop", "loans"), alert("DriftShareHigh", "loans")], T0 + 60)
        == []
    )
    busy = remediator.request("rollback-loans", "loans", "carol", "now", T0 + 90)
    assert busy.state is RunState.REFUSED
    assert busy.error == f"rollback-loans on loans is already awaiting approval (run {run.id})"
    assert server.requests == []
    done = remediator.approve(run.id, "alice", T0 + 120)
    assert (done.state, done.approved_by, done.approved_at, done.started_at) == (
        RunState.SUCCEEDED,
        "alice",
        T0 + 120,
        T0 + 120,
    )
    [req] = server.posts("/hooks/rollback")
    assert (req.json()["approved_by"], req.json()["from_version"], req.json()["to_version"]) == (
        "alice",
        "2",
        "1",
    )
    assert trail(store, "loans") == [
        ("vigil", "action.request"),
        ("carol", "action.refuse"),
        ("alice", "action.approve"),
        ("alice", "action.execute"),
        ("alice", "deployment.rollback"),
    ]
    assert [(model, actor) for model, _, actor, _, _ in events.calls] == [
        ("loans", "vigil"),
        ("loans", "carol"),
        ("loans", "alice"),
        ("loans", "alice"),
        ("loans", "alice"),
    ]
    assert events.texts[0] == (
        "rollback-loans (rollback of loans 2 → 1) requested by vigil "
        "(2 distinct signals: AccuracyDrop, DriftShareHigh); awaiting approval"
    )
    assert events.texts[2] == "rollback-loans (rollback of loans 2 → 1) approved by alice"
    assert events.texts[3] == "rollback-loans (rollback of loans 2 → 1) succeeded: webhook answered 200"
    assert events.texts[4] == "1 is live on loans (rollback)"
    assert events.calls[3][4]["state"] == "succeeded" and events.calls[3][4]["id"] == run.id


def test_four_eyes(store: Store, server: FakeServer) -> None:
    remediator = make(store, rollback(server.url, "loans"))
    run = remediator.request("rollback-loans", "loans", "alice", "accuracy fell", T0)
    assert run.state is RunState.AWAITING_APPROVAL
    with pytest.raises(
        ActionDenied, match=rf"four eyes: alice requested run {run.id} and cannot approve it too"
    ):
        remediator.approve(run.id, "alice", T0 + 10)
    with pytest.raises(ActionDenied, match="an approval needs a person, not vigil"):
        remediator.approve(run.id, "vigil", T0 + 20)
    assert remediator.get(run.id).state is RunState.AWAITING_APPROVAL and server.requests == []
    assert remediator.approve(run.id, "bob", T0 + 30).state is RunState.SUCCEEDED
    with pytest.raises(ActionDenied, match=f"run {run.id} is succeeded, not awaiting approval"):
        remediator.approve(run.id, "carol", T0 + 40)
    assert trail(store, "loans") == [
        ("alice", "action.request"),
        ("alice", "action.approve_denied"),
        ("vigil", "action.approve_denied"),
        ("bob", "action.approve"),
        ("bob", "action.execute"),
        ("bob", "deployment.rollback"),
        ("carol", "action.approve_denied"),
    ]


def test_four_eyes_needs_names_a_key_vouches_for(store: Store, server: FakeServer) -> None:
    remediator = make(store, rollback(server.url, "loans"))
    # a claimed name cannot ask for what needs approval: it could be the approver's other name
    asked = remediator.request("rollback-loans", "loans", unverified("alice"), "accuracy fell", T0)
    assert asked.state is RunState.REFUSED and asked.requested_by == "alice (unverified)"
    assert asked.error is not None and "four eyes needs a requester Vigil can name" in asked.error
    run = remediator.request("rollback-loans", "loans", "alice", "accuracy fell", T0 + 10)
    for claim in (unverified("bob"), unverified(None)):
        with pytest.raises(NotIdentified, match="called without a named API key"):
            remediator.approve(run.id, claim, T0 + 20)
    assert remediator.get(run.id).state is RunState.AWAITING_APPROVAL and server.requests == []
    assert remediator.approve(run.id, "bob", T0 + 30).state is RunState.SUCCEEDED
    assert ("anonymous (unverified)", "action.approve_denied") in trail(store, "loans")


def test_a_webhook_that_echoes_its_secrets_leaves_none_in_the_run(
    store: Store, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_DEPLOY_TOKEN", "tok-3e7f9a")
    server.reply(500, b"bad credentials Bearer tok-3e7f9a for /hooks/rollback?sig=sig-55aa")
    server.reply(401, b"still: tok-3e7f9a")
    spec = rollback(
        server.url,
        headers={"Authorization": "Bearer ${TEST_DEPLOY_TOKEN}"},
        webhook=f"{server.url}/hooks/rollback?sig=sig-55aa",
    )
    [run] = make(store, spec).on_alerts(SIGNALS, T0)
    assert run.state is RunState.FAILED
    assert run.error == (
        "webhook answered 500: bad credentials *** for /hooks/rollback?sig=***; then webhook answered 401: "
        "still: ***"
    )
    kept = run.to_json() + "".join(f"{e.before}{e.after}" for e in store.audit_log(target=run.target))
    assert "tok-3e7f9a" not in kept and "sig-55aa" not in kept


def test_reject_then_same_alerts_stay_quiet_and_a_new_episode_asks_again(
    store: Store, server: FakeServer
) -> None:
    remediator = make(store, rollback(server.url, "loans"))
    firing = [alert("AccuracyDrop", "loans"), alert("DriftShareHigh", "loans")]
    [run] = remediator.on_alerts(firing, T0)
    rejected = remediator.reject(run.id, "bob", "the drop is a labelling delay", T0 + 60)
    assert (rejected.state, rejected.rejected_by, rejected.rejected_at) == (RunState.REJECTED, "bob", T0 + 60)
    assert rejected.error == "rejected by bob: the drop is a labelling delay"
    with pytest.raises(ActionDenied, match="is rejected, not awaiting approval"):
        remediator.approve(run.id, "carol", T0 + 70)
    assert remediator.on_alerts(firing, T0 + 120) == []
    assert server.requests == []
    again = [alert("AccuracyDrop", "loans", starts_at=T0 + 900), alert("DriftShareHigh", "loans")]
    [second] = remediator.on_alerts(again, T0 + 1000)
    assert second.state is RunState.AWAITING_APPROVAL and second.id != run.id
    assert trail(store, "loans") == [
        ("vigil", "action.request"),
        ("bob", "action.reject"),
        ("carol", "action.approve_denied"),
        ("vigil", "action.request"),
    ]


def test_unapproved_runs_expire(store: Store, server: FakeServer) -> None:
    remediator = make(store, rollback(server.url, "loans"))
    run = remediator.request("rollback-loans", "loans", "alice", "accuracy fell", T0)
    assert remediator.expire(T0 + HOUR - 1) == []
    with pytest.raises(ActionDenied, match="is rejected, not awaiting approval"):
        remediator.approve(run.id, "bob", T0 + HOUR)
    closed = remediator.get(run.id)
    assert (closed.state, closed.rejected_by, closed.error) == (
        RunState.REJECTED,
        "vigil",
        "not approved within 1h",
    )
    assert ("vigil", "action.expire") in trail(store, "loans") and server.requests == []


def test_approval_after_the_live_version_moved_is_refused(store: Store, server: FakeServer) -> None:
    remediator = make(store, rollback(server.url, "loans"))
    run = remediator.request("rollback-loans", "loans", "alice", "accuracy fell", T0)
    remediator.deployments.record("loans", "3", T0 + 10, "ci")
    refused = remediator.approve(run.id, "bob", T0 + 20)
    assert refused.state is RunState.REFUSED and server.requests == []
    assert refused.error == (
        "loans's live version moved from 2 to 3 since the request; request it again if it is still needed"
    )


def test_webhook_failure_fails_the_run_and_counts_for_the_cooldown(store: Store, server: FakeServer) -> None:
    server.reply(500, b"db down")
    server.reply(503, b"still down")
    remediator = make(store, rollback(server.url))
    [run] = remediator.on_alerts(SIGNALS, T0)
    assert run.state is RunState.FAILED
    assert run.error == "webhook answered 500: db down; then webhook answered 503: still down"
    assert run.response is not None and (run.response.status_code, run.response.attempts) == (503, 2)
    assert remediator.deployments.get("credit", T0).live == "v3"  # nothing changed
    assert trail(store, "credit") == [("vigil", "action.request"), ("vigil", "action.fail")]
    [fail] = [e for e in store.audit_log(target=run.target) if e.action == "action.fail"]
    assert (
        json.loads(fail.before or "")["state"] == "running"
        and json.loads(fail.after or "")["state"] == "failed"
    )
    assert remediator.on_alerts(SIGNALS, T0 + 600) == []  # no hammering a failing deploy service


def test_webhook_500_then_200_succeeds(store: Store, server: FakeServer) -> None:
    server.reply(500, b"restarting")
    [run] = make(store, rollback(server.url)).on_alerts(SIGNALS, T0)
    assert run.state is RunState.SUCCEEDED and run.response is not None and run.response.attempts == 2


def test_nothing_to_roll_back_to_is_refused_once(store: Store, server: FakeServer) -> None:
    remediator = make(store, rollback(server.url, "fresh"))
    manual = remediator.request("rollback-fresh", "fresh", "alice", "bad", T0)
    assert manual.state is RunState.REFUSED
    assert manual.error == "no previous version to roll back to (v1 is live and nothing came before it)"
    firing = [alert("AccuracyDrop", "fresh"), alert("DriftShareHigh", "fresh")]
    [auto] = remediator.on_alerts(firing, T0 + 10)
    assert auto.state is RunState.REFUSED and auto.trigger == "automatic"
    assert remediator.on_alerts(firing, T0 + 20) == []  # the same alerts: refused once
    assert server.requests == []


def test_mlflow_rollback_moves_the_alias_with_before_and_after_audited(
    store: Store, server: FakeServer
) -> None:
    server.versions["loans-model"] = {"1", "2"}
    server.aliases[("loans-model", "champion")] = "2"
    spec = ActionSpec.model_validate(
        {
            "name": "rollback-loans",
            "model": "loans",
            "kind": "rollback",
            "approval": "auto",
            "mlflow": {"tracking_uri": server.url, "registered_model": "{model}-model", "alias": "champion"},
        }
    )
    run = make(store, spec).request("rollback-loans", "loans", "alice", "accuracy fell", T0)
    assert run.state is RunState.SUCCEEDED and run.result == "moved loans-model@champion from version 2 to 1"
    assert server.aliases[("loans-model", "champion")] == "1"
    assert [r.method for r in server.requests if r.path == ALIAS_PATH] == ["GET", "POST", "GET"]
    entries = {e.action: e for e in store.audit_log(target="model/loans/")}
    response = json.loads(entries["action.execute"].after or "")["response"]
    assert (response["before"]["version"], response["after"]["version"]) == ("2", "1")
    deployment = entries["deployment.rollback"]
    assert (
        json.loads(deployment.before or "")["live"] == "2"
        and json.loads(deployment.after or "")["live"] == "1"
    )
    assert deployment.actor == "alice"


def test_retrain_command_and_its_failure(store: Store, tmp_path: Any) -> None:
    marker = tmp_path / "retrained.txt"
    script = (
        "import os, pathlib, sys; "
        f"pathlib.Path({str(marker)!r}).write_text(os.environ['VIGIL_MODEL'] + ' ' + sys.argv[1]); "
        "sys.exit(0 if sys.argv[1] == 'v3' else 4)"
    )
    spec = ActionSpec.model_validate(
        {
            "name": "retrain-any",
            "model": "*",
            "kind": "retrain",
            "command": [sys.executable, "-c", script, "{version}"],
            "when": {"alerts": ["AccuracyDrop"]},
            "timeout": "30s",
            "approval": "auto",  # loans is high-impact
        }
    )
    remediator = make(store, spec)
    [ok] = remediator.on_alerts([alert("AccuracyDrop", "credit")], T0)
    assert ok.state is RunState.SUCCEEDED and (ok.from_version, ok.to_version) == ("v3", None)
    assert marker.read_text() == "credit v3"
    assert remediator.deployments.get("credit", T0).live == "v3"  # a retrain deploys nothing
    [bad] = remediator.on_alerts([alert("AccuracyDrop", "loans")], T0 + 5)  # loans is on "2": exits 4
    assert bad.state is RunState.FAILED and bad.error == "command exited with 4"
    assert bad.response is not None and bad.response.exit_code == 4


def test_fallback_switches_and_refuses_when_already_there(store: Store, server: FakeServer) -> None:
    spec = ActionSpec.model_validate(
        {
            "name": "fb",
            "model": "credit",
            "kind": "fallback",
            "fallback": "rules-v1",
            "webhook": f"{server.url}/fb",
        }
    )
    remediator = make(store, spec)
    run = remediator.request("fb", "credit", "alice", "model broken", T0)
    assert run.state is RunState.SUCCEEDED and server.posts("/fb")[0].json()["fallback"] == "rules-v1"
    assert remediator.deployments.get("credit", T0).live == "rules-v1"
    again = remediator.request("fb", "credit", "alice", "again", T0 + 2 * HOUR)
    assert again.state is RunState.REFUSED and again.error == "credit is already on the fallback rules-v1"


def test_unknown_names_and_models(store: Store, server: FakeServer) -> None:
    remediator = make(store, rollback(server.url))
    with pytest.raises(UnknownAction, match="no action is named 'nope' \\(actions: rollback-credit\\)"):
        remediator.request("nope", "credit", "alice", "", T0)
    with pytest.raises(ActionDenied, match="applies to model 'credit', not 'loans'"):
        remediator.request("rollback-credit", "loans", "alice", "", T0)
    with pytest.raises(UnknownAction, match="no action run has id 'x'"):
        remediator.approve("x", "bob", T0)
    star = make(store, rollback(server.url, "*"))
    with pytest.raises(UnknownAction, match="no model is registered as 'ghost'"):
        star.request("rollback-*", "ghost", "alice", "", T0)


def test_an_interrupted_run_is_closed_as_failed(store: Store, server: FakeServer) -> None:
    remediator = make(store, rollback(server.url))
    run = remediator.request("rollback-credit", "credit", "alice", "x", T0)
    # as if Vigil died while executing: the record still says running
    store.put_record("action_run", run.id, run.evolve(state=RunState.RUNNING, result=None).to_json(), T0)
    [closed] = remediator.expire(T0 + 4 * 60 + 60 + 1)
    assert closed.state is RunState.FAILED and closed.error is not None
    assert closed.error.startswith("interrupted: no result within 5m")


def test_explain_says_why_a_trigger_does_or_does_not_start(store: Store, server: FakeServer) -> None:
    remediator = make(store, rollback(server.url))
    assert remediator.explain("rollback-credit", "credit", [alert("AccuracyDrop")], T0) == (
        False,
        "needs 2 distinct signals, have 1 (AccuracyDrop)",
    )
    assert remediator.explain("rollback-credit", "credit", SIGNALS, T0) == (
        True,
        "2 distinct signals: AccuracyDrop, DriftShareHigh",
    )
    assert remediator.runs() == []
    remediator.on_alerts(SIGNALS, T0)
    would, why = remediator.explain("rollback-credit", "credit", SIGNALS, T0 + 60)
    assert not would and why.startswith("cooldown: rollback-credit ran on credit at 2026-01-01T00:00:00Z")
