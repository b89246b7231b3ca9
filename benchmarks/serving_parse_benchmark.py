"""What a batch costs the service outside the model: the JSON-depth check and parsing
with validation, for 100 records of make run's retail test split (in process, no HTTP).

    python benchmarks/serving_parse_benchmark.py   # after make run

Prints the best of three rounds of 2,000 calls each, beside the ways they replaced
(docs/benchmarks.md, "Serving": the regular expression over the whole body for the
depth; pydantic-core's parser, then validation of the parsed records).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from mlops_serving import http
from mlops_serving.bundle import _batch_model
from mlops_serving.schema import build_schema
from pydantic import TypeAdapter
from pydantic_core import from_json

from mlops_platform.pipelines.evaluation.nodes import json_records
from mlops_platform.use_cases.retail import RetailUseCase

REPO = Path(__file__).resolve().parents[1]


def best_ms(call: Callable[[], object], n: int = 2000) -> float:
    rounds = []
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(n):
            call()
        rounds.append((time.perf_counter() - start) / n)
    return min(rounds) * 1e3


def regex_depth(body: bytes) -> int:
    """The depth check as it was: every string of the body blanked by a regex."""
    opens = body.count(b"[") + body.count(b"{")
    if opens <= 1:
        return opens
    if b'"' in body:
        body = http._STRING.sub(b'""', body)
    steps = http._STEP[np.frombuffer(body, dtype=np.uint8)].astype(np.int32)
    return int(np.cumsum(steps).max(initial=0))


def main() -> None:
    pointer = json.loads((REPO / "data/models/production/retail.json").read_text())
    bundle = REPO / "data/models" / pointer["path"]
    schema = build_schema(
        json.loads((bundle / "input_schema.json").read_text()), "retail"
    )
    gold = pd.read_parquet(REPO / "data/gold/retail/test.parquet")
    test = RetailUseCase().model_input(gold[gold["label"] != "XX"])
    records = json_records(test.sample(100, random_state=0))
    body = json.dumps({"records": records}).encode()
    as_list = TypeAdapter(list[schema.record_model])  # type: ignore[name-defined]
    batch = TypeAdapter(_batch_model(schema.record_model, 1000))
    if regex_depth(body) != http.nesting_depth(body):
        raise SystemExit("the two depth checks disagree")
    timings = {
        "depth, regex over the body": lambda: regex_depth(body),
        "depth, skeleton (service)": lambda: http.nesting_depth(body),
        "parse, then validate": lambda: as_list.validate_python(
            from_json(body)["records"]
        ),
        "validate_json (service)": lambda: batch.validate_json(body),
    }
    print(f"100 records, {len(body):,} bytes")
    for name, call in timings.items():
        print(f"{name:<28} {best_ms(call):.3f} ms")


if __name__ == "__main__":
    main()
