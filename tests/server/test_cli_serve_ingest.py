"""`vigil serve` and `vigil ingest` as a user runs them: real processes, real HTTP."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq

from tests.server.test_durability import Server


def _ingest(path: Path, url: str) -> subprocess.CompletedProcess[str]:
    vigil = str(Path(sys.executable).parent / "vigil")
    args = [vigil, "ingest", str(path), "--model", "m", "--url", url]
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def _events(url: str) -> int:
    """Events counted by the server, once the count has stopped moving (folding runs behind the answer)."""
    last = -1
    while True:
        series = httpx.get(url + "/v1/models/m/metrics", params={"names": "events", "step": "1d"}).json()
        count = int(sum(v or 0 for _, v in series["series"]["events"]))
        if count == last:
            return count
        last = count
        time.sleep(0.5)


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
        df.loc[5, "x"] = np.inf  # bad rows: named, the rest accepted
        df.loc[[7_000, 11_000, 11_001, 11_002], "score"] = 1e308
        path = tmp_path / "scores.parquet"
        df.to_parquet(path)
        done = _ingest(path, server.url)
        assert done.returncode == 1, done.stdout + done.stderr  # rows were refused: not a success
        lines = done.stdout.splitlines()
        assert lines[0] == f"{n - 5} of {n} rows accepted into 'm'; 5 refused:"
        assert lines[1] == "  4 × score"
        assert lines[2].startswith("      row 7001: 1e+308 is too large")  # rows counted from 1
        assert lines[5] == "      … and 1 more"
        assert lines[6] == "  1 × features.x"
        assert lines[7] == "      row 6: NaN and infinity are not allowed; send null for a missing value"
        assert done.stderr == ""  # no progress bar when not a terminal
        assert _events(server.url) == n - 5
        sample = httpx.get(server.url + "/v1/models/m/events", params={"limit": 3}).json()["events"]
        assert {"x", "city"} <= set(sample[0]["features"]) and set(sample[0]["segments"]) == {"region"}

        again = _ingest(path, server.url)  # sent again (by mistake, or after a failure half-way)
        assert again.returncode == 1 and again.stdout == done.stdout
        assert _events(server.url) == n - 5  # nothing counted twice

        good = tmp_path / "good.csv"
        df.drop(index=[5, 7_000, 11_000, 11_001, 11_002]).head(100).to_csv(good, index=False)
        ok = _ingest(good, server.url)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert ok.stdout == "100 of 100 rows accepted into 'm'\n"
        assert _events(server.url) == n - 5 + 100
    finally:
        server.stop()


def test_ingest_names_times_past_year_9999_and_refuses_a_column_of_bytes(tmp_path: Path) -> None:
    """A time past year 9999 (or before year 1) stopped ``vigil ingest`` with an OverflowError naming no row;
    a column of bytes with an orjson TypeError."""
    server = Server(tmp_path, flush_every=0.2)
    server.start()
    try:
        now = int(time.time())
        seconds = [now - 120, 400_000_000_000, now - 60, -62_135_596_801]  # rows 2 and 4: years 14645, 0
        times = pa.table(
            {"timestamp": pa.array(seconds, pa.timestamp("s", "UTC")), "x": [1.0, 2.0, 3.0, 4.0]}
        )
        path = tmp_path / "times.feather"
        feather.write_feather(times, path)
        done = _ingest(path, server.url)
        assert done.returncode == 1, done.stdout + done.stderr
        assert done.stdout.splitlines() == [
            "2 of 4 rows accepted into 'm'; 2 refused:",
            "  2 × timestamp",
            "      row 2: Value error, time out of range (years 1 to 9999) (got '14645-06-30T15:06:40Z')",
            "      row 4: Value error, time out of range (years 1 to 9999) (got '0000-12-31T23:59:59Z')",
        ]
        assert _events(server.url) == 2

        blob = tmp_path / "blob.parquet"
        pq.write_table(
            pa.table({"x": [1.0, 2.0], "payload": pa.array([b"1", b"\xff"], pa.large_binary())}), blob
        )
        refused = _ingest(blob, server.url)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert refused.stderr == (
            f"error: {blob}: column 'payload' is large_binary, bytes, which no event holds: decode it to "
            "text (UTF-8) before writing the file, or drop it\n"
        )
        assert refused.stdout == ""
        assert _events(server.url) == 2  # nothing of that file sent
    finally:
        server.stop()
