"""Parking benchmark (not a test): accuracy on the real file, the daily lifecycle's
wall time and memory, and forecast latency over HTTP.

    apt-get install wrk                       # the load generator (Debian)
    .venv/bin/python benchmarks/parking_benchmark.py [--real PATH] [--duration 8]

1. **Accuracy on the real sample** (``../shared/real-samples/parking_data.csv``, one
   100-space car park), the protocol of ../shared/DATASETS.md: one hour ahead on the
   5-minute grid, origin and target both real readings, the last 20% of time as test.
   The pipeline's own candidates (conf/base/parameters_training.yml) are trained on the
   first 80% with its last 10% of time as validation (early stopping, selection), as
   the training stage does; the best on validation is the champion. Beside it:
   persistence, the same time yesterday (persistence where there was no reading), and
   the HistGradientBoosting-on-lags anchor of DATASETS.md (5.15 cars).
2. **Daily lifecycle**: ``make run``'s parking world (45 days, 4 car parks) in a scratch
   project; ``kedro run --pipeline parking`` (first run: trains both candidates), then
   one more ordinary day of readings and the run again (what the daily schedule does),
   then an event day (the generator's drift knob). Wall time and peak memory of each
   run (the run's own process tree, getrusage).
3. **Serving**: the promoted bundle behind ``mlops-serve`` (ONNX runtime, one worker)
   on loopback; wrk at concurrency 8 with single-car-park requests (2 hours of
   readings each), p50 and p99.

Prints Markdown for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from mlops_platform.datagen.parking_realism import load_examples
from mlops_platform.flavours import get_flavour
from mlops_platform.offline import OFFLINE_ENV
from mlops_platform.params import TrainingParams
from mlops_platform.scratch import scratch_project
from mlops_platform.use_cases.parking import ParkingUseCase

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from serving_benchmark import free_port, wait_http, wrk  # noqa: E402

REAL = REPO.parent / "shared" / "real-samples" / "parking_data.csv"
ANCHOR_HGB = 5.15  # ../shared/DATASETS.md, same protocol


def accuracy(real: Path) -> dict[str, Any]:
    uc = ParkingUseCase()
    gold = load_examples(real, capacity=100).sort_values("origin")
    t = pd.to_datetime(gold["origin"])
    cut_test = t.min() + (t.max() - t.min()) * 0.8
    cut_val = t.min() + (t.max() - t.min()) * 0.7
    train = gold[t < cut_val]
    val = gold[(t >= cut_val) & (t < cut_test)]
    test = gold[t >= cut_test]
    conf = yaml.safe_load((REPO / "conf/base/parameters_training.yml").read_text())
    params = TrainingParams(**conf["parking"]["training"])
    y = test["target_count"].to_numpy(dtype=float)
    rows: dict[str, dict[str, float]] = {}
    val_mae: dict[str, float] = {}
    for name, cand in uc.candidates(params).items():
        flavour = get_flavour(cand.flavour)
        start = time.perf_counter()
        fit = flavour.fit(
            cand.spec,
            uc.model_input(train),
            train["target_count"],
            uc.model_input(val),
            val["target_count"],
        )
        seconds = time.perf_counter() - start
        v = flavour.predict(fit.model, uc.model_input(val))
        val_mae[name] = float(np.abs(v - val["target_count"]).mean())
        p = flavour.predict(fit.model, uc.model_input(test))
        rows[f"{name} ({cand.flavour})"] = {
            "mae": float(np.abs(p - y).mean()),
            "fit_s": seconds,
        }
    champion = min(val_mae, key=val_mae.__getitem__)
    for name, pred in uc.baseline_predictions(train, test).items():
        rows[name] = {"mae": float(np.abs(pred - y).mean())}
    return {
        "pairs": {"train": len(train), "validation": len(val), "test": len(test)},
        "test_from": str(cut_test),
        "models": rows,
        "validation_mae": val_mae,
        "champion": champion,
    }


# Runs a command and reports the peak resident memory of its own process tree (kB):
# RUSAGE_CHILDREN of this benchmark would keep the largest of every run so far.
PEAK = (
    "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
    "sys.stderr.write(f'\\nPEAK_KB {resource.getrusage(resource.RUSAGE_CHILDREN)"
    ".ru_maxrss}\\n'); sys.exit(r.returncode)"
)


def timed(cmd: list[str], cwd: Path, env: dict) -> tuple[float, float, str]:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", PEAK, *cmd],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(proc.stdout[-3000:] + proc.stderr[-3000:])
    peak_kb = int(proc.stderr.rsplit("PEAK_KB ", 1)[1].split()[0])
    return seconds, peak_kb / 1024 / 1024, proc.stdout


def lifecycle(work: Path) -> tuple[dict[str, Any], Path]:
    project = scratch_project(REPO, work)
    env = {**os.environ, **OFFLINE_ENV}
    env["KEDRO_LOGGING_CONFIG"] = str(REPO / "conf/logging.yml")
    py = sys.executable
    gen = [py, "-m", "mlops_platform.datagen", "parking", "--car-parks", "4", "--quiet"]
    subprocess.run([*gen, "--out", "data/raw/parking", "--days", "45"], cwd=project,
                   env=env, check=True)  # fmt: skip
    run = [py, "-m", "kedro", "run", "--pipeline", "parking"]
    first_s, first_gb, _ = timed(run, project, env)
    out: dict[str, Any] = {"first": {"seconds": first_s, "peak_gb": first_gb}}
    # The next days arrive (the same world, one day longer each time; only the new
    # day's file is added): an ordinary day, then an event day (drift knob).
    for key, days, knobs in (
        ("daily", 46, []),
        ("drifted day", 47, ["--drift-start-day", "2012-10-26", "--event-day", "1"]),
    ):
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([*gen, "--out", tmp, "--days", str(days), *knobs],
                           cwd=project, env=env, check=True)  # fmt: skip
            newest = sorted(Path(tmp).glob("readings_*.csv"))[-1]
            target = project / "data/raw/parking" / newest.name
            target.write_bytes(newest.read_bytes())
        seconds, gb, stdout = timed(run, project, env)
        summary = stdout.split("## parking: lifecycle summary")[-1].strip()
        out[key] = {"seconds": seconds, "peak_gb": gb, "summary": summary}
    return out, project


def serving(project: Path, duration: int) -> dict[str, Any]:
    port = free_port()
    env = {
        **os.environ,
        **OFFLINE_ENV,
        "SERVING_MODEL_STORE_URI": str(project / "data/models"),
        "SERVING_USE_CASES": "parking",
        "SERVING_PORT": str(port),
    }
    bodies = project / "parking-requests.jsonl"
    start = datetime(2012, 10, 3, 6, 0, 7)
    rng = np.random.default_rng(0)
    with bodies.open("w") as f:
        for i in range(200):
            t0 = start + pd.Timedelta(minutes=5 * rng.integers(0, 140))
            level = float(rng.uniform(0.1, 0.9))
            readings = [
                {
                    "timestamp": (t0 + pd.Timedelta(minutes=5 * k)).isoformat(),
                    "count": round(100 * min(1.0, level + 0.01 * k)),
                }
                for k in range(24)
            ]
            body = {"car_park": f"CP{i}", "capacity": 100, "readings": readings}
            f.write(json.dumps(body) + "\n")
    mlops_serve = str(Path(sys.executable).parent / "mlops-serve")
    proc = subprocess.Popen([mlops_serve], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/ready", proc)
        wrk(base, "/v1/parking/predict", bodies, 8, 3)  # warm-up
        return wrk(base, "/v1/parking/predict", bodies, 8, duration)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--real", type=Path, default=REAL)
    parser.add_argument("--duration", type=int, default=8)
    args = parser.parse_args()
    os.environ.update(OFFLINE_ENV)
    acc = accuracy(args.real) if args.real.exists() else None
    with tempfile.TemporaryDirectory() as tmp:
        life, project = lifecycle(Path(tmp))
        served = serving(project, args.duration)
    report(acc, life, served)


def report(acc: dict | None, life: dict, served: dict) -> None:
    when = datetime.now(UTC).strftime("%Y-%m-%d")
    print(f"Measured {when} on {platform.node()} ({os.cpu_count()} cores, "
          f"{platform.python_version()}): `.venv/bin/python "
          "benchmarks/parking_benchmark.py`\n")  # fmt: skip
    if acc:
        print(f"Real sample, one hour ahead, test from {acc['test_from']} "
              f"({acc['pairs']['test']} pairs; train {acc['pairs']['train']}, "
              f"validation {acc['pairs']['validation']}):\n")  # fmt: skip
        print("| model | MAE (cars) | fit (s) |\n|---|---|---|")
        for name, r in acc["models"].items():
            mark = (
                " (best on validation)"
                if name.startswith(acc["champion"] + " ")
                else ""
            )
            fit = f"{r['fit_s']:.1f}" if "fit_s" in r else ""
            print(f"| {name}{mark} | {r['mae']:.2f} | {fit} |")
        print(f"| anchor: HGB on lags (DATASETS.md) | {ANCHOR_HGB:.2f} | |\n")
    print("| daily lifecycle (4 car parks, 45 days) | wall (s) | peak memory (GB) |")
    print("|---|---|---|")
    for k in ("first", "daily", "drifted day"):
        print(f"| {k} run | {life[k]['seconds']:.1f} | {life[k]['peak_gb']:.2f} |")
    for k in ("daily", "drifted day"):
        print(f"\n{k.capitalize()} run summary:\n\n```\n{life[k]['summary']}\n```\n")
    print("| serving, single car park, c=8 | req/s | p50 (ms) | p99 (ms) | non-2xx |")
    print("|---|---|---|---|---|")
    print(f"| mlops-serve (ONNX) | {served['rps']:.0f} | {served['p50_ms']:.2f} | "
          f"{served['p99_ms']:.2f} | {served['non_2xx']} |")  # fmt: skip


if __name__ == "__main__":
    main()
