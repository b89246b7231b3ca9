"""Synthetic car-park readings, faithful to the real ``parking_data.csv``.

What the real file shows (docs/real-data.md, measured on the sample): readings
about every 5 minutes (irregular seconds, a few 10-15 minute gaps) in daylight only
(first reading 05:30-09:00, last 16:40-19:45), whole days missing and an 8.5-day
outage, partial days; the hourly shape (06h 1.5%, 07h 27%, 08-10h 59-64%, lunch dip
~32%, 14-16h 43-49%) and the weekday shape (Mon..Sun 46, 49, 51, 68, 55, 21, 2 per
100 spaces); counts move by about 1.2 cars per reading.

The generator draws, per car park, a capacity, a shifted and scaled version of that
shape, a day level (log-normal, as tight as the real lot's open weekdays) and slowly
varying AR(1) noise at the 5-minute step, then samples reading times, outages,
closures (episodes of 1-4 days near empty, as the real lot's; listed in
``closures.csv``, the operator's calendar) and sensor faults (stuck values, zero
dropouts).
A few rows break the contract on purpose (a negative count, a count above capacity, a
duplicate reading, an unparseable time) so quarantine is exercised on every run.

Output formats: ``uci`` (one file per day, ``readings_YYYYMMDD.csv``, columns
``SystemCodeNumber,Capacity,Occupancy,LastUpdated``: the daily batches the lifecycle
processes) or ``seed`` (``car_count,timestamp`` per car park, plus ``car_parks.csv``).

Drift knobs, each a severity in [0, 1] from ``start_day``: a new car park, a capacity
change, a demand shift, an event day and a sensor failure.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

FIRST_DAY = "2012-09-10"  # a Monday, as the real sample's autumn
# Occupancy rate by hour (real sample, per 100 spaces): 05h..19h.
HOURLY = {
    5: 0.003, 6: 0.015, 7: 0.27, 8: 0.59, 9: 0.625, 10: 0.635, 11: 0.537,
    12: 0.323, 13: 0.315, 14: 0.431, 15: 0.469, 16: 0.486, 17: 0.425, 18: 0.389,
    19: 0.30,
}  # fmt: skip
# Day factors Mon..Sun against HOURLY (the real sample's profile over all its days).
# The real lot's open weekdays are flat (72-75 per 100 spaces over 08-17h, 1.52
# times HOURLY there); an open Saturday is 0.59 of a weekday, Sunday 0.03
# (docs/parking.md, "Day levels"). The weekday means once read 46, 49, 51, 68, 55:
# closed days in them.
OPEN_WEEKDAY = 1.52
WEEKDAY = (*(OPEN_WEEKDAY,) * 5, 0.59 * OPEN_WEEKDAY, 0.03 * OPEN_WEEKDAY)
# A day's level around its weekday's: the real lot's open weekdays vary by a robust
# CV of 0.045; the 5-minute noise and the moving peak add to this draw.
DAY_LEVEL_SIGMA = 0.03
# The 5-minute noise, AR(1): what an hour ahead cannot know (the real lot's
# HistGradientBoosting error is 0.62 of persistence's, docs/real-data.md).
NOISE_PHI = 0.9
NOISE_STEP = 0.03
# Closures (the operator's calendar, closures.csv): the real lot stood near empty on
# 7 of 71 days in 3 episodes of 4, 1 and 2 days (12% of its full weekdays).
CLOSURE_START = 0.045  # chance a closure starts on a day the car park is open
CLOSURE_DAYS = (1, 4)  # its length, uniform
CLOSED_LEVEL = 0.03 * OPEN_WEEKDAY  # a closed day reads like a Sunday
CAPACITIES = (100, 470, 690, 387, 1200, 577, 1920, 485)
NAMES = (
    "CP_LOT100",
    "BHMEURBRD01",
    "BROAD_STREET",
    "BHMBCCTHL01",
    "BHMNCPHST01",
    "BHMBCCMKT01",
    "SHOPPING",
    "BHMNCPNST01",
)


@dataclass(frozen=True)
class ParkingDrift:
    start_day: str | None = None
    new_car_park: float = 0.0  # > 0: one more car park appears
    capacity_change: float = 0.0  # the largest car park gains up to 50% spaces
    demand_shift: float = 0.0  # occupancy level up to -40%
    event_day: float = 0.0  # the first drifted day gets up to +60% from noon
    sensor_failure: float = 0.0  # share of one car park's readings stuck or zero

    def severities(self) -> tuple[float, ...]:
        return (
            self.new_car_park,
            self.capacity_change,
            self.demand_shift,
            self.event_day,
            self.sensor_failure,
        )

    def active(self) -> bool:
        return any(v > 0 for v in self.severities())


@dataclass(frozen=True)
class ParkingConfig:
    seed: int = 7
    days: int = 45
    car_parks: int = 4
    first_day: str = FIRST_DAY
    output_format: str = "uci"
    contract_errors: bool = True
    drift: ParkingDrift = field(default_factory=ParkingDrift)


def _shape(hour: np.ndarray, shift: float) -> np.ndarray:
    """The hourly occupancy shape at fractional hours, moved by ``shift`` hours."""
    hours = np.array(sorted(HOURLY), dtype=float) + 0.5
    values = np.array([HOURLY[int(h)] for h in hours - 0.5])
    return np.interp(hour - shift, hours, values, left=0.0, right=values[-1])


def _park(rng: np.random.Generator, i: int) -> dict[str, Any]:
    return {
        "name": NAMES[i % len(NAMES)] + ("" if i < len(NAMES) else f"_{i}"),
        "capacity": CAPACITIES[i % len(CAPACITIES)],
        "shift": 0.0 if i == 0 else float(rng.uniform(-0.75, 0.75)),
        "scale": 1.0 if i == 0 else float(rng.uniform(0.7, 1.1)),
        "open": float(rng.uniform(5.4, 6.3)),
        "close": float(rng.uniform(18.0, 19.6)),
    }


def _day_readings(
    rng: np.random.Generator,
    park: dict[str, Any],
    day: date,
    drifted: bool,
    drift: ParkingDrift,
    first_drift_day: bool,
    closed: bool = False,
) -> pd.DataFrame:
    # Reading times: about every 5 minutes, a few longer gaps, irregular seconds.
    start = park["open"] + rng.normal(0, 0.15)
    end = park["close"] + rng.normal(0, 0.15)
    if rng.random() < 0.08:  # a partial day (camera started late or stopped early)
        a, b = sorted(rng.uniform(start, end, size=2))
        start, end = (a, end) if rng.random() < 0.5 else (start, b)
    steps = 5.0 + np.abs(rng.normal(0, 0.12, size=400))
    longer = rng.random(400)
    steps[longer < 0.02] = 10.0
    steps[longer < 0.006] = 15.0
    steps = steps / 60.0
    hours = start + np.cumsum(steps)
    hours = hours[hours < end]
    if not len(hours):
        return pd.DataFrame()
    # Occupancy: shape x weekday x day level + AR(1) noise on the 5-minute scale.
    level = float(np.exp(rng.normal(0.0, DAY_LEVEL_SIGMA)))
    shift = park["shift"] + rng.normal(0.0, 0.45)  # the day's peak moves
    weekday = CLOSED_LEVEL if closed else WEEKDAY[day.weekday()]
    base = _shape(hours, shift) * weekday * park["scale"] * level
    if drifted:
        base = base * (1.0 - 0.4 * drift.demand_shift)
        if first_drift_day and drift.event_day:
            base = base + 0.6 * drift.event_day * (hours >= 12.0) * 0.6
    noise = np.empty(len(hours))
    e = rng.normal(0, NOISE_STEP / np.sqrt(1 - NOISE_PHI**2))
    for k in range(len(hours)):
        e = NOISE_PHI * e + rng.normal(0, NOISE_STEP)
        noise[k] = e
    rate = np.clip(base + noise * np.sqrt(np.maximum(base, 0.02) / 0.5), 0.0, 1.0)
    capacity = park["capacity"]
    if drifted and drift.capacity_change and park.get("largest"):
        capacity = round(capacity * (1 + 0.5 * drift.capacity_change))
    counts = np.round(rate * capacity).astype(int)
    # Sensor faults: a stuck value for 30-90 minutes, a rare zero dropout.
    if rng.random() < 0.05 and len(counts) > 20:
        k = int(rng.integers(0, len(counts) - 18))
        counts[k : k + int(rng.integers(6, 18))] = counts[k]
    counts[rng.random(len(counts)) < 0.002] = 0
    if drifted and drift.sensor_failure and park.get("failing"):
        broken = rng.random(len(counts)) < 0.6 * drift.sensor_failure
        counts[broken] = np.where(rng.random(broken.sum()) < 0.5, 0, counts[broken][0])
    seconds = np.round(hours * 3600).astype(int)
    stamps = pd.Timestamp(day) + pd.to_timedelta(seconds, unit="s")
    return pd.DataFrame(
        {"park": park["name"], "capacity": capacity, "count": counts, "t": stamps}
    )


def _closures(rng: np.random.Generator, days: list[date]) -> set[str]:
    """One car park's closed days (ISO): episodes of ``CLOSURE_DAYS`` days, each
    starting with chance ``CLOSURE_START`` on a day it is open."""
    closed: set[str] = set()
    k = 0
    while k < len(days):
        if rng.random() < CLOSURE_START:
            length = int(rng.integers(CLOSURE_DAYS[0], CLOSURE_DAYS[1] + 1))
            closed.update(d.isoformat() for d in days[k : k + length])
            k += length
        k += 1
    return closed


def _break_some_rows(rng: np.random.Generator, frame: pd.DataFrame) -> pd.DataFrame:
    """A handful of rows that the contract must quarantine (as real files have)."""
    if len(frame) < 50:
        return frame
    out = frame.copy()
    out["count"] = out["count"].astype(object)
    out["t_text"] = out["t"].dt.strftime("%Y-%m-%d %H:%M:%S")
    idx = rng.choice(out.index.to_numpy(), size=3, replace=False)
    out.loc[idx[0], "count"] = -int(rng.integers(1, 5))
    out.loc[idx[1], "count"] = int(out.loc[idx[1], "capacity"]) + int(
        rng.integers(1, 30)
    )
    out.loc[idx[2], "t_text"] = out.loc[idx[2], "t_text"].replace("-", "/", 1) + "x"
    dup = out.loc[[rng.choice(out.index.to_numpy())]]
    return pd.concat([out, dup], ignore_index=True)


def generate(
    cfg: ParkingConfig, out_dir: str | Path, progress: bool = False
) -> dict[str, Any]:
    rng = np.random.default_rng(cfg.seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    parks = [_park(rng, i) for i in range(cfg.car_parks)]
    max(parks, key=lambda p: p["capacity"])["largest"] = True
    parks[min(1, len(parks) - 1)]["failing"] = True
    drift = cfg.drift
    if drift.new_car_park:
        parks.append({**_park(rng, cfg.car_parks), "new": True})
    first = date.fromisoformat(cfg.first_day)
    drift_start = date.fromisoformat(drift.start_day) if drift.start_day else None
    outage = {
        p["name"]: set(
            (first + timedelta(days=int(d))).isoformat()
            for d in rng.choice(cfg.days, size=max(0, cfg.days // 14), replace=False)
        )
        for p in parks
    }
    days = [first + timedelta(days=i) for i in range(cfg.days)]
    closures = {p["name"]: _closures(rng, days) for p in parks}
    if drift_start and drift.active():
        # A drifted day is never a closure (nor an outage, below): the power study
        # (drift_power) measures whether a visible drift is caught.
        closures = {
            name: {d for d in closed if date.fromisoformat(d) < drift_start}
            for name, closed in closures.items()
        }
    frames: list[pd.DataFrame] = []
    for day in days:
        drifted = bool(drift_start and day >= drift_start and drift.active())
        for park in parks:
            if park.get("new") and not drifted:
                continue
            if day.isoformat() in outage[park["name"]] and not drifted:
                continue
            closed = day.isoformat() in closures[park["name"]]
            part = _day_readings(
                rng, park, day, drifted, drift, drifted and day == drift_start, closed
            )
            if len(part):
                frames.append(part)
    readings = pd.concat(frames, ignore_index=True).sort_values(["t", "park"])
    readings = readings.reset_index(drop=True)
    calendar = pd.DataFrame(
        [(name, d) for name, closed in closures.items() for d in sorted(closed)],
        columns=["SystemCodeNumber", "Date"],
    )
    calendar.to_csv(out / "closures.csv", index=False)
    files: list[str] = []
    if cfg.output_format == "uci":
        for day, clean in readings.groupby(readings["t"].dt.date, sort=True):
            part = _break_some_rows(rng, clean) if cfg.contract_errors else clean
            text = part.get("t_text", part["t"].dt.strftime("%Y-%m-%d %H:%M:%S"))
            name = f"readings_{day:%Y%m%d}.csv"
            pd.DataFrame(
                {
                    "SystemCodeNumber": part["park"],
                    "Capacity": part["capacity"],
                    "Occupancy": part["count"],
                    "LastUpdated": text,
                }
            ).to_csv(out / name, index=False)
            files.append(name)
    elif cfg.output_format == "seed":
        for park, clean in readings.groupby("park", sort=True):
            part = _break_some_rows(rng, clean) if cfg.contract_errors else clean
            text = pd.to_datetime(
                part.get("t_text", part["t"].dt.strftime("%Y-%m-%d %H:%M:%S")),
                errors="coerce",
            ).dt.strftime("%d/%m/%Y %H:%M:%S")
            text = text.where(text.notna(), "31/02/2012 25:61:00")
            name = f"{park}.csv"
            pd.DataFrame({"car_count": part["count"], "timestamp": text}).to_csv(
                out / name, index=False
            )
            files.append(name)
        caps = readings.groupby("park")["capacity"].first()
        pd.DataFrame(
            {"SystemCodeNumber": caps.index, "Capacity": caps.to_numpy()}
        ).to_csv(out / "car_parks.csv", index=False)
    else:
        raise ValueError(f"unknown output format {cfg.output_format!r} (uci, seed)")
    stats = {
        "readings": len(readings),
        "closure_days": len(calendar),
        "car_parks": [p["name"] for p in parks],
        "days": [d.isoformat() for d in days],
        "files": files,
        "out_dir": str(out),
    }
    if progress:
        logger.info("parking: %d readings in %d files", len(readings), len(files))
    return stats
