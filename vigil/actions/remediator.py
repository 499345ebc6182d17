"""The remediation runtime: starts action runs from alerts or from people, guards them, asks for approval,
executes them, and leaves a run record, an audit trail and timeline events behind.

Nothing here reads the wall clock to decide: every method takes ``now`` (seconds since the epoch). The only
clock read is the execution's measured duration, so ``finished_at`` is ``now`` plus the time it took.

**Automatic runs** (:meth:`Remediator.on_alerts`, actor ``vigil``): for each action with ``when`` and each
model it applies to, the firing alerts are counted as in :mod:`vigil.actions.triggers`; when the trigger
fires, a run starts unless the trigger is *quiet*, in which case nothing is recorded (the same alerts keep
firing at every evaluation, and asking again each time would flood the store):

1. a run of this action on this model is awaiting approval or running;
2. the cooldown has not passed: ``now < started_at + cooldown`` of the last run of this action on this model
   that was executed (succeeded or failed);
3. the latest automatic run of this action on this model was refused or rejected for the same signals
   (the same alerts, by fingerprint and start): a guard or a person already said no to these alerts; a new
   alert episode, or another signal joining, asks again.

**Manual runs** (:meth:`Remediator.request`): guards 1 and 2 give a run in state ``refused`` that says why
(``force=True`` lifts the cooldown, and only it; the override is audited as ``action.cooldown_override``).

For both, a rollback with no target, a fallback already live, or an unknown ``to_version`` gives a
``refused`` run. A run needs approval when the action says ``approval: required``, or leaves it unset on a
``high_impact`` model: it then waits in ``awaiting_approval`` and nothing is executed until
:meth:`Remediator.approve`. Approval takes a person other than the requester (**four eyes**); a run the
trigger requested (``vigil``) may be approved by anyone but ``vigil``. Both names must be ones a named API
key vouches for (:func:`named`): an approval by an unverified actor (``ana (unverified)``, see
:func:`unverified`) raises ``NotIdentified``, and a person's request that needs approval from one is refused
(the requester could be the approver under another name). Approving a rollback or fallback after
the model's live version moved refuses the run instead (it was asked for another state). A run nobody
approved within ``approval_timeout`` is closed as rejected by ``vigil``; a run ``running`` for longer than
4 × ``timeout`` + 60 s (a restart interrupted it) is closed as failed.

A successful rollback or fallback makes its target live in :mod:`vigil.actions.deployments`; a retrain
changes nothing there (its new version is deployed, and recorded, later).

**Audit**: every state change appends one entry on ``model/<model>/run/<id>`` with the run before and
after (``action.request``, ``action.refuse``, ``action.approve``, ``action.reject``, ``action.expire``,
``action.execute`` (succeeded), ``action.fail``), plus ``action.approve_denied`` for a refused approval and
``deployment.rollback`` / ``deployment.fallback`` on ``model/<model>/deployment``. Each also calls
``on_event(model, at, actor, text, data)`` (exceptions it raises are logged, never propagated).

One Remediator should act on a store at a time (its guards hold within a process, under a lock; several
servers on one PostgreSQL should leave actions to one of them). Execution happens inside the call that
starts it (``request``, ``approve``, ``on_alerts``): callers run these off the event loop.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from vigil.actions.config import ActionSpec
from vigil.actions.deployments import Deployments, RegistryLookup, rollback_target
from vigil.actions.errors import ActionDenied, NotIdentified, UnknownAction
from vigil.actions.executors import Executor, Outcome, executor_for
from vigil.actions.runs import KIND, ExecutorResponse, Run, RunState, Signal
from vigil.actions.triggers import check_trigger, signal_models
from vigil.alerting.alert import Alert
from vigil.store.base import Store
from vigil.timefmt import format_span, format_time

__all__ = ["SYSTEM", "UNVERIFIED", "EventCallback", "Remediator", "named", "unverified"]

SYSTEM = "vigil"
"""The actor of automatic runs and of what Vigil closes by itself."""
UNVERIFIED = " (unverified)"
"""Ends an actor that no named API key vouches for: a name the client gave (``ana (unverified)``)."""
_NAMED_KEYS = 'security.api_keys.admin: [{name: alice, key: "${ALICE_KEY}"}, ...]'


def unverified(claim: str | None) -> str:
    """The actor for a caller without a named key: its own word for who it is, marked as such."""
    return f"{claim or 'anonymous'}{UNVERIFIED}"


def named(actor: str) -> bool:
    """Whether ``actor`` is a person a named API key vouches for (not Vigil, not an unverified claim)."""
    return actor != SYSTEM and not actor.endswith(UNVERIFIED)


EventCallback = Callable[[str, float, str, str, Mapping[str, Any]], None]
"""``on_event(model, at, actor, text, data)``: ``data`` is the run as a dict."""

log = logging.getLogger("vigil.actions")

_ACTIVE = (RunState.AWAITING_APPROVAL, RunState.RUNNING)


class Remediator:
    """Runs ``specs`` against models found through ``registry_lookup``, keeping everything in ``store``."""

    def __init__(
        self,
        specs: Sequence[ActionSpec],
        registry_lookup: RegistryLookup,
        store: Store,
        *,
        on_event: EventCallback | None = None,
        executor_for: Callable[[ActionSpec], Executor] = executor_for,
        on_live_change: Callable[[str], None] | None = None,
    ) -> None:
        self._specs = {spec.name: spec for spec in specs}
        self._lookup = registry_lookup
        self._store = store
        self._on_event = on_event
        self._executor_for = executor_for
        self._lock = threading.RLock()
        self.deployments = Deployments(store, registry_lookup, on_live_change)

    # reading

    @property
    def specs(self) -> tuple[ActionSpec, ...]:
        return tuple(self._specs.values())

    def spec(self, name: str) -> ActionSpec:
        spec = self._specs.get(name)
        if spec is None:
            known = ", ".join(sorted(self._specs)) or "none is configured"
            raise UnknownAction(f"no action is named {name!r} (actions: {known})")
        return spec

    def get(self, run_id: str) -> Run:
        stored = self._store.record(KIND, run_id)
        if stored is None:
            raise UnknownAction(f"no action run has id {run_id!r}")
        return Run.from_json(stored.body)

    def runs(
        self, *, model: str | None = None, action: str | None = None, since: float | None = None
    ) -> list[Run]:
        """Runs (of ``model``, of ``action``, updated at or after ``since``), oldest request first."""
        found = [Run.from_json(r.body) for r in self._store.records(KIND, since)]
        found = [
            r for r in found if (model is None or r.model == model) and (action is None or r.action == action)
        ]
        return sorted(found, key=lambda r: (r.requested_at, r.id))

    # starting runs

    def on_alerts(self, firing: Sequence[Alert], now: float) -> list[Run]:
        """Start the runs the firing alerts call for (see the module docstring); returns them, executed
        when no approval was needed (refused runs included, quiet triggers not)."""
        opened: list[Run] = []
        with self._lock:
            for spec in self._specs.values():
                if spec.when is None:
                    continue
                models = signal_models(spec.when, firing) if spec.model == "*" else [spec.model]
                for model in models:
                    check = check_trigger(spec.when, model, firing)
                    if not check.fires:
                        log.debug("%s on %s: %s", spec.name, model, check.why)
                        continue
                    quiet = self._quiet(spec, model, check.signals, now)
                    if quiet is not None:
                        log.debug("%s on %s is quiet: %s", spec.name, model, quiet)
                        continue
                    opened.append(
                        self._open(
                            spec, model, SYSTEM, check.why, now, trigger="automatic", signals=check.signals
                        )
                    )
        return [self._execute(run, now) if run.state is RunState.RUNNING else run for run in opened]

    def explain(self, action: str, model: str, firing: Sequence[Alert], now: float) -> tuple[bool, str]:
        """Whether :meth:`on_alerts` would start ``action`` on ``model`` with these alerts now, and why
        (``needs 2 distinct signals, have 1 (AccuracyDrop)``, a cooldown...). Records no run (it may close
        stale ones, as every call does)."""
        spec = self.spec(action)
        if spec.when is None:
            return False, f"{action} has no when: it runs only when requested"
        if not spec.applies_to(model):
            return False, f"{action} applies to model {spec.model!r}, not {model!r}"
        check = check_trigger(spec.when, model, firing)
        if not check.fires:
            return False, check.why
        with self._lock:
            quiet = self._quiet(spec, model, check.signals, now)
        return (False, quiet) if quiet is not None else (True, check.why)

    def request(
        self,
        action: str,
        model: str,
        actor: str,
        reason: str,
        now: float,
        *,
        force: bool = False,
        to_version: str | None = None,
    ) -> Run:
        """Ask for ``action`` on ``model`` by a person (or a tool acting for one); returns the run: refused
        (with why), awaiting approval, or executed. ``to_version`` picks a rollback's target.

        Raises ``UnknownAction`` for an unknown action or model, ``ActionDenied`` when the action does not
        apply to the model or ``to_version`` is given for another kind than rollback.
        """
        spec = self.spec(action)
        if not spec.applies_to(model):
            raise ActionDenied(f"action {action!r} applies to model {spec.model!r}, not {model!r}")
        if self._lookup(model) is None:
            raise UnknownAction(f"no model is registered as {model!r}")
        if to_version is not None and spec.kind != "rollback":
            raise ActionDenied(f"to_version applies to rollback actions only ({action!r} is a {spec.kind})")
        with self._lock:
            run = self._open(
                spec, model, actor, reason, now, trigger="manual", force=force, to_version=to_version
            )
        return self._execute(run, now) if run.state is RunState.RUNNING else run

    # deciding

    def approve(self, run_id: str, actor: str, now: float) -> Run:
        """Approve a run awaiting approval and execute it; returns the run as it ended.

        Raises ``ActionDenied`` (and audits ``action.approve_denied``) when the run is not awaiting approval,
        when ``actor`` requested it, or when ``actor`` is ``vigil``; ``NotIdentified`` when ``actor`` is
        unverified.
        """
        with self._lock:
            run = self._expired(self.get(run_id), now)
            problem = None
            if run.state is not RunState.AWAITING_APPROVAL:
                problem = f"run {run.id} is {run.state.value}, not awaiting approval"
            elif actor == SYSTEM:
                problem = "an approval needs a person, not vigil"
            elif not named(actor):
                problem = (
                    f"an approval needs a person Vigil can name, and {actor} called without a named API "
                    f"key; give each approver a key of their own: {_NAMED_KEYS}"
                )
            elif actor == run.requested_by:
                problem = (
                    f"four eyes: {actor} requested run {run.id} and cannot approve it too; ask another person"
                )
            if problem is not None:
                denied = json.dumps({"run": run.id, "denied": problem})
                self._store.append_audit(
                    now, actor, "action.approve_denied", run.target, run.to_json(), denied
                )
                anonymous = actor != SYSTEM and not named(actor)
                raise NotIdentified(problem) if anonymous else ActionDenied(problem)
            moved = self._live_moved(run, now)
            if moved is not None:
                refused = run.evolve(state=RunState.REFUSED, error=moved, finished_at=now, updated_at=now)
                self._save(run, refused, actor, "action.refuse", now, f"{_what(run)} refused: {moved}")
                return refused
            approved = run.evolve(
                state=RunState.RUNNING, approved_by=actor, approved_at=now, started_at=now, updated_at=now
            )
            self._save(run, approved, actor, "action.approve", now, f"{_what(run)} approved by {actor}")
        return self._execute(approved, now)

    def reject(self, run_id: str, actor: str, reason: str, now: float) -> Run:
        """Reject a run awaiting approval (its requester may: that withdraws it); nothing is executed."""
        with self._lock:
            run = self._expired(self.get(run_id), now)
            if run.state is not RunState.AWAITING_APPROVAL:
                raise ActionDenied(f"run {run.id} is {run.state.value}, not awaiting approval")
            why = f"rejected by {actor}" + (f": {reason}" if reason else "")
            rejected = run.evolve(
                state=RunState.REJECTED,
                rejected_by=actor,
                rejected_at=now,
                finished_at=now,
                error=why,
                updated_at=now,
            )
            self._save(run, rejected, actor, "action.reject", now, f"{_what(run)} {why}")
            return rejected

    def expire(self, now: float) -> list[Run]:
        """Close every stale run (see the module docstring); returns those closed now."""
        with self._lock:
            closed = []
            for run in self.runs():
                if run.state in _ACTIVE:
                    after = self._expired(run, now)
                    if after is not run:
                        closed.append(after)
            return closed

    # guards

    def _quiet(self, spec: ActionSpec, model: str, signals: tuple[Signal, ...], now: float) -> str | None:
        """Why an automatic trigger records nothing now, or None."""
        runs = self.runs(model=model, action=spec.name)
        busy = self._busy(runs, now)
        if busy is not None:
            return busy
        cooling = _cooldown(spec, model, runs, now)
        if cooling is not None:
            return cooling
        automatic = [r for r in runs if r.trigger == "automatic"]
        if automatic and automatic[-1].state in (RunState.REFUSED, RunState.REJECTED):
            last = automatic[-1]
            if _episodes(last.signals) == _episodes(signals):
                return f"run {last.id} was {last.state.value} for these same alerts"
        return None

    def _busy(self, runs: list[Run], now: float) -> str | None:
        for run in runs:
            if run.state in _ACTIVE and self._expired(run, now).state in _ACTIVE:
                what = "awaiting approval" if run.state is RunState.AWAITING_APPROVAL else "running"
                return f"{run.action} on {run.model} is already {what} (run {run.id})"
        return None

    def _expired(self, run: Run, now: float) -> Run:
        """``run``, closed first when it is stale (awaiting approval too long, or running too long)."""
        spec = self._specs.get(run.action)
        if spec is None or run.state not in _ACTIVE:
            return run
        if run.state is RunState.AWAITING_APPROVAL:
            limit = spec.approval_timeout.total_seconds()
            if now - run.requested_at < limit:
                return run
            why = f"not approved within {format_span(limit)}"
            closed = run.evolve(
                state=RunState.REJECTED,
                rejected_by=SYSTEM,
                rejected_at=now,
                finished_at=now,
                error=why,
                updated_at=now,
            )
            self._save(run, closed, SYSTEM, "action.expire", now, f"{_what(run)} closed: {why}")
            return closed
        limit = 4 * spec.timeout.total_seconds() + 60
        if run.started_at is None or now - run.started_at < limit:
            return run
        why = f"interrupted: no result within {format_span(limit)} of the start (was Vigil restarted?)"
        closed = run.evolve(state=RunState.FAILED, finished_at=now, error=why, updated_at=now)
        self._save(run, closed, SYSTEM, "action.fail", now, f"{_what(run)} failed: {why}")
        return closed

    def _live_moved(self, run: Run, now: float) -> str | None:
        if run.kind not in ("rollback", "fallback"):
            return None
        live = self.deployments.get(run.model, now).live
        if live == run.from_version:
            return None
        return (
            f"{run.model}'s live version moved from {run.from_version} to {live} since the request; "
            "request it again if it is still needed"
        )

    def _plan(
        self, spec: ActionSpec, model: str, now: float, to_version: str | None
    ) -> tuple[str | None, str | None, str]:
        """(from_version, to_version, refusal): the refusal is empty when the run can go ahead."""
        state = self.deployments.get(model, now)
        live = state.live
        if spec.kind == "retrain":
            return live, None, ""
        if spec.kind == "fallback":
            target = spec.fallback
            refusal = f"{model} is already on the fallback {target}" if live == target else ""
            return live, target, refusal
        model_spec = self._lookup(model)
        if to_version is None:
            target = rollback_target(state, model_spec)
            if target is None:
                shown = f" ({live} is live and nothing came before it)" if live is not None else ""
                return live, None, f"no previous version to roll back to{shown}"
            return live, target, ""
        known = [
            *(model_spec.versions if model_spec is not None else ()),
            *(c.version for c in state.history),
        ]
        known += [c.from_version for c in state.history if c.from_version is not None]
        if to_version not in known:
            listed = ", ".join(dict.fromkeys(known)) or "none"
            return live, to_version, f"unknown version {to_version!r} of {model} (known: {listed})"
        if to_version == live:
            return live, to_version, f"{to_version} is already live on {model}"
        return live, to_version, ""

    # transitions

    def _open(
        self,
        spec: ActionSpec,
        model: str,
        actor: str,
        reason: str,
        now: float,
        *,
        trigger: str,
        signals: tuple[Signal, ...] = (),
        force: bool = False,
        to_version: str | None = None,
    ) -> Run:
        """Create and save a run: refused, awaiting approval, or running (executed by the caller)."""
        runs = self.runs(model=model, action=spec.name)
        from_version, target, refusal = self._plan(spec, model, now, to_version)
        cooling = _cooldown(spec, model, runs, now)
        refusal = self._busy(runs, now) or ("" if force else cooling) or refusal
        needs = spec.needs_approval(self._lookup(model))
        if needs and actor != SYSTEM and not named(actor):
            # four eyes compares two names: an unverified requester could be the approver in disguise
            refusal = refusal or (
                f"it needs approval, and four eyes needs a requester Vigil can name: {actor} called "
                f"without a named API key; configure {_NAMED_KEYS}"
            )
        run = Run(
            id=uuid.uuid4().hex[:16],
            action=spec.name,
            kind=spec.kind,
            model=model,
            state=RunState.REFUSED if refusal else RunState.AWAITING_APPROVAL if needs else RunState.RUNNING,
            requested_by=actor,
            requested_at=now,
            reason=reason,
            from_version=from_version,
            to_version=target,
            fallback=spec.fallback,
            trigger=trigger,
            forced=force,
            signals=signals,
            approval_required=needs,
            updated_at=now,
        )
        if refusal:
            run = run.evolve(error=refusal, finished_at=now)
            self._save(None, run, actor, "action.refuse", now, f"{_what(run)} refused: {refusal}")
            return run
        if run.state is RunState.RUNNING:
            run = run.evolve(started_at=now)
        waiting = "; awaiting approval" if needs else ""
        self._save(
            None, run, actor, "action.request", now, f"{_what(run)} requested by {actor} ({reason}){waiting}"
        )
        if force and cooling:
            override = json.dumps({"run": run.id, "overridden": cooling})
            self._store.append_audit(now, actor, "action.cooldown_override", run.target, None, override)
        return run

    def _execute(self, run: Run, now: float) -> Run:
        """Carry out a ``running`` run and save how it ended."""
        spec = self._specs.get(run.action)
        started = time.monotonic()
        if spec is None:
            outcome = Outcome(
                False, f"action {run.action!r} is no longer configured", ExecutorResponse("none", 0)
            )
        else:
            try:
                outcome = self._executor_for(spec).execute(run)
            except Exception as exc:  # an executor bug must still end the run, not leave it running
                log.exception("executing run %s of %s", run.id, run.action)
                outcome = Outcome(
                    False, f"executor error: {type(exc).__name__}: {exc}", ExecutorResponse(spec.executor, 0)
                )
        at = now + (time.monotonic() - started)
        actor = run.approved_by or run.requested_by
        with self._lock:
            if not outcome.ok:
                failed = run.evolve(
                    state=RunState.FAILED,
                    finished_at=at,
                    error=outcome.summary,
                    response=outcome.response,
                    updated_at=at,
                )
                self._save(run, failed, actor, "action.fail", at, f"{_what(run)} failed: {outcome.summary}")
                return failed
            done = run.evolve(
                state=RunState.SUCCEEDED,
                finished_at=at,
                result=outcome.summary,
                response=outcome.response,
                updated_at=at,
            )
            self._save(run, done, actor, "action.execute", at, f"{_what(run)} succeeded: {outcome.summary}")
            if run.kind in ("rollback", "fallback") and run.to_version is not None:
                why = f"run {run.id}: {run.reason}"
                state = self.deployments.record(run.model, run.to_version, at, actor, run.kind, why)
                self._emit(
                    run.model,
                    at,
                    actor,
                    f"{run.to_version} is live on {run.model} ({run.kind})",
                    done.to_dict(),
                )
                log.info("%s: %s live after %s (run %s)", run.model, state.live, run.kind, run.id)
            return done

    def _save(self, before: Run | None, after: Run, actor: str, action: str, at: float, text: str) -> None:
        self._store.put_record(KIND, after.id, after.to_json(), at)
        self._store.append_audit(
            at, actor, action, after.target, before.to_json() if before is not None else None, after.to_json()
        )
        fields = {"event": action, "action": after.action, "model": after.model, "run": after.id, "by": actor}
        log.info("%s", text, extra=fields)
        self._emit(after.model, at, actor, text, after.to_dict())

    def _emit(self, model: str, at: float, actor: str, text: str, data: Mapping[str, Any]) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(model, at, actor, text, data)
        except Exception:  # the timeline is a side channel; it must not break a remediation
            log.exception("on_event failed for %s", model)


def _cooldown(spec: ActionSpec, model: str, runs: list[Run], now: float) -> str | None:
    """The cooldown refusal, or None when the last execution is long enough ago (or there was none)."""
    seconds = spec.cooldown.total_seconds()
    started = [r.started_at for r in runs if r.started_at is not None]
    if seconds <= 0 or not started:
        return None
    last = max(started)
    if now >= last + seconds:
        return None
    return (
        f"cooldown: {spec.name} ran on {model} at {format_time(last)}, "
        f"next allowed at {format_time(last + seconds)}"
    )


def _episodes(signals: tuple[Signal, ...]) -> set[tuple[str, float]]:
    return {(s.fingerprint, s.starts_at) for s in signals}


def _what(run: Run) -> str:
    """``rollback-credit (rollback of credit v3 → v2)``."""
    if run.kind == "retrain":
        detail = f"retrain of {run.model}" + (f" ({run.from_version})" if run.from_version else "")
    else:
        detail = f"{run.kind} of {run.model} {run.from_version or '?'} → {run.to_version or '?'}"
    return f"{run.action} ({detail})"
