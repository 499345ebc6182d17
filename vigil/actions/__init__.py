"""Remediation actions: roll back, retrain or fall back when alerts confirm a model is in trouble.

``config`` (the ``actions:`` section) → ``triggers`` (distinct firing signals per model) → ``remediator``
(guards: cooldown, one run at a time, approval with four eyes) → ``executors`` (webhook, MLflow alias
move, command), with ``runs`` (the run records) and ``deployments`` (what is live, what a rollback goes to)
kept in the store and every change in its audit log.

Names load on first use, so checking the ``actions:`` section (``vigil validate``) does not import the
executors and the remediator.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_WHERE = {
    "ActionDenied": "vigil.actions.errors",
    "ActionError": "vigil.actions.errors",
    "ActionSpec": "vigil.actions.config",
    "Change": "vigil.actions.deployments",
    "CommandExecutor": "vigil.actions.executors",
    "Deployment": "vigil.actions.deployments",
    "Deployments": "vigil.actions.deployments",
    "EventCallback": "vigil.actions.remediator",
    "Executor": "vigil.actions.executors",
    "ExecutorResponse": "vigil.actions.runs",
    "MlflowExecutor": "vigil.actions.executors",
    "MlflowTarget": "vigil.actions.config",
    "NotIdentified": "vigil.actions.errors",
    "Outcome": "vigil.actions.executors",
    "Remediator": "vigil.actions.remediator",
    "Run": "vigil.actions.runs",
    "RunState": "vigil.actions.runs",
    "SYSTEM": "vigil.actions.remediator",
    "Signal": "vigil.actions.runs",
    "Trigger": "vigil.actions.config",
    "TriggerCheck": "vigil.actions.triggers",
    "UNVERIFIED": "vigil.actions.remediator",
    "UnknownAction": "vigil.actions.errors",
    "WebhookExecutor": "vigil.actions.executors",
    "actions_from_config": "vigil.actions.config",
    "check_trigger": "vigil.actions.triggers",
    "executor_for": "vigil.actions.executors",
    "named": "vigil.actions.remediator",
    "parse_actions": "vigil.actions.config",
    "record_deploy": "vigil.actions.deployments",
    "rollback_target": "vigil.actions.deployments",
    "unverified": "vigil.actions.remediator",
}

__all__ = [
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

if TYPE_CHECKING:
    from vigil.actions.config import ActionSpec, MlflowTarget, Trigger, actions_from_config, parse_actions
    from vigil.actions.deployments import Change, Deployment, Deployments, record_deploy, rollback_target
    from vigil.actions.errors import ActionDenied, ActionError, NotIdentified, UnknownAction
    from vigil.actions.executors import (
        CommandExecutor,
        Executor,
        MlflowExecutor,
        Outcome,
        WebhookExecutor,
        executor_for,
    )
    from vigil.actions.remediator import SYSTEM, UNVERIFIED, EventCallback, Remediator, named, unverified
    from vigil.actions.runs import ExecutorResponse, Run, RunState, Signal
    from vigil.actions.triggers import TriggerCheck, check_trigger


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'vigil.actions' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
