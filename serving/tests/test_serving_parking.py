"""Parking forecasts over HTTP: readings in, cars one hour later out, from bundles the
pipeline's own code writes (boosted trees and a Keras LSTM, both through ONNX).

The serving module builds the model's window from raw readings; the pipeline builds
the same window for every forecast origin of the gold table. The first test holds the
two implementations to the same numbers on generated readings.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import ADMIN_TOKEN
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from mlops_serving.app import create_app
from mlops_serving.schema import build_schema
from mlops_serving.settings import load_settings
from mlops_serving.usecases.base import RequestError
from mlops_serving.usecases.parking import USE_CASE as SERVED

from mlops_platform.contracts import enforce_contract
from mlops_platform.datagen.parking import ParkingConfig, generate
from mlops_platform.flavours import get_flavour
from mlops_platform.model_store import ModelStore, PromotionRequest
from mlops_platform.params import CandidateParams, TrainingParams
from mlops_platform.pipelines.evaluation.nodes import (
    bundle_onnx,
    golden_rows,
    input_schema,
)
from mlops_platform.use_cases.parking import ParkingUseCase
from mlops_platform.use_cases.parking.features import WINDOW

PREDICT = "/v1/parking/predict"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
CONTEXT = ("capacity", "hour", "weekday", "window_real_share", "yesterday_rate")


@dataclasses.dataclass
class Parking:
    uc: ParkingUseCase
    silver: pd.DataFrame
    train: pd.DataFrame
    test: pd.DataFrame
    models: dict[str, tuple[str, Any]]


@pytest.fixture(scope="module")
def parking(tmp_path_factory) -> Parking:
    uc = ParkingUseCase()
    raw = tmp_path_factory.mktemp("parking-raw")
    generate(ParkingConfig(seed=4, days=12, car_parks=2), raw)
    parts = {
        p.stem: p.read_bytes  # what the raw_files catalog entry hands ingest
        for p in sorted(raw.glob("*.csv"))
    }
    frame, _ = uc.ingest(parts)
    silver = enforce_contract(frame, uc.contract).valid
    gold = uc.build_gold(silver, {})
    last = gold["day"].max()
    train, test = gold[gold["day"] < last], gold[gold["day"] == last]
    params = TrainingParams(
        candidates={
            "hist_gradient_boosting": CandidateParams(params={"max_iter": 60}),
            "lstm": CandidateParams(
                params={"units": 8, "dense": 8, "epochs": 1, "batch_size": 512}
            ),
        }
    )
    models = {}
    for name, cand in uc.candidates(params).items():
        flavour = get_flavour(cand.flavour)
        x, y = uc.model_input(train), train["target_count"]
        fit = flavour.fit(cand.spec, x, y, uc.model_input(test), test["target_count"])
        models[name] = (cand.flavour, fit.model)
    return Parking(uc, silver, train, test, models)


def publish(p: Parking, root: Path, name: str) -> str:
    flavour, model = p.models[name]
    onnx, info = bundle_onnx(p.uc, flavour, model, [p.test])
    assert onnx is not None, info
    request = PromotionRequest(
        use_case="parking",
        promote=True,
        reason=f"test: {name}",
        model=model,
        flavour=flavour,
        input_schema=input_schema(p.uc, p.train),
        metrics={"headline": {"mae": 1.0, "rmse": 2.0}},
        golden=golden_rows(p.uc, flavour, model, p.test, 20),
        reference=p.train.head(20),
        manifest_extra={"model_name": name},
        onnx=onnx,
        onnx_info=info,
    )
    store = ModelStore(str(root), "parking")
    version = store.write_bundle(request, {})
    store.promote(version, request.reason, {})
    return version


def request_for(p: Parking, row: pd.Series) -> dict[str, Any]:
    """What the car park's counter would send at the row's forecast origin: its
    readings of the last 26 hours up to the origin's last reading."""
    s = p.silver[p.silver["car_park"] == row["car_park"]]
    t = pd.to_datetime(s["timestamp"])
    origin = pd.Timestamp(row["origin"])
    keep = (t < origin + pd.Timedelta(minutes=5)) & (
        t >= origin - pd.Timedelta(hours=26)
    )
    s, t = s[keep], t[keep]
    return {
        "car_park": row["car_park"],
        "capacity": int(row["capacity"]),
        "readings": [
            {"timestamp": ts.isoformat(), "count": int(c)}
            for ts, c in zip(t, s["count"], strict=True)
        ],
    }


def test_serving_builds_the_window_the_pipeline_built(parking):
    """Every test-day origin: the serving transform of raw readings equals the gold
    row (window, context, yesterday) the model was scored on."""
    schema = build_schema(input_schema(parking.uc, parking.train), "parking")
    model = SERVED.request_model(schema)
    rows = parking.test.sample(60, random_state=0)
    for _, row in rows.iterrows():
        rec = SERVED.to_record(model(**request_for(parking, row)), schema)
        window = row[list(WINDOW)].to_numpy(dtype=float)
        np.testing.assert_allclose(rec["occupancy"], window, atol=1e-12)
        for col in CONTEXT:
            assert rec[col] == pytest.approx(row[col], abs=1e-12), col
        assert rec["yesterday_known"] == row["yesterday_known"]
        assert rec["_forecast_for"] == row["target_time"].replace(" ", "T")


# Gaps between readings, in seconds: mostly the counter's few minutes, sometimes a
# reading seconds after the last (two in a bin), sometimes an outage or a night.
GAPS = st.one_of(
    st.integers(1, 60),
    st.integers(60, 10 * 60),
    st.integers(10 * 60, 40 * 60),
    st.integers(2 * 3600, 9 * 3600),
)


@settings(max_examples=40, deadline=None)
@given(
    start=st.datetimes(datetime(2012, 1, 1), datetime(2013, 12, 31)),
    gaps=st.lists(GAPS, min_size=40, max_size=160),
    counts=st.data(),
)
def test_windows_of_irregular_readings_are_the_pipelines(parking, start, gaps, counts):
    """Readings at irregular times (two in one 5-minute bin, gaps the fill bridges
    and gaps it does not, nights), a day and more of them: for every origin the
    pipeline's gold builder makes an example of, the serving transform of the
    readings up to that origin gives the same window and context. An origin with
    fewer than two readings in its window is refused by serving (not a pipeline
    rule): refused exactly then."""
    from mlops_platform.use_cases.parking.features import GoldParams, build_examples

    capacity = 120
    times = [start.replace(microsecond=0)]
    for gap in gaps:
        times.append(times[-1] + timedelta(seconds=gap))
    values = counts.draw(
        st.lists(st.integers(0, capacity), min_size=len(times), max_size=len(times))
    )
    silver = pd.DataFrame(
        {
            "car_park": "P",
            "capacity": capacity,
            "count": values,
            "timestamp": [t.strftime("%Y-%m-%d %H:%M:%S") for t in times],
            "closed": 0,
        }
    )
    schema = build_schema(input_schema(parking.uc, parking.train), "parking")
    try:
        gold = build_examples(silver, GoldParams(horizon_minutes=60))
    except ValueError:
        return  # no origin with a reading an hour later: nothing to compare
    model = SERVED.request_model(schema)
    for _, row in gold.iterrows():
        origin = datetime.fromisoformat(row["origin"])
        upto = [
            {"timestamp": t.isoformat(), "count": c}
            for t, c in zip(times, values, strict=True)
            if t < origin + timedelta(minutes=5)
        ]
        request = model(car_park="P", capacity=capacity, readings=upto)
        in_window = row["window_real_share"] * len(WINDOW)
        try:
            rec = SERVED.to_record(request, schema)
        except RequestError as exc:
            assert exc.kind == "too_short" and in_window < 2, exc.problem
            continue
        np.testing.assert_allclose(
            rec["occupancy"], row[list(WINDOW)].to_numpy(dtype=float), atol=1e-12
        )
        for col in (*CONTEXT, "yesterday_known"):
            assert rec[col] == pytest.approx(row[col], abs=1e-12), col
        assert rec["_forecast_for"] == row["target_time"].replace(" ", "T")


@pytest.fixture
def store_root(tmp_path: Path) -> Path:
    root = tmp_path / "models"
    root.mkdir()
    return root


def client_for(root: Path) -> TestClient:
    settings = load_settings(
        model_store_uri=str(root),
        use_cases=["parking"],
        admin_token=ADMIN_TOKEN,
        poll_interval_s=3600,
    )
    return TestClient(create_app(settings))


@pytest.mark.parametrize("name", ["hist_gradient_boosting", "lstm"])
def test_forecast_matches_the_model_for_either_flavour(parking, store_root, name):
    """No TensorFlow on this path: the LSTM is served by onnxruntime."""
    publish(parking, store_root, name)
    flavour, model = parking.models[name]
    rows = parking.test.sample(15, random_state=1)
    expected = get_flavour(flavour).predict(model, parking.uc.model_input(rows))
    with client_for(store_root) as c:
        body = {"records": [request_for(parking, r) for _, r in rows.iterrows()]}
        r = c.post(PREDICT, json=body)
        assert r.status_code == 200, r.text
        got = r.json()["predictions"]
        assert [p["prediction"] for p in got] == pytest.approx(expected, abs=0.01)
        first = got[0]
        assert first["unit"] == "cars" and first["model_version"] == "v0001"
        assert 0 <= first["count"] <= rows.iloc[0]["capacity"]
        assert first["forecast_for"] == rows.iloc[0]["target_time"].replace(" ", "T")
        models = c.get("/v1/models").json()["models"][0]
        assert models["runtime"] == "onnx" and models["task"] == "regression"
        spec = c.get("/openapi.json").json()
        example = spec["paths"][PREDICT]["post"]["requestBody"]["content"][
            "application/json"
        ]["examples"]["one record"]["value"]
        assert c.post(PREDICT, json=example).status_code == 200


def _readings(n: int, start: datetime = datetime(2012, 10, 3, 8, 0, 7)) -> list:
    return [
        {"timestamp": (start + timedelta(minutes=5 * i)).isoformat(), "count": 40 + i}
        for i in range(n)
    ]


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        (lambda r: r["readings"].reverse(), "readings[1].timestamp", "earlier than"),
        (
            lambda r: r["readings"].insert(1, dict(r["readings"][0])),
            "readings[1].timestamp",
            "the same time as",
        ),
        (
            lambda r: r["readings"][2].update(count=130),
            "readings[2].count",
            "130 is above the capacity 100",
        ),
        (
            lambda r: r["readings"][-1].update(timestamp="2999-01-01T08:00:00"),
            "readings[11].timestamp",
            "in the future",
        ),
        (lambda r: r.update(readings=r["readings"][:1]), "readings", "at least 2"),
        (
            lambda r: r["readings"][0].update(timestamp="2012-10-03T08:00:07+02:00"),
            "readings[0].timestamp",
            "without a time zone",
        ),
        (lambda r: r["readings"][0].update(count=-1), "readings[0].count", "greater"),
        (lambda r: r.update(capacity=0), "capacity", "greater"),
        (lambda r: r.update(extra=1), "extra", "Extra inputs"),
    ],
)
def test_bad_readings_get_422_naming_the_field(
    parking, store_root, change, field, problem
):
    publish(parking, store_root, "hist_gradient_boosting")
    request = {"car_park": "x", "capacity": 100, "readings": _readings(12)}
    change(request)
    with client_for(store_root) as c:
        r = c.post(PREDICT, json=request)
        assert r.status_code == 422, r.text
        (detail,) = r.json()["detail"]
        assert detail["field"] == field
        assert problem in detail["problem"]
        # In a batch the record's position is named too.
        r = c.post(PREDICT, json={"records": [request]})
        assert r.json()["detail"][0]["field"].startswith("records[0]")


def test_emf_prometheus_and_hot_reload(parking, store_root, capsys):
    from mlops_serving.observability import configure_logging

    publish(parking, store_root, "hist_gradient_boosting")
    request = {"car_park": "x", "capacity": 100, "readings": _readings(12)}
    with client_for(store_root) as c:
        configure_logging("info")
        first = c.post(PREDICT, json=request).json()["predictions"][0]
        out = capsys.readouterr().out.splitlines()
        lines = [json.loads(x) for x in out if x.startswith("{")]
        emf = next(x for x in lines if x.get("path") == PREDICT)
        names = {m["Name"] for m in emf["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
        assert {"PredictionLatency", "PredictedCarCount"} <= names
        assert emf["PredictedCarCount"] == pytest.approx(first["prediction"])
        metrics = c.get("/metrics").text
        assert 'serving_predicted_value_count{use_case="parking"} 1.0' in metrics
        publish(parking, store_root, "lstm")  # a promotion of the other flavour
        assert c.post("/admin/reload", headers=AUTH).json()["checked"] == {
            "parking": "loaded"
        }
        second = c.post(PREDICT, json=request).json()["predictions"][0]
        assert second["model_version"] == "v0002"


def test_a_request_error_names_the_field_directly():
    err = RequestError("readings[3].count", "too many")
    assert (err.field, err.problem, str(err)) == (
        "readings[3].count",
        "too many",
        "readings[3].count: too many",
    )
