"""The online feature store and the till endpoint: lookup cost, scale, HTTP latency.

    make run                                        # a champion and a published store
    apt-get install wrk                             # the load generator (Debian)
    python benchmarks/online_features_benchmark.py  # this script

1. In process, on the store ``make run`` published (``data/models/online/retail.json``):
   a customer lookup, a basket's products, and the whole till path
   (``mlops_serving.usecases.retail``: lookups and feature definitions), over make
   run's newest week of real-shaped baskets, moved one week later (the store refuses
   baskets inside its own data).
2. Scale: a customers table of 1,000,000 rows (the state's columns, random values):
   file size, build, load (deserialize) and lookup time, resident memory.
3. HTTP: the service (one uvicorn worker) under wrk, 2 threads, 8 connections, on
   ``POST /v1/retail/baskets`` with those baskets, and on ``POST /v1/retail/predict``
   with the model's features of the same baskets, one after the other in one run.

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

import numpy as np
import pandas as pd
from mlops_serving.online import OnlineStore
from mlops_serving.schema import build_schema
from mlops_serving.usecases.retail import USE_CASE, TillBasket
from serving_benchmark import free_port, wait_http, wrk

from mlops_platform.lake import LakeTable, read_gold
from mlops_platform.offline import OFFLINE_ENV
from mlops_platform.online_store import OnlineStoreWriter, build_sqlite
from mlops_platform.use_cases.retail import RetailUseCase
from mlops_platform.use_cases.retail.features import till_requests
from mlops_platform.use_cases.retail.ingest import BASKET_KEY

REPO = Path(__file__).resolve().parents[1]
STORE = REPO / "data" / "models"


def percentiles(samples: list[float]) -> tuple[float, float]:
    a = np.array(samples) * 1e6
    return float(np.percentile(a, 50)), float(np.percentile(a, 99))


def load_store() -> OnlineStore:
    writer = OnlineStoreWriter(str(STORE), "retail")
    pointer = writer.read_pointer()
    if pointer is None:
        raise SystemExit("no online store in data/models: run `make run` first")
    return OnlineStore.from_bytes(
        writer.read(pointer["path"]),
        use_case="retail",
        version=pointer["version"],
        entities=USE_CASE.online_entities,
        definitions=USE_CASE.online_definitions,
        loaded_at="now",
    )


def till_baskets(n: int = 200) -> tuple[list[dict], list[dict]]:
    """The newest week's first ``n`` baskets as a till sends them (one week later),
    and the same baskets' gold feature records (for /predict)."""
    silver = LakeTable.open(str(REPO / "data/silver/retail/records"))
    newest = max(silver.names(), key=lambda n: max(silver.parts[n]["periods"]))
    lines = silver.read([newest])
    keys = sorted(lines[BASKET_KEY].unique())[:n]
    lines = lines[lines[BASKET_KEY].isin(keys)]
    bodies = list(till_requests(lines, days_later=7).values())
    gold = read_gold(LakeTable.open(str(REPO / "data/gold/retail/table")))
    x = gold.set_index("basket_key").loc[keys, RetailUseCase().features].astype(object)
    records = x.where(x.notna(), None).to_dict("records")
    return bodies, records


def in_process(store: OnlineStore, bodies: list[dict]) -> dict[str, tuple]:
    pointer = json.loads((STORE / "production/retail.json").read_text())
    schema = build_schema(
        json.loads((STORE / pointer["path"] / "input_schema.json").read_text()),
        "retail",
    )
    cards = [b["customer_card"] for b in bodies if b["customer_card"]]
    validated = [TillBasket.model_validate(b) for b in bodies]
    out: dict[str, tuple] = {}
    for name, call in (
        ("customer lookup", lambda i: store.get("customers", cards[i % len(cards)])),
        (
            "a basket's products (one query)",
            lambda i: store.get_many(
                "products", [ln["product"] for ln in bodies[i % len(bodies)]["lines"]]
            ),
        ),
        (
            "whole till path (lookups + features)",
            lambda i: USE_CASE.basket_record(
                validated[i % len(validated)], schema, store
            ),
        ),
    ):
        samples = []
        for i in range(5000):
            start = time.perf_counter()
            call(i)
            samples.append(time.perf_counter() - start)
        out[name] = percentiles(samples[500:])
    lines = [len(b["lines"]) for b in bodies]
    out["_lines"] = (float(np.median(lines)), float(max(lines)))
    return out


def rss_mb() -> float:
    """This process's resident memory now (not its peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def at_scale(n: int = 1_000_000) -> dict[str, float]:
    rng = np.random.default_rng(0)
    baskets = rng.integers(1, 300, n).astype(float)
    labelled = np.floor(baskets * 0.99)
    la = np.floor(labelled * rng.random(n))
    mm = np.floor((labelled - la) * rng.random(n))
    customers = pd.DataFrame(
        {
            "baskets": baskets,
            "spend": baskets * rng.uniform(2, 60, n).round(2),
            "n_la": la,
            "n_mm": mm,
            "n_um": labelled - la - mm,
            "labelled": labelled,
            "last_hour": 319_000 + rng.integers(0, 20_000, n).astype(float),
            "cust_price_sensitivity": rng.choice(["LA", "MM", "UM", "XX"], n),
            "cust_lifestage": rng.choice(["YA", "OA", "YF", "OF", "PE", "OT"], n),
        },
        index=pd.Index([f"CUST{i:010d}" for i in range(n)], name="key"),
    )
    start = time.perf_counter()
    data = build_sqlite(
        {"customers": customers}, {"use_case": "retail", "definitions": 1}
    )
    built = time.perf_counter() - start
    del customers
    before = rss_mb()
    start = time.perf_counter()
    store = OnlineStore.from_bytes(
        data,
        use_case="retail",
        version="scale",
        entities=("customers",),
        definitions=1,
        loaded_at="now",
    )
    loaded = time.perf_counter() - start
    grown = rss_mb() - before
    keys = [f"CUST{i:010d}" for i in rng.integers(0, n, 5000)]
    samples = []
    for key in keys:
        t = time.perf_counter()
        store.get("customers", key)
        samples.append(time.perf_counter() - t)
    p50, p99 = percentiles(samples[500:])
    return {
        "rows": n,
        "mb": len(data) / 1e6,
        "build_s": built,
        "load_s": loaded,
        "rss_growth_mb": grown,
        "lookup_p50_us": p50,
        "lookup_p99_us": p99,
    }


def over_http(bodies: list[dict], records: list[dict], duration: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="online-bench-"))
    port = free_port()
    env = {
        **os.environ,
        **OFFLINE_ENV,
        "SERVING_MODEL_STORE_URI": str(STORE),
        "SERVING_USE_CASES": "retail",
        "SERVING_PORT": str(port),
        "SERVING_LOG_LEVEL": "info",  # the log line per request is part of it
    }
    log = (work / "serving.log").open("w")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlops-serve")],
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    out = {}
    try:
        wait_http(base + "/ready", proc)
        for name, path, payload in (
            ("baskets", "/v1/retail/baskets", bodies),
            ("predict", "/v1/retail/predict", records),
        ):
            file = work / f"{name}.jsonl"
            file.write_text("".join(json.dumps(b) + "\n" for b in payload))
            wrk(base, path, file, 8, 3)  # warm-up
            out[name] = {c: wrk(base, path, file, c, duration) for c in (1, 8)}
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
        log.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    args = parser.parse_args()
    store = load_store()
    bodies, records = till_baskets()
    local = in_process(store, bodies)
    scale = at_scale()
    http = over_http(bodies, records, args.duration)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    where = f"{platform.node()}, {os.cpu_count()} cores"
    print(f"\n### Online features ({when}, {where})\n")
    print(
        f"Store: {store.meta['rows']}; baskets: {len(bodies)} of make run's newest "
        f"week, lines per basket median {local['_lines'][0]:.0f}, max "
        f"{local['_lines'][1]:.0f}.\n"
    )
    print("| in process | p50 us | p99 us |\n|---|---:|---:|")
    for name, (p50, p99) in local.items():
        if not name.startswith("_"):
            print(f"| {name} | {p50:.1f} | {p99:.1f} |")
    print(
        f"\nAt {scale['rows']:,} customers: file {scale['mb']:.0f} MB, built in "
        f"{scale['build_s']:.1f} s, loaded in {scale['load_s']:.2f} s (+"
        f"{scale['rss_growth_mb']:.0f} MB resident), lookup p50 "
        f"{scale['lookup_p50_us']:.1f} us, p99 {scale['lookup_p99_us']:.1f} us.\n"
    )
    print("| HTTP, one worker | c | req/s | p50 ms | p99 ms | non-2xx |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, by_c in http.items():
        for c, r in by_c.items():
            print(
                f"| /v1/retail/{name} | {c} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | "
                f"{r['p99_ms']:.2f} | {r['non_2xx']} |"
            )


if __name__ == "__main__":
    main()
