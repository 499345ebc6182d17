"""The HTTP client and the formatting that the operator commands (``vigil alerts|silences|incidents|audit|
rules|review|actions``) share; they talk to a running ``vigil serve`` as ``amtool`` talks to Alertmanager.

Every command takes ``--url`` (env ``VIGIL_URL``, default ``http://127.0.0.1:8000``), ``--api-key``
(``VIGIL_API_KEY``, sent as ``Authorization: Bearer``) and ``--user`` (``VIGIL_USER``, default the OS user;
sent as ``X-Vigil-User``). The server records who did what from the key: a named key's holder, whatever
``--user`` says; ``--user`` is recorded only for a key that names nobody, as ``ana (unverified)`` (tables
show it as ``ana?``), and such a caller cannot approve actions. List commands take ``--json`` for the
server's JSON; otherwise they print a table that fits 100 columns, times in UTC (``2026-11-21 10:00``) with
how long ago (``12m ago``), durations like ``4m30s``.

Times given to ``--from``, ``--to``, ``--until`` and ``--since`` are RFC 3339, epoch seconds, or a duration:
``2h`` is two hours ago (two hours from now for ``--until``). Matchers are Alertmanager's, as ``amtool`` takes
them: ``model=credit 'alertname=~"Drift.*"'`` or ``'{model="credit",severity!="warning"}'``; a value the
shell has unquoted is taken literally, a bare word is refused.

Errors (server unreachable, a refusal, a bad matcher or time) are one ``error: ...`` line and exit code 2:
they are raised as ``InputError`` for the ``vigil`` group to print. The clock is ``time.time`` unless the
click context's object is a callable (a test's fake clock).
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
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import click

from vigil.errors import InputError
from vigil.timefmt import format_age, format_duration, format_minute, parse_duration

if TYPE_CHECKING:
    import httpx

__all__ = [
    "MIN_WIDTH",
    "Api",
    "actor_text",
    "ago_text",
    "api_path",
    "connected",
    "duration_text",
    "echo_json",
    "json_option",
    "parse_matchers",
    "parse_time",
    "stamp_text",
    "status_line",
    "table_text",
    "time_of",
    "when_text",
]

MIN_WIDTH = 100
"""Columns: the width wrapped text takes, and the least a table takes (it widens to the terminal)."""


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
        403: " — ask an admin for a key with that role" if " role " in text else "",
    }.get(status, "")
    return f"{text} (HTTP {status}){hint}"


def _one_line(text: str) -> str:
    return "; ".join(line.strip() for line in text.strip().splitlines() if line.strip())


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        raise InputError("cannot tell who you are: give --user NAME or set VIGIL_USER") from None


def connected(f: Callable[..., Any]) -> Callable[..., Any]:
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
        click.option(
            "--api-key",
            envvar="VIGIL_API_KEY",
            help="Your API key, if the server wants one (reading needs a viewer key, acknowledging and "
            "silencing an editor's, actions an admin's); a named key is who you are in the audit log.",
        ),
        click.option(
            "--user",
            envvar="VIGIL_USER",
            help="Your name, recorded as unverified when your key names nobody [default: OS user].",
        ),
    ]
    for option in reversed(options):
        run = option(run)
    return run


def json_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """Adds ``--json`` (``as_json``): print the server's JSON instead of a table."""
    return click.option("--json", "as_json", is_flag=True, help="Print the server's JSON instead.")(f)


def echo_json(data: Any) -> None:
    """``data`` as indented JSON on stdout."""
    click.echo(json.dumps(data, indent=2))


def api_path(*parts: str) -> str:
    """An API path from its parts, each percent-quoted whole (a ``/`` in a name stays in its part).

    >>> api_path("v1", "models", "a/b")
    '/v1/models/a%2Fb'
    """
    return "/" + "/".join(quote(p, safe="") for p in parts)


# -- times, durations, tables --------------------------------------------------------------------------------


def parse_time(text: str, now: float, what: str, *, future: bool = False) -> float:
    """``text`` (RFC 3339, epoch seconds, or a duration before ``now``, after it when ``future``) in seconds.

    >>> parse_time("2h", 10_000.0, "--from"), parse_time("2h", 10_000.0, "--until", future=True)
    (2800.0, 17200.0)
    >>> parse_time("2026-11-21T10:00:00Z", 0, "--to") == parse_time("1795255200", 0, "--to")
    True
    """
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


def time_of(value: Any) -> float | None:
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


def stamp_text(value: Any) -> str:
    """A server time as UTC to the minute, ``-`` when absent.

    >>> stamp_text("2026-11-21T10:00:42Z"), stamp_text(None)
    ('2026-11-21 10:00', '-')
    """
    t = time_of(value)
    return "-" if t is None else format_minute(t)


_ISO_SPAN = re.compile(
    r"P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?"
)


def duration_text(seconds: Any) -> str:
    """A duration (seconds, or as the server may write one: ``1h``, ISO 8601 ``PT1H``) in its two largest
    units; ``-`` when absent or unreadable.

    >>> [duration_text(s) for s in (0, 42, 270, 300, 3_900, 90_061, None, "PT1H30M", "P1DT5S", "2h")]
    ['0s', '42s', '4m30s', '5m', '1h05m', '1d01h', '-', '1h30m', '1d', '2h']
    """
    if isinstance(seconds, str):
        iso = _ISO_SPAN.fullmatch(seconds)
        if iso is not None and seconds not in ("P", "PT"):
            days, hours, minutes, secs = (float(g or 0) for g in iso.groups())
            seconds = days * 86_400 + hours * 3600 + minutes * 60 + secs
        else:
            try:
                seconds = parse_duration(seconds).total_seconds()
            except Exception:
                return str(seconds)
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return "-"
    return format_duration(seconds)


def ago_text(value: Any, now: float) -> str:
    """How long before ``now`` a server time was, in its largest unit (``in ...`` when after).

    >>> [ago_text(t, now) for t, now in ((1000, 1045), (1000, 1750), (1000, -6200), (None, 0))]
    ['45s ago', '12m ago', 'in 2h', '-']
    """
    t = time_of(value)
    return "-" if t is None else format_age(t, now)


def when_text(value: Any, now: float) -> str:
    """A server time as :func:`stamp_text` then :func:`ago_text` in brackets; ``-`` when absent."""
    return "-" if time_of(value) is None else f"{stamp_text(value)} ({ago_text(value, now)})"


def table_text(
    header: Sequence[str], rows: Iterable[Sequence[Any]], flex: int = -1, indent: int = 0, wrap: bool = False
) -> str:
    """Aligned columns two spaces apart, ``indent`` spaces in; the ``flex`` column is cut (``…``), or with
    ``wrap`` continued on the next lines, so that lines fit the terminal (at least 100 columns). ``None``
    shows as ``-``.

    >>> print(table_text(["A", "NOTE"], [("x", "hello"), (None, "y")]))
    A  NOTE
    x  hello
    -  y
    """
    cells = [[str(h) for h in header]]
    cells += [["-" if c is None else _one_line(str(c)) for c in row] for row in rows]
    n = len(header)
    flex %= n
    widths = [max(len(row[i]) for row in cells) for i in range(n)]
    width = max(MIN_WIDTH, shutil.get_terminal_size((MIN_WIDTH, 24)).columns)
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


def actor_text(actor: object) -> object:
    """An actor for a table column: a name no key vouches for (``ana (unverified)``) as ``ana?``.

    >>> actor_text("ana (unverified)"), actor_text("bo")
    ('ana?', 'bo')
    """
    from vigil.actions.remediator import UNVERIFIED

    if isinstance(actor, str) and actor.endswith(UNVERIFIED):
        return actor[: -len(UNVERIFIED)] + "?"
    return actor


def status_line(incident: Mapping[str, Any], api: Api) -> str:
    """An incident's state after ``vigil alerts ack`` or ``vigil incidents ack|resolve``, on one line."""
    from vigil.actions.remediator import unverified

    id, status = incident.get("id", "?"), incident.get("status", "?")
    if status == "acknowledged":
        mine = incident.get("acked_by") in (api.user, unverified(api.user))
        return (
            f"{id} {'acknowledged' if mine else 'was already acknowledged'} by {incident.get('acked_by')} "
            f"at {stamp_text(incident.get('acked_at'))} (MTTA {duration_text(incident.get('mtta'))})"
        )
    if status == "resolved":
        return (
            f"{id} resolved by {incident.get('resolved_by')} at {stamp_text(incident.get('resolved_at'))} "
            f"(MTTR {duration_text(incident.get('mttr'))})"
        )
    return f"{id} is {status}"


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
