"""``vigil keys`` against a real server on loopback: an admin makes, lists and revokes keys; a viewer's
key reads but is refused an edit with the role it needs; ``vigil keys hash`` gives what vigil.yaml takes."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from tests.server.live import Live, serve
from vigil.cli.main import main
from vigil.spec.security import key_digest

ADMIN = "ana-admin-k3y"
CONFIG = f"""
security: {{api_keys: {{admin: [{{name: ana, key: {ADMIN}}}]}}}}
models:
  m: {{task: binary, owner: {{team: risk}}, window: 1m}}
alerting:
  evaluate_every: 1h
  default_rules: false
"""


def _cli(live: Live, *args: str, key: str = ADMIN) -> Result:
    env = {"VIGIL_API_KEY": key, "VIGIL_USER": "ana", "COLUMNS": "100"}
    return CliRunner().invoke(main, [*args, "--url", live.url], obj=live.clock, env=env)


def test_an_admin_manages_keys_and_a_viewer_is_told_what_it_needs(tmp_path: Path) -> None:
    with serve(tmp_path, CONFIG) as live:
        made = _cli(live, "keys", "create", "carol", "--role", "viewer")
        assert made.exit_code == 0, made.output
        key = made.stdout.strip()
        assert key.startswith("vigil_") and "shown this once" in made.stderr
        listed = _cli(live, "keys", "list").stdout.splitlines()
        assert listed[0].split() == ["ID", "NAME", "ROLE", "SOURCE", "CREATED", "LAST", "USED"]
        assert [line.split()[1:4] for line in listed[1:]] == [
            ["ana", "admin", "config"],
            ["carol", "viewer", "api"],
        ]
        assert key not in "\n".join(listed)
        assert _cli(live, "silences", "list", key=key).exit_code == 0  # a viewer reads
        refused = _cli(live, "alerts", "silence", "model=m", "--duration", "1h", "--comment", "x", key=key)
        assert refused.exit_code == 2
        assert "needs the editor role (an editor or admin key); carol has the viewer role (HTTP 403)" in (
            refused.stderr
        )
        assert "ask an admin for a key with that role" in refused.stderr
        carol = listed[2].split()[0]
        gone = _cli(live, "keys", "revoke", carol)
        assert gone.stdout.strip() == f"revoked key {carol} of carol (viewer)"
        after = _cli(live, "silences", "list", key=key)
        assert after.exit_code == 2 and "unknown API key (HTTP 401)" in after.stderr


def test_hash_prints_what_the_config_takes() -> None:
    printed = CliRunner().invoke(main, ["keys", "hash"], input="a-long-random-key\n")
    assert printed.exit_code == 0 and printed.stdout.strip() == key_digest("a-long-random-key")
    empty = CliRunner().invoke(main, ["keys", "hash"], input="")
    assert empty.exit_code == 2 and "give the key on standard input" in empty.stderr
