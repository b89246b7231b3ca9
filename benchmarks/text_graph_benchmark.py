"""The sentiment champion's ONNX graph, sparse form against skl2onnx's dense graph:
export time, parity with scikit-learn, and onnxruntime's time per review (one thread,
in process, no HTTP), one review per call and 100 per call.

    python benchmarks/text_graph_benchmark.py   # after make run (a linear champion)

Reviews: make run's sentiment test split (parity on all of them), timed on those
within 10% of the median length (what benchmarks/serving_benchmark.py sends).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import joblib
import numpy as np
import onnxruntime as ort
import pandas as pd

from mlops_platform.onnx_export import _text_graph, run_onnx

REPO = Path(__file__).resolve().parents[1]


def per_review_us(session: ort.InferenceSession, texts: list[str], rows: int) -> float:
    feeds = [
        np.array(texts[i : i + rows], dtype=object).reshape(-1, 1)
        for i in range(0, len(texts) - rows + 1, rows)
    ]
    best = float("inf")
    for _ in range(3):
        start, done = time.perf_counter(), 0
        while done < 600:
            for feed in feeds:
                session.run(None, {"text": feed})
                done += len(feed)
        best = min(best, (time.perf_counter() - start) / done)
    return best * 1e6


def main() -> None:
    pointer = json.loads((REPO / "data/models/production/sentiment.json").read_text())
    bundle = REPO / "data/models" / pointer["path"]
    model = joblib.load(bundle / "model.joblib")
    gold = pd.read_parquet(REPO / "data/gold/sentiment/test.parquet")
    texts = gold["text"].tolist()
    words = gold["text"].str.split().str.len()
    median = [
        t
        for t, n in zip(texts, words, strict=True)
        if abs(n - words.median()) <= 0.1 * words.median()
    ][:200]
    expected = model.predict_proba(pd.DataFrame({"text": texts}))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    print(f"{pointer['version']}: {len(texts)} test reviews, {len(median)} timed")
    print(
        "| graph | export s | max abs diff | same class "
        "| us per review, 1 per call | 100 per call |"
    )
    print("|---|---|---|---|---|---|")
    for name, sparse in (("sparse", True), ("dense (skl2onnx)", False)):
        start = time.perf_counter()
        graph, info = _text_graph(model, "probabilities", sparse_if_possible=sparse)
        export_s = time.perf_counter() - start
        got = run_onnx(
            graph,
            {"text": np.array(texts, dtype=object).reshape(-1, 1)},
            "probabilities",
            info["max_rows_per_call"],
        )
        session = ort.InferenceSession(
            graph, options, providers=["CPUExecutionProvider"]
        )
        print(
            f"| {name} | {export_s:.1f} | {np.abs(got - expected).max():.1e} "
            f"| {(got.argmax(1) == expected.argmax(1)).mean():.4f} "
            f"| {per_review_us(session, median, 1):.0f} "
            f"| {per_review_us(session, median, 100):.0f} |"
        )


if __name__ == "__main__":
    main()
