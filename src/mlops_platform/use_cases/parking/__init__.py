"""Parking use case: car-park occupancy one hour ahead, daily, drift-gated.

Readings of several car parks (the seed's ``parking_data.csv`` or the UCI Birmingham
format) become forecasting examples on a 5-minute grid, scored on real readings only.
Candidates: a Keras LSTM and HistGradientBoosting on the same window; baselines
persistence and same time yesterday. One period is one day.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from mlops_platform.flavours import Candidate
from mlops_platform.params import TrainingParams
from mlops_platform.tasks import RegressionTask
from mlops_platform.use_cases.base import Feature, PartitionLoaders, UseCase
from mlops_platform.use_cases.parking import features, ingest, schema


class ParkingUseCase(UseCase):
    name: ClassVar[str] = "parking"
    contract = schema.PARKING_CONTRACT
    silver_name = "readings"
    task = RegressionTask(unit="cars", tolerance=0.01)
    feature_schema = (
        Feature(
            "occupancy",
            "window",
            features.DESCRIPTIONS["occupancy"],
            columns=features.WINDOW,
            step_minutes=features.STEP_MINUTES,
        ),
        *(Feature(c, "numeric", features.DESCRIPTIONS[c]) for c in features.CONTEXT),
    )
    label = features.LABEL
    time_column = features.TIME_COLUMN
    id_columns = features.ID_COLUMNS
    strong_baseline = "persistence"
    # A car park closed on the operator's calendar (raw closures.csv; ingest.py).
    out_of_service_column = schema.CLOSED
    # Every readings file needs the capacities and the closure calendar.
    reference_files = (ingest.CAR_PARKS_FILE, ingest.CLOSURES_FILE)
    # A day's examples read the next day (a target up to a day after a late origin)
    # and the day before (the window, "same time yesterday"): with a new day, the
    # day before is rebuilt from two days back (docs/incremental.md).
    gold_reach_forward = 1
    silver_context_periods = 1

    def silver_periods(self, silver: pd.DataFrame) -> pd.Series:
        """A reading's day (the origin day of the examples it ends a window of)."""
        return features.reading_day(silver[schema.TIMESTAMP])

    series_columns = ("car_park", "target_time")
    # A car park's level: its spaces, its occupancy now and an hour ahead. Not the
    # coverage columns (hour, window_real_share, yesterday_known): a partial day or
    # yesterday's outage moves them by many of their usual spreads.
    series_level_columns = ("capacity", features.WINDOW[-1], features.LABEL)
    # ... each less the car park's mean at that hour of the day (of its kind of
    # day), so partial days compare with full ones.
    series_profile_column = "hour"
    # One day's batch holds one weekday: tested and reported, never in the verdict
    # (it would "drift" every day against weeks of training data).
    time_dependent_features = ("weekday",)

    def period_kinds(self, rows: pd.DataFrame) -> pd.Series | None:
        """Monday-Friday, Saturday, Sunday: the weekday of the forecast's origin,
        one per day (the period)."""
        if "weekday" not in rows.columns:
            return None
        day = rows["weekday"].to_numpy(dtype=float)
        kind = np.where(day == 5, "Saturday", np.where(day == 6, "Sunday", "Mon-Fri"))
        return pd.Series(kind, index=rows.index)

    @property
    def drift_features(self) -> dict[str, str]:
        return {**super().drift_features, features.HOUR_BAND: "categorical"}

    def ingest(
        self, partitions: PartitionLoaders
    ) -> tuple[pd.DataFrame, dict[str, Any]]:
        return ingest.read_readings(partitions)

    def build_gold(
        self, silver: pd.DataFrame, options: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        return features.build_examples(silver, features.GoldParams(**(options or {})))

    def candidates(self, params: TrainingParams) -> dict[str, Candidate]:
        from mlops_platform.use_cases.parking import models  # noqa: PLC0415

        return models.build_candidates(self.numeric_features, params)

    def comparison_units(self, frame: pd.DataFrame) -> pd.Series | None:
        """A car park's hour (twelve 5-minute readings): neighbouring readings share
        the hour's level, and a day has only a handful of car parks, too few to
        resample alone."""
        hour = np.floor(frame["hour"].astype(float)).astype(int).astype(str)
        unit = frame["car_park"].astype(str) + " " + hour
        return unit.rename("car_park_hour")

    def schema_options(self, train: pd.DataFrame) -> dict[str, Any]:
        return features.schema_options(train)

    def baseline_predictions(
        self, train: pd.DataFrame, test: pd.DataFrame
    ) -> dict[str, np.ndarray]:
        """Persistence (the last reading) and the same time yesterday (persistence
        where there was no reading then)."""
        now = test["count_now"].to_numpy(dtype=float)
        yesterday = test["count_yesterday"].to_numpy(dtype=float)
        return {
            "persistence": now,
            "same_time_yesterday": np.where(np.isnan(yesterday), now, yesterday),
        }


__all__ = ["ParkingUseCase"]
