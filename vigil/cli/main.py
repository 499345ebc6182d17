"""The ``vigil`` command line: a thin layer over ``vigil.compare`` and the config loader.

Exit codes: 0 success (``check``: every gate passed), 1 a ``check`` gate failed (``ingest``: rows were
refused), 2 bad input or usage.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from vigil._version import __version__
from vigil.cli.actions import actions
from vigil.cli.alerts import alerts, silences
from vigil.cli.backfill import backfill
from vigil.cli.estimate import estimate
from vigil.cli.incidents import audit, incidents
from vigil.cli.ingest import ingest
from vigil.cli.keys import keys
from vigil.cli.options import setting_options, stream_limits
from vigil.cli.rules import review, rules
from vigil.cli.sop import sop
from vigil.cli.worker import worker
from vigil.drift import METHOD_NAMES
from vigil.errors import InputError, VigilError

if TYPE_CHECKING:
    from vigil.comparison.report import Report

__all__ = ["main"]


class _Group(click.Group):
    """Turns Vigil's own errors into one readable line and exit code 2, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except VigilError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="vigil")
def main() -> None:
    """Vigil watches ML models: drift, data quality, performance, alerts."""


def _comparison_options(f: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--reference", "-r", required=True, help="Baseline data: Parquet, CSV or Feather file."),
        click.option("--current", "-c", required=True, help="Data to check against the baseline."),
        click.option(
            "--config", type=click.Path(dir_okay=False), help="vigil.yaml with column types and rules."
        ),
        click.option(
            "--method",
            type=click.Choice(sorted(METHOD_NAMES)),
            help="Force this drift method where it applies.",
        ),
        click.option("--ignore", default="", help="Comma-separated columns to leave out."),
        click.option(
            "--exact", is_flag=True, help="Numeric tests on raw values (slower) instead of sketches."
        ),
        click.option(
            "--correction", type=click.Choice(["none", "bonferroni", "bh"]), help="Multiple-testing control."
        ),
        click.option(
            "--calibrate", is_flag=True, default=None, help="Thresholds from the reference's own variability."
        ),
        click.option(
            "--multivariate",
            "multivariate_mode",
            type=click.Choice(["both", "reconstruction", "classifier", "off"]),
            help="Joint drift tests over the features (default: the config's, both).",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _run(options: dict[str, Any]) -> Report:
    # the statistics stack (numpy, pyarrow) loads here, not for every command
    from vigil.comparison.compare import compare

    ignore = [c.strip() for c in (options.get("ignore") or "").split(",") if c.strip()]
    with _progress() as tick:
        return compare(
            options["reference"],
            options["current"],
            config=options.get("config"),
            method=options.get("method"),
            ignore=ignore,
            exact=bool(options.get("exact")),
            correction=options.get("correction"),
            calibrate=options.get("calibrate"),
            multivariate_mode=options.get("multivariate_mode"),
            progress=tick,
        )


def _save(result: Report, kind: str, path: str | Path) -> None:
    """Write the report as ``kind`` (json, html); an unwritable path is an input error, not a traceback."""
    try:
        result.save_json(path) if kind == "json" else result.save_html(path)
    except OSError as exc:
        raise InputError(f"cannot write the {kind.upper()} report to {path}: {exc.strerror or exc}") from exc


@contextmanager
def _progress() -> Iterator[Callable[[str], None]]:
    """A progress bar on stderr, one step per profiled column; silent when stderr is not a terminal."""
    if not sys.stderr.isatty():
        yield lambda column: None
        return
    with click.progressbar(length=0, label="profiling", file=sys.stderr, show_pos=True) as bar:
        bar.length = None  # unknown until the tables are read

        def tick(column: str) -> None:
            bar.label = f"profiling {column[:30]:<30}"
            bar.update(1)

        yield tick


@main.command()
@_comparison_options
@click.option("--html", "html_out", type=click.Path(dir_okay=False), help="Write the HTML report here.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Write the JSON report here.")
def report(html_out: str | None, json_out: str | None, **options: Any) -> None:
    """Compare CURRENT with REFERENCE: drift per column, dataset drift, data quality."""
    result = _run(options)
    if json_out:
        _save(result, "json", json_out)
    if html_out:
        _save(result, "html", html_out)
    click.echo(result.to_text())
    for path in (json_out, html_out):
        if path:
            click.echo(f"wrote {path}")


@main.command()
@_comparison_options
@click.option(
    "--max-drift-share",
    type=click.FloatRange(0, 1),
    help="Fail when more than this share of columns drifted (default: fail on dataset drift).",
)
@click.option("--fail-on-column-drift", is_flag=True, help="Fail when any column drifted.")
@click.option(
    "--fail-on-multivariate-drift",
    is_flag=True,
    help="Fail when a joint test (PCA reconstruction error, domain classifier) flagged the features.",
)
@click.option(
    "--quality",
    "quality_level",
    type=click.Choice(["fail", "warn", "off"]),
    default="fail",
    show_default=True,
    help="Fail on quality checks at this level or worse.",
)
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Also write the JSON report here.")
def check(
    max_drift_share: float | None,
    fail_on_column_drift: bool,
    fail_on_multivariate_drift: bool,
    quality_level: str,
    json_out: str | None,
    **options: Any,
) -> None:
    """Like ``report``, but exit 1 when a gate fails: for CI pipelines."""
    result = _run(options)
    if json_out:
        _save(result, "json", json_out)
    failures: list[str] = []
    if max_drift_share is not None:
        if result.drift_share > max_drift_share:
            failures.append(
                f"drift share {result.drift_share:.0%} is above the allowed {max_drift_share:.0%}"
            )
    elif result.dataset_drift:
        failures.append(
            f"dataset drift: {len(result.drifted)} of {result.n_tested} columns drifted "
            f"(threshold {result.settings['drift_share']:.0%})"
        )
    if fail_on_column_drift and result.drifted:
        failures.append(f"columns drifted: {', '.join(result.drifted)}")
    if fail_on_multivariate_drift and result.multivariate_drift:
        assert result.multivariate is not None
        joint = result.multivariate
        failures.append(
            f"multivariate drift: {joint['method']} {joint['statistic']:.4g} beyond its threshold "
            f"{joint['threshold']:.4g}"
        )
    levels = {"fail": ("fail",), "warn": ("fail", "warn"), "off": ()}[quality_level]
    bad = [c for c in result.quality if c.status in levels]
    if bad:
        failures.append(f"{len(bad)} data-quality checks at '{quality_level}' or worse")
    click.echo(result.to_text())
    if failures:
        click.echo("\nCHECK FAILED", err=False)
        for f in failures:
            click.echo(f"  ✗ {f}")
        sys.exit(1)
    click.echo("\nCHECK PASSED")


@main.command()
@click.argument("path", type=click.Path(dir_okay=False), default="vigil.yaml")
def validate(path: str) -> None:
    """Check a vigil.yaml: every problem with its file, line and what to fix (models, columns, rules, SLOs,
    actions and the alerting section)."""
    from vigil.loading import load

    loaded = load(path)
    click.echo(f"{path}: valid ({', '.join(loaded.counts())})")


@main.command("demo-report")
@click.option("--out", default="out/demo-report", show_default=True, type=click.Path(file_okay=False))
@click.option(
    "--rows",
    default=200_000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Rows in each of the two tables.",
)
def demo_report(out: str, rows: int) -> None:
    """Generate a reference and a drifted current table (loan applications), then report on them."""
    from vigil.examples.loans import write_example

    folder = Path(out)
    try:
        ref, cur, story = write_example(folder, rows)
    except OSError as exc:
        raise InputError(f"cannot write the example into {folder}: {exc.strerror or exc}") from exc
    click.echo(f"generated {ref} and {cur} ({rows} rows each)\n{story}\n")
    result = _run({"reference": str(ref), "current": str(cur), "config": str(folder / "vigil.yaml")})
    _save(result, "json", folder / "report.json")
    _save(result, "html", folder / "report.html")
    click.echo(result.to_text())
    click.echo(f"\nopen {folder / 'report.html'} in a browser; the JSON is in {folder / 'report.json'}")


@main.command()
@click.option(
    "--out",
    default="out/demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where the models' baselines, the config and the store go.",
)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--duration", type=click.FloatRange(min=1), help="Seconds to run (default: until Ctrl-C).")
@click.option(
    "--rate",
    default=40.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Predictions per second per model.",
)
@click.option(
    "--calm",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=5),
    help="Seconds of normal traffic before the first trouble.",
)
@click.option("--window", default="10s", show_default=True, help="Window size of the demo's models.")
def demo(out: str, port: int, duration: float | None, rate: float, calm: float, window: str) -> None:
    """Run a live system: a server, three models, traffic, late labels, and injected trouble."""
    from vigil.demo.live import run_demo

    run_demo(Path(out), port=port, duration=duration, rate=rate, calm=calm, window=window, say=click.echo)


@main.command()
@setting_options()
def serve(**given: Any) -> None:
    """Run the monitoring server: ingest, live metrics, the API and /metrics.

    Before listening, the store is checked (the embedded file read through for damage) and what was
    logged after its last save is folded; a store that cannot be used stops it with one line saying what
    to do (exit 2). A clean stop (Ctrl-C, SIGTERM) saves everything and leaves the store file complete."""
    import socket

    import uvicorn

    from vigil.config import VigilConfig
    from vigil.ingest.validate import Limits
    from vigil.loading import load
    from vigil.server.app import create_app, prepare_process
    from vigil.server.logs import configure as configure_logging
    from vigil.settings import resolve
    from vigil.store import open_store

    s = resolve(given)
    try:
        configure_logging(str(s["log_format"]), str(s["log_level"]))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--log-format/--log-level") from None
    log = logging.getLogger("vigil.server")
    config_path = Path(s["config"])
    explicit = given.get("config") is not None or "VIGIL_CONFIG" in os.environ
    if config_path.exists() or explicit:
        config = load(config_path).config  # every section checked before the store is opened
    else:
        config = VigilConfig()
        log.warning("no %s: starting with no declared models", config_path)
    store = open_store(str(s["store"]))
    publisher = None
    try:
        store.check(thorough=True)
        shared = str(s["store"]).startswith(("postgresql://", "postgres://"))
        writer = s["writer"] or (f"{socket.gethostname()}:{s['port']}" if shared else "main")
        publisher = _publisher(s, given)
        app = create_app(
            config,
            store,
            publisher=publisher,
            max_lag=int(s["broker_max_lag"]),
            writer=writer,
            flush_every=float(s["flush_every"]),
            limits=Limits(int(s["max_body_bytes"]), int(s["max_records"])),
            root=config_path.resolve().parent,
            close_store=True,
        )
        app.state.vigil.aggregator.start()  # replays the log and warns about held events, before listening
        log.info(
            "vigil %s on http://%s:%s  store=%s  writer=%s  models=%s",
            __version__,
            s["host"],
            s["port"],
            store.url,
            writer,
            ", ".join(app.state.vigil.registry.names()) or "(none)",
            extra={"event": "server.start", "store": store.url, "writer": writer},
        )
        prepare_process()
        ports = [int(s["port"]), *([int(s["otlp_port"])] if int(s["otlp_port"]) else [])]
        if len(ports) > 1:
            log.info("OTLP/HTTP on http://%s:%s (/v1/traces, /v1/logs, /v1/metrics)", s["host"], ports[1])
        quiet: dict[str, Any] = {"log_level": "warning", "access_log": False, "log_config": None}
        sockets = [uvicorn.Config(app, host=s["host"], port=p, **quiet).bind_socket() for p in ports]
        uvicorn.Server(uvicorn.Config(app, **quiet)).run(sockets=sockets)
    finally:
        store.close()  # when the start failed (after a clean stop, the app closed it already)
        if publisher is not None:
            publisher.close()


def _publisher(s: dict[str, Any], given: dict[str, Any]) -> Any:
    """The broker's publisher of ``vigil serve --broker`` (None without one)."""
    if not s["broker"]:
        return None
    from vigil.broker.nats import JetStreamPublisher

    limits = stream_limits(given)
    return JetStreamPublisher(str(s["broker"]), str(s["broker_stream"]), limits)


@main.command()
@click.argument("target", type=click.Path(dir_okay=False))
@click.option(
    "--store",
    default="vigil.db",
    show_default=True,
    envvar="VIGIL_STORE",
    help="The embedded store file to copy (env VIGIL_STORE).",
)
def backup(target: str, store: str) -> None:
    """Copy the embedded store file to TARGET: a consistent copy, also while a server writes to it.

    Restore by starting a server with --store TARGET (or copying it back while no server runs). For a
    PostgreSQL store use pg_dump."""
    from vigil.store.sqlite import backup as copy

    if store.startswith(("postgresql://", "postgres://")):
        raise InputError("the store is PostgreSQL: back it up with pg_dump, or your database's own backups")
    size = copy(store, target)
    click.echo(f"copied {store} to {target} ({size / 1e6:.1f} MB, checked)")


main.add_command(alerts)
main.add_command(silences)
main.add_command(incidents)
main.add_command(audit)
main.add_command(rules)
main.add_command(review)
main.add_command(actions)
main.add_command(ingest)
main.add_command(backfill)
main.add_command(keys)
main.add_command(sop)
main.add_command(estimate)
main.add_command(worker)
