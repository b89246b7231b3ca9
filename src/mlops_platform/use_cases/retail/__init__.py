"""Retail use case: basket price sensitivity (LA / MM / UM) on LGSR transactions."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from mlops_platform.flavours import Candidate
from mlops_platform.lake import read_latest, read_states
from mlops_platform.params import TrainingParams
from mlops_platform.tasks import ClassificationTask
from mlops_platform.use_cases.base import Feature, PartitionLoaders, UseCase
from mlops_platform.use_cases.retail import features, ingest, schema


class RetailUseCase(UseCase):
    name: ClassVar[str] = "retail"
    contract = schema.LGSR_CONTRACT
    silver_name = "transactions"
    label = features.LABEL
    time_column = features.TIME_COLUMN
    id_columns = features.ID_COLUMNS
    task = ClassificationTask(schema.CLASSES, schema.CLASS_LABELS)
    feature_schema = (
        *(
            Feature(c, "numeric", features.DESCRIPTIONS.get(c, ""))
            for c in features.NUMERIC_FEATURES
        ),
        *(
            Feature(c, "categorical", features.DESCRIPTIONS.get(c, ""))
            for c in features.CATEGORICAL_FEATURES
        ),
    )
    excluded_labels = ("XX",)
    strong_baseline = "customer_sensitivity"
    comparison_unit = "cust_code"
    # The customer as of the previous week (docs/online_features.md): counts grow
    # and the profile fills in (a customer's first week has none) with the calendar.
    time_dependent_features = (*features.HISTORY_COLUMNS, *features.PROFILE_COLUMNS)
    online_entities = ("customers", "products", "stores")
    silver_period_column = "SHOP_WEEK"
    state_keys = {"customers": "cust", "products": "PROD_CODE", "stores": "STORE_CODE"}
    reference_files = ("time",)
    feature_definitions = features.DEFINITIONS_VERSION

    def ingest(
        self, partitions: PartitionLoaders
    ) -> tuple[pd.DataFrame, dict[str, Any]]:
        return ingest.read_lgsr(partitions)

    def build_gold(
        self, silver: pd.DataFrame, options: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        if options:
            raise ValueError(f"retail gold takes no options, got {sorted(options)}")
        return features.build_basket_features(silver)

    def build_gold_increment(
        self,
        silver: pd.DataFrame,
        state: dict[str, pd.DataFrame] | None,
        options: dict[str, Any] | None = None,
    ) -> tuple[pd.DataFrame, dict[str, pd.DataFrame] | None]:
        """A week's baskets need the customers' states after the weeks before (the
        offline feature store): gold of the new weeks, their customer states, and
        the products and stores seen in them (for the online tables)."""
        if options:
            raise ValueError(f"retail gold takes no options, got {sorted(options)}")
        prior = None
        if state is not None and not state["customers"].empty:
            prior = features.state_index(state["customers"])
        gold, states = features.basket_gold(silver, prior_states=prior)
        return gold, {
            "customers": features.states_frame(states),
            **features.entities_by_week(silver),
        }

    def online_tables(self, silver: Any, gold: Any) -> dict[str, Any]:
        """From the gold lake table alone: its latest state (customers, products,
        stores, compacted) and its newest week."""
        states = read_latest(gold) or read_states(gold)
        if states is None:
            raise ValueError("retail: the gold table has no state parts")
        newest = gold.names("gold/")[-1:]
        return features.online_tables(
            pd.DataFrame(),
            gold.read(newest, columns=["shop_week", "shop_date", "shop_hour"]),
            features.state_index(states["customers"]),
            {name: states[name] for name in features.ENTITIES},
        )

    def candidates(self, params: TrainingParams) -> dict[str, Candidate]:
        from mlops_platform.use_cases.retail import models  # noqa: PLC0415

        pipelines = models.build_candidates(
            self.numeric_features, self.categorical_features, params
        )
        return {
            name: Candidate("sklearn", pipe, dict(params.candidates[name].params))
            for name, pipe in pipelines.items()
        }

    def baseline_predictions(
        self, train: pd.DataFrame, test: pd.DataFrame
    ) -> dict[str, np.ndarray]:
        """The customer's own segment, where known (else the training majority)."""
        majority = train[self.label].mode().iloc[0]
        own = test["cust_price_sensitivity"].astype(object)
        pred = own.where(own.isin(self.task.classes), majority)
        return {"customer_sensitivity": pred.to_numpy(dtype=object)}


__all__ = ["RetailUseCase"]
