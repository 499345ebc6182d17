"""Performance estimation before labels: Vigil's estimator against NannyML's CBPE, side by side, same run.

Run from the repository root:
    .venv/bin/python bench/estimation_bench.py [--only synthetic,car_loan] [--repeat 3]

For each data set (a labelled reference, a current table whose labels the estimators do not see), each tool
fits on the reference and estimates ROC AUC, accuracy, precision, recall and F1 (macro for multiclass) per
chunk of the current. Scored here against the realised figures (scikit-learn on the current's labels): the
mean absolute error per chunk, and in how many chunks all five realised figures lie inside the tool's
band. Timed: in-process fit + estimate (best of ``--repeat``, reading the files excluded) and the whole
process (interpreter, imports, reading, work); for Vigil also ``vigil estimate --json`` as a whole process.
Each tool runs in its own process and virtual env (NannyML's under ``bench/envs/nannyml``, made as
``drift_bench.py`` makes it). Data sets:

* ``synthetic``: true probabilities ~ Beta, labels ~ Bernoulli(truth), the model's score = truth² (it needs
  calibrating); the current's score distribution moves from chunk to chunk (covariate shift).
* ``concept``: the same, with the labels of the second half of the current reversed (P(y | x) changed):
  both estimates are wrong there; Vigil's concept-shift check says so (counted in ``flagged``).
* ``breast_cancer`` (scikit-learn ships it): a logistic regression fitted on 40% of the rows scores the
  rest; reference 30%, current 30% sorted by ``worst radius`` (covariate shift), chunks of 57 rows.
* ``car_loan`` and ``credit_card`` (multiclass): the scored data sets NannyML ships, with their labels.

Vigil runs twice: with its default calibration (``auto``: isotonic only where it lowers the out-of-sample
Brier score) and with ``always`` (isotonic on every score column, as NannyML does when its own check asks).

Prints a table and writes ``bench/results/estimation_<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent))
from drift_bench import ENVS, RESULTS, ROOT, ensure_env

DATA = ROOT / "bench" / "data" / "estimation"
PEERS = ROOT / "bench" / "peers"
SEED = 20261207
METRICS = ("roc_auc", "accuracy", "precision", "recall", "f1")


def _binary(ref: pd.DataFrame, cur: pd.DataFrame) -> dict[str, Any]:
    return {"ref": ref, "cur": cur, "score": "score", "prediction": "prediction", "label": "label"}


def synthetic(concept: bool = False) -> dict[str, Any]:
    rng = np.random.default_rng(SEED)

    def table(a: npt_like, b: npt_like) -> pd.DataFrame:
        truth = rng.beta(a, b)
        score = truth**2
        return pd.DataFrame(
            {
                "score": score,
                "prediction": (score >= 0.25).astype(int),
                "label": (rng.uniform(size=truth.size) < truth).astype(int),
            }
        )

    ref = table(np.full(50_000, 2.0), np.full(50_000, 2.0))
    shifts = np.repeat(np.linspace(1.0, 4.0, 10), 5000)
    cur = table(shifts, np.full(50_000, 2.5))
    if concept:
        cur.loc[25_000:, "label"] = 1 - cur.loc[25_000:, "label"]
    return _binary(ref, cur) | {"chunk_size": 5000}


npt_like = Any


def breast_cancer() -> dict[str, Any]:
    data = load_breast_cancer(as_frame=True)
    x, y = data.data, data.target
    x_train, x_rest, y_train, y_rest = train_test_split(x, y, train_size=0.4, random_state=SEED, stratify=y)
    model = LogisticRegression(max_iter=10_000).fit(x_train, y_train)
    rest = pd.DataFrame(
        {
            "score": model.predict_proba(x_rest)[:, 1],
            "prediction": model.predict(x_rest),
            "label": y_rest.to_numpy(),
        }
    )
    rest["radius"] = x_rest["worst radius"].to_numpy()
    half = len(rest) // 2
    ref = rest.iloc[:half].drop(columns="radius").reset_index(drop=True)
    cur = rest.iloc[half:].sort_values("radius").drop(columns="radius").reset_index(drop=True)
    cur = cur.iloc[: len(cur) // 57 * 57]
    return _binary(ref, cur) | {"chunk_size": 57}


def _nannyml_data() -> Path:
    found = sorted((ENVS / "nannyml" / "lib").glob("python*/site-packages/nannyml/datasets/data"))
    if not found:
        raise FileNotFoundError(
            "NannyML's env has no datasets folder: run with --only synthetic,breast_cancer"
        )
    return found[0]


def car_loan() -> dict[str, Any]:
    d = _nannyml_data()
    ref = pd.read_csv(d / "synthetic_car_loan_reference.csv")
    cur = pd.read_csv(d / "synthetic_car_loan_analysis.csv").merge(
        pd.read_csv(d / "synthetic_car_loan_analysis_target.csv"), on="id"
    )

    def cols(df: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(
            {"score": df["y_pred_proba"], "prediction": df["y_pred"], "label": df["repaid"].astype(int)}
        )

    return _binary(cols(ref), cols(cur)) | {"chunk_size": 5000}


def credit_card() -> dict[str, Any]:
    d = _nannyml_data()
    classes = ["prepaid_card", "highstreet_card", "upmarket_card"]
    ref = pd.read_csv(d / "mc_reference.csv")
    cur = pd.read_csv(d / "mc_analysis.csv").merge(pd.read_csv(d / "mc_analysis_gt.csv"), on="id")

    def cols(df: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame({f"score_{c}": df[f"y_pred_proba_{c}"] for c in classes})
        return out.assign(prediction=df["y_pred"], label=df["y_true"])

    return {
        "ref": cols(ref),
        "cur": cols(cur),
        "classes": classes,
        "prediction": "prediction",
        "label": "label",
    } | {"chunk_size": 6000}


DATASETS = {
    "synthetic": synthetic,
    "concept": lambda: synthetic(concept=True),
    "breast_cancer": breast_cancer,
    "car_loan": car_loan,
    "credit_card": credit_card,
}


def realised(ds: dict[str, Any], start: int, end: int) -> dict[str, float]:
    part = ds["cur"].iloc[start:end]
    y, pred = part[ds["label"]], part[ds["prediction"]]
    if ds.get("classes") is None:
        auc = roc_auc_score(y, part[ds["score"]])
    else:
        scores = part[[f"score_{c}" for c in ds["classes"]]].to_numpy()
        auc = roc_auc_score(pd.Categorical(y, categories=ds["classes"]).codes, scores, multi_class="ovr")
    if ds.get("classes") is None:
        kw: dict[str, Any] = {"pos_label": 1, "zero_division": np.nan}
    else:
        kw = {"average": "macro", "labels": ds["classes"], "zero_division": np.nan}
    return {
        "roc_auc": float(auc),
        "accuracy": float(accuracy_score(y, pred)),
        "precision": float(precision_score(y, pred, **kw)),
        "recall": float(recall_score(y, pred, **kw)),
        "f1": float(f1_score(y, pred, **kw)),
    }


def run(py: Path, script: str, spec_path: Path) -> tuple[dict[str, Any], float]:
    t0 = time.perf_counter()
    done = subprocess.run(
        [str(py), str(PEERS / script), str(spec_path)], capture_output=True, text=True, timeout=1800
    )
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"{script} failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), wall


def vigil_cli(ds: dict[str, Any], ref: Path, cur: Path, out: Path) -> tuple[float, dict[str, Any]]:
    """``vigil estimate`` as a whole process: its wall time and its JSON."""
    if ds.get("classes") is None:
        scores = ["--score", ds["score"]]
    else:
        scores = [a for c in ds["classes"] for a in ("--score", f"{c}=score_{c}")]
    args = [str(ROOT / ".venv" / "bin" / "vigil"), "estimate", "-r", str(ref), "-c", str(cur), *scores]
    args += ["--prediction", ds["prediction"], "--label", ds["label"], "--chunk-size", str(ds["chunk_size"])]
    t0 = time.perf_counter()
    subprocess.run([*args, "--json", str(out)], check=True, capture_output=True, timeout=600)
    return time.perf_counter() - t0, json.loads(out.read_text())


def score(ds: dict[str, Any], out: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[float]] = {m: [] for m in METRICS}
    inside = 0
    for c in out["chunks"]:
        r = realised(ds, c["start"], c["end"])
        for m in METRICS:
            errors[m].append(abs(c[m]["value"] - r[m]))
        inside += all(c[m]["lower"] - 1e-9 <= r[m] <= c[m]["upper"] + 1e-9 for m in METRICS)
    half = (len(out["chunks"]) + 1) // 2
    return {
        **{f"mae_{m}": round(float(np.mean(e)), 4) for m, e in errors.items()},
        # the first half of the chunks: before the concept shift of ``concept`` and ``credit_card``
        **{
            f"mae_{m}_first_half": round(float(np.mean(errors[m][:half])), 4) for m in ("roc_auc", "accuracy")
        },
        "inside": f"{inside}/{len(out['chunks'])}",
        "seconds": out["seconds"],
    }


def _table(results: list[dict[str, Any]]) -> None:
    keys = ["mae_roc_auc", "mae_accuracy", "mae_roc_auc_first_half", "mae_accuracy_first_half", "inside"]
    keys += ["seconds", "process_s"]
    print(f"{'data':<14}{'tool':<13}" + "".join(f"{k:>24}" for k in keys) + f"{'speed x':>10}")
    for row in results:
        for tool in ("vigil", "vigil_always", "nannyml"):
            r = row[tool]
            if "failed" in r:
                print(f"{row['data']:<14}{tool:<13}FAILED: {r['failed']}")
                continue
            speed = row["nannyml"].get("seconds", float("nan")) / row["vigil"]["seconds"]
            extra = f"{speed:>10.1f}" if tool == "vigil" else ""
            print(f"{row['data']:<14}{tool:<13}" + "".join(f"{r[k]!s:>24}" for k in keys) + extra)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=",".join(DATASETS))
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    nannyml_py, why = ensure_env("nannyml")
    vigil_py = ROOT / ".venv" / "bin" / "python"
    DATA.mkdir(parents=True, exist_ok=True)
    results = []
    for name in a.only.split(","):
        ds = DATASETS[name]()
        ref, cur = DATA / f"{name}_ref.parquet", DATA / f"{name}_cur.parquet"
        ds["ref"].to_parquet(ref)
        ds["cur"].to_parquet(cur)
        spec = {k: v for k, v in ds.items() if k not in ("ref", "cur")} | {
            "ref": str(ref),
            "cur": str(cur),
            "repeat": a.repeat,
        }
        spec_path = DATA / f"{name}_spec.json"
        spec_path.write_text(json.dumps(spec))
        row: dict[str, Any] = {
            "data": name,
            "ref_rows": len(ds["ref"]),
            "cur_rows": len(ds["cur"]),
            "chunk": ds["chunk_size"],
        }
        out, wall = run(vigil_py, "run_vigil_estimate.py", spec_path)
        row["vigil"] = score(ds, out) | {"process_s": round(wall, 3)}
        always = DATA / f"{name}_spec_always.json"
        always.write_text(json.dumps(spec | {"calibration": "always"}))
        out, wall = run(vigil_py, "run_vigil_estimate.py", always)
        row["vigil_always"] = score(ds, out) | {"process_s": round(wall, 3)}
        # the CLI timed on the current without labels (estimates only, as the peers); then with them
        unlabelled = DATA / f"{name}_cur_unlabelled.parquet"
        ds["cur"].drop(columns=[ds["label"]]).to_parquet(unlabelled)
        row["vigil"]["cli_process_s"] = round(
            vigil_cli(ds, ref, unlabelled, DATA / f"{name}_vigil.json")[0], 3
        )
        checked = vigil_cli(ds, ref, cur, DATA / f"{name}_vigil_labelled.json")[1]
        row["vigil"]["concept_shift_chunks"] = checked["concept_shift_chunks"]
        if nannyml_py is None:
            row["nannyml"] = {"failed": why}
        else:
            out, wall = run(nannyml_py, "run_nannyml_cbpe.py", spec_path)
            row["nannyml"] = score(ds, out) | {"process_s": round(wall, 3), "version": out["version"]}
        results.append(row)
        print(json.dumps(row), flush=True)
    _table(results)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"estimation_{time.strftime('%Y%m%d_%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
