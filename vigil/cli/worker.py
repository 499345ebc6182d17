"""``vigil worker``: fold the batches that ``vigil serve --broker`` published into the store's windows.

Run any number of them against one stream and one store (PostgreSQL, shared by the servers): they share the
stream's durable consumer, each folds what it is given, and the windows of every worker merge at query time.
A worker stopped with SIGTERM or Ctrl-C saves what it folded first; one killed outright loses nothing (the
broker delivers again what it had not saved and acknowledged).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from pathlib import Path
from typing import Any

import click

from vigil.cli.options import STREAM_SETTINGS, setting_options, stream_limits

__all__ = ["worker"]


@click.command()
@setting_options(("broker", "broker_stream", *STREAM_SETTINGS), aliases={"broker_stream": ("--stream",)})
@click.option(
    "--store", required=True, envvar="VIGIL_STORE", help="The store the servers read: a postgresql:// URL."
)
@click.option(
    "--config", default="vigil.yaml", show_default=True, envvar="VIGIL_CONFIG", help="The servers' config."
)
@click.option(
    "--name",
    envvar="VIGIL_WORKER_NAME",
    help="This worker's writer name, unique among the workers and servers running (default: host:pid).",
)
@click.option("--flush-every", default=1.0, show_default=True, help="Seconds between saves (and acks).")
@click.option("--batch", default=256, show_default=True, help="Most batches fetched at a time.")
@click.option("--log-level", default="info", show_default=True, help="debug, info or warning.")
def worker(
    store: str,
    config: str,
    name: str | None,
    flush_every: float,
    batch: int,
    log_level: str,
    **given: Any,
) -> None:
    """Fold the events a `vigil serve --broker` publishes into the store's windows.

    The stream options are `vigil serve`'s, with the same environment variables: the stream limits given
    are applied to the stream (made with them when missing), those not given leave it as it is."""
    from vigil.broker.nats import JetStreamConsumer
    from vigil.broker.worker import Worker
    from vigil.errors import InputError
    from vigil.loading import load
    from vigil.monitoring.baselines import Baselines
    from vigil.registry import Registry
    from vigil.server.logs import configure as configure_logging
    from vigil.settings import resolve
    from vigil.store import open_store

    s = resolve(given)
    broker, stream = str(s["broker"]), str(s["broker_stream"])
    if not broker:
        raise click.UsageError("--broker (or VIGIL_BROKER) is required: the NATS URL, e.g. nats://HOST:4222")
    limits = stream_limits(given)
    configure_logging("text", log_level)
    log = logging.getLogger("vigil.worker")
    config_path = Path(config)
    loaded = load(config_path).config
    writer = name or f"worker:{socket.gethostname()}:{os.getpid()}"
    opened = open_store(store)
    consumer = None
    try:
        opened.check()
        consumer = JetStreamConsumer(broker, stream, limits)
        registry = Registry(loaded, opened)
        baselines = Baselines(registry, opened, config_path.resolve().parent)

        def baseline(model: str) -> Any:
            try:
                return baselines.file_profile(model)
            except InputError:
                return None

        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        work = Worker(
            consumer,
            opened,
            registry,
            writer=writer,
            flush_every=flush_every,
            batch=batch,
            baselines=baseline,
        )
        log.info("vigil worker %s: stream %s at %s, store %s", writer, stream, broker, opened.url)
        work.run(stop)
        log.info("vigil worker %s stopped: %d events folded", writer, work.folded_events)
    finally:
        if consumer is not None:
            consumer.close()
        opened.close()
