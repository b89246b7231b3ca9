from __future__ import annotations

import json

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier

from mlops_platform.datasets import (
    ChampionDataset,
    ModelStoreDataset,
)
from mlops_platform.model_store import ModelStore, ModelStoreError, PromotionRequest


def _request(tag: str) -> PromotionRequest:
    x = pd.DataFrame({"a": [0.0, 1.0, 2.0]})
    model = DummyClassifier(strategy="most_frequent").fit(x, ["LA", "MM", "MM"])
    return PromotionRequest(
        use_case="retail",
        promote=True,
        reason=f"test {tag}",
        model=model,
        input_schema={"fields": [{"name": "a", "type": "number"}]},
        metrics={"headline": {"accuracy": 0.5}},
        golden={"rows": [{"a": 1.0}]},
        reference=x,
        manifest_extra={"model_name": tag},
    )


@pytest.fixture
def store(tmp_path) -> ModelStore:
    return ModelStore(str(tmp_path / "models"), "retail")


class TestBundles:
    def test_promote_writes_bundle_pointer_and_audit(self, store):
        v = store.write_bundle(_request("one"), {"mlflow": {"run_id": "r1"}})
        pointer = store.promote(v, "first", {"mlflow": {"run_id": "r1"}})
        assert (
            v == "v0001"
            and pointer["version"] == "v0001"
            and pointer["previous"] is None
        )
        bundle = store.load_champion()
        assert bundle.version == "v0001"
        assert bundle.manifest["model_name"] == "one"
        assert bundle.manifest["mlflow"]["run_id"] == "r1"
        assert set(bundle.manifest["files"]) == {
            "model.joblib",
            "input_schema.json",
            "metrics.json",
            "golden.json",
            "reference.parquet",
        }
        assert list(bundle.model.predict(pd.DataFrame({"a": [5.0]}))) == ["MM"]
        assert [r["action"] for r in store.read_audit()] == ["promote"]

    def test_rollback_restores_previous_and_refuses_past_the_first(self, store):
        for tag in ("one", "two", "three"):
            store.promote(store.write_bundle(_request(tag), {}), tag, {})
        assert store.current_version() == "v0003"
        assert store.rollback()["version"] == "v0002"
        assert store.rollback()["version"] == "v0001"
        with pytest.raises(ModelStoreError, match="first champion"):
            store.rollback()
        assert [r["action"] for r in store.read_audit()][-2:] == [
            "rollback",
            "rollback",
        ]

    def test_tampered_file_is_refused(self, store):
        v = store.write_bundle(_request("one"), {})
        store.promote(v, "x", {})
        path = store.version_path(v) + "/metrics.json"
        with open(path, "w") as f:
            f.write("{}")
        with pytest.raises(
            ModelStoreError, match=r"metrics.json sha256 .* does not match"
        ):
            store.load_champion()

    def test_failed_write_leaves_nothing_behind(self, store, monkeypatch, tmp_path):
        store.promote(store.write_bundle(_request("one"), {}), "x", {})

        def boom(*args, **kwargs):
            raise OSError("disk full")

        monkeypatch.setattr("mlops_platform.model_store.pd.DataFrame.to_parquet", boom)
        with pytest.raises(OSError, match="disk full"):
            store.write_bundle(_request("two"), {})
        versions_dir = tmp_path / "models" / "versions" / "retail"
        assert sorted(p.name for p in versions_dir.iterdir()) == ["v0001"]
        assert store.current_version() == "v0001"

    def test_incomplete_bundle_cannot_be_promoted(self, store, tmp_path):
        (tmp_path / "models" / "versions" / "retail" / "v0007").mkdir(parents=True)
        with pytest.raises(ModelStoreError, match=r"v0007 has no manifest\.json"):
            store.promote("v0007", "x", {})
        assert store.read_pointer() is None

    def test_pointer_replace_leaves_no_temp_files(self, store, tmp_path):
        store.promote(store.write_bundle(_request("one"), {}), "x", {})
        store.promote(store.write_bundle(_request("two"), {}), "y", {})
        files = sorted(p.name for p in (tmp_path / "models" / "production").iterdir())
        assert files == ["retail.json"]
        assert json.loads((tmp_path / "models/production/retail.json").read_text())[
            "history"
        ] == ["v0001"]


class TestDatasets:
    def test_champion_and_model_store_datasets(self, tmp_path):
        root = str(tmp_path / "models")
        assert ChampionDataset(path=root, use_case="retail").load() is None
        sink = ModelStoreDataset(path=root, use_case="retail")
        sink.save(
            PromotionRequest(use_case="retail", promote=False, reason="gate failed")
        )
        assert sink.load() == {}
        sink.save(_request("one"))
        assert ChampionDataset(path=root, use_case="retail").load().version == "v0001"
        actions = [r["action"] for r in ModelStore(root, "retail").read_audit()]
        assert actions == ["keep", "promote"]


def test_bundle_model_loads_with_joblib_alone(store):
    """The serving package reads bundles without this project: plain joblib works."""
    v = store.write_bundle(_request("one"), {})
    model = joblib.load(store.version_path(v) + "/model.joblib")
    assert list(model.classes_) == ["LA", "MM"]
    assert np.isclose(model.predict_proba(pd.DataFrame({"a": [0.0]})).sum(), 1.0)
