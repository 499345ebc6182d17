"""What is declared about a monitored model (``models.NAME:``): owner, versions, baseline, windows,
retention."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from vigil.errors import Invalid, Issue, as_written
from vigil.spec.columns import ColumnSpec
from vigil.spec.fields import Duration, Section, check, config_folder

__all__ = ["TASKS", "Baseline", "Fairness", "ModelSpec", "Owner", "PredictionBaseline", "Retention", "Task"]

Task = Literal["binary", "multiclass", "regression", "llm"]
TASKS: tuple[str, ...] = get_args(Task)


class Owner(Section):
    """Who answers for a model (``models.NAME.owner:``)."""

    team: Annotated[str, StringConstraints(min_length=1)]
    contact: str | None = None
    """Where to reach them: an e-mail address, a chat channel, a pager handle."""


def _time_of(value: object) -> object:
    """A config time: ISO 8601 text or a datetime, UTC unless it says otherwise."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise Invalid(
                Issue(f"not a time: {as_written(value)}", "write it like 2026-10-01T00:00:00Z")
            ) from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return value


class PredictionBaseline(Section):
    """A production time range whose predictions and scores stand in for those a baseline file lacks
    (``baseline.predictions: {from:, to:}``)."""

    model_config = ConfigDict(populate_by_name=True)

    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")

    _times = field_validator("start", "end", mode="before")(_time_of)

    @check("start", "end")
    def _ordered(self) -> Iterator[Issue]:
        if self.start >= self.end:
            yield Issue("from: must come before to:", "give a range, from earlier than to", ("from",))


class Baseline(Section):
    """What a model's present is compared with: a file (training or validation data) or a production time
    range (``from``/``to``). A file without ``prediction``/``score`` columns can take its predictions from
    a production range (``predictions: {from:, to:}``).

    A relative ``file`` is read from the config file's folder; loaded from a file, the config checks that
    it is there."""

    model_config = ConfigDict(populate_by_name=True)

    file: str | None = None
    start: datetime | None = Field(default=None, alias="from")
    end: datetime | None = Field(default=None, alias="to")
    predictions: PredictionBaseline | None = None

    _times = field_validator("start", "end", mode="before")(_time_of)

    @field_validator("file")
    @classmethod
    def _file_exists(cls, value: str | None, info: ValidationInfo) -> str | None:
        folder = config_folder(info)
        if value is None or folder is None:
            return value
        path = folder / Path(value)
        if not path.exists():
            raise Invalid(
                Issue(
                    f"baseline file {as_written(value)} not found at {path.absolute()}",
                    "fix the path (a relative one starts at the config file's folder), or create the file",
                )
            )
        if not path.is_file():
            raise Invalid(
                Issue(f"baseline file {as_written(value)} is a folder ({path.absolute()})", "name a file")
            )
        return value

    @check("file", "start", "end")
    def _one_kind(self) -> Iterator[Issue]:
        has_range = self.start is not None or self.end is not None
        if (self.file is None) == (not has_range):
            yield Issue("give either file: or from: and to:", "choose one kind of baseline")
        elif has_range and (self.start is None or self.end is None or self.start >= self.end):
            yield Issue("from: must come before to:", "give both, from earlier than to")

    @check("file", "predictions")
    def _predictions_for_files(self) -> Iterator[Issue]:
        if self.predictions is not None and self.file is None:
            yield Issue(
                "predictions: applies to a baseline file; a time-range baseline already compares "
                "the predictions of its range",
                "remove predictions:, or use file: with it",
                ("predictions",),
            )


class Retention(Section):
    """How long each kind of data is kept (``models.NAME.retention:``)."""

    events: Duration = timedelta(minutes=5)
    """How long the ingest log keeps a batch after it was folded into windows (a margin for replays).
    Raw events live on as each window's sample, under the window retentions."""
    minutes: Duration = timedelta(days=2)
    hours: Duration = timedelta(days=30)
    days: Duration = timedelta(days=400)
    predictions: Duration = timedelta(days=30)
    """Predictions kept for joining late labels."""


class Fairness(Section):
    """The protected attributes a binary model's fairness is measured across (``models.NAME.fairness:``):
    each is one of the model's ``segments`` tags; groups with fewer than ``min_group`` labelled predictions
    are left out of the figures (and named)."""

    protected: tuple[Annotated[str, StringConstraints(min_length=1)], ...]
    min_group: Annotated[int, Field(ge=1)] = 30

    @field_validator("protected", mode="before")
    @classmethod
    def _list(cls, value: object) -> object:
        return tuple(value) if isinstance(value, list) else value

    @field_validator("protected")
    @classmethod
    def _some_once(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise Invalid(Issue("lists no attribute", "name the segment tags to compare, e.g. [gender]"))
        if len(set(value)) != len(value):
            raise Invalid(Issue("lists an attribute twice", "remove the repeat"))
        return value


class Spend(Section):
    """Cost and tokens per value of segment tags (``models.NAME.spend:``): each window keeps the ``top``
    costliest values of each tag in ``by`` exactly and the rest as "other", so that
    ``GET /v1/models/NAME/spenders?by=user`` and the ``top_spender_share`` metric can say who spends.
    OTLP spans give ``user`` (``user.id``, ``enduser.id``), ``feature`` (``app.feature``, ``http.route``),
    ``session`` and ``conversation``; SDK events give whatever segments they send."""

    by: tuple[str, ...] = ("user", "feature")
    top: Annotated[int, Field(ge=1, le=10_000)] = 100
    """Values kept exactly per tag and window (the rest are summed as "other")."""

    @field_validator("by", mode="before")
    @classmethod
    def _list(cls, value: object) -> object:
        return tuple(value) if isinstance(value, list) else value

    @field_validator("by")
    @classmethod
    def _once(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise Invalid(Issue("lists a tag twice", "remove the repeat"))
        for tag in value:
            if not _TAG.fullmatch(tag):
                raise Invalid(
                    Issue(
                        f"{as_written(tag)} is not a segment tag name",
                        "use letters, digits, '_', '.' or '-' (at most 64), e.g. user or feature",
                    )
                )
        return value


_TAG = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")


class ModelSpec(Section):
    """One monitored model (``models.NAME:``): an inference point declared as code."""

    task: Task
    owner: Owner
    environment: str = "production"
    versions: tuple[Annotated[str, StringConstraints(min_length=1)], ...] = ()
    """Known versions, oldest first; the one before ``live`` is the rollback target."""
    live: str | None = None
    description: str | None = None
    features: dict[str, ColumnSpec] = Field(default_factory=dict)
    segments: tuple[str, ...] = ()
    """The event ``segments`` tags this model's traffic is sliced by (shown in the registry)."""
    fairness: Fairness | None = None
    """Protected attributes (among ``segments``) whose groups' fairness is reported (binary models)."""
    baseline: Baseline | None = None
    spend: Spend = Field(default_factory=Spend)
    """Who spends: cost and tokens per user and feature (segment tags), top spenders exact."""
    window: Duration = timedelta(minutes=1)
    sampling_rate: Annotated[float, Field(gt=0, le=1)] = 1.0
    """Share of events profiled (the rest are counted in service metrics only)."""
    sample_size: Annotated[int, Field(ge=0, le=10_000)] = 100
    """Raw events kept per window for drill-down."""
    retention: Retention = Field(default_factory=Retention)
    high_impact: bool = False
    """Remediation actions on this model wait for a person's approval."""
    scrub: bool = True
    """Scrub free text at ingest (e-mail addresses, phone and card numbers, IP addresses): every ``error``,
    an LLM's completions and prompts, and features declared ``type: text``. ``false`` leaves them as sent
    (features marked ``scrub: true`` are still scrubbed)."""

    @field_validator("versions", "segments", mode="before")
    @classmethod
    def _list(cls, value: object) -> object:
        return tuple(value) if isinstance(value, list) else value

    @field_validator("features", mode="before")
    @classmethod
    def _empty_features(cls, value: object) -> object:
        if isinstance(value, dict):
            return {name: {} if spec is None else spec for name, spec in value.items()}
        return value

    @field_validator("versions")
    @classmethod
    def _versions_once(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise Invalid(Issue("lists a version twice", "remove the repeat"))
        return value

    @field_validator("window")
    @classmethod
    def _window_divides_a_day(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1) or timedelta(days=1) % value:
            raise Invalid(Issue("must divide a day evenly (at least 1s)", "use 10s, 1m, 5m, 15m or 1h"))
        return value

    @check("live", "versions")
    def _live_among_versions(self) -> Iterator[Issue]:
        if self.live is not None and self.versions and self.live not in self.versions:
            yield Issue(
                f"live version {as_written(self.live)} is not among versions {list(self.versions)}",
                "add it to versions, or fix the name",
                ("live",),
            )

    @check("fairness", "segments", "task")
    def _protected_among_segments(self) -> Iterator[Issue]:
        if self.fairness is None:
            return
        if self.task != "binary":
            yield Issue(
                f"fairness: applies to binary models (selection is a prediction of class 1), not {self.task}",
                "remove fairness:, or declare task: binary",
                ("fairness",),
            )
        for i, name in enumerate(self.fairness.protected):
            if name not in self.segments:
                yield Issue(
                    f"protected attribute {as_written(name)} is not among segments {list(self.segments)}",
                    f"add {name} to segments: (the tag events carry it in), or fix the name",
                    ("fairness", "protected", i),
                )

    @property
    def live_version(self) -> str:
        """The live version, else the newest declared, else ``"default"``."""
        return self.live or (self.versions[-1] if self.versions else "default")

    @property
    def previous_version(self) -> str | None:
        """The version before the live one: what a rollback goes to."""
        if not self.versions or self.live_version not in self.versions:
            return None
        i = self.versions.index(self.live_version)
        return self.versions[i - 1] if i > 0 else None
