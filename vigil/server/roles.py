"""Who may call what: one table of every route and the role it needs (``ROUTES``), the one source the
server's gate (``vigil.server.auth``), the README's table and the tests read.

A route needs one of:

* ``open``: anyone, with no key (health, Prometheus, the API's own documents, signing in);
* ``viewer``: a viewer, editor or admin: reading what Vigil knows, but not raw events nor the audit log;
* ``editor``: an editor or admin: acknowledging, silencing, commenting, verdicts, rules, maintenance;
* ``admin``: an admin only: actions and approvals, models, deploys, keys, raw events, the audit log;
* ``ingest``: an ingest or admin key: sending events, labels and host metrics.

The server refuses to start with a route the table does not list (``bind``), so a new route cannot be
open by mistake; a test calls every route with every role and checks the answer against the table.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any, Literal, get_args

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Mount

from vigil.spec.security import ROLES, Role

__all__ = ["NEEDS", "ROUTES", "Need", "allows", "bind", "every_route", "markdown", "need_of", "needs_role"]

Need = Literal["open", "viewer", "editor", "admin", "ingest"]
NEEDS: tuple[Need, ...] = get_args(Need)

_GRANTS: dict[Need, frozenset[Role]] = {
    "open": frozenset(ROLES),
    "viewer": frozenset({"viewer", "editor", "admin"}),
    "editor": frozenset({"editor", "admin"}),
    "admin": frozenset({"admin"}),
    "ingest": frozenset({"ingest", "admin"}),
}

ROUTES: dict[str, Need] = {
    # open: probes, the API's documents, signing in and out
    "GET /healthz": "open",
    "GET /metrics": "open",
    "GET /openapi.json": "open",
    "GET /docs": "open",
    "GET /docs/assets/*": "open",
    "GET /login": "open",
    "POST /login": "open",
    "POST /logout": "open",
    # the dashboard's assets (no data in them)
    "GET /ui/static/*": "open",
    "GET /favicon.ico": "open",
    # ingest
    "POST /v1/events": "ingest",
    "POST /v1/labels": "ingest",
    "POST /v1/host-metrics": "ingest",
    "POST /v1/feedback": "ingest",
    "POST /v1/traces": "ingest",
    "POST /v1/logs": "ingest",
    "POST /v1/metrics": "ingest",
    # reading
    "GET /v1/models": "viewer",
    "GET /v1/models/{model}": "viewer",
    "GET /v1/models/{model}/metrics": "viewer",
    "GET /v1/models/{model}/spenders": "viewer",
    "GET /v1/models/{model}/drift": "viewer",
    "GET /v1/models/{model}/quality": "viewer",
    "GET /v1/models/{model}/fairness": "viewer",
    "GET /v1/models/{model}/slices": "viewer",
    "GET /v1/alerts": "viewer",
    "GET /v1/episodes": "viewer",
    "GET /v1/silences": "viewer",
    "GET /v1/incidents": "viewer",
    "GET /v1/incidents/{id}": "viewer",
    "GET /v1/rules": "viewer",
    "POST /v1/rules/test": "viewer",
    "GET /v1/review": "viewer",
    "GET /v1/slos": "viewer",
    "GET /v1/maintenance": "viewer",
    "GET /v1/annotations": "viewer",
    "GET /v1/actions": "viewer",
    "GET /v1/procedure": "viewer",
    # the dashboard's pages: what the JSON routes above show (a feature page leaves out the raw events
    # unless the caller may read them)
    "GET /": "viewer",
    "GET /models": "viewer",
    "GET /models/{name}": "viewer",
    "GET /models/{name}/features/{feature}": "viewer",
    "GET /alerts": "viewer",
    "GET /incidents": "viewer",
    "GET /rules": "viewer",
    "GET /review": "viewer",
    "GET /reports": "viewer",
    "GET /procedure": "viewer",
    "GET /incidents/{id}": "viewer",
    "GET /alerts/silences/new": "viewer",
    "GET /rules/replay": "viewer",
    "GET /review/report.html": "viewer",
    "GET /reports/drift.html": "viewer",
    "GET /reports/drift.json": "viewer",
    # the dashboard's forms: the roles of the JSON routes that do the same
    "POST /alerts/{fingerprint}/ack": "editor",
    "POST /alerts/{fingerprint}/verdict": "editor",
    "POST /alerts/{fingerprint}/comment": "editor",
    "POST /alerts/silences": "editor",
    "POST /alerts/silences/{id}/expire": "editor",
    "POST /incidents/{id}/notes": "editor",
    "POST /incidents/{id}/ack": "editor",
    "POST /incidents/{id}/resolve": "editor",
    "POST /incidents/{id}/actions": "admin",
    "POST /actions/runs/{run_id}/approve": "admin",
    "POST /actions/runs/{run_id}/reject": "admin",
    # responding
    "POST /v1/alerts/{fingerprint}/ack": "editor",
    "POST /v1/alerts/{fingerprint}/verdict": "editor",
    "POST /v1/silences": "editor",
    "DELETE /v1/silences/{id}": "editor",
    "POST /v1/incidents/{id}/ack": "editor",
    "POST /v1/incidents/{id}/notes": "editor",
    "POST /v1/incidents/{id}/resolve": "editor",
    "PUT /v1/rules/{name}": "editor",
    "DELETE /v1/rules/{name}": "editor",
    "PUT /v1/maintenance/{name}": "editor",
    "DELETE /v1/maintenance/{name}": "editor",
    # changing what runs, and what only admins see
    "GET /v1/models/{model}/events": "admin",
    "POST /v1/models": "admin",
    "POST /v1/models/{model}/deploys": "admin",
    "POST /v1/actions/{name}/run": "admin",
    "POST /v1/actions/runs/{id}/approve": "admin",
    "POST /v1/actions/runs/{id}/reject": "admin",
    "GET /v1/audit": "admin",
    "GET /v1/keys": "admin",
    "POST /v1/keys": "admin",
    "DELETE /v1/keys/{id}": "admin",
}
"""``METHOD /path`` (a mount: ``GET /prefix/*``) -> what it needs. HEAD follows GET."""


def allows(roles: frozenset[Role], need: Need) -> bool:
    """Whether a caller with ``roles`` may call a route that needs ``need``."""
    return need == "open" or not roles.isdisjoint(_GRANTS[need])


def need_of(method: str, path: str, table: Mapping[str, Need] = ROUTES) -> Need | None:
    """What a concrete request (``POST``, ``/alerts/abc/ack``) needs, by the table's templates; None when
    no route matches (the dashboard hides a form it cannot tell is allowed)."""
    for key, need in table.items():
        m, template = key.split(" ", 1)
        if m == method and _pattern(template).fullmatch(path):
            return need
    return None


@functools.cache
def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\}|\*)", template)
    return re.compile(
        "".join("[^/]+" if p.startswith("{") else ".*" if p == "*" else re.escape(p) for p in parts)
    )


def needs_role(need: Need) -> str:
    """What ``need`` asks for, in words: ``an editor or admin key``."""
    granted = [r for r in ROLES if r in _GRANTS[need]]
    article = "an" if granted[0][0] in "aeiou" else "a"
    return f"{article} {' or '.join(granted)} key"


def every_route(app: FastAPI) -> Iterator[tuple[str, Any]]:
    """``(METHOD /path, route)`` for every route of ``app`` as it is served (included routers' prefixes
    applied; a mount as ``GET /prefix/*``); HEAD is left out (it follows GET)."""
    for path, methods, route in _effective(app):
        if isinstance(route, Mount):
            yield f"GET {path}/*", route
            continue
        for method in sorted(methods or ()):
            if method != "HEAD":
                yield f"{method} {path}", route


def _effective(app: FastAPI) -> Iterator[tuple[str, set[str] | None, Any]]:
    try:  # FastAPI 0.130+ keeps included routers as such; this gives each route as served
        from fastapi.routing import iter_route_contexts  # type: ignore[attr-defined,unused-ignore]
    except ImportError:  # older FastAPI copies included routes into app.routes
        for route in app.routes:
            yield str(getattr(route, "path", "")), getattr(route, "methods", None), route
        return
    for context in iter_route_contexts(app.routes):
        yield str(context.path), context.methods, context.original_route


def bind(app: FastAPI, table: Mapping[str, Need] = ROUTES) -> dict[tuple[int, str], Need]:
    """What each of ``app``'s routes needs, by ``(id(route), METHOD)`` (what the gate finds in a request's
    scope). Raises ``RuntimeError`` naming the routes the table does not list, and those it cannot guard
    (a mount, or a route outside FastAPI's dependencies, that is not open)."""
    found: dict[tuple[int, str], Need] = {}
    missing: list[str] = []
    unguarded: list[str] = []
    for key, route in every_route(app):
        need = table.get(key)
        if need is None:
            missing.append(key)
            continue
        if need != "open" and not isinstance(route, APIRoute):
            unguarded.append(key)
        method = key.split(" ", 1)[0]
        earlier = found.setdefault((id(route), method), need)
        if earlier != need:
            unguarded.append(f"{key} (included twice, needing {earlier} and {need})")
    if missing or unguarded:
        raise RuntimeError(
            "every route must be in the role table (vigil.server.roles.ROUTES): "
            + "; ".join(
                [f"not listed: {', '.join(missing)}"] * bool(missing)
                + [f"cannot be guarded: {', '.join(unguarded)}"] * bool(unguarded)
            )
        )
    return found


def markdown(table: Mapping[str, Need] = ROUTES) -> str:
    """The table as the README shows it: a row per route, a column per role (``✓``: allowed)."""
    head = f"| route | {' | '.join(ROLES)} |\n|---|{':-:|' * len(ROLES)}\n"
    rows = []
    for key, need in table.items():
        method, path = key.split(" ", 1)
        shown = f"`{method} {path.removesuffix('/*') + '/…' if path.endswith('/*') else path}`"
        if need == "open":
            shown += " (no key)"
        marks = " | ".join("✓" if allows(frozenset({role}), need) else "" for role in ROLES)
        rows.append(f"| {shown} | {marks} |")
    return head + "\n".join(rows) + "\n"
