"""``vigil sop``: the monitoring procedure of a vigil.yaml as a diagram (Mermaid, Markdown, SVG), and the path
of one alert through it::

    vigil sop vigil.yaml --format markdown -o PROCEDURE.md
    vigil sop vigil.yaml --format svg --alert 'alertname=HighLatency model=churn severity=critical' -o a.svg
    vigil sop vigil.yaml --format text --alert alertname=NoData --alert model=churn --alert severity=warning

A config with problems is refused as ``vigil validate`` refuses it (every problem, exit 2). The diagram
modules load inside the command, so ``vigil --help`` and the other commands do not pay for them.
"""

from __future__ import annotations

from pathlib import Path

import click

from vigil.errors import InputError

__all__ = ["sop"]

_FORMATS = ("mermaid", "markdown", "svg", "dot", "json", "text")


@click.command()
@click.argument("config", type=click.Path(dir_okay=False), default="vigil.yaml")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(_FORMATS),
    default="mermaid",
    show_default=True,
    help="mermaid (for docs), markdown (diagram and tables), svg (Graphviz's dot), dot, json, or text (the "
    "path of --alert in words).",
)
@click.option(
    "--alert",
    "alert",
    multiple=True,
    metavar="LABELS",
    help="Highlight the path of an alert with these labels: name=value, repeated or space-separated "
    "(alertname=HighLatency model=churn severity=critical).",
)
@click.option(
    "--as-given",
    is_flag=True,
    help="Route the --alert labels exactly as given; by default a named rule's own labels (team, metric...) "
    "are added under them, as its alerts carry them.",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Write here instead of standard output."
)
def sop(config: str, fmt: str, alert: tuple[str, ...], as_given: bool, output: str | None) -> None:
    """Draw the monitoring procedure CONFIG declares: models → telemetry → metrics → rules → routes →
    receivers → runbooks → incidents → remediation; with --alert, the path that alert takes."""
    from vigil.procedure import load_sections, render  # the diagram code, only for this command

    sections = load_sections(config)
    text = render(sections, fmt, alert, complete=not as_given)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {output}: {exc.strerror or exc}") from exc
    if alert and fmt != "text":
        click.echo(render(sections, "text", alert, complete=not as_given), nl=False)
    click.echo(f"wrote {output}", err=True)
