"""Shared by the procedure tests: the shipped example, a config with a deep route tree, Mermaid's parser."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

import vigil
from vigil.config import parse_config
from vigil.procedure import Sections, check_sections, load_sections

EXAMPLE = Path(vigil.__file__).parent / "examples" / "monitoring.yaml"
MERMAID = Path(__file__).parent / "mermaid"

NESTED = """
models:
  fraud: {task: binary, owner: {team: risk-ml, contact: "#fraud"}, versions: [a, b], high_impact: true}
  eta: {task: regression, owner: {team: logistics}, environment: staging}
rules:
  - {name: Slow, metric: latency_p95, warning: 200, critical: 900, runbook: "https://rb.example.com/slow"}
  - {name: FraudScoreShift, model: fraud, metric: drift, feature: amount, warning: 0.1, critical: 0.3,
     labels: {service: scoring, tier: gold}}
  - {name: EtaCost, model: eta, metric: cost, warning: 10, route: finance}
  - {name: Ghost, model: nobody, metric: error_rate, critical: 0.5}
  - {name: HostHot, model: eta, metric: host_cpu_percent, critical: 90}
slos:
  - {name: fraud-avail, model: fraud, sli: availability, target: 0.999, window: 7d}
actions:
  - {name: rollback-any, model: "*", kind: rollback, when: {alerts: [Slow, ErrorRateHigh], min_signals: 2},
     mlflow: {tracking_uri: "http://mlflow.example.com", registered_model: "{model}-m"}}
  - {name: retrain-eta, model: eta, kind: retrain, when: {alerts: [MaeRise], severity: critical},
     command: [/usr/bin/retrain, "{model}"]}
alerting:
  route:
    group_by: [alertname]
    routes:
      - matchers: ['team="risk-ml"']
        receiver: risk
        continue: true
        routes:
          - matchers: ['severity="critical"']
            receiver: pager
            continue: true
            routes:
              - {matchers: ['tier=~"gold|platinum"'], receiver: vip, group_wait: 0s}
          - {matchers: ['severity="critical"'], receiver: risk-chat}
          - {matchers: ['alertname!="NoData"', 'severity="warning"'], receiver: risk-chat, group_by: ['...']}
      - {matchers: ['route="finance"'], receiver: finance}
      - {matchers: ['severity="critical"'], receiver: pager}
      - {matchers: ['team="nobody"'], receiver: idle}
  receivers:
    - {name: risk, webhook: "http://127.0.0.1:9/risk"}
    - {name: pager, pagerduty: pd-key}
    - {name: vip, slack: "https://hooks.example.com/vip"}
    - {name: risk-chat, slack: "https://hooks.example.com/risk"}
    - {name: finance, email: {host: smtp.example.com, from: v@example.com, to: [fin@example.com]}}
    - {name: idle, alertmanager: "http://127.0.0.1:9093"}
    - {name: unused, webhook: "http://127.0.0.1:9/unused"}
  maintenance:
    - {name: eta-nightly, matchers: ['model="eta"'], weekly: {days: [mon], start: "01:00", end: "02:00"}}
"""
"""Three levels of routes, ``continue`` at two of them, regex and negative matchers, a root that names no
receiver (every receiver), a rule for an undeclared model, one on host metrics, a receiver nothing reaches,
and an action whose trigger a rule can never meet."""


def checked(text: str, filename: str = "vigil.yaml") -> Sections:
    return check_sections(parse_config(text), filename, text)


@pytest.fixture(scope="session")
def example() -> Sections:
    return load_sections(EXAMPLE)


@pytest.fixture(scope="session")
def nested() -> Sections:
    return checked(NESTED)


def mermaid_parse(texts: list[str]) -> list[dict[str, object]]:
    """Mermaid's own verdict on each text (``tests/procedure/mermaid``, installed by
    ``scripts/install-mermaid-parser.sh``); skips the test when it is not installed."""
    node = shutil.which("node")
    if node is None or not (MERMAID / "node_modules" / "mermaid").is_dir():
        pytest.skip("Mermaid's parser is not installed: run scripts/install-mermaid-parser.sh (needs npm)")
    done = subprocess.run(
        [node, str(MERMAID / "parse.mjs")],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=MERMAID,
        check=True,
    )
    found: list[dict[str, object]] = json.loads(done.stdout)
    return found
