"""``vigil rules`` and ``vigil review``: replay a rule over stored history, and the alerting review::

    vigil rules list                         vigil rules test --model M (--name R | --file F) [--from T]
                                                                  [--to T] [--every 1m]
    vigil review [--from T] [--to T] [--html FILE]

Options, times and errors as ``vigil.cli.client`` describes them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from vigil.cli.client import (
    Api,
    connected,
    duration_text,
    echo_json,
    json_option,
    parse_time,
    stamp_text,
    table_text,
    time_of,
)
from vigil.errors import InputError
from vigil.timefmt import format_time

__all__ = ["review", "rules"]


# -- rules ---------------------------------------------------------------------------------------------------


@click.group()
def rules() -> None:
    """Alert rules: list them, and replay one over stored history."""


@rules.command("list")
@json_option
@connected
def rules_list(api: Api, as_json: bool) -> None:
    """The rules the server evaluates (from the config and the defaults)."""
    data = api.json("GET", "/v1/rules")
    if as_json:
        echo_json(data)
        return
    found = [r for r in data.get("rules") or [] if isinstance(r, dict)]
    if not found:
        click.echo("no rules")
        return
    rows = [(r.get("name"), r.get("model"), r.get("metric"), r.get("kind"), r.get("source")) for r in found]
    click.echo(table_text(["NAME", "MODEL", "METRIC", "KIND", "SOURCE"], rows))


def _rule_from_file(path: str) -> dict[str, Any]:
    """The one rule in a YAML file: a rule mapping, or a ``rules:`` list with one rule."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else path
        raise InputError(f"{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    if isinstance(data, dict) and "rules" in data:
        listed = data["rules"]
        if not isinstance(listed, list) or len(listed) != 1:
            count = len(listed) if isinstance(listed, list) else 0
            raise InputError(
                f"{path}: 'rules' holds {count} rules; --file takes one (or use --name for a loaded rule)"
            )
        data = listed[0]
    if not isinstance(data, dict):
        raise InputError(
            f"{path}: expected one rule (a mapping with name, metric, ...), or rules: [one rule]"
        )
    return data


@rules.command("test")
@click.option("--model", "-m", required=True, help="The model to replay the rule on.")
@click.option("--name", help="A rule the server has loaded.")
@click.option("--file", "rule_file", type=click.Path(dir_okay=False), help="A YAML file with one rule.")
@click.option("--from", "start", help="Replay from (RFC 3339, epoch seconds, or 7d for 7 days ago).")
@click.option("--to", "end", help="Replay up to [default: now].")
@click.option("--every", help="Evaluate every (e.g. 1m) [default: the server's choice].")
@json_option
@connected
def rules_test(
    api: Api,
    model: str,
    name: str | None,
    rule_file: str | None,
    start: str | None,
    end: str | None,
    every: str | None,
    as_json: bool,
) -> None:
    """When would a rule have fired on MODEL's stored history?"""
    if (name is None) == (rule_file is None):
        raise InputError("give the rule: --name RULE (a loaded one) or --file rule.yaml (one of them)")
    body: dict[str, Any] = {"model": model}
    if name is not None:
        body["name"] = name
    else:
        body["rule"] = _rule_from_file(str(rule_file))
    now = api.clock()
    if start:
        body["from"] = format_time(parse_time(start, now, "--from"))
    if end:
        body["to"] = format_time(parse_time(end, now, "--to"))
    if every:
        body["every"] = every
    data = api.json("POST", "/v1/rules/test", body=body)
    if as_json:
        echo_json(data)
        return
    if isinstance(data.get("text"), str) and data["text"].strip():
        click.echo(data["text"].rstrip("\n"))
        return
    firing = [f for f in data.get("firing") or data.get("firings") or [] if isinstance(f, dict)]
    rule = data.get("rule")
    title = rule.get("name") if isinstance(rule, dict) else rule or name or "the rule"
    if not firing:
        click.echo(f"{title} would not have fired on {data.get('model', model)}")
        return
    click.echo(f"{title} would have fired {len(firing)} time(s) on {data.get('model', model)}")
    rows = []
    for f in firing:
        fired, resolved = time_of(f.get("fired_at")), time_of(f.get("resolved_at"))
        lasted = duration_text(resolved - fired) if fired is not None and resolved is not None else "-"
        peak = f.get("peak")
        rows.append(
            (
                stamp_text(f.get("fired_at")),
                stamp_text(f.get("resolved_at")) if resolved is not None else "still firing",
                lasted,
                f.get("severity"),
                f"{peak:.4g}" if isinstance(peak, int | float) else peak,
            )
        )
    click.echo(table_text(["FIRED", "RESOLVED", "LASTED", "SEVERITY", "PEAK"], rows))


# -- review --------------------------------------------------------------------------------------------------


@click.command("review")
@click.option("--from", "start", help="From (RFC 3339, epoch seconds, or 7d for 7 days ago).")
@click.option("--to", "end", help="Up to [default: now].")
@click.option("--html", "html_out", type=click.Path(dir_okay=False), help="Write the HTML review here.")
@json_option
@connected
def review(api: Api, start: str | None, end: str | None, html_out: str | None, as_json: bool) -> None:
    """The alerting review: what fired, how often falsely, how fast people answered."""
    now = api.clock()
    params: dict[str, str] = {}
    if start:
        params["from"] = format_time(parse_time(start, now, "--from"))
    if end:
        params["to"] = format_time(parse_time(end, now, "--to"))
    if html_out:
        answer = api.call("GET", "/v1/review", params={**params, "format": "html"})
        try:
            Path(html_out).write_text(answer.text, encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write the review to {html_out}: {exc.strerror or exc}") from None
        click.echo(f"wrote {html_out}")
        return
    data = api.json("GET", "/v1/review", params=params)
    if as_json or not isinstance(data.get("text"), str):
        echo_json(data)
        return
    click.echo(data["text"].rstrip("\n"))
