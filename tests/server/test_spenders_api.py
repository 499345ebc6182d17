"""Who spends, end to end: the real OpenTelemetry SDK exports LLM spans with a user and a feature to a real
`vigil serve`; ``GET /v1/models/assistant/spenders`` lists the costliest users exactly, the rest as
"other", and ``top_spender_share`` reads the costliest user's share. The exact figures are summed here."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from tests.server.test_otlp import CONFIG, Serve

SPEND = CONFIG.replace(
    "owner: {team: assistants}", "owner: {team: assistants}\n    spend: {by: [user, feature], top: 3}"
)
PRICE_IN, PRICE_OUT = 2.5e-6, 10e-6


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    s = Serve(tmp_path, SPEND)
    try:
        yield s
    finally:
        s.stop()


def test_top_spenders_exact_the_rest_other_and_the_top_share(serve: Serve) -> None:
    os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    provider = TracerProvider(resource=Resource.create({"service.name": "support-bot"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=serve.otlp_url + "/v1/traces")))
    tracer = provider.get_tracer("test")
    # three heavy users (each call costs more than all light users together), eight light ones, and
    # calls without a user (unattributed)
    calls: list[tuple[str | None, str, int, int]] = [
        (f"u-{h}", "chat", 4000 * (h + 1), 800) for h in range(3) for _ in range(3)
    ]
    calls += [(f"light-{i}", "search", 10, 2) for i in range(8) for _ in range(2)]
    calls += [(None, "chat", 100, 10)] * 2
    cost: dict[str | None, float] = defaultdict(float)
    tokens: dict[str | None, int] = defaultdict(int)
    for user, feature, t_in, t_out in calls:
        with tracer.start_as_current_span("chat gpt-4o") as span:
            attributes: dict[str, str | int] = {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": t_in,
                "gen_ai.usage.output_tokens": t_out,
                "app.feature": feature,
            }
            if user is not None:
                attributes["user.id"] = user
            span.set_attributes(attributes)
        cost[user] += t_in * PRICE_IN + t_out * PRICE_OUT
        tokens[user] += t_in + t_out
    provider.force_flush()
    provider.shutdown()
    whole = sum(cost.values())
    assert serve.totals("events,cost")["cost"] == pytest.approx(whole, rel=1e-9)

    r = httpx.get(serve.url + "/v1/models/assistant/spenders", params={"by": "user", "range": "1d"})
    assert r.status_code == 200, r.text
    got = r.json()
    heavy = sorted((u for u in cost if u and u.startswith("u-")), key=lambda u: -cost[u])
    assert [s["value"] for s in got["top"]] == heavy == ["u-2", "u-1", "u-0"]
    for s in got["top"]:
        assert s["cost"] == pytest.approx(cost[s["value"]], rel=1e-9)
        assert s["tokens"] == tokens[s["value"]]
        assert s["share"] == pytest.approx(cost[s["value"]] / whole, rel=1e-9)
    light = sum(c for u, c in cost.items() if u and u.startswith("light"))
    assert not got["exact"]
    assert got["other"]["cost"] == pytest.approx(light, rel=1e-9)
    assert got["other"]["tokens"] == sum(t for u, t in tokens.items() if u and u.startswith("light"))
    assert got["unattributed"]["cost"] == pytest.approx(cost[None], rel=1e-6)
    assert got["cost"] == pytest.approx(whole, rel=1e-9)

    by_feature = httpx.get(
        serve.url + "/v1/models/assistant/spenders", params={"by": "feature", "range": "1d"}
    ).json()
    assert by_feature["exact"] and [s["value"] for s in by_feature["top"]] == ["chat", "search"]

    share = httpx.get(
        serve.url + "/v1/models/assistant/metrics", params={"names": "top_spender_share", "step": "1d"}
    ).json()["series"]["top_spender_share"]
    assert [v for _, v in share if v is not None] == [pytest.approx(cost["u-2"] / whole, rel=1e-9)]

    r = httpx.get(serve.url + "/v1/models/assistant/spenders", params={"by": "region"})
    assert r.status_code == 422 and "spend.by" in r.text and "['user', 'feature']" in r.text

    # the dashboard's model page shows the same table (server-rendered), and its JSON link answers it
    page = httpx.get(serve.url + "/models/assistant", params={"range": "24h"})
    assert page.status_code == 200, page.text[:500]
    table = page.text[page.text.index('id="spend-user"') :]
    table = table[: table.index("</table>")]
    rows = [r for r in table.split("<tr>")[2:] if "<td>" in r]
    assert [r.split("<td>")[1].split("</td>")[0] for r in rows[:3]] == ["u-2", "u-1", "u-0"]
    assert f"<td>{cost['u-2']:.4f}</td>" in rows[0]
    assert f"{100 * cost['u-2'] / whole:.1f}%" in rows[0]
    assert "<td>other</td>" in table and f"<td>{light:.4f}</td>" in table
    link = page.text[page.text.index("/v1/models/assistant/spenders?by=user") :].split('"')[0]
    answer = httpx.get(serve.url + link.replace("&amp;", "&")).json()
    assert [s["value"] for s in answer["top"]] == heavy
