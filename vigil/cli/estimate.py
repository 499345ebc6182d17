"""``vigil estimate``: a model's performance per chunk of scored rows, estimated before the labels arrive."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Literal

import click

from vigil.errors import InputError

__all__ = ["estimate"]


def _write(path: str, text: str, kind: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write the {kind} to {path}: {exc.strerror or exc}") from exc


def _figure(x: Any) -> str:
    return "   —  " if x is None else f"{x:6.3f}"


def _text(result: dict[str, Any]) -> str:
    metrics = result["metrics"]
    head = f"{'rows':>17}  " + "  ".join(f"{m:>22}" for m in metrics) + "  concept shift"
    lines = [head]
    for c in result["chunks"]:
        cells = []
        for m in metrics:
            e, r = c["estimated"][m], (c.get("realised") or {}).get(m)
            band = (
                f"{_figure(e['value'])} ±{(e['upper'] - e['lower']) / 2:.3f}"
                if e["value"] is not None
                else "—"
            )
            cells.append(f"{band:>14} {_figure(r) if 'realised' in c else '':>7}")
        shift = (
            "—"
            if c["concept_shift"] is None
            else ("YES: " + ", ".join(c["outside"]) if c["concept_shift"] else "no")
        )
        lines.append(f"{c['start']:>8}-{c['end']:<8}  " + "  ".join(f"{x:>22}" for x in cells) + f"  {shift}")
    lines.append(
        f"\nestimated (± half the band: {result['band']}), then realised where the chunk has labels; "
        f"{result['concept_shift_chunks']} chunks with concept shift"
    )
    return "\n".join(lines)


@click.command()
@click.option("--reference", "-r", required=True, help="Scored rows with labels: Parquet, CSV or Feather.")
@click.option("--current", "-c", required=True, help="Scored rows to estimate; labels optional.")
@click.option(
    "--score",
    "scores",
    multiple=True,
    required=True,
    help="Binary: the positive class's probability column. Multiclass: CLASS=COLUMN, once per class.",
)
@click.option("--prediction", help="Predicted class column (default: score >= 0.5, or the top class).")
@click.option("--label", required=True, help="Label column (0/1 or true/false; class names if multiclass).")
@click.option("--chunk-size", required=True, type=click.IntRange(min=1), help="Rows per chunk of CURRENT.")
@click.option(
    "--calibration",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="Isotonic calibration of the scores: where it helps (out-of-sample Brier score), always, or never.",
)
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Write the JSON result here.")
@click.option("--html", "html_out", type=click.Path(dir_okay=False), help="Write the HTML report here.")
@click.option(
    "--fail-on-concept-shift", is_flag=True, help="Exit 1 when a labelled chunk shows concept shift."
)
def estimate(
    reference: str,
    current: str,
    scores: tuple[str, ...],
    prediction: str | None,
    label: str,
    chunk_size: int,
    calibration: Literal["auto", "always", "never"],
    json_out: str | None,
    html_out: str | None,
    fail_on_concept_shift: bool,
) -> None:
    """Estimate ROC AUC, accuracy, precision, recall and F1 per chunk of CURRENT from the model's scores,
    calibrated on REFERENCE's labels, each with a band of ±3 standard errors. Where CURRENT has labels, a
    realised figure outside its band is flagged as concept shift.

    Exit codes: 0 done, 1 concept shift with --fail-on-concept-shift, 2 bad input."""
    from vigil.comparison.estimate import estimate_files

    result = estimate_files(
        reference,
        current,
        scores=scores,
        label=label,
        prediction=prediction,
        chunk_size=chunk_size,
        calibration=calibration,
    )
    if json_out:
        _write(json_out, json.dumps(result, indent=2), "JSON result")
    if html_out:
        from vigil.reports.estimate_html import render_estimate_html

        _write(html_out, render_estimate_html(result), "HTML report")
    click.echo(_text(result))
    for path in (json_out, html_out):
        if path:
            click.echo(f"wrote {path}")
    if fail_on_concept_shift and result["concept_shift_chunks"]:
        sys.exit(1)
