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
        validated = cast(ParkingRequest, validated)  # what request_model returns
        readings = validated.readings
        capacity = float(validated.capacity)
        times: list[datetime] = []
        for i, r in enumerate(readings):
            if r.timestamp.tzinfo is not None:
                raise RequestError(
                    f"readings[{i}].timestamp",
                    "give the car park's local time without a time zone",
                )
            if r.count > validated.capacity:
                raise RequestError(
                    f"readings[{i}].count",
                    f"{r.count} is above the capacity {validated.capacity}",
                )
            if times and r.timestamp <= times[-1]:
                same = r.timestamp == times[-1]
                raise RequestError(
                    f"readings[{i}].timestamp",
                    f"{'the same time as' if same else 'earlier than'} "
                    f"readings[{i - 1}]: readings must be sorted, one per time",
                    "order",
                )
            times.append(r.timestamp)
        last = times[-1]
        now = datetime.now(UTC).replace(tzinfo=None)
        if last > now + FUTURE_SLACK:
            raise RequestError(
                f"readings[{len(times) - 1}].timestamp",
                f"{last.isoformat()} is in the future",
            )
        window = _window(schema)
        step = timedelta(minutes=float(window["step_minutes"]))
        length = len(window["columns"])
        fill = int(schema_option(schema, "max_fill_minutes") // window["step_minutes"])
        horizon = timedelta(minutes=schema_option(schema, "horizon_minutes"))

        def bin_of(t: datetime) -> datetime:
            minute = (t.minute // int(window["step_minutes"])) * int(
                window["step_minutes"]
            )
            return t.replace(minute=minute, second=0, microsecond=0)

        last_in_bin: dict[datetime, float] = {}
        for t, r in zip(times, readings, strict=True):
            last_in_bin[bin_of(t)] = r.count / capacity  # later readings win
        origin = bin_of(last)
        start = origin - step * (length - 1)
        in_window = sum(1 for t in times if bin_of(t) >= start)
        if in_window < MIN_READINGS:
            raise RequestError(
                "readings",
                f"{in_window} reading(s) in the {length * step.seconds // 60} minutes "
                f"up to the last one; at least {MIN_READINGS} are needed",
                "too_short",
            )
        grid = [origin - step * k for k in range(length - 1 + fill, -1, -1)]
        values: list[float] = []
        since_real = math.inf
        last_value = math.nan
        for b in grid:
            if b in last_in_bin:
                last_value, since_real = last_in_bin[b], 0
            else:
                since_real += 1
            values.append(last_value if since_real <= fill else 0.0)
        values = [0.0 if math.isnan(v) else v for v in values[-length:]]
        real = [b in last_in_bin for b in grid[-length:]]
        yesterday = origin + horizon - timedelta(days=1)
        known = yesterday in last_in_bin
        record: dict[str, Any] = {
            window["name"]: values,
            "capacity": capacity,
            "hour": origin.hour + origin.minute / 60.0,
            "weekday": float(origin.weekday()),
            "window_real_share": float(np.mean(real)),
            "yesterday_rate": last_in_bin[yesterday] if known else values[-1],
            "yesterday_known": float(known),
            "_forecast_for": (origin + horizon).isoformat(timespec="minutes"),
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
            "PredictedCarCount": float(np.mean([p["prediction"] for p in predictions]))
        }


def schema_option(schema: FeatureSchema, name: str) -> float:
    value = schema.options.get(name)
    if value is None:
        raise RequestError("body", f"the loaded model's schema has no {name}")
    return float(value)


USE_CASE = Parking("parking")
