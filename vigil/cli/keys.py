"""``vigil keys``: the API keys of a running server (an admin's key needed), and a key's SHA-256 for
vigil.yaml::

    vigil keys list
    vigil keys create NAME --role viewer|editor|admin|ingest
    vigil keys revoke ID
    vigil keys hash            (reads a key from standard input: no server needed)

Options, times and errors as ``vigil.cli.client`` describes them.
"""

from __future__ import annotations

import hashlib
import sys

import click

from vigil.cli.client import Api, api_path, connected, echo_json, json_option, table_text, when_text
from vigil.errors import InputError

__all__ = ["keys"]

_ROLES = ("viewer", "editor", "admin", "ingest")


@click.group("keys")
def keys() -> None:
    """API keys: list, create (shown once), revoke; hash one for vigil.yaml."""


@keys.command("list")
@json_option
@connected
def list_keys(api: Api, as_json: bool) -> None:
    """Every key the server accepts, the config's first: holder, role, when made and last used."""
    data = api.json("GET", "/v1/keys")
    if as_json:
        echo_json(data)
        return
    found = [k for k in data.get("keys") or [] if isinstance(k, dict)]
    if not found:
        click.echo("no keys: the API is open (vigil keys create NAME --role admin makes the first)")
        return
    now = api.clock()
    rows = [
        (k.get("id"), k.get("name") or "-", k.get("role"), k.get("source"),
         when_text(k.get("created_at"), now), when_text(k.get("last_used"), now))
        for k in found
    ]  # fmt: skip
    click.echo(table_text(["ID", "NAME", "ROLE", "SOURCE", "CREATED", "LAST USED"], rows))


@keys.command("create")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(_ROLES), help="What the key may do.")
@json_option
@connected
def create_key(api: Api, name: str, role: str, as_json: bool) -> None:
    """Make a key for NAME (who Vigil records as acting with it); it is printed this once."""
    made = api.json("POST", "/v1/keys", body={"name": name, "role": role})
    if as_json:
        echo_json(made)
        return
    click.echo(made.get("key"))
    click.echo(
        f"key {made.get('id')} for {made.get('name')} ({made.get('role')}): shown this once, keep it now",
        err=True,
    )


@keys.command("revoke")
@click.argument("id")
@connected
def revoke_key(api: Api, id: str) -> None:
    """Revoke key ID: refused from the next request on, with every session signed in with it."""
    gone = api.json("DELETE", api_path("v1", "keys", id))
    click.echo(f"revoked key {gone.get('id')} of {gone.get('name') or 'nobody'} ({gone.get('role')})")


@keys.command("hash")
def hash_key() -> None:
    """Print the SHA-256 of the key on standard input, for ``{name: NAME, sha256: "..."}`` in vigil.yaml."""
    typed = sys.stdin.isatty()
    given = click.prompt("key", hide_input=True) if typed else sys.stdin.read().rstrip("\r\n")
    if not given:
        raise InputError("give the key on standard input (for example: vigil keys hash < key.txt)")
    # vigil.spec.security.key_digest, without importing pydantic into every CLI start
    click.echo(hashlib.sha256(given.encode("utf-8", "surrogateescape")).hexdigest())
