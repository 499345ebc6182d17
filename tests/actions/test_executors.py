"""Executors against real processes and a real HTTP server on 127.0.0.1: webhook retries, the MLflow alias
move, commands with their environment, failures and timeouts."""

from __future__ import annotations

import socket
import sys
import time

from tests.actions.conftest import ALIAS_PATH, T0, FakeServer
from vigil.actions import (
    CommandExecutor,
    MlflowExecutor,
    MlflowTarget,
    Run,
    RunState,
    Signal,
    WebhookExecutor,
)
from vigil.actions.executors import BODY_LIMIT, webhook_payload


def run(**changes: object) -> Run:
    base = Run(
        id="r1",
        action="rollback-credit",
        kind="rollback",
        model="credit",
        state=RunState.RUNNING,
        requested_by="vigil",
        requested_at=T0,
        reason="2 distinct signals: AccuracyDrop, DriftShareHigh",
        from_version="v3",
        to_version="v2",
        trigger="automatic",
        signals=(Signal("AccuracyDrop", "critical", T0 - 60, "f1", "accuracy"),),
    )
    return base.evolve(**changes)


def test_webhook_posts_the_run(server: FakeServer) -> None:
    sleeps: list[float] = []
    hook = WebhookExecutor(
        f"{server.url}/hooks/rollback", {"Authorization": "Bearer t"}, 5, 0.5, sleeps.append
    )
    outcome = hook.execute(run())
    assert outcome.ok and outcome.summary == "webhook answered 200"
    assert (outcome.response.status_code, outcome.response.body, outcome.response.attempts) == (200, "ok", 1)
    [req] = server.posts("/hooks/rollback")
    assert req.json() == webhook_payload(run())
    assert req.json()["signals"][0]["alertname"] == "AccuracyDrop"
    assert (req.headers["Authorization"], req.headers["Idempotency-Key"]) == ("Bearer t", "r1")
    assert sleeps == []


def test_webhook_retries_a_500_once(server: FakeServer) -> None:
    server.reply(500, b"deploy service restarting")
    sleeps: list[float] = []
    outcome = WebhookExecutor(f"{server.url}/hook", timeout=5, retry_delay=0.5, sleep=sleeps.append).execute(
        run()
    )
    assert outcome.ok and outcome.response.attempts == 2 and sleeps == [0.5]
    assert len(server.posts("/hook")) == 2


def test_webhook_500_twice_fails_with_status_and_body(server: FakeServer) -> None:
    server.reply(500, b"boom")
    server.reply(500, b"x" * 5000)
    outcome = WebhookExecutor(f"{server.url}/hook", timeout=5, retry_delay=0).execute(run())
    assert not outcome.ok
    assert outcome.summary == "webhook answered 500: boom; then webhook answered 500: " + "x" * 200
    assert outcome.response.status_code == 500 and outcome.response.body == "x" * BODY_LIMIT


def test_webhook_4xx_is_not_retried(server: FakeServer) -> None:
    server.reply(403, b"forbidden")
    outcome = WebhookExecutor(f"{server.url}/hook", timeout=5, retry_delay=0).execute(run())
    assert not outcome.ok and outcome.summary == "webhook answered 403: forbidden"
    assert len(server.requests) == 1


def test_webhook_connection_refused_is_retried_then_fails() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    sleeps: list[float] = []
    outcome = WebhookExecutor(f"http://127.0.0.1:{port}/hook", timeout=2, sleep=sleeps.append).execute(run())
    assert not outcome.ok and sleeps == [1.0] and outcome.response.attempts == 2
    assert outcome.summary.startswith(f"cannot connect to http://127.0.0.1:{port}/… (")  # never the path
    assert outcome.summary.endswith("(twice)")


def test_mlflow_moves_the_alias_and_reads_it_back(server: FakeServer) -> None:
    server.versions["credit-model"] = {"1", "2", "3"}
    server.aliases[("credit-model", "champion")] = "3"
    target = MlflowTarget(
        tracking_uri=server.url,
        registered_model="{model}-model",
        token="tok",
        versions={"v2": "2", "v3": "3"},
    )
    outcome = MlflowExecutor(target, timeout=5).execute(run())
    assert outcome.ok and outcome.summary == "moved credit-model@champion from version 3 to 2"
    assert server.aliases[("credit-model", "champion")] == "2"
    assert outcome.response.before is not None and outcome.response.after is not None
    assert (outcome.response.before["version"], outcome.response.before["vigil_version"]) == ("3", "v3")
    assert (outcome.response.after["version"], outcome.response.after["vigil_version"]) == ("2", "v2")
    assert [(r.method, r.path) for r in server.requests] == [
        ("GET", ALIAS_PATH),
        ("POST", ALIAS_PATH),
        ("GET", ALIAS_PATH),
    ]
    assert server.requests[0].query == {"name": ["credit-model"], "alias": ["champion"]}
    assert server.requests[1].json() == {"name": "credit-model", "alias": "champion", "version": "2"}
    assert server.requests[1].headers["Authorization"] == "Bearer tok"
    again = MlflowExecutor(target, timeout=5).execute(run())  # already there: nothing moved
    assert again.ok and again.summary == "credit-model@champion already at version 2; nothing moved"
    assert len(server.posts(ALIAS_PATH)) == 1


def test_mlflow_unknown_version_fails_with_mlflows_message(server: FakeServer) -> None:
    server.versions["credit-model"] = {"3"}
    target = MlflowTarget(tracking_uri=server.url, registered_model="credit-model")
    outcome = MlflowExecutor(target, timeout=5).execute(run())  # alias not set yet, version v2 unknown
    assert not outcome.ok
    assert outcome.summary == (
        "MLflow refused to move credit-model@champion to version v2: 404 RESOURCE_DOES_NOT_EXIST: "
        "Model Version (name=credit-model, version=v2) not found"
    )
    assert outcome.response.before is not None and outcome.response.before["version"] is None


def test_mlflow_unknown_registered_model(server: FakeServer) -> None:
    target = MlflowTarget(tracking_uri=server.url, registered_model="nope")
    outcome = MlflowExecutor(target, timeout=5).execute(run())
    assert not outcome.ok and outcome.summary.startswith("cannot read nope@champion from MLflow: 404")


SCRIPT = (
    "import os, sys; "
    "print(' '.join(sys.argv[1:])); "
    "print(os.environ['VIGIL_MODEL'], os.environ['VIGIL_FROM_VERSION'], os.environ['VIGIL_TO_VERSION'], "
    "os.environ['VIGIL_RUN_ID'], os.environ['VIGIL_SIGNALS'], file=sys.stderr)"
)


def test_command_gets_placeholders_and_environment() -> None:
    argv = [sys.executable, "-c", SCRIPT, "--model", "{model}", "--from", "{version}", "--to", "{to_version}"]
    outcome = CommandExecutor(argv, timeout=30).execute(run())
    assert outcome.ok and outcome.summary == "command exited with 0"
    assert outcome.response.exit_code == 0
    assert outcome.response.body == "--model credit --from v3 --to v2\n"
    assert outcome.response.stderr == "credit v3 v2 r1 AccuracyDrop\n"


def test_command_failure_keeps_the_stderr_tail() -> None:
    script = "import sys; sys.stderr.write('x' * 5000 + '\\nno GPU left\\n'); sys.exit(3)"
    outcome = CommandExecutor([sys.executable, "-c", script], timeout=30).execute(run())
    assert not outcome.ok and outcome.summary == "command exited with 3: no GPU left"
    assert outcome.response.exit_code == 3
    assert outcome.response.stderr is not None and len(outcome.response.stderr) == BODY_LIMIT
    assert outcome.response.stderr.endswith("x\nno GPU left\n")


def test_command_timeout_kills_it_and_its_children() -> None:
    # the child spawns a grandchild that would hold the pipes open for a minute
    script = (
        "import subprocess, sys, time; "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        "print('started', file=sys.stderr, flush=True); time.sleep(60)"
    )
    began = time.monotonic()
    outcome = CommandExecutor([sys.executable, "-c", script], timeout=1.5).execute(run())
    assert time.monotonic() - began < 15
    assert not outcome.ok and outcome.summary == "command timed out after 1.5s and was killed"
    assert outcome.response.exit_code is None and outcome.response.stderr == "started\n"


def test_command_not_found() -> None:
    outcome = CommandExecutor(["/nonexistent/retrain"], timeout=5).execute(run())
    assert not outcome.ok and outcome.summary.startswith("cannot start '/nonexistent/retrain'")
