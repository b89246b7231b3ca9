"""The prediction front (``ServingApp``): predictions are answered in plain ASGI
before FastAPI's stack. What it must keep: the same answers and errors as FastAPI's
route, a JSON 500 with the request id when a prediction crashes, a status for a
client that leaves, the log line and metrics; and the runtimes' thread rules."""

from __future__ import annotations

import asyncio
import io
import threading
from typing import Any

import numpy as np
import pytest
from conftest import EXAMPLE, make_client, publish_bundle
from mlops_serving import observability
from mlops_serving.app import ServingApp
from mlops_serving.runtime import _numeric_block
from mlops_serving.schema import Columns
from test_serving_api import PREDICT, records_of


def _without_id(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "request_id"}


BODIES: list[tuple[str, Any]] = [
    ("one record", EXAMPLE),
    ("batch", {"records": [EXAMPLE, {**EXAMPLE, "store_region": "NOWHERE"}]}),
    ("invalid field", {**EXAMPLE, "total_spend": "a lot"}),
    ("missing field", {k: v for k, v in EXAMPLE.items() if k != "shop_hour"}),
    ("batch position", {"records": [EXAMPLE, {**EXAMPLE, "shop_hour": None, "x": 1}]}),
    ("not an object", [EXAMPLE]),
    ("empty batch", {"records": []}),
]


@pytest.mark.parametrize(("what", "body"), BODIES, ids=[b[0] for b in BODIES])
def test_the_front_and_fastapis_route_answer_alike(client, what, body):
    """The route stays registered with FastAPI (OpenAPI, and a fallback); with the
    front emptied, FastAPI answers: same status, same JSON."""
    front = client.post(PREDICT, json=body)
    app: ServingApp = client.app  # type: ignore[assignment]
    saved, app.front_routes = app.front_routes, {}
    try:
        framework = client.post(PREDICT, json=body)
    finally:
        app.front_routes = saved
    assert front.status_code == framework.status_code, what
    assert _without_id(front.json()) == _without_id(framework.json())
    assert front.headers["content-type"] == "application/json"
    assert front.headers["x-request-id"] == front.json()["request_id"]


def test_malformed_json_names_line_and_column_on_both_paths(client):
    r = client.post(
        PREDICT, content=b'{"n_lines": 1,\n "x": [1, 2,', headers={"x-request-id": "m1"}
    )
    assert r.status_code == 400
    assert "line 2 column" in r.json()["error"] and r.json()["request_id"] == "m1"


def test_a_crash_in_a_prediction_is_a_json_500_with_the_request_id(
    client, monkeypatch, capsys
):
    observability.configure_logging("info")
    slot = client.app.state.service.manager.slots["retail"]

    def broken(columns):
        raise RuntimeError("the graph fell over")

    monkeypatch.setattr(slot.current.runtime, "predict", broken)
    r = client.post(PREDICT, json=EXAMPLE, headers={"x-request-id": "boom-1"})
    assert r.status_code == 500
    assert r.json()["request_id"] == "boom-1"
    assert "internal error" in r.json()["error"]
    out = capsys.readouterr().out
    assert "the graph fell over" in out  # the traceback is in the service log
    assert '"status":500' in out.replace(" ", "")


def test_a_client_that_leaves_before_its_body_is_counted_as_499(client):
    """No answer is sent to a client that disconnected; the request still gets a
    log line and a counted status (499, nginx's code for it), not a 500."""
    app = client.app
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": PREDICT,
        "headers": [(b"content-type", b"application/json")],
        "query_string": b"",
    }
    asyncio.run(app(scope, receive, send))
    assert sent == []
    assert 'route="/v1/retail/predict",status="499"' in client.get("/metrics").text
    # FastAPI's route (the front bypassed) counts it the same way
    saved, app.front_routes = app.front_routes, {}
    try:
        asyncio.run(app(dict(scope), receive, send))
    finally:
        app.front_routes = saved
    counted = [
        float(line.rsplit(" ", 1)[1])
        for line in client.get("/metrics").text.splitlines()
        if line.startswith("serving_requests_total{") and 'status="499"' in line
    ]
    assert counted == [2.0]  # both paths, one series, no 500


def test_a_broken_log_stream_never_fails_a_request(client):
    """The request line is written straight to the handler's stream; if that stream
    breaks, the request is still answered and lines go through logging again."""
    observability.configure_logging("info")
    dead = io.StringIO()
    dead.close()
    observability.request_lines.stream = dead
    assert client.post(PREDICT, json=EXAMPLE).status_code == 200
    assert observability.request_lines.stream is None
    observability.configure_logging("info")


def test_the_numeric_block_follows_the_graphs_column_order():
    """A stacked graph gets the request's matrix as it is when the orders agree, and
    the columns picked by name when they do not."""
    columns = Columns(
        categorical={},
        n_rows=2,
        matrix=np.array([[1.0, 2.0], [3.0, 4.0]]),
        numeric_names=("a", "b"),
    )
    same = _numeric_block(["a", "b"], np.float64)(columns)
    assert same is columns.matrix
    swapped = _numeric_block(["b", "a"], np.float32)(columns)
    assert swapped.dtype == np.float32
    np.testing.assert_array_equal(swapped, [[2.0, 1.0], [4.0, 3.0]])


def test_sklearn_predicts_off_the_event_loop_with_one_native_thread(
    trained, store_root, monkeypatch
):
    """The scikit-learn fallback: every call in the service's prediction thread
    (a millisecond-scale call never blocks the event loop), with OpenMP and BLAS at
    one thread there (OpenMP's count is per thread: set where the call runs)."""
    from threadpoolctl import threadpool_info

    publish_bundle(trained, store_root, onnx=False)
    seen: list[tuple[str, list[int]]] = []
    with make_client(store_root) as c:
        runtime = c.app.state.service.manager.slots["retail"].current.runtime
        original = runtime.predict

        def spy(columns):
            out = original(columns)
            openmp = [
                i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp"
            ]
            seen.append((threading.current_thread().name, openmp))
            return out

        monkeypatch.setattr(runtime, "predict", spy)
        assert c.post(PREDICT, json=EXAMPLE).status_code == 200
        batch = {"records": records_of(trained, 5)}
        assert c.post(PREDICT, json=batch).status_code == 200
    assert len(seen) == 2
    for thread, openmp in seen:
        assert thread.startswith("mlops-predict")
        assert openmp and set(openmp) == {1}
