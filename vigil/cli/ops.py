"""The operator's commands for the response side, over HTTP to a running ``vigil serve`` (what ``amtool`` is
to Alertmanager)::

    vigil alerts list [--all] [--model M] [--severity S]        firing alerts (--all: resolved ones too)
    vigil alerts ack FINGERPRINT_PREFIX [--note TEXT]           acknowledge the incident of an alert
    vigil alerts silence MATCHER... (--duration 2h | --until T) --comment TEXT     prints the silence id
    vigil alerts verdict FINGERPRINT_OR_EPISODE (--true | --false)
    vigil silences list [--expired]          vigil silences expire ID
    vigil incidents list [--status open,acknowledged,resolved] [--since 7d]
    vigil incidents show ID | ack ID | note ID TEXT | resolve ID [--note TEXT]
    vigil audit [--since 1d] [--target silence/] [--limit N]
    vigil rules list                         vigil rules test --model M (--name R | --file F) [--from T]
                                                                  [--to T] [--every 1m]
    vigil review [--from T] [--to T] [--html FILE]
    vigil actions list | run NAME --model M --reason TEXT [--force] | approve RUN_ID
                       | reject RUN_ID --reason TEXT

Every command takes ``--url`` (env ``VIGIL_URL``, default ``http://127.0.0.1:8000``), ``--api-key``
(``VIGIL_API_KEY``, sent as ``Authorization: Bearer``) and ``--user`` (``VIGIL_USER``, default the OS user;
sent as ``X-Vigil-User`` and as ``by``). List commands take ``--json`` for the server's JSON; otherwise they
print a table that fits 100 columns, times in UTC (``2026-11-21 10:00``) with how long ago (``12m ago``),
durations like ``4m30s``.

Times given to ``--from``, ``--to``, ``--until`` and ``--since`` are RFC 3339, epoch seconds, or a duration:
``2h`` is two hours ago (two hours from now for ``--until``). Matchers are Alertmanager's, as ``amtool`` takes
them: ``model=credit 'alertname=~"Drift.*"'`` or ``'{model="credit",severity!="warning"}'``; a value the
shell has unquoted is taken literally, a bare word is refused.

Errors (server unreachable, a refusal, a bad matcher or time) are one ``error: ...`` line and exit code 2:
they are raised as ``InputError`` for the ``vigil`` group to print. ``actions run|approve|reject`` exit 1
when the run ends refused, rejected or failed. The clock is ``time.time`` unless the click context's object
is a callable (a test's fake clock).
"""

from __future__ import annotations

import functools
import getpass
import json
import re
import shutil
import textwrap
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import click

from vigil.errors import InputError

if TYPE_CHECKING:
    import httpx

__all__ = ["Api", "actions", "alerts", "audit", "incidents", "parse_matchers", "review", "rules", "silences"]

_WIDTH = 100
_STATUSES = ("open", "acknowledged", "resolved")
_BAD_RUN = ("refused", "rejected", "failed")


# -- talking to the server -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Api:
    """One Vigil server: JSON in and out, every failure an ``InputError`` with a sentence to act on."""

    url: str
    user: str
    api_key: str | None = None
    clock: Callable[[], float] = time.time
    timeout: float = 30.0

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """The answer to ``method path``; raises ``InputError`` when there is none or it is an error."""
        import httpx

        headers = {"x-vigil-user": self.user, "accept": "application/json"}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        try:
            with httpx.Client(base_url=self.url, timeout=self.timeout) as client:
                answer = client.request(method, path, params=params, json=body, headers=headers)
        except httpx.UnsupportedProtocol:
            raise InputError(f"--url must start with http:// or https:// (got {self.url!r})") from None
        except httpx.InvalidURL as exc:
            raise InputError(f"--url {self.url!r} is not a URL: {exc}") from None
        except httpx.TimeoutException:
            raise InputError(f"Vigil at {self.url} did not answer within {self.timeout:g}s") from None
        except httpx.HTTPError as exc:
            raise InputError(f"cannot reach Vigil at {self.url}: {exc} — is `vigil serve` running?") from None
        if answer.status_code >= 400:
            raise InputError(_refusal(answer, method, path, self.url))
        return answer

    def json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The JSON object answering ``method path``."""
        answer = self.call(method, path, params=params, body=body)
        try:
            data = answer.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise InputError(
                f"Vigil at {self.url} answered {method} {path} with something other than a JSON object: "
                f"{_one_line(answer.text)[:80]!r}"
            )
        return data


def _refusal(answer: httpx.Response, method: str, path: str, url: str) -> str:
    """The server's own message for an error answer, on one line, with what to do where it is known."""
    try:
        body = answer.json()
    except ValueError:
        body = None
    detail = (body.get("error") or body.get("detail")) if isinstance(body, dict) else None
    if isinstance(detail, list):  # FastAPI's request validation: [{"loc": [...], "msg": ...}]
        detail = "; ".join(
            f"{'.'.join(str(p) for p in d.get('loc', ()))}: {d.get('msg', '')}"
            if isinstance(d, dict)
            else str(d)
            for d in detail
        )
    status = answer.status_code
    text = _one_line(str(detail)) if detail else (_one_line(answer.text)[:200] or answer.reason_phrase)
    if status in (404, 405) and text in ("Not Found", "Method Not Allowed"):
        return f"Vigil at {url} does not serve {method} {path} (HTTP {status}); is it an older version?"
    if isinstance(body, dict) and isinstance(body.get("known_models"), list):
        text += f"; known models: {', '.join(map(str, body['known_models'])) or '(none)'}"
    hint = {
        401: " — give a key with --api-key or VIGIL_API_KEY",
        403: " — this needs an admin key",
    }.get(status, "")
    return f"{text} (HTTP {status}){hint}"


def _one_line(text: str) -> str:
    return "; ".join(line.strip() for line in text.strip().splitlines() if line.strip())


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        raise InputError("cannot tell who you are: give --user NAME or set VIGIL_USER") from None


def _connected(f: Callable[..., Any]) -> Callable[..., Any]:
    """Adds ``--url``, ``--api-key`` and ``--user``, and hands the command an ``Api`` as first argument."""

    @functools.wraps(f)
    def run(*args: Any, url: str, api_key: str | None, user: str | None, **kwargs: Any) -> Any:
        obj = click.get_current_context().obj
        clock: Callable[[], float] = obj if callable(obj) else time.time
        api = Api(url.strip().rstrip("/"), (user or "").strip() or _os_user(), api_key or None, clock)
        return f(api, *args, **kwargs)

    options = [
        click.option(
            "--url",
            default="http://127.0.0.1:8000",
            show_default=True,
            envvar="VIGIL_URL",
            help="The Vigil server [env VIGIL_URL].",
        ),
        click.option("--api-key", envvar="VIGIL_API_KEY", help="An admin key, if the server wants one."),
        click.option(
            "--user", envvar="VIGIL_USER", help="Who you are, for the audit log [default: OS user]."
        ),
    ]
    for option in reversed(options):
        run = option(run)
    return run


def _json_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print the server's JSON instead.")(f)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2))


def _path(*parts: str) -> str:
    return "/" + "/".join(quote(p, safe="") for p in parts)


# -- times, durations, tables --------------------------------------------------------------------------------


def parse_time(text: str, now: float, what: str, *, future: bool = False) -> float:
    """``text`` (RFC 3339, epoch seconds, or a duration before ``now``, after it when ``future``) in seconds.

    >>> parse_time("2h", 10_000.0, "--from"), parse_time("2h", 10_000.0, "--until", future=True)
    (2800.0, 17200.0)
    >>> parse_time("2026-11-21T10:00:00Z", 0, "--to") == parse_time("1795255200", 0, "--to")
    True
    """
    from vigil.config import parse_duration

    given = text.strip()
    try:
        return float(given)
    except ValueError:
        pass
    try:
        seconds = parse_duration(given).total_seconds()
        return now + seconds if future else now - seconds
    except Exception:
        pass
    try:
        when = datetime.fromisoformat(given)
    except ValueError:
        ago = "from now" if future else "ago"
        raise InputError(
            f"{what}: not a time: {text!r}; give RFC 3339 (2026-11-21T10:00:00Z), epoch seconds, "
            f"or a duration like 2h (that long {ago})"
        ) from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(value: Any) -> float | None:
    """A time from the server (epoch seconds or RFC 3339) in seconds; None when absent or unreadable."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value:
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            return None
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    return None


def _stamp(value: Any) -> str:
    """A server time as UTC to the minute, ``-`` when absent.

    >>> _stamp("2026-11-21T10:00:42Z"), _stamp(None)
    ('2026-11-21 10:00', '-')
    """
    t = _seconds(value)
    return "-" if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M")


_ISO_SPAN = re.compile(
    r"P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?"
)


def _duration(seconds: Any) -> str:
    """A duration (seconds, or as the server may write one: ``1h``, ISO 8601 ``PT1H``) in its two largest
    units; ``-`` when absent or unreadable.

    >>> [_duration(s) for s in (0, 42, 270, 300, 3_900, 90_061, None, "PT1H30M", "P1DT5S", "2h")]
    ['0s', '42s', '4m30s', '5m', '1h05m', '1d01h', '-', '1h30m', '1d', '2h']
    """
    if isinstance(seconds, str):
        iso = _ISO_SPAN.fullmatch(seconds)
        if iso is not None and seconds not in ("P", "PT"):
            days, hours, minutes, secs = (float(g or 0) for g in iso.groups())
            seconds = days * 86_400 + hours * 3600 + minutes * 60 + secs
        else:
            from vigil.config import parse_duration

            try:
                seconds = parse_duration(seconds).total_seconds()
            except Exception:
                return str(seconds)
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return "-"
    s = round(abs(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        m, rest = divmod(s, 60)
        return f"{m}m{rest:02d}s" if rest else f"{m}m"
    if s < 86_400:
        h, rest = divmod(s, 3600)
        return f"{h}h{rest // 60:02d}m" if rest // 60 else f"{h}h"
    d, rest = divmod(s, 86_400)
    return f"{d}d{rest // 3600:02d}h" if rest // 3600 else f"{d}d"


def _ago(value: Any, now: float) -> str:
    """How long before ``now`` a server time was, in its largest unit (``in ...`` when after).

    >>> _ago(1000, 1045), _ago(1000, 1000 + 12 * 60 + 30), _ago(1000, 1000 - 7200), _ago(None, 0)
    ('45s ago', '12m ago', 'in 2h', '-')
    """
    t = _seconds(value)
    if t is None:
        return "-"
    d = now - t
    s = abs(d)
    text = (
        f"{int(s)}s"
        if s < 60
        else f"{int(s // 60)}m"
        if s < 3600
        else f"{int(s // 3600)}h"
        if s < 86_400
        else f"{int(s // 86_400)}d"
    )
    return f"{text} ago" if d >= 0 else f"in {text}"


def _when(value: Any, now: float) -> str:
    return "-" if _seconds(value) is None else f"{_stamp(value)} ({_ago(value, now)})"


def _table(
    header: Sequence[str], rows: Iterable[Sequence[Any]], flex: int = -1, indent: int = 0, wrap: bool = False
) -> str:
    """Aligned columns two spaces apart, ``indent`` spaces in; the ``flex`` column is cut (``…``), or with
    ``wrap`` continued on the next lines, so that lines fit the terminal (at least 100 columns). ``None``
    shows as ``-``.

    >>> print(_table(["A", "NOTE"], [("x", "hello"), (None, "y")]))
    A  NOTE
    x  hello
    -  y
    """
    cells = [[str(h) for h in header]]
    cells += [["-" if c is None else _one_line(str(c)) for c in row] for row in rows]
    n = len(header)
    flex %= n
    widths = [max(len(row[i]) for row in cells) for i in range(n)]
    width = max(_WIDTH, shutil.get_terminal_size((_WIDTH, 24)).columns)
    room = width - indent - sum(w for i, w in enumerate(widths) if i != flex) - 2 * (n - 1)
    widths[flex] = min(widths[flex], max(room, 12, len(header[flex])))
    lines = []
    for row in cells:
        pieces = textwrap.wrap(row[flex], widths[flex]) if wrap and len(row[flex]) > widths[flex] else []
        for k, piece in enumerate(pieces or [row[flex]]):
            shown = [c if k == 0 else "" for c in row]
            shown[flex] = piece
            parts = [_cut(c, widths[i]).ljust(widths[i]) for i, c in enumerate(shown)]
            lines.append(" " * indent + "  ".join(parts).rstrip())
    return "\n".join(lines)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


# -- matchers ------------------------------------------------------------------------------------------------

_SPLIT = re.compile(r'(?:"(?:[^"\\]|\\.)*"|[^,"])+')
_OPERATOR = re.compile(r"^\s*(?P<name>[^=!~\s]+)\s*(?P<op>=~|!~|!=|=)\s*(?P<value>.*?)\s*$", re.DOTALL)


def parse_matchers(args: Sequence[str]) -> list[str]:
    r"""Matchers as ``amtool`` reads them, in the server's quoted form; ``InputError`` for a bad one.

    An argument may hold several, comma-separated, with or without braces. A double-quoted value is taken
    with its escapes; an unquoted one (the shell removed the quotes) literally.

    >>> parse_matchers(["model=credit", 'alertname=~"Drift.*"', '{team="risk",severity!=warning}'])
    ['model="credit"', 'alertname=~"Drift.*"', 'team="risk"', 'severity!="warning"']
    >>> print(*parse_matchers([r"host=~web\.example", 'note="say \\"hi\\""']))
    host=~"web\\.example" note="say \"hi\""
    """
    from vigil.alerting.matchers import parse_matcher

    out: list[str] = []
    for arg in args:
        text = arg.strip()
        if text.startswith("{") and text.endswith("}"):
            text = text[1:-1]
        parts = [p.strip() for p in _SPLIT.findall(text) if p.strip()]
        if not parts:
            raise InputError(f"empty matcher {arg!r}: write label=value, e.g. model=credit")
        for part in parts:
            found = _OPERATOR.match(part)
            if found is None:
                bare = not any(c in part for c in "=!~")
                raise InputError(
                    f"invalid matcher {part!r}: "
                    + ("a bare word is not a matcher; " if bare else "")
                    + "write label=value, label!=value, label=~regex or label!~regex, e.g. model=credit "
                    'or alertname=~"Drift.*"'
                )
            value = found["value"]
            if not (len(value) >= 2 and value.startswith('"') and value.endswith('"')):
                value = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
            out.append(str(parse_matcher(f"{found['name']}{found['op']}{value}")))
    return out


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
@_json_option
@_connected
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
    found.sort(key=lambda a: _seconds(a.get("startsAt")) or 0.0, reverse=True)
    found.sort(key=lambda a: a.get("labels", {}).get("severity") != "critical")
    if as_json:
        _echo_json({**data, "alerts": found})
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
                _ago(a.get("startsAt"), now),
                value,
                notes.get("summary", ""),
            ]
        )
    click.echo(_table(header, rows))


@alerts.command("ack")
@click.argument("fingerprint")
@click.option("--note", help="Why, or what you are doing: goes on the incident's timeline.")
@_connected
def alerts_ack(api: Api, fingerprint: str, note: str | None) -> None:
    """Acknowledge the incident of the alert whose fingerprint starts with FINGERPRINT."""
    alert = _one_by_prefix(_alerts(api), "fingerprint", fingerprint, "alert")
    body: dict[str, Any] = {"by": api.user, **({"note": note} if note else {})}
    incident = api.json("POST", _path("v1", "alerts", str(alert["fingerprint"]), "ack"), body=body)
    click.echo(_status_line(incident, api))


@alerts.command("silence")
@click.argument("matchers", nargs=-1, required=True)
@click.option("--duration", help="How long, from now: 30m, 2h, 1d.")
@click.option("--until", help="When it ends: RFC 3339, epoch seconds, or a duration from now.")
@click.option("--comment", required=True, help="Why: shown to everyone who sees the silence.")
@_connected
def alerts_silence(
    api: Api, matchers: tuple[str, ...], duration: str | None, until: str | None, comment: str
) -> None:
    """Mute alerts matching every MATCHER (e.g. model=credit 'alertname=~"Drift.*"'); prints the id."""
    if (duration is None) == (until is None):
        raise InputError("give how long the silence lasts: --duration 2h or --until TIME (one of them)")
    body: dict[str, Any] = {"matchers": parse_matchers(matchers), "comment": comment, "by": api.user}
    if duration is not None:
        body["duration"] = duration
    else:
        body["ends_at"] = _iso(parse_time(str(until), api.clock(), "--until", future=True))
    made = api.json("POST", "/v1/silences", body=body)
    click.echo(made.get("id", ""))
    shown = " ".join(made.get("matchers", body["matchers"]))
    click.echo(f"silenced {shown} until {_when(made.get('ends_at'), api.clock())}", err=True)


@alerts.command("verdict")
@click.argument("target")
@click.option("--true/--false", "real", default=None, help="A real problem, or it should not have fired.")
@_connected
def alerts_verdict(api: Api, target: str, real: bool | None) -> None:
    """Judge an alert: TARGET is a current alert's fingerprint (prefix) or an episode id (rule/model/ms)."""
    if real is None:
        raise InputError("say --true (a real problem) or --false (it should not have fired)")
    body: dict[str, Any] = {"verdict": real, "by": api.user}
    if "/" in target:
        body["episode"], fingerprint = target, "-"
    else:
        try:
            fingerprint = str(_one_by_prefix(_alerts(api), "fingerprint", target, "alert")["fingerprint"])
        except InputError as exc:
            raise InputError(
                f"{exc}; for a past alert give its episode id (`vigil incidents show`)"
            ) from None
    done = api.json("POST", _path("v1", "alerts", fingerprint, "verdict"), body=body)
    what = "a real problem" if str(done.get("verdict")) in ("true", "True") else "a false alarm"
    click.echo(f"episode {done.get('episode', target)} marked {what} by {done.get('by', api.user)}")


# -- silences ------------------------------------------------------------------------------------------------


@click.group()
def silences() -> None:
    """Silences: list and expire them (create one with `vigil alerts silence`)."""


@silences.command("list")
@click.option("--expired", is_flag=True, help="Show the expired silences instead of the others.")
@_json_option
@_connected
def silences_list(api: Api, expired: bool, as_json: bool) -> None:
    """Active and pending silences (or, with --expired, the expired ones)."""
    found = [
        s
        for s in api.json("GET", "/v1/silences").get("silences") or []
        if isinstance(s, dict) and (s.get("state") == "expired") == expired
    ]
    if as_json:
        _echo_json({"silences": found})
        return
    if not found:
        click.echo("no expired silences" if expired else "no active or pending silences")
        return
    now = api.clock()
    rows = [
        (
            s.get("id"),
            s.get("state"),
            _when(s.get("ends_at"), now),
            s.get("created_by"),
            " ".join(s.get("matchers", [])),
            s.get("comment"),
        )
        for s in found
    ]
    click.echo(_table(["ID", "STATE", "ENDS", "BY", "MATCHERS", "COMMENT"], rows))


@silences.command("expire")
@click.argument("id")
@_connected
def silences_expire(api: Api, id: str) -> None:
    """End the silence ID (or the one whose id starts with it) now."""
    every = [s for s in api.json("GET", "/v1/silences").get("silences") or [] if isinstance(s, dict)]
    found = _one_by_prefix(every, "id", id, "silence")
    ended = api.json("DELETE", _path("v1", "silences", str(found["id"])))
    click.echo(
        f"silence {ended.get('id', id)} {ended.get('state', 'expired')} at {_stamp(ended.get('ends_at'))}"
    )


# -- incidents -----------------------------------------------------------------------------------------------


@click.group()
def incidents() -> None:
    """Incidents: alerts grouped per model for people, with a timeline."""


def _status_line(incident: Mapping[str, Any], api: Api) -> str:
    id, status = incident.get("id", "?"), incident.get("status", "?")
    if status == "acknowledged":
        mine = incident.get("acked_by") == api.user
        return (
            f"{id} {'acknowledged' if mine else 'was already acknowledged'} by {incident.get('acked_by')} "
            f"at {_stamp(incident.get('acked_at'))} (MTTA {_duration(incident.get('mtta'))})"
        )
    if status == "resolved":
        return (
            f"{id} resolved by {incident.get('resolved_by')} at {_stamp(incident.get('resolved_at'))} "
            f"(MTTR {_duration(incident.get('mttr'))})"
        )
    return f"{id} is {status}"


def _response_times(rt: Any) -> str:
    """The ``response_times`` of an incident list on one line."""
    if not isinstance(rt, dict):
        return ""
    n = rt.get("incidents", 0)
    return (
        f"{n} incident{'' if n == 1 else 's'} · "
        f"MTTA mean {_duration(rt.get('mtta_mean'))} median {_duration(rt.get('mtta_median'))} "
        f"({rt.get('acknowledged', 0)} acknowledged) · "
        f"MTTR mean {_duration(rt.get('mttr_mean'))} median {_duration(rt.get('mttr_median'))} "
        f"({rt.get('resolved', 0)} resolved)"
    )


@incidents.command("list")
@click.option("--status", help="Comma-separated: open, acknowledged, resolved.")
@click.option("--since", help="Only incidents changed since then: 7d, RFC 3339 or epoch seconds.")
@_json_option
@_connected
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
        params["since"] = _iso(parse_time(since, api.clock(), "--since"))
    data = api.json("GET", "/v1/incidents", params=params)
    if as_json:
        _echo_json(data)
        return
    found = [i for i in data.get("incidents") or [] if isinstance(i, dict)]
    now = api.clock()
    if found:
        rows = [
            (
                i.get("id"),
                i.get("status"),
                i.get("severity"),
                _when(i.get("opened_at"), now),
                _duration(i.get("mtta")),
                _duration(i.get("mttr")),
                i.get("title"),
            )
            for i in found
        ]
        click.echo(_table(["ID", "STATUS", "SEVERITY", "OPENED", "MTTA", "MTTR", "TITLE"], rows))
    else:
        click.echo("no incidents")
    click.echo(_response_times(data.get("response_times")))


@incidents.command("show")
@click.argument("id")
@_json_option
@_connected
def incidents_show(api: Api, id: str, as_json: bool) -> None:
    """One incident: its state, its timeline, and its alerts."""
    inc = api.json("GET", _path("v1", "incidents", id))
    if as_json:
        _echo_json(inc)
        return
    now = api.clock()
    opened = _seconds(inc.get("opened_at"))
    acked = f"by {inc.get('acked_by')} at {_when(inc.get('acked_at'), now)}" if inc.get("acked_at") else "-"
    resolved = (
        f"by {inc.get('resolved_by')} at {_when(inc.get('resolved_at'), now)}"
        if inc.get("resolved_at")
        else "-"
    )
    head = [
        ("status", f"{inc.get('status')}   severity {inc.get('severity')}   model {inc.get('model')}"),
        ("title", inc.get("title", "")),
        ("opened", _when(inc.get("opened_at"), now)),
        ("acked", f"{acked}   MTTA {_duration(inc.get('mtta'))}"),
        ("resolved", f"{resolved}   MTTR {_duration(inc.get('mttr'))}"),
    ]
    click.echo(inc.get("id", id))
    for key, value in head:
        click.echo(f"  {key:<9}{value}")
    click.echo("\ntimeline")
    entries = []
    for e in inc.get("timeline") or []:
        at = _seconds(e.get("at"))
        offset = "+" + _duration(at - opened) if at is not None and opened is not None else ""
        entries.append((_stamp(e.get("at")), offset, e.get("kind"), e.get("actor"), e.get("text")))
    click.echo(_table(["TIME", "AFTER", "KIND", "ACTOR", "TEXT"], entries, indent=2, wrap=True))
    found = [a for a in inc.get("alerts") or [] if isinstance(a, dict)]
    click.echo("\nalerts")
    if not found:
        click.echo("  (none)")
        return
    rows = []
    for a in found:
        start, end = _seconds(a.get("fired_at")), _seconds(a.get("resolved_at"))
        lasted = _duration((end if end is not None else now) - start) if start is not None else "-"
        peak = a.get("peak")
        rows.append(
            (
                a.get("rule"),
                a.get("severity"),
                _stamp(a.get("fired_at")),
                lasted + ("" if end is not None else "+"),
                f"{peak:.4g}" if isinstance(peak, int | float) else peak,
                a.get("verdict"),
                _episode(a),
            )
        )
    click.echo(_table(["RULE", "SEVERITY", "FIRED", "LASTED", "PEAK", "VERDICT", "EPISODE"], rows, indent=2))


def _episode(alert: Mapping[str, Any]) -> str:
    """An episode's id (``rule/model/fired_at in ms``), as ``vigil.alerting.history`` names it."""
    if alert.get("id"):
        return str(alert["id"])
    fired = _seconds(alert.get("fired_at"))
    return "-" if fired is None else f"{alert.get('rule')}/{alert.get('model')}/{round(fired * 1000)}"


def _incident_change(api: Api, id: str, what: str, body: dict[str, Any]) -> None:
    incident = api.json("POST", _path("v1", "incidents", id, what), body={**body, "by": api.user})
    if what == "notes":
        click.echo(f"note added to {incident.get('id', id)}")
    else:
        click.echo(_status_line(incident, api))


@incidents.command("ack")
@click.argument("id")
@click.option("--note", help="Goes on the timeline with the acknowledgement.")
@_connected
def incidents_ack(api: Api, id: str, note: str | None) -> None:
    """Acknowledge incident ID: you are on it."""
    _incident_change(api, id, "ack", {"note": note} if note else {})


@incidents.command("note")
@click.argument("id")
@click.argument("text")
@_connected
def incidents_note(api: Api, id: str, text: str) -> None:
    """Add TEXT to incident ID's timeline."""
    _incident_change(api, id, "notes", {"text": text})


@incidents.command("resolve")
@click.argument("id")
@click.option("--note", help="What fixed it: goes on the timeline.")
@_connected
def incidents_resolve(api: Api, id: str, note: str | None) -> None:
    """Resolve incident ID (before every alert of it has)."""
    _incident_change(api, id, "resolve", {"note": note} if note else {})


# -- audit ---------------------------------------------------------------------------------------------------


def _brief(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key.endswith("_at") and isinstance(value, int | float | str):
        return _stamp(value) if _seconds(value) is not None else str(value)
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
@_json_option
@_connected
def audit(api: Api, since: str | None, target: str | None, limit: int, as_json: bool) -> None:
    """The audit log, oldest first: who did what, when; below each entry, what it changed."""
    params = {"limit": str(limit)}
    if since:
        params["since"] = _iso(parse_time(since, api.clock(), "--since"))
    if target:
        params["target"] = target
    data = api.json("GET", "/v1/audit", params=params)
    if as_json:
        _echo_json(data)
        return
    entries = [e for e in data.get("entries") or [] if isinstance(e, dict)]
    if not entries:
        click.echo("no audit entries")
        return
    now = api.clock()
    rows = [(_when(e.get("at"), now), e.get("actor"), e.get("action"), e.get("target")) for e in entries]
    lines = _table(["AT", "ACTOR", "ACTION", "TARGET"], rows).splitlines()
    click.echo(lines[0])
    for line, e in zip(lines[1:], entries, strict=True):
        click.echo(line)
        change = _change(e.get("before"), e.get("after"))
        if change:
            click.echo(textwrap.fill(change, _WIDTH, initial_indent="    ", subsequent_indent="      "))


# -- rules ---------------------------------------------------------------------------------------------------


@click.group()
def rules() -> None:
    """Alert rules: list them, and replay one over stored history."""


@rules.command("list")
@_json_option
@_connected
def rules_list(api: Api, as_json: bool) -> None:
    """The rules the server evaluates (from the config and the defaults)."""
    data = api.json("GET", "/v1/rules")
    if as_json:
        _echo_json(data)
        return
    found = [r for r in data.get("rules") or [] if isinstance(r, dict)]
    if not found:
        click.echo("no rules")
        return
    rows = [(r.get("name"), r.get("model"), r.get("metric"), r.get("kind"), r.get("source")) for r in found]
    click.echo(_table(["NAME", "MODEL", "METRIC", "KIND", "SOURCE"], rows))


def _rule_from_file(path: str) -> dict[str, Any]:
    """The one rule in a YAML file: a rule mapping, or a ``rules:`` list with one rule."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else path
        raise InputError(f"{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    if isinstance(data, dict) and "rules" in data:
        listed = data["rules"]
        if not isinstance(listed, list) or len(listed) != 1:
            count = len(listed) if isinstance(listed, list) else 0
            raise InputError(
                f"{path}: 'rules' holds {count} rules; --file takes one (or use --name for a loaded rule)"
            )
        data = listed[0]
    if not isinstance(data, dict):
        raise InputError(
            f"{path}: expected one rule (a mapping with name, metric, ...), or rules: [one rule]"
        )
    return data


@rules.command("test")
@click.option("--model", "-m", required=True, help="The model to replay the rule on.")
@click.option("--name", help="A rule the server has loaded.")
@click.option("--file", "rule_file", type=click.Path(dir_okay=False), help="A YAML file with one rule.")
@click.option("--from", "start", help="Replay from (RFC 3339, epoch seconds, or 7d for 7 days ago).")
@click.option("--to", "end", help="Replay up to [default: now].")
@click.option("--every", help="Evaluate every (e.g. 1m) [default: the server's choice].")
@_json_option
@_connected
def rules_test(
    api: Api,
    model: str,
    name: str | None,
    rule_file: str | None,
    start: str | None,
    end: str | None,
    every: str | None,
    as_json: bool,
) -> None:
    """When would a rule have fired on MODEL's stored history?"""
    if (name is None) == (rule_file is None):
        raise InputError("give the rule: --name RULE (a loaded one) or --file rule.yaml (one of them)")
    body: dict[str, Any] = {"model": model}
    if name is not None:
        body["name"] = name
    else:
        body["rule"] = _rule_from_file(str(rule_file))
    now = api.clock()
    if start:
        body["from"] = _iso(parse_time(start, now, "--from"))
    if end:
        body["to"] = _iso(parse_time(end, now, "--to"))
    if every:
        body["every"] = every
    data = api.json("POST", "/v1/rules/test", body=body)
    if as_json:
        _echo_json(data)
        return
    if isinstance(data.get("text"), str) and data["text"].strip():
        click.echo(data["text"].rstrip("\n"))
        return
    firing = [f for f in data.get("firing") or data.get("firings") or [] if isinstance(f, dict)]
    rule = data.get("rule")
    title = rule.get("name") if isinstance(rule, dict) else rule or name or "the rule"
    if not firing:
        click.echo(f"{title} would not have fired on {data.get('model', model)}")
        return
    click.echo(f"{title} would have fired {len(firing)} time(s) on {data.get('model', model)}")
    rows = []
    for f in firing:
        fired, resolved = _seconds(f.get("fired_at")), _seconds(f.get("resolved_at"))
        lasted = _duration(resolved - fired) if fired is not None and resolved is not None else "-"
        peak = f.get("peak")
        rows.append(
            (
                _stamp(f.get("fired_at")),
                _stamp(f.get("resolved_at")) if resolved is not None else "still firing",
                lasted,
                f.get("severity"),
                f"{peak:.4g}" if isinstance(peak, int | float) else peak,
            )
        )
    click.echo(_table(["FIRED", "RESOLVED", "LASTED", "SEVERITY", "PEAK"], rows))


# -- review --------------------------------------------------------------------------------------------------


@click.command("review")
@click.option("--from", "start", help="From (RFC 3339, epoch seconds, or 7d for 7 days ago).")
@click.option("--to", "end", help="Up to [default: now].")
@click.option("--html", "html_out", type=click.Path(dir_okay=False), help="Write the HTML review here.")
@_json_option
@_connected
def review(api: Api, start: str | None, end: str | None, html_out: str | None, as_json: bool) -> None:
    """The alerting review: what fired, how often falsely, how fast people answered."""
    now = api.clock()
    params: dict[str, str] = {}
    if start:
        params["from"] = _iso(parse_time(start, now, "--from"))
    if end:
        params["to"] = _iso(parse_time(end, now, "--to"))
    if html_out:
        answer = api.call("GET", "/v1/review", params={**params, "format": "html"})
        try:
            Path(html_out).write_text(answer.text, encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write the review to {html_out}: {exc.strerror or exc}") from None
        click.echo(f"wrote {html_out}")
        return
    data = api.json("GET", "/v1/review", params=params)
    if as_json or not isinstance(data.get("text"), str):
        _echo_json(data)
        return
    click.echo(data["text"].rstrip("\n"))


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
@_json_option
@_connected
def actions_list(api: Api, as_json: bool) -> None:
    """The declared actions, then their recent runs."""
    data = api.json("GET", "/v1/actions")
    if as_json:
        _echo_json(data)
        return
    declared = [a for a in data.get("actions") or [] if isinstance(a, dict)]
    if declared:
        rows = [
            (
                a.get("name"),
                a.get("model"),
                a.get("kind"),
                a.get("approval"),
                _duration(a.get("cooldown")),
                _trigger(a.get("when")),
            )
            for a in declared
        ]
        click.echo(_table(["NAME", "MODEL", "KIND", "APPROVAL", "COOLDOWN", "TRIGGER"], rows))
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
            _when(r.get("requested_at"), now),
            r.get("requested_by"),
            r.get("error") or r.get("result") or r.get("reason"),
        )
        for r in runs
    ]
    click.echo(_table(["ID", "ACTION", "MODEL", "STATE", "REQUESTED", "BY", "DETAIL"], run_rows, indent=2))


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
@_connected
def actions_run(api: Api, name: str, model: str, reason: str, force: bool) -> None:
    """Ask for action NAME on a model (it may wait for approval)."""
    body = {"model": model, "reason": reason, "by": api.user, "force": force}
    _run_result(api.json("POST", _path("v1", "actions", name, "run"), body=body))


@actions.command("approve")
@click.argument("run_id")
@_connected
def actions_approve(api: Api, run_id: str) -> None:
    """Approve run RUN_ID: it executes now."""
    _run_result(api.json("POST", _path("v1", "actions", "runs", run_id, "approve"), body={"by": api.user}))


@actions.command("reject")
@click.argument("run_id")
@click.option("--reason", required=True, help="Why not.")
@_connected
def actions_reject(api: Api, run_id: str, reason: str) -> None:
    """Reject run RUN_ID: it never executes."""
    body = {"by": api.user, "reason": reason}
    _run_result(
        api.json("POST", _path("v1", "actions", "runs", run_id, "reject"), body=body), bad=("failed",)
    )
