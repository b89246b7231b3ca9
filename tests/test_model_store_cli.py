"""``mlops-model status --verify`` reads the production bundle as a new serving replica
would and names what is wrong; a broken pointer is an error message, not a traceback
(issue 12, item 6). The bundle is a real one: a small NBSVM on real reviews, exported
and written by the pipeline's own code."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_platform.datagen import sentiment as datagen
from mlops_platform.flavours import get_flavour
from mlops_platform.model_store import ModelStore, PromotionRequest
from mlops_platform.model_store_cli import main
from mlops_platform.params import CandidateParams, TrainingParams
from mlops_platform.pipelines.evaluation.nodes import (
    bundle_onnx,
    golden_rows,
    input_schema,
)
from mlops_platform.use_cases.sentiment import SentimentUseCase


@pytest.fixture(scope="module")
def model():
    uc = SentimentUseCase()
    package = datagen.load_package()
    imdb = package[package["source"] == "imdb"].sample(900, random_state=11)
    gold = pd.DataFrame(
        {
            "text": imdb["text"].to_numpy(),
            "sentiment": imdb["label"].map(datagen.LABELS).to_numpy(),
            "day": np.repeat([20261101, 20261102, 20261103], 300),
        }
    )
    train, test = gold[gold["day"] < 20261103], gold[gold["day"] == 20261103]
    params = TrainingParams(candidates={"nbsvm": CandidateParams(params={})})
    (cand,) = uc.candidates(params).values()
    x, y = uc.model_input(train), train["sentiment"]
    fit = get_flavour("sklearn").fit(cand.spec, x, y, x, y)
    return uc, train, test, fit.model


@pytest.fixture
def root(model, tmp_path) -> Path:
    uc, train, test, fitted = model
    onnx, info = bundle_onnx(uc, "sklearn", fitted, [test])
    request = PromotionRequest(
        use_case="sentiment",
        promote=True,
        reason="test",
        model=fitted,
        input_schema=input_schema(uc, train),
        metrics={"headline": {"accuracy": 0.8}},
        golden=golden_rows(uc, "sklearn", fitted, test, 10),
        reference=train.head(5),
        onnx=onnx,
        onnx_info=info,
    )
    store = ModelStore(str(tmp_path / "models"), "sentiment")
    store.promote(store.write_bundle(request, {}), "test", {})
    return tmp_path / "models"


def status(root: Path, *extra: str) -> int:
    return main(["status", "--use-case", "sentiment", "--root", str(root), *extra])


def test_a_sound_bundle_verifies(root, capsys):
    assert status(root, "--verify") == 0
    out = json.loads(capsys.readouterr().out)["verification"]
    assert out["verified"] and out["golden_rows"] == 10
    assert out["onnx"] == "golden rows matched"


def test_a_flipped_byte_in_the_onnx_file_is_named(root, capsys):
    path = root / "versions/sentiment/v0001/model.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert status(root) == 0  # without --verify: the pointer and manifest only
    assert status(root, "--verify") == 1
    err = capsys.readouterr().err
    assert "model.onnx sha256" in err and "does not match the manifest" in err


def test_golden_rows_that_the_model_does_not_reproduce_are_named(root, capsys):
    """A bundle whose files agree with its manifest but whose model does not give the
    recorded answers (the manifest rewritten to match): caught by the golden rows."""
    bundle = root / "versions/sentiment/v0001"
    golden = json.loads((bundle / "golden.json").read_text())
    first = golden["expected"][0]["probabilities"]
    first["negative"], first["positive"] = first["positive"], first["negative"]
    data = json.dumps(golden).encode()
    (bundle / "golden.json").write_bytes(data)
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"]["golden.json"] = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
    }
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    assert status(root, "--verify") == 1
    err = capsys.readouterr().err
    assert "model.joblib: golden rows do not match" in err


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"", "not JSON"), (b'{"vers', "not JSON"), (b"[]", "not a pointer")],
    ids=["empty", "truncated", "list"],
)
def test_a_broken_pointer_is_a_message(root, capsys, content, problem):
    (root / "production/sentiment.json").write_bytes(content)
    assert status(root) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and problem in err
    assert "production/sentiment.json" in err and "Traceback" not in err
