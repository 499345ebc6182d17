"""The dashboard's response pages and forms through the real app in-process (no browser): empty states
that say what to do next, alerting turned off, refusals answered with the JSON API's statuses and in
words, a form that cannot send the browser to another site, and the actor the audit log records."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.fakes import FakeClock
from vigil.config import parse_config
from vigil.server.app import create_app
from vigil.store.sqlite import SQLiteStore

T0 = 1_800_000_000.0 - 1_800_000_000.0 % 3600
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
MODELS = """
models:
  m: {task: binary, owner: {team: risk}, window: 1m}
"""
ALERTING = """
rules:
  - {name: ErrorsHigh, model: m, metric: error_rate, warning: 0.05, window: 1m}
alerting: {evaluate_every: 1h, default_rules: false}
"""


@pytest.fixture
def quiet(tmp_path: Path) -> Iterator[TestClient]:
    """Alerting on, one rule, nothing sent: nothing fires."""
    app = create_app(parse_config(MODELS + ALERTING), SQLiteStore(tmp_path / "v.db"), clock=FakeClock(T0))
    with TestClient(app, follow_redirects=False) as client:
        app.state.alerting.tick(T0)
        yield client


@pytest.fixture
def off(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(parse_config(MODELS), SQLiteStore(tmp_path / "v.db"), clock=FakeClock(T0))
    with TestClient(app, follow_redirects=False) as client:
        yield client


def _text(html: str) -> str:
    return " ".join(html.replace("&mdash;", "—").split())


def test_empty_states_say_what_to_do_next(quiet: TestClient) -> None:
    alerts = _text(quiet.get("/alerts").text)
    assert "No alerts firing" in alerts and "Rules in force: 1 — see" in alerts
    assert 'href="/rules?range=1h">Rules</a>' in quiet.get("/alerts").text
    assert "No incidents in the last 7d" in _text(quiet.get("/incidents").text)
    assert "No alert fired in the last 7d" in _text(quiet.get("/review").text)
    assert "No silences." in alerts
    report = _text(quiet.get("/reports").text)
    assert "No report for m" in report and "no events of &#39;m&#39;" in report


def test_alerting_off_is_said_and_forms_are_refused(off: TestClient) -> None:
    for path in ("/alerts", "/incidents", "/rules", "/review"):
        page = off.get(path)
        assert page.status_code == 200 and "Alerting is off" in page.text, path
    refused = off.post("/alerts/abc/ack", content=b"back=%2Falerts", headers=FORM)
    assert refused.status_code == 409
    assert "alerting is off: add an alerting: section to vigil.yaml" in refused.text
    assert 'href="/alerts"' in refused.text  # the way back


def test_refusals_keep_the_api_statuses_and_say_why(quiet: TestClient) -> None:
    unknown = quiet.post("/alerts/silences/0123/expire", content=b"", headers=FORM)
    assert unknown.status_code == 404 and "no silence &#39;0123&#39;" in unknown.text
    empty = quiet.post("/alerts/silences", content=b"matchers=&duration=1h&comment=x", headers=FORM)
    assert empty.status_code == 422 and "give at least one matcher" in empty.text
    bad = quiet.post(
        "/alerts/silences", content=b"matchers=model%3D%22m%22&duration=soon&comment=x", headers=FORM
    )
    assert bad.status_code == 422 and "the duration must be like 30m, 2h or 1d" in bad.text
    no_run = quiet.post("/actions/runs/r1/approve", content=b"", headers=FORM)
    assert no_run.status_code == 404 and "no action run has id &#39;r1&#39;" in no_run.text


def test_a_silence_from_the_form_is_audited_and_back_never_leaves_the_site(quiet: TestClient) -> None:
    body = "matchers=model%3D%22m%22%0D%0Aalertname%3D%22ErrorsHigh%22&duration=2h&comment=deploy"
    for back, where in (
        ("/alerts?model=m", "/alerts?model=m#silences"),
        ("//evil.example/x", "/alerts#silences"),
    ):
        made = quiet.post("/alerts/silences", content=f"{body}&back={back}".encode(), headers=FORM)
        assert made.status_code == 303 and made.headers["location"] == where
    silences = quiet.get("/v1/silences").json()["silences"]
    assert len(silences) == 2
    assert silences[0]["matchers"] == ['model="m"', 'alertname="ErrorsHigh"']
    assert (
        silences[0]["ends_at"] == "2027-01-15T10:00:00Z"
        and silences[0]["created_by"] == "anonymous (unverified)"
    )
    audit = quiet.get("/v1/audit").json()["entries"]
    assert [e["action"] for e in audit] == ["silence.create", "silence.create"]
    elsewhere = quiet.post(
        "/alerts/silences/nope/expire", content=b"back=https%3A%2F%2Fevil.example", headers=FORM
    )
    assert 'href="https://evil.example"' not in elsewhere.text and 'href="/alerts"' in elsewhere.text


def test_a_form_must_be_a_form(quiet: TestClient) -> None:
    answer = quiet.post("/alerts/silences", json={"matchers": ['model="m"']})
    assert answer.status_code == 422
    assert "application/x-www-form-urlencoded" in answer.json()["error"]
