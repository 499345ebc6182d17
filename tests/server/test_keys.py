"""Keys an admin makes through the API, over real HTTP on each store: shown once, kept only as their
SHA-256 (the key is nowhere in the store), listed without it, refused the moment they are revoked, and
audited."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.server.live import serve
from tests.store.conftest import store  # noqa: F401 -- the fixture: every test here runs on each backend
from vigil.spec.security import key_digest
from vigil.store import Store

ADMIN = "ana-admin-k3y-0b1c"
CONFIG = f"""
security:
  api_keys:
    admin: [{{name: ana, key: {ADMIN}}}]
models:
  m: {{task: binary, owner: {{team: risk}}, window: 1m}}
"""


def _everything_in(held: Store) -> bytes:
    """Every byte a store holds: the SQLite file with its write-ahead log, or every row of every table
    of the PostgreSQL database as text."""
    if held.url.startswith("postgresql://"):
        psycopg = pytest.importorskip("psycopg")
        with psycopg.connect(held.url) as conn:
            listed = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            tables = [r[0] for r in listed]
            rows = [str(r[0]) for t in tables for r in conn.execute(f'SELECT t::text FROM "{t}" AS t')]
        return "\n".join(rows).encode()
    path = Path(held.url)
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def test_a_key_is_shown_once_kept_hashed_and_refused_once_revoked(tmp_path: Path, store: Store) -> None:  # noqa: F811
    with serve(tmp_path, CONFIG, store=store) as live:
        made = live.call("POST", "/v1/keys", ADMIN, json={"name": "carol", "role": "viewer"})
        assert made.status_code == 201, made.text
        key = made.json()["key"]
        assert key.startswith("vigil_") and len(key) >= 48
        assert {k: made.json()[k] for k in ("name", "role", "source", "created_by")} == {
            "name": "carol",
            "role": "viewer",
            "source": "api",
            "created_by": "ana",
        }
        # it works at once, as its holder, with its role only
        assert live.call("GET", "/v1/models", key).status_code == 200
        assert live.call("GET", "/v1/models", headers={"X-API-Key": key}).status_code == 200
        assert live.call("POST", "/v1/keys", key, json={"name": "x", "role": "admin"}).status_code == 403
        # listed with the config's, never with the key
        listed = live.call("GET", "/v1/keys", ADMIN)
        assert [(k["name"], k["role"], k["source"]) for k in listed.json()["keys"]] == [
            ("ana", "admin", "config"),
            ("carol", "viewer", "api"),
        ]
        carol = listed.json()["keys"][1]
        assert carol["last_used"] is not None and carol["id"] == made.json()["id"]
        assert key not in listed.text and key_digest(key) not in listed.text
        # what the store holds: the hash, never the key (nor the config's key)
        held = _everything_in(store)
        assert key_digest(key).encode() in held  # the check reads what it should
        assert key.encode() not in held and ADMIN.encode() not in held
        # revoked: refused from the next request on, and audited by who did it
        gone = live.call("DELETE", f"/v1/keys/{carol['id']}", ADMIN)
        assert gone.status_code == 200 and gone.json()["name"] == "carol"
        refused = live.call("GET", "/v1/models", key)
        assert (refused.status_code, refused.json()["detail"]) == (401, "unknown API key")
        assert live.call("DELETE", f"/v1/keys/{carol['id']}", ADMIN).status_code == 404
        trail = live.call("GET", "/v1/audit", ADMIN, params={"target": "key/"}).json()["entries"]
        assert [(e["actor"], e["action"], e["target"]) for e in trail] == [
            ("ana", "key.create", f"key/{carol['id']}"),
            ("ana", "key.revoke", f"key/{carol['id']}"),
        ]
        assert key not in str(trail)


def test_keys_are_refused_what_would_lock_everyone_out(tmp_path: Path, store: Store) -> None:  # noqa: F811
    with serve(tmp_path, "models: {}\n", store=store) as live:
        # an open API: the first key must be an admin's, since from then on every caller needs one
        first = live.call("POST", "/v1/keys", json={"name": "carol", "role": "viewer"})
        assert first.status_code == 409 and "first key must be an admin key" in first.json()["detail"]
        assert live.call("GET", "/v1/models").status_code == 200  # still open
        admin = live.call("POST", "/v1/keys", json={"name": "root", "role": "admin"}).json()
        assert live.call("GET", "/v1/models").status_code == 401  # closed from now on
        viewer = live.call("POST", "/v1/keys", admin["key"], json={"name": "carol", "role": "viewer"}).json()
        last = live.call("DELETE", f"/v1/keys/{admin['id']}", admin["key"])
        assert last.status_code == 409 and "last admin key" in last.json()["detail"]
        assert live.call("DELETE", f"/v1/keys/{viewer['id']}", admin["key"]).status_code == 200
        assert live.call("DELETE", f"/v1/keys/{admin['id']}", admin["key"]).status_code == 200
        assert live.call("GET", "/v1/models").status_code == 200  # no key left: open again


def test_bad_key_requests_say_what_is_wrong(tmp_path: Path) -> None:
    with serve(tmp_path, CONFIG) as live:
        for body, message in (
            ({"role": "viewer"}, "'name': a key holder's name must be a word"),
            ({"name": "vigil", "role": "viewer"}, "'name': 'vigil' is the name Vigil itself acts under"),
            ({"name": "carol", "role": "owner"}, "'role' must be one of viewer, editor, admin, ingest"),
        ):
            answer = live.call("POST", "/v1/keys", ADMIN, json=body)
            assert answer.status_code == 422 and message in answer.json()["error"], answer.text
        config_key = live.call("GET", "/v1/keys", ADMIN).json()["keys"][0]
        assert config_key["id"].startswith("config-") and ADMIN not in config_key["id"]
        kept = live.call("DELETE", f"/v1/keys/{config_key['id']}", ADMIN)
        assert kept.status_code == 409 and "remove it from security.api_keys" in kept.json()["detail"]
