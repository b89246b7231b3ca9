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
    assert status(root, "--verify", "--json") == 0
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


# ---------------------------------------------------------- what a person reads
def test_the_default_view_is_short_and_names_what_matters(root, capsys):
    """Issue 17: version, since when, the model, its test scores and baselines, why,
    the previous champion, the run and the bundle, in a few lines (it printed about
    150 lines of JSON before)."""
    assert status(root) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("sentiment: v0001 in production since ")
    assert "test       accuracy 0.8" in out
    assert "previous   none (first champion)" in out
    assert f"bundle     {root}/versions/sentiment/v0001" in out
    assert len(lines) <= 12


def test_json_on_stdout_is_the_only_thing_there(root, capsys):
    """`mlops-model status --json | jq` works: nothing else reaches stdout (messages
    and the store's repair log go to stderr)."""
    (root / "versions/sentiment/.tmp-v0009-dead").mkdir()  # a crash leftover
    assert status(root, "--json") == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["production"] == "v0001"
    assert "removed the partial bundle" in captured.err


def test_every_use_case_without_naming_one(root, capsys):
    assert main(["history", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("sentiment:") and "promote  v0001" in out
    assert main(["status", "--root", str(root), "--json"]) == 0
    assert [s["use_case"] for s in json.loads(capsys.readouterr().out)] == ["sentiment"]


def test_rollback_must_name_its_use_case(root, capsys):
    with pytest.raises(SystemExit):
        main(["rollback", "--root", str(root)])
    assert "rollback needs --use-case" in capsys.readouterr().err


def test_reading_the_store_starts_no_kedro_session(tmp_path):
    """The command reads the configuration with Kedro's config loader only: no
    session, no hooks, no pipeline registry (it took 3.5 s to read one file)."""
    import subprocess
    import sys

    from mlops_platform.scratch import scratch_project

    project = scratch_project(Path(__file__).parents[1], tmp_path)
    probe = (
        "import sys, runpy; sys.argv = ['mlops-model', 'status', '--project-path', "
        f"{str(project)!r}]\n"
        "try:\n    runpy.run_module('mlops_platform.model_store_cli', "
        "run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print('SESSION' if 'kedro.framework.session' in sys.modules else 'none')"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert proc.stdout.strip().splitlines()[-1] == "none", proc.stderr[-2000:]
