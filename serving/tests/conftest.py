"""Fixtures: real bundles written by mlops_platform's own model store code.

The serving package never imports mlops_platform; its tests do, to produce bundles
exactly as a promotion does (ONNX export and parity check included).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlops_platform import offline

offline.apply()

from fastapi.testclient import TestClient  # noqa: E402
from mlops_serving.app import create_app  # noqa: E402
from mlops_serving.settings import load_settings  # noqa: E402

from mlops_platform.aws.moto_lake import free_port  # noqa: E402
from mlops_platform.contracts import enforce_contract  # noqa: E402
from mlops_platform.datagen.retail import RetailConfig, generate  # noqa: E402
from mlops_platform.datasets import OnlineFeaturesDataset  # noqa: E402
from mlops_platform.model_store import ModelStore, PromotionRequest  # noqa: E402
from mlops_platform.params import CandidateParams, TrainingParams  # noqa: E402
from mlops_platform.pipelines.evaluation.nodes import (  # noqa: E402
    bundle_onnx,
    golden_rows,
    input_schema,
)
from mlops_platform.use_cases.retail import RetailUseCase  # noqa: E402
from mlops_platform.use_cases.retail.features import online_tables  # noqa: E402
from mlops_platform.use_cases.retail.models import build_candidates  # noqa: E402
from tests.live import wait_http  # noqa: E402

ADMIN_TOKEN = "test-admin-token-0123456789"
# What a client sends: the README's example record.
EXAMPLE = json.loads(
    (Path(__file__).parents[1] / "examples" / "retail_record.json").read_text()
)


@dataclasses.dataclass
class Trained:
    retail: RetailUseCase
    train: pd.DataFrame
    test: pd.DataFrame
    models: dict[str, Any]
    silver: pd.DataFrame  # the contract's valid lines, every week
    gold: pd.DataFrame  # every week, XX labels included


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    retail = RetailUseCase()
    raw_dir = tmp_path_factory.mktemp("serving-raw") / "retail"
    generate(
        RetailConfig(seed=5, weeks=5, customers=600, stores=40), raw_dir, progress=False
    )
    parts = {
        p.stem: p.read_bytes  # what the raw_files catalog entry hands ingest
        for p in sorted(raw_dir.glob("*.csv"))
    }
    raw, _ = retail.ingest(parts)
    silver = enforce_contract(raw, retail.contract).valid
    everything = retail.build_gold(silver)
    gold = everything[everything["label"] != "XX"]
    last = gold["shop_week"].max()
    train, test = gold[gold["shop_week"] < last], gold[gold["shop_week"] == last]
    candidates = build_candidates(
        retail.numeric_features,
        retail.categorical_features,
        TrainingParams(
            random_state=0,
            candidates={
                "hist_gradient_boosting": CandidateParams(params={"max_iter": 60}),
                "logistic_regression": CandidateParams(params={"max_iter": 300}),
            },
        ),
    )
    x = retail.model_input(train)
    models = {name: m.fit(x, train["label"]) for name, m in candidates.items()}
    return Trained(retail, train, test, models, silver, everything)


Publish = Callable[..., str]


def publish_bundle(
    trained: Trained,
    root: Path,
    model_name: str = "hist_gradient_boosting",
    onnx: bool = True,
    tamper: Callable[[PromotionRequest], None] | None = None,
) -> str:
    """Write a bundle the way the promotion node does, then move the pointer."""
    retail, model = trained.retail, trained.models[model_name]
    golden = golden_rows(retail, "sklearn", model, trained.test, 25)
    blob, info = (
        bundle_onnx(retail, "sklearn", model, [trained.test])
        if onnx
        else (None, {"reason": "off"})
    )
    request = PromotionRequest(
        use_case="retail",
        promote=True,
        reason=f"test: {model_name}",
        model=model,
        input_schema=input_schema(retail, trained.train),
        metrics={"headline": {"accuracy": 0.5, "macro_f1": 0.5}},
        golden=golden,
        reference=trained.train[retail.features].head(50).reset_index(drop=True),
        manifest_extra={
            "model_name": model_name,
            "features": retail.features,
            "trained_at": "2026-11-01T00:00:00+00:00",
        },
        onnx=blob,
        onnx_info=info,
    )
    if tamper:
        tamper(request)
    store = ModelStore(str(root), "retail")
    version = store.write_bundle(request, {})
    store.promote(version, request.reason, {})
    return version


def publish_online(
    trained: Trained, root: Path, before_week: int | None = None, **meta: Any
) -> dict[str, Any]:
    """Publish the online store a pipeline run over the weeks before ``before_week``
    (default: the test week) would publish; ``meta`` overrides its meta fields."""
    week = trained.test["shop_week"].max() if before_week is None else before_week
    silver = trained.silver[trained.silver["SHOP_WEEK"] < week]
    gold = trained.gold[trained.gold["shop_week"] < week]
    online = online_tables(silver, gold)
    online["meta"].update(meta)
    dataset = OnlineFeaturesDataset(path=str(root), use_case="retail")
    dataset.save(online)
    return dataset.load()


@pytest.fixture
def store_root(tmp_path: Path) -> Path:
    root = tmp_path / "models"
    root.mkdir()
    return root


@pytest.fixture
def publish(trained: Trained, store_root: Path) -> Publish:
    def _publish(**kwargs: Any) -> str:
        return publish_bundle(trained, store_root, **kwargs)

    return _publish


@contextlib.contextmanager
def live_server(store_root: Path, log_path: Path, **env: str) -> Iterator[str]:
    """``python -m mlops_serving`` (uvicorn) on a free loopback port over the store,
    until every configured model is loaded; yields its base URL."""
    with live_server_process(store_root, log_path, **env) as (base, _):
        yield base


@contextlib.contextmanager
def live_server_process(
    store_root: Path, log_path: Path, **env: str
) -> Iterator[tuple[str, subprocess.Popen]]:
    """:func:`live_server`, yielding its process too."""
    port = free_port()
    environ = {
        **os.environ,
        "SERVING_MODEL_STORE_URI": str(store_root),
        "SERVING_PORT": str(port),
        "SERVING_HOST": "127.0.0.1",
        **env,
    }
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mlops_serving"],
            env=environ,
            stdout=log,
            stderr=log,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_http(f"{base}/ready", proc, timeout=60)
            yield base, proc
        finally:
            proc.terminate()
            proc.wait(timeout=15)


def make_client(root: Path, **overrides: Any) -> TestClient:
    values: dict[str, Any] = {
        "model_store_uri": str(root),
        "admin_token": ADMIN_TOKEN,
        "poll_interval_s": 3600,  # tests reload explicitly
    }
    settings = load_settings(**(values | overrides))
    return TestClient(create_app(settings))


@pytest.fixture
def client(publish: Publish, store_root: Path) -> Iterator[TestClient]:
    publish()
    with make_client(store_root) as c:
        yield c
