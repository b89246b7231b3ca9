"""The use-case interface: what a use case writes; everything else is generic.

A use case supplies its data contract, how to read its raw files (with the quirks of
real files), how silver rows become model-ready gold rows, its typed feature schema,
its task (what it predicts: :mod:`mlops_platform.tasks`) and its candidate models,
each with the flavour that fits it (:mod:`mlops_platform.flavours`). The generic
pipelines (data_engineering, drift, training, evaluation) call these and are
instantiated once per use case under a Kedro namespace named after it.

The feature schema is the one definition of a use case's inputs: ``model_input``,
the bundle's ``input_schema`` (which serving reads), the drift test chosen per feature
and the Keras input layout all derive from it.

A use case's ``models`` module (scikit-learn, Keras) is imported by the methods that
build or fit models, not with the registry: every ``kedro`` command loads the
registry, and most runs (data_engineering, drift) fit nothing
(``tests/test_startup.py`` holds it).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from mlops_platform.contracts import DataContract
from mlops_platform.flavours import Candidate
from mlops_platform.params import TrainingParams
from mlops_platform.tasks import Task

# Raw partitions by name: a frame (CSV datasets) or bytes (a use case that parses its
# files itself, see the sentiment entry in catalog.yml).
PartitionLoaders = dict[str, Callable[[], Any]]
FeatureKind = Literal["numeric", "categorical", "text", "window"]


@dataclass(frozen=True)
class Feature:
    """One model input.

    ``numeric`` (a float, NaN for missing), ``categorical`` (a string, ``None`` for
    missing), ``text`` (a string) or ``window`` (a time series window: ``columns`` are
    its gold columns, oldest first, one per step of ``step_minutes``).
    """

    name: str
    kind: FeatureKind
    description: str = ""
    columns: tuple[str, ...] = ()
    step_minutes: float | None = None

    def __post_init__(self) -> None:
        if (self.kind == "window") != bool(self.columns):
            raise ValueError(f"feature {self.name}: only a window has columns")

    @property
    def gold_columns(self) -> tuple[str, ...]:
        return self.columns if self.kind == "window" else (self.name,)


class UseCase(ABC):
    """One use case of the platform (a Kedro namespace over the generic pipelines)."""

    name: ClassVar[str]
    contract: ClassVar[DataContract]
    task: ClassVar[Task]
    feature_schema: ClassVar[tuple[Feature, ...]]
    # Silver dataset name: ``<use_case>.silver_<silver_name>`` in the catalog.
    silver_name: ClassVar[str] = "records"
    # Gold columns
    label: ClassVar[str]
    time_column: ClassVar[str]
    id_columns: ClassVar[tuple[str, ...]]
    # Features that change with the calendar by construction (e.g. a customer's count
    # of earlier baskets grows every week): tested and reported, never counted in the
    # drift verdict, or every run would "drift".
    time_dependent_features: ClassVar[tuple[str, ...]] = ()
    # Label values kept in gold but never trained or scored on (e.g. unclassified).
    excluded_labels: ClassVar[tuple[str, ...]] = ()
    # Gold column flagging rows of a planned out-of-service period (parking: a car
    # park closed on the operator's calendar). Such rows stay in gold and in the
    # latest batch and are counted in the split's report, but never enter train,
    # validation or test, nor either side of any drift test: a lot shut for works
    # is neither an ordinary day nor a drop in demand. None: always in service.
    out_of_service_column: ClassVar[str | None] = None
    # The baseline a challenger must beat with confidence to be promoted: the simple
    # rule a reviewer would use instead of a model (one of baseline_predictions'
    # names, or the task's own, e.g. "majority_class").
    strong_baseline: ClassVar[str]
    # Gold column whose rows are not independent of each other (a customer's baskets,
    # a car park's readings): paired comparisons resample its values whole. None:
    # rows are resampled one by one.
    comparison_unit: ClassVar[str | None] = None
    # (series, timestamp) gold columns when the test rows are time series (a car
    # park's forecasts): the evaluation figure then draws forecast and actual over
    # time. None: the rows are not series. The drift stage also judges each series
    # against its own reference periods (pipelines/drift/series.py), so a change to
    # one car park is not diluted among the others.
    series_columns: ClassVar[tuple[str, str] | None] = None
    # The gold columns whose mean over a period is a series' level (a car park's
    # capacity, occupancy and target), for that per-series drift test. None: every
    # counted numeric feature and a numeric label. Columns that say how much of a
    # period was covered (the hours a day's readings span, whether yesterday had
    # any) swing on partial days and would set that test's null too wide.
    series_level_columns: ClassVar[tuple[str, ...] | None] = None
    # The gold column that says where in its period a row is (parking: the hour of
    # the day). The series test then takes each row less its series' mean at that
    # whole position first, so a period's level does not depend on which part of it
    # has rows (a day whose readings stop at noon is not "low"). None: raw means.
    series_profile_column: ClassVar[str | None] = None
    # Entity tables the service looks up to build features from what a client knows
    # (retail: customers, products, stores): published after data_engineering to the
    # online store (mlops_platform.online_store) by :meth:`online_tables`. Empty: the
    # use case has no online features and its pipeline no publishing node.
    online_entities: ClassVar[tuple[str, ...]] = ()
    # Version of the feature definitions gold is built with, where they are shared
    # with the service (retail: mlops_serving.retail_features). Recorded in each
    # bundle (input schema option ``feature_definitions``); a champion trained on
    # other definitions is retrained (drift stage), and the service answers from an
    # online store only with a model of the store's definitions. None: not versioned.
    feature_definitions: ClassVar[int | None] = None
    # Incremental gold (docs/incremental.md): the silver column that holds each row's
    # gold period (its ``time_column`` value; or override :meth:`silver_periods`).
    # Gold of the periods from the first changed one on is rebuilt from their silver
    # and the state the periods before left (:meth:`build_gold_increment`). None and
    # no override: gold is rebuilt from all of silver whenever silver changes.
    silver_period_column: ClassVar[str | None] = None
    # Periods before the first changed one that are rebuilt too: a gold row may read
    # silver of a later period (parking: a late origin's target is the next day's).
    gold_reach_forward: ClassVar[int] = 0
    # Periods of silver read before those, as context only (parking: the window and
    # "same time yesterday" reach into the day before). A use case with state reads
    # none: the state carries the past.
    silver_context_periods: ClassVar[int] = 0
    # The key column of each state table :meth:`build_gold_increment` returns: each
    # is also kept compacted to its latest row per key (``latest/<kind>``), which a
    # new period starts from instead of every earlier period's rows.
    state_keys: ClassVar[dict[str, str]] = {}
    # Raw files that are not batches but read with every batch (parking's car park
    # capacities): any change to one reprocesses every batch.
    reference_files: ClassVar[tuple[str, ...]] = ()

    def reads_raw_file(self, name: str) -> bool:
        """Whether the raw file ``name`` (its key under the raw folder) is one this use
        case reads. One it does not read (sentiment's provenance note beside the
        reviews) is never planned as a batch and is listed as ``ignored`` in the ingest
        report: unread, it would stay new in the ledger, and a run without new data
        would have only it to read."""
        return True

    def silver_periods(self, silver: pd.DataFrame) -> pd.Series | None:
        """Each silver row's gold period; None: the use case's gold is not built
        period by period."""
        col = self.silver_period_column
        return None if col is None else silver[col]

    def build_gold_increment(
        self,
        silver: pd.DataFrame,
        state: dict[str, pd.DataFrame] | None,
        options: dict[str, Any] | None = None,
    ) -> tuple[pd.DataFrame, dict[str, pd.DataFrame] | None]:
        """Gold rows of the periods ``silver`` holds (all of their rows), given the
        ``state`` tables' rows of the periods before (None on a full build), and the
        state tables' rows of these periods (by name, each row with
        :attr:`time_column`), or None for a use case whose periods carry no state.
        The default: no state."""
        return self.build_gold(silver, options), None

    def online_tables(self, silver: Any, gold: Any) -> dict[str, Any]:
        """``{"tables": {entity: frame indexed by key}, "meta": {...}}`` for the
        online store, one table per :attr:`online_entities`, from the lake tables
        silver and gold (:class:`mlops_platform.lake.LakeTable`)."""
        raise NotImplementedError(f"{self.name} has no online features")

    def in_service(self, rows: pd.DataFrame) -> pd.Series:
        """True per gold row unless ``out_of_service_column`` flags it (a frame
        without that column, such as an older champion's reference, is in service)."""
        col = self.out_of_service_column
        if col is None or col not in rows.columns:
            return pd.Series(True, index=rows.index)
        return rows[col].fillna(0).astype(float).eq(0)

    def period_kinds(self, rows: pd.DataFrame) -> pd.Series | None:
        """Per gold row, the kind of its period, where kinds differ by design (a car
        park's Sunday is not its Wednesday): the drift stage's period-level tests
        then compare periods of one kind (``null_within_kind``). None: one kind."""
        return None

    # ---- derived from the feature schema
    def _of_kind(self, *kinds: str) -> tuple[str, ...]:
        return tuple(
            c for f in self.feature_schema if f.kind in kinds for c in f.gold_columns
        )

    @property
    def numeric_features(self) -> tuple[str, ...]:
        """Gold columns holding numbers: numeric features and window steps."""
        return self._of_kind("numeric", "window")

    @property
    def categorical_features(self) -> tuple[str, ...]:
        return self._of_kind("categorical")

    @property
    def features(self) -> list[str]:
        """Every gold column a model reads, in schema order."""
        return [c for f in self.feature_schema for c in f.gold_columns]

    @property
    def drift_features(self) -> dict[str, str]:
        """Columns the drift stage tests, with the test family (numeric/categorical).

        A window is represented by its newest step (the current value): its other
        steps are the same series shifted in time and would only repeat the vote.
        """
        out: dict[str, str] = {}
        for f in self.feature_schema:
            if f.kind == "window":
                out[f.columns[-1]] = "numeric"
            elif f.kind in ("numeric", "categorical"):
                out[f.name] = f.kind
        return out

    # ---- what a use case writes
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
    def build_gold(
        self, silver: pd.DataFrame, options: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """Turn contract-checked silver rows into model-ready rows.

        ``options`` is ``data_engineering.gold`` from the parameters (for parking, the
        forecast horizon); a use case validates its own.
        """

    @abstractmethod
    def candidates(self, params: TrainingParams) -> dict[str, Candidate]:
        """Unfitted candidates, each with the flavour that fits it."""

    def comparison_units(self, frame: pd.DataFrame) -> pd.Series | None:
        """The unit each row belongs to for paired comparisons (its name says what
        it is); None: every row is its own."""
        return frame[self.comparison_unit] if self.comparison_unit else None

    def schema_options(self, train: pd.DataFrame) -> dict[str, Any]:
        """Settings serving needs beside the fields (the bundle's input schema
        ``options``), e.g. parking's forecast horizon."""
        return {}

    def baseline_predictions(
        self, train: pd.DataFrame, test: pd.DataFrame
    ) -> dict[str, np.ndarray]:
        """The use case's strong baselines, beside the task's own (majority class,
        train mean); scored on the test rows like every model."""
        return {}

    def model_input(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The feature columns with the dtypes the models are trained on.

        Categorical columns are ``object`` with ``None`` for missing and numeric columns
        ``float64``, whatever the source (a parquet file or a single JSON record), so a
        one-row input is encoded exactly as a batch row is.
        """
        out = pd.DataFrame(index=frame.index)
        for f in self.feature_schema:
            for col in f.gold_columns:
                if f.kind in ("numeric", "window"):
                    out[col] = pd.to_numeric(frame[col], errors="coerce").astype(
                        "float64"
                    )
                else:
                    values = frame[col].astype(object)
                    out[col] = values.where(pd.notna(values), None)
        return out
