"""Fairness and worst slices through the real app and a SQLite store: predictions posted with request ids and
segment tags, labels posted after them, then ``/fairness``, ``/slices`` and the fairness series of
``/metrics`` read and checked against fairlearn and scipy on the posted rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fairlearn import metrics as fl
from fastapi.testclient import TestClient
from scipy import stats

from tests.fakes import FakeClock
from vigil.config import parse_config
from vigil.server.app import create_app
from vigil.server.ui.render import fmt_number
from vigil.store.sqlite import SQLiteStore

T0 = 1_800_000_000.0
CONFIG = """
models:
  clf:
    task: binary
    owner: {team: risk}
    segments: [gender, region]
    fairness: {protected: [gender], min_group: 30}
  reg: {task: regression, owner: {team: pricing}, segments: [region]}
  bare: {task: binary, owner: {team: risk}, segments: [region]}
  strict:
    task: binary
    owner: {team: risk}
    segments: [gender]
    fairness: {protected: [gender], min_group: 100000}
alerting: {evaluate_every: 1h, default_rules: false}
"""
N = 2_400
TOL = 1e-12
"""Ratios of the same counts, or sums of the same doubles in another order: equal to 1e-12."""


@pytest.fixture
def posted(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, np.ndarray]]]:
    """2,400 predictions a model over 4 minutes. Gender f is selected less often than m, and 20 rows of
    gender x (under min_group) are left out; region eu is wrong more often (the planted bad slice), and
    one row in twenty is untagged; 85% of the predictions get a label."""
    rng = np.random.default_rng(11)
    gender = np.array(["f", "m"])[rng.integers(0, 2, N)].astype(object)
    gender[rng.choice(N, 20, replace=False)] = "x"
    region = np.array(["eu", "us", "apac"])[rng.integers(0, 3, N)]
    truth = rng.random(N) < 0.4
    pred = np.where(rng.random(N) < np.where(gender == "f", 0.6, 0.8), truth, rng.random(N) < 0.3)
    pred = np.where((region == "eu") & (rng.random(N) < 0.2), ~pred, pred)  # eu: more mistakes
    cols: dict[str, np.ndarray] = {
        "ts": np.sort(T0 + rng.uniform(0, 240, N)),
        "gender": gender,
        "region": region,
        "tagged": rng.random(N) > 0.05,
        "pred": pred,
        "truth": truth,
        "y_hat": rng.normal(10, 1, N),
        "labelled": rng.random(N) < 0.85,
    }
    cols["y"] = cols["y_hat"] + rng.normal(0, np.where(region == "apac", 2.0, 1.0), N)
    with ExitStack() as stack:
        store = SQLiteStore(tmp_path / "vigil.db")
        stack.callback(store.close)
        app = create_app(
            parse_config(CONFIG), store, clock=FakeClock(T0 + 300), flush_every=3600, root=tmp_path
        )
        client = stack.enter_context(TestClient(app))

        def post(path: str, records: list[dict[str, Any]]) -> None:
            r = client.post(path, content=json.dumps(records), headers={"content-type": "application/json"})
            assert r.status_code == 200 and r.json()["rejected"] == [], r.text

        for model in ("clf", "reg", "strict"):
            tags = [
                {"gender": cols["gender"][i], "region": str(cols["region"][i])} if cols["tagged"][i] else {}
                for i in range(N)
            ]
            post(
                "/v1/events",
                [
                    {
                        "model": model,
                        "request_id": f"{model}{i}",
                        "timestamp": float(cols["ts"][i]),
                        "prediction": float(cols["y_hat"][i]) if model == "reg" else int(cols["pred"][i]),
                        "segments": tags[i],
                    }
                    for i in range(N)
                ],
            )
            truth = cols["y"] if model == "reg" else cols["truth"].astype(int)
            post(
                "/v1/labels",
                [
                    {"model": model, "request_id": f"{model}{i}", "label": truth[i].item()}
                    for i in np.flatnonzero(cols["labelled"])
                ],
            )
        assert app.state.vigil.aggregator.wait_idle(10)
        yield client, cols


RANGE = {"from": str(T0), "to": str(T0 + 240)}


def test_fairness_equals_fairlearn_on_the_labelled_rows(
    posted: tuple[TestClient, dict[str, np.ndarray]],
) -> None:
    client, cols = posted
    r = client.get("/v1/models/clf/fairness", params=RANGE)
    assert r.status_code == 200, r.text
    body = r.json()
    kept = cols["labelled"] & cols["tagged"] & (cols["gender"] != "x")
    y, p, g = cols["truth"][kept].astype(int), cols["pred"][kept].astype(int), cols["gender"][kept]
    gender = body["attributes"]["gender"]
    assert body["min_group"] == 30 and body["labelled"] == int(cols["labelled"].sum())
    assert gender["left_out"] == {
        "x": int((cols["labelled"] & cols["tagged"] & (cols["gender"] == "x")).sum())
    }
    assert [x["group"] for x in gender["groups"]] == ["f", "m"]
    for row in gender["groups"]:
        mine = g == row["group"]
        assert row["n"] == int(mine.sum())
        assert row["selection_rate"] == pytest.approx(p[mine].mean(), abs=TOL)
        assert row["true_positive_rate"] == pytest.approx(p[mine & (y == 1)].mean(), abs=TOL)
        assert row["false_positive_rate"] == pytest.approx(p[mine & (y == 0)].mean(), abs=TOL)
        assert row["accuracy"] == pytest.approx((p[mine] == y[mine]).mean(), abs=TOL)
    for name, want in (
        ("demographic_parity_difference", fl.demographic_parity_difference),
        ("equal_opportunity_difference", fl.equal_opportunity_difference),
        ("equalized_odds_difference", fl.equalized_odds_difference),
        ("disparate_impact", fl.demographic_parity_ratio),
    ):
        assert gender[name] == pytest.approx(want(y, p, sensitive_features=g), abs=TOL), name
    assert gender["four_fifths_flag"] == (gender["disparate_impact"] < 0.8)
    other = client.get("/v1/models/clf/fairness", params={**RANGE, "attributes": "region", "min_group": 5000})
    assert other.json()["attributes"]["region"]["groups"] == []
    assert other.json()["attributes"]["region"]["disparate_impact"] is None


def test_fairness_series_per_step_and_refusals(posted: tuple[TestClient, dict[str, np.ndarray]]) -> None:
    client, cols = posted
    names = "disparate_impact:gender,demographic_parity_difference:gender,equalized_odds_difference:gender"
    r = client.get("/v1/models/clf/metrics", params={**RANGE, "names": names, "step": "60"})
    assert r.status_code == 200, r.text
    series = r.json()["series"]
    for k in range(4):
        sel = cols["labelled"] & cols["tagged"] & (cols["gender"] != "x")
        sel &= (cols["ts"] >= T0 + 60 * k) & (cols["ts"] < T0 + 60 * (k + 1))
        y, p, g = cols["truth"][sel].astype(int), cols["pred"][sel].astype(int), cols["gender"][sel]
        assert series["disparate_impact:gender"][k][1] == pytest.approx(
            fl.demographic_parity_ratio(y, p, sensitive_features=g), abs=TOL
        )
        assert series["equalized_odds_difference:gender"][k][1] == pytest.approx(
            fl.equalized_odds_difference(y, p, sensitive_features=g), abs=TOL
        )
    strict = client.get("/v1/models/strict/metrics", params={**RANGE, "names": names, "step": "60"}).json()
    assert all(v is None for pts in strict["series"].values() for _, v in pts)  # its min_group: no group kept
    bad = client.get("/v1/models/bare/fairness", params=RANGE)
    assert bad.status_code == 422 and "declares no protected attributes" in bad.json()["error"]
    assert client.get("/v1/models/reg/fairness", params=RANGE).status_code == 422
    unknown = client.get("/v1/models/clf/metrics", params={**RANGE, "names": "disparate_impact"})
    assert unknown.status_code == 422 and "disparate_impact:<attribute>" in unknown.json()["error"]


def test_slices_find_the_planted_region(posted: tuple[TestClient, dict[str, np.ndarray]]) -> None:
    client, cols = posted
    r = client.get("/v1/models/clf/slices", params=RANGE)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (
        body["metric"] == "accuracy" and body["correction"] == "benjamini-hochberg" and body["min_size"] == 50
    )
    # both planted: region eu has more mistakes, and the model is right less often for gender f
    assert {s["slice"] for s in body["worse"]} == {"region=eu", "gender=f"}
    effects = [s["effect"] for s in body["worse"]]
    assert effects == sorted(effects, reverse=True)
    assert {s["slice"] for s in body["tested"]} == {
        "gender=f",
        "gender=m",
        "region=eu",
        "region=us",
        "region=apac",
    }
    assert body["too_small"] == {
        "gender=x": int((cols["labelled"] & cols["tagged"] & (cols["gender"] == "x")).sum())
    }
    lab = cols["labelled"]
    right = cols["pred"][lab] == cols["truth"][lab]
    eu = (cols["region"][lab] == "eu") & cols["tagged"][lab]
    (worst,) = [s for s in body["worse"] if s["slice"] == "region=eu"]
    assert worst["n"] == int(eu.sum()) and body["rows"] == int(lab.sum())
    assert worst["metric"] == pytest.approx(right[eu].mean(), abs=TOL)
    assert worst["rest"] == pytest.approx(right[~eu].mean(), abs=TOL)
    table = [[(~right[eu]).sum(), right[eu].sum()], [(~right[~eu]).sum(), right[~eu].sum()]]
    z = np.sqrt(stats.chi2_contingency(table, correction=False).statistic)  # the pooled z-test's z²
    assert worst["p_value"] == pytest.approx(stats.norm.sf(z), rel=1e-9)
    holm = client.get(
        "/v1/models/clf/slices", params={**RANGE, "correction": "holm", "metric": "error"}
    ).json()
    assert holm["correction"] == "holm" and holm["metric"] == "error_rate"
    (eu_error,) = [s for s in holm["worse"] if s["slice"] == "region=eu"]
    assert eu_error["metric"] == pytest.approx(1 - right[eu].mean(), abs=TOL)


def test_regression_slices_compare_absolute_error(posted: tuple[TestClient, dict[str, np.ndarray]]) -> None:
    client, cols = posted
    body = client.get("/v1/models/reg/slices", params={**RANGE, "min_size": 100}).json()
    assert body["metric"] == "absolute_error" and body["min_size"] == 100
    assert [s["slice"] for s in body["worse"]] == ["region=apac"]
    lab = cols["labelled"]
    err = np.abs(cols["y_hat"][lab] - cols["y"][lab])
    apac = (cols["region"][lab] == "apac") & cols["tagged"][lab]
    want = stats.ttest_ind(err[apac], err[~apac], equal_var=False, alternative="greater").pvalue
    assert body["worse"][0]["p_value"] == pytest.approx(want, rel=1e-9)
    wrong = client.get("/v1/models/reg/slices", params={**RANGE, "metric": "accuracy"})
    assert wrong.status_code == 422 and "absolute error" in wrong.json()["error"]


def test_the_model_page_lists_fairness_and_the_worst_slices(
    posted: tuple[TestClient, dict[str, np.ndarray]],
) -> None:
    client, _ = posted
    api = client.get("/v1/models/clf/fairness", params=RANGE).json()["attributes"]["gender"]
    page = client.get("/models/clf", params={"from": "2027-01-15T08:00:00Z", "to": "2027-01-15T08:04:00Z"})
    assert page.status_code == 200, page.text[:300]
    html = page.text
    assert 'id="fairness-gender"' in html and 'id="worst-slices"' in html
    assert f"disparate impact {fmt_number(api['disparate_impact'])}" in html
    assert ("fails the four-fifths rule" in html) == api["four_fifths_flag"]
    assert "<td>region=eu</td>" in html and "<td>gender=f</td>" in html
    assert "Left out (under 30 labelled predictions): x (" in html
    bare = client.get("/models/reg", params={"from": "2027-01-15T08:00:00Z", "to": "2027-01-15T08:04:00Z"})
    assert "No protected attributes declared" in bare.text and "(binary models only)" in bare.text


def test_a_rule_on_disparate_impact_replays(posted: tuple[TestClient, dict[str, np.ndarray]]) -> None:
    client, _ = posted
    span = {"model": "clf", "from": T0, "to": T0 + 240, "every": 60}

    def replay(level: float) -> dict[str, Any]:
        rule = {"name": "FourFifths", "metric": "disparate_impact:gender", "op": "<", "warning": level}
        r = client.post("/v1/rules/test", json={"rule": {**rule, "window": "1m"}, **span})
        assert r.status_code == 200, r.text
        answer: dict[str, Any] = r.json()
        return answer

    always, never = replay(1.01), replay(0.01)  # the ratio is in (0, 1] in every step with data
    assert (
        always["metric"] == "disparate_impact:gender" and always["evaluations"] == never["evaluations"] >= 3
    )
    assert always["breaching"] >= 3 and never["breaching"] == 0
