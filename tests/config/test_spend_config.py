"""``models.NAME.spend:``: which segment tags cost is summed by and how many values are kept exactly; each
problem reported at its line with what to do."""

from __future__ import annotations

import textwrap

import pytest

from vigil.config import parse_config
from vigil.errors import ConfigError


def problems(text: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(ConfigError) as caught:
        parse_config(textwrap.dedent(text), "vigil.yaml")
    return [(p.line, p.path, p.message) for p in caught.value.problems]


def test_default_and_declared_spend() -> None:
    config = parse_config(
        "models:\n  a: {task: llm, owner: {team: t}}\n"
        "  b: {task: llm, owner: {team: t}, spend: {by: [tenant], top: 5}}\n"
    )
    a, b = config.models["a"].spend, config.models["b"].spend
    assert (a.by, a.top) == (("user", "feature"), 100)
    assert (b.by, b.top) == (("tenant",), 5)


def test_bad_spend_declarations_say_where_and_what() -> None:
    found = problems(
        """\
        models:
          a:
            task: llm
            owner: {team: t}
            spend:
              by: [user, user]
              top: 0
          b:
            task: llm
            owner: {team: t}
            spend: {by: ["user id"], topp: 3}
        """
    )
    paths = {path: (line, message) for line, path, message in found}
    assert paths["models.a.spend.by"][0] == 6 and "twice" in paths["models.a.spend.by"][1]
    assert paths["models.a.spend.top"][0] == 7 and "1" in paths["models.a.spend.top"][1]
    assert "'user id' is not a segment tag name" in paths["models.b.spend.by"][1]
    assert any("topp" in p or "topp" in m for p, (_, m) in paths.items()), found
