"""Source places any section's problems at file:line:col, tagged unions included (one model per kind)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from typing import Annotated, Literal

import pytest
from pydantic import Field, ValidationError

from vigil.config.source import Source
from vigil.errors import Issue
from vigil.spec import Duration, Section, check


class _Threshold(Section):
    kind: Literal["threshold"]
    metric: str
    warning: Annotated[float, Field(gt=0)] | None = None
    critical: Annotated[float, Field(gt=0)] | None = None

    @check("warning", "critical")
    def _ordered(self) -> Iterator[Issue]:
        if self.warning is not None and self.critical is not None and self.warning > self.critical:
            yield Issue("warning is above critical", "swap them", ("warning",))


class _Absent(Section):
    kind: Literal["absent"]
    after: Duration


class _Rules(Section):
    rules: list[Annotated[_Threshold | _Absent, Field(discriminator="kind")]] = Field(default_factory=list)


TEXT = """\
rules:
  - kind: threshold
    metric: latency_p95
    warning: 900
    critical: 500
    critcal: 700
  - kind: absent
    after: soon
  - kind: threshold
    metric: error_rate
    warning: -1
"""


def test_problems_of_a_tagged_union_are_placed_and_explained() -> None:
    source = Source.compose(TEXT, "vigil.yaml")
    with pytest.raises(ValidationError) as caught:
        _Rules.model_validate(source.data)
    source.report(caught.value, _Rules)
    found = [(p.line, p.column, p.path, p.message, p.hint) for p in source.sorted_problems()]
    assert found == [
        (4, 14, "rules[0].warning", "warning is above critical", "swap them"),
        (
            6,
            5,
            "rules[0].critcal",
            "unknown key 'critcal'",
            "did you mean 'critical'? (allowed keys: kind, metric, warning, critical)",
        ),
        (8, 12, "rules[1].after", "not a duration: 'soon'", "write it like 30s, 1m, 2h, 7d or 1w"),
        (11, 14, "rules[2].warning", "must be > 0 (got -1)", "use a value with 0 < warning"),
    ]


def test_a_section_read_from_inside_the_file_is_placed_under_its_key() -> None:
    text = textwrap.dedent(
        """\
        version: 1
        alerting:
          after: 0
        """
    )
    source = Source.compose(text, "vigil.yaml")
    with pytest.raises(ValidationError) as caught:
        _Absent.model_validate({"kind": "absent", **source.data["alerting"]})
    source.report(caught.value, _Absent, at=("alerting",))
    (problem,) = source.problems
    assert (problem.line, problem.column, problem.path, problem.message) == (
        3,
        10,
        "alerting.after",
        "not a duration: 0",
    )
