"""The alerting package's public names, and that it stays free of server, store and HTTP imports."""

from __future__ import annotations

import subprocess
import sys

import vigil.alerting


def test_public_names_are_pinned() -> None:
    assert sorted(vigil.alerting.__all__) == sorted(
        [
            "Alert",
            "AlertState",
            "AlertStatus",
            "AnyMuter",
            "Dispatcher",
            "InhibitRule",
            "Inhibitor",
            "Labels",
            "MatchType",
            "Matcher",
            "MatcherError",
            "Muter",
            "Notification",
            "Phase",
            "Reason",
            "Route",
            "Severity",
            "Silence",
            "SilenceState",
            "Silences",
            "Timing",
            "alerts_for",
            "fingerprint",
            "matches_all",
            "parse_matcher",
            "step",
        ]
    )
    for name in vigil.alerting.__all__:
        assert hasattr(vigil.alerting, name), name


def test_imports_nothing_from_server_store_or_http() -> None:
    code = (
        "import sys, vigil.alerting\n"
        "heavy = {'fastapi', 'httpx', 'pydantic', 'starlette', 'psycopg', 'uvicorn', 'pandas', 'numpy'}\n"
        "ours = ('vigil.server', 'vigil.store', 'vigil.sdk')\n"
        "print(' '.join(m for m in sys.modules if m.split('.')[0] in heavy or m.startswith(ours)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
