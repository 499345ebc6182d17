"""The actions package's public names, and that it stays below the server and the CLI."""

from __future__ import annotations

import subprocess
import sys

import vigil.actions


def test_public_names_are_pinned() -> None:
    assert sorted(vigil.actions.__all__) == sorted(
        [
            "SYSTEM",
            "UNVERIFIED",
            "ActionDenied",
            "ActionError",
            "ActionSpec",
            "Change",
            "CommandExecutor",
            "Deployment",
            "Deployments",
            "EventCallback",
            "Executor",
            "ExecutorResponse",
            "MlflowExecutor",
            "MlflowTarget",
            "NotIdentified",
            "Outcome",
            "Remediator",
            "Run",
            "RunState",
            "Signal",
            "Trigger",
            "TriggerCheck",
            "UnknownAction",
            "WebhookExecutor",
            "actions_from_config",
            "check_trigger",
            "executor_for",
            "named",
            "parse_actions",
            "record_deploy",
            "rollback_target",
            "unverified",
        ]
    )
    for name in vigil.actions.__all__:
        assert hasattr(vigil.actions, name), name


def test_imports_nothing_from_the_server_or_the_cli() -> None:
    code = (
        "import sys, vigil.actions\n"
        "print(' '.join(m for m in sys.modules if m.startswith(('vigil.server', 'vigil.cli', 'fastapi'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
