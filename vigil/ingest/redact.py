"""PII handling before anything is stored.

* Fields declared ``role: pii`` become a keyed HMAC-SHA256 pseudonym (``pii:`` + 32 hex digits), stable
  for a given key, so a value can still be counted and joined but not read back; or they are dropped
  (``redact: drop``, and always when no ``security.pii_key`` is configured).
* Free text marked ``scrub: true`` has e-mail addresses, card numbers (13–19 digits passing the Luhn
  check, so order numbers survive), IPv4/IPv6 addresses and phone numbers replaced by ``[EMAIL]``,
  ``[CARD]``, ``[IP]`` and ``[PHONE]``.

>>> scrub("mail jo@example.com or +44 20 7946 0958, card 4111 1111 1111 1111, host 10.0.0.1")
'mail [EMAIL] or [PHONE], card [CARD], host [IP]'
>>> scrub("order 1234 5678 9012 3456")  # fails the Luhn check: not a card
'order 1234 5678 9012 3456'
>>> scrub("shipped 2026-11-21, order 123456789, call 020 7946 0958")
'shipped 2026-11-21, order 123456789, call [PHONE]'
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Mapping

import pyarrow as pa

__all__ = ["Redactor", "luhn_ok", "pseudonym", "scrub"]

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6 = re.compile(r"(?<![:\w])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![:\w])")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){2,4}(?!\w)"
)


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum of a card number (digits only)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "[CARD]" if 13 <= len(digits) <= 19 and luhn_ok(digits) else match.group()


def _ipv4(match: re.Match[str]) -> str:
    return "[IP]" if all(int(p) <= 255 for p in match.group().split(".")) else match.group()


def _ipv6(match: re.Match[str]) -> str:
    try:
        ipaddress.IPv6Address(match.group())
    except ValueError:
        return match.group()
    return "[IP]"


_DATE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}")


def _phone(match: re.Match[str]) -> str:
    """A phone number has 7-15 digits and is written like one: a leading + or a (area code), or digit
    groups split by spaces, dots or dashes. Bare digit runs (order numbers) and dates are left alone."""
    text = match.group()
    digits = sum(ch.isdigit() for ch in text)
    written_like_one = text.startswith("+") or "(" in text or bool(re.search(r"\d[ .-]\d", text))
    if not 7 <= digits <= 15 or not written_like_one or _DATE.fullmatch(text.strip()):
        return text
    return "[PHONE]"


def scrub(text: str) -> str:
    """Replace e-mails, Luhn-valid card numbers, IP addresses and phone numbers in ``text``."""
    text = _EMAIL.sub("[EMAIL]", text)
    text = _CARD.sub(_card, text)
    text = _IPV4.sub(_ipv4, text)
    text = _IPV6.sub(_ipv6, text)
    return _PHONE.sub(_phone, text)


def pseudonym(key: bytes, value: object) -> str:
    """A stable, keyed stand-in for ``value``: ``pii:`` + the first 32 hex digits of HMAC-SHA256."""
    return "pii:" + hmac.new(key, str(value).encode("utf-8"), hashlib.sha256).hexdigest()[:32]


class Redactor:
    """What to do with each field of one model: pseudonymise, drop, or scrub."""

    def __init__(self, key: str | None, pii: Mapping[str, str], scrubbed: set[str]) -> None:
        self._key = key.encode("utf-8") if key else None
        self._drop = {name for name, how in pii.items() if how == "drop" or self._key is None}
        self._hash = {name for name in pii if name not in self._drop}
        self._scrub = scrubbed

    @property
    def active(self) -> bool:
        return bool(self._drop or self._hash or self._scrub)

    def apply(self, values: Mapping[str, object]) -> Mapping[str, object]:
        """A redacted copy of one record's field map (features or segments)."""
        if not self.active or not values.keys() & (self._drop | self._hash | self._scrub):
            return values
        out: dict[str, object] = {}
        for name, value in values.items():
            if name in self._drop:
                continue
            if name in self._hash and value is not None and self._key is not None:
                out[name] = pseudonym(self._key, value)
            elif name in self._scrub and isinstance(value, str):
                out[name] = scrub(value)
            else:
                out[name] = value
        return out

    def scrubs(self, name: str) -> bool:
        return name in self._scrub

    def hashes(self, name: str) -> bool:
        """Whether ``name``'s values become pseudonyms (text, whatever type they were sent as)."""
        return name in self._hash and self._key is not None

    def column(self, name: str, values: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array | None:
        """One field's values across a batch, redacted: None when the field is dropped."""
        if name in self._drop:
            return None
        if name in self._hash and self._key is not None:
            key = self._key
            return pa.array(
                [None if v is None else pseudonym(key, v) for v in values.to_pylist()], pa.string()
            )
        if name in self._scrub and pa.types.is_string(values.type):
            return pa.array([None if v is None else scrub(v) for v in values.to_pylist()], pa.string())
        return values

    def text(self, name: str, value: str | None) -> str | None:
        """Scrub a top-level text field (``prediction`` of an LLM, ``error``) when it is marked."""
        return scrub(value) if value is not None and name in self._scrub else value
