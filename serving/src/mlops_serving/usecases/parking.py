"""Parking: a car park's recent readings in, its count one horizon later out.

Clients send what a car park's counter knows, its capacity and its latest readings
(times and counts), not the model's window of occupancy rates. This module checks
the readings (sorted, no duplicates, not above capacity, not from the future, enough
of them) and turns them into the model's feature record exactly as the pipeline's
gold builder does for one forecast origin (``mlops_platform.use_cases.parking.
features``: a 5-minute grid, the last reading per bin, gaps filled from the last
reading up to ``max_fill_minutes``, else 0). ``tests/use_cases/test_parking_serving.py``
in the main project holds the two to the same result on generated readings.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from mlops_serving.schema import FeatureSchema
from mlops_serving.usecases.base import RequestError, UseCase

# Local times have no zone: a reading later than UTC now plus the largest offset of
# any zone (14 h) is from the future wherever the car park is.
FUTURE_SLACK = timedelta(hours=14)
MIN_READINGS = 2


class Reading(BaseModel):
    model_config = ConfigDict(extra="forbid")
    timestamp: datetime = Field(
        description="local time of the reading, YYYY-MM-DDTHH:MM:SS, no time zone"
    )
    count: int = Field(ge=0, le=100_000, description="cars counted")


class ParkingRequest(BaseModel):
    """One car park: its capacity and its readings, oldest first (the forecast
    starts from the last one; send at least the last two hours, and the readings of
    the same time yesterday to use them)."""

    model_config = ConfigDict(extra="forbid")
    car_park: str | None = Field(None, max_length=64, description="echoed back")
    capacity: int = Field(ge=1, le=100_000, description="spaces in the car park")
    readings: list[Reading] = Field(min_length=1, max_length=2000)


def _window(schema: FeatureSchema) -> dict[str, Any]:
    for f in schema.fields:
        if f["kind"] == "window":
            return f
    raise RequestError("body", "the loaded model has no time series window")


class Parking(UseCase):
    def request_model(self, schema: FeatureSchema) -> type[BaseModel]:
        return ParkingRequest

    def to_record(self, validated: BaseModel, schema: FeatureSchema) -> dict[str, Any]:
        """Times are whole minutes from day 1 (``toordinal``) on the grid, so a bin is
        an integer and each reading's bin is computed once (datetime arithmetic per
        bin and reading was most of a request's time: docs/benchmarks.md)."""
        validated = cast(ParkingRequest, validated)  # what request_model returns
        readings = validated.readings
        capacity = float(validated.capacity)
        window = _window(schema)
        step = int(window["step_minutes"])
        length = len(window["columns"])
        fill = int(schema_option(schema, "max_fill_minutes") // step)
        horizon = schema_option(schema, "horizon_minutes")
        # the bin of each reading (minutes), later readings of a bin winning
        last_in_bin: dict[int, float] = {}
        bins: list[int] = []
        previous: datetime | None = None
        for i, r in enumerate(readings):
            t = r.timestamp
            if t.tzinfo is not None:
                raise RequestError(
                    f"readings[{i}].timestamp",
                    "give the car park's local time without a time zone",
                )
            if r.count > validated.capacity:
                raise RequestError(
                    f"readings[{i}].count",
                    f"{r.count} is above the capacity {validated.capacity}",
                )
            if previous is not None and t <= previous:
                same = t == previous
                raise RequestError(
                    f"readings[{i}].timestamp",
                    f"{'the same time as' if same else 'earlier than'} "
                    f"readings[{i - 1}]: readings must be sorted, one per time",
                    "order",
                )
            previous = t
            minute = t.toordinal() * 1440 + t.hour * 60 + t.minute
            bins.append(minute - t.minute % step)
            last_in_bin[bins[-1]] = r.count / capacity
        last = cast(datetime, previous)  # at least one reading (the request model)
        now = datetime.now(UTC).replace(tzinfo=None)
        if last > now + FUTURE_SLACK:
            raise RequestError(
                f"readings[{len(readings) - 1}].timestamp",
                f"{last.isoformat()} is in the future",
            )
        origin_time = last.replace(
            minute=last.minute - last.minute % step, second=0, microsecond=0
        )
        origin = bins[-1]
        start = origin - step * (length - 1)
        # readings (not bins) in the window; bins are in time order, as readings
        in_window = len(bins) - bisect_left(bins, start)
        if in_window < MIN_READINGS:
            raise RequestError(
                "readings",
                f"{in_window} reading(s) in the {length * step} minutes "
                f"up to the last one; at least {MIN_READINGS} are needed",
                "too_short",
            )
        values: list[float] = []
        real = 0
        since_real = math.inf
        last_value = math.nan
        oldest = start - step * fill  # the fill may reach back before the window
        for b in range(oldest, origin + 1, step):
            value = last_in_bin.get(b)
            if value is not None:
                last_value, since_real = value, 0
                real += b >= start
            else:
                since_real += 1
            if b >= start:
                v = last_value if since_real <= fill else 0.0
                values.append(0.0 if math.isnan(v) else v)
        # the same time yesterday, as a bin (a horizon off the grid never is one)
        yesterday = origin + horizon - 1440
        known_rate = last_in_bin.get(int(yesterday)) if yesterday.is_integer() else None
        record: dict[str, Any] = {
            window["name"]: values,
            "capacity": capacity,
            "hour": origin_time.hour + origin_time.minute / 60.0,
            "weekday": float(origin_time.weekday()),
            "window_real_share": real / length,
            "yesterday_rate": values[-1] if known_rate is None else known_rate,
            "yesterday_known": float(known_rate is not None),
            "_forecast_for": (origin_time + timedelta(minutes=horizon)).isoformat(
                timespec="minutes"
            ),
            "_car_park": validated.car_park,
        }
        missing = [f["name"] for f in schema.fields if f["name"] not in record]
        if missing:
            raise RequestError("body", f"the loaded model wants inputs {missing}")
        return record

    def render(
        self,
        outputs: np.ndarray,
        schema: FeatureSchema,
        records: Sequence[dict[str, Any]] = (),
    ) -> list[dict[str, Any]]:
        out = super().render(outputs, schema, records)
        for pred, rec in zip(out, records, strict=True):
            cars = min(max(pred["prediction"], 0.0), rec["capacity"])
            pred["count"] = round(cars)
            pred["forecast_for"] = rec["_forecast_for"]
            pred["car_park"] = rec["_car_park"]
        return out

    def example(
        self, schema: FeatureSchema, golden_rows: list[dict[str, Any]]
    ) -> dict[str, Any]:
        start = datetime(2012, 10, 3, 8, 0, 0)
        counts = [40, 43, 47, 50, 52, 55, 57, 58, 60, 61, 63, 64]
        return {
            "car_park": "CP_LOT100",
            "capacity": 100,
            "readings": [
                {
                    "timestamp": (
                        start + timedelta(minutes=5 * i, seconds=7)
                    ).isoformat(),
                    "count": c,
                }
                for i, c in enumerate(counts)
            ],
        }

    def emf_metrics(self, predictions: Sequence[dict[str, Any]]) -> dict[str, float]:
        return {
            "PredictedCarCount": sum(p["prediction"] for p in predictions)
            / len(predictions)
        }


def schema_option(schema: FeatureSchema, name: str) -> float:
    value = schema.options.get(name)
    if value is None:
        raise RequestError("body", f"the loaded model's schema has no {name}")
    return float(value)


USE_CASE = Parking("parking")
