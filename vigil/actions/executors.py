"""What carries an action out: a webhook, an MLflow alias move, or a command. Each is synchronous and
bounded by the action's ``timeout``; none raises on failure, each returns an :class:`Outcome`.

* :class:`WebhookExecutor` POSTs JSON ``{action, kind, model, from_version, to_version, fallback, run_id,
  reason, signals, requested_by, approved_by}`` (``signals``: ``[{alertname, severity, starts_at,
  fingerprint, metric}]``) with an ``Idempotency-Key: <run_id>`` header. A 2xx answer succeeds. A 5xx
  answer or a failed connection is retried once, after ``retry_delay`` seconds; a timeout is not (the
  receiver may have acted). Anything else fails with the status and the first 2 KB of the body.
* :class:`MlflowExecutor` (rollback) reads the alias (``GET /api/2.0/mlflow/registered-models/alias``),
  moves it to the target version (``POST`` the same path with ``{name, alias, version}``) and reads it
  back: it succeeds only when the alias then points at the target. An alias already there succeeds
  without a move. ``before``/``after`` in the response give the alias's version around the move.
* :class:`CommandExecutor` runs the argv (never a shell) in a new session with ``VIGIL_ACTION``,
  ``VIGIL_KIND``, ``VIGIL_MODEL``, ``VIGIL_VERSION`` (the live version), ``VIGIL_FROM_VERSION``,
  ``VIGIL_TO_VERSION``, ``VIGIL_FALLBACK``, ``VIGIL_RUN_ID``, ``VIGIL_REASON`` and ``VIGIL_SIGNALS``
  (comma-separated rule names) added to the environment. Exit 0 succeeds; another exit code fails with the
  last 2 KB of stderr; past the timeout the whole process group is killed and the run fails.

An executor's texts (the summary, a response body, stderr) never carry its secrets
(:attr:`ActionSpec.secrets`: header values, tokens, URL passwords and query values, the values of the
``${VARIABLES}`` its config refers to): they are masked as ``***``, and a URL is named by its origin only.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol

import httpx

from vigil.actions.config import ActionSpec, MlflowTarget
from vigil.actions.runs import ExecutorResponse, Run
from vigil.actions.secrets import mask, shown_url, url_secrets

__all__ = [
    "BODY_LIMIT",
    "CommandExecutor",
    "Executor",
    "MlflowExecutor",
    "Outcome",
    "WebhookExecutor",
    "executor_for",
    "webhook_payload",
]

BODY_LIMIT = 2048
"""Characters of an HTTP body (the first) or of stderr (the last) kept in a run."""
ALIAS_PATH = "/api/2.0/mlflow/registered-models/alias"

log = logging.getLogger("vigil.actions")


@dataclass(frozen=True)
class Outcome:
    """The result of one execution: ``summary`` is the run's result text, or its error when not ``ok``."""

    ok: bool
    summary: str
    response: ExecutorResponse


class Executor(Protocol):
    def execute(self, run: Run) -> Outcome: ...


def _masked(outcome: Outcome, secrets: Collection[str]) -> Outcome:
    """``outcome`` with ``secrets`` masked wherever a text of it could echo them (a body, stderr)."""
    if not secrets:
        return outcome
    r = outcome.response
    body = mask(r.body, secrets) if r.body is not None else None
    stderr = mask(r.stderr, secrets) if r.stderr is not None else None
    return Outcome(outcome.ok, mask(outcome.summary, secrets), replace(r, body=body, stderr=stderr))


def webhook_payload(run: Run) -> dict[str, Any]:
    """The JSON body a webhook receives for ``run``."""
    return {
        "action": run.action,
        "kind": run.kind,
        "model": run.model,
        "from_version": run.from_version,
        "to_version": run.to_version,
        "fallback": run.fallback,
        "run_id": run.id,
        "reason": run.reason,
        "signals": [asdict(s) for s in run.signals],
        "requested_by": run.requested_by,
        "approved_by": run.approved_by,
    }


class WebhookExecutor:
    def __init__(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        timeout: float = 60.0,
        retry_delay: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        secrets: Collection[str] = (),
    ) -> None:
        self.url = url
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.retry_delay = retry_delay
        self._sleep = sleep
        self._secrets = frozenset(secrets) | set(self.headers.values()) | url_secrets(url)

    def execute(self, run: Run) -> Outcome:
        return _masked(self._execute(run), self._secrets)

    def _execute(self, run: Run) -> Outcome:
        headers = {**self.headers, "Idempotency-Key": run.id}
        where = shown_url(self.url)
        payload = webhook_payload(run)
        problems: list[str] = []
        response = ExecutorResponse("webhook", 0)
        with httpx.Client(timeout=self.timeout) as client:
            for attempt in (1, 2):
                if attempt == 2:
                    log.warning(
                        "webhook for run %s: %s; retrying once", run.id, mask(problems[-1], self._secrets)
                    )
                    self._sleep(self.retry_delay)
                try:
                    reply = client.post(self.url, json=payload, headers=headers)
                except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                    problems.append(f"cannot connect to {where} ({exc})")
                    response = ExecutorResponse("webhook", attempt)
                    continue
                except httpx.HTTPError as exc:  # sent, maybe acted on: not retried
                    problems.append(f"POST {where} failed: {type(exc).__name__}: {exc}")
                    return Outcome(False, "; ".join(problems), ExecutorResponse("webhook", attempt))
                body = reply.text[:BODY_LIMIT]
                response = ExecutorResponse("webhook", attempt, reply.status_code, body)
                if reply.is_success:
                    return Outcome(True, f"webhook answered {reply.status_code}", response)
                problems.append(f"webhook answered {reply.status_code}" + (f": {body[:200]}" if body else ""))
                if reply.status_code < 500:
                    break
        if len(problems) == 2 and problems[0] == problems[1]:
            return Outcome(False, f"{problems[1]} (twice)", response)
        return Outcome(False, "; then ".join(problems), response)


class MlflowExecutor:
    def __init__(self, target: MlflowTarget, timeout: float = 60.0, secrets: Collection[str] = ()) -> None:
        self.target = target
        self.timeout = timeout
        self._secrets = frozenset(secrets) | url_secrets(target.tracking_uri) | {target.token or ""}

    def execute(self, run: Run) -> Outcome:
        return _masked(self._execute(run), self._secrets)

    def _execute(self, run: Run) -> Outcome:
        target = self.target
        if run.to_version is None:
            return Outcome(False, "no target version to move the alias to", ExecutorResponse("mlflow", 0))
        name = target.registered_model.replace("{model}", run.model)
        version = target.mlflow_version(run.to_version)
        headers = {"Authorization": f"Bearer {target.token}"} if target.token else {}
        where = f"{name}@{target.alias}"
        with httpx.Client(base_url=target.tracking_uri, timeout=self.timeout, headers=headers) as client:
            try:
                before, reply = self._read(client, name)
                moved: httpx.Response | None = None
                if before != version:
                    moved = client.post(
                        ALIAS_PATH, json={"name": name, "alias": target.alias, "version": version}
                    )
                    if not moved.is_success:
                        return Outcome(
                            False,
                            f"MLflow refused to move {where} to version {version}: {moved.status_code} "
                            f"{_mlflow_message(moved)}",
                            self._response(moved, before, before),
                        )
                    after, reply = self._read(client, name)
                else:
                    after = before
            except _MlflowError as exc:
                return Outcome(False, str(exc), self._response(exc.reply, None, None))
            except httpx.HTTPError as exc:
                message = f"MLflow at {shown_url(target.tracking_uri)} failed: {type(exc).__name__}: {exc}"
                return Outcome(False, message, ExecutorResponse("mlflow", 1))
        response = self._response(moved or reply, before, after)
        if after != version:
            return Outcome(False, f"{where} reads version {after} after the move, not {version}", response)
        if moved is None:
            return Outcome(True, f"{where} already at version {version}; nothing moved", response)
        return Outcome(True, f"moved {where} from version {before} to {version}", response)

    def _read(self, client: httpx.Client, name: str) -> tuple[str | None, httpx.Response]:
        """The alias's version (None when it is not set) and the reply."""
        reply = client.get(ALIAS_PATH, params={"name": name, "alias": self.target.alias})
        if reply.status_code == 404 and "RESOURCE_DOES_NOT_EXIST" in reply.text and "alias" in reply.text:
            return None, reply
        if not reply.is_success:
            raise _MlflowError(
                f"cannot read {name}@{self.target.alias} from MLflow: "
                f"{reply.status_code} {_mlflow_message(reply)}",
                reply,
            )
        try:
            found = reply.json()["model_version"]["version"]
        except (ValueError, KeyError, TypeError):
            raise _MlflowError(
                f"MLflow answered without model_version.version: {reply.text[:200]}", reply
            ) from None
        return str(found), reply

    def _response(
        self, reply: httpx.Response | None, before: str | None, after: str | None
    ) -> ExecutorResponse:
        alias = {"registered_model": self.target.registered_model, "alias": self.target.alias}
        return ExecutorResponse(
            "mlflow",
            1,
            reply.status_code if reply is not None else None,
            reply.text[:BODY_LIMIT] if reply is not None else None,
            before={**alias, "version": before, "vigil_version": _vigil(self.target, before)},
            after={**alias, "version": after, "vigil_version": _vigil(self.target, after)},
        )


class _MlflowError(Exception):
    def __init__(self, message: str, reply: httpx.Response) -> None:
        super().__init__(message)
        self.reply = reply


def _vigil(target: MlflowTarget, version: str | None) -> str | None:
    return None if version is None else target.vigil_version(version)


def _mlflow_message(reply: httpx.Response) -> str:
    try:
        data = reply.json()
    except ValueError:
        return reply.text[:200]
    if isinstance(data, dict) and "message" in data:
        return f"{data.get('error_code', '')}: {data['message']}".lstrip(": ")
    return reply.text[:200]


class CommandExecutor:
    def __init__(self, argv: Sequence[str], timeout: float = 60.0, secrets: Collection[str] = ()) -> None:
        self.argv = tuple(argv)
        self.timeout = timeout
        self._secrets = frozenset(secrets)

    def execute(self, run: Run) -> Outcome:
        return _masked(self._execute(run), self._secrets)

    def _execute(self, run: Run) -> Outcome:
        fields = {
            "model": run.model,
            "version": run.from_version or "",
            "from_version": run.from_version or "",
            "to_version": run.to_version or "",
            "action": run.action,
            "run_id": run.id,
        }
        argv = [arg.format_map(fields) for arg in self.argv]
        env = {
            **os.environ,
            "VIGIL_ACTION": run.action,
            "VIGIL_KIND": run.kind,
            "VIGIL_MODEL": run.model,
            "VIGIL_VERSION": run.from_version or "",
            "VIGIL_FROM_VERSION": run.from_version or "",
            "VIGIL_TO_VERSION": run.to_version or "",
            "VIGIL_FALLBACK": run.fallback or "",
            "VIGIL_RUN_ID": run.id,
            "VIGIL_REASON": run.reason,
            "VIGIL_SIGNALS": ",".join(s.alertname for s in run.signals),
        }
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                start_new_session=True,  # so a timeout can kill its children too
            )
        except OSError as exc:
            message = f"cannot start {argv[0]!r}: {exc.strerror or exc}"
            return Outcome(False, message, ExecutorResponse("command", 1))
        try:
            out, err = process.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            out, err = process.communicate()
            response = _command_response(None, out, err)
            return Outcome(False, f"command timed out after {self.timeout:g}s and was killed", response)
        response = _command_response(process.returncode, out, err)
        if process.returncode != 0:
            tail = (response.stderr or "").strip().splitlines()
            last = f": {tail[-1]}" if tail else ""
            return Outcome(False, f"command exited with {process.returncode}{last}", response)
        return Outcome(True, "command exited with 0", response)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()


def _command_response(code: int | None, out: bytes, err: bytes) -> ExecutorResponse:
    return ExecutorResponse(
        "command",
        1,
        body=out.decode("utf-8", "replace")[-BODY_LIMIT:],
        exit_code=code,
        stderr=err.decode("utf-8", "replace")[-BODY_LIMIT:],
    )


def executor_for(spec: ActionSpec, *, retry_delay: float = 1.0) -> Executor:
    """The executor ``spec`` declares."""
    timeout = spec.timeout.total_seconds()
    if spec.webhook is not None:
        return WebhookExecutor(spec.webhook, spec.headers, timeout, retry_delay, secrets=spec.secrets)
    if spec.mlflow is not None:
        return MlflowExecutor(spec.mlflow, timeout, secrets=spec.secrets)
    assert spec.command is not None  # ActionSpec guarantees exactly one executor
    return CommandExecutor(spec.command, timeout, secrets=spec.secrets)
