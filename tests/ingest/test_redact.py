"""PII scrubbing against a corpus of the formats people write (and of look-alikes that must survive), and
the column form that ingest uses agreeing with the one-value form."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.ingest.redact import scrub

EMAILS = [
    "jo@example.com",
    "jo.smith+tag@mail.example.co.uk",
    "JO.SMITH@EXAMPLE.COM",
    "josé.garcía@correo.es",
    "müller@bücher.de",
    '"john doe"@example.com',
    '"very.(unusual)@odd"@example.com',
    "user_name-1@sub-domain.example.org",
    "o'brien@example.ie",
    "jo@example.museum",
    "jo@[192.168.0.1]",
    "用户@例子.广告",
    "иван@пример.рф",
    "jo@xn--bcher-kva.de",
    "jo [at] example [dot] com",
    "jo(at)example.com",
]
CARDS = [
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "4111111111111111",
    "4111.1111.1111.1111",
    "4111  1111  1111  1111",
    "4111_1111_1111_1111",
    "4111 - 1111 - 1111 - 1111",
    "5500 0000 0000 0004",
    "2223 0000 4841 0010",
    "3782 822463 10005",
    "6011 1111 1111 1117",
    "3530 1113 3330 0000",
    "4222222222222",
]
IPS = [
    "10.0.0.1",
    "192.168.10.20",
    "8.8.8.8",
    "2001:db8::8a2e:370:7334",
    "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
    "2001:DB8::1",
    "fe80::1%eth0",
    "::ffff:192.0.2.128",
    "64:ff9b::192.0.2.33",
    "2001:db8:0:0:1:0:0:1",
    "2001:db8::ff00:42:8329",
]
PHONES = [
    "+44 20 7946 0958",
    "+1 (415) 555-0100",
    "+1-202-555-0143",
    "+1.202.555.0143",
    "+33 1 23 45 67 89",
    "+49 30 12345678",
    "+91 98765 43210",
    "+81 3-1234-5678",
    "+86 138 0013 8000",
    "+55 11 91234-5678",
    "+7 495 123-45-67",
    "+353 1 234 5678",
    "+61 2 9876 5432",
    "+34 612 34 56 78",
    "+442079460958",
    "0044 20 7946 0958",
    "+44 (0)20 7946 0958",
    "(555) 123-4567",
    "555-123-4567",
    "555.123.4567",
    "020 7946 0958",
    "06 12 34 56 78",
    "(02) 9876 5432",
    "030/1234567",
    "07700900123",
]
TAGS = {"EMAIL": EMAILS, "CARD": CARDS, "IP": IPS, "PHONE": PHONES}
CORPUS = [(value, tag) for tag, values in TAGS.items() for value in values]

IN_CONTEXT = {
    "ip:2001:db8::1": "ip:[IP]",
    "ipv6=2001:db8::1, then": "ipv6=[IP], then",
    "[2001:db8::1]:443": "[[IP]]:443",
    "2001:db8::1/64": "[IP]/64",
    "from 10.0.0.1.": "from [IP].",
    "host 10.0.0.1:8080": "host [IP]:8080",
    "net 203.0.113.0/24": "net [IP]/24",
    "ip:172.16.254.1": "ip:[IP]",
    "card:4111111111111111,": "card:[CARD],",
    "<jo@example.com>": "<[EMAIL]>",
    "mailto:jo@example.com?subject=hi": "mailto:[EMAIL]?subject=hi",
    "call 4155550100 now": "call [PHONE] now",
    "tel: 4155550100": "tel: [PHONE]",
    "Mobile:07700 900123.": "Mobile:[PHONE].",
    "write to jo@example.com or +44 20 7946 0958 (after 6pm)": "write to [EMAIL] or [PHONE] (after 6pm)",
    "Kontakt: müller@bücher.de, Tel. 030 12345678": "Kontakt: [EMAIL], Tel. [PHONE]",
}

SURVIVE = [
    "order 123456789",
    "order #A-1234567",
    "ref 98765432",
    "ticket 4421",
    "ORD-20261121",
    "created 1700000000",
    "1234 5678 9012 3456",  # fails the Luhn check
    "shipped 2026-11-21",
    "due 21/11/2026",
    "due 21.11.2026",
    "due 11/21/26",
    "at 2026-11-21T10:30:00Z",
    "2026/11/21 10:30",
    "at 10:30:45",
    "between 09:00 and 17:30",
    "v1.2.3",
    "numpy 1.26.4",
    "version 2.10.300.4",
    "$1,234,567.89",
    "€1.234.567,89",
    "£ 1234.50",
    "1,000,000 rows",
    "USD 12,345.67",
    "99.95% of 10,000 requests",
    "ISBN 978-3-16-148410-0",
    "mac 00:1a:2b:3c:4d:5e",
    "std::vector<int> and a::b",
    "id 123e4567-e89b-12d3-a456-426614174000",
    "sha 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "lat 52.5200, lon 13.4050",
    "room 101, floor 3, ext 1234",
    "look at example dot com",
    "ratio 1:2:3",
    "the user said @here twice",
    "score 0.8731 after 12 epochs",
]


def test_the_corpus_is_large() -> None:
    assert len(CORPUS) >= 60 and len(SURVIVE) >= 30


@pytest.mark.parametrize(("value", "tag"), CORPUS)
def test_each_format_is_replaced(value: str, tag: str) -> None:
    assert scrub(value) == f"[{tag}]"
    assert scrub(f"see {value} here") == f"see [{tag}] here"


@pytest.mark.parametrize(("text", "want"), IN_CONTEXT.items())
def test_in_context(text: str, want: str) -> None:
    assert scrub(text) == want


@pytest.mark.parametrize("text", SURVIVE)
def test_look_alikes_survive(text: str) -> None:
    assert scrub(text) == text


def test_the_column_form_agrees_with_the_one_value_form() -> None:
    from vigil.ingest.redact import scrub_array

    texts = [*(f"x {v} y" for v, _ in CORPUS), *SURVIVE, *IN_CONTEXT, None, "", "plain words", SURVIVE[0]]
    column = pa.chunked_array([texts[:40], texts[40:]], pa.string())
    assert scrub_array(column).to_pylist() == [None if t is None else scrub(t) for t in texts]
    untouched = pa.array(["no digits at all", None, "still none"], pa.string())
    assert scrub_array(untouched).to_pylist() == untouched.to_pylist()


_PIECES = st.text(alphabet="0123456789٣ .-_:/()+@[]atxf\u00a0", max_size=40)  # what items are made of


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.text(max_size=40), _PIECES, st.sampled_from([v for v, _ in CORPUS])),
        max_size=30,
    )
)
def test_the_column_form_agrees_on_any_text(texts: list[str | None]) -> None:
    from vigil.ingest.redact import scrub_array

    got = scrub_array(pa.array(texts, pa.string())).to_pylist()
    assert got == [None if t is None else scrub(t) for t in texts]
