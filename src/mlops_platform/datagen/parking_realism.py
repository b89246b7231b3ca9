"""How hard is a parking data set at the unit the model predicts, and at the unit the
drift test judges?

``python -m mlops_platform.datagen.parking_realism [--replay] [--infer-closures]
DIR_OR_CSV [...]`` reads
readings (either format), builds the one-hour-ahead examples the pipeline builds
(5-minute grid, origin and target both real readings), holds out the last 20% of time
and prints, per car park, persistence, same time yesterday and HistGradientBoosting on
the lags and calendar, as MAE in cars and per 100 spaces. The same protocol as the
real-sample figures in docs/real-data.md (persistence 11.87, HGB 5.15 cars).

It then prints each car park's day levels (:func:`day_levels`): a day's mean
occupancy per 100 spaces over the core hours, on days whose readings cover them, and
how those levels vary from day to day. That is what the drift test's series check
compares (docs/drift.md): a generator whose ordinary days vary more, or which has no
closed days, measures drift power on a different problem from the real data's. With
``--replay`` it replays that check on the recorded days (:func:`series_replay`);
with ``--infer-closures``, for a file without the operator's calendar, closed days
are read off the levels (:func:`inferred_closures`) and left out as a calendar's
would be.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlops_platform.contracts import enforce_contract
from mlops_platform.use_cases.parking import ParkingUseCase
from mlops_platform.use_cases.parking.features import GoldParams, build_examples
from mlops_platform.use_cases.parking.ingest import CLOSURES_FILE


def load_examples(
    path: str | Path,
    capacity: int | None = None,
    horizon_minutes: int = 60,
    closures: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Gold examples from a folder of raw files, or one seed-format CSV (with
    ``closures``, a calendar as ``closures.csv`` holds it, beside the folder's)."""
    silver = readings(path, capacity, closures)
    return build_examples(silver, GoldParams(horizon_minutes=horizon_minutes))


def difficulty(gold: pd.DataFrame, test_share: float = 0.2) -> pd.DataFrame:
    from sklearn.ensemble import HistGradientBoostingRegressor  # noqa: PLC0415

    uc = ParkingUseCase()
    rows: list[dict[str, Any]] = []
    for park, unsorted in gold.groupby("car_park", sort=True):
        g = unsorted.sort_values("origin")
        cut = g["origin"].iloc[int(len(g) * (1 - test_share))]
        train, test = g[g["origin"] < cut], g[g["origin"] >= cut]
        if len(train) < 100 or len(test) < 20:
            continue
        cap = float(test["capacity"].iloc[-1])
        y = test["target_count"].to_numpy(dtype=float)
        hgb = HistGradientBoostingRegressor(
            max_iter=300, learning_rate=0.05, random_state=0
        )
        hgb.fit(uc.model_input(train), train["target_count"] / train["capacity"])
        pred = hgb.predict(uc.model_input(test)) * test["capacity"].to_numpy()
        base = uc.baseline_predictions(train, test)
        maes = {
            "persistence": np.abs(base["persistence"] - y).mean(),
            "same_time_yesterday": np.abs(base["same_time_yesterday"] - y).mean(),
            "hgb": np.abs(pred - y).mean(),
        }
        rows.append(
            {
                "car_park": park,
                "capacity": cap,
                "test_pairs": len(test),
                **{f"{k}_mae": round(v, 2) for k, v in maes.items()},
                **{f"{k}_per100": round(100 * v / cap, 2) for k, v in maes.items()},
                "hgb_over_persistence": round(maes["hgb"] / maes["persistence"], 3),
            }
        )
    return pd.DataFrame(rows)


CORE_HOURS = (8.0, 17.0)  # every car park in both data sets is open then
CLOSED_SHARE = 0.25  # a weekday below a quarter of the car park's median: closed


def readings(
    path: str | Path,
    capacity: int | None = None,
    closures: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Silver readings (contract applied) from a folder of raw files or one
    seed-format CSV, as :func:`load_examples` reads them."""
    path = Path(path)
    files = sorted(path.glob("*.csv")) if path.is_dir() else [path]
    partitions: dict[str, Callable[[], bytes]] = {f.stem: f.read_bytes for f in files}
    if closures is not None:
        text = closures.to_csv(index=False).encode()
        partitions[CLOSURES_FILE] = lambda: text
    if capacity is not None and "car_parks" not in partitions:
        caps = "SystemCodeNumber,Capacity\n" + "".join(
            f"{f.stem},{capacity}\n" for f in files
        )
        partitions["car_parks"] = caps.encode
    uc = ParkingUseCase()
    raw, _ = uc.ingest(partitions)
    return enforce_contract(raw, uc.contract).valid


def _core_days(silver: pd.DataFrame) -> pd.DataFrame:
    """Per car park and day with readings in :data:`CORE_HOURS`: the level (mean
    count per 100 spaces there), the first and last such reading's hour, and
    whether the calendar has the day closed (silver's ``closed``)."""
    t = pd.to_datetime(silver["timestamp"])
    hour = t.dt.hour + t.dt.minute / 60
    closed = silver["closed"] if "closed" in silver.columns else 0
    frame = pd.DataFrame(
        {
            "car_park": silver["car_park"].to_numpy(),
            "day": t.dt.normalize().to_numpy(),
            "hour": hour.to_numpy(),
            "rate": (100 * silver["count"] / silver["capacity"]).to_numpy(),
            "calendar": pd.Series(closed, index=silver.index).to_numpy(),
        }
    )
    lo, hi = CORE_HOURS
    core = frame[(frame["hour"] >= lo) & (frame["hour"] < hi)]
    return (
        core.groupby(["car_park", "day"])
        .agg(
            level=("rate", "mean"),
            first=("hour", "min"),
            last=("hour", "max"),
            calendar=("calendar", "max"),
        )
        .reset_index()
    )


def day_levels(silver: pd.DataFrame) -> pd.DataFrame:
    """Per car park, how its day level varies: the level is the mean count per 100
    spaces over :data:`CORE_HOURS`, on days with readings within half an hour of
    both ends. Weekdays on the closure calendar (silver's ``closed``), and those
    below :data:`CLOSED_SHARE` of the median weekday (a file without a calendar),
    are counted as closed; the spread of the others is robust (1.4826 MAD over
    the median) and plain (standard deviation over the mean), and
    ``weekday_range`` is how far apart their Monday..Friday medians are (range
    over the level: flat is 0)."""
    lo, hi = CORE_HOURS
    days = _core_days(silver)
    full = (days["first"] <= lo + 0.5) & (days["last"] >= hi - 0.5)
    days = days[full].reset_index(drop=True)
    weekday = pd.DatetimeIndex(days["day"]).day_of_week
    rows: list[dict[str, Any]] = []
    for park, g in days.groupby("car_park", sort=True):
        wd = g.loc[weekday[g.index] < 5, "level"]
        if len(wd) < 5:
            continue
        on_calendar = g.loc[wd.index, "calendar"].astype(bool)
        median = float(wd[~on_calendar].median())
        closed = on_calendar | (wd < CLOSED_SHARE * median)
        open_ = wd[~closed]
        centre = float(open_.median())
        mad = float(np.median(np.abs(open_ - centre)))
        open_days = ~g["calendar"].astype(bool)
        by_weekday = open_.groupby(weekday[open_.index]).median()
        sat = g.loc[(weekday[g.index] == 5) & open_days, "level"]
        sun = g.loc[(weekday[g.index] == 6) & open_days, "level"]
        rows.append(
            {
                "car_park": park,
                "full_weekdays": len(wd),
                "weekday_level": round(centre, 1),
                "closed_weekdays": int(closed.sum()),
                "closed_share": round(float(closed.mean()), 3),
                "open_robust_cv": round(1.4826 * mad / centre, 3) if centre else None,
                "open_cv": round(float(open_.std() / open_.mean()), 3),
                # Monday-Friday medians of open days: their range over the level
                "weekday_range": round(
                    float(by_weekday.max() - by_weekday.min()) / centre, 3
                ),
                "saturday_ratio": round(float(sat.median()) / centre, 2)
                if len(sat)
                else None,
                "sunday_ratio": round(float(sun.median()) / centre, 2)
                if len(sun)
                else None,
            }
        )
    return pd.DataFrame(rows)


def inferred_closures(silver: pd.DataFrame) -> pd.DataFrame:
    """A closure calendar read off the readings, for a file whose operator's
    calendar is not published (the real sample): per car park, a weekday or
    Saturday whose level over :data:`CORE_HOURS` is below :data:`CLOSED_SHARE` of
    the median of its kind (Sundays are near empty anyway). Any day with core-hour
    readings is judged, full or not: a closure leaves the camera on."""
    frame = _core_days(silver)
    weekday = frame["day"].dt.day_of_week
    kind = np.where(weekday < 5, "weekday", np.where(weekday == 5, "Saturday", ""))
    median = frame.groupby(["car_park", kind])["level"].transform("median")
    closed = (kind != "") & (frame["level"] < CLOSED_SHARE * median)
    return pd.DataFrame(
        {
            "SystemCodeNumber": frame.loc[closed, "car_park"].to_numpy(),
            "Date": frame.loc[closed, "day"].dt.strftime("%Y-%m-%d").to_numpy(),
        }
    )


def series_replay(
    gold: pd.DataFrame, demand_cut: float = 0.4, first: int = 10
) -> pd.DataFrame:
    """The drift test's series check on recorded days: each day from the
    ``first``-th on is the newest batch, judged against the days before it (as the
    pipeline would, with the project's drift parameters), once as recorded and once
    with its demand cut by ``demand_cut`` (the occupancy and the target scaled, as
    the generator's ``demand_shift`` does). Only the series check: the other causes
    need a champion. Rows out of service (a calendar's closed days) are left out
    of both sides, as the drift stage leaves them."""
    from mlops_platform.datagen.drift_power import project_params  # noqa: PLC0415
    from mlops_platform.pipelines.drift.nodes import (  # noqa: PLC0415
        PeriodNull,
        _batch_kind,
        _series_test,
    )

    uc = ParkingUseCase()
    params = project_params("parking").drift
    t = uc.time_column
    gold = gold[uc.in_service(gold)]  # as detect_drift leaves closed days out
    days = sorted(gold[t].unique())
    rows: list[dict[str, Any]] = []
    for d in days[first:]:
        reference, batch = gold[gold[t] < d], gold[gold[t] == d]
        null_of = PeriodNull.build(
            reference[t], uc.period_kinds(reference), _batch_kind(uc, batch)
        )
        cut = batch.assign(
            occ_m000=batch["occ_m000"] * (1 - demand_cut),
            target_count=np.round(batch["target_count"] * (1 - demand_cut)),
        )
        as_is = _series_test(uc, reference, null_of, batch, {}, params)
        lower = _series_test(uc, reference, null_of, cut, {}, params)
        if as_is is None or lower is None:
            continue
        rows.append(
            {
                "day": d,
                "kind": _batch_kind(uc, batch),
                "reference_days": reference[t].nunique(),
                "mean_occupancy": round(float(batch["occ_m000"].mean()), 3),
                "threshold": round(as_is["null_quantile"], 2),
                "surprise": round(as_is["statistic"], 2),
                "alarm": bool(as_is["drifted"]),
                f"surprise_cut_{demand_cut:.0%}": round(lower["statistic"], 2),
                f"caught_cut_{demand_cut:.0%}": bool(lower["drifted"]),
            }
        )
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    args = list(argv if argv is not None else sys.argv[1:])
    replay = "--replay" in args  # the series check replayed on the recorded days
    infer = "--infer-closures" in args  # a calendar read off a file without one
    args = [a for a in args if a not in ("--replay", "--infer-closures")]
    if not args:
        sys.stderr.write(__doc__ or "")
        return 2
    for path in args:
        capacity = 100 if Path(path).is_file() else None
        silver = readings(path, capacity=capacity)
        if infer:  # read again with the calendar, as ingest sets ``closed``
            closures = inferred_closures(silver)
            sys.stdout.write(
                f"inferred closures\n{closures.to_string(index=False)}\n\n"
            )
            silver = readings(path, capacity=capacity, closures=closures)
        gold = build_examples(silver, GoldParams())
        sys.stdout.write(f"{path}\n{difficulty(gold).to_string(index=False)}\n\n")
        levels = day_levels(silver)
        sys.stdout.write(f"day levels\n{levels.to_string(index=False)}\n\n")
        if replay:
            days = series_replay(gold)
            sys.stdout.write(
                f"series check, day by day\n{days.to_string(index=False)}\n"
            )
            caught = days.filter(like="caught").iloc[:, 0]
            sys.stdout.write(
                f"alarms on recorded days: {int(days['alarm'].sum())} of {len(days)}; "
                f"demand cut caught: {int(caught.sum())} of {len(days)}\n\n"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
