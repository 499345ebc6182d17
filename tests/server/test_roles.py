"""The role table is the truth about every route: each route of the app is in it, and a real server
answers each role as it says (the gate's 401/403 where it refuses, the route's own answer where it
allows), with keys given in the clear and as their SHA-256. The README shows the same table."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from tests.server.live import T0, Live, serve
from vigil.server.roles import NEEDS, ROUTES, allows, every_route, markdown
from vigil.spec.security import ROLES, key_digest

README = Path(__file__).resolve().parents[2] / "README.md"
KEYS = {
    "viewer": "carol-k3y-viewer",
    "editor": "dan-k3y-editor",
    "admin": "ana-k3y-admin",
    "ingest": "ingest-k3y",
}
KEYED = f"""
security:
  api_keys:
    viewer: [{{name: carol, sha256: "{key_digest(KEYS["viewer"])}"}}]
    editor: [{{name: dan, key: {KEYS["editor"]}}}]
    admin: [{{name: ana, key: {KEYS["admin"]}}}]
    ingest: [{{name: scorer, key: {KEYS["ingest"]}}}]
"""
MONITORED = """
models:
  m:
    task: binary
    owner: {{team: risk}}
    window: 1m
    versions: [v1, v2]
    baseline: {{file: {baseline}}}
    features: {{income: {{type: numeric}}}}
    segments: [region]
    fairness: {{protected: [region]}}
rules:
  - {{name: ErrorsHigh, model: m, metric: error_rate, warning: 0.05, window: 1m}}
alerting:
  evaluate_every: 1h
  default_rules: false
"""


def _config(tmp: Path, keyed: bool = True) -> str:
    rng = np.random.default_rng(1)
    baseline = pd.DataFrame({"income": rng.normal(5e4, 1e4, 500), "prediction": rng.integers(0, 2, 500)})
    baseline.to_parquet(tmp / "base.parquet")
    return (KEYED if keyed else "") + MONITORED.format(baseline=tmp / "base.parquet")


_PARAMS = {"model": "m"}
"""Path parameters with a real value; the others get one that names nothing (a 404 is the route's own)."""


def _request(live: Live, key: str, caller: str | None) -> httpx.Response:
    method, path = key.split(" ", 1)
    path = re.sub(r"\{(\w+)\}", lambda m: _PARAMS.get(m.group(1), "nothing"), path.replace("/*", "/x.css"))
    headers = {"Authorization": f"Bearer {KEYS[caller]}"} if caller else {}
    body: dict[str, Any] = {} if method == "GET" else {"json": {}}
    return httpx.request(method, live.url + path, headers=headers, timeout=30, **body)


def _refused_by_the_gate(answer: httpx.Response) -> bool:
    if answer.status_code == 401:
        return bool(answer.headers.get("www-authenticate") == "Bearer")  # not a page's own "unknown key"
    return answer.status_code == 403 and "role" in str(answer.json().get("detail", ""))


def test_every_route_is_in_the_table_and_answers_each_role_as_it_says(tmp_path: Path) -> None:
    with serve(tmp_path, _config(tmp_path)) as live:
        events = [
            {"model": "m", "timestamp": T0 - 300 + i, "prediction": i % 2, "features": {"income": 5e4 + i}}
            for i in range(50)
        ]
        assert live.call("POST", "/v1/events", KEYS["ingest"], json=events).json()["accepted"] == 50
        assert live.app.state.vigil.aggregator.wait_idle(10)
        served = dict(every_route(live.app))
        assert set(served) == set(ROUTES), "the role table and the app's routes differ"
        assert set(ROUTES.values()) <= set(NEEDS)
        wrong: list[str] = []
        for key, need in ROUTES.items():
            for caller in (None, *ROLES):
                answer = _request(live, key, caller)
                allowed = need == "open" if caller is None else allows(frozenset({caller}), need)
                if allowed:
                    ok = not _refused_by_the_gate(answer) and answer.status_code < 500
                    if key.startswith("GET /v1/") and "{" not in key.replace("{model}", ""):
                        ok = ok and answer.status_code == 200  # a read with every parameter real: served
                elif caller is None:
                    ok = _refused_by_the_gate(answer) and "send an API key" in answer.json()["detail"]
                else:
                    detail = answer.json().get("detail", "") if answer.status_code == 403 else ""
                    ok = f"needs the {need} role" in detail and f"has the {caller} role" in detail
                if not ok:
                    wrong.append(f"{key} as {caller or 'nobody'}: {answer.status_code} {answer.text[:120]}")
        assert wrong == [], "\n".join(wrong)


def test_an_open_api_lets_anyone_call_every_route(tmp_path: Path) -> None:
    with serve(tmp_path, _config(tmp_path, keyed=False)) as live:
        refused = [
            f"{key}: {answer.status_code}"
            for key in ROUTES
            if _refused_by_the_gate(answer := _request(live, key, None)) or answer.status_code >= 500
        ]
        assert refused == []


def test_a_viewer_is_refused_an_edit_with_the_role_it_needs(tmp_path: Path) -> None:
    with serve(tmp_path, _config(tmp_path)) as live:
        silence = {"matchers": ['model="m"'], "duration": "1h", "comment": "deploy"}
        refused = live.call("POST", "/v1/silences", KEYS["viewer"], json=silence)
        assert refused.status_code == 403
        assert refused.json()["detail"] == (
            "POST /v1/silences needs the editor role (an editor or admin key); carol has the viewer role"
        )
        assert live.call("GET", "/v1/silences", KEYS["viewer"]).json()["silences"] == []  # nothing made
        made = live.call("POST", "/v1/silences", KEYS["editor"], json=silence)
        assert made.status_code == 201 and made.json()["created_by"] == "dan"
        # an ingest key sends data but reads nothing; raw events and the audit log are the admins'
        assert live.call("GET", "/v1/models", KEYS["ingest"]).status_code == 403
        for path in ("/v1/audit", "/v1/models/m/events"):
            assert live.call("GET", path, KEYS["editor"]).status_code == 403
            assert live.call("GET", path, KEYS["admin"]).status_code == 200


def test_the_server_refuses_to_start_with_a_route_the_table_does_not_list(tmp_path: Path) -> None:
    with serve(tmp_path, _config(tmp_path)) as live:
        app: FastAPI = live.app
        app.add_api_route("/v1/secret", lambda: PlainTextResponse("no"), methods=["GET"])
        with pytest.raises(RuntimeError, match=r"not listed: GET /v1/secret"):
            app.state.gate.bind(app)
        # and until it is listed, the route is treated as the admins'
        assert live.call("GET", "/v1/secret", KEYS["editor"]).status_code == 403
        assert live.call("GET", "/v1/secret", KEYS["admin"]).text == "no"


def test_the_readme_shows_the_table() -> None:
    text = README.read_text(encoding="utf-8")
    begin, end = "<!-- roles:begin -->\n", "<!-- roles:end -->"
    assert begin in text and end in text, "README.md: mark the role table with <!-- roles:begin/end -->"
    shown = text.split(begin, 1)[1].split(end, 1)[0]
    assert shown == markdown(), (
        "README.md's role table is not vigil.server.roles.ROUTES: paste the output of\n"
        "python -c 'from vigil.server.roles import markdown; print(markdown(), end=\"\")'"
    )
