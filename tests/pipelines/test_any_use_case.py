"""A use case written here, in the test, runs through the generic stages unchanged.

Nothing in ``mlops_platform`` knows this use case: it is not registered, its name is
new, its task is a regression, its candidates are a linear model and a boosted tree
(scikit-learn flavour). The registry's stage factories are namespaced the way
``pipeline_registry`` does it and the whole lifecycle runs in memory.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline, pipeline
from kedro.runner import SequentialRunner
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import Pipeline as SkPipeline

from mlops_platform.comparison import paired_difference
from mlops_platform.contracts import SOURCE_FILE, SOURCE_ROW, ColumnSpec, DataContract
from mlops_platform.flavours import Candidate
from mlops_platform.lake import LakeTableDataset, RawFilesDataset
from mlops_platform.model_store import PromotionRequest
from mlops_platform.params import (
    CandidateParams,
    DataEngineeringParams,
    DriftParams,
    EvaluationParams,
    GateParams,
    SplitParams,
    TrainingParams,
)
from mlops_platform.pipeline_registry import STAGES
from mlops_platform.pipelines.evaluation.nodes import decide_promotion
from mlops_platform.tasks import RegressionTask
from mlops_platform.use_cases.base import Feature, UseCase
from tests.pipelines.test_pipelines import Kept, NoChampion


class Toy(UseCase):
    name: ClassVar[str] = "toy_demand"
    contract = DataContract(
        "toy",
        (
            ColumnSpec("day", "int", min_value=1, max_value=99),
            ColumnSpec("x1", "float"),
            ColumnSpec("x2", "float", nullable=True),
            ColumnSpec("y", "float"),
        ),
    )
    task = RegressionTask(unit="units")
    feature_schema = (Feature("x1", "numeric"), Feature("x2", "numeric"))
    label = "y"
    time_column = "day"
    id_columns = ("day",)
    strong_baseline = "train_mean"

    def ingest(self, partitions):
        frames = []
        for name, load in sorted(partitions.items()):
            f = pd.read_csv(io.BytesIO(load()), dtype=str, keep_default_na=False)
            f["x2"] = f["x2"].replace("", None)
            f[SOURCE_FILE] = f"{name}.csv"
            f[SOURCE_ROW] = np.arange(2, len(f) + 2)
            frames.append(f)
        return pd.concat(frames, ignore_index=True), {"files": list(partitions)}

    def build_gold(self, silver, options=None):
        return silver[["day", "x1", "x2", "y"]].reset_index(drop=True)

    def candidates(self, params: TrainingParams) -> dict[str, Candidate]:
        cols = ["x1", "x2"]
        linear = SkPipeline(
            [
                (
                    "preprocess",
                    ColumnTransformer(
                        [("numeric", SimpleImputer(strategy="median"), cols)]
                    ),
                ),
                ("model", LinearRegression()),
            ]
        )
        boosted = SkPipeline(
            [
                (
                    "preprocess",
                    ColumnTransformer(
                        [("numeric", "passthrough", cols)],
                        verbose_feature_names_out=False,
                    ),
                ),
                ("model", HistGradientBoostingRegressor(max_iter=50, random_state=0)),
            ]
        )
        specs = {"linear": linear, "boosted": boosted}
        return {
            n: Candidate("sklearn", specs[n], {})
            for n, c in params.candidates.items()
            if c.enabled
        }

    def baseline_predictions(self, train, test) -> dict[str, Any]:
        return {"zero": np.zeros(len(test))}


def raw_days(folder: Path, days: int = 8, rows: int = 150) -> Path:
    """Daily CSV files, as a source system would drop them."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(3)
    for d in range(1, days + 1):
        x1 = rng.normal(size=rows)
        x2 = rng.normal(size=rows)
        y = 4.0 + 3.0 * x1 - 2.0 * x2 + rng.normal(0, 0.3, size=rows)
        frame = pd.DataFrame({"day": d, "x1": x1, "x2": x2, "y": y}).astype(str)
        frame.loc[0, "x2"] = ""  # a missing value (nullable) ...
        frame.loc[1, "x1"] = "n/a"  # ... and a broken one, quarantined
        frame.to_csv(folder / f"day_{d:02d}.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory: pytest.TempPathFactory):
    uc = Toy()
    lake = tmp_path_factory.mktemp("lake")
    lifecycle = sum(
        (pipeline(factory(uc), namespace=uc.name) for factory in STAGES.values()),
        Pipeline([]),
    )
    ns = uc.name
    training = TrainingParams(
        candidates={"linear": CandidateParams(), "boosted": CandidateParams()}
    )
    gates = EvaluationParams(
        gates=GateParams(
            bounds={"mae": 1.0},
            min_improvement_over_baselines={"train_mean": 0.5, "zero": 0.5},
        ),
        golden_rows=10,
    )
    catalog = DataCatalog(
        {
            **{n: Kept() for n in lifecycle.all_outputs()},
            # the lake datasets of conf/base/catalog.yml, over a temporary folder
            f"{ns}.raw_files": RawFilesDataset(
                str(raw_days(lake / "raw")),
                ledger=str(lake / "silver/records"),
                filename_suffix=".csv",
            ),
            f"{ns}.silver_records": LakeTableDataset(str(lake / "silver/records")),
            f"{ns}.silver_quarantine": LakeTableDataset(str(lake / "silver/q")),
            f"{ns}.gold_table": LakeTableDataset(str(lake / "gold")),
            f"{ns}.gold_previous": LakeTableDataset(str(lake / "gold"), read_only=True),
            f"{ns}.champion": NoChampion(),
            f"params:{ns}.data_engineering": MemoryDataset(
                DataEngineeringParams(split=SplitParams(validation_periods=2))
            ),
            f"params:{ns}.drift": MemoryDataset(DriftParams()),
            f"params:{ns}.training": MemoryDataset(training),
            f"params:{ns}.evaluation": MemoryDataset(gates),
        }
    )
    SequentialRunner().run(lifecycle, catalog)
    return uc, catalog


def test_a_new_use_case_runs_the_whole_lifecycle(toy_run):
    uc, catalog = toy_run
    ns = uc.name
    contract = catalog.load(f"{ns}.report_contract")
    assert contract["rows_quarantined"] == 8  # one "n/a" per day, none lost
    assert len(catalog.load(f"{ns}.silver_quarantine").read()) == 8
    assert contract["rows_in"] == contract["rows_valid"] + 8
    training = catalog.load(f"{ns}.report_training")
    assert training["task"] == "regression" and training["selection_metric"] == "mae"
    assert training["higher_is_better"] is False
    maes = {n: c["validation"]["mae"] for n, c in training["candidates"].items()}
    assert training["challenger"] == min(maes, key=maes.get) == "linear"
    evaluation = catalog.load(f"{ns}.metrics_evaluation")
    assert evaluation["challenger"]["mae"] < 0.35  # the noise is 0.3 (MAE ~0.24)
    assert set(evaluation["baselines"]) == {"train_mean", "zero"}
    decision = catalog.load(f"{ns}.decision_promotion")
    assert decision["promote"], decision
    assert [c["check"].split(" (")[0] for c in decision["checks"]] == [
        "mae <= 1.0",
        "mae better than strong baseline train_mean by > 0.5",
        "mae better than baseline zero by > 0.5",
    ]
    lead = evaluation["comparisons"]["baseline zero"]
    assert lead["unit"] == "row" and lead["interval"][0] > 0.5
    request = catalog.load(f"{ns}.model_store")
    assert isinstance(request, PromotionRequest) and request.flavour == "sklearn"
    assert request.input_schema["task"] == "regression"
    assert [f["name"] for f in request.input_schema["fields"]] == ["x1", "x2"]
    assert request.golden["output"] == "prediction"
    assert "prediction" in request.golden["expected"][0]
    assert request.onnx is not None, request.onnx_info  # skl2onnx, output renamed
    assert request.onnx_info["parity"]["max_abs_diff"] < 1e-3
    summary = catalog.load(f"{ns}.summary_lifecycle")
    assert "linear (sklearn): mae" in summary and "baseline zero: mae" in summary


def test_gates_follow_the_metric_direction():
    """Lower is better for MAE: a challenger with a higher error than the champion
    fails the champion gate even though its number is larger; a ceiling passes
    below it."""
    uc = Toy()
    rng = np.random.default_rng(0)
    y = rng.normal(size=400)
    challenger_pred, champion_pred = y + 2.0, y + 1.5
    mean = np.full(400, 5.0)

    def lead(other):
        return paired_difference(uc.task, "mae", y, challenger_pred, other)

    evaluation = {
        "challenger": {"name": "a", "mae": 2.0, "rmse": 3.0},
        "champion": {"version": "v0004", "mae": 1.5, "rmse": 2.0},
        "baselines": {"train_mean": {"mae": 5.0, "rmse": 6.0}},
        "comparisons": {
            "baseline train_mean": lead(mean),
            "champion v0004": lead(champion_pred),
        },
    }
    params = EvaluationParams(
        gates=GateParams(
            bounds={"mae": 2.5, "rmse": 2.5},
            min_improvement_over_strong_baseline=1.0,
        )
    )
    d = decide_promotion(uc, evaluation, params)
    checks = {c["check"].split(" (")[0]: (c["value"], c["passed"]) for c in d["checks"]}
    assert checks["mae <= 2.5"] == (2.0, True)
    assert checks["rmse <= 2.5"] == (3.0, False)
    assert checks["mae better than strong baseline train_mean by > 1.0"][1]
    assert checks["mae better than champion v0004 by > 0.0"] == (-0.5, False)
    assert not d["promote"]
