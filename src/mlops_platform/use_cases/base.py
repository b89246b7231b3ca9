"""The use-case interface: what a use case writes; everything else is generic.

A use case supplies its data contract, how to read its raw files (with the quirks of
real files), how silver rows become model-ready gold rows, its feature lists and its
candidate models. The generic pipelines (data_engineering, drift, training,
evaluation) call these methods and are instantiated once per use case under a Kedro
namespace named after it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from mlops_platform.contracts import DataContract
from mlops_platform.params import TrainingParams

PartitionLoaders = dict[str, Callable[[], pd.DataFrame]]


class UseCase(ABC):
    """One use case of the platform (a Kedro namespace over the generic pipelines)."""

    name: ClassVar[str]
    contract: ClassVar[DataContract]
    # Silver dataset name: ``<use_case>.silver_<silver_name>`` in the catalog.
    silver_name: ClassVar[str] = "records"
    # Gold columns
    label: ClassVar[str]
    time_column: ClassVar[str]
    id_columns: ClassVar[tuple[str, ...]]
    numeric_features: ClassVar[tuple[str, ...]]
    categorical_features: ClassVar[tuple[str, ...]]
    classes: ClassVar[tuple[str, ...]]
    class_labels: ClassVar[dict[str, str]]
    # Features that change with the calendar by construction (e.g. a customer's count
    # of earlier baskets grows every week): tested and reported, never counted in the
    # drift verdict, or every run would "drift".
    time_dependent_features: ClassVar[tuple[str, ...]] = ()
    # Label values kept in gold but never trained or scored on (e.g. unclassified).
    excluded_labels: ClassVar[tuple[str, ...]] = ()

    @property
    def features(self) -> list[str]:
        return [*self.numeric_features, *self.categorical_features]

    @abstractmethod
    def ingest(
        self, partitions: PartitionLoaders
    ) -> tuple[pd.DataFrame, dict[str, Any]]:
        """Read raw partitions into one frame of raw strings.

        Returns the frame (with ``source_file`` and ``source_row`` columns) and an
        ingest report. Raises ``SchemaViolation`` naming the file and the column when
        a file cannot be read as the contract says.
        """

    @abstractmethod
    def build_gold(self, silver: pd.DataFrame) -> pd.DataFrame:
        """Turn contract-checked silver rows into one model-ready row per entity."""

    @abstractmethod
    def candidates(self, params: TrainingParams) -> dict[str, Pipeline]:
        """Unfitted candidate models, each a Pipeline that takes raw gold features."""

    def baseline_predictions(
        self, train: pd.DataFrame, test: pd.DataFrame
    ) -> dict[str, np.ndarray]:
        """Simple baselines beside the majority class (override to add more)."""
        return {}

    def model_input(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The feature columns with the dtypes the models are trained on.

        Categorical columns are ``object`` with ``None`` for missing and numeric columns
        ``float64``, whatever the source (a parquet file or a single JSON record), so a
        one-row input is encoded exactly as a batch row is.
        """
        out = pd.DataFrame(index=frame.index)
        for col in self.numeric_features:
            out[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
        for col in self.categorical_features:
            values = frame[col].astype(object)
            out[col] = values.where(pd.notna(values), None)
        return out
