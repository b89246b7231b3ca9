"""Serving benchmark: mlops-serving against the engines users would pick, and the
HTTP floor, in one run (not a test).

    make run                                  # promoted champions
    apt-get install wrk                       # the load generator (Debian)
    make benchmark-serving                    # this script, --duration 8

Every server runs alone, one worker, on loopback, loaded by wrk (2 threads) on the
same machine:

- the floors: a bare FastAPI app on the same uvicorn that reads the body and returns
  a fixed answer (a real answer of the service, as large), and the same in plain ASGI;
- mlops-serving with its ONNX runtime (the default) and its scikit-learn fallback
  (``SERVING_RUNTIME=sklearn``);
- MLServer 1.7.1 (its scikit-learn runtime, V2 protocol), BentoML 1.4.40, LitServe
  0.2.19 on ``model.joblib`` and on the same ``model.onnx`` as the service, and
  ``mlflow models serve`` on the MLflow model the training run logged.

Each peer runs from its own virtualenv under ``.venv-peers/`` (made on first use from
``benchmarks/peers/requirements-<peer>.txt``, pinned); the service, the floors and
the driver from the project's. Retail: single records at concurrency 1, 8 and 32
and batches of 100 at concurrency 8, bodies rotating over 200 real test rows, then
every test row through each server against the training-time model (the same class;
probabilities where the server answers them). Parking (a car park's last 2 hours of
readings) and sentiment (real IMDB reviews of median length) on the service, the
FastAPI floor and LitServe on the same ``model.onnx``. The other peers load
``model.joblib``, whose parking and sentiment models are this project's estimator
classes (``mlops_platform.estimators``): they would need the project installed.

Prints Markdown for docs/benchmarks.md and writes the raw figures as JSON.
"""

from __future__ import annotations

import argparse
import hashlib
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
from collections.abc import Callable
from dataclasses import dataclass, field
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
PEERS = REPO / "benchmarks" / "peers"
VENVS = REPO / ".venv-peers"
STORE = REPO / "data" / "models"
CONCURRENCY = (1, 8, 32)
BATCH = 100
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


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 180) -> None:
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
    script = bodies.with_suffix(f".{conns}.lua")
    script.write_text(LUA % (bodies, path))
    cmd = ["wrk", f"-t{min(conns, 2)}", f"-c{conns}", f"-d{duration}s", "--latency"]
    out = subprocess.run(
        [*cmd, "-s", str(script), url], capture_output=True, text=True, check=True
    ).stdout
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


def rss_mb(pid: int) -> float:
    """Resident memory of the server and its descendants (several peers fork)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        status = Path(f"/proc/{p}/status")
        if status.exists():
            m = re.search(r"VmRSS:\s+(\d+) kB", status.read_text())
            total += int(m.group(1)) if m else 0
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            todo += [int(c) for c in task.read_text().split()]
    return round(total / 1024, 1)


# ------------------------------------------------------------------- peer venvs
def peer_python(peer: str) -> Path:
    """``.venv-peers/<peer>``, made (or remade) from its pinned requirements."""
    reqs = PEERS / f"requirements-{peer}.txt"
    venv = VENVS / peer
    stamp = venv / ".requirements-sha256"
    digest = hashlib.sha256(reqs.read_bytes()).hexdigest()
    if not (stamp.exists() and stamp.read_text() == digest):
        print(f"[peers] {peer}: virtualenv from {reqs.name} ...", flush=True)
        shutil.rmtree(venv, ignore_errors=True)
        base = Path(sys.base_prefix) / "bin" / "python3"
        subprocess.run([str(base), "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin/pip"), "install", "--quiet", "--no-deps", "-r", str(reqs)],
            check=True,
        )
        stamp.write_text(digest)
    return venv / "bin" / "python"


# --------------------------------------------------------------------- servers
Answers = tuple[list[str], np.ndarray | None]  # classes, probabilities if given


@dataclass
class Server:
    name: str
    cmd: Callable[[int], list[str]]
    ready: str
    path: str
    single: Callable[[dict], Any]
    batch: Callable[[list[dict]], Any] | None = None
    answers: Callable[[Any], Answers] | None = None  # for the agreement check
    env: dict[str, str] = field(default_factory=dict)


def served(server: Server, work: Path, records: list[dict], args, check=None) -> dict:
    """wrk figures of one server; ``check(server, base)`` for agreement."""
    tag = re.sub(r"\W+", "-", server.name)
    single = work / f"{tag}-single.jsonl"
    single.write_text("".join(json.dumps(server.single(r)) + "\n" for r in records))
    port = free_port()
    log = (work / f"{tag}.log").open("w")
    cmd = server.cmd(port)  # first: the service takes its port from the environment
    env = {**os.environ, **OFFLINE_ENV, **server.env}
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdout=log,
        stderr=log,
        cwd=work,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + server.ready, proc)
        print(f"[bench] {server.name}", flush=True)
        wrk(base, server.path, single, 8, 3)  # warm-up
        out: dict[str, Any] = {"single": {}}
        for c in CONCURRENCY:
            out["single"][c] = wrk(base, server.path, single, c, args.duration)
        if server.batch is not None:
            batch = work / f"{tag}-batch.jsonl"
            batch.write_text(
                "".join(
                    json.dumps(
                        server.batch(
                            [records[(i + j) % len(records)] for j in range(BATCH)]
                        )
                    )
                    + "\n"
                    for i in range(20)
                )
            )
            out["batch"] = wrk(base, server.path, batch, 8, args.duration)
            out["batch"]["records_per_s"] = out["batch"]["rps"] * BATCH
        out["rss_mb"] = rss_mb(proc.pid)
        if check is not None and server.answers is not None:
            out["agreement"] = check(server, base)
        return out
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
        log.close()


def project_bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def floor_servers(use_case: str, answer: Path) -> list[Server]:
    env = {"FLOOR_PATH": f"/v1/{use_case}/predict", "FLOOR_ANSWER": str(answer)}
    uvicorn = [sys.executable, "-m", "uvicorn", "--app-dir", str(PEERS)]
    quiet = ["--log-level", "warning", "--no-access-log", "--host", "127.0.0.1"]

    def cmd(app: str) -> Callable[[int], list[str]]:
        return lambda port: [*uvicorn, f"floors:{app}", *quiet, "--port", str(port)]

    return [
        Server(
            f"floor: bare {kind} ({use_case})",
            cmd(app),
            "/ready",
            env["FLOOR_PATH"],
            lambda r: r,
            env=env,
        )
        for kind, app in (("FastAPI", "fastapi_app"), ("ASGI", "asgi_app"))
    ]


def service(use_case: str, runtime: str, answers=None) -> Server:
    return Server(
        f"mlops-serving, {runtime} ({use_case})",
        lambda p: [project_bin("mlops-serve")],
        "/ready",
        f"/v1/{use_case}/predict",
        lambda r: r,
        (lambda rs: {"records": rs}) if use_case != "parking" else None,
        answers,
        env={
            "SERVING_MODEL_STORE_URI": str(STORE),
            "SERVING_USE_CASES": use_case,
            "SERVING_RUNTIME": runtime,
            "SERVING_LOG_LEVEL": "info",  # the log line per request is part of it
        },
    )


def service_port(server: Server) -> Server:
    """The service reads its port from the environment."""
    inner = server.cmd

    def cmd(port: int) -> list[str]:
        server.env["SERVING_PORT"] = str(port)
        return inner(port)

    server.cmd = cmd
    return server


def litserve(use_case: str, bundle: Path, runtime: str, batch=True) -> Server:
    python = str(peer_python("litserve"))
    script = str(PEERS / "litserve_server.py")
    return Server(
        f"LitServe, {runtime} ({use_case})",
        lambda p: [python, script, str(p), str(bundle), runtime],
        "/health",
        "/predict",
        lambda r: r,
        (lambda rs: {"records": rs}) if batch else None,
    )


# ------------------------------------------------------------------------ retail
def retail_servers(
    bundle: Path, classes: list[str], mlflow_model: Path
) -> list[Server]:
    def service_answers(body: dict) -> Answers:
        preds = body["predictions"]
        proba = np.array([[p["probabilities"][c] for c in classes] for p in preds])
        return [p["class"] for p in preds], proba

    def matrix_answers(rows: Any) -> Answers:
        proba = np.asarray(rows, dtype=float)
        return [classes[k] for k in proba.argmax(axis=1)], proba

    def v2(records: list[dict]) -> dict:
        """The V2 inference protocol, one input per column, as a pandas frame
        (``content_type: pd``); a missing value is JSON null."""
        inputs = []
        for col in records[0]:
            values = [r[col] for r in records]
            numeric = all(isinstance(v, int | float) for v in values if v is not None)
            inputs.append(
                {
                    "name": col,
                    "datatype": "FP64" if numeric else "BYTES",
                    "shape": [len(values)],
                    "data": values,
                }
            )
        return {
            "inputs": inputs,
            "parameters": {"content_type": "pd"},
            "outputs": [{"name": "predict_proba"}],
        }

    def v2_answers(body: dict) -> Answers:
        (out,) = body["outputs"]
        return matrix_answers(np.array(out["data"]).reshape(out["shape"]))

    mlserver_dir = Path(tempfile.mkdtemp(prefix="mlserver-"))
    mlserver_py = str(peer_python("mlserver"))
    bentoml_py = str(peer_python("bentoml"))
    mlflow_py = str(peer_python("mlflow"))

    def mlserver_cmd(port: int) -> list[str]:
        (mlserver_dir / "settings.json").write_text(
            json.dumps(
                {
                    "http_port": port,
                    "grpc_port": free_port(),
                    "metrics_port": free_port(),
                    "host": "127.0.0.1",
                    # inference in the server process: faster than its default of
                    # one separate worker process here (measured both)
                    "parallel_workers": 0,
                }
            )
        )
        (mlserver_dir / "model-settings.json").write_text(
            json.dumps(
                {
                    "name": "retail",
                    "implementation": "mlserver_sklearn.SKLearnModel",
                    "parameters": {"uri": str(bundle / "model.joblib")},
                }
            )
        )
        return [str(Path(mlserver_py).parent / "mlserver"), "start", str(mlserver_dir)]

    return [
        service_port(service("retail", "onnx", service_answers)),
        service_port(service("retail", "sklearn", service_answers)),
        Server(
            "MLServer, scikit-learn runtime (retail)",
            mlserver_cmd,
            "/v2/health/ready",
            "/v2/models/retail/infer",
            lambda r: v2([r]),
            v2,
            v2_answers,
        ),
        Server(
            "BentoML (retail)",
            lambda p: [
                str(Path(bentoml_py).parent / "bentoml"),
                "serve",
                "bentoml_service:Retail",
                "--working-dir",
                str(PEERS),
                "--host",
                "127.0.0.1",
                "--port",
                str(p),
            ],
            "/readyz",
            "/predict",
            lambda r: {"records": [r]},
            lambda rs: {"records": rs},
            matrix_answers,
            env={"BUNDLE_DIR": str(bundle), "BENTOML_DO_NOT_TRACK": "True"},
        ),
        *(
            _with_answers(litserve("retail", bundle, rt), matrix_answers, "outputs")
            for rt in ("sklearn", "onnx")
        ),
        Server(
            "mlflow models serve (retail)",
            lambda p: [
                str(Path(mlflow_py).parent / "mlflow"),
                "models",
                "serve",
                "-m",
                str(mlflow_model),
                "--env-manager",
                "local",
                "-h",
                "127.0.0.1",
                "-p",
                str(p),
                "-w",
                "1",
            ],
            "/ping",
            "/invocations",
            lambda r: {"dataframe_records": [r]},
            lambda rs: {"dataframe_records": rs},
            # the logged pyfunc answers predict(): classes, no probabilities
            lambda body: ([str(c) for c in body["predictions"]], None),
            # mlflow starts uvicorn through bash: its venv's bin must be on PATH
            env={"PATH": f"{Path(mlflow_py).parent}{os.pathsep}{os.environ['PATH']}"},
        ),
    ]


def _with_answers(server: Server, answers: Callable, key: str) -> Server:
    server.answers = lambda body: answers(body[key])
    return server


def retail_agreement(test: pd.DataFrame, model: Any) -> Callable:
    expected = model.predict_proba(test)
    classes = [str(c) for c in model.classes_]
    want = [classes[k] for k in expected.argmax(axis=1)]
    recs = json_records(test)

    def check(server: Server, base: str) -> dict:
        got: list[str] = []
        probas = []
        with httpx.Client(base_url=base, timeout=60) as client:
            for start in range(0, len(recs), BATCH):
                chunk = recs[start : start + BATCH]
                r = client.post(server.path, json=server.batch(chunk))  # type: ignore[misc]
                r.raise_for_status()
                labels, proba = server.answers(r.json())  # type: ignore[misc]
                got += labels
                probas.append(proba)
        out: dict[str, Any] = {
            "rows": len(recs),
            "class_agreement": float(
                np.mean([a == b for a, b in zip(got, want, strict=True)])
            ),
        }
        if all(p is not None for p in probas):
            out["max_probability_diff"] = float(
                np.abs(np.vstack(probas) - expected).max()
            )
        return out

    return check


def mlflow_model_dir(work: Path) -> Path:
    """The champion's MLflow model, downloaded from the project's local store (so the
    peer's venv needs no tracking server)."""
    import mlflow  # noqa: PLC0415

    mlflow.set_tracking_uri(f"sqlite:///{REPO / 'data' / 'mlflow' / 'mlflow.db'}")
    return Path(
        mlflow.artifacts.download_artifacts(
            "models:/mlops_platform.retail@champion",
            dst_path=str(work / "mlflow-model"),
        )
    )


def bundle_dir(use_case: str) -> Path:
    pointer = json.loads((STORE / "production" / f"{use_case}.json").read_text())
    return STORE / pointer["path"]


def one_answer(server: Server, record: dict, work: Path) -> Path:
    """A real answer of the service to ``record``, for the floors to return."""
    port = free_port()
    env = {**os.environ, **OFFLINE_ENV, **server.env, "SERVING_PORT": str(port)}
    proc = subprocess.Popen(
        [project_bin("mlops-serve")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/ready", proc)
        r = httpx.post(f"http://127.0.0.1:{port}{server.path}", json=record, timeout=30)
        r.raise_for_status()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    path = work / f"answer-{server.path.strip('/').replace('/', '-')}.json"
    path.write_bytes(r.content)
    return path


# ------------------------------------------------------------- parking, sentiment
def parking_requests(n: int = 200) -> list[dict]:
    """A car park's last 2 hours of readings (24, 5 minutes apart), as clients send."""
    rng = np.random.default_rng(0)
    start = datetime(2012, 10, 3, 6, 0, 7)
    out = []
    for i in range(n):
        t0 = start + pd.Timedelta(minutes=5 * int(rng.integers(0, 140)))
        level = float(rng.uniform(0.1, 0.9))
        readings = [
            {
                "timestamp": (t0 + pd.Timedelta(minutes=5 * k)).isoformat(),
                "count": round(100 * min(1.0, level + 0.01 * k)),
            }
            for k in range(24)
        ]
        out.append({"car_park": f"CP{i}", "capacity": 100, "readings": readings})
    return out


def gold_records(use_case: str, n: int = 200) -> list[dict]:
    """Test-split feature records (what LitServe gets: the model's own inputs)."""
    from mlops_platform.use_cases import get_use_case  # noqa: PLC0415

    uc = get_use_case(use_case)
    gold = pd.read_parquet(REPO / "data" / "gold" / use_case / "test.parquet")
    return json_records(uc.model_input(gold).head(n))


def median_reviews(n: int = 200) -> list[dict]:
    """Real test-split reviews of about the median length (within 10%)."""
    gold = pd.read_parquet(REPO / "data" / "gold" / "sentiment" / "test.parquet")
    words = gold["text"].str.split().str.len()
    median = words.median()
    near = gold[(words - median).abs() <= 0.1 * median]
    return [{"text": t} for t in near["text"].head(n)]


def onnx_only_plan(
    use_case: str, requests: list[dict], features: list[dict], work: Path
) -> list[tuple[Server, list[dict], None]]:
    """The floors and the service on what clients send, LitServe on the same
    ``model.onnx`` with the model's feature rows."""
    svc = service_port(service(use_case, "onnx"))
    answer = one_answer(svc, requests[0], work)
    lit = litserve(use_case, bundle_dir(use_case), "onnx")
    return [
        *((s, requests, None) for s in floor_servers(use_case, answer)),
        (svc, requests, None),
        (lit, features, None),
    ]


# ------------------------------------------------------------------------ report
def report(results: dict, args, when: str) -> None:
    print(
        f"\n{when}, {platform.node()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; wrk 2 threads, {args.duration} s per cell, "
        "loopback, one worker per server\n"
    )
    cells = " | ".join(f"c={c} req/s | p50 ms | p99 ms" for c in CONCURRENCY)
    print(f"| server | {cells} | batch of {BATCH}: records/s | p99 ms | RSS MB |")
    print("|---" * (2 + 3 * len(CONCURRENCY) + 2) + "|")
    for name, r in results.items():
        row = []
        for c in CONCURRENCY:
            s = r["single"][c]
            row += [f"{s['rps']:,.0f}", f"{s['p50_ms']:.2f}", f"{s['p99_ms']:.2f}"]
        b = r.get("batch")
        row += [f"{b['records_per_s']:,.0f}", f"{b['p99_ms']:.1f}"] if b else ["", ""]
        print(f"| {name} | " + " | ".join(row) + f" | {r['rss_mb']} |")
    errors = {
        n: sum(s["non_2xx"] for s in r["single"].values())
        + (r["batch"]["non_2xx"] if "batch" in r else 0)
        for n, r in results.items()
    }
    print(f"\nnon-2xx responses: {errors}")
    for name, r in results.items():
        if "agreement" in r:
            print(f"- agreement, {name}: {r['agreement']}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    parser.add_argument(
        "--only", default="", help="comma-separated name fragments (default: all)"
    )
    parser.add_argument(
        "--use-cases", default="retail,parking,sentiment", help="comma-separated"
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install wrk")
    when = f"{datetime.now(UTC):%Y-%m-%d}"
    work = Path(tempfile.mkdtemp(prefix="serving-bench-"))
    only = [x for x in args.only.split(",") if x]
    wanted = lambda s: not only or any(x in s.name for x in only)  # noqa: E731
    results: dict[str, Any] = {}
    plan: list[tuple[Server, list[dict], Any]] = []
    use_cases = args.use_cases.split(",")

    if "retail" in use_cases:
        retail = RetailUseCase()
        bundle = bundle_dir("retail")
        gold = pd.read_parquet(REPO / "data" / "gold" / "retail" / "test.parquet")
        test = retail.model_input(gold[gold["label"] != "XX"])
        model = joblib.load(bundle / "model.joblib")
        sample = json_records(test.sample(min(200, len(test)), random_state=0))
        classes = [str(c) for c in model.classes_]
        servers = retail_servers(bundle, classes, mlflow_model_dir(work))
        check = retail_agreement(test, model)
        answer = one_answer(servers[0], sample[0], work)
        plan += [(s, sample, None) for s in floor_servers("retail", answer)]
        plan += [(s, sample, check) for s in servers]
    for use_case, requests, features in (
        ("parking", parking_requests, lambda: gold_records("parking")),
        ("sentiment", median_reviews, median_reviews),
    ):
        if use_case in use_cases:
            plan += onnx_only_plan(use_case, requests(), features(), work)

    for server, records, check in plan:
        if wanted(server):
            results[server.name] = served(server, work, records, args, check)
    report(results, args, when)
    (work / "results.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"\nraw results and server logs: {work}")


if __name__ == "__main__":
    main()
