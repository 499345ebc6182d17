"""The README's `vigil sop` example is what `vigil sop` prints for the config shown beside it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.procedure.conftest import checked, mermaid_parse
from vigil.procedure import render

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
SECTION = README.split("### The procedure as a diagram: `vigil sop`", 1)[1].split("\n## ", 1)[0]


def _block(kind: str) -> str:
    found = re.findall(rf"^```{kind}\n(.*?)^```$", SECTION, re.M | re.S)
    assert len(found) == 1, kind
    return str(found[0])


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", "k")
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/x")
    return _block("yaml")


def test_the_mermaid_excerpt_is_taken_from_the_real_output(example: str) -> None:
    drawn = set(render(checked(example, "sop-example.yaml"), "mermaid").splitlines())
    excerpt = _block("mermaid").splitlines()
    assert excerpt[0] == "flowchart LR" and len(excerpt) > 20
    assert [line for line in excerpt if line not in drawn] == []


def test_the_path_in_words_is_the_real_answer(example: str) -> None:
    command, *answer = _block("text").splitlines()
    alert = command.split("--alert '", 1)[1].rstrip("'")
    assert "\n".join(answer) + "\n" == render(checked(example, "sop-example.yaml"), "text", [alert])


def test_the_excerpt_is_mermaid_on_its_own() -> None:
    assert mermaid_parse([_block("mermaid")])[0]["ok"] is True
