"""Sentiment over HTTP: a review in, negative or positive out, from bundles written by
the pipeline's own code (NBSVM with its tokenizer inside the ONNX graph; a Keras
embedding bag fed token ids by mlops_serving.text), trained on real IMDB reviews.

The FastAPI TestClient runs the app in-process; the live-server tests in
test_serving_reload_live.py cover the real uvicorn process for every use case.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import ADMIN_TOKEN
from fastapi.testclient import TestClient
from mlops_serving.app import create_app
from mlops_serving.schema import MAX_TEXT
from mlops_serving.settings import load_settings

from mlops_platform.datagen import sentiment as datagen
from mlops_platform.flavours import get_flavour
from mlops_platform.model_store import ModelStore, PromotionRequest
from mlops_platform.params import CandidateParams, TrainingParams
from mlops_platform.pipelines.evaluation.nodes import (
    bundle_onnx,
    golden_rows,
    input_schema,
)
from mlops_platform.use_cases.sentiment import SentimentUseCase

PREDICT = "/v1/sentiment/predict"
SMALL_KERAS = {
    "epochs": 3,
    "max_vocabulary": 5000,
    "bigram_buckets": 8192,
    "length": 400,
    "max_words": 200,
}


@dataclasses.dataclass
class Sentiment:
    uc: SentimentUseCase
    train: pd.DataFrame
    test: pd.DataFrame
    models: dict[str, tuple[str, Any]]


@pytest.fixture(scope="module")
def sentiment() -> Sentiment:
    uc = SentimentUseCase()
    package = datagen.load_package()
    imdb = package[package["source"] == "imdb"].sample(2400, random_state=7)
    gold = pd.DataFrame(
        {
            "text": imdb["text"].to_numpy(),
            "sentiment": imdb["label"].map(datagen.LABELS).to_numpy(),
            "day": np.repeat([20261101, 20261102, 20261103], 800),
        }
    )
    train, test = gold[gold["day"] < 20261103], gold[gold["day"] == 20261103]
    params = TrainingParams(
        candidates={
            "nbsvm": CandidateParams(params={"min_df": 2}),
            "keras_embedding_bag": CandidateParams(params=SMALL_KERAS),
        }
    )
    models = {}
    x, y = uc.model_input(train), train["sentiment"]
    for name, cand in uc.candidates(params).items():
        fit = get_flavour(cand.flavour).fit(
            cand.spec, x, y, uc.model_input(test), test["sentiment"]
        )
        models[name] = (cand.flavour, fit.model)
    return Sentiment(uc, train, test, models)


def publish(s: Sentiment, root: Path, name: str) -> str:
    flavour, model = s.models[name]
    onnx, info = bundle_onnx(s.uc, flavour, model, [s.test])
    assert onnx is not None, info
    request = PromotionRequest(
        use_case="sentiment",
        promote=True,
        reason=f"test: {name}",
        model=model,
        flavour=flavour,
        input_schema=input_schema(s.uc, s.train),
        metrics={"headline": {"accuracy": 0.8, "macro_f1": 0.8}},
        golden=golden_rows(s.uc, flavour, model, s.test, 20),
        reference=s.train.head(20),
        manifest_extra={"model_name": name},
        onnx=onnx,
        onnx_info=info,
    )
    store = ModelStore(str(root), "sentiment")
    version = store.write_bundle(request, {})
    store.promote(version, request.reason, {})
    return version


@pytest.fixture(scope="module")
def store(sentiment, tmp_path_factory) -> Any:
    """A model store per candidate with that candidate promoted, written once for the
    module (export, parity check and golden rows cost about 6 s) and only read by the
    tests that take it: the service never writes to its model store."""
    roots: dict[str, Path] = {}

    def promoted(name: str) -> Path:
        if name not in roots:
            roots[name] = tmp_path_factory.mktemp(f"store-{name}")
            publish(sentiment, roots[name], name)
        return roots[name]

    return promoted


def client_for(root: Path, **settings: Any) -> TestClient:
    return TestClient(
        create_app(
            load_settings(
                model_store_uri=str(root),
                use_cases=["sentiment"],
                admin_token=ADMIN_TOKEN,
                poll_interval_s=3600,
                **settings,
            )
        )
    )


@pytest.mark.parametrize("name", ["nbsvm", "keras_embedding_bag"])
def test_reviews_are_answered_as_the_model_answers(sentiment, store, name):
    """No TensorFlow and no scikit-learn on this path: onnxruntime runs both."""
    root = store(name)
    flavour, model = sentiment.models[name]
    rows = sentiment.test.sample(120, random_state=1)
    expected = get_flavour(flavour).predict_proba(model, sentiment.uc.model_input(rows))
    with client_for(root) as c:
        body = {"records": [{"text": t} for t in rows["text"]]}
        r = c.post(PREDICT, json=body)
        assert r.status_code == 200, r.text
        got = r.json()["predictions"]
        positive = [p["probabilities"]["positive"] for p in got]
        assert positive == pytest.approx(expected[:, 1], abs=1e-4)
        first = got[0]
        assert first["class"] in ("negative", "positive")
        assert first["probability"] == max(first["probabilities"].values())
        assert first["model_version"] == "v0001"
        one = c.post(PREDICT, json={"text": rows["text"].iloc[0]})
        assert one.json()["predictions"][0]["class"] == first["class"]
        assert c.get("/v1/models").json()["models"][0]["runtime"] == "onnx"


def test_a_batch_larger_than_one_onnx_call_is_answered_in_slices(sentiment, store):
    """The text graph's vectorizer output is dense: the bundle bounds the rows of one
    call, and a batch above it runs in slices with the same answers."""
    root = store("nbsvm")
    manifest = ModelStore(str(root), "sentiment").read_manifest("v0001")
    per_call = manifest["runtimes"]["onnx"]["max_rows_per_call"]
    texts = (sentiment.test["text"].tolist() * 4)[: per_call * 2 + 3]
    assert len(texts) == per_call * 2 + 3  # three calls: two full, one of 3 rows
    with client_for(root, max_batch_size=10_000, max_body_bytes=2**26) as c:
        batch = c.post(PREDICT, json={"records": [{"text": t} for t in texts]})
        assert batch.status_code == 200, batch.text
        singles = [
            c.post(PREDICT, json={"text": t}).json()["predictions"][0]
            for t in texts[-3:]
        ]
    tail = batch.json()["predictions"][-3:]
    assert [p["probabilities"]["positive"] for p in tail] == pytest.approx(
        [p["probabilities"]["positive"] for p in singles], abs=1e-6
    )
    assert len(batch.json()["predictions"]) == len(texts)


def test_a_5000_word_review_is_answered(sentiment, store):
    review = " ".join((sentiment.test["text"].iloc[0].split() * 5000)[:5000])
    with client_for(store("nbsvm")) as c:
        r = c.post(PREDICT, json={"text": review})
    assert r.status_code == 200 and len(review.split()) == 5000


@pytest.mark.parametrize(
    ("body", "status", "field", "problem"),
    [
        ({"text": ""}, 422, "text", "at least 1 character"),
        ({"text": " \n\t "}, 422, "text", "empty or only whitespace"),
        ({"text": "x" * (MAX_TEXT + 1)}, 422, "text", f"at most {MAX_TEXT} char"),
        ({"review": "great"}, 422, "text", "Field required"),
        ({"text": 5}, 422, "text", "valid string"),
        ({"records": [{"text": "ok"}, {"text": ""}]}, 422, "records[1].text", "1 char"),
        ({"records": [{"text": "ok"}] * 1001}, 413, "records", "1001 > 1000"),
    ],
)
def test_bad_requests_name_the_field(store, body, status, field, problem):
    with client_for(store("nbsvm"), max_body_bytes=2**22, max_batch_size=1000) as c:
        r = c.post(PREDICT, json=body)
    assert r.status_code == status, r.text
    detail = r.json()["detail"][0]
    assert detail["field"] == field and problem in detail["problem"]


def test_golden_rows_and_example_come_from_real_reviews(sentiment, store):
    with client_for(store("keras_embedding_bag")) as c:
        spec = c.get("/openapi.json").json()
        example = spec["paths"][PREDICT]["post"]["requestBody"]["content"][
            "application/json"
        ]["examples"]["one record"]["value"]
        assert example["text"] in set(sentiment.test["text"])
        assert c.post(PREDICT, json=example).status_code == 200


def test_the_locust_file_runs_headless_against_a_real_server(store):
    """``make loadtest``'s own path: a real uvicorn process (mlops-serve) of a
    promoted bundle and Locust in its own process; every request kind is sent and none
    fails (the locustfile checks one prediction per review)."""
    import subprocess
    import sys

    script = Path(__file__).parents[2] / "loadtest" / "run_local.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--users", "2", "--seconds", "6",
         "--models", str(store("nbsvm"))],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = [ln for ln in proc.stdout.splitlines() if ln.startswith("| ")]
    rows = {ln.split("|")[1].strip(): ln.split("|")[2:4] for ln in table[1:]}
    kinds = {"one review", "batch of 16", "5000-word review", "Aggregated"}
    assert kinds <= set(rows), proc.stdout[-3000:]
    assert all(int(failures) == 0 for _, failures in rows.values())
    assert int(rows["Aggregated"][0]) > 10
