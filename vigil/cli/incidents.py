"""``vigil incidents`` and ``vigil audit``: the people's side of alerts, and who did what::

    vigil incidents list [--status open,acknowledged,resolved] [--since 7d]
    vigil incidents show ID | ack ID | note ID TEXT | resolve ID [--note TEXT]
    vigil audit [--since 1d] [--target silence/] [--limit N]

Options, times and errors as ``vigil.cli.client`` describes them.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping
from typing import Any

import click

from vigil.cli.client import (
    MIN_WIDTH,
    Api,
    api_path,
    connected,
    duration_text,
    echo_json,
    json_option,
    parse_time,
    stamp_text,
    status_line,
    table_text,
    time_of,
    when_text,
)
from vigil.errors import InputError
from vigil.timefmt import format_time

__all__ = ["audit", "incidents"]

_STATUSES = ("open", "acknowledged", "resolved")


# -- incidents -----------------------------------------------------------------------------------------------


@click.group()
def incidents() -> None:
    """Incidents: alerts grouped per model for people, with a timeline."""


def _response_times(rt: Any) -> str:
    """The ``response_times`` of an incident list on one line."""
    if not isinstance(rt, dict):
        return ""
    n = rt.get("incidents", 0)
    return (
        f"{n} incident{'' if n == 1 else 's'} · "
        f"MTTA mean {duration_text(rt.get('mtta_mean'))} median {duration_text(rt.get('mtta_median'))} "
        f"({rt.get('acknowledged', 0)} acknowledged) · "
        f"MTTR mean {duration_text(rt.get('mttr_mean'))} median {duration_text(rt.get('mttr_median'))} "
        f"({rt.get('resolved', 0)} resolved)"
    )


@incidents.command("list")
@click.option("--status", help="Comma-separated: open, acknowledged, resolved.")
@click.option("--since", help="Only incidents changed since then: 7d, RFC 3339 or epoch seconds.")
@json_option
@connected
def incidents_list(api: Api, status: str | None, since: str | None, as_json: bool) -> None:
    """Incidents, newest first, with MTTA and MTTR (mean and median) below."""
    params: dict[str, str] = {}
    if status:
        wanted = [s.strip() for s in status.split(",") if s.strip()]
        unknown = [s for s in wanted if s not in _STATUSES]
        if unknown or not wanted:
            raise InputError(
                f"--status: unknown {unknown[0] if unknown else status!r}; use {', '.join(_STATUSES)}"
            )
        params["status"] = ",".join(wanted)
    if since:
        params["since"] = format_time(parse_time(since, api.clock(), "--since"))
    data = api.json("GET", "/v1/incidents", params=params)
    if as_json:
        echo_json(data)
        return
    found = [i for i in data.get("incidents") or [] if isinstance(i, dict)]
    now = api.clock()
    if found:
        rows = [
            (
                i.get("id"),
                i.get("status"),
                i.get("severity"),
                when_text(i.get("opened_at"), now),
                duration_text(i.get("mtta")),
                duration_text(i.get("mttr")),
                i.get("title"),
            )
            for i in found
        ]
        click.echo(table_text(["ID", "STATUS", "SEVERITY", "OPENED", "MTTA", "MTTR", "TITLE"], rows))
    else:
        click.echo("no incidents")
    click.echo(_response_times(data.get("response_times")))


@incidents.command("show")
@click.argument("id")
@json_option
@connected
def incidents_show(api: Api, id: str, as_json: bool) -> None:
    """One incident: its state, its timeline, and its alerts."""
    inc = api.json("GET", api_path("v1", "incidents", id))
    if as_json:
        echo_json(inc)
        return
    now = api.clock()
    opened = time_of(inc.get("opened_at"))
    acked = (
        f"by {inc.get('acked_by')} at {when_text(inc.get('acked_at'), now)}" if inc.get("acked_at") else "-"
    )
    resolved = (
        f"by {inc.get('resolved_by')} at {when_text(inc.get('resolved_at'), now)}"
        if inc.get("resolved_at")
        else "-"
    )
    head = [
        ("status", f"{inc.get('status')}   severity {inc.get('severity')}   model {inc.get('model')}"),
        ("title", inc.get("title", "")),
        ("opened", when_text(inc.get("opened_at"), now)),
        ("acked", f"{acked}   MTTA {duration_text(inc.get('mtta'))}"),
        ("resolved", f"{resolved}   MTTR {duration_text(inc.get('mttr'))}"),
    ]
    click.echo(inc.get("id", id))
    for key, value in head:
        click.echo(f"  {key:<9}{value}")
    click.echo("\ntimeline")
    entries = []
    for e in inc.get("timeline") or []:
        at = time_of(e.get("at"))
        offset = "+" + duration_text(at - opened) if at is not None and opened is not None else ""
        entries.append((stamp_text(e.get("at")), offset, e.get("kind"), e.get("actor"), e.get("text")))
    click.echo(table_text(["TIME", "AFTER", "KIND", "ACTOR", "TEXT"], entries, indent=2, wrap=True))
    found = [a for a in inc.get("alerts") or [] if isinstance(a, dict)]
    click.echo("\nalerts")
    if not found:
        click.echo("  (none)")
        return
    rows = []
    for a in found:
        start, end = time_of(a.get("fired_at")), time_of(a.get("resolved_at"))
        lasted = duration_text((end if end is not None else now) - start) if start is not None else "-"
        peak = a.get("peak")
        rows.append(
            (
                a.get("rule"),
                a.get("severity"),
                stamp_text(a.get("fired_at")),
                lasted + ("" if end is not None else "+"),
                f"{peak:.4g}" if isinstance(peak, int | float) else peak,
                a.get("verdict"),
                _episode(a),
            )
        )
    click.echo(
        table_text(["RULE", "SEVERITY", "FIRED", "LASTED", "PEAK", "VERDICT", "EPISODE"], rows, indent=2)
    )


def _episode(alert: Mapping[str, Any]) -> str:
    """An episode's id (``rule/model/fired_at in ms``), as ``vigil.alerting.history`` names it."""
    if alert.get("id"):
        return str(alert["id"])
    fired = time_of(alert.get("fired_at"))
    return "-" if fired is None else f"{alert.get('rule')}/{alert.get('model')}/{round(fired * 1000)}"


def _incident_change(api: Api, id: str, what: str, body: dict[str, Any]) -> None:
    incident = api.json("POST", api_path("v1", "incidents", id, what), body=body)
    if what == "notes":
        click.echo(f"note added to {incident.get('id', id)}")
    else:
        click.echo(status_line(incident, api))


@incidents.command("ack")
@click.argument("id")
@click.option("--note", help="Goes on the timeline with the acknowledgement.")
@connected
def incidents_ack(api: Api, id: str, note: str | None) -> None:
    """Acknowledge incident ID: you are on it."""
    _incident_change(api, id, "ack", {"note": note} if note else {})


@incidents.command("note")
@click.argument("id")
@click.argument("text")
@connected
def incidents_note(api: Api, id: str, text: str) -> None:
    """Add TEXT to incident ID's timeline."""
    _incident_change(api, id, "notes", {"text": text})


@incidents.command("resolve")
@click.argument("id")
@click.option("--note", help="What fixed it: goes on the timeline.")
@connected
def incidents_resolve(api: Api, id: str, note: str | None) -> None:
    """Resolve incident ID (before every alert of it has)."""
    _incident_change(api, id, "resolve", {"note": note} if note else {})


# -- audit ---------------------------------------------------------------------------------------------------


def _brief(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key.endswith("_at") and isinstance(value, int | float | str):
        return stamp_text(value) if time_of(value) is not None else str(value)
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value) if not isinstance(value, dict) else json.dumps(value)[:40]


def _change(before: Any, after: Any) -> str:
    """What an audited change did, on one line: the fields it changed, or what it created."""
    skip = ("timeline", "updated_at", "mtta", "mttr", "episodes")
    if isinstance(before, dict) and isinstance(after, dict):
        keys = [k for k in after if k not in skip and before.get(k) != after.get(k)]
        return ", ".join(f"{k} {_brief(k, before.get(k))} → {_brief(k, after.get(k))}" for k in keys)
    if isinstance(after, dict):
        if "text" in after:
            return str(after["text"])
        return ", ".join(f"{k}={_brief(k, v)}" for k, v in after.items() if k not in skip and k != "id")
    return "" if after is None else str(after)


@click.command("audit")
@click.option("--since", help="Entries since then: 1d, RFC 3339 or epoch seconds [default: all].")
@click.option("--target", help="A target (silence/ID), or ending with / every target under it (silence/).")
@click.option(
    "--limit", default=1000, show_default=True, type=click.IntRange(1, 10_000), help="The newest N."
)
@json_option
@connected
def audit(api: Api, since: str | None, target: str | None, limit: int, as_json: bool) -> None:
    """The audit log, oldest first: who did what, when; below each entry, what it changed."""
    params = {"limit": str(limit)}
    if since:
        params["since"] = format_time(parse_time(since, api.clock(), "--since"))
    if target:
        params["target"] = target
    data = api.json("GET", "/v1/audit", params=params)
    if as_json:
        echo_json(data)
        return
    entries = [e for e in data.get("entries") or [] if isinstance(e, dict)]
    if not entries:
        click.echo("no audit entries")
        return
    now = api.clock()
    rows = [(when_text(e.get("at"), now), e.get("actor"), e.get("action"), e.get("target")) for e in entries]
    lines = table_text(["AT", "ACTOR", "ACTION", "TARGET"], rows).splitlines()
    click.echo(lines[0])
    for line, e in zip(lines[1:], entries, strict=True):
        click.echo(line)
        change = _change(e.get("before"), e.get("after"))
        if change:
            click.echo(textwrap.fill(change, MIN_WIDTH, initial_indent="    ", subsequent_indent="      "))
