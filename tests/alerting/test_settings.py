"""The ``alerting:`` section: every problem in one run, each at its line; the receiver channels and the rule
kinds each registered once; receivers built from the section."""

from __future__ import annotations

import typing

import pytest

from vigil.alerting.notify import PagerDutyReceiver, SlackReceiver, WebhookReceiver
from vigil.alerting.notify.registry import CHANNELS, ReceiverConfig
from vigil.alerting.receivers import build_receivers
from vigil.alerting.rules import KINDS, RuleSpec, parse_rules
from vigil.alerting.settings import load_alerting
from vigil.config import parse_config
from vigil.errors import ConfigError

BAD = """\
alerting:
  evaluate_every: soon
  receivers:
    - {name: ops, webhook: http://alerts.example.com/hook}
    - {name: chat, slack: http://hooks.example.com/x, colour: red}
    - {name: pager}
  route:
    receiver: ops
    routes: [{matchers: ['severity=~"('], receiver: ops}]
  maintenance:
    - {name: vacuum, matchers: ['model="m"'], weekly: {days: [funday], start: "02:00", end: "04:00"}}
  retention: {history: forever}
"""


def test_every_problem_of_the_section_in_one_run_at_its_line() -> None:
    with pytest.raises(ConfigError) as info:
        load_alerting(parse_config(BAD), "vigil.yaml", BAD)
    found = {(p.path, p.line) for p in info.value.problems}
    assert found == {
        ("alerting.evaluate_every", 2),
        ("alerting.receivers[1].colour", 5),
        ("alerting.receivers[2]", 6),  # no channel
        ("alerting.route.routes[0].matchers[0]", 9),
        ("alerting.maintenance[0].weekly", 11),
        ("alerting.retention.history", 12),
    }, info.value.problems
    messages = " | ".join(p.message for p in info.value.problems)
    assert "unknown key 'colour'" in messages and "must name exactly one kind" in messages
    assert "not a week day: 'funday'" in messages and "not a duration: 'forever'" in messages


def test_routes_name_configured_receivers_and_receivers_are_built_in_order() -> None:
    text = "alerting:\n  receivers: [{name: ops, webhook: http://x}]\n  route: {receiver: opz}\n"
    with pytest.raises(ConfigError, match="did you mean 'ops'") as info:
        load_alerting(parse_config(text), "vigil.yaml", text)
    assert [(p.path, p.line) for p in info.value.problems] == [("alerting.route.receiver", 3)]
    # two receivers of one name would share one entry of the notification log: refused
    twice = (
        "alerting:\n  receivers:\n    - {name: ops, webhook: http://x}\n    - {name: ops, slack: http://y}\n"
    )
    with pytest.raises(ConfigError, match="a second receiver named 'ops'") as info:
        load_alerting(parse_config(twice), "vigil.yaml", twice)
    assert [(p.path, p.line) for p in info.value.problems] == [("alerting.receivers[1].name", 4)]
    settings = load_alerting(
        parse_config(
            """
alerting:
  external_url: https://vigil.example.com
  receivers:
    - {name: ops, webhook: http://alerts.example.com/hook}
    - {name: chat, slack: http://hooks.example.com/x}
    - {name: pager, pagerduty: key, events_url: http://127.0.0.1:9/v2/enqueue}
"""
        )
    )
    ops, chat, pager = build_receivers(settings)
    assert isinstance(ops, WebhookReceiver) and ops.external_url == "https://vigil.example.com"
    assert isinstance(chat, SlackReceiver) and chat.name == "chat"
    assert isinstance(pager, PagerDutyReceiver) and pager.url == "http://127.0.0.1:9/v2/enqueue"
    assert pager.client_url == "https://vigil.example.com"


def _members(union: object) -> set[type]:
    """The classes of an ``Annotated`` discriminated union (each possibly ``Annotated`` with its tag)."""
    inner = typing.get_args(union)[0]
    return {typing.get_args(m)[0] if typing.get_args(m) else m for m in typing.get_args(inner)}


def test_channels_and_rule_kinds_are_each_registered_once() -> None:
    assert _members(ReceiverConfig) == set(CHANNELS.values())
    assert all(key == config.CHANNEL for key, config in CHANNELS.items())
    assert _members(RuleSpec) == set(KINDS.values())
    assert all(kind.model_fields["kind"].default == key for key, kind in KINDS.items())


def test_an_unknown_metric_gets_a_did_you_mean() -> None:
    with pytest.raises(ConfigError) as info:
        parse_rules([{"name": "R", "metric": "eror_rate", "critical": 1}])
    (problem,) = info.value.problems
    assert "unknown metric 'eror_rate'" in problem.message
    assert problem.hint.startswith("did you mean 'error_rate'?"), problem.hint
