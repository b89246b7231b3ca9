"""Every route and every kind of bad input, through FastAPI's TestClient."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import ADMIN_TOKEN, EXAMPLE, Trained, make_client, publish_bundle
from mlops_serving.app import create_app
from mlops_serving.settings import SettingsError, load_settings

from mlops_platform.pipelines.evaluation.nodes import json_records

PREDICT = "/v1/retail/predict"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def records_of(trained: Trained, n: int | None = None) -> list[dict[str, Any]]:
    x = trained.retail.model_input(trained.test)
    if n is not None:
        x = x.head(n)
    return json_records(x)


# ---------------------------------------------------------------- contract checks
def test_the_request_model_is_the_bundles_input_schema(client, trained):
    """No feature list in this package: the record model, its descriptions and the
    seen categories come from the bundle the pipeline wrote."""
    spec = client.get("/openapi.json").json()
    record = spec["components"]["schemas"]["RetailRecord"]
    assert list(record["properties"]) == trained.retail.features
    region = record["properties"]["store_region"]
    assert "E01" in region["anyOf"][0].get("description", region.get("description"))
    assert "spend" in record["properties"]["total_spend"]["description"]


def test_the_package_imports_no_kedro_mlflow_or_platform():
    code = (
        "import sys, mlops_serving.app, mlops_serving.__main__;"
        "bad=[m for m in sys.modules if m.split('.')[0] in "
        "('kedro','mlflow','mlops_platform','pandas','sklearn')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


# ------------------------------------------------------------------------- routes
def test_health_ready_models_docs(client):
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json()["models"] == {"retail": "v0001"}
    models = client.get("/v1/models").json()
    (m,) = models["models"]
    assert m["version"] == "v0001" and m["runtime"] == "onnx"
    assert m["model_name"] == "hist_gradient_boosting"
    assert m["headline_metrics"] == {"accuracy": 0.5, "macro_f1": 0.5}
    for key in ("trained_at", "promoted_at", "loaded_at"):
        assert m[key]
    assert m["golden_rows_checked"] == 25
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    body = spec["paths"][PREDICT]["post"]["requestBody"]["content"]["application/json"]
    example = body["examples"]["one record"]["value"]
    assert client.post(PREDICT, json=example).status_code == 200  # a golden row
    record = spec["components"]["schemas"]["RetailRecord"]
    assert set(record["required"]) == set(EXAMPLE)
    assert record["additionalProperties"] is False


def test_not_ready_until_a_model_is_promoted(trained, store_root):
    with make_client(store_root) as c:
        assert c.get("/health").status_code == 200
        r = c.get("/ready")
        assert r.status_code == 503 and r.json()["models"] == {"retail": None}
        r = c.post(PREDICT, json=EXAMPLE)
        assert r.status_code == 503 and "no retail model" in r.json()["error"]
        assert c.get("/v1/models").json()["models"][0]["last_error"]["error"] == (
            "no production pointer yet"
        )
        publish_bundle(trained, store_root)
        assert c.post("/admin/reload", headers=AUTH).json()["checked"] == {
            "retail": "loaded"
        }
        assert c.get("/ready").status_code == 200


def test_single_and_batch_predictions_match_the_training_model(client, trained):
    model = trained.models["hist_gradient_boosting"]
    records = records_of(trained)
    expected = model.predict_proba(trained.retail.model_input(trained.test))
    got = []
    for start in range(0, len(records), 500):
        r = client.post(PREDICT, json={"records": records[start : start + 500]})
        assert r.status_code == 200
        got += r.json()["predictions"]
    proba = np.array([[p["probabilities"][c] for c in ("LA", "MM", "UM")] for p in got])
    assert np.abs(proba - expected).max() < 1e-9
    assert [p["class"] for p in got] == list(model.classes_[expected.argmax(axis=1)])
    # One record at a time, including records with null categories (STACK-FACTS).
    with_null = [i for i, r in enumerate(records) if None in r.values()][:30]
    assert with_null
    for i in with_null + list(range(10)):
        p = client.post(PREDICT, json=records[i]).json()["predictions"][0]
        assert abs(p["probabilities"]["MM"] - expected[i][1]) < 1e-9


def test_prediction_fields(client):
    r = client.post(PREDICT, json=EXAMPLE, headers={"X-Request-ID": "abc-123"})
    assert r.status_code == 200 and r.headers["x-request-id"] == "abc-123"
    body = r.json()
    assert body["model_version"] == "v0001" and body["request_id"] == "abc-123"
    (p,) = body["predictions"]
    assert p["class"] in ("LA", "MM", "UM")
    labels = {
        "LA": "High price sensitivity",
        "MM": "Medium price sensitivity",
        "UM": "Low price sensitivity",
    }
    assert p["label"] == labels[p["class"]]
    assert abs(sum(p["probabilities"].values()) - 1) < 1e-9
    assert p["model_version"] == "v0001" and p["unknown_categories"] == []


def test_unknown_categories_are_scored_as_unknown_and_counted(client, trained):
    model = trained.models["hist_gradient_boosting"]
    rec = {**EXAMPLE, "store_region": "Z99", "store_format": "MEGA"}
    p = client.post(PREDICT, json=rec).json()["predictions"][0]
    assert sorted(p["unknown_categories"]) == ["store_format", "store_region"]
    frame = trained.retail.model_input(pd.DataFrame([rec]))
    expected = model.predict_proba(frame)[0]
    assert abs(p["probabilities"]["LA"] - expected[0]) < 1e-9
    metrics = client.get("/metrics").text
    assert (
        'serving_unknown_categories_total{field="store_region",use_case="retail"} 1.0'
        in metrics
    )
    # In a batch, each record names its own (null is missing, not unknown).
    batch = [
        EXAMPLE,
        {**EXAMPLE, "store_region": "Z98"},
        {**EXAMPLE, "store_region": None},
        rec,
        {**EXAMPLE, "store_region": "Z99"},
    ]
    got = client.post(PREDICT, json={"records": batch}).json()["predictions"]
    assert [sorted(p["unknown_categories"]) for p in got] == [
        [], ["store_region"], [], ["store_format", "store_region"], ["store_region"],
    ]  # fmt: skip
    metrics = client.get("/metrics").text
    for field, n in (("store_region", 4), ("store_format", 2)):
        line = f'serving_unknown_categories_total{{field="{field}",use_case="retail"}}'
        assert f"{line} {n}.0" in metrics, field


# -------------------------------------------------------------------- bad input
def _error(r, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] and body["request_id"]
    return body


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        ({"total_spend": "12.5"}, "total_spend", "valid number"),
        ({"store_region": 7}, "store_region", "valid string"),
        ({"n_lines": True}, "n_lines", "valid number"),
        ({"store_region": "E" * 65}, "store_region", "at most 64 characters"),
        ({"total_spend": 1e31}, "total_spend", "less than or equal"),
        ({"colour": "red"}, "colour", "Extra inputs"),
    ],
)
def test_wrong_values_name_the_field(client, change, field, problem):
    body = _error(client.post(PREDICT, json={**EXAMPLE, **change}), 422)
    (item,) = body["detail"]
    assert item["field"] == field and problem in item["problem"]


def test_missing_field_and_batch_positions(client):
    rec = dict(EXAMPLE)
    del rec["shop_hour"]
    body = _error(client.post(PREDICT, json=rec), 422)
    assert body["detail"] == [
        {"field": "shop_hour", "problem": "Field required", "type": "missing"}
    ]
    batch = {"records": [EXAMPLE, rec, {**EXAMPLE, "n_lines": "x"}]}
    body = _error(client.post(PREDICT, json=batch), 422)
    assert [d["field"] for d in body["detail"]] == [
        "records[1].shop_hour",
        "records[2].n_lines",
    ]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(client, literal):
    raw = json.dumps(EXAMPLE).replace(
        '"total_spend": 24.37', f'"total_spend": {literal}'
    )
    body = _error(
        client.post(PREDICT, content=raw, headers={"content-type": "application/json"}),
        422,
    )
    assert body["detail"][0]["field"] == "total_spend"
    assert "finite" in body["detail"][0]["problem"]


def test_malformed_and_non_object_bodies(client):
    body = _error(client.post(PREDICT, content=b'{"n_lines": 1,'), 400)
    assert body["error"].startswith("malformed JSON")
    body = _error(client.post(PREDICT, content=b"\xff\xfe"), 400)
    _error(client.post(PREDICT, content=b""), 400)  # no body at all
    for payload in ([EXAMPLE], "text", 3, True):
        _error(client.post(PREDICT, json=payload), 422)
    _error(client.post(PREDICT, content=b"null"), 422)
    body = _error(client.post(PREDICT, json={"records": EXAMPLE}), 422)
    assert body["detail"][0]["field"] == "records"
    body = _error(client.post(PREDICT, json={"records": [], "x": 1}), 422)
    assert body["detail"][0]["field"] == "x"


def test_batch_limits(store_root, publish):
    publish()
    with make_client(store_root, max_batch_size=5, max_body_bytes=20_000) as c:
        body = _error(c.post(PREDICT, json={"records": []}), 422)
        assert body["error"] == "empty batch"
        assert c.post(PREDICT, json={"records": [EXAMPLE] * 5}).status_code == 200
        body = _error(c.post(PREDICT, json={"records": [EXAMPLE] * 6}), 413)
        assert "exceeds the maximum of 5" in body["error"]
        huge = {**EXAMPLE, "store_region": "x" * 30_000}
        body = _error(c.post(PREDICT, json=huge), 413)
        assert "20000 byte limit" in body["error"]


# ------------------------------------------------------------------------ admin
def test_admin_reload_needs_the_token(client, store_root):
    assert client.post("/admin/reload").status_code == 401
    r = client.post("/admin/reload", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    r = client.post("/admin/reload", headers=AUTH)
    assert r.status_code == 200 and r.json()["checked"] == {"retail": "unchanged"}
    with make_client(store_root, admin_token=None) as c:
        assert c.post("/admin/reload", headers=AUTH).status_code == 403


# ------------------------------------------------------------- reload and refusal
def test_promotion_and_rollback_are_picked_up(client, publish, store_root):
    publish(model_name="logistic_regression")
    assert client.post("/admin/reload", headers=AUTH).json()["checked"] == {
        "retail": "loaded"
    }
    assert client.post(PREDICT, json=EXAMPLE).json()["model_version"] == "v0002"
    from mlops_platform.model_store import ModelStore

    ModelStore(str(store_root), "retail").rollback("test rollback")
    client.post("/admin/reload", headers=AUTH)
    assert client.post(PREDICT, json=EXAMPLE).json()["model_version"] == "v0001"
    assert "serving_model_reloads_total" in client.get("/metrics").text


def _wrong_golden(request):
    request.golden["expected"][3]["class"] = (
        "UM" if request.golden["expected"][3]["class"] != "UM" else "LA"
    )


def _wrong_schema(request):
    request.input_schema["fields"] = request.input_schema["fields"][1:]


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (_wrong_golden, "golden.json row 3"),
        (_wrong_schema, "does not describe inputs the model reads: ['n_lines']"),
    ],
)
def test_a_bad_bundle_is_refused_and_the_old_model_keeps_serving(
    client, publish, tamper, reason
):
    publish(tamper=tamper)
    assert client.post("/admin/reload", headers=AUTH).json()["checked"] == {
        "retail": "refused"
    }
    r = client.post(PREDICT, json=EXAMPLE)
    assert r.status_code == 200 and r.json()["model_version"] == "v0001"
    status = client.get("/v1/models").json()["models"][0]
    assert status["version"] == "v0001" and status["refused_count"] == 1
    assert status["last_refused"]["version"] == "v0002"
    assert reason in status["last_refused"]["reason"]
    assert (
        'serving_model_reloads_total{outcome="refused",use_case="retail"} 1.0'
        in client.get("/metrics").text
    )


def test_a_corrupted_file_is_refused(client, publish, store_root):
    version = publish(model_name="logistic_regression")
    onnx = store_root / "versions" / "retail" / version / "model.onnx"
    onnx.write_bytes(onnx.read_bytes()[:-10] + b"0123456789")
    assert client.post("/admin/reload", headers=AUTH).json()["checked"] == {
        "retail": "refused"
    }
    reason = client.get("/v1/models").json()["models"][0]["last_refused"]["reason"]
    assert "model.onnx: sha256" in reason


def test_sklearn_runtime_serves_bundles_without_onnx(trained, store_root):
    publish_bundle(trained, store_root, onnx=False)
    with make_client(store_root) as c:
        assert c.get("/v1/models").json()["models"][0]["runtime"] == "sklearn"
        recs = records_of(trained, 50)
        got = c.post(PREDICT, json={"records": recs}).json()["predictions"]
        expected = trained.models["hist_gradient_boosting"].predict_proba(
            trained.retail.model_input(trained.test.head(50))
        )
        proba = np.array(
            [[p["probabilities"][k] for k in ("LA", "MM", "UM")] for p in got]
        )
        assert np.abs(proba - expected).max() < 1e-12
    with make_client(store_root, runtime="onnx") as c:  # onnx forced: refused
        status = c.get("/v1/models").json()["models"][0]
        assert status["status"] == "not_loaded"
        assert "has no model.onnx" in status["last_refused"]["reason"]


# ---------------------------------------------------------------- observability
def test_emf_and_json_log_line(client, capsys):
    from mlops_serving.observability import configure_logging

    configure_logging("info")
    client.post(
        PREDICT, json={"records": [EXAMPLE, EXAMPLE]}, headers={"X-Request-ID": "r1"}
    )
    lines = [
        json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")
    ]
    (line,) = [x for x in lines if x.get("request_id") == "r1"]
    assert line["status"] == 200 and line["records"] == 2
    emf = line["_aws"]["CloudWatchMetrics"][0]
    assert emf["Dimensions"] == [["UseCase"], ["UseCase", "ModelVersion"]]
    names = {m["Name"] for m in emf["Metrics"]}
    per_class = {n for n in names if n.startswith("Predicted_")}
    assert names - per_class == {"PredictionLatency", "PredictionCount"}
    # both records are the same, so one class, counted twice; codes as trained
    (name,) = per_class
    assert name.removeprefix("Predicted_") in {"LA", "MM", "UM"}
    assert line[name] == 2
    assert line["PredictionCount"] == 2 and line["PredictionLatency"] > 0
    assert line["UseCase"] == "retail" and line["ModelVersion"] == "v0001"


def test_prometheus_metrics(client):
    client.post(PREDICT, json={"records": [EXAMPLE] * 3})
    client.post(PREDICT, json={"n_lines": 1})
    text = client.get("/metrics").text
    assert (
        'serving_requests_total{method="POST",model_version="v0001",'
        'route="/v1/retail/predict",status="200"} 1.0' in text
    )
    assert 'status="422"' in text
    assert "serving_request_duration_seconds_bucket" in text
    counted = sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("serving_predictions_total{")
    )
    assert counted == 3
    assert (
        'serving_model_info{model_version="v0001",runtime="onnx",use_case="retail"} 1.0'
        in text
    )


# --------------------------------------------------------------------- settings
def test_unknown_and_invalid_settings_fail_at_start(monkeypatch):
    monkeypatch.setenv("SERVING_POLL_INTERVAL", "3")
    with pytest.raises(SettingsError, match="SERVING_POLL_INTERVAL"):
        load_settings()
    monkeypatch.delenv("SERVING_POLL_INTERVAL")
    monkeypatch.setenv("SERVING_USE_CASES", "retail, parking")
    assert load_settings().use_cases == ["retail", "parking"]
    monkeypatch.setenv("SERVING_MAX_BATCH_SIZE", "0")
    with pytest.raises(SettingsError, match="max_batch_size"):
        load_settings()
    monkeypatch.delenv("SERVING_MAX_BATCH_SIZE")
    with pytest.raises(SettingsError, match="admin_token"):
        load_settings(admin_token="short")
    monkeypatch.setenv("SERVING_USE_CASES", "Bad-Name")
    with pytest.raises(SettingsError, match="Bad-Name"):
        create_app(load_settings())


def test_a_use_case_without_a_module_is_served_from_its_bundle(store_root, publish):
    """Any use case name works without serving code; until its pointer exists the
    service is not ready and says why."""
    publish()
    with make_client(store_root, use_cases=["retail", "nosuch"]) as c:
        assert c.get("/ready").status_code == 503
        status = {m["use_case"]: m for m in c.get("/v1/models").json()["models"]}
        assert status["nosuch"]["last_error"]["error"] == "no production pointer yet"
        assert c.post("/v1/nosuch/predict", json={}).status_code == 503
        assert c.post(PREDICT, json=EXAMPLE).status_code == 200


def test_cli_reports_bad_settings():
    done = subprocess.run(
        [sys.executable, "-m", "mlops_serving"],
        capture_output=True,
        text=True,
        env={"SERVING_PORTT": "1", "PATH": "/usr/bin"},
        check=False,
    )
    assert done.returncode == 2 and "SERVING_PORTT" in done.stderr


def _format_2(request):
    """What a format 2 bundle holds: no field kinds or descriptions, no golden output
    name or generic tolerance, no ONNX input list, no task output in the schema."""
    for field in request.input_schema["fields"]:
        field.pop("kind")
        field.pop("description", None)
    request.input_schema.pop("output")
    request.input_schema.pop("metrics")
    request.golden.pop("output")
    request.golden.pop("tolerance")
    request.onnx_info.pop("inputs")
    request.onnx_info.pop("output")


def test_a_format_2_bundle_is_still_served(store_root, publish, trained):
    """Bundles promoted before format 3 keep serving after an upgrade."""
    publish(tamper=_format_2)
    with make_client(store_root) as c:
        status = c.get("/v1/models").json()["models"][0]
        assert status["status"] == "serving", status["last_refused"]
        r = c.post(PREDICT, json=EXAMPLE)
        assert r.status_code == 200 and r.json()["predictions"][0]["class"] in {
            "LA",
            "MM",
            "UM",
        }


def _one_input_per_feature(request):
    """What a format 3 bundle's graph takes: one ``[N, 1]`` input per feature, no
    ``runtimes.onnx.stacked`` (the stacked inputs rebuilt by Concat in front)."""
    import onnx
    from onnx import helper

    graph = onnx.load_from_string(request.onnx)
    groups = request.onnx_info.pop("stacked")
    by_name = {i.name: i for i in graph.graph.input}
    inputs, nodes = [], []
    for group in groups:
        name, cols = group["name"], group["columns"]
        elem = by_name.pop(name).type.tensor_type.elem_type
        inputs += [helper.make_tensor_value_info(c, elem, [None, 1]) for c in cols]
        for node in [n for n in graph.graph.node if name in n.input]:
            if node.op_type == "Split" and list(node.output) == cols:
                graph.graph.node.remove(node)  # the inputs are those columns now
            elif not any(name in n.output for n in nodes):
                nodes.append(helper.make_node("Concat", cols, [name], axis=1))
    del graph.graph.input[:]
    graph.graph.input.extend([*inputs, *by_name.values()])
    for node in reversed(nodes):
        graph.graph.node.insert(0, node)
    onnx.checker.check_model(graph)
    request.onnx = graph.SerializeToString()


def test_a_bundle_with_one_graph_input_per_feature_is_still_served(
    store_root, publish, trained
):
    """Format 3 graphs (before the stacked inputs) keep serving after an upgrade,
    with the same answers."""
    publish(tamper=_one_input_per_feature)
    model = trained.models["hist_gradient_boosting"]
    with make_client(store_root) as c:
        status = c.get("/v1/models").json()["models"][0]
        assert status["status"] == "serving", status["last_refused"]
        runtime = c.app.state.service.manager.slots["retail"].current.runtime
        assert len(runtime.session.get_inputs()) == len(trained.retail.features)
        recs = records_of(trained, 40)
        got = c.post(PREDICT, json={"records": recs}).json()["predictions"]
    expected = model.predict_proba(trained.retail.model_input(trained.test.head(40)))
    proba = np.array([[p["probabilities"][k] for k in ("LA", "MM", "UM")] for p in got])
    assert np.abs(proba - expected).max() < 1e-9


def test_sagemaker_hosting_contract(client, trained):
    """A model package deployed to a SageMaker endpoint: GET /ping, POST
    /invocations (the one use case's prediction route, same answer as its /v1 path)."""
    assert client.get("/ping").status_code == 200
    records = records_of(trained, 5)
    for body in (records[0], {"records": records}):
        hosted = client.post("/invocations", json=body)
        direct = client.post(PREDICT, json=body)
        assert hosted.status_code == direct.status_code == 200
        assert hosted.json()["predictions"] == direct.json()["predictions"]
    bad = client.post("/invocations", json={**records[0], "store_region": 7})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "store_region"
    spec = client.get("/openapi.json").json()["paths"]["/invocations"]["post"]
    assert "requestBody" in spec  # the record and batch schemas, as /v1's


def test_no_invocations_path_when_several_use_cases_are_served(store_root):
    """/invocations names no use case: with more than one served, it does not exist
    (SageMaker hosting runs one model per container); /ping waits for every model."""
    with make_client(store_root, use_cases=["retail", "parking"]) as c:
        assert c.post("/invocations", json=EXAMPLE).status_code in (404, 405)
        assert c.get("/ping").status_code == 503


def test_the_command_takes_serve_and_nothing_else():
    done = subprocess.run(
        [sys.executable, "-m", "mlops_serving", "serv"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "unexpected arguments ['serv']" in done.stderr
