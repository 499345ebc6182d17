"""``vigil alerts`` and ``vigil silences``: what is firing, and muting it::

    vigil alerts list [--all] [--model M] [--severity S]        firing alerts (--all: resolved ones too)
    vigil alerts ack FINGERPRINT_PREFIX [--note TEXT]           acknowledge the incident of an alert
    vigil alerts silence MATCHER... (--duration 2h | --until T) --comment TEXT     prints the silence id
    vigil alerts verdict FINGERPRINT_OR_EPISODE (--true | --false)
    vigil silences list [--expired]          vigil silences expire ID

Options, times, matchers and errors as ``vigil.cli.client`` describes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import click

from vigil.cli.client import (
    Api,
    actor_text,
    ago_text,
    api_path,
    connected,
    echo_json,
    json_option,
    parse_matchers,
    parse_time,
    stamp_text,
    status_line,
    table_text,
    time_of,
    when_text,
)
from vigil.errors import InputError
from vigil.timefmt import format_time

__all__ = ["alerts", "silences"]


# -- alerts --------------------------------------------------------------------------------------------------


@click.group()
def alerts() -> None:
    """Current alerts: list, acknowledge, silence, and judge them."""


def _alerts(api: Api) -> list[dict[str, Any]]:
    found = api.json("GET", "/v1/alerts").get("alerts") or []
    return [a for a in found if isinstance(a, dict)]


def _one_by_prefix(items: Sequence[Mapping[str, Any]], key: str, prefix: str, what: str) -> Mapping[str, Any]:
    """The item whose ``key`` starts with ``prefix``, unique; ``InputError`` naming the candidates else."""
    wanted = prefix.strip().lower()
    if not wanted:
        raise InputError(f"give the {what}'s {key} (or its first characters)")
    hits: dict[str, Mapping[str, Any]] = {}
    for item in items:
        value = str(item.get(key, ""))
        if value.lower() == wanted:
            return item
        if value.lower().startswith(wanted) and (value not in hits or item.get("status") == "firing"):
            hits[value] = item
    if len(hits) > 1:
        shown = ", ".join(sorted(v[:16] for v in hits)[:5])
        raise InputError(f"{prefix!r} is the start of {len(hits)} {what}s' {key}s ({shown}); give more of it")
    if not hits:
        raise InputError(f"no current {what} has a {key} starting with {prefix!r}")
    return next(iter(hits.values()))


@alerts.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also alerts resolved but not yet notified.")
@click.option("--model", help="Only this model's alerts.")
@click.option("--severity", help="Only alerts of this severity (warning, critical).")
@json_option
@connected
def alerts_list(api: Api, show_all: bool, model: str | None, severity: str | None, as_json: bool) -> None:
    """Firing alerts, the most severe and newest first."""
    data = api.json("GET", "/v1/alerts")
    found = [
        a
        for a in data.get("alerts") or []
        if isinstance(a, dict)
        and (show_all or a.get("status") == "firing")
        and (model is None or a.get("labels", {}).get("model") == model)
        and (severity is None or a.get("labels", {}).get("severity") == severity)
    ]
    found.sort(key=lambda a: time_of(a.get("startsAt")) or 0.0, reverse=True)
    found.sort(key=lambda a: a.get("labels", {}).get("severity") != "critical")
    if as_json:
        echo_json({**data, "alerts": found})
        return
    if data.get("note"):
        click.echo(f"note: {data['note']}", err=True)
    if not found:
        click.echo("no alerts" + ("" if show_all else " firing"))
        return
    now = api.clock()
    header = ["FINGERPRINT", "ALERTNAME", "MODEL", "SEVERITY", *(["STATUS"] if show_all else [])]
    header += ["SINCE", "VALUE/THRESHOLD", "SUMMARY"]
    rows = []
    for a in found:
        labels, notes = a.get("labels", {}), a.get("annotations", {})
        value = f"{notes.get('value', '-')}/{notes.get('threshold', '-')}"
        rows.append(
            [
                str(a.get("fingerprint", ""))[:12],
                labels.get("alertname"),
                labels.get("model"),
                labels.get("severity"),
                *([a.get("status")] if show_all else []),
                ago_text(a.get("startsAt"), now),
                value,
                notes.get("description") or notes.get("summary", ""),
            ]
        )
    click.echo(table_text(header, rows))


@alerts.command("ack")
@click.argument("fingerprint")
@click.option("--note", help="Why, or what you are doing: goes on the incident's timeline.")
@connected
def alerts_ack(api: Api, fingerprint: str, note: str | None) -> None:
    """Acknowledge the incident of the alert whose fingerprint starts with FINGERPRINT."""
    alert = _one_by_prefix(_alerts(api), "fingerprint", fingerprint, "alert")
    body: dict[str, Any] = {"note": note} if note else {}
    incident = api.json("POST", api_path("v1", "alerts", str(alert["fingerprint"]), "ack"), body=body)
    click.echo(status_line(incident, api))


@alerts.command("silence")
@click.argument("matchers", nargs=-1, required=True)
@click.option("--duration", help="How long, from now: 30m, 2h, 1d.")
@click.option("--until", help="When it ends: RFC 3339, epoch seconds, or a duration from now.")
@click.option("--comment", required=True, help="Why: shown to everyone who sees the silence.")
@connected
def alerts_silence(
    api: Api, matchers: tuple[str, ...], duration: str | None, until: str | None, comment: str
) -> None:
    """Mute alerts matching every MATCHER (e.g. model=credit 'alertname=~"Drift.*"'); prints the id."""
    if (duration is None) == (until is None):
        raise InputError("give how long the silence lasts: --duration 2h or --until TIME (one of them)")
    body: dict[str, Any] = {"matchers": parse_matchers(matchers), "comment": comment}
    if duration is not None:
        body["duration"] = duration
    else:
        body["ends_at"] = format_time(parse_time(str(until), api.clock(), "--until", future=True))
    made = api.json("POST", "/v1/silences", body=body)
    click.echo(made.get("id", ""))
    shown = " ".join(made.get("matchers", body["matchers"]))
    click.echo(f"silenced {shown} until {when_text(made.get('ends_at'), api.clock())}", err=True)


@alerts.command("verdict")
@click.argument("target")
@click.option("--true/--false", "real", default=None, help="A real problem, or it should not have fired.")
@connected
def alerts_verdict(api: Api, target: str, real: bool | None) -> None:
    """Judge an alert: TARGET is a current alert's fingerprint (prefix) or an episode id (rule/model/ms)."""
    if real is None:
        raise InputError("say --true (a real problem) or --false (it should not have fired)")
    body: dict[str, Any] = {"verdict": real}
    if "/" in target:
        body["episode"], fingerprint = target, "-"
    else:
        try:
            fingerprint = str(_one_by_prefix(_alerts(api), "fingerprint", target, "alert")["fingerprint"])
        except InputError as exc:
            raise InputError(
                f"{exc}; for a past alert give its episode id (`vigil incidents show`)"
            ) from None
    done = api.json("POST", api_path("v1", "alerts", fingerprint, "verdict"), body=body)
    what = "a real problem" if str(done.get("verdict")) in ("true", "True") else "a false alarm"
    click.echo(f"episode {done.get('episode', target)} marked {what} by {done.get('by', '?')}")


# -- silences ------------------------------------------------------------------------------------------------


@click.group()
def silences() -> None:
    """Silences: list and expire them (create one with `vigil alerts silence`)."""


@silences.command("list")
@click.option("--expired", is_flag=True, help="Show the expired silences instead of the others.")
@json_option
@connected
def silences_list(api: Api, expired: bool, as_json: bool) -> None:
    """Active and pending silences (or, with --expired, the expired ones)."""
    found = [
        s
        for s in api.json("GET", "/v1/silences").get("silences") or []
        if isinstance(s, dict) and (s.get("state") == "expired") == expired
    ]
    if as_json:
        echo_json({"silences": found})
        return
    if not found:
        click.echo("no expired silences" if expired else "no active or pending silences")
        return
    now = api.clock()
    rows = [
        (
            s.get("id"),
            s.get("state"),
            when_text(s.get("ends_at"), now),
            actor_text(s.get("created_by")),
            " ".join(s.get("matchers", [])),
            s.get("comment"),
        )
        for s in found
    ]
    click.echo(table_text(["ID", "STATE", "ENDS", "BY", "MATCHERS", "COMMENT"], rows))


@silences.command("expire")
@click.argument("id")
@connected
def silences_expire(api: Api, id: str) -> None:
    """End the silence ID (or the one whose id starts with it) now."""
    every = [s for s in api.json("GET", "/v1/silences").get("silences") or [] if isinstance(s, dict)]
    found = _one_by_prefix(every, "id", id, "silence")
    ended = api.json("DELETE", api_path("v1", "silences", str(found["id"])))
    click.echo(
        f"silence {ended.get('id', id)} {ended.get('state', 'expired')} at {stamp_text(ended.get('ends_at'))}"
    )
