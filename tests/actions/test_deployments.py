"""Deployment state per model: the initial state from the config, deploy annotations, rollback targets, the
`kubectl rollout undo` semantics of a second rollback, and config moves counted as deploys."""

from __future__ import annotations

import json
from functools import partial

from tests.actions.conftest import MODELS, T0, FakeServer, lookup
from vigil.actions import ActionSpec, Deployments, Remediator, RunState, executor_for, record_deploy
from vigil.actions.deployments import HISTORY_LIMIT, Deployment
from vigil.spec import ModelSpec
from vigil.store.base import Store


def test_initial_state_comes_from_the_config(store: Store) -> None:
    deployments = Deployments(store, lookup)
    assert deployments.get("credit", T0) == Deployment("credit", "v3", None, "v3", ())
    assert deployments.rollback_target("credit", T0) == "v2"
    assert deployments.get("loans", T0).live == "2"  # no live: the last declared version
    assert deployments.rollback_target("fresh", T0) is None  # one version: nothing before it
    assert deployments.get("unknown", T0) == Deployment("unknown", None)
    assert store.records("deployment") == []  # reading writes nothing


def test_record_deploy_moves_live_and_keeps_history(store: Store) -> None:
    state = record_deploy(store, "credit", "v4", T0, "ci", "release 2026.1", registry_lookup=lookup)
    assert (state.live, state.previous) == ("v4", "v3")
    [change] = state.history
    assert (change.version, change.from_version, change.at, change.by, change.kind, change.why) == (
        "v4",
        "v3",
        T0,
        "ci",
        "deploy",
        "release 2026.1",
    )
    assert Deployments(store, lookup).get("credit", T0 + 1) == state
    assert Deployments(store, lookup).rollback_target("credit", T0 + 1) == "v3"
    [entry] = store.audit_log(target="model/credit/deployment")
    assert (entry.actor, entry.action, entry.at) == ("ci", "deployment.deploy", T0)
    assert json.loads(entry.before or "")["live"] == "v3" and json.loads(entry.after or "")["live"] == "v4"
    # the version already live: nothing changes, nothing is audited
    assert record_deploy(store, "credit", "v4", T0 + 5, "ci", registry_lookup=lookup) == state
    assert len(store.audit_log(target="model/credit/deployment")) == 1


def test_history_keeps_the_last_fifty(store: Store) -> None:
    deployments = Deployments(store, lookup)
    for i in range(HISTORY_LIMIT + 5):
        deployments.record("credit", f"b{i}", T0 + i, "ci")
    state = deployments.get("credit", T0 + 100)
    assert len(state.history) == HISTORY_LIMIT
    assert state.history[-1].version == f"b{HISTORY_LIMIT + 4}" and state.history[0].version == "b5"


def test_double_rollback_goes_back_like_rollout_undo(store: Store, server: FakeServer) -> None:
    spec = ActionSpec.model_validate(
        {"name": "rb", "model": "credit", "kind": "rollback", "webhook": f"{server.url}/rb", "cooldown": 0}
    )
    remediator = Remediator([spec], lookup, store, executor_for=partial(executor_for, retry_delay=0))
    first = remediator.request("rb", "credit", "alice", "accuracy fell", T0)
    assert (first.state, first.from_version, first.to_version) == (RunState.SUCCEEDED, "v3", "v2")
    second = remediator.request("rb", "credit", "alice", "v2 is worse", T0 + 60)
    assert (second.state, second.from_version, second.to_version) == (RunState.SUCCEEDED, "v2", "v3")
    state = remediator.deployments.get("credit", T0 + 120)
    assert (state.live, state.previous) == ("v3", "v2")
    assert [(c.from_version, c.version, c.kind, c.by) for c in state.history] == [
        ("v3", "v2", "rollback", "alice"),
        ("v2", "v3", "rollback", "alice"),
    ]
    assert state.history[0].why == f"run {first.id}: accuracy fell"
    # further back takes an explicit target
    third = remediator.request("rb", "credit", "alice", "both bad", T0 + 180, to_version="v1")
    assert (third.state, third.from_version, third.to_version) == (RunState.SUCCEEDED, "v3", "v1")
    assert [r.json()["to_version"] for r in server.posts("/rb")] == ["v2", "v3", "v1"]
    unknown = remediator.request("rb", "credit", "alice", "typo", T0 + 240, to_version="v9")
    assert unknown.state is RunState.REFUSED
    assert unknown.error == "unknown version 'v9' of credit (known: v1, v2, v3)"
    same = remediator.request("rb", "credit", "alice", "noop", T0 + 300, to_version="v1")
    assert same.state is RunState.REFUSED and same.error == "v1 is already live on credit"
    actions = [e.action for e in store.audit_log(target="model/credit/deployment")]
    assert actions == ["deployment.rollback"] * 3


def test_editing_live_in_the_config_is_a_deploy(store: Store) -> None:
    models = dict(MODELS)
    deployments = Deployments(store, models.get)
    deployments.record("credit", "v2", T0, "alice", "rollback", "run x")
    assert deployments.get("credit", T0 + 10).live == "v2"  # the config still says v3: it did not move
    models["credit"] = ModelSpec.model_validate(
        {"task": "binary", "owner": {"team": "risk"}, "versions": ["v1", "v2", "v3", "v4"], "live": "v4"}
    )
    state = deployments.get("credit", T0 + 20)
    assert (state.live, state.previous, state.declared) == ("v4", "v2", "v4")
    assert (state.history[-1].kind, state.history[-1].by, state.history[-1].at) == (
        "config",
        "config",
        T0 + 20,
    )
    assert [e.action for e in store.audit_log(target="model/credit/deployment")] == [
        "deployment.rollback",
        "deployment.config",
    ]
    assert deployments.get("credit", T0 + 30) == state  # reconciled once
