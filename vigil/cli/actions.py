"""``vigil actions``: remediation actions and their runs::

    vigil actions list | run NAME --model M --reason TEXT [--force] | approve RUN_ID
                       | reject RUN_ID --reason TEXT

``actions run|approve|reject`` exit 1 when the run ends refused, rejected or failed (``reject``: failed).
Options and errors as ``vigil.cli.client`` describes them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import click

from vigil.cli.client import (
    Api,
    actor_text,
    api_path,
    connected,
    duration_text,
    echo_json,
    json_option,
    table_text,
    when_text,
)

__all__ = ["actions"]

_BAD_RUN = ("refused", "rejected", "failed")


# -- actions -------------------------------------------------------------------------------------------------


@click.group()
def actions() -> None:
    """Remediation actions: list them and their runs, run one, approve or reject a run."""


def _trigger(when: Any) -> str:
    if not when:
        return "manual"
    if isinstance(when, dict):
        names = when.get("alerts") or []
        text = ", ".join(map(str, names)) if isinstance(names, list) else str(names)
        if when.get("min_signals"):
            text += f" (≥{when['min_signals']})"
        return text or json.dumps(when)
    return str(when)


@actions.command("list")
@json_option
@connected
def actions_list(api: Api, as_json: bool) -> None:
    """The declared actions, then their recent runs."""
    data = api.json("GET", "/v1/actions")
    if as_json:
        echo_json(data)
        return
    declared = [a for a in data.get("actions") or [] if isinstance(a, dict)]
    if declared:
        rows = [
            (
                a.get("name"),
                a.get("model"),
                a.get("kind"),
                a.get("approval"),
                duration_text(a.get("cooldown")),
                _trigger(a.get("when")),
            )
            for a in declared
        ]
        click.echo(table_text(["NAME", "MODEL", "KIND", "APPROVAL", "COOLDOWN", "TRIGGER"], rows))
    else:
        click.echo("no actions declared")
    runs = [r for r in data.get("runs") or [] if isinstance(r, dict)]
    if not runs:
        return
    now = api.clock()
    click.echo("\nruns")
    run_rows = [
        (
            r.get("id"),
            r.get("action"),
            r.get("model"),
            r.get("state"),
            when_text(r.get("requested_at"), now),
            actor_text(r.get("requested_by")),
            r.get("error") or r.get("result") or r.get("reason"),
        )
        for r in runs
    ]
    click.echo(
        table_text(["ID", "ACTION", "MODEL", "STATE", "REQUESTED", "BY", "DETAIL"], run_rows, indent=2)
    )


def _run_result(data: Mapping[str, Any], bad: Sequence[str] = _BAD_RUN) -> None:
    """Say what became of a run; exit 1 when its state is one of ``bad``."""
    inner = data.get("run")
    run: Mapping[str, Any] = inner if isinstance(inner, dict) else data
    id, state = run.get("id", "?"), str(run.get("state", "?"))
    detail = run.get("error") or run.get("result") or ""
    click.echo(
        f"run {id} of {run.get('action', '?')} on {run.get('model', '?')}: {state}"
        + (f" — {detail}" if detail else "")
    )
    if state == "awaiting_approval":
        click.echo(f"waiting for approval: vigil actions approve {id}  (or reject {id} --reason ...)")
    if state in bad:
        raise click.exceptions.Exit(1)


@actions.command("run")
@click.argument("name")
@click.option("--model", "-m", required=True, help="The model to act on.")
@click.option("--reason", required=True, help="Why: goes on the run, the audit log and the incident.")
@click.option("--force", is_flag=True, help="Run even within the action's cooldown.")
@connected
def actions_run(api: Api, name: str, model: str, reason: str, force: bool) -> None:
    """Ask for action NAME on a model (it may wait for approval)."""
    body = {"model": model, "reason": reason, "force": force}
    _run_result(api.json("POST", api_path("v1", "actions", name, "run"), body=body))


@actions.command("approve")
@click.argument("run_id")
@connected
def actions_approve(api: Api, run_id: str) -> None:
    """Approve run RUN_ID: it executes now."""
    _run_result(api.json("POST", api_path("v1", "actions", "runs", run_id, "approve"), body={}))


@actions.command("reject")
@click.argument("run_id")
@click.option("--reason", required=True, help="Why not.")
@connected
def actions_reject(api: Api, run_id: str, reason: str) -> None:
    """Reject run RUN_ID: it never executes."""
    body = {"reason": reason}
    _run_result(
        api.json("POST", api_path("v1", "actions", "runs", run_id, "reject"), body=body), bad=("failed",)
    )
