"""``/v1/rules`` (with replaying a rule over history), ``/v1/review`` and ``/v1/slos``: the rules in force
and how well they serve (409 when alerting is off)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from vigil.alerting.analysis.render import review_html, review_json, review_text
from vigil.alerting.analysis.replay import format_replay, replay
from vigil.alerting.rules import Rule, parse_rules
from vigil.alerting.rules.error_budget import slo_statuses
from vigil.errors import ConfigError, InputError
from vigil.server.api.answers import Answer, Deleted, errors
from vigil.server.api.deps import EngineDep, OperationsDep, VigilDep
from vigil.server.auth import CallerDep, claimed_actor
from vigil.server.errors import Conflict, NotFound
from vigil.server.wire import duration_seconds, parse_time, read_object, when

__all__ = ["router"]

router = APIRouter(tags=["rules"])
_ERRORS = errors(404, 409, 422, detail=(404,))


class RuleView(Answer):
    """A rule as in the ``rules:`` section (durations in ISO 8601), keys left unset left out."""

    name: str
    model: str | None = None
    version: str | None = None
    feature: str | None = None
    segment: dict[str, str] | None = None
    metric: str | None = None
    kind: str | None = None
    op: str | None = None
    warning: float | None = None
    critical: float | None = None
    factor: float | None = None
    percent: float | None = None
    baseline: str | None = None
    baseline_window: str | None = None
    min_baseline_points: int | None = None
    min_labels: int | None = None
    """A rule on a metric of the labels judges only windows with this many labelled predictions."""
    seasonality: str | None = None
    direction: str | None = None
    severity: str | None = None
    window: str | None = None
    sliding: bool | None = None
    for_: str | None = Field(default=None, alias="for")
    keep_firing_for: str | None = None
    labels: dict[str, str] | None = None
    owner: str | None = None
    runbook: str | None = None
    route: str | None = None
    summary: str | None = None
    slo: dict[str, Any] | None = None
    source: Literal["config", "default", "api"] | None = None
    """Where it comes from (in lists)."""


class Rules(Answer):
    rules: list[RuleView]


class PutRule(Answer):
    rule: RuleView
    source: Literal["api"]


class Firing(Answer):
    fired_at: float
    resolved_at: float | None
    duration: float
    severity: str
    peak: float | None


class Transition(Answer):
    at: float
    phase: str
    severity: str | None
    value: float | None
    threshold: float | None


class Replayed(Answer):
    """When the rule would have fired (times in seconds since the epoch)."""

    model: str
    rule: str
    """The rule's name."""
    text: str
    """The same as a table for a terminal."""
    metric: str
    kind: str
    start: float
    end: float
    every: float
    evaluations: int
    breaching: int
    held_off: int
    firing_seconds: float
    firings: list[Firing]
    transitions: list[Transition]


class RuleReview(Answer):
    rule: str
    verdict: str
    line: str
    overall: dict[str, Any]
    models: list[dict[str, Any]]


class ReviewAnswer(Answer):
    start: float
    end: float
    now: float
    flap_window: float
    episodes: int
    rules: list[RuleReview]
    suggestions: list[dict[str, Any]]
    text: str


class BurnAlert(Answer):
    severity: str
    long: str
    short: str
    factor: float
    long_rate: float | None
    short_rate: float | None


class SloStatus(Answer):
    name: str
    model: str
    version: str | None
    sli: str
    target: float
    window: str
    at: float
    good: float
    bad: float
    total: float
    error_budget_remaining: float | None
    burn_rates: dict[str, float | None]
    severity: str | None
    alerts: list[BurnAlert]


class Slos(Answer):
    slos: list[SloStatus]


def _dump(rule: Rule) -> dict[str, Any]:
    return rule.model_dump(mode="json", by_alias=True, exclude_none=True)


@router.get(
    "/v1/rules",
    summary="Rules in force: from the config, the defaults and the API",
    responses=_ERRORS,
    response_model_exclude_unset=True,
)
async def list_rules(engine: EngineDep) -> Rules:
    return Rules.model_validate({"rules": await run_in_threadpool(engine.rule_views)})


@router.put(
    "/v1/rules/{name}",
    summary="Add or replace a rule (not one of the config's)",
    responses=_ERRORS,
    response_model_exclude_unset=True,
)
async def put_rule(
    name: str, request: Request, caller: CallerDep, vigil: VigilDep, engine: EngineDep
) -> PutRule:
    """The body is one rule as in the ``rules:`` section (``name`` may be left out). Audited."""
    body = await read_object(request)
    actor = claimed_actor(caller, request, body)
    given = {k: v for k, v in body.items() if k != "by"}
    if given.setdefault("name", name) != name:
        raise InputError(f"the body names rule {given['name']!r} but the URL names {name!r}")
    try:
        rule = await run_in_threadpool(engine.put_rule, given, actor, vigil.clock())
    except ConfigError as exc:
        raise InputError(str(exc)) from None
    except ValueError as exc:  # the engine's word for a rule the config owns
        raise Conflict(str(exc)) from None
    return PutRule.model_validate({"rule": _dump(rule), "source": "api"})


@router.delete("/v1/rules/{name}", summary="Remove a rule added through the API", responses=_ERRORS)
async def delete_rule(
    name: str, request: Request, caller: CallerDep, vigil: VigilDep, engine: EngineDep
) -> Deleted:
    """Audited."""
    if not await run_in_threadpool(engine.delete_rule, name, claimed_actor(caller, request), vigil.clock()):
        raise NotFound(f"no rule {name!r} added through the API")
    return Deleted(deleted=name)


@router.post(
    "/v1/rules/test",
    summary="Replay a rule over stored history: when would it have fired?",
    responses=_ERRORS,
)
async def test_rule(request: Request, vigil: VigilDep, engine: EngineDep) -> Replayed:
    """Body: ``name`` (a rule in force) or ``rule`` (a mapping as in ``rules:``), ``model``, ``from``,
    ``to`` (default: the last 24 hours), ``every`` (seconds or a duration; default: the rule's window,
    at most a minute). The replay uses the data as stored now (late data counts as if on time)."""
    body = await read_object(request)
    model = body.get("model")
    if not isinstance(model, str):
        raise InputError("give the 'model' to replay the rule on")
    if "rule" in body:
        if not isinstance(body["rule"], dict):
            raise InputError("'rule' must be a mapping as in the rules: section")
        try:
            rule = parse_rules([body["rule"]], "the request")[0]
        except ConfigError as exc:
            raise InputError(str(exc)) from None
    else:
        found = next((r for r in engine.rules if r.name == body.get("name") and r.applies_to(model)), None)
        if found is None:
            raise NotFound(f"no rule {body.get('name')!r} applies to model {model!r}")
        rule = found
    end = when(body["to"], "to") if "to" in body else vigil.clock()
    start = when(body["from"], "from") if "from" in body else end - 86_400
    every = None
    if "every" in body:
        try:
            every = float(body["every"])
        except (TypeError, ValueError):
            every = duration_seconds(body["every"])
            if every is None:
                raise InputError(
                    f"'every' must be seconds or a duration like 1m (got {body['every']!r})"
                ) from None
    try:
        result = await run_in_threadpool(replay, rule, vigil.query, model, start, end, every)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    # the result's "rule" (the name) replaces the dumped rule, as it always has
    answer = {"model": model, "rule": _dump(rule), "text": format_replay(result), **result.to_dict()}
    return Replayed.model_validate(answer)


@router.get(
    "/v1/review",
    summary="Alert-quality review per rule, with threshold suggestions",
    responses={**_ERRORS, 200: {"content": {"text/html": {"schema": {"type": "string"}}}}},
    response_model=ReviewAnswer,
)
async def alert_review(
    vigil: VigilDep,
    ops: OperationsDep,
    start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
    format: Annotated[str, Query(description="json, or html for a self-contained page")] = "json",
    suggest: bool = True,
) -> Any:
    """How often each rule fired and for how long, acknowledged or ignored, flapping, marked false, time
    to acknowledge, a verdict per rule; and levels suggested from each noisy rule's history
    (``vigil.alerting.review``). ``format=html`` gives a self-contained report."""
    now = vigil.clock()
    b = parse_time(end) if end else now
    a = parse_time(start) if start else b - 7 * 86_400
    result, suggestions = await run_in_threadpool(ops.review, a, b, now, suggest)
    if format == "html":
        return HTMLResponse(review_html(result, suggestions))
    return ReviewAnswer.model_validate(
        {**review_json(result, suggestions), "text": review_text(result, suggestions)}
    )


@router.get("/v1/slos", summary="SLOs: error budget remaining and burn rates", responses=_ERRORS)
async def slos(vigil: VigilDep, engine: EngineDep) -> Slos:
    defined = [r.slo for r in engine.rules if r.slo is not None]
    found = await run_in_threadpool(slo_statuses, vigil.query, defined, vigil.clock())
    return Slos.model_validate({"slos": [s.as_dict() for s in found]})
