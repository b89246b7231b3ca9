"""Sentiment benchmark (not a test): accuracy on real reviews never trained on,
training time, the daily lifecycle with a real domain shift, and review latency.

    .venv/bin/python benchmarks/sentiment_benchmark.py [--skip-lifecycle]

1. **Accuracy and training time**: each configured candidate
   (conf/base/parameters_training.yml) trained on the package's 25,000 IMDB reviews
   (duplicates removed; the last 10% as the Keras candidate's validation set), timed;
   scored on the Kaggle head's reviews that are not in the package
   (``../shared/real-samples/imdb_kaggle_head2000.csv``: real reviews never trained
   on; skipped where absent) and on 2,000 Rotten Tomatoes sentences (another site:
   the domain shift). Beside them the majority class.
2. **Daily lifecycle**: ``make run``'s sentiment batches (19 of 20 planned days) in a
   scratch project; ``kedro run --pipeline sentiment`` (first run), then a day of
   Rotten Tomatoes sentences, then the held-back IMDB day: wall time, peak memory
   (each run's own process tree) and the summary of each run.
3. **Latency**: the promoted bundle behind ``mlops-serve`` (one worker, ONNX) on
   loopback; 300 sequential single-review requests (real reviews), 100 requests with a
   5,000-word review, 30 batches of 100 reviews: p50 and p99 per kind.

Prints Markdown for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx
import numpy as np
import pandas as pd
import yaml

from mlops_platform.datagen import sentiment as datagen
from mlops_platform.flavours import get_flavour
from mlops_platform.offline import OFFLINE_ENV
from mlops_platform.params import TrainingParams
from mlops_platform.scratch import scratch_project
from mlops_platform.use_cases.sentiment import SentimentUseCase

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from parking_benchmark import timed  # noqa: E402
from serving_benchmark import free_port, wait_http  # noqa: E402

KAGGLE = REPO.parent / "shared" / "real-samples" / "imdb_kaggle_head2000.csv"


def accuracy() -> dict[str, Any]:
    uc = SentimentUseCase()
    package = datagen.load_package()
    imdb = package[package["source"] == "imdb"].drop_duplicates("text")
    imdb = imdb.sample(frac=1.0, random_state=0)
    gold = pd.DataFrame(
        {"text": imdb["text"], "sentiment": imdb["label"].map(datagen.LABELS)}
    )
    cut = int(len(gold) * 0.9)
    train, val = gold[:cut], gold[cut:]
    tests: dict[str, pd.DataFrame] = {}
    if KAGGLE.exists():
        kaggle = pd.read_csv(KAGGLE)
        unseen = kaggle[~kaggle["review"].isin(set(package["text"]))]
        tests["Kaggle head, not in the package"] = pd.DataFrame(
            {"text": unseen["review"], "sentiment": unseen["sentiment"]}
        )
    rt = package[package["source"] == "rotten_tomatoes"].sample(2000, random_state=0)
    tests["Rotten Tomatoes sentences"] = pd.DataFrame(
        {"text": rt["text"], "sentiment": rt["label"].map(datagen.LABELS)}
    )
    conf = yaml.safe_load((REPO / "conf/base/parameters_training.yml").read_text())
    params = TrainingParams(**conf["sentiment"]["training"])
    rows: dict[str, dict[str, Any]] = {}
    for name, cand in uc.candidates(params).items():
        flavour = get_flavour(cand.flavour)
        x_train, y_train = uc.model_input(train), train["sentiment"]
        x_val, y_val = uc.model_input(val), val["sentiment"]
        if cand.flavour == "sklearn":  # no early stopping: train on all 25k
            x_train = pd.concat([x_train, x_val])
            y_train = pd.concat([y_train, y_val])
        start = time.perf_counter()
        fit = flavour.fit(cand.spec, x_train, y_train, x_val, y_val)
        seconds = time.perf_counter() - start
        rows[f"{name} ({cand.flavour})"] = {
            "fit_s": seconds,
            "train_rows": len(x_train),
            **{
                k: float(
                    (
                        uc.task.predict(flavour, fit.model, uc.model_input(t))
                        == t["sentiment"].to_numpy()
                    ).mean()
                )
                for k, t in tests.items()
            },
        }
    majority = train["sentiment"].mode()[0]
    rows["majority class"] = {
        k: float((t["sentiment"] == majority).mean()) for k, t in tests.items()
    }
    return {"rows": rows, "tests": {k: len(t) for k, t in tests.items()}}


def lifecycle(work: Path) -> tuple[dict[str, Any], Path]:
    project = scratch_project(REPO, work)
    env = {**os.environ, **OFFLINE_ENV}
    env["KEDRO_LOGGING_CONFIG"] = str(REPO / "conf/logging.yml")
    py = sys.executable
    raw = project / "data/raw/sentiment"
    subprocess.run(
        [py, "-m", "mlops_platform.datagen", "sentiment", "--out", str(raw),
         "--days", "20", "--write-days", "19"],
        cwd=project, env=env, check=True,
    )  # fmt: skip
    run = [py, "-m", "kedro", "run", "--pipeline", "sentiment"]
    out: dict[str, Any] = {}
    for key, append in (
        ("first run (19 days)", None),
        ("a Rotten Tomatoes day", "rotten_tomatoes"),
        ("the held-back IMDB day", "imdb"),
    ):
        if append:
            datagen.append_day(raw, append)
        seconds, gb, stdout = timed(run, project, env)
        summary = stdout.split("## sentiment: lifecycle summary")[-1].strip()
        out[key] = {"seconds": seconds, "peak_gb": gb, "summary": summary}
    return out, project


def latency(models: Path) -> dict[str, Any]:
    port = free_port()
    env = {
        **os.environ,
        **OFFLINE_ENV,
        "SERVING_MODEL_STORE_URI": str(models),
        "SERVING_USE_CASES": "sentiment",
        "SERVING_PORT": str(port),
        "SERVING_LOG_LEVEL": "warning",
    }
    mlops_serve = str(Path(sys.executable).parent / "mlops-serve")
    proc = subprocess.Popen([mlops_serve], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    package = datagen.load_package()
    reviews = package[package["source"] == "imdb"]["text"].sample(3000, random_state=1)
    reviews = reviews.tolist()
    long = " ".join(" ".join(reviews).split()[:5000])
    out: dict[str, Any] = {}
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/ready", proc)
        url = f"{base}/v1/sentiment/predict"
        with httpx.Client(timeout=30) as client:
            for _ in range(20):  # warm-up
                client.post(url, json={"text": reviews[0]})
            kinds = {
                "one review (real, median 174 words)": [
                    {"text": t} for t in reviews[:300]
                ],
                "one 5,000-word review": [{"text": long}] * 100,
                "batch of 100 reviews": [
                    {"records": [{"text": t} for t in reviews[i : i + 100]]}
                    for i in range(0, 3000, 100)
                ],
            }
            for kind, bodies in kinds.items():
                times = []
                for body in bodies:
                    start = time.perf_counter()
                    r = client.post(url, json=body)
                    times.append((time.perf_counter() - start) * 1000)
                    if r.status_code != 200:
                        raise SystemExit(f"{kind}: HTTP {r.status_code} {r.text[:300]}")
                out[kind] = {
                    "n": len(times),
                    "p50": float(np.percentile(times, 50)),
                    "p99": float(np.percentile(times, 99)),
                }
        status = Path(f"/proc/{proc.pid}/status").read_text()
        rss = [ln for ln in status.splitlines() if ln.startswith("VmRSS")]
        out["server_rss"] = rss[0].split(":")[1].strip() if rss else "n/a"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--skip-lifecycle", action="store_true")
    args = p.parse_args()
    now = datetime.now(UTC).strftime("%Y-%m-%d")
    print(
        f"Measured {now} on {platform.node()} ({os.cpu_count()} cores, "
        f"{platform.python_version()}): "
        f"`.venv/bin/python benchmarks/sentiment_benchmark.py`\n"
    )
    acc = accuracy()
    tests = list(acc["tests"])
    print(
        "Trained on the package's IMDB reviews (duplicates removed); tested on "
        + ", ".join(f"{k} ({n} reviews)" for k, n in acc["tests"].items())
        + ":\n"
    )
    print("| model | " + " | ".join(tests) + " | fit (s) | train rows |")
    print("|---|" + "---|" * (len(tests) + 2))
    for name, r in acc["rows"].items():
        cells = " | ".join(f"{r[t]:.3f}" for t in tests)
        fit = f"{r['fit_s']:.1f}" if "fit_s" in r else ""
        print(f"| {name} | {cells} | {fit} | {r.get('train_rows', '')} |")
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_lifecycle:
            life, project = lifecycle(Path(tmp))
            print("\n| daily lifecycle | wall (s) | peak memory (GB) |\n|---|---|---|")
            for key, r in life.items():
                print(f"| {key} | {r['seconds']:.1f} | {r['peak_gb']:.2f} |")
            for key, r in life.items():
                print(f"\n{key}:\n\n```\n{r['summary']}\n```")
            models = project / "data/models"
        else:
            models = REPO / "data/models"
        lat = latency(models)
        print(
            "\n| HTTP, sequential, one worker | requests | p50 (ms) | p99 (ms) |\n"
            "|---|---|---|---|"
        )
        for kind, r in lat.items():
            if isinstance(r, dict):
                print(f"| {kind} | {r['n']} | {r['p50']:.1f} | {r['p99']:.1f} |")
        print(f"\nServer resident memory after the run: {lat['server_rss']}.")


if __name__ == "__main__":
    main()
