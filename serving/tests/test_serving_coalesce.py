"""Requests for the prediction thread coalesced into one model call
(mlops_serving.coalesce): each request gets exactly its own rows' answers, a failing
call fails only the request that caused it, and a call never exceeds its row limit.

The first tests substitute the runtime (a stand-in that records its calls and doubles
its input, slowly enough for requests to queue); the last one runs the real
scikit-learn runtime behind the real app, with requests sent concurrently."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from conftest import make_client, publish_bundle
from mlops_serving.coalesce import Coalescer
from mlops_serving.schema import Columns

from mlops_platform.pipelines.evaluation.nodes import json_records


class Recording:
    """A stand-in runtime: outputs twice the input, 50 ms a call; refuses negatives."""

    name, inline_rows = "recording", 0

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict(self, columns: Columns) -> np.ndarray:
        self.calls.append(columns.n_rows)
        time.sleep(0.05)
        if (columns.matrix < 0).any():
            raise ValueError("a negative value")
        return columns.matrix * 2


def _columns(values: list[float]) -> Columns:
    return Columns(
        categorical={"c": [f"k{v}" for v in values]},
        n_rows=len(values),
        matrix=np.array(values, dtype=float).reshape(-1, 1),
        numeric_names=("x",),
        text={"t": [str(v) for v in values]},
    )


def _run(parts: list[list[float]], max_rows: int = 1000):
    runtime = Recording()

    async def main():
        coalescer = Coalescer(ThreadPoolExecutor(1), max_rows)
        tasks = []
        for values in parts:  # one request after another, as they arrive
            tasks.append(
                asyncio.create_task(coalescer.predict(runtime, _columns(values)))
            )
            await asyncio.sleep(0.001)
        return await asyncio.gather(*tasks, return_exceptions=True), coalescer

    (results, coalescer) = asyncio.run(main())
    assert coalescer.queues == {}  # nothing left behind
    return results, runtime.calls


def test_queued_requests_share_one_call_and_get_their_own_rows():
    parts = [[1.0], [2.0, 3.0], [4.0], [5.0, 6.0, 7.0], [8.0]]
    results, calls = _run(parts)
    # the first is predicted at once; the others queued meanwhile: one call
    assert calls == [1, 7]
    for values, out in zip(parts, results, strict=True):
        assert out.tolist() == [[2 * v] for v in values]


def test_a_failing_call_fails_only_the_request_that_caused_it():
    parts = [[1.0], [2.0], [-3.0], [4.0]]
    results, calls = _run(parts)
    # the merged call fails, then each queued request is predicted alone
    assert calls == [1, 3, 1, 1, 1]
    assert results[0].tolist() == [[2.0]] and results[1].tolist() == [[4.0]]
    assert isinstance(results[2], ValueError)
    assert results[3].tolist() == [[8.0]]


def test_a_call_never_exceeds_the_row_limit():
    parts = [[1.0], [2.0, 3.0], [4.0, 5.0], [6.0, 7.0, 8.0, 9.0, 10.0, 11.0], [12.0]]
    results, calls = _run(parts, max_rows=4)
    # a request larger than the limit is still answered, alone
    assert calls == [1, 4, 6, 1]
    assert [r.tolist() for r in results] == [[[2 * v] for v in p] for p in parts]


def test_columns_concat_keeps_every_kind_of_column_in_order():
    a, b = _columns([1.0, 2.0]), _columns([3.0])
    both = Columns.concat([a, b])
    assert both.n_rows == 3
    assert both.matrix.ravel().tolist() == [1.0, 2.0, 3.0]
    assert both.categorical == {"c": ["k1.0", "k2.0", "k3.0"]}
    assert both.text == {"t": ["1.0", "2.0", "3.0"]}


def test_concurrent_records_on_the_sklearn_runtime_answer_as_the_model(
    trained, store_root
):
    """The real app, scikit-learn runtime (every request goes to the prediction
    thread): records sent from several client threads at once are answered with the
    training-time model's own probabilities, whatever call they shared."""
    concurrency = 8
    publish_bundle(trained, store_root, onnx=False)
    x = trained.retail.model_input(trained.test.head(64))
    records = json_records(x)
    expected = trained.models["hist_gradient_boosting"].predict_proba(x)
    got: dict[int, list[float]] = {}
    with make_client(store_root) as c:
        service = c.app.state.service

        def send(i: int) -> None:
            r = c.post("/v1/retail/predict", json=records[i])
            assert r.status_code == 200, r.text
            p = r.json()["predictions"][0]["probabilities"]
            got[i] = [p[k] for k in ("LA", "MM", "UM")]

        barrier = threading.Barrier(concurrency)

        def worker(first: int) -> None:
            barrier.wait()
            for i in range(first, len(records), concurrency):
                send(i)

        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(worker, range(concurrency)))
        calls = service.coalescer.calls
    assert sorted(got) == list(range(len(records)))
    answered = np.array([got[i] for i in range(len(records))])
    assert np.abs(answered - expected).max() < 1e-12
    print(f"{len(records)} requests, {calls} model calls")
    assert calls < len(records)  # some shared a call
