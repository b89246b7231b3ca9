"""Silver readings -> forecasting examples on a regular grid, scored on real readings.

Per car park, readings are put on a 5-minute grid (the last reading in each bin). An
example is an origin bin holding a real reading whose bin ``horizon`` later also holds
a real reading: the target is that later count. Nights and gaps are never
interpolated into a target or an origin, because interpolation flatters persistence
about 3.7 times (docs/real-data.md). The window (the last two hours, as occupancy
rates) fills a missing bin with the last reading up to ``MAX_FILL_MINUTES`` back, and
anything older with 0 (a closed car park is empty); ``window_real_share`` says how
much of the window was read.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from pydantic import BaseModel, ConfigDict, Field

from mlops_platform.use_cases.parking.schema import (
    CAPACITY,
    CAR_PARK,
    CLOSED,
    COUNT,
    TIMESTAMP,
)

STEP_MINUTES = 5
WINDOW_STEPS = 24  # two hours
STEPS_PER_DAY = 24 * 60 // STEP_MINUTES
# A window bin without a reading takes the last reading up to this far back, else 0.
MAX_FILL_MINUTES = 15
WINDOW = tuple(
    f"occ_m{(WINDOW_STEPS - 1 - i) * STEP_MINUTES:03d}" for i in range(WINDOW_STEPS)
)  # oldest first: occ_m115 .. occ_m000
LABEL = "target_count"
TIME_COLUMN = "day"
ID_COLUMNS = ("car_park", "origin", "target_time", "day")
CONTEXT = (
    "capacity",
    "hour",
    "weekday",
    "window_real_share",
    "yesterday_rate",
    "yesterday_known",
)
DESCRIPTIONS = {
    "occupancy": "occupancy rate (count / capacity) every 5 minutes over the last "
    "two hours, oldest first; the last one is the reading the forecast starts from",
    "capacity": "spaces in the car park",
    "hour": "hour of the day of the last reading (fractional, 0-24)",
    "weekday": "day of the week of the last reading, 0 = Monday .. 6 = Sunday",
    "window_real_share": "share of the window's bins that hold a real reading",
    "yesterday_rate": "occupancy rate at the forecast time one day earlier (the "
    "current rate where there was no reading then)",
    "yesterday_known": "1 if yesterday_rate is a real reading, else 0",
}
# Drift only (not a model input): the occupancy band at each hour of the day, so a
# shift of the count distribution at some hours is not averaged away over the day.
HOUR_BAND = "occupancy_by_hour"


class GoldParams(BaseModel):
    """``data_engineering.gold`` for parking."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    horizon_minutes: int = Field(60, ge=STEP_MINUTES, le=24 * 60)

    @property
    def horizon_steps(self) -> int:
        if self.horizon_minutes % STEP_MINUTES:
            raise ValueError(
                f"horizon_minutes {self.horizon_minutes} is not a multiple of "
                f"{STEP_MINUTES}"
            )
        return self.horizon_minutes // STEP_MINUTES


def _grid(one: pd.DataFrame) -> pd.DataFrame:
    """One car park's readings on the 5-minute grid (last reading per bin)."""
    one = one.sort_values("t")
    one = one.assign(bin=one["t"].dt.floor(f"{STEP_MINUTES}min"))
    last = one.groupby("bin", sort=True).last()
    index = pd.date_range(last.index.min(), last.index.max(), freq=f"{STEP_MINUTES}min")
    grid = pd.DataFrame(index=index)
    grid["count"] = last[COUNT].astype(float).reindex(index)
    grid["capacity"] = last[CAPACITY].astype(float).reindex(index).ffill().bfill()
    grid["real"] = grid["count"].notna()
    closed = last[CLOSED] if CLOSED in last.columns else pd.Series(0, index=last.index)
    grid["closed"] = closed.astype(float).reindex(index).ffill().fillna(0.0)
    return grid


def schema_options(gold: pd.DataFrame) -> dict[str, float]:
    """What serving needs to build a window from readings as this gold did."""
    gap = pd.to_datetime(gold["target_time"]) - pd.to_datetime(gold["origin"])
    minutes = sorted({int(m) for m in gap.dt.total_seconds() // 60})
    if len(minutes) != 1:
        raise ValueError(f"parking gold mixes horizons {minutes}")
    return {"horizon_minutes": minutes[0], "max_fill_minutes": MAX_FILL_MINUTES}


def reading_day(timestamps: pd.Series) -> pd.Series:
    """YYYYMMDD of each reading, as gold's ``day`` names an origin's day."""
    t = pd.to_datetime(timestamps, format="%Y-%m-%d %H:%M:%S")
    return (t.dt.year * 10000 + t.dt.month * 100 + t.dt.day).astype("int64")


def build_examples(silver: pd.DataFrame, params: GoldParams) -> pd.DataFrame:
    horizon = params.horizon_steps
    fill = MAX_FILL_MINUTES // STEP_MINUTES
    kept = [CAR_PARK, CAPACITY, COUNT, TIMESTAMP, CLOSED]
    frame = silver[[c for c in kept if c in silver.columns]].copy()
    frame["t"] = pd.to_datetime(frame[TIMESTAMP], format="%Y-%m-%d %H:%M:%S")
    parts: list[pd.DataFrame] = []
    for park, one in frame.groupby(CAR_PARK, sort=True):
        grid = _grid(one)
        n = len(grid)
        if n < WINDOW_STEPS + horizon:
            continue
        rate = (grid["count"] / grid["capacity"]).to_numpy()
        filled = pd.Series(rate).ffill(limit=fill).fillna(0.0).to_numpy()
        real = grid["real"].to_numpy()
        windows = sliding_window_view(filled, WINDOW_STEPS)  # row j ends at j+W-1
        share = sliding_window_view(real.astype(float), WINDOW_STEPS).mean(axis=1)
        origin = np.arange(WINDOW_STEPS - 1, n - horizon)
        target = origin + horizon
        keep = real[origin] & real[target]
        origin, target = origin[keep], target[keep]
        if not len(origin):
            continue
        w = windows[origin - (WINDOW_STEPS - 1)]
        count = grid["count"].to_numpy()
        capacity = grid["capacity"].to_numpy()
        before = target - STEPS_PER_DAY
        known = before >= 0
        known[known] = real[before[known]]
        yesterday_count = np.where(known, count[np.where(known, before, 0)], np.nan)
        times = grid.index
        o_time = times[origin]
        rate_now = rate[origin]
        part = pd.DataFrame(
            {
                "car_park": park,
                "origin": o_time.strftime("%Y-%m-%d %H:%M"),
                "target_time": times[target].strftime("%Y-%m-%d %H:%M"),
                "day": (o_time.year * 10000 + o_time.month * 100 + o_time.day).astype(
                    np.int64
                ),
                "count_now": count[origin],
                "count_yesterday": yesterday_count,
                **{c: w[:, i] for i, c in enumerate(WINDOW)},
                "capacity": capacity[origin],
                "hour": o_time.hour + o_time.minute / 60.0,
                "weekday": o_time.day_of_week.astype(float),
                "window_real_share": share[origin - (WINDOW_STEPS - 1)],
                "yesterday_rate": np.where(
                    known, yesterday_count / capacity[target], rate_now
                ),
                "yesterday_known": known.astype(float),
                LABEL: count[target],
                # the operator's calendar on the origin's day (not a model input:
                # UseCase.out_of_service_column)
                CLOSED: grid["closed"].to_numpy()[origin].astype(np.int64),
                HOUR_BAND: [
                    f"{h:02d}h/{min(4, int(r * 5))}"
                    for h, r in zip(o_time.hour, rate_now, strict=True)
                ],
            }
        )
        parts.append(part)
    if not parts:
        raise ValueError(
            "parking: no forecasting example (no car park has a real reading and "
            f"another {params.horizon_minutes} minutes later)"
        )
    return pd.concat(parts, ignore_index=True)
