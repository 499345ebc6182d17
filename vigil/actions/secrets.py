"""Keeping an action's secrets out of what Vigil shows: its API answers, run records, audit log and logs.

>>> shown_url("https://deploy:pw@deploy.example.com:8443/hooks/T0/XYZ?token=abc")
'https://deploy.example.com:8443/…'
>>> sorted(url_secrets("https://deploy:pw@deploy.example.com/hooks?token=abc&x=1"))
['1', 'ZGVwbG95OnB3', 'abc', 'pw']
>>> mask("answered 401: bad token abc-123", {"abc-123"})
'answered 401: bad token ***'
"""

from __future__ import annotations

import base64
import re
from collections.abc import Collection, Iterator
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = ["HIDDEN", "MASK", "env_refs", "mask", "shown_url", "url_secrets"]

HIDDEN = "(hidden)"
"""What an API answer shows instead of a header value or a token."""
MASK = "***"
"""What replaces a secret found in a text (an error message, a response body)."""
_MIN_SECRET = 4
"""Shorter values are not masked in texts: they would mangle them and guard nothing."""
_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def shown_url(url: str) -> str:
    """``url`` as it may be shown: scheme, host and port only (paths such as a Slack hook's, user info and
    query strings can carry secrets); ``…`` marks that more was there."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return HIDDEN
    if ":" in host:
        host = f"[{host}]"
    origin = f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")
    rest = parts.path.strip("/") or parts.query or parts.fragment
    return f"{origin}/…" if rest else origin


def url_secrets(url: str) -> set[str]:
    """The parts of ``url`` that may be secrets: its password (as written, and as the Basic credentials
    an HTTP client makes of it) and its query values."""
    try:
        parts = urlsplit(url)
        user, password = unquote(parts.username or ""), unquote(parts.password or "")
    except ValueError:
        return {url}
    found = {password, base64.b64encode(f"{user}:{password}".encode()).decode()} if password else set()
    found.update(value for _, value in parse_qsl(parts.query) if value)
    return found


def env_refs(written: Any) -> Iterator[str]:
    """The names of the environment variables that ``${NAME}`` refers to anywhere in ``written`` (text,
    or mappings and lists of it)."""
    if isinstance(written, str):
        yield from _REF.findall(written)
    elif isinstance(written, dict):
        for value in written.values():
            yield from env_refs(value)
    elif isinstance(written, list | tuple):
        for value in written:
            yield from env_refs(value)


def mask(text: str, secrets: Collection[str]) -> str:
    """``text`` with every secret of at least four characters replaced by ``***`` (longest first)."""
    for secret in sorted((s for s in secrets if len(s) >= _MIN_SECRET), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
