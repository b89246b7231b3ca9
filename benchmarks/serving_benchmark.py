"""Serving benchmark: `mlflow models serve` vs mlops-serving vs in-process (not a test).

    make run                                  # a promoted retail champion
    apt-get install wrk                       # the load generator (Debian)
    .venv/bin/python benchmarks/serving_benchmark.py [--duration 10]

The same champion (``data/models`` production pointer; MLflow alias ``champion``) is
served one way at a time, one worker, on loopback, and loaded with wrk:

1. ``mlflow models serve`` (the peer a user would otherwise pick), ``--env-manager
   local``, ``/invocations`` with ``dataframe_records``;
2. mlops-serving with the ONNX runtime (the default);
3. mlops-serving with the scikit-learn runtime (bundles without ONNX);
4. the floor: the ONNX session called in-process, no HTTP.

Single-record requests at concurrency 1, 8 and 32 (wrk: requests/s, p50 and p99), and
batches of 100 at concurrency 8 (records/s). Bodies rotate over 200 real test rows.
Then agreement: every test-split row through the running service against the
training-time scikit-learn model. Prints Markdown for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx
import joblib
import numpy as np
import pandas as pd

from mlops_platform.offline import OFFLINE_ENV
from mlops_platform.pipelines.evaluation.nodes import json_records
from mlops_platform.use_cases.retail import RetailUseCase

REPO = Path(__file__).resolve().parents[1]
STORE = REPO / "data" / "models"
CONCURRENCY = (1, 8, 32)
LUA = """
local bodies = {}
for line in io.lines("%s") do bodies[#bodies + 1] = line end
local i = 0
request = function()
  i = i %% #bodies + 1
  return wrk.format("POST", "%s", {["Content-Type"] = "application/json"}, bodies[i])
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited ({proc.returncode}) before {url} answered")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} not ready after {timeout}s")


def wrk(url: str, path: str, bodies: Path, conns: int, duration: int) -> dict:
    script = bodies.with_suffix(".lua")
    script.write_text(LUA % (bodies, path))
    cmd = [
        "wrk",
        f"-t{min(conns, 2)}",
        f"-c{conns}",
        f"-d{duration}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            raise SystemExit(f"cannot read the {p}th percentile from wrk:\n{out}")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {
        "rps": rps,
        "p50_ms": pct("50"),
        "p99_ms": pct("99"),
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(0) if errors else "",
    }


def run_server(
    name: str, cmd: list[str], env: dict, ready: str, path: str, work: Path, args
) -> dict:
    log = (work / f"{name}.log").open("w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log, cwd=REPO)
    try:
        wait_http(ready, proc)
        base = ready.rsplit("/", 1)[0]
        wrk(base, path, work / f"{name}-single.jsonl", 8, 3)  # warm-up
        result: dict[str, Any] = {"single": {}}
        for c in CONCURRENCY:
            result["single"][c] = wrk(
                base, path, work / f"{name}-single.jsonl", c, args.duration
            )
        batch = wrk(base, path, work / f"{name}-batch.jsonl", 8, args.duration)
        batch["records_per_s"] = batch["rps"] * 100
        result["batch100"] = batch
        result["rss_mb"] = rss_mb(proc.pid)
        if name.startswith("mlops-serving"):
            result["agreement"] = agreement(base, path, args)
        return result
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def rss_mb(pid: int) -> float:
    """Resident memory of the server and its children (mlflow has a launcher)."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        status = Path(f"/proc/{p}/status")
        if status.exists():
            m = re.search(r"VmRSS:\s+(\d+) kB", status.read_text())
            total += int(m.group(1)) if m else 0
    return round(total / 1024, 1)


STATE: dict[str, Any] = {}


def agreement(base: str, path: str, args) -> dict:
    test, model = STATE["test"], STATE["model"]
    expected = model.predict_proba(test)
    recs = json_records(test)
    got: list[dict] = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for start in range(0, len(recs), 500):
            r = client.post(path, json={"records": recs[start : start + 500]})
            r.raise_for_status()
            got += r.json()["predictions"]
    classes = [str(c) for c in model.classes_]
    proba = np.array([[p["probabilities"][c] for c in classes] for p in got])
    same = (proba.argmax(axis=1) == expected.argmax(axis=1)).mean()
    return {
        "rows": len(recs),
        "class_agreement": float(same),
        "max_probability_diff": float(np.abs(proba - expected).max()),
    }


def in_process(bundle: Path, test: pd.DataFrame, n: int = 3000) -> dict:
    sys.path.insert(0, str(REPO / "serving" / "src"))
    from mlops_serving.runtime import OnnxRuntime  # noqa: PLC0415
    from mlops_serving.schema import build_schema  # noqa: PLC0415

    manifest = json.loads((bundle / "manifest.json").read_text())
    rt = OnnxRuntime((bundle / "model.onnx").read_bytes(), manifest["runtimes"]["onnx"])
    schema = build_schema(
        json.loads((bundle / "input_schema.json").read_text()), "retail"
    )
    recs = json_records(test)
    times = []
    for i in range(n):
        t = time.perf_counter()
        rt.predict(schema.columns([recs[i % len(recs)]]))
        times.append(time.perf_counter() - t)
    batch_times = []
    for i in range(300):
        chunk = [recs[(i * 100 + j) % len(recs)] for j in range(100)]
        t = time.perf_counter()
        rt.predict(schema.columns(chunk))
        batch_times.append(time.perf_counter() - t)
    ms = np.array(times) * 1000
    return {
        "single": {
            "rps": 1000 / ms.mean(),
            "p50_ms": float(np.percentile(ms, 50)),
            "p99_ms": float(np.percentile(ms, 99)),
        },
        "batch100": {"records_per_s": 100 / np.mean(batch_times)},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install wrk")
    pointer = json.loads((STORE / "production" / "retail.json").read_text())
    bundle = STORE / pointer["path"]
    manifest = json.loads((bundle / "manifest.json").read_text())
    retail = RetailUseCase()
    gold = pd.read_parquet(REPO / "data" / "gold" / "retail" / "test.parquet")
    test = retail.model_input(gold[gold["label"] != "XX"])
    STATE.update(test=test, model=joblib.load(bundle / "model.joblib"))

    work = Path(tempfile.mkdtemp(prefix="serving-bench-"))
    sample = json_records(test.sample(min(200, len(test)), random_state=0))
    for name, wrap in (
        ("mlflow", lambda r: {"dataframe_records": r}),
        ("mlops-serving-onnx", lambda r: r[0] if len(r) == 1 else {"records": r}),
    ):
        single = "\n".join(json.dumps(wrap([r])) for r in sample)
        batch = "\n".join(
            json.dumps(wrap([sample[(i + j) % len(sample)] for j in range(100)]))
            for i in range(20)
        )
        (work / f"{name}-single.jsonl").write_text(single + "\n")
        (work / f"{name}-batch.jsonl").write_text(batch + "\n")
    for kind in ("single", "batch"):
        shutil.copy(
            work / f"mlops-serving-onnx-{kind}.jsonl",
            work / f"mlops-serving-sklearn-{kind}.jsonl",
        )

    bin_dir = Path(sys.executable).parent
    # mlflow starts `uvicorn` through bash: the venv's bin must be on PATH
    env = {
        **os.environ,
        **OFFLINE_ENV,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    results: dict[str, Any] = {}
    port = free_port()
    mlflow_env = {
        **env,
        "MLFLOW_TRACKING_URI": f"sqlite:///{REPO / 'data' / 'mlflow' / 'mlflow.db'}",
    }
    results["mlflow"] = run_server(
        "mlflow",
        [
            str(bin_dir / "mlflow"),
            "models",
            "serve",
            "-m",
            "models:/mlops_platform.retail@champion",
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-w",
            "1",
        ],
        mlflow_env,
        f"http://127.0.0.1:{port}/ping",
        "/invocations",
        work,
        args,
    )
    for runtime in ("onnx", "sklearn"):
        port = free_port()
        serve_env = {
            **env,
            "SERVING_MODEL_STORE_URI": str(STORE),
            "SERVING_PORT": str(port),
            "SERVING_RUNTIME": runtime,
            "SERVING_LOG_LEVEL": "warning",
        }
        results[f"mlops-serving-{runtime}"] = run_server(
            f"mlops-serving-{runtime}",
            [str(bin_dir / "mlops-serve")],
            serve_env,
            f"http://127.0.0.1:{port}/ready",
            "/v1/retail/predict",
            work,
            args,
        )
    results["in-process (onnx)"] = in_process(bundle, test)
    report(results, manifest, args)
    (work / "results.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"\nraw results: {work / 'results.json'}")


def report(results: dict, manifest: dict, args) -> None:
    peer = results["mlflow"]
    print(
        f"\n{datetime.now(UTC):%Y-%m-%d}, {platform.node()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; champion {manifest['version']} "
        f"({manifest.get('model_name')}); wrk {args.duration}s per cell, loopback, "
        "one worker\n"
    )
    head = "| server | " + " | ".join(
        f"c={c} req/s | c={c} p50 ms | c={c} p99 ms" for c in CONCURRENCY
    )
    print(head + " | batch-100 records/s | RSS MB |")
    print("|---" * (2 + 3 * len(CONCURRENCY) + 1) + "|")
    for name, r in results.items():
        cells = []
        for c in CONCURRENCY:
            s = r["single"][c] if c in r["single"] else r["single"]
            cells += [f"{s['rps']:,.0f}", f"{s['p50_ms']:.2f}", f"{s['p99_ms']:.2f}"]
        print(
            f"| {name} | "
            + " | ".join(cells)
            + f" | {r['batch100']['records_per_s']:,.0f} | {r.get('rss_mb', '')} |"
        )
    print("\nRatios to `mlflow models serve` (same run):\n")
    peer_batch = peer["batch100"]["records_per_s"]
    for name in ("mlops-serving-onnx", "mlops-serving-sklearn"):
        r = results[name]
        ratio = {
            c: r["single"][c]["rps"] / peer["single"][c]["rps"] for c in CONCURRENCY
        }
        print(
            f"- {name}: single-record throughput "
            + ", ".join(f"c={c} {v:.1f}x" for c, v in ratio.items())
            + f"; batch-100 records/s "
            f"{r['batch100']['records_per_s'] / peer_batch:.1f}x; "
            f"p99 at c=8 {r['single'][8]['p99_ms']:.1f} ms "
            f"(mlflow {peer['single'][8]['p99_ms']:.1f} ms)"
        )
    errors = {
        n: sum(s["non_2xx"] for s in r["single"].values()) + r["batch100"]["non_2xx"]
        for n, r in results.items()
        if "non_2xx" in r["batch100"]
    }
    print(f"\nnon-2xx responses: {errors}")
    for name in ("mlops-serving-onnx", "mlops-serving-sklearn"):
        print(f"agreement {name}: {results[name]['agreement']}")


if __name__ == "__main__":
    main()
