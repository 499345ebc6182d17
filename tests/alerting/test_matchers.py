from __future__ import annotations

import pytest

from vigil.alerting.fingerprint import fingerprint
from vigil.alerting.matchers import Matcher, MatcherError, MatchType, matches_all, parse_matcher


@pytest.mark.parametrize(
    ("text", "name", "op", "value"),
    [
        ('env="prod"', "env", MatchType.EQUAL, "prod"),
        ('env != "prod"', "env", MatchType.NOT_EQUAL, "prod"),
        ('env =~ "prod|staging"', "env", MatchType.REGEX, "prod|staging"),
        ('  env!~"dev.*"  ', "env", MatchType.NOT_REGEX, "dev.*"),
        ("severity=critical", "severity", MatchType.EQUAL, "critical"),
        ('team=""', "team", MatchType.EQUAL, ""),
        ('msg="say \\"hi\\" \\\\ bye"', "msg", MatchType.EQUAL, 'say "hi" \\ bye'),
        ('"model name"="fraud v2"', "model name", MatchType.EQUAL, "fraud v2"),
        ('region="eu-west-1"', "region", MatchType.EQUAL, "eu-west-1"),
    ],
)
def test_parse(text: str, name: str, op: MatchType, value: str) -> None:
    m = parse_matcher(text)
    assert (m.name, m.type, m.value) == (name, op, value)


def test_regex_is_fully_anchored() -> None:
    m = parse_matcher('env=~"prod|staging"')
    assert m.matches({"env": "prod"})
    assert m.matches({"env": "staging"})
    assert not m.matches({"env": "production"})
    assert not m.matches({"env": "preprod"})
    assert parse_matcher('env!~"prod|staging"').matches({"env": "production"})


def test_missing_label_is_the_empty_string() -> None:
    assert parse_matcher('team=""').matches({})
    assert not parse_matcher('team!=""').matches({})
    assert parse_matcher('team!="ml"').matches({})
    assert parse_matcher('team=~".*"').matches({})


def test_matches_all() -> None:
    ms = [parse_matcher('env="prod"'), parse_matcher('model=~"fraud-.*"')]
    assert matches_all(ms, {"env": "prod", "model": "fraud-v2"})
    assert not matches_all(ms, {"env": "prod", "model": "churn"})
    assert matches_all([], {})


def test_str_round_trips() -> None:
    for text in ['env="prod"', 'env!="a\\"b"', 'env=~"p.*"', 'env!~"x|y"']:
        assert str(parse_matcher(text)) == text
        assert parse_matcher(str(parse_matcher(text))) == parse_matcher(text)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("env", "expected <label><op>"),
        ('env=="prod"', "expected <label><op>"),
        ('env =~ "prod', "expected <label><op>"),
        ('="prod"', "expected <label><op>"),
        ('env=~"("', "invalid regex"),
        ('host="a\\.b"', "unknown escape"),
        ('""="x"', "label name is empty"),
    ],
)
def test_bad_matchers_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(MatcherError) as caught:
        parse_matcher(text)
    assert says in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_bad_regex_in_constructor() -> None:
    with pytest.raises(MatcherError, match="invalid regex"):
        Matcher("env", MatchType.REGEX, "[")


def test_fingerprint_is_stable_and_order_free() -> None:
    a = fingerprint({"alertname": "Drift", "model": "fraud"})
    assert a == fingerprint({"model": "fraud", "alertname": "Drift"})
    assert a != fingerprint({"alertname": "Drift", "model": "churn"})
    # no ambiguity between where names end and values start
    assert fingerprint({"ab": "c"}) != fingerprint({"a": "bc"})
    assert fingerprint({"a": "b", "c": ""}) != fingerprint({"a": "b"})
    # pinned: a change of the encoding changes every alert's identity
    assert fingerprint({}) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
