"""``GET /v1/procedure``: the diagram of the server's config in every format, the path of an alert, admin
keys only, and a clear answer when SVG cannot be drawn."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.procedure.conftest import EXAMPLE
from vigil.config import parse_config
from vigil.procedure import check_sections, render
from vigil.server.app import create_app
from vigil.store.sqlite import SQLiteStore

ADMIN = {"Authorization": "Bearer ana-key"}
INGEST = {"Authorization": "Bearer ingest-key"}
KEYS = """security:
  api_keys:
    admin: [{name: ana, key: ana-key}]
    ingest: [{name: scorer, key: ingest-key}]
"""
TEXT = KEYS + EXAMPLE.read_text(encoding="utf-8").replace("version: 1\n", "")
ALERT = "alertname=IncomeDrift model=credit-risk severity=warning"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    store = SQLiteStore(tmp_path / "v.db")
    with TestClient(create_app(parse_config(TEXT), store, root=tmp_path)) as c:
        yield c
    store.close()


def test_only_admin_keys_read_it(client: TestClient) -> None:
    assert client.get("/v1/procedure").status_code == 401
    assert client.get("/v1/procedure", headers=INGEST).status_code == 403
    assert client.get("/v1/procedure", headers=ADMIN).status_code == 200


def test_every_format_is_what_vigil_sop_draws(client: TestClient) -> None:
    sections = check_sections(parse_config(TEXT))
    formats = ["json", "mermaid", "markdown", "dot", "text"] + (["svg"] if shutil.which("dot") else [])
    media = {"json": "application/json", "mermaid": "text/vnd.mermaid", "markdown": "text/markdown"}
    media |= {"dot": "text/vnd.graphviz", "text": "text/plain", "svg": "image/svg+xml"}
    for fmt in formats:
        answer = client.get("/v1/procedure", params={"format": fmt, "alert": ALERT}, headers=ADMIN)
        assert answer.status_code == 200, (fmt, answer.text)
        assert answer.headers["content-type"].split(";")[0] == media[fmt]
        expected = render(sections, fmt, [ALERT])
        if fmt == "json":
            assert answer.json()["path"]["receivers"] == ["risk-chat"]
            assert [n["id"] for n in answer.json()["nodes"]][:3] == [
                "model:credit-risk",
                "model:churn",
                "model:support-assistant",
            ]
        else:
            assert answer.text == expected
    if shutil.which("dot"):
        svg = client.get("/v1/procedure", params={"format": "svg"}, headers=ADMIN).text
        assert ET.fromstring(svg).tag == "{http://www.w3.org/2000/svg}svg"


def test_labels_may_come_one_per_parameter(client: TestClient) -> None:
    split = [("format", "text"), ("alert", "alertname=HighLatency"), ("alert", "model=churn")]
    answer = client.get("/v1/procedure", params=[*split, ("alert", "severity=critical")], headers=ADMIN)
    assert answer.text.splitlines()[0] == "pager,chat"
    given = {"format": "text", "alert": "alertname=IncomeDrift model=credit-risk severity=warning"}
    as_given = client.get("/v1/procedure", params={**given, "as_given": "true"}, headers=ADMIN)
    assert as_given.text.splitlines()[0] == "tickets"


def test_bad_questions_get_422_saying_what_to_do(client: TestClient) -> None:
    for params, says in [
        ({"format": "png"}, "unknown format 'png'"),
        ({"alert": "severity"}, "is not name=value"),
        ({"format": "text"}, "give its labels"),
    ]:
        answer = client.get("/v1/procedure", params=params, headers=ADMIN)
        assert answer.status_code == 422 and says in answer.json()["error"], answer.text


def test_without_graphviz_svg_is_501_and_the_rest_still_work(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot here
    answer = client.get("/v1/procedure", params={"format": "svg"}, headers=ADMIN)
    assert answer.status_code == 501
    assert "apt-get install graphviz" in answer.json()["error"]
    assert client.get("/v1/procedure", params={"format": "mermaid"}, headers=ADMIN).status_code == 200


def test_a_server_without_alerting_draws_its_models_and_rules(tmp_path: Path) -> None:
    text = KEYS + "models:\n  m: {task: regression, owner: {team: t}}\n"
    store = SQLiteStore(tmp_path / "v.db")
    with TestClient(create_app(parse_config(text), store, root=tmp_path)) as c:
        data = c.get("/v1/procedure", headers=ADMIN).json()
    store.close()
    assert {n["stage"] for n in data["nodes"]} == {"models", "telemetry", "metrics", "rules", "runbooks"}
    assert any("no alerting: section" in note for note in data["notes"])


def test_the_openapi_document_describes_every_format(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/v1/procedure"]["get"]
    content = operation["responses"]["200"]["content"]
    assert set(content) == {
        "application/json",
        "image/svg+xml",
        "text/vnd.mermaid",
        "text/markdown",
        "text/vnd.graphviz",
        "text/plain",
    }
    assert {"409", "422", "501"} <= set(operation["responses"])
    query = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
    assert query == {"format", "alert", "as_given"}


def test_a_config_the_server_never_checked_is_a_409(tmp_path: Path) -> None:
    text = KEYS + "models:\n  m: {task: binary, owner: {team: t}}\nrules:\n  - {name: R, metric: nope}\n"
    store = SQLiteStore(tmp_path / "v.db")
    with TestClient(create_app(parse_config(text), store, root=tmp_path)) as c:  # alerting off: rules unread
        answer = c.get("/v1/procedure", headers=ADMIN)
    store.close()
    assert answer.status_code == 409
    assert "cannot be drawn" in answer.json()["detail"] and "unknown metric 'nope'" in answer.json()["detail"]
