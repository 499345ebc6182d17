"""Signing in to the dashboard over real HTTP: the signed session cookie, its CSRF tokens, signing out,
and the cookies that must be refused (changed, foreign, expired, signed out of, of a revoked key)."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import Request
from fastapi.responses import HTMLResponse

from tests.server.live import T0, Live, serve
from vigil.server.auth import CallerDep, csrf_token
from vigil.server.roles import ROUTES
from vigil.server.sessions import COOKIE

KEYS = {
    "viewer": "carol-k3y-5a5a",
    "editor": "dan-k3y-6b6b",
    "admin": "ana-k3y-7c7c",
    "ingest": "in-k3y-8d8d",
}
CONFIG = f"""
security:
  api_keys:
    viewer: [{{name: carol, key: {KEYS["viewer"]}}}]
    editor: [{{name: dan, key: {KEYS["editor"]}}}]
    admin: [{{name: ana, key: {KEYS["admin"]}}}]
    ingest: [{{name: scorer, key: {KEYS["ingest"]}}}]
  session_max_age: 1h
models:
  m: {{task: binary, owner: {{team: risk}}, window: 1m}}
alerting:
  evaluate_every: 1h
  default_rules: false
"""
SILENCE = {"matchers": ['model="m"'], "duration": "1h", "comment": "deploy"}


def _sign_in(live: Live, role: str, next: str = "/") -> httpx.Client:
    client = live.client()
    answer = client.post("/login", data={"key": KEYS[role], "next": next})
    assert answer.status_code == 303 and answer.headers["location"] == next, answer.text
    return client


def _csrf(client: httpx.Client) -> str:
    """The CSRF token on the sign-in page of the client's session."""
    page = client.get("/login").text
    return page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def test_signing_in_gives_a_signed_cookie_that_acts_as_its_holder(tmp_path: Path) -> None:
    with serve(tmp_path, CONFIG) as live:
        client = live.client()
        answer = client.post("/login", data={"key": KEYS["editor"], "next": "/v1/silences"})
        assert answer.status_code == 303 and answer.headers["location"] == "/v1/silences"
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}=") and KEYS["editor"] not in cookie
        attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "samesite=lax", "max-age=3600", "path=/"} <= attributes
        assert "secure" not in attributes  # served over plain HTTP here
        assert client.get("/v1/silences").status_code == 200
        page = client.get("/login")
        assert "Signed in as <strong>dan</strong> (editor)" in page.text
        token = _csrf(client)
        made = client.post("/v1/silences", json=SILENCE, headers={"X-CSRF-Token": token})
        assert made.status_code == 201 and made.json()["created_by"] == "dan"
        assert client.get("/v1/audit").status_code == 403  # the role of the key signed in with


def test_sign_in_refusals_and_where_it_sends_you(tmp_path: Path) -> None:
    with serve(tmp_path, CONFIG) as live:
        client = live.client()
        wrong = client.post("/login", data={"key": "nope", "next": "/v1/models"})
        assert wrong.status_code == 401 and "That key is not one this server knows." in wrong.text
        assert 'value="/v1/models"' in wrong.text and COOKIE not in client.cookies
        ingest = client.post("/login", data={"key": KEYS["ingest"]})
        assert ingest.status_code == 403 and "An ingest key only sends data" in ingest.text
        for elsewhere in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
            answer = client.post("/login", data={"key": KEYS["viewer"], "next": elsewhere})
            assert answer.headers["location"] == "/", elsewhere
        page = live.client().get("/login", params={"next": "/v1/alerts"})
        assert page.status_code == 200 and '<form method="post" action="/login">' in page.text
        assert 'name="key" type="password"' in page.text and 'value="/v1/alerts"' in page.text
        # a change asked cross-site is refused before anything else
        cross = live.client().post(
            "/login", data={"key": KEYS["admin"]}, headers={"Sec-Fetch-Site": "cross-site"}
        )
        assert cross.status_code == 403 and "another site" in cross.json()["detail"]


def test_changes_sent_with_the_cookie_need_the_session_csrf_token(tmp_path: Path) -> None:
    with serve(tmp_path, CONFIG) as live:
        dan, ana = _sign_in(live, "editor"), _sign_in(live, "admin")
        dans, anas = _csrf(dan), _csrf(ana)
        assert dans != anas
        for headers in ({}, {"X-CSRF-Token": anas}, {"X-CSRF-Token": "forged"}):
            refused = dan.post("/v1/silences", json=SILENCE, headers=headers)
            assert refused.status_code == 403 and "csrf_token" in refused.json()["detail"], headers
        # a form: the token as its field
        form = {"matchers": 'model="m"', "duration": "1h"}
        assert dan.post("/v1/silences", data=form).status_code == 403
        assert dan.post("/v1/silences", data={**form, "csrf_token": anas}).status_code == 403
        reached = dan.post("/v1/silences", data={**form, "csrf_token": dans})
        assert reached.status_code == 422  # past the gate: the route wants JSON
        assert dan.get("/v1/silences").json()["silences"] == []  # nothing was made by the refused ones
        # an API key in a header needs no token, even with a cookie beside it
        keyed = dan.post("/v1/silences", json=SILENCE, headers={"Authorization": f"Bearer {KEYS['admin']}"})
        assert keyed.status_code == 201 and keyed.json()["created_by"] == "ana"


def test_changed_foreign_and_expired_cookies_are_refused(tmp_path: Path) -> None:
    with serve(tmp_path, CONFIG) as live:
        client = _sign_in(live, "viewer")
        good = client.cookies[COOKIE]
        payload, signature = good.rsplit(".", 1)
        for bad in (
            payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:],  # the signature changed
            payload.replace(payload[2], "x" if payload[2] != "x" else "y", 1) + "." + signature,
            "not-a-cookie",
        ):
            answer = live.client(cookies={COOKIE: bad}).get("/v1/models")
            assert answer.status_code == 401 and "session is over" in answer.json()["detail"], bad
        assert live.client(cookies={COOKIE: good}).get("/v1/models").status_code == 200
        live.clock.now = T0 + 3601  # past session_max_age
        expired = live.client(cookies={COOKIE: good}).get("/v1/models")
        assert expired.status_code == 401 and COOKIE in expired.headers.get("set-cookie", "")  # cleared
    # the same cookie on a server with another secret
    other = CONFIG.replace("session_max_age: 1h", f"session_secret: {'z' * 32}")
    with serve(tmp_path / "other", other) as live:
        assert live.client(cookies={COOKIE: good}).get("/v1/models").status_code == 401


def test_signing_out_ends_the_session_on_the_server(tmp_path: Path) -> None:
    with serve(tmp_path, CONFIG) as live:
        client = _sign_in(live, "viewer")
        copied = client.cookies[COOKIE]
        assert client.post("/logout").status_code == 403  # the form's token is missing
        out = client.post("/logout", data={"csrf_token": _csrf(client)})
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert COOKIE not in client.cookies
        assert live.client(cookies={COOKIE: copied}).get("/v1/models").status_code == 401


def test_revoking_a_key_ends_its_sessions_and_restarts_keep_them(tmp_path: Path) -> None:
    with serve(tmp_path, CONFIG) as live:
        made = live.call("POST", "/v1/keys", KEYS["admin"], json={"name": "eve", "role": "editor"}).json()
        eve = live.client()
        assert eve.post("/login", data={"key": made["key"]}).status_code == 303
        carol = _sign_in(live, "viewer")
        assert eve.get("/v1/models").status_code == 200
        live.call("DELETE", f"/v1/keys/{made['id']}", KEYS["admin"])
        assert eve.get("/v1/models").status_code == 401
        kept = carol.cookies[COOKIE]
    # a new server on the same store: the secret it signs with is the store's, so carol stays signed in
    with serve(tmp_path, CONFIG) as live:
        assert live.client(cookies={COOKIE: kept}).get("/v1/models").status_code == 200


def test_a_page_asked_for_without_a_session_sends_the_browser_to_sign_in(tmp_path: Path) -> None:
    with serve(tmp_path, CONFIG) as live:
        app = live.app

        async def page(request: Request, caller: CallerDep) -> HTMLResponse:
            return HTMLResponse(f"hello {caller.holder} <input name=csrf_token value={csrf_token(request)}>")

        app.add_api_route("/page", page, methods=["GET"])
        app.state.gate.bind(app, {**ROUTES, "GET /page": "viewer"})
        browser = live.client(headers={"Accept": "text/html"})
        sent = browser.get("/page", params={"tab": "1"})
        assert sent.status_code == 303 and sent.headers["location"] == "/login?next=%2Fpage%3Ftab%3D1"
        assert browser.post("/login", data={"key": KEYS["viewer"], "next": "/page"}).status_code == 303
        assert browser.get("/page").text.startswith("hello carol")
        assert _csrf(browser) in browser.get("/page").text  # the page's token is the session's
        # a script (no text/html) gets the 401 itself
        assert live.client().get("/page").status_code == 401
