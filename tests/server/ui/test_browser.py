"""The dashboard in a real headless Chromium (Debian's, driven by Playwright) against a real ``vigil serve``
filled through the real ingest API (``site.py``): every view loads with no console error and no failed
request, charts plot what the JSON API answers, the time-range control, filters, sorting, keyboard
navigation and live refresh work. Screenshots go to ``out/screenshots/``."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.server.ui.site import Site, start_site

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[3] / "out" / "screenshots"

VIEWS = {
    "overview": "/",
    "models": "/models",
    "model-credit": "/models/credit",
    "model-price": "/models/price",
    "model-assistant": "/models/assistant",
    "feature-x": "/models/credit/features/x",
    "feature-city": "/models/credit/features/city",
    "alerts": "/alerts",
    "incidents": "/incidents",
    "rules": "/rules",
    "review": "/review",
    "reports": "/reports",
    "procedure": "/procedure",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    running = start_site(tmp_path_factory.mktemp("ui"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: run scripts/install-debian-package.sh chromium chromium")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


class Watched:
    """A page and what went wrong on it: console errors and warnings, uncaught errors, failed requests and
    answers of 400 or more."""

    def __init__(self, context: BrowserContext) -> None:
        self.page: Page = context.new_page()
        self.problems: list[str] = []
        self.page.on(
            "console",
            lambda m: (
                self.problems.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning")
                else None
            ),
        )
        self.page.on("pageerror", lambda e: self.problems.append(f"uncaught: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url} {r.failure}"))
        self.page.on(
            "response", lambda r: self.problems.append(f"{r.status}: {r.url}") if r.status >= 400 else None
        )

    def open(self, path: str) -> Page:
        self.page.goto(path)
        self.page.wait_for_load_state("networkidle")
        return self.page


@pytest.fixture
def watched(browser: Browser, site: Site) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1366, "height": 860}, base_url=site.url)
    yield Watched(context)
    context.close()


def _query(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def _chart(page: Page, figure: str) -> dict[str, Any]:
    """The data a chart plots ([x, *series]) and its description, as uPlot holds them."""
    found: dict[str, Any] = page.evaluate(
        "id => { const c = window.vigil.charts[id]; return c ? {data: c.data, spec: c.spec} : null; }",
        f"chart-{figure}",
    )
    assert found is not None, f"no chart {figure} drawn"
    return found


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_every_view_loads_clean(watched: Watched) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name, path in VIEWS.items():
        page = watched.open(path)
        assert page.locator("h1").first.is_visible(), name
        drawable = page.locator("[data-chart] .plot").count()
        assert page.locator("[data-chart] canvas").count() == drawable, f"{name}: not every chart was drawn"
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    assert watched.problems == []


def test_overview_shows_health_alerts_and_slos(watched: Watched, site: Site) -> None:
    deadline = time.monotonic() + 30  # the rule is evaluated every second once the events are folded
    while time.monotonic() < deadline:
        alerts = httpx.get(f"{site.url}/v1/alerts").json()["alerts"]
        if any(a["labels"]["alertname"] == "CreditErrors" and a["status"] == "firing" for a in alerts):
            break
        time.sleep(0.2)
    page = watched.open("/")
    rows = page.locator("#models tbody tr")
    status = {r.get_attribute("data-model"): r.locator("td").nth(1).inner_text() for r in rows.all()}
    assert status["credit"].startswith("critical")  # CreditErrors fires: 30% errors in the last 8 minutes
    assert status["price"].startswith("ok") and status["assistant"].startswith("ok")
    firing = page.locator("#firing + table")
    assert firing.get_by_role("cell", name="CreditErrors", exact=True).is_visible()
    assert page.get_by_role("link", name="runbook").first.get_attribute("href") == (
        "https://runbooks.example.com/credit-errors"
    )
    assert page.get_by_text("credit-availability").first.is_visible()
    sparks = page.locator("#models tbody tr[data-model='credit'] [data-chart] canvas")
    assert sparks.count() == 3
    assert watched.problems == []


def test_charts_plot_what_the_api_answers(watched: Watched, site: Site) -> None:
    start, end = _iso(site.now - 50 * 60), _iso(site.now - 5 * 60)
    page = watched.open(f"/models/credit?from={start}&to={end}")
    step = page.locator("[data-step]").first.get_attribute("data-step")
    assert step is not None
    for figure, names in (
        ("latency", ["latency_p50", "latency_p95", "latency_p99"]),
        ("throughput", ["throughput"]),
        ("errors", ["error_rate"]),
    ):
        plotted = _chart(page, figure)
        answer = httpx.get(
            f"{site.url}/v1/models/credit/metrics",
            params={"names": ",".join(names), "from": start, "to": end, "step": step},
        ).json()["series"]
        times = [_epoch(t) for t, _ in answer[names[0]]]
        assert plotted["data"][0] == times
        for i, name in enumerate(names, start=1):
            want = [v for _, v in answer[name]]
            got = plotted["data"][i]
            assert len(got) == len(want)
            for a, b in zip(got, want, strict=True):
                assert (a is None and b is None) or math.isclose(a, b, rel_tol=1e-5), (figure, name, a, b)
        assert any(v for v in plotted["data"][1]), figure  # something was plotted
    marks = _chart(page, "throughput")["spec"]["marks"]
    assert [m["label"] for m in marks] == ["deploy v2"]
    assert abs(marks[0]["t"] - (site.now - 600)) < 1
    assert _chart(page, "errors")["spec"]["bands"] == []  # CreditErrors fired after this range
    now = watched.open("/models/credit?range=1h")
    bands = _chart(now, "errors")["spec"]["bands"]
    assert any(b["label"].startswith("CreditErrors") and b["severity"] == "critical" for b in bands)
    # the realised-quality panel: the figures of its range as the API gives them in one step over it
    # (a half hour on a multiple of itself, so both read the same rows), the Wilson interval beside a
    # share, and the reliability diagram with a bar per non-empty bin
    half = 1800
    lo = (site.now - 45 * 60) // half * half
    panel_page = watched.open(f"/models/credit?from={_iso(lo)}&to={_iso(lo + half)}")
    panel = panel_page.locator("#realised")
    assert panel.is_visible()
    whole = httpx.get(
        f"{site.url}/v1/models/credit/metrics",
        params={"names": "roc_auc", "from": _iso(lo), "to": _iso(lo + half), "step": half},
    ).json()
    auc = whole["series"]["roc_auc"][0][1]
    assert 0.5 < auc < 1
    assert panel.locator('tr[data-metric="roc_auc"] td').nth(1).inner_text() == f"{auc:.3g}"
    assert " – " in panel.locator('tr[data-metric="accuracy"] td').nth(2).inner_text()
    bars = panel_page.locator("#reliability svg rect.bin").count()
    assert bars == panel_page.locator("#reliability-bins tbody tr").count() >= 5
    assert watched.problems == []


def test_time_range_presets_custom_and_drag_to_zoom(watched: Watched, site: Site) -> None:
    page = watched.open("/models/credit?range=1h")
    first = _chart(page, "throughput")["data"][0]
    assert first[-1] - first[0] <= 3600
    page.locator(".presets").get_by_role("link", name="6h").click()
    page.wait_for_load_state("networkidle")
    assert _query(page)["range"] == ["6h"]
    wide = _chart(page, "throughput")["data"][0]
    assert wide[-1] - wide[0] > 5 * 3600  # the data follow the range

    page.locator("input[name=from]").fill(time.strftime("%Y-%m-%dT%H:%M", time.gmtime(site.now - 40 * 60)))
    page.locator("input[name=to]").fill(time.strftime("%Y-%m-%dT%H:%M", time.gmtime(site.now - 20 * 60)))
    page.get_by_role("button", name="Apply").click()
    page.wait_for_load_state("networkidle")
    query = _query(page)
    assert "from" in query and "to" in query and "range" not in query
    custom = _chart(page, "throughput")["data"][0]
    assert site.now - 41 * 60 <= custom[0] and custom[-1] <= site.now - 20 * 60

    box = page.locator("#chart-latency .u-over").bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.25, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=8)
    with page.expect_navigation():
        page.mouse.up()
    page.wait_for_load_state("networkidle")
    zoomed = _query(page)
    a, b = _epoch(zoomed["from"][0]), _epoch(zoomed["to"][0])
    assert custom[0] < a < b < custom[-1] + 60 and b - a < (custom[-1] - custom[0]) * 0.4
    assert watched.problems == []


def test_filters_and_sorting(watched: Watched, browser: Browser, site: Site) -> None:
    page = watched.open("/?range=1h")
    page.get_by_label("Team").select_option("pricing")  # submits on change
    page.wait_for_url("**team=pricing**")
    models = page.locator("#models tbody tr[data-model]")
    assert [r.get_attribute("data-model") for r in models.all()] == ["price"]
    page.goto("/?range=1h")
    page.get_by_role("link", name="p95 (ms)").click()
    page.wait_for_load_state("networkidle")
    assert _query(page)["sort"] == ["latency_p95"] and _query(page)["dir"] == ["desc"]
    order = [r.get_attribute("data-model") for r in page.locator("#models tbody tr[data-model]").all()]
    assert order == ["assistant", "credit", "price"]  # ~400 ms LLM, tripled credit latency, then price
    assert watched.problems == []

    plain = browser.new_context(java_script_enabled=False, base_url=site.url)  # the filter needs no script
    try:
        bare = plain.new_page()
        bare.goto("/?range=1h")
        bare.get_by_label("Environment").select_option("production")
        bare.get_by_role("button", name="Filter").click()
        bare.wait_for_load_state()
        rows = bare.locator("#models tbody tr[data-model]")
        assert sorted(r.get_attribute("data-model") or "" for r in rows.all()) == ["assistant", "credit"]
    finally:
        plain.close()


def test_keyboard_reaches_the_navigation(watched: Watched) -> None:
    page = watched.open("/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to content"
    page.keyboard.press("Tab")  # the brand
    focused = []
    for _ in range(3):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.textContent.trim()"))
    assert focused == ["Overview", "Models", "Alerts"]
    page.keyboard.press("Shift+Tab")  # back to Models
    page.keyboard.press("Enter")
    page.wait_for_url("**/models**")
    assert page.locator("h1").inner_text() == "Models"
    assert page.locator("nav[aria-label=Main] a[aria-current=page]").inner_text() == "Models"
    assert watched.problems == []


def test_live_refresh_can_be_paused(watched: Watched) -> None:
    page = watched.open("/models/credit?range=1h")
    button = page.locator("#live-toggle")
    assert button.get_attribute("aria-pressed") == "true"
    page.evaluate("window.vigil.refresh()")
    page.wait_for_function("window.vigil.refreshed === 1")
    assert page.locator("[data-chart] canvas").count() == page.locator("[data-chart] .plot").count()
    button.click()
    assert button.get_attribute("aria-pressed") == "false" and button.inner_text() == "Live: paused"
    page.evaluate("window.vigil.refresh()")
    page.wait_for_timeout(500)
    assert page.evaluate("window.vigil.refreshed") == 1
    page.reload()
    assert page.locator("#live-toggle").get_attribute("aria-pressed") == "false"  # stays paused
    page.locator("#live-toggle").click()
    assert page.locator("#live-toggle").get_attribute("aria-pressed") == "true"
    assert watched.problems == []


def test_empty_states_say_what_to_do(watched: Watched, site: Site) -> None:
    page = watched.open("/models/assistant?range=15m")  # the assistant went quiet 20 minutes ago
    empty = page.locator(".empty-state")
    assert "No events for assistant" in empty.inner_text()
    assert f"curl -X POST {site.url}/v1/events" in empty.inner_text()
    assert watched.problems == []


def test_the_procedure_traces_an_alert_on_the_diagram(watched: Watched) -> None:
    page = watched.open("/procedure")
    svg = page.locator("#procedure-svg")
    assert svg.evaluate("img => img.complete && img.naturalWidth > 0")  # Graphviz drew it
    page.get_by_label("Alert labels").fill("alertname=CreditErrors model=credit severity=critical")
    page.get_by_role("button", name="Trace").click()
    page.wait_for_load_state("networkidle")
    assert _query(page)["alert"] == ["alertname=CreditErrors model=credit severity=critical"]
    path = page.locator("#path-text").inner_text()
    assert "CreditErrors" in path and "credit" in path
    assert svg.evaluate("img => img.complete && img.naturalWidth > 0")
    assert "alert=alertname%3DCreditErrors" in str(svg.get_attribute("src"))
    page.screenshot(path=str(SHOTS / "procedure-path.png"), full_page=True)
    assert watched.problems == []
