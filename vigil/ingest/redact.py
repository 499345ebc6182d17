"""PII handling before anything is stored.

* Fields declared ``role: pii`` become a keyed HMAC-SHA256 pseudonym (``pii:`` + 32 hex digits), stable
  for a given key, so a value can still be counted and joined but not read back; or they are dropped
  (``redact: drop``, and always when no ``security.pii_key`` is configured).
* Free text is scrubbed: e-mail addresses, card numbers, IP addresses and phone numbers become ``[EMAIL]``,
  ``[CARD]``, ``[IP]`` and ``[PHONE]``. By default (``models.NAME.scrub: true``) that is every ``error``
  text, an LLM's completions (``prediction``) and prompts (its string features), and every feature declared
  ``type: text``; a feature's own ``scrub: true|false`` overrides the default.

What is recognised, and how:

* e-mail: a dot-atom or quoted local part (any letters, accented too) ``@`` a domain of any script (or an
  IP literal); also the ``name [at] example [dot] com`` form;
* cards: 13–19 digits starting 2–6, written together or in groups split by spaces, dots, dashes or
  underscores (up to three, as in ``4111 - 1111``), that pass the Luhn check (order numbers and other ids
  mostly do not);
* IP addresses: IPv4, and IPv6 in every form Python's ``ipaddress`` reads (compressed, IPv4-mapped, with a
  zone), also straight after a label (``ip:2001:db8::1``);
* phones: a number written with a country code (``+44 …``, ``0044 …``) that libphonenumber (Google's
  phone number library, through the ``phonenumbers`` package) finds possible for that country; a
  national number (7–15 digits) written like one: digit groups split by spaces, dots, dashes or slashes,
  an area code in parentheses, a leading trunk ``0``, or any digit run right after a word such as
  ``call``, ``phone`` or ``tel``. Dates, times, versions, amounts and bare digit runs (order numbers,
  timestamps) are left alone.

>>> scrub("mail jo@example.com or +44 20 7946 0958, card 4111 1111 1111 1111, host 10.0.0.1")
'mail [EMAIL] or [PHONE], card [CARD], host [IP]'
>>> scrub("order 1234 5678 9012 3456")  # fails the Luhn check: not a card
'order 1234 5678 9012 3456'
>>> scrub("shipped 2026-11-21, order 123456789, call 020 7946 0958, ip:2001:db8::1")
'shipped 2026-11-21, order 123456789, call [PHONE], ip:[IP]'
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Callable, Collection, Mapping

import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc

from vigil.spec import ModelSpec

__all__ = ["Redactor", "luhn_ok", "pseudonym", "scrub", "scrub_array"]

_LOCAL = r"""(?:[\w!#$%&'*+/=?^`{|}~-]{1,64}(?:\.[\w!#$%&'*+/=?^`{|}~-]{1,64}){0,8}|"[^"\r\n]{1,64}")"""
_DOMAIN = (
    r"(?:(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.){1,8}(?:[^\W\d_]{2,63}|xn--[0-9a-z-]{1,59})"  # any script
    r"|\[[0-9A-Fa-f:.]+\])"  # an IP literal
)
_START = r"(?=[\w!#$%&'*+/=?^`{|}~\"-])(?<![\w!#$%&'*+/=?^`{|}~.\"-])"  # a token's first character
_EMAIL = re.compile(rf"{_START}{_LOCAL}@{_DOMAIN}(?![\w-])")
_AT = re.compile(
    r"(?=[\w+-])(?<![\w.])[\w.+-]{1,64}\s?[\[(]at[\])]\s?[\w-]{1,63}(?:\s?(?:[\[(]dot[\])]|\.)\s?[\w-]{1,63}){1,8}",
    re.IGNORECASE,
)
_AT_WORD = re.compile(r"[\[(]at[\])]", re.IGNORECASE)
_CARD = re.compile(r"(?=\d)(?<![^\W_])(?<![+.,-])\d(?:[ ._-]{0,3}\d){12,18}(?![^\W_]|[.,_-]?\d)")
_IPV4 = re.compile(r"(?=\d)(?<![^\W_])(?<![.])(?:\d{1,3}\.){3}\d{1,3}(?![^\W_]|\.\d)")
_IPV6 = re.compile(
    r"(?=[0-9A-Fa-f:])(?<![0-9A-Fa-f:.])(?:[0-9A-Fa-f]{0,4}:){2,8}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4})(?:%[\w.-]{1,32})?"
)
_PHONE = re.compile(
    r"""(?=[\d+($€£¥₹])(?:                                         # (a fast start: most text is words)
        (?P<keep>
            (?<![\w.])\d{4}[-./]\d{1,2}[-./]\d{1,2}(?!\w)            # 2026-11-21
          | (?<![\w.])\d{1,2}[-./]\d{1,2}[-./]\d{2,4}(?!\w)          # 21/11/2026, 21.11.26
          | (?<![\w.:])\d{1,2}:\d{2}(?::\d{2})?(?![\w:])             # 10:30:45
          | (?<![\w.,])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\w,]|\.\d)    # 1,234,567.89
          | (?<![\w.,])\d{1,3}(?:\.\d{3})+,\d+(?![\w.,])             # 1.234.567,89
          | [$€£¥₹]\s?\d[\d.,']*\d                                   # $ 1234.50
        )
      | (?P<phone>(?<![\w+/.,-])(?:(?:\+|(?<!\d)00)[ ]?)?\(?\d[\d \u00a0().\-/]{4,24}\d(?![\w/]|[.,]\d))
    )""",
    re.VERBOSE,
)
_CALLED = re.compile(
    r"(?:phone|tel|telephone|call|mobile|cell|fax|whatsapp|sms|dial|ring|telefon|téléphone|móvil|handy)"
    r"\W{0,4}$",
    re.IGNORECASE,
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
    if 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_ok(digits):
        return "[CARD]"
    return match.group()


def _ipv4(match: re.Match[str]) -> str:
    return "[IP]" if all(int(p) <= 255 for p in match.group().split(".")) else match.group()


def _ipv6(match: re.Match[str]) -> str:
    """The longest IPv6 address in a run of hex digits, colons and dots (a label such as ``ip:`` cut off
    before it); the run unchanged when it holds none (times, MAC addresses, ``std::``)."""
    text = match.group()
    attached = match.start() > 0 and match.string[match.start() - 1].isalnum()
    starts = [0, *(i + 1 for i, ch in enumerate(text) if ch == ":" and i + 1 < len(text))]
    for start in starts:
        if start == 0 and attached:
            continue
        for end in (len(text), len(text.rstrip(":."))):
            candidate = text[start:end]
            if candidate.count(":") < 2 or not any(ch.isdigit() for ch in candidate.split("%")[0]):
                continue
            try:
                ipaddress.IPv6Address(candidate)
            except ValueError:
                continue
            if sum(1 for part in re.split(r"[:.]", candidate.split("%")[0]) if part) < 2:
                continue  # "::1"-like: a loopback, not a person's address
            return f"{text[:start]}[IP]{text[end:]}"
    return text


def _phone(match: re.Match[str]) -> str:
    text = match.group("phone")
    if text is None:
        return match.group()
    text = text.strip()
    digits = re.sub(r"\D", "", text)
    if text.startswith(("+", "00")):
        number = "+" + (digits[2:] if text.startswith("00") else digits)
        try:
            parsed = phonenumbers.parse(number, None)
        except phonenumbers.NumberParseException:
            return match.group()
        return "[PHONE]" if phonenumbers.is_possible_number(parsed) else match.group()
    if not 7 <= len(digits) <= 15:
        return match.group()
    groups = re.split(r"[^\d]+", text.strip("()"))
    if len(groups[-1]) < 2:  # 2.10.300.4: a version, not a number
        return match.group()
    grouped = len([g for g in groups if g]) > 1 or "(" in text
    trunk = len(groups) == 1 and text[0] == "0" and text[1:2] != "0" and 9 <= len(digits) <= 11
    called = bool(_CALLED.search(match.string[max(0, match.start() - 24) : match.start()]))
    return "[PHONE]" if grouped or trunk or called else match.group()


def _emails(text: str) -> str:
    return _AT.sub("[EMAIL]", _EMAIL.sub("[EMAIL]", text))


_PASSES: tuple[tuple[str, Callable[[str], str]], ...] = (
    (r"@|(?i:[\[(]at[\])])", _emails),
    (r":[0-9A-Fa-f]{0,4}:", lambda text: _IPV6.sub(_ipv6, text)),
    (r"\p{Nd}\.\p{Nd}{1,3}\.\p{Nd}{1,3}\.\p{Nd}", lambda text: _IPV4.sub(_ipv4, text)),
    (r"\p{Nd}(?:[ ._-]{0,3}\p{Nd}){12}", lambda text: _CARD.sub(_card, text)),
    (r"\p{Nd}(?:[ \x{a0}().\-/]{0,24}\p{Nd}){6}", lambda text: _PHONE.sub(_phone, text)),
)
"""Each pass, in order, with what any text it changes contains (an RE2 pattern, ``\\p{Nd}`` being Python's
``\\d``: Arrow finds the rows of a column worth the pass without a Python loop)."""


def scrub(text: str) -> str:
    """Replace e-mails, card numbers, IP addresses and phone numbers in ``text`` (see the module doc)."""
    for _, apply in _PASSES:
        text = apply(text)
    return text


def scrub_array(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    """``scrub`` over a column of text, the same result: each pass only over the values Arrow finds could
    hold its item (most hold none), each distinct one once."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    values = values.cast(pa.string())
    if values.null_count == len(values):
        return values
    for candidate, apply in _PASSES:
        hit = pc.fill_null(pc.match_substring_regex(values, candidate), False)
        if not pc.any(hit).as_py():
            continue
        distinct = pc.unique(values.filter(hit))
        done = pa.array([apply(v) for v in distinct.to_pylist()], pa.string())
        if not done.equals(distinct):
            values = pc.if_else(hit, pc.take(done, pc.index_in(values, value_set=distinct)), values)
    return values


def pseudonym(key: bytes, value: object) -> str:
    """A stable, keyed stand-in for ``value``: ``pii:`` + the first 32 hex digits of HMAC-SHA256."""
    return "pii:" + hmac.new(key, str(value).encode("utf-8"), hashlib.sha256).hexdigest()[:32]


class Redactor:
    """What to do with each field of one model: pseudonymise, drop, or scrub.

    ``scrubbed`` fields are scrubbed, ``kept`` ones never; with ``others`` every other text field is
    scrubbed too. ``prediction`` and ``error`` say whether those texts are.
    """

    def __init__(
        self,
        key: str | None,
        pii: Mapping[str, str],
        scrubbed: Collection[str],
        *,
        kept: Collection[str] = (),
        others: bool = False,
        prediction: bool = False,
        error: bool = False,
    ) -> None:
        self._key = key.encode("utf-8") if key else None
        self._drop = {name for name, how in pii.items() if how == "drop" or self._key is None}
        self._hash = {name for name in pii if name not in self._drop}
        self._scrub = set(scrubbed) - set(pii)
        self._kept = set(kept) | set(pii)
        self._others = others
        self.prediction = prediction
        self.error = error

    @classmethod
    def for_model(cls, spec: ModelSpec, key: str | None) -> Redactor:
        """The redaction ``spec`` declares (see the module docstring for the defaults)."""
        on, llm = spec.scrub, spec.task == "llm"
        pii = {n: s.redact for n, s in spec.features.items() if s.role == "pii"}
        scrubbed: set[str] = set()
        kept: set[str] = set()
        for name, s in spec.features.items():
            text = s.type == "text" or (llm and s.type is None and s.role not in ("id", "timestamp"))
            (scrubbed if s.scrub or (s.scrub is None and on and text) else kept).add(name)
        return cls(key, pii, scrubbed, kept=kept, others=on and llm, prediction=on and llm, error=on)

    def scrubs(self, name: str) -> bool:
        return name in self._scrub or (self._others and name not in self._kept)

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
        if self.scrubs(name) and pa.types.is_string(values.type):
            return scrub_array(values)
        return values
