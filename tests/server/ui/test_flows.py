"""The alerts console, incidents, rules, review and reports in a real headless Chromium (Debian's, driven by
Playwright) against a real server with real firing alerts (``flows_site.py``), each person signed in by
their own named key (``X-API-Key`` on every request of their browser context): every view loads with no
console error and no failed request, and the flows work from clicks: acknowledge, silence (prefilled)
and expire, comment, incident note, an action requested by one person and approved by another (four
eyes, the refusal shown), a false alarm counted in the review, a replay drawn as the API computes it, a
drift report downloaded as the API answers it. Screenshots go to ``out/screenshots/flows-*.png``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page

from tests.server.ui.flows_site import KEYS, FlowSite, flow_site
from tests.server.ui.test_browser import SHOTS, Watched, _chart, browser

__all__ = ["browser"]  # the module's Chromium (ui-core's fixture)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowSite]:
    with flow_site(tmp_path_factory.mktemp("flows")) as running:
        yield running


def _context(browser: Browser, site: FlowSite, who: str, **options: object) -> BrowserContext:
    return browser.new_context(
        viewport={"width": 1366, "height": 860},
        base_url=site.url,
        extra_http_headers={"X-API-Key": KEYS[who]},
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def alice(browser: Browser, site: FlowSite) -> Iterator[Watched]:
    context = _context(browser, site, "alice")
    yield Watched(context)
    context.close()


@pytest.fixture
def bob(browser: Browser, site: FlowSite) -> Iterator[Watched]:
    context = _context(browser, site, "bob")
    yield Watched(context)
    context.close()


def _card(page: Page, alertname: str, model: str) -> Locator:
    return page.locator(f"li.alert-card[data-alert='{alertname}'][data-model='{model}']")


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"flows-{name}.png"), full_page=True)


def test_every_flow_view_loads_clean(alice: Watched, site: FlowSite) -> None:
    credit = site.incident_of("credit")
    fp = site.alert("PriceErrors")["fingerprint"]
    views = {
        "alerts": "/alerts",
        "alerts-by-severity": "/alerts?group=severity",
        "silence-form": f"/alerts/silences/new?fingerprint={fp}",
        "incidents": "/incidents",
        "incident": f"/incidents/{credit}",
        "rules": "/rules",
        "replay": "/rules/replay?rule=CreditErrors&model=credit&range=1h",
        "review": "/review",
        "reports": "/reports",
        "reports-range": "/reports?model=credit&against=range&range=15m&ref_from="
        + _iso(site.clock.now - 40 * 60)
        + "&ref_to="
        + _iso(site.clock.now - 20 * 60),
    }
    for name, path in views.items():
        page = alice.open(path)
        assert page.locator("h1").first.is_visible(), name
        drawable = page.locator("[data-chart] .plot").count()
        assert page.locator("[data-chart] canvas").count() == drawable, f"{name}: not every chart was drawn"
        assert page.evaluate(UNLABELLED) == [], f"{name}: a control without a label or a button without text"
        assert page.evaluate(NO_CSRF) == [], f"{name}: a form without its csrf_token field"
        _shot(page, name)
    assert alice.problems == []


UNLABELLED = """() => [...document.querySelectorAll("input, select, textarea, button")]
  .filter(el => el.type !== "hidden")
  .filter(el => el.tagName === "BUTTON"
    ? !el.textContent.trim()
    : !(el.labels && el.labels.length)
      && !el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby"))
  .map(el => el.outerHTML.slice(0, 120))"""
NO_CSRF = """() => [...document.querySelectorAll("form[method=post]")]
  .filter(f => !f.querySelector("input[type=hidden][name=csrf_token]"))
  .map(f => f.getAttribute("action"))"""


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _settle(page: Page) -> None:
    page.wait_for_load_state("networkidle")


def _states(page: Page) -> set[tuple[str | None, str | None]]:
    cards = page.locator("li.alert-card").all()
    return {(c.get_attribute("data-alert"), c.get_attribute("data-state")) for c in cards}


def test_the_console_shows_every_state_with_what_to_act_on(alice: Watched, site: FlowSite) -> None:
    page = alice.open("/alerts")
    assert {
        ("CreditErrors", "firing"),
        ("PriceErrors", "firing"),
        ("NoData", "firing"),
        ("FraudDrift", "inhibited"),
        ("CreditLatency", "pending"),
    } <= _states(page)
    credit = _card(page, "CreditErrors", "credit")
    fired = site.alert("CreditErrors")
    assert f"{fired['annotations']['value']} (threshold 0.2)" in credit.inner_text()
    runbook = credit.get_by_role("link", name="runbook")
    assert runbook.get_attribute("href") == "https://runbooks.example.com/credit-errors"
    incident = site.incident_of("credit")
    assert str(credit.get_by_role("link", name=incident).get_attribute("href", timeout=1000)).startswith(
        f"/incidents/{incident}"
    )
    chart = credit.get_by_role("link", name="Chart").get_attribute("href") or ""
    assert chart == fired["annotations"]["dashboard_url"] and chart.startswith("/models/credit?")
    assert "no data mutes drift" in _card(page, "FraudDrift", "fraud").inner_text()
    pending = _card(page, "CreditLatency", "credit").inner_text()
    assert "if it keeps breaching" in pending and "(threshold 10)" in pending

    page.locator("select[name=state]").select_option("pending")  # filters on change
    page.wait_for_url("**state=pending**")
    assert _states(page) == {("CreditLatency", "pending")}
    page.goto("/alerts?group=severity")
    headings = [h.inner_text() for h in page.locator(".alert-group h2").all()]
    assert [h.split()[1] for h in headings] == ["critical", "warning"]
    _shot(page, "alerts-grouped")
    assert alice.problems == []


def test_acknowledge_from_the_console(alice: Watched, site: FlowSite) -> None:
    fp = site.alert("CreditErrors")["fingerprint"]
    page = alice.open("/alerts?model=credit")
    _card(page, "CreditErrors", "credit").get_by_role("button", name="Acknowledge").click()
    page.wait_for_url(f"**/alerts?model=credit#alert-{fp}")
    _settle(page)
    card = _card(page, "CreditErrors", "credit")
    assert "acknowledged by alice" in card.inner_text()
    assert card.get_by_role("button", name="Acknowledge").count() == 0
    incident = site.api("GET", f"/v1/incidents/{site.incident_of('credit')}").json()
    assert (incident["status"], incident["acked_by"]) == ("acknowledged", "alice")
    assert ("alice", "incident.ack") in site.audit()
    assert alice.problems == []


def test_silence_an_alert_from_its_prefilled_form_then_expire_it(alice: Watched, site: FlowSite) -> None:
    page = alice.open("/alerts")
    _card(page, "PriceErrors", "price").get_by_role("link", name="Silence…").click()
    _settle(page)
    assert page.get_by_label("Matchers").input_value() == 'alertname="PriceErrors"\nmodel="price"'
    assert "PriceErrors on price" in page.locator("#mutes + ul").inner_text()
    page.get_by_label("Duration").fill("1h")
    page.get_by_label("Comment").fill("the pricing feed is being reloaded")
    _shot(page, "silence-filled")
    page.get_by_role("button", name="Create silence").click()
    page.wait_for_url("**/alerts#silences")
    _settle(page)
    row = page.locator("#silence-table tbody tr").first
    assert 'alertname="PriceErrors"' in row.inner_text() and "alice" in row.inner_text()
    assert "active" in row.inner_text() and "the pricing feed is being reloaded" in row.inner_text()
    silence = str(row.get_attribute("data-silence"))
    card = _card(page, "PriceErrors", "price")
    assert card.get_attribute("data-state") == "silenced" and silence in card.inner_text()
    assert site.alert("PriceErrors")["silencedBy"] == [silence]
    _shot(page, "alerts-silenced")

    site.clock.now += 5  # a little later
    row.get_by_role("button", name="Expire").click()
    page.wait_for_url("**/alerts#silences")
    _settle(page)
    assert _card(page, "PriceErrors", "price").get_attribute("data-state") == "firing"
    assert "expired" in page.locator(f"#silence-{silence}").inner_text()
    assert site.alert("PriceErrors")["silencedBy"] == []
    assert {("alice", "silence.create"), ("alice", "silence.expire")} <= site.audit()
    assert alice.problems == []


def test_a_note_and_an_action_approved_by_a_second_person(
    alice: Watched, bob: Watched, site: FlowSite
) -> None:
    incident = site.incident_of("credit")
    page = alice.open(f"/incidents/{incident}")
    page.get_by_label("Add a note").fill("errors started with the v2 rollout")
    page.get_by_role("button", name="Add note").click()
    page.wait_for_url(f"**/incidents/{incident}#timeline")
    _settle(page)
    newest = page.locator("ol.timeline li").first.inner_text()
    assert "note" in newest and "alice" in newest and "errors started with the v2 rollout" in newest

    page.get_by_label("Action", exact=True).select_option("rollback-credit")
    page.get_by_label("Reason").fill("errors since the v2 rollout")
    page.get_by_role("button", name="Request", exact=True).click()
    page.wait_for_url(f"**/incidents/{incident}#actions")
    _settle(page)
    run = page.locator("#run-table tbody tr").first
    run_id = run.get_attribute("data-run")
    assert run.get_attribute("data-state") == "awaiting_approval"
    assert "alice" in run.inner_text() and "needed: another person" in run.inner_text()

    with page.expect_response(lambda r: r.url.endswith(f"/actions/runs/{run_id}/approve")) as answer:
        run.get_by_role("button", name="Approve").click()
    assert answer.value.status == 409
    _settle(page)
    assert page.locator("h1").inner_text() == "Not approved"
    refusal = page.get_by_role("alert").inner_text()
    assert "four eyes" in refusal and "alice requested run" in refusal
    _shot(page, "approval-refused")
    assert alice.problems == [  # the refusal's status, which Chromium also logs
        f"409: {site.url}/actions/runs/{run_id}/approve",
        "console error: Failed to load resource: the server responded with a status of 409 (Conflict)",
    ]

    other = bob.open(f"/incidents/{incident}")
    other.locator(f"tr[data-run='{run_id}']").get_by_role("button", name="Approve").click()
    other.wait_for_url(f"**/incidents/{incident}#actions")
    _settle(other)
    done = other.locator(f"tr[data-run='{run_id}']")
    assert done.get_attribute("data-state") == "succeeded" and "approved by bob" in done.inner_text()
    assert "v2 → v1" in done.inner_text()
    assert site.api("GET", "/v1/models/credit").json()["live"] == "v1"
    timeline = other.locator("ol.timeline").inner_text()
    assert "approved by bob" in timeline
    episode = other.locator("#episode-table tbody tr", has_text="CreditErrors")
    episode.get_by_role("button", name="Real problem").click()  # a verdict from the incident's page
    other.wait_for_url(f"**/incidents/{incident}#alert-*")
    _settle(other)
    verdict = other.locator("#episode-table tbody tr", has_text="CreditErrors").inner_text()
    assert "real problem (bob)" in verdict
    _shot(other, "incident-after-approval")
    assert {
        ("alice", "action.request"),
        ("alice", "action.approve_denied"),
        ("bob", "action.approve"),
        ("bob", "action.execute"),
        ("alice", "incident.note"),
    } <= site.audit()
    assert bob.problems == []


def test_a_false_alarm_is_counted_in_the_review(alice: Watched, site: FlowSite) -> None:
    page = alice.open("/alerts?model=fraud")
    _card(page, "NoData", "fraud").get_by_role("button", name="False alarm").click()
    page.wait_for_url("**/alerts?model=fraud#alert-*")
    _settle(page)
    assert "false alarm (alice)" in _card(page, "NoData", "fraud").inner_text()
    review = alice.open("/review")
    row = review.locator("#review-table tr[data-rule='NoData'] td")
    headings = [h.inner_text() for h in review.locator("#review-table thead th").all()]
    assert row.nth(headings.index("False")).inner_text() == "1"
    # other tests judge alerts on the same (fake) clock: find this one's row, not the first
    judged = review.locator("#judged-table tbody tr", has_text="NoData").first.inner_text()
    assert "false alarm" in judged and "alice" in judged
    _shot(review, "review-judged")
    api = site.api("GET", "/v1/review").json()
    assert next(r for r in api["rules"] if r["rule"] == "NoData")["overall"]["false"] == 1
    assert ("alice", "alert.verdict") in site.audit()
    assert alice.problems == []


def test_forms_work_without_javascript(browser: Browser, site: FlowSite) -> None:
    context = _context(browser, site, "bob", java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto("/alerts?model=price")
        card = _card(page, "PriceErrors", "price")
        card.locator("summary", has_text="Comment").click()
        card.get_by_label("Comment on PriceErrors").fill("feed owner paged")
        card.get_by_role("button", name="Add comment").click()
        page.wait_for_load_state()
        assert page.url.startswith(f"{site.url}/alerts?model=price#alert-")
        incident = site.api("GET", f"/v1/incidents/{site.incident_of('price')}").json()
        last = incident["timeline"][-1]
        assert (last["kind"], last["actor"], last["text"]) == ("note", "bob", "PriceErrors: feed owner paged")
    finally:
        context.close()


def test_replay_draws_what_the_api_computes(alice: Watched, site: FlowSite) -> None:
    start, end = _iso(site.clock.now - 50 * 60), _iso(site.clock.now)
    page = alice.open(f"/rules/replay?rule=CreditErrors&model=credit&from={start}&to={end}")
    drawn = _chart(page, "replay")
    body = {"name": "CreditErrors", "model": "credit", "from": start, "to": end}
    answer = site.api("POST", "/v1/rules/test", json=body).json()
    assert answer["firings"], "CreditErrors fires in the last minutes"
    assert [(b["from"], b["to"], b["severity"]) for b in drawn["spec"]["bands"]] == [
        (f["fired_at"], f["resolved_at"], f["severity"]) for f in answer["firings"]
    ]
    assert len(drawn["data"][0]) == answer["evaluations"]
    assert {(t["value"], t["severity"]) for t in drawn["spec"]["thresholds"]} == {
        (0.05, "warning"),
        (0.2, "critical"),
    }
    assert page.locator("#firing-table tbody tr").count() == len(answer["firings"])
    assert alice.problems == []


def test_drift_report_downloads_as_the_api_answers(alice: Watched, site: FlowSite) -> None:
    start, end = _iso(site.clock.now - 30 * 60), _iso(site.clock.now)
    page = alice.open(f"/reports?model=fraud&from={start}&to={end}")
    assert page.locator("#report-table tr[data-column='x']").get_by_text("drifted").is_visible()
    with page.expect_download() as got:
        page.get_by_role("link", name="Download JSON").click()
    saved = json.loads(Path(got.value.path()).read_text())
    assert got.value.suggested_filename.endswith(".json")
    api = site.api("GET", "/v1/models/fraud/drift", params={"from": start, "to": end}).json()
    assert saved["drift_share"] == api["drift_share"]
    assert saved["columns"]["x"]["effect"] == api["columns"]["x"]["effect"]
    with page.expect_download() as got:
        page.get_by_role("link", name="Download HTML").click()
    html = Path(got.value.path()).read_text()
    assert html.lstrip().lower().startswith("<!doctype html") and "Kolmogorov" in html

    ref_from, ref_to = _iso(site.clock.now - 40 * 60), _iso(site.clock.now - 30 * 60)
    page = alice.open(f"/reports?model=fraud&against=range&ref_from={ref_from}&ref_to={ref_to}&range=15m")
    assert "against 20" in page.locator("#report-h").inner_text()  # the reference range, in words
    assert page.locator("#report-table tr[data-column='x']").get_by_text("drifted").is_visible()
    # a download ends the navigation that fetched it: Chromium reports it aborted, and nothing else failed
    assert [p for p in alice.problems if "/reports/drift." not in p or "ERR_ABORTED" not in p] == []
    assert len(alice.problems) == 2


def _sign_in(browser: Browser, site: FlowSite, who: str, path: str) -> tuple[BrowserContext, Page]:
    """A browser with no key of its own, sent to sign in on its way to ``path``, then signed in as ``who``."""
    context = browser.new_context(viewport={"width": 1366, "height": 860}, base_url=site.url)
    page = context.new_page()
    page.goto(path)
    assert urlparse(page.url).path == "/login", page.url
    page.get_by_label("API key").fill(KEYS[who])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")
    assert page.url == f"{site.url}{path}", page.url
    return context, page


def test_a_signed_in_viewer_reads_sees_no_edit_and_is_refused_one(browser: Browser, site: FlowSite) -> None:
    context, page = _sign_in(browser, site, "carol", "/alerts?model=credit")
    try:
        card = _card(page, "CreditErrors", "credit")
        assert card.is_visible()
        # a viewer is shown no form the server would refuse them
        for name in ("Acknowledge", "False alarm", "Real problem", "Silence…"):
            assert card.get_by_role("button", name=name).count() == 0, name
        assert card.locator("summary", has_text="Comment").count() == 0
        assert page.get_by_role("link", name="New silence").count() == 0
        # a comment sent anyway (a form of its own, with the session's token) is refused, on a page of the
        # dashboard's own look, and nothing is added
        fingerprint = card.get_attribute("data-fingerprint") or card.get_attribute("id") or ""
        with page.expect_response(lambda r: r.request.method == "POST") as answer:
            page.evaluate(
                """fp => {
                const f = document.createElement('form');
                f.method = 'post'; f.action = '/alerts/' + fp + '/comment';
                for (const [k, v] of [['text', 'looking'], ['back', '/alerts'],
                    ['csrf_token', document.querySelector('form.who input[name=csrf_token]').value]]) {
                    const i = document.createElement('input'); i.name = k; i.value = v; f.appendChild(i);
                }
                document.body.appendChild(f); f.submit();
            }""",
                _fingerprint(site, "CreditErrors", "credit") or fingerprint,
            )
        assert answer.value.status == 403
        page.wait_for_load_state()
        assert "needs the editor role" in page.locator(".refusal").inner_text()
        assert "Signed in as carol (viewer)" in page.locator("header .who").inner_text()
        _shot(page, "viewer-refused")
        timeline = site.api("GET", f"/v1/incidents/{site.incident_of('credit')}").json()["timeline"]
        assert not any(e["text"] == "CreditErrors: looking" for e in timeline)
    finally:
        context.close()


def _fingerprint(site: FlowSite, alertname: str, model: str) -> str | None:
    alerts = site.api("GET", "/v1/alerts").json()
    rows = alerts if isinstance(alerts, list) else alerts.get("alerts", [])
    for a in rows:
        labels = a.get("labels", a)
        if labels.get("alertname") == alertname and labels.get("model") == model:
            return str(a.get("fingerprint"))
    return None


def test_a_signed_in_editor_acts_through_the_session_and_its_csrf_token(
    browser: Browser, site: FlowSite
) -> None:
    context, page = _sign_in(browser, site, "bob", "/alerts?model=credit")
    try:
        assert "Signed in as bob (admin)" in page.locator("header .who").inner_text()
        card = _card(page, "CreditErrors", "credit")
        card.locator("summary", has_text="Comment").click()
        card.get_by_label("Comment on CreditErrors").fill("signed in, no key header")
        card.get_by_role("button", name="Add comment").click()
        page.wait_for_load_state("networkidle")
        timeline = site.api("GET", f"/v1/incidents/{site.incident_of('credit')}").json()["timeline"]
        assert any(
            (e["actor"], e["text"]) == ("bob", "CreditErrors: signed in, no key header") for e in timeline
        )
        # the same form without the session's token is refused
        answer = context.request.post(
            f"/alerts/{site.alert('CreditErrors')['fingerprint']}/comment",
            form={"text": "forged", "csrf_token": "not-this-sessions"},
            max_redirects=0,
        )
        assert answer.status == 403 and "csrf_token" in answer.text()
        page.get_by_role("button", name="Sign out").click()  # the header's form, with the session's token
        page.wait_for_load_state("networkidle")
        page.goto("/alerts")
        assert urlparse(page.url).path == "/login"  # signed out: sent to sign in again
    finally:
        context.close()
