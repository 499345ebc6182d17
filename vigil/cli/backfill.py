"""``vigil backfill PATH... --model M``: months of scored history (Parquet, CSV, Feather) profiled into
windows on a Dask cluster and saved to the store, as if the events had arrived live.

The predictions with a request id are kept for the label join (``--label-column``: with the files' labels).
The same backfill run again counts nothing twice: each file is in once (see ``vigil.backfill.run``).
Exit codes: 0 every row in, 1 some rows refused (a summary names file, row and reason), 2 the files, the
config, the store or the cluster could not be used.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from vigil.backfill.run import FileResult

__all__ = ["backfill"]


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--model", "-m", required=True, help="The model these predictions belong to.")
@click.option("--version", help="Model version of rows without one (default: the model's live version).")
@click.option("--config", "config_path", default="vigil.yaml", show_default=True, envvar="VIGIL_CONFIG")
@click.option("--store", default="vigil.db", show_default=True, envvar="VIGIL_STORE", help="The store URL.")
@click.option("--scheduler", help="An existing Dask cluster (tcp://HOST:8786); default: a local one.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 256), help="Local workers.")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(1, 64), help="Threads each.")
@click.option("--memory-limit", default="2GiB", show_default=True, help="Memory of each local worker.")
@click.option("--partition-rows", default=250_000, show_default=True, type=click.IntRange(1_000))
@click.option(
    "--label-column",
    metavar="NAME",
    help="The files' column of labels (the truth of each row's prediction): stored with the predictions.",
)
def backfill(
    paths: tuple[str, ...],
    model: str,
    version: str | None,
    config_path: str,
    store: str,
    scheduler: str | None,
    workers: int,
    threads: int,
    memory_limit: str,
    partition_rows: int,
    label_column: str | None,
) -> None:
    """Profile history files into the model's windows on Dask (a local cluster, or --scheduler).

    Rows are read and checked as `vigil ingest` sends them (event-field columns, segment.NAME columns,
    features); history older than the minute windows' retention goes straight into hour and day rows.
    Files backfilled already (same content, model and version) are skipped. Predictions with a
    request_id are kept for the label join (labels posted later join them), those older than the model's
    retention.predictions excepted; with --label-column, the files' labels are stored too. Exits 1 when
    any row was refused, naming it by file and row (the first data row is row 1).
    """
    from vigil.backfill.run import Backfill, local_client
    from vigil.loading import load
    from vigil.store import open_store

    config = load(config_path).config
    opened = open_store(store)
    refused = 0
    try:
        job = Backfill(
            config,
            opened,
            model,
            version=version,
            root=Path(config_path).resolve().parent,
            partition_rows=partition_rows,
            label_column=label_column,
        )
        with local_client(scheduler, workers=workers, threads=threads, memory=memory_limit) as client:
            for result in job.run(list(paths), client, progress=sys.stderr.isatty()):
                if result.skipped:
                    click.echo(f"{result.path}: skipped, {result.skipped}")
                    continue
                windows = ", ".join(f"{n} of {_span(r)}" for r, n in sorted(result.windows.items()))
                click.echo(
                    f"{result.path}: {result.accepted} of {result.rows} rows into {model!r}"
                    f" ({windows or 'no windows'})"
                )
                if result.predictions or result.past:
                    click.echo(_kept(result, job.spec.retention.predictions.total_seconds(), label_column))
                refused += sum(result.refused.values())
                for name, count in sorted(result.refused.items(), key=lambda kv: (-kv[1], kv[0])):
                    click.echo(f"  {count} × {name} refused")
                    for row, reason in result.examples.get(name, []):
                        click.echo(f"      {result.path} row {row}: {reason}")
    finally:
        opened.close()
    if refused:
        sys.exit(1)


def _kept(result: FileResult, retention: float, label_column: str | None) -> str:
    line = f"  {result.predictions} predictions kept for the label join"
    if label_column is not None:
        line += f", {result.labelled} with their label"
    if result.past:
        line += f"; {result.past} older than retention.predictions ({retention / 86_400:g} days) not kept"
    return line


def _span(seconds: int) -> str:
    if seconds % 86_400 == 0:
        return f"{seconds // 86_400}-day rows"
    if seconds % 3_600 == 0:
        return f"{seconds // 3_600}-hour rows"
    return f"{seconds}-second windows"
