"""`vigil serve` and `vigil ingest` as a user runs them: real processes, real HTTP."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from tests.server.test_durability import Server


def test_ingest_a_batch_scoring_file(tmp_path: Path) -> None:
    server = Server(tmp_path, flush_every=0.2)
    server.start()
    try:
        rng = np.random.default_rng(0)
        n = 12_000
        df = pd.DataFrame(
            {
                "request_id": [f"r{i}" for i in range(n)],
                "x": rng.normal(size=n),
                "city": rng.choice(["a", "b"], n),
                "prediction": rng.integers(0, 2, n),
                "score": rng.random(n),
                "segment.region": rng.choice(["eu", "us"], n),
            }
        )
        df.loc[5, "x"] = np.inf  # one bad row: named, the rest accepted
        path = tmp_path / "scores.parquet"
        df.to_parquet(path)
        done = subprocess.run(
            [
                str(Path(sys.executable).parent / "vigil"),
                "ingest",
                str(path),
                "--model",
                "m",
                "--url",
                server.url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert f"{n - 1} of {n} rows accepted" in done.stdout
        assert "1 rejected — features.x" in done.stdout
        assert done.stderr == ""  # no progress bar when not a terminal
        series = httpx.get(
            server.url + "/v1/models/m/metrics", params={"names": "events,score_mean", "step": "1d"}
        ).json()
        events = sum(v or 0 for _, v in series["series"]["events"])
        assert events == n - 1
        sample = httpx.get(server.url + "/v1/models/m/events", params={"limit": 3}).json()["events"]
        assert {"x", "city"} <= set(sample[0]["features"]) and set(sample[0]["segments"]) == {"region"}
    finally:
        server.stop()
