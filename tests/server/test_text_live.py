"""Live text descriptors through the HTTP API: a ``type: text`` feature's length, share of empty values and
out-of-vocabulary share (against the baseline file's vocabulary) read as metrics, and ``text_drift``
flags an hour whose answers grew longer, went empty or took new words, never an hour like the baseline.

Every figure is checked against numpy on the same strings: the means are running means merged over
windows, equal to the exact ones within 1e-9 relative.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from vigil.config import parse_config
from vigil.server.app import create_app
from vigil.store.sqlite import SQLiteStore

HOUR = 3600.0
T0 = 1_800_000_000.0 - 1_800_000_000.0 % HOUR
WORDS = [f"w{i}" for i in range(3000)]
NEW = [f"n{i}" for i in range(400)]
CONFIG = """
models:
  bot:
    task: regression
    owner: {team: t}
    window: 1m
    baseline: {file: base.parquet}
    features: {x: {type: numeric}, answer: {type: text, scrub: false}}
"""


def answers(
    rng: np.random.Generator, n: int, words: tuple[int, int] = (4, 14), empty: float = 0.03, new: float = 0.0
) -> list[str | None]:
    """Answers of Zipf-distributed words (``new``: the share of words from another vocabulary), some empty
    or blank, a few null."""
    p = 1.0 / np.arange(1, len(WORDS) + 1)
    p /= p.sum()
    out: list[str | None] = []
    for _ in range(n):
        u = rng.random()
        if u < 0.01:
            out.append(None)
        elif u < 0.01 + empty:
            out.append(" " if rng.random() < 0.5 else "")
        else:
            k = int(rng.integers(*words))
            picked = [str(w) for w in rng.choice(WORDS, size=k, p=p)]
            picked = [str(rng.choice(NEW)) if rng.random() < new else w for w in picked]
            out.append(" ".join(picked).capitalize() + ".")
    return out


def exact(texts: list[str | None], known: set[str]) -> dict[str, float]:
    """The descriptors' means, worked out with plain Python and numpy (nulls left out)."""
    values = [t for t in texts if t is not None]
    words = [t.lower().replace(".", " ").split() for t in values]
    oov = [sum(w not in known for w in ws) / len(ws) for ws in words if ws]
    return {
        "text_length": float(np.mean([len(t) for t in values])),
        "text_empty": float(np.mean([t.strip() == "" for t in values])),
        "text_oov": float(np.mean(oov)),
    }


def events(texts: list[str | None], start: float, rng: np.random.Generator) -> list[dict[str, Any]]:
    n = len(texts)
    times = start + np.sort(rng.uniform(0, HOUR, n))
    return [
        {
            "model": "bot",
            "timestamp": float(t),
            "features": {"x": float(rng.normal()), "answer": a},
            "prediction": 1.0,
        }
        for t, a in zip(times, texts, strict=True)
    ]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Five hours: like the baseline, longer answers, many empty ones, new words, like the baseline again."""
    root = tmp_path_factory.mktemp("text")
    rng = np.random.default_rng(12)
    base = answers(rng, 4000)
    pd.DataFrame({"x": rng.normal(size=4000), "answer": base, "prediction": 1.0}).to_parquet(
        root / "base.parquet"
    )
    hours = [
        answers(rng, 900),
        answers(rng, 900, words=(8, 22)),
        answers(rng, 900, empty=0.15),
        answers(rng, 900, new=0.2),
        answers(rng, 900),
    ]
    app = create_app(parse_config(CONFIG), SQLiteStore(root / "v.db"), clock=lambda: T0 + 6 * HOUR, root=root)
    with TestClient(app) as c:
        for k, texts in enumerate(hours):
            batch = events(texts, T0 + k * HOUR, rng)
            assert c.post("/v1/events", json=batch).json()["accepted"] == len(batch)
        assert app.state.vigil.aggregator.wait_idle(30)
        app.state.vigil.aggregator.flush()
        names = "text_length:answer,text_empty:answer,text_oov:answer,text_drift:answer,drift:answer.length"
        r = c.get(
            "/v1/models/bot/metrics", params={"names": names, "from": T0, "to": T0 + 5 * HOUR, "step": "1h"}
        )
        assert r.status_code == 200, r.text
        series = {n: [v for _, v in points] for n, points in r.json()["series"].items()}
    known = {w for t in base[0::2] if t is not None for w in t.lower().replace(".", " ").split()}
    return {"series": series, "hours": hours, "known": known}


def test_descriptors_equal_numpy_on_the_same_strings(served: dict[str, Any]) -> None:
    series = served["series"]
    for k, texts in enumerate(served["hours"]):
        want = exact(texts, served["known"])
        for name, value in want.items():
            # running means merged over 60 one-minute windows: equal to the exact mean within 1e-9 relative
            assert series[f"{name}:answer"][k] == pytest.approx(value, rel=1e-9, abs=1e-12), (name, k)


def test_a_shift_in_length_empties_or_vocabulary_is_flagged_and_the_baseline_like_hours_are_not(
    served: dict[str, Any],
) -> None:
    assert served["series"]["text_drift:answer"] == [0.0, 1.0, 1.0, 1.0, 0.0]
    effects = served["series"]["drift:answer.length"]
    assert all(e is not None for e in effects)
    assert effects[1] > 3 * max(effects[0], effects[4])  # the longer answers' length moved most


def test_a_text_metric_without_its_feature_is_refused_naming_the_form(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    pd.DataFrame({"x": rng.normal(size=200), "answer": answers(rng, 200)}).to_parquet(
        tmp_path / "base.parquet"
    )
    app = create_app(
        parse_config(CONFIG), SQLiteStore(tmp_path / "v.db"), clock=lambda: T0 + HOUR, root=tmp_path
    )
    with TestClient(app) as c:
        r = c.get("/v1/models/bot/metrics", params={"names": "text_oov", "from": T0, "to": T0 + HOUR})
    assert r.status_code in (400, 422) and "text_oov:<feature>" in r.text, r.text
