"""The response side of the API: alerts, silences, incidents, the audit log (and, as they are enabled,
rule replay, the review, remediation actions, deploys and maintenance windows).

Who did something: the holder of the request's API key (``security.api_keys``, ``{name, key}``). Without
a named key (a plain-string key, or no keys at all) it is the client's word (``X-Vigil-User``, or ``by`` in
the body) marked ``(unverified)``, and such a caller cannot approve an action.
Every change made here is in the audit log (``GET /v1/audit``) with the state before and after.
All routes need an admin key when keys are configured.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool

from vigil.alerting.mute.silences import Silence, silence_from_dict, silence_to_dict
from vigil.alerting.response.episodes import episode_of
from vigil.alerting.rules import parse_rules
from vigil.config import parse_duration
from vigil.errors import ConfigError, InputError

if TYPE_CHECKING:
    from vigil.alerting.engine import AlertEngine
    from vigil.alerting.response.incidents import Incident
    from vigil.server.app import Vigil
    from vigil.server.auth import Caller

__all__ = ["ops_router"]


def _actor(body: dict[str, Any], request: Request) -> str:
    """The holder of the request's key; without a named key, the client's word marked unverified."""
    caller: Caller = request.state.caller
    return caller.actor(body.get("by") or request.headers.get("x-vigil-user"))


async def _body(request: Request) -> dict[str, Any]:
    if not (await request.body()).strip():
        return {}
    try:
        data = await request.json()
    except ValueError:
        raise InputError("the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise InputError("the body must be a JSON object")
    return data


def ops_router(
    vigil: Vigil,
    engine: AlertEngine | None,
    admin: Callable[..., Any],
    *,
    iso: Callable[[float], str],
    parse_time: Callable[[str], float],
) -> APIRouter:
    router = APIRouter(dependencies=[Depends(admin)])

    def need() -> AlertEngine:
        if engine is None:
            raise HTTPException(409, "alerting is off: add an alerting: section to vigil.yaml")
        return engine

    def when(value: Any, name: str) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return parse_time(str(value))
        if isinstance(value, str):
            return parse_time(value)
        raise InputError(f"{name!r} must be a time (RFC 3339 or epoch seconds)")

    def incident_view(incident: Incident) -> dict[str, Any]:
        out = incident.to_dict()
        for key in ("opened_at", "acked_at", "resolved_at"):
            out[key] = iso(out[key]) if out[key] is not None else None
        for entry in out["timeline"]:
            entry["at"] = iso(entry["at"])
        return out

    # alerts ------------------------------------------------------------------------------------------------

    @router.post("/v1/alerts/{fingerprint}/ack", summary="Acknowledge the incident of a firing alert")
    async def ack_alert(fingerprint: str, request: Request) -> dict[str, Any]:
        eng = need()
        body = await _body(request)
        actor = _actor(body, request)
        alert = next((a for a in eng.alerts() if a.fingerprint == fingerprint), None)
        if alert is None:
            raise HTTPException(404, f"no current alert with fingerprint {fingerprint!r}")
        try:
            ep = eng.history.get(episode_of(alert))
            if ep is None or ep.incident is None:
                raise KeyError("that alert belongs to no incident")
            incident = await run_in_threadpool(
                eng.acknowledge, ep.incident, actor, vigil.clock(), str(body.get("note", ""))
            )
        except KeyError as exc:
            raise HTTPException(404, str(exc.args[0])) from None
        return incident_view(incident)

    @router.post(
        "/v1/alerts/{fingerprint}/verdict", summary="Mark an alert as a real problem or a false alarm"
    )
    async def verdict(fingerprint: str, request: Request) -> dict[str, Any]:
        eng = need()
        body = await _body(request)
        actor = _actor(body, request)
        value = body.get("verdict")
        if value not in ("true", "false", True, False):
            raise InputError("'verdict' must be true (a real problem) or false (should not have fired)")
        text = "true" if value in ("true", True) else "false"
        alert = next((a for a in eng.alerts() if a.fingerprint == fingerprint), None)
        which = body.get("episode")
        if alert is not None:
            which = episode_of(alert)
        if not isinstance(which, str):
            raise HTTPException(404, f"no current alert {fingerprint!r}; give 'episode' for a past one")
        now = vigil.clock()
        ep = eng.history.get(which)
        if ep is None:
            raise HTTPException(404, f"no alert episode {which!r}")
        marked = replace(ep, verdict=text, verdict_by=actor)  # type: ignore[arg-type]
        eng.history.put(marked, now)
        vigil.store.append_audit(
            now, actor, "alert.verdict", f"episode/{which}", ep.to_json(), marked.to_json()
        )
        return {"episode": which, "verdict": text, "by": actor}

    @router.get("/v1/episodes", summary="Alert episodes (one per firing period of a rule on a model)")
    async def episodes(since: str | None = None) -> dict[str, Any]:
        eng = need()
        start = parse_time(since) if since else vigil.clock() - 7 * 86_400
        found = await run_in_threadpool(eng.history.episodes, start)
        return {"episodes": [{"id": e.id, **json.loads(e.to_json())} for e in found]}

    # silences ----------------------------------------------------------------------------------------------

    @router.get("/v1/silences", summary="Silences (pending, active and expired)")
    async def list_silences() -> dict[str, Any]:
        eng = need()
        now = vigil.clock()
        found = await run_in_threadpool(eng.silences.all)
        return {"silences": [_silence_view(s, now, iso) for s in sorted(found, key=lambda s: -s.starts_at)]}

    @router.post("/v1/silences", status_code=201, summary="Create a silence")
    async def create_silence(request: Request) -> dict[str, Any]:
        """Body: ``matchers`` (a list like ``["model=\\"credit\\"", "alertname=~\\"Drift.*\\""]``),
        ``starts_at`` (default now), ``ends_at`` or ``duration`` (e.g. ``2h``), ``comment``, ``by``."""
        eng = need()
        body = await _body(request)
        actor = _actor(body, request)
        now = vigil.clock()
        starts = when(body["starts_at"], "starts_at") if "starts_at" in body else now
        if "ends_at" in body:
            ends = when(body["ends_at"], "ends_at")
        elif "duration" in body:
            try:
                ends = starts + parse_duration(body["duration"]).total_seconds()
            except Exception:
                raise InputError(
                    f"'duration' must be like 30m, 2h or 1d (got {body['duration']!r})"
                ) from None
        else:
            raise InputError("give 'ends_at' or 'duration' (a silence must end)")
        if not str(body.get("comment", "")).strip():
            raise InputError("give a 'comment': why is this silenced?")
        silence: Silence = silence_from_dict(
            {
                "matchers": body.get("matchers", []),
                "starts_at": starts,
                "ends_at": ends,
                "created_by": actor,
                "comment": body["comment"],
            }
        )
        made = await run_in_threadpool(eng.silences.create, silence, now)
        return _silence_view(made, now, iso)

    @router.delete("/v1/silences/{id}", summary="Expire a silence now")
    async def expire_silence(id: str, request: Request) -> dict[str, Any]:
        eng = need()
        actor = _actor({}, request)
        try:
            ended = await run_in_threadpool(eng.silences.expire, id, actor, vigil.clock())
        except KeyError:
            raise HTTPException(404, f"no silence {id!r}") from None
        return _silence_view(ended, vigil.clock(), iso)

    # incidents ---------------------------------------------------------------------------------------------

    @router.get("/v1/incidents", summary="Incidents, newest first, with MTTA and MTTR")
    async def list_incidents(status: str | None = None, since: str | None = None) -> dict[str, Any]:
        from vigil.alerting.response.incidents import response_times

        eng = need()
        start = parse_time(since) if since else None
        found = await run_in_threadpool(eng.incidents.all, start)
        if status is not None:
            wanted = {s.strip() for s in status.split(",")}
            found = [i for i in found if i.status in wanted]
        return {"incidents": [incident_view(i) for i in found], "response_times": response_times(found)}

    @router.get("/v1/incidents/{id}", summary="One incident with its timeline")
    async def show_incident(id: str) -> dict[str, Any]:
        eng = need()
        incident = await run_in_threadpool(eng.incidents.get, id)
        if incident is None:
            raise HTTPException(404, f"no incident {id!r}")
        view = incident_view(incident)
        eps = [eng.history.get(e) for e in incident.episodes]
        view["alerts"] = [json.loads(e.to_json()) for e in eps if e is not None]
        return view

    async def _incident_change(id: str, request: Request, what: str) -> dict[str, Any]:
        eng = need()
        body = await _body(request)
        actor = _actor(body, request)
        note = str(body.get("note", body.get("text", "")))
        now = vigil.clock()
        try:
            if what == "ack":
                incident = await run_in_threadpool(eng.acknowledge, id, actor, now, note)
            elif what == "resolve":
                incident = await run_in_threadpool(eng.incidents.resolve, id, actor, now, note)
            else:
                if not note.strip():
                    raise InputError("give the note's 'text'")
                incident = await run_in_threadpool(eng.incidents.note, id, actor, note, now)
        except KeyError:
            raise HTTPException(404, f"no incident {id!r}") from None
        return incident_view(incident)

    @router.post("/v1/incidents/{id}/ack", summary="Acknowledge an incident")
    async def ack_incident(id: str, request: Request) -> dict[str, Any]:
        return await _incident_change(id, request, "ack")

    @router.post("/v1/incidents/{id}/notes", summary="Add a note to an incident's timeline")
    async def note_incident(id: str, request: Request) -> dict[str, Any]:
        return await _incident_change(id, request, "note")

    @router.post("/v1/incidents/{id}/resolve", summary="Resolve an incident")
    async def resolve_incident(id: str, request: Request) -> dict[str, Any]:
        return await _incident_change(id, request, "resolve")

    # rules -------------------------------------------------------------------------------------------------

    @router.get("/v1/rules", summary="Rules in force: from the config, the defaults and the API")
    async def list_rules() -> dict[str, Any]:
        eng = need()
        return {"rules": await run_in_threadpool(eng.rule_views)}

    @router.put("/v1/rules/{name}", summary="Add or replace a rule (not one of the config's)")
    async def put_rule(name: str, request: Request) -> dict[str, Any]:
        """The body is one rule as in the ``rules:`` section (``name`` may be left out). Audited."""
        eng = need()
        body = await _body(request)
        actor = _actor(body, request)
        given = {k: v for k, v in body.items() if k != "by"}
        if given.setdefault("name", name) != name:
            raise InputError(f"the body names rule {given['name']!r} but the URL names {name!r}")
        try:
            rule = await run_in_threadpool(eng.put_rule, given, actor, vigil.clock())
        except ConfigError as exc:
            raise InputError(str(exc)) from None
        except ValueError as exc:
            raise HTTPException(409, str(exc)) from None
        return {"rule": rule.model_dump(mode="json", by_alias=True, exclude_none=True), "source": "api"}

    @router.delete("/v1/rules/{name}", summary="Remove a rule added through the API")
    async def delete_rule(name: str, request: Request) -> dict[str, Any]:
        eng = need()
        if not await run_in_threadpool(eng.delete_rule, name, _actor({}, request), vigil.clock()):
            raise HTTPException(404, f"no rule {name!r} added through the API")
        return {"deleted": name}

    @router.post("/v1/rules/test", summary="Replay a rule over stored history: when would it have fired?")
    async def test_rule(request: Request) -> dict[str, Any]:
        """Body: ``name`` (a rule in force) or ``rule`` (a mapping as in ``rules:``), ``model``, ``from``,
        ``to`` (default: the last 24 hours), ``every`` (seconds or a duration; default: the rule's window,
        at most a minute). The replay uses the data as stored now (late data counts as if on time)."""
        from vigil.alerting.analysis.replay import format_replay, replay

        eng = need()
        body = await _body(request)
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
            found = next((r for r in eng.rules if r.name == body.get("name") and r.applies_to(model)), None)
            if found is None:
                raise HTTPException(404, f"no rule {body.get('name')!r} applies to model {model!r}")
            rule = found
        end = when(body["to"], "to") if "to" in body else vigil.clock()
        start = when(body["from"], "from") if "from" in body else end - 86_400
        every = None
        if "every" in body:
            try:
                every = float(body["every"])
            except (TypeError, ValueError):
                try:
                    every = parse_duration(body["every"]).total_seconds()
                except Exception:
                    raise InputError(
                        f"'every' must be seconds or a duration like 1m (got {body['every']!r})"
                    ) from None
        try:
            result = await run_in_threadpool(replay, rule, vigil.query, model, start, end, every)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        return {
            "model": model,
            "rule": rule.model_dump(mode="json", by_alias=True, exclude_none=True),
            "text": format_replay(result),
            **result.to_dict(),
        }

    @router.get("/v1/review", summary="Alert-quality review per rule, with threshold suggestions")
    async def alert_review(
        start: Annotated[str | None, Query(alias="from")] = None,
        end: Annotated[str | None, Query(alias="to")] = None,
        format: str = "json",
        suggest: bool = True,
    ) -> Any:
        """How often each rule fired and for how long, acknowledged or ignored, flapping, marked false, time
        to acknowledge, a verdict per rule; and levels suggested from each noisy rule's history
        (``vigil.alerting.review``). ``format=html`` gives a self-contained report."""
        from fastapi.responses import HTMLResponse

        from vigil.alerting.analysis.alert_quality import FLAP_WINDOW, review
        from vigil.alerting.analysis.tuning import suggest_thresholds
        from vigil.reports.review import review_html, review_json, review_text

        eng = need()
        now = vigil.clock()
        b = parse_time(end) if end else now
        a = parse_time(start) if start else b - 7 * 86_400

        def work() -> tuple[Any, list[Any]]:
            episodes = eng.history.episodes(since=a - FLAP_WINDOW)
            result = review(episodes, a, b, now, rules=sorted({r.name for r in eng.rules}))
            suggestions = []
            models = set(vigil.registry.names())
            for item in result.rules if suggest else ():
                if item.verdict in ("ok", "quiet"):
                    continue
                seen = sorted({m.model for m in item.models if m.model} & models)
                for rule in (r for r in eng.rules if r.name == item.rule):
                    for model in filter(rule.applies_to, seen):
                        try:
                            suggestions.append(suggest_thresholds(rule, vigil.query, model, a, b))
                        except ValueError:
                            continue  # no_data and slo rules have no levels to suggest
            return result, suggestions

        result, suggestions = await run_in_threadpool(work)
        if format == "html":
            return HTMLResponse(review_html(result, suggestions))
        return {**review_json(result, suggestions), "text": review_text(result, suggestions)}

    @router.get("/v1/slos", summary="SLOs: error budget remaining and burn rates")
    async def slos() -> dict[str, Any]:
        from vigil.alerting.rules.error_budget import slo_statuses

        eng = need()
        defined = [r.slo for r in eng.rules if r.slo is not None]
        found = await run_in_threadpool(slo_statuses, vigil.query, defined, vigil.clock())
        return {"slos": [s.as_dict() for s in found]}

    # remediation actions ------------------------------------------------------------------------------------

    def run_view(run: Any) -> dict[str, Any]:
        out: dict[str, Any] = run.to_dict()
        for key, value in list(out.items()):
            if key.endswith("_at") and isinstance(value, int | float):
                out[key] = iso(value)
        return out

    async def acting(work: Callable[[], Any]) -> dict[str, Any]:
        from vigil.actions import ActionDenied, NotIdentified, UnknownAction

        try:
            return run_view(await run_in_threadpool(work))
        except UnknownAction as exc:
            raise HTTPException(404, str(exc)) from None
        except NotIdentified as exc:
            raise HTTPException(403, str(exc)) from None
        except ActionDenied as exc:
            raise HTTPException(409, str(exc)) from None

    @router.get("/v1/actions", summary="Remediation actions and their runs")
    async def list_actions(model: str | None = None, since: str | None = None) -> dict[str, Any]:
        eng = need()
        start = parse_time(since) if since else None
        runs = await run_in_threadpool(lambda: eng.remediator.runs(model=model, since=start))
        specs = [s.public() for s in eng.remediator.specs]  # never a secret: a header, a token, a URL's
        return {"actions": specs, "runs": [run_view(r) for r in reversed(runs)]}

    @router.post("/v1/actions/{name}/run", summary="Ask for an action on a model (guards and approval apply)")
    async def run_action(name: str, request: Request) -> dict[str, Any]:
        """Body: ``model``, ``reason``, ``by``, optional ``force`` (override the cooldown; audited) and
        ``to_version`` (a rollback's target). The run comes back executed, awaiting approval, or refused
        with why."""
        eng = need()
        body = await _body(request)
        actor = _actor(body, request)
        model, reason = body.get("model"), str(body.get("reason", "")).strip()
        if not isinstance(model, str) or not reason:
            raise InputError("give the 'model' and a 'reason'")
        to_version = body.get("to_version")
        return await acting(
            lambda: eng.remediator.request(
                name,
                model,
                actor,
                reason,
                vigil.clock(),
                force=bool(body.get("force")),
                to_version=to_version,
            )
        )

    @router.post("/v1/actions/runs/{id}/approve", summary="Approve a run awaiting approval (four eyes)")
    async def approve_run(id: str, request: Request) -> dict[str, Any]:
        eng = need()
        actor = _actor(await _body(request), request)
        return await acting(lambda: eng.remediator.approve(id, actor, vigil.clock()))

    @router.post("/v1/actions/runs/{id}/reject", summary="Reject a run awaiting approval")
    async def reject_run(id: str, request: Request) -> dict[str, Any]:
        eng = need()
        body = await _body(request)
        actor = _actor(body, request)
        reason = str(body.get("reason", "")).strip() or "rejected"
        return await acting(lambda: eng.remediator.reject(id, actor, reason, vigil.clock()))

    # deploys and maintenance -----------------------------------------------------------------------------

    @router.post(
        "/v1/models/{model}/deploys", status_code=201, summary="Annotate a deploy (opens a grace period)"
    )
    async def deploy(model: str, request: Request) -> dict[str, Any]:
        """Body: ``version``, ``by``, optional ``note``, ``at`` (default now) and ``grace`` (e.g. ``30m``;
        default ``alerting.deploy_grace``). Records the version as live (the rollback target moves) and
        mutes the model's alerts, bar NoData, for the grace period. Audited."""
        from vigil.actions import record_deploy
        from vigil.alerting.mute.deploys import DEPLOY_KIND, DeployAnnotation

        eng = need()
        if vigil.registry.get(model) is None:
            raise KeyError(model)
        body = await _body(request)
        actor = _actor(body, request)
        now = vigil.clock()
        annotation = DeployAnnotation.from_dict(
            {"at": now, **{k: v for k, v in body.items() if k != "by"}, "model": model, "by": actor}
        )

        def record() -> None:
            vigil.store.put_record(DEPLOY_KIND, annotation.id, annotation.to_json(), now)
            record_deploy(
                vigil.store,
                model,
                annotation.version,
                annotation.at,
                actor,
                annotation.note,
                vigil.registry.declared,
                lambda _: vigil.registry.refresh(),
            )
            incident = eng.incidents.open_for(model)
            if incident is not None:
                eng.incidents.note(
                    incident.id,
                    actor,
                    f"deployed {annotation.version}",
                    now,
                    kind="deploy",
                    data=annotation.to_dict(),
                )

        await run_in_threadpool(record)
        grace = eng.deploys().grace_of(annotation)
        return {**annotation.to_dict(), "at": iso(annotation.at), "grace_until": iso(annotation.at + grace)}

    @router.get("/v1/annotations", summary="Deploy annotations over a range (for dashboards)")
    async def annotations(
        model: str | None = None,
        start: Annotated[str | None, Query(alias="from")] = None,
        end: Annotated[str | None, Query(alias="to")] = None,
    ) -> dict[str, Any]:
        eng = need()
        b = parse_time(end) if end else vigil.clock()
        a = parse_time(start) if start else b - 7 * 86_400
        found = (await run_in_threadpool(eng.deploys)).annotations(model, a, b)
        return {"annotations": [{**x.to_dict(), "at": iso(x.at)} for x in found]}

    @router.get("/v1/maintenance", summary="Maintenance windows (the config's and the API's)")
    async def list_maintenance() -> dict[str, Any]:
        eng = need()
        now = vigil.clock()
        windows = await run_in_threadpool(eng.maintenance)
        config = {w.name for w in eng.config_maintenance}
        return {
            "maintenance": [
                {**w.to_dict(), "active": w.active(now), "source": "config" if w.name in config else "api"}
                for w in windows
            ]
        }

    @router.put("/v1/maintenance/{name}", summary="Add or replace a maintenance window (audited)")
    async def put_maintenance(name: str, request: Request) -> dict[str, Any]:
        """Body as an ``alerting.maintenance`` entry: ``matchers`` and ``starts_at``/``ends_at`` or
        ``weekly: {days, start, end|duration, timezone}``, with ``comment`` and ``by``."""
        from vigil.alerting.mute.maintenance import MAINTENANCE_KIND, MaintenanceWindow

        eng = need()
        body = await _body(request)
        actor = _actor(body, request)
        if any(w.name == name for w in eng.config_maintenance):
            raise HTTPException(409, f"maintenance window {name!r} comes from the config; change it there")
        window = MaintenanceWindow.from_dict(
            {**{k: v for k, v in body.items() if k != "by"}, "name": name, "created_by": actor}
        )
        now = vigil.clock()

        def save() -> None:
            old = vigil.store.record(MAINTENANCE_KIND, name)
            vigil.store.put_record(MAINTENANCE_KIND, name, window.to_json(), now)
            action = "maintenance.update" if old else "maintenance.create"
            vigil.store.append_audit(
                now, actor, action, f"maintenance/{name}", old.body if old else None, window.to_json()
            )

        await run_in_threadpool(save)
        return {**window.to_dict(), "active": window.active(now)}

    @router.delete("/v1/maintenance/{name}", summary="Remove a maintenance window added through the API")
    async def delete_maintenance(name: str, request: Request) -> dict[str, Any]:
        from vigil.alerting.mute.maintenance import MAINTENANCE_KIND

        need()
        actor = _actor({}, request)
        old = await run_in_threadpool(vigil.store.record, MAINTENANCE_KIND, name)
        if old is None:
            raise HTTPException(404, f"no maintenance window {name!r} added through the API")
        now = vigil.clock()
        await run_in_threadpool(vigil.store.delete_record, MAINTENANCE_KIND, name)
        await run_in_threadpool(
            vigil.store.append_audit, now, actor, "maintenance.delete", f"maintenance/{name}", old.body, None
        )
        return {"deleted": name}

    # audit -------------------------------------------------------------------------------------------------

    @router.get("/v1/audit", summary="The audit log: who did what, when, before and after")
    async def audit(since: str | None = None, target: str | None = None, limit: int = 1000) -> dict[str, Any]:
        start = parse_time(since) if since else 0.0
        rows = await run_in_threadpool(vigil.store.audit_log, start, target, max(1, min(limit, 10_000)))
        return {
            "entries": [
                {
                    "seq": e.seq,
                    "at": iso(e.at),
                    "actor": e.actor,
                    "action": e.action,
                    "target": e.target,
                    "before": json.loads(e.before) if e.before else None,
                    "after": json.loads(e.after) if e.after else None,
                }
                for e in rows
            ]
        }

    return router


def _silence_view(s: Silence, now: float, iso: Callable[[float], str]) -> dict[str, Any]:
    out = silence_to_dict(s, now)
    out["starts_at"], out["ends_at"] = iso(s.starts_at), iso(s.ends_at)
    return out
