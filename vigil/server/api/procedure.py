"""``GET /v1/procedure``: the monitoring procedure of the server's config as a diagram, with the path of one
alert highlighted (admin keys, as the other reads of the config: rules, actions).

``format``: ``json`` (nodes, edges, the path: what a page draws from), ``svg`` (Graphviz's ``dot``; 501 when
this server has no Graphviz), ``mermaid``, ``markdown``, ``dot`` or ``text`` (the path in words).
``alert=name=value`` (repeated, or several in one separated by spaces) names the alert's labels. The config is
the one the server started with, so answers are kept: the same question is drawn once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from vigil.config import VigilConfig
from vigil.errors import ConfigError
from vigil.procedure import MEDIA_TYPES, GraphvizError, Sections, check_sections, render
from vigil.server.api.answers import Answer, errors
from vigil.server.api.deps import VigilDep
from vigil.server.errors import Conflict

__all__ = ["router"]

router = APIRouter(tags=["procedure"])

_KEPT = 64
"""Answers kept per app (the newest)."""


class StageView(Answer):
    id: str
    title: str


class NodeView(Answer):
    id: str
    """Its identity in words: ``rule:credit-risk/ErrorRateHigh``."""
    ref: str
    """The id the SVG and Mermaid diagrams give it (letters, digits and ``_``)."""
    stage: str
    group: str | None
    """The model a metric or rule belongs to."""
    title: str
    lines: list[str]
    facts: dict[str, Any]


class EdgeView(Answer):
    source: str
    target: str
    kind: str
    """sends, feeds, watches, routes, child, notifies, runbook, opens, signals, by hand."""
    label: str = ""


class RouteRef(Answer):
    id: str
    path: str
    receiver: str


class Why(Answer):
    id: str
    why: str


class RunbookRef(Answer):
    id: str
    runbook: str


class PathEdge(Answer):
    source: str
    target: str
    kind: str


class PathView(Answer):
    """Where the alert goes: the routes the dispatcher picks, their receivers, its runbook, the actions it
    counts for, what may mute it."""

    given: dict[str, str]
    labels: dict[str, str]
    """The labels routed: the given ones over the named rule's own (unless ``as_given``)."""
    completed_from: str | None
    rules: list[str]
    routes: list[RouteRef]
    receivers: list[str]
    runbooks: list[RunbookRef]
    actions: list[Why]
    mutes: list[Why]
    notes: list[str]
    nodes: list[str]
    edges: list[PathEdge]
    text: str


class ProcedureAnswer(Answer):
    source: str
    stages: list[StageView]
    nodes: list[NodeView]
    edges: list[EdgeView]
    notes: list[str]
    path: PathView | None


_TEXT = {"schema": {"type": "string"}}


@router.get(
    "/v1/procedure",
    summary="The monitoring procedure as a diagram, and the path of an alert through it",
    response_model=ProcedureAnswer,
    responses={
        **errors(409, 422, 501, detail=(409,)),
        200: {"content": {MEDIA_TYPES[f].split(";")[0]: _TEXT for f in MEDIA_TYPES if f != "json"}},
    },
)
async def procedure(
    vigil: VigilDep,
    request: Request,
    format: Annotated[str, Query(description="json, svg, mermaid, markdown, dot or text")] = "json",
    alert: Annotated[list[str] | None, Query(description="labels name=value of an alert to trace")] = None,
    as_given: Annotated[bool, Query(description="route the labels exactly as given")] = False,
) -> Any:
    """Models → telemetry → metrics → rules → routes → receivers → runbooks → incidents → remediation, as
    the config declares them (``vigil sop``); with ``alert``, the path that alert takes, highlighted."""
    sections = _sections(request, vigil.config)
    key = (format, tuple(alert or ()), as_given)
    kept: _Kept = _kept(request)
    text = kept.get(key)
    if text is None:
        try:
            text = await run_in_threadpool(render, sections, format, alert or (), complete=not as_given)
        except GraphvizError as exc:
            return JSONResponse({"error": str(exc)}, status_code=501)
        kept.put(key, text)
    if format == "json":
        return ProcedureAnswer.model_validate_json(text)
    return Response(text, media_type=MEDIA_TYPES[format])


class _Kept:
    """The newest answers, by question; threads share it."""

    def __init__(self) -> None:
        self._answers: OrderedDict[tuple[str, tuple[str, ...], bool], str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, tuple[str, ...], bool]) -> str | None:
        with self._lock:
            found = self._answers.get(key)
            if found is not None:
                self._answers.move_to_end(key)
            return found

    def put(self, key: tuple[str, tuple[str, ...], bool], text: str) -> None:
        with self._lock:
            self._answers[key] = text
            while len(self._answers) > _KEPT:
                self._answers.popitem(last=False)


def _kept(request: Request) -> _Kept:
    state = request.app.state
    kept: _Kept | None = getattr(state, "procedure_answers", None)
    if kept is None:
        kept = state.procedure_answers = _Kept()
    return kept


def _sections(request: Request, config: VigilConfig) -> Sections:
    """The config's sections, checked once per app (the server checked them when alerting is on)."""
    state = request.app.state
    found: Sections | None = getattr(state, "procedure_sections", None)
    if found is None:
        try:
            found = check_sections(config)
        except ConfigError as exc:
            raise Conflict(f"the server's config cannot be drawn: {exc}") from None
        state.procedure_sections = found
    return found
