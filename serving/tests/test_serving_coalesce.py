"""Requests coalesced into one model call (mlops_serving.coalesce), in the prediction
thread and within one turn of the event loop: each request gets exactly its own rows'
answers, a failing call fails only the request that caused it, a call never exceeds
its row limit, and requests for two models never share a call.

The unit tests substitute the runtime (a stand-in that records its calls and doubles
its input, slowly enough for requests to queue); the last tests run the real runtimes
behind the real app: scikit-learn through a test client with requests sent
concurrently, ONNX in a real ``python -m mlops_serving`` process with requests sent
on several sockets at once, and the HTTP protocol's count of unanswered requests on a
real uvicorn server."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx2 as httpx
import numpy as np
import uvicorn
from conftest import live_server_process, make_client, publish_bundle
from mlops_serving.coalesce import Coalescer
from mlops_serving.http import BoundedHeadProtocol, unanswered
from mlops_serving.schema import Columns

from mlops_platform.aws.moto_lake import free_port
from mlops_platform.pipelines.evaluation.nodes import json_records


class Recording:
    """A stand-in runtime: outputs twice the input; refuses negatives. For the
    prediction thread (``inline_rows`` 0) 50 ms a call, so that requests queue; an
    inline one answers at once, as it runs on the event loop."""

    name = "recording"

    def __init__(self, inline_rows: int = 0) -> None:
        self.calls: list[int] = []
        self.inline_rows = inline_rows
        self.delay = 0.0 if inline_rows else 0.05

    def predict(self, columns: Columns) -> np.ndarray:
        self.calls.append(columns.n_rows)
        time.sleep(self.delay)
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


# ------------------------------------------------------- one turn of the event loop
def _run_turn(parts: list[list[float]], inline_rows: int = 64, cancel: int = -1):
    """``parts`` reach the model in one turn of the loop (one task each, started
    together, as uvicorn starts the requests it reads together)."""
    runtime = Recording(inline_rows)

    async def main():
        coalescer = Coalescer(ThreadPoolExecutor(1), 1000)
        tasks = [
            asyncio.create_task(coalescer.predict_in_turn(runtime, _columns(v)))
            for v in parts
        ]
        if cancel >= 0:  # the client of one request leaves before the call
            await asyncio.sleep(0)
            tasks[cancel].cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        return results, coalescer

    results, coalescer = asyncio.run(main())
    assert coalescer.turns == {}  # nothing left behind
    return results, runtime.calls


def test_requests_of_one_turn_share_one_call_and_get_their_own_rows():
    parts = [[1.0], [2.0, 3.0], [4.0], [5.0, 6.0, 7.0], [8.0]]
    results, calls = _run_turn(parts)
    assert calls == [8]
    for values, out in zip(parts, results, strict=True):
        assert out.tolist() == [[2 * v] for v in values]


def test_a_failing_row_in_a_turn_fails_only_its_request():
    parts = [[1.0], [2.0], [-3.0], [4.0]]
    results, calls = _run_turn(parts)
    assert calls == [4, 1, 1, 1, 1]  # the shared call, then each alone
    assert [r.tolist() for r in (results[0], results[1], results[3])] == [
        [[2.0]],
        [[4.0]],
        [[8.0]],
    ]
    assert isinstance(results[2], ValueError)


def test_a_turns_call_never_exceeds_the_inline_rows():
    parts = [[1.0], [2.0, 3.0], [4.0, 5.0], [6.0, 7.0, 8.0], [9.0]]
    results, calls = _run_turn(parts, inline_rows=4)
    # 1+2 fit; 2 more would be 5 > 4: a new call; 3 more would be 5: another
    assert calls == [3, 2, 4]
    assert [r.tolist() for r in results] == [[[2 * v] for v in p] for p in parts]


def test_a_cancelled_request_leaves_the_others_their_answers():
    parts = [[1.0], [2.0], [3.0]]
    results, calls = _run_turn(parts, cancel=1)
    assert calls == [2]  # the cancelled request's rows are not predicted
    assert isinstance(results[1], asyncio.CancelledError)
    assert results[0].tolist() == [[2.0]] and results[2].tolist() == [[6.0]]


def test_requests_for_two_models_in_one_turn_never_share_a_call():
    """A hot swap between two requests of one turn: each is answered by the model
    it read."""
    old, new = Recording(64), Recording(64)

    async def main():
        coalescer = Coalescer(ThreadPoolExecutor(1), 1000)
        plan = [(old, [1.0]), (new, [2.0]), (old, [3.0]), (new, [4.0, 5.0])]
        return await asyncio.gather(
            *(coalescer.predict_in_turn(r, _columns(v)) for r, v in plan)
        )

    results = asyncio.run(main())
    assert old.calls == [2] and new.calls == [3]
    assert [r.ravel().tolist() for r in results] == [[2.0], [4.0], [6.0], [8.0, 10.0]]


def test_a_request_alone_is_predicted_at_once():
    runtime = Recording(64)
    seen: list[tuple[str, int]] = []
    coalescer = Coalescer(ThreadPoolExecutor(1), 1000, lambda *a: seen.append(a))
    out = coalescer.predict_now(runtime, _columns([1.5, 2.5]), "retail")
    assert out.tolist() == [[3.0], [5.0]]
    assert runtime.calls == [2] and seen == [("retail", 2)] and coalescer.calls == 1


# ----------------------------------------------------------- over real HTTP
def test_the_protocol_tells_the_app_its_unanswered_requests():
    """A real uvicorn server with the service's protocol and a stand-in app that
    records how many requests the worker holds: one alone; two while the first is
    held open. A scope from any other server has no such count."""
    release = asyncio.Event()
    loops: list[asyncio.AbstractEventLoop] = []
    seen: list[int | None] = []

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        count = unanswered(scope)
        seen.append(None if count is None else len(count))
        if scope["path"] == "/hold":
            loops.append(asyncio.get_running_loop())
            await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        http=BoundedHeadProtocol,
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert httpx.get(f"{base}/one", timeout=5).status_code == 200
        with ThreadPoolExecutor(1) as pool:
            held = pool.submit(httpx.get, f"{base}/hold", timeout=10)
            while not loops:
                time.sleep(0.01)
            assert httpx.get(f"{base}/beside", timeout=5).status_code == 200
            loops[0].call_soon_threadsafe(release.set)
            assert held.result().status_code == 200
        assert httpx.get(f"{base}/after", timeout=5).status_code == 200
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert seen == [1, 1, 2, 1]
    assert unanswered({"type": "http", "headers": []}) is None


def _metric(text: str, name: str) -> float:
    m = re.search(rf"^{name}\{{use_case=\"retail\"\}} ([\d.e+]+)$", text, re.M)
    assert m, f"{name} not in /metrics"
    return float(m.group(1))


def test_requests_read_together_share_onnx_calls_and_get_their_own_answers(
    trained, store_root, tmp_path
):
    """A real ``python -m mlops_serving`` on the ONNX runtime. Records sent one after
    another are each predicted alone. Then eight at a time on eight open
    connections, while the server is stopped (SIGSTOP), so that all eight are in the
    kernel's buffers when it next reads, as under load: they share calls, and every
    answer is the one the record got alone. (The stop stands in for a busy worker;
    that uvicorn starts requests read together in one turn is what the unit tests
    above and the protocol test rely on.)"""
    publish_bundle(trained, store_root)
    x = trained.retail.model_input(trained.test.head(64))
    records = json_records(x)
    with live_server_process(store_root, tmp_path / "server.log") as (base, proc):
        port = int(base.rsplit(":", 1)[1])
        conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(8)]
        try:
            alone = {}
            for i, record in enumerate(records):  # one after another, alone
                s = conns[i % 8]
                s.sendall(_raw_post(record))
                alone[i] = _read_answer(s)["predictions"][0]["probabilities"]
            before = httpx.get(f"{base}/metrics", timeout=10).text
            calls = _metric(before, "serving_model_call_rows_count")
            assert calls == _metric(before, "serving_model_call_rows_sum")
            assert calls == len(records)

            together: dict[int, dict] = {}
            for start in range(0, len(records), 8):
                proc.send_signal(signal.SIGSTOP)
                try:
                    for j, s in enumerate(conns):
                        s.sendall(_raw_post(records[start + j]))
                finally:
                    proc.send_signal(signal.SIGCONT)
                for j, s in enumerate(conns):
                    answer = _read_answer(s)
                    together[start + j] = answer["predictions"][0]["probabilities"]
        finally:
            for s in conns:
                s.close()
        after = httpx.get(f"{base}/metrics", timeout=10).text
    shared_calls = _metric(after, "serving_model_call_rows_count") - calls
    shared_rows = _metric(after, "serving_model_call_rows_sum") - len(records)
    print(f"{len(records)} records sent 8 at a time: {shared_calls:.0f} model calls")
    assert shared_rows == len(records)
    assert shared_calls <= len(records) / 4  # read together, they shared calls
    # the same answers, not always to the bit: onnxruntime's arithmetic over several
    # rows is vectorised and can round the last bit differently (seen: 1 ulp)
    assert sorted(together) == sorted(alone)
    diff = max(
        abs(together[i][k] - alone[i][k]) for i in alone for k in ("LA", "MM", "UM")
    )
    assert diff < 1e-12


def _raw_post(record: dict) -> bytes:
    body = json.dumps(record).encode()
    return (
        b"POST /v1/retail/predict HTTP/1.1\r\nHost: t\r\n"
        b"content-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


def _read_answer(s: socket.socket) -> dict:
    """One response on a kept-alive connection (read to its Content-Length)."""
    s.settimeout(20)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        assert chunk, f"connection closed: {data[:300]!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), data[:300]
    length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))
    while len(body) < length:
        chunk = s.recv(65536)
        assert chunk, "connection closed inside a body"
        body += chunk
    assert len(body) == length  # one request at a time per connection
    return json.loads(body)
