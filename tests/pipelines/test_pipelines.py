"""Pipeline tests: the registry's structure, and a whole in-memory run."""

from __future__ import annotations

import pytest
import yaml
from kedro.io import AbstractDataset, DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from mlops_platform.lake import LakeTableDataset, RawFilesDataset
from mlops_platform.model_store import PromotionRequest
from mlops_platform.params import DataEngineeringParams, DriftParams, EvaluationParams
from mlops_platform.pipeline_registry import STAGES, register_pipelines
from tests.conftest import REPO
from tests.pipelines.test_training_evaluation import FAST


class NoChampion(AbstractDataset[None, None]):
    """A store with no production model yet."""

    def load(self) -> None:
        return None

    def save(self, data: None) -> None:
        raise NotImplementedError

    def _describe(self) -> dict:
        return {}


class Kept(MemoryDataset):
    """A memory dataset the runner cannot release, so the test can read it after."""

    def _release(self) -> None:
        pass


@pytest.fixture(scope="module")
def pipelines():
    return register_pipelines()


class TestRegistry:
    def test_registered_names(self, pipelines):
        assert {
            "__default__",
            "retail",
            *STAGES,
            *(f"retail.{s}" for s in STAGES),
        } <= set(pipelines)

    def test_nodes_are_namespaced_with_stable_names(self, pipelines):
        names = {n.name for n in pipelines["retail"].nodes}
        assert names == {
            "retail.ingest_raw_files",
            "retail.enforce_data_contract",
            "retail.update_silver",
            "retail.build_gold_table",
            "retail.split_by_time",
            "retail.publish_online_features",  # retail has online entities
            "retail.detect_drift",
            "retail.render_drift_report",
            "retail.train_candidates",
            "retail.evaluate_models",
            "retail.decide_promotion",
            "retail.promote_if_better",
            "retail.summarise_lifecycle",
        }

    def test_only_use_cases_with_online_entities_publish_them(self, pipelines):
        from mlops_platform.use_cases import USE_CASES

        for name, uc in USE_CASES.items():
            published = f"{name}.publish_online_features" in {
                n.name for n in pipelines[name].nodes
            }
            assert published == bool(uc.online_entities), name

    def test_only_in_stage_memory_datasets(self, pipelines):
        """Every dataset crossing a stage boundary is persisted by a catalog entry."""
        from kedro.config import OmegaConfigLoader
        from kedro.io.catalog_config_resolver import CatalogConfigResolver

        catalog = OmegaConfigLoader(
            str(REPO / "conf"), base_env="base", default_run_env="local"
        )["catalog"]

        resolver = CatalogConfigResolver(catalog, credentials={"lake": {}})
        produced = {s: set(pipelines[f"retail.{s}"].outputs()) for s in STAGES}
        for stage in STAGES:
            for name in pipelines[f"retail.{stage}"].inputs():
                if name.startswith("params:"):
                    continue
                assert resolver.match_dataset_pattern(name) or name in catalog, name
        internal = pipelines["retail.data_engineering"].all_outputs() - set().union(
            *(pipelines[f"retail.{s}"].inputs() for s in STAGES)
        )
        # the only unpersisted hand-offs: the new raw rows, the plan, the new rows
        # split by the contract (silver_<name> and the quarantine are the lake's)
        handoffs = {
            f"retail.{n}"
            for n in ("raw_batch", "raw_plan", "valid_batch", "quarantine_batch")
        }
        assert handoffs <= internal
        for name in set().union(*produced.values()) - handoffs:
            assert resolver.match_dataset_pattern(name) or name in catalog, name

    def test_catalog_entries_have_layers(self):
        """All but the champion and the previous gold, inputs from outside the run (a
        layer on them would make kedro-viz see models, or gold, feeding silver
        through the namespace)."""
        catalog = yaml.safe_load((REPO / "conf/base/catalog.yml").read_text())
        layers = {
            k: v.get("metadata", {}).get("kedro-viz", {}).get("layer")
            for k, v in catalog.items()
        }
        assert [k for k, v in layers.items() if v is None] == [
            "{use_case}.gold_previous",
            "{use_case}.champion",
        ]
        assert set(layers.values()) - {None} == {
            "raw",
            "silver",
            "gold",
            "models",
            "reporting",
        }


def test_whole_retail_pipeline_in_memory(pipelines, small_raw, retail, tmp_path):
    """In memory but for the lake tables (conf/base/catalog.yml's lake datasets over
    a temporary folder): the nodes hand each other tables, not frames."""
    outputs = pipelines["retail"].all_outputs()
    lake = {
        name: LakeTableDataset(str(tmp_path / name))
        for name in ("silver_transactions", "silver_quarantine", "gold_table")
    }
    catalog = DataCatalog(
        {
            **{name: Kept() for name in outputs},
            **{f"retail.{name}": ds for name, ds in lake.items()},
            "retail.gold_previous": LakeTableDataset(
                str(tmp_path / "gold_table"), read_only=True
            ),
            "retail.raw_files": RawFilesDataset(
                str(small_raw),
                ledger=str(tmp_path / "silver_transactions"),
                filename_suffix=".csv",
            ),
            "retail.champion": NoChampion(),
            "params:retail.data_engineering": MemoryDataset(DataEngineeringParams()),
            "params:retail.drift": MemoryDataset(DriftParams()),
            "params:retail.training": MemoryDataset(FAST),
            "params:retail.evaluation": MemoryDataset(EvaluationParams()),
        }
    )
    SequentialRunner().run(pipelines["retail"], catalog)
    contract = catalog.load("retail.report_contract")
    assert contract["rows_in"] == contract["rows_valid"] + contract["rows_quarantined"]
    split = catalog.load("retail.report_split")
    assert split["test_periods"] == [200612] and split["validation_periods"] == [200611]
    assert max(split["train_periods"]) < 200611
    assert catalog.load("retail.decision_drift")["train"] is True
    request = catalog.load("retail.model_store")
    assert isinstance(request, PromotionRequest)
    evaluation = catalog.load("retail.metrics_evaluation")
    decision = catalog.load("retail.decision_promotion")
    assert request.promote == decision["promote"]
    assert evaluation["challenger"]["name"] in FAST.candidates
    summary = catalog.load("retail.summary_lifecycle")
    assert "drift: no champion yet" in summary and "decision:" in summary


def test_layers_only_flow_forward(pipelines):
    """kedro-viz disables its layer view on a cycle: raw -> ... -> reporting only."""
    from kedro.config import OmegaConfigLoader
    from kedro.io.catalog_config_resolver import CatalogConfigResolver

    order = ["raw", "silver", "gold", "models", "reporting"]
    conf = OmegaConfigLoader(
        str(REPO / "conf"), base_env="base", default_run_env="local"
    )["catalog"]
    resolver = CatalogConfigResolver(conf, credentials={"lake": {}})

    def layer(name: str) -> str | None:
        if name.startswith("params:") or name in (
            "retail.raw_batch",
            "retail.raw_plan",
            "retail.valid_batch",
            "retail.quarantine_batch",
        ):
            return None
        config = resolver.resolve_pattern(name)
        return config.get("metadata", {}).get("kedro-viz", {}).get("layer")

    for node in pipelines["retail"].nodes:
        ins = [x for x in map(layer, node.inputs) if x]
        outs = [x for x in map(layer, node.outputs) if x]
        for i in ins:
            for o in outs:
                assert order.index(i) <= order.index(o), (node.name, i, o)
