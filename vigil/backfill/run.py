"""A backfill from start to end: plan partitions, fix the template, profile on a Dask cluster, save each file.

Running the same backfill twice counts nothing twice. Each file's windows are saved under a writer of their
own, ``backfill:`` and a hash of the model, the version and the file's content, and in the same transaction
that writer's checkpoint is set to 1: "this file is in". A file whose writer has that checkpoint is skipped
(the same content under another name too); a run stopped half-way saved whole files only, and the next one
does the others. Queries merge the windows of every writer, as they merge those of several servers.

History goes where the live path would put it at the time of the backfill (``retention.placement``):
events within the minute windows' retention into the model's windows (rolled up later by the server, as
any), older ones straight into hour rows, those past the hours' retention into day rows; events past the
day rows' retention are refused, as ``vigil ingest`` would see them refused.

The predictions that carry a request id are kept for the label join, as the live path keeps them
(``vigil.backfill.predictions``): labels posted later for those request ids join them, and realised
metrics (accuracy, AUC, ...) come out for the backfilled windows. With ``label_column``, the files' labels
are stored too. A file's predictions and labels are stored before its windows and checkpoint, under keys
that make storing them again change nothing (the prediction batches by writer and number, a label by
request id), so a run stopped in between stores them again, once. Predictions older than the model's
``retention.predictions`` are not kept, nor their labels.

The template (column kinds, buckets) covers the first rows of every file, then a sample spread over each
(``partitions.head``, ``partitions.sample``), as the live path fixes a column's buckets from the first batch
that has it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vigil.backfill.partitions import Partition, head, plan, sample
from vigil.backfill.profiling import (
    Job,
    Profiled,
    Rollups,
    check_chunk,
    kept_of,
    merge,
    profile_partition,
    windows_of,
    writer_of,
)
from vigil.config import VigilConfig
from vigil.errors import InputError
from vigil.events import from_ipc
from vigil.ingest.files import check_types, records
from vigil.ingest.redact import Redactor
from vigil.monitoring.baselines import Baselines
from vigil.monitoring.folding import profiled
from vigil.monitoring.retention import DAY, HOUR, ROLLUP_WRITER
from vigil.monitoring.templates import Templates
from vigil.monitoring.window import WindowState
from vigil.registry import Registry
from vigil.schema import Event
from vigil.spec import ModelSpec
from vigil.stats.profile import Profile
from vigil.store.base import LabelRow, PredictionBatch, Store, WindowRow

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["Backfill", "FileResult", "local_client", "tree", "writer_of"]

DONE = 1
"""The checkpoint of a backfill writer whose file is in."""

LABELS = 50_000
"""Labels stored per transaction."""
_LABELS = ("request_id", "label", "ts")


@dataclass
class FileResult:
    path: str
    writer: str
    rows: int = 0
    accepted: int = 0
    windows: dict[int, int] = field(default_factory=dict)
    """Rows saved, by resolution (seconds)."""
    refused: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    skipped: str | None = None
    """Why the file was not profiled (in already)."""
    predictions: int = 0
    """Predictions kept for the label join."""
    labelled: int = 0
    """Labels of the file kept."""
    past: int = 0
    """Predictions with a request id older than ``retention.predictions``: not kept."""


class Backfill:
    """Backfills files of one model into ``store`` (see the module docstring). ``root``: where the config's
    relative paths (baseline files) are found; ``label_column``: the files' column of labels."""

    def __init__(
        self,
        config: VigilConfig,
        store: Store,
        model: str,
        *,
        version: str | None = None,
        root: Path | None = None,
        partition_rows: int = 250_000,
        clock: Callable[[], float] = time.time,
        label_column: str | None = None,
    ) -> None:
        self.store = store
        self.model = model
        self.version = version
        self.partition_rows = partition_rows
        self.clock = clock
        self.pii_key = config.security.pii_key
        self.registry = Registry(config, store)
        spec = self.registry.get(model)
        if spec is None:
            raise InputError(self.registry.unknown(model))
        self.spec: ModelSpec = spec
        if label_column is not None:
            if label_column in Event.model_fields or label_column.startswith("segment."):
                raise InputError(
                    f"label column {label_column!r} is an event field or a segment tag; "
                    "name the column of labels"
                )
            if label_column in spec.features:
                raise InputError(f"label column {label_column!r} is a declared feature of model {model!r}")
        self.label_column = label_column
        baselines = Baselines(self.registry, store, root)

        def baseline(name: str) -> Profile | None:
            try:
                return baselines.file_profile(name)
            except InputError:
                return None

        self.templates = Templates(store, baseline)

    def run(self, paths: list[str], client: Client, progress: bool = False) -> Iterator[FileResult]:
        """Backfill ``paths`` on ``client``'s Dask cluster; yields each file's result once it is saved."""
        from distributed import as_completed
        from distributed import progress as progress_bar

        todo = yield from self.pending(paths)
        if not todo:
            return
        shared = client.scatter(self.job(todo), broadcast=True)
        futures = {
            w: client.map(profile_partition, parts, job=shared, pure=False) for w, parts in todo.items()
        }
        if progress:
            progress_bar([f for fs in futures.values() for f in fs])
        # the reduce merges windows; each partition's predictions and labels go from its worker to this
        # client, one partition at a time, when its file is saved (no task holds a whole file's)
        reduced = {
            client.submit(
                tree, client.map(windows_of, fs, pure=False), key=f"backfill-reduce-{w}", pure=False
            ): w
            for w, fs in futures.items()
        }
        for future in as_completed(reduced):
            writer = reduced[future]
            kept = (client.submit(kept_of, f, pure=False).result() for f in futures[writer])
            yield self.save(todo[writer][0].path, writer, future.result(), kept)
            del futures[writer]  # its partitions' results are let go on the workers

    def pending(self, paths: list[str]) -> Generator[FileResult, None, dict[str, list[Partition]]]:
        """Yields the files skipped (in already, or the same content as another); returns the partitions
        of the others by their writer."""
        todo: dict[str, list[Partition]] = {}
        done: dict[str, str] = {}  # writer -> the path that has it
        for path in paths:
            parts = plan(path, self.partition_rows)
            writer = writer_of(self.model, self.version, parts[0].digest)
            if self.store.checkpoint(writer) >= DONE:
                yield FileResult(path, writer, skipped="backfilled already")
            elif writer in done:
                yield FileResult(path, writer, skipped=f"the same content as {done[writer]}")
            else:
                todo[writer] = parts
            done[writer] = path
        return todo

    def job(self, todo: dict[str, list[Partition]]) -> Job:
        """The job: the template covers what the first rows of every file have, then what a sample spread over
        each has (as the live path fixes a column's buckets from the first batch that has it), read here
        once."""
        now = self.clock()
        redactor = Redactor.for_model(self.spec, self.pii_key)
        template = self.templates.get(self.model)
        # the first rows of every file first (as the live path sees them), then samples spread over each
        for read_rows, parts in [(r, p) for r in (head, sample) for p in todo.values()]:
            table = read_rows(parts)
            if self.label_column is not None:
                if self.label_column not in table.column_names:
                    raise InputError(
                        f"{parts[0].path}: no column {self.label_column!r} (the label column); its columns: "
                        + ", ".join(table.column_names)
                    )
                table = table.drop_columns([self.label_column])
            check_types(table, parts[0].path)  # before any partition is profiled
            rows = [r for chunk in records(table, self.model, version=self.version) for r in chunk]
            events, _ = check_chunk(rows, self.spec, now, redactor)
            if events is not None:
                vocabularies = self.templates.vocabularies(self.model)
                template = self.templates.covering(
                    self.model, profiled(events, self.spec, vocabularies), self.spec
                )
        rollups = Rollups(
            {r: self.store.last_window_start(self.model, r, ROLLUP_WRITER) for r in (HOUR, DAY)}
        )
        sent = Profile.from_bytes(template.to_bytes()) if template is not None else Profile()
        # text is measured against the vocabularies the live path uses (the baseline's, when the
        # template was fixed before the baseline had any)
        sent.vocabularies = self.templates.vocabularies(self.model)
        return Job(
            self.model,
            self.version,
            self.spec,
            sent.to_bytes(),
            self.pii_key,
            now,
            rollups,
            label_column=self.label_column,
        )

    def save(
        self,
        path: str,
        writer: str,
        profiled: Profiled,
        kept: Iterable[tuple[list[PredictionBatch], list[bytes]]] | None = None,
    ) -> FileResult:
        """One file's predictions and labels stored (``kept``, its partitions' in order; None: those of
        ``profiled``), then its windows saved with its writer's checkpoint in one transaction (see the
        module docstring)."""
        labels: list[LabelRow] = []
        for batches, payloads in [kept_of(profiled)] if kept is None else kept:
            for batch in batches:
                self.store.put_predictions(batch)
            for payload in payloads:
                table = from_ipc(payload)
                labels += map(LabelRow, repeat(self.model), *(table.column(n).to_pylist() for n in _LABELS))
                if len(labels) >= LABELS:
                    self.store.put_labels(labels)
                    labels = []
        if labels:
            self.store.put_labels(labels)
        rows = []
        for (version, start, resolution), state in sorted(profiled.windows.items()):
            s = WindowState.from_bytes(state, sample=False)
            rows.append(WindowRow(self.model, version, resolution, start, writer, s.events, state, s.errors))
        self.store.save_windows(writer, rows, checkpoint=DONE)
        return FileResult(
            path,
            writer,
            profiled.rows,
            profiled.accepted,
            dict(Counter(r.resolution for r in rows)),
            profiled.refused,
            profiled.examples,
            predictions=profiled.kept,
            labelled=profiled.labelled,
            past=profiled.past,
        )


def tree(parts: list[Profiled]) -> Profiled:
    """The partitions of one file merged (in one task: their results are small next to their rows)."""
    while len(parts) > 1:
        parts = [
            merge(*parts[i : i + 2]) if i + 1 < len(parts) else parts[i] for i in range(0, len(parts), 2)
        ]
    return parts[0]


@contextmanager
def local_client(
    scheduler: str | None, *, workers: int = 2, threads: int = 1, memory: str = "2GiB", processes: bool = True
) -> Iterator[Client]:
    """A Dask client: of the cluster at ``scheduler``, else of a local cluster on 127.0.0.1 with ``workers``
    workers of ``threads`` threads and ``memory`` each, no dashboard, closed on exit (``processes=False``:
    the workers are threads of this process, without a memory limit)."""
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler, timeout="30s") as client:
            yield client
        return
    cluster_args: dict[str, Any] = {
        "n_workers": workers,
        "threads_per_worker": threads,
        "memory_limit": memory,
        "dashboard_address": None,
        "processes": processes,
        # no dashboard; the scheduler's own HTTP routes (health) on a free loopback port, not 0.0.0.0:8787
        "scheduler_kwargs": {"dashboard": False, "dashboard_address": "127.0.0.1:0"},
    }
    if processes:  # workers in threads of this process talk in-process (no socket at all)
        cluster_args["host"] = "127.0.0.1"
    else:
        # a thread worker's memory is this whole process's: a limit would read its RSS (a test run's,
        # say, past 2 GiB) as the worker's and retire every worker mid-run
        cluster_args["memory_limit"] = 0
    with LocalCluster(**cluster_args) as cluster, Client(cluster) as client:
        yield client
