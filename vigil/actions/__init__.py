"""Remediation actions: roll back, retrain or fall back when alerts confirm a model is in trouble.

``config`` (the ``actions:`` section) → ``triggers`` (distinct firing signals per model) → ``remediator``
(guards: cooldown, one run at a time, approval with four eyes) → ``executors`` (webhook, MLflow alias
move, command), with ``runs`` (the run records) and ``deployments`` (what is live, what a rollback goes to)
kept in the store and every change in its audit log.
"""

from __future__ import annotations

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
