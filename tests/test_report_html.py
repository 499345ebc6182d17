"""Tests for the self-contained HTML drift report (vigil.reports.html)."""

from __future__ import annotations

import copy
import math
from html.parser import HTMLParser
from typing import Any

import pytest

from vigil.reports.html import MAX_CATEGORIES, fmt_number, fmt_p_value, render_html

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
URL_ATTRS = {"src", "href", "xlink:href", "action", "poster", "data", "srcset"}


class Checker(HTMLParser):
    """Counts tags, checks nesting, and collects URL-ish attributes and script/style text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.counts: dict[str, int] = {}
        self.urls: list[str] = []
        self.ids: list[str] = []
        self.text: list[str] = []
        self.raw: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.counts[tag] = self.counts.get(tag, 0) + 1
        for name, value in attrs:
            if name in URL_ATTRS and value is not None:
                self.urls.append(value)
            if name == "id" and value is not None:
                self.ids.append(value)
        if tag in ("script", "style"):
            self._in = tag
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <rect .../> etc. inside SVG: counted, but nothing is pushed.
        self.counts[tag] = self.counts.get(tag, 0) + 1
        for name, value in attrs:
            if name in URL_ATTRS and value is not None:
                self.urls.append(value)

    def handle_endtag(self, tag: str) -> None:
        self._in = None
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> (open: {self.stack[-3:]})")
            if tag in self.stack:
                while self.stack and self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self._in is not None:
            self.raw.append(data)
        else:
            self.text.append(data)


def parse(doc: str) -> Checker:
    checker = Checker()
    checker.feed(doc)
    checker.close()
    assert not checker.errors, checker.errors
    assert checker.stack == [], f"unclosed tags: {checker.stack}"
    return checker


def numeric_column(shift: float = 0.0, drift: bool = True, rows: int = 100_000) -> dict[str, Any]:
    edges = [18 + 7 * i for i in range(11)]
    ref = [0.04, 0.09, 0.14, 0.17, 0.16, 0.13, 0.1, 0.08, 0.05, 0.04]
    cur = [max(r - shift * (5 - i) / 25, 0.0) for i, r in enumerate(ref)]
    total = sum(cur)
    return {
        "type": "numeric",
        "method": "ks",
        "method_title": "Kolmogorov–Smirnov",
        "statistic": 0.21,
        "p_value": 1.234e-40,
        "p_value_adjusted": None,
        "alpha": 0.05,
        "effect": 0.21,
        "threshold": 0.1,
        "threshold_source": "default",
        "drift": drift,
        "error_bound": 0.003,
        "note": None,
        "reference": {
            "rows": rows,
            "nulls": 2000,
            "mean": 41.2,
            "std": 12.0,
            "min": 18,
            "p50": 40,
            "max": 90,
        },
        "current": {"rows": rows, "nulls": 1900, "mean": 47.0, "std": 12.1, "min": 18, "p50": 46, "max": 95},
        "distribution": {
            "kind": "bins",
            "labels": [f"{edges[i]} – {edges[i + 1]}" for i in range(10)],
            "reference": ref,
            "current": [c / total for c in cur],
        },
    }


def categorical_column(labels: list[str], drift: bool = False) -> dict[str, Any]:
    n = len(labels)
    weights = [1.0 / (i + 1) for i in range(n)]
    ref = [w / sum(weights) for w in weights]
    cur_w = [w * (1.3 if i % 3 == 0 else 0.9) for i, w in enumerate(weights)]
    cur = [w / sum(cur_w) for w in cur_w]
    return {
        "type": "categorical",
        "method": "chi2",
        "method_title": "Pearson χ²",
        "statistic": 812.5,
        "p_value": 0.0342,
        "p_value_adjusted": 0.0684,
        "alpha": 0.05,
        "effect": 0.041,
        "threshold": 0.05,
        "threshold_source": "calibrated",
        "drift": drift,
        "error_bound": None,
        "note": "2 categories appear only in current data",
        "reference": {"rows": 100_000, "nulls": 0, "distinct": n},
        "current": {"rows": 100_000, "nulls": 12, "distinct": n + 2},
        "distribution": {"kind": "categories", "labels": labels, "reference": ref, "current": cur},
    }


def make_report(rows: int = 100_000) -> dict[str, Any]:
    columns: dict[str, Any] = {
        "age": numeric_column(shift=0.4, rows=rows),
        "income": numeric_column(shift=0.0, drift=False, rows=rows),
        "country": categorical_column(["US", "DE", "FR", "GB", "(other)"]),
        "device": categorical_column([f"device-{i:02d}" for i in range(35)], drift=True),
        "score": {**numeric_column(rows=rows), "distribution": None, "drift": False},
    }
    columns["income"].update(effect=0.02, statistic=0.02, p_value=0.41)
    columns["device"].update(effect=0.3, threshold=0.1)
    return {
        "vigil_version": "0.1.0",
        "generated_at": "2026-11-21T22:40:00Z",
        "reference": {"source": "ref.parquet", "rows": rows},
        "current": {"source": "cur.parquet", "rows": rows},
        "settings": {"alpha": 0.05, "correction": "none", "drift_share": 0.5, "exact": False, "bins": 10},
        "dataset_drift": False,
        "drift_share": 0.4,
        "n_drifted": 2,
        "n_tested": 5,
        "columns": columns,
        "skipped": {"user_id": "looks like an identifier (99% distinct values)"},
        "quality": [
            {
                "check": "duplicate_rows",
                "column": None,
                "status": "pass",
                "message": "no duplicate rows",
                "values": {"current": 0},
            },
            {
                "check": "null_rate",
                "column": "age",
                "status": "warn",
                "message": "null rate rose from 2.0% to 4.1%",
                "values": {"reference": 0.02, "current": 0.041},
            },
            {
                "check": "schema",
                "column": "plan",
                "status": "fail",
                "message": "column missing from current data",
                "values": {},
            },
        ],
    }


def test_is_well_formed_html_document() -> None:
    doc = render_html(make_report())
    assert doc.lstrip().startswith("<!DOCTYPE html>")
    checker = parse(doc)
    assert checker.counts["html"] == 1
    assert checker.counts["table"] >= 3  # summary, stats tables, quality
    assert len(checker.ids) == len(set(checker.ids)), "duplicate ids"
    # one detail section per tested column, each linked from the summary table
    assert checker.counts["section"] == 5
    for anchor in [i for i in checker.ids if i.startswith("col-")]:
        assert f'href="#{anchor}"' in doc


def test_no_external_resources() -> None:
    doc = render_html(make_report())
    checker = parse(doc)
    assert checker.urls, "expected in-page anchors"
    for url in checker.urls:
        assert url.startswith("#"), url
    assert "http://" not in doc and "https://" not in doc
    assert "@import" not in doc and "url(" not in doc
    assert checker.counts.get("link", 0) == 0 and checker.counts.get("img", 0) == 0
    assert checker.counts["script"] == 1 and checker.counts["style"] == 1


def test_hostile_names_are_escaped() -> None:
    report = make_report()
    evil = '<script>alert("x")</script>'
    report["columns"][evil] = report["columns"].pop("age")
    report["columns"]["country"]["distribution"]["labels"][0] = "<img src=x onerror=alert(1)>"
    report["skipped"] = {'"><b>id</b>': "<i>reason</i>"}
    report["reference"]["source"] = "</title><script>1</script>"
    report["quality"][0]["message"] = "<svg onload=alert(1)>"
    doc = render_html(report)
    checker = parse(doc)
    assert evil not in doc
    assert "&lt;script&gt;alert(" in doc
    assert "<img" not in doc and "<b>id" not in doc and "<i>reason" not in doc
    assert checker.counts["script"] == 1  # only our own
    assert checker.counts.get("img", 0) == 0
    assert checker.counts["svg"] == 4
    assert evil in "".join(checker.text)  # it shows up as text, as written


def test_one_svg_per_column_with_distribution() -> None:
    report = make_report()
    doc = render_html(report)
    checker = parse(doc)
    with_dist = [c for c in report["columns"].values() if c["distribution"]]
    assert checker.counts["svg"] == len(with_dist) == 4
    assert "No distribution data for this column." in doc
    # the legend and range labels
    assert doc.count(">Reference</text>") == 4 and doc.count(">Current</text>") == 4
    assert "18 – 25" in doc


def test_long_category_lists_are_truncated() -> None:
    doc = render_html(make_report())
    assert f"Showing the {MAX_CATEGORIES} largest categories; 15 more not shown" in doc
    assert "device-00" in doc and "device-34" not in doc


def test_verdict_text() -> None:
    report = make_report()
    doc = render_html(report)
    assert "No dataset drift: 2 of 5 columns drifted (40%, threshold 50%)" in doc
    report.update(dataset_drift=True, n_drifted=5, n_tested=20, drift_share=0.25)
    doc = render_html(report)
    assert "Dataset drift detected: 5 of 20 columns drifted (25%, threshold 50%)" in doc


def test_quality_statuses_failures_first() -> None:
    doc = render_html(make_report())
    for status, css in (("fail", "bad"), ("warn", "warn"), ("pass", "good")):
        assert f'class="badge {css}">{status}<' in doc
    rows = [doc.index(f'class="q-{s}"') for s in ("fail", "warn", "pass")]
    assert rows == sorted(rows)
    assert "null rate rose from 2.0% to 4.1%" in doc


def test_summary_default_order_drifted_first_by_ratio() -> None:
    doc = render_html(make_report())
    table = doc[doc.index('<table id="summary">') : doc.index("</table>")]
    # drifted by effect/threshold: device 3, age 2.1; then the rest: score 2.1, country 0.82, income 0.2
    order = [table.index(f">{name}</a>") for name in ("device", "age", "score", "country", "income")]
    assert order == sorted(order)
    assert 'data-type="num"' in table and "data-sort=" in table


def test_size_does_not_depend_on_rows() -> None:
    small = render_html(make_report(rows=1_000))
    large = render_html(make_report(rows=10_000_000))
    assert abs(len(large) - len(small)) <= 64


def test_missing_and_non_finite_values() -> None:
    report = make_report()
    age = report["columns"]["age"]
    age.update(
        statistic=None, p_value=math.nan, effect=math.inf, threshold=None, error_bound=None, drift=None
    )
    age["reference"]["mean"] = math.nan
    age["distribution"]["current"][2] = math.nan
    age["distribution"]["reference"] = age["distribution"]["reference"][:5]  # ragged
    report.update(n_drifted=None, drift_share=None)
    report["columns"]["country"]["distribution"] = {"kind": "categories", "labels": [], "reference": []}
    del report["settings"]
    doc = render_html(report)
    parse(doc)
    assert "—" in doc and "NaN" in doc and "∞" in doc
    assert ">nan<" not in doc and ">inf<" not in doc and '"nan"' not in doc  # no raw Python reprs


def test_minimal_report() -> None:
    doc = render_html({"columns": {}, "quality": []})
    parse(doc)
    assert "No columns were tested." in doc and "No data-quality checks were run." in doc


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (0.21, "0.21"),
        (0.21345, "0.213"),
        (100_000, "100,000"),
        (1e7, "10,000,000"),
        (41.2, "41.2"),
        (2.5e-5, "2.5e-5"),
        (float("nan"), "NaN"),
        (float("inf"), "∞"),
        (True, "yes"),
    ],
)
def test_fmt_number(value: object, text: str) -> None:
    assert fmt_number(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.234e-40, "1.2e-40"), (0.0342, "0.034"), (0.5, "0.5"), (1.0, "1"), (None, "—"), (math.nan, "NaN")],
)
def test_fmt_p_value(value: object, text: str) -> None:
    assert fmt_p_value(value) == text


def test_input_is_not_mutated() -> None:
    report = make_report()
    before = copy.deepcopy(report)
    render_html(report)
    assert report == before
