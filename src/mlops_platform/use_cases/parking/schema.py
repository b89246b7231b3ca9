"""Car-park occupancy readings: the parking contract.

Both real formats are read into one canonical record (``ingest.py``): the seed's
``parking_data.csv`` (``car_count,timestamp``, ``dd/mm/YYYY HH:MM:SS``, one car park
per file) and the UCI Birmingham file (``SystemCodeNumber,Capacity,Occupancy,
LastUpdated``). Timestamps are normalised to ``YYYY-MM-DD HH:MM:SS`` at ingest; a value
that cannot be parsed keeps its raw text and is quarantined by the pattern rule.
``closed`` comes from the operator's closure calendar (``ingest.py``), not from the
readings.
"""

from __future__ import annotations

import pandas as pd

from mlops_platform.contracts import (
    SOURCE_FILE,
    SOURCE_ROW,
    ColumnSpec,
    DataContract,
    RowCheck,
)

CAR_PARK = "car_park"
CAPACITY = "capacity"
COUNT = "count"
TIMESTAMP = "timestamp"
CLOSED = "closed"
ISO_FORMAT = "%Y-%m-%d %H:%M:%S"


def count_above_capacity(rows: pd.DataFrame) -> pd.Series:
    over = rows[COUNT] > rows[CAPACITY]
    return pd.Series(
        [
            f"count {int(c)} above capacity {int(k)}" if o else ""
            for c, k, o in zip(rows[COUNT], rows[CAPACITY], over, strict=True)
        ],
        index=rows.index,
        dtype=object,
    )


def duplicate_reading(rows: pd.DataFrame) -> pd.Series:
    """Every reading of a car park at a time already read: the first one stays."""
    key = [CAR_PARK, TIMESTAMP]
    dup = rows.duplicated(key, keep="first")
    out = pd.Series("", index=rows.index, dtype=object)
    if not dup.any():
        return out
    first = rows[~rows.duplicated(key, keep="first")].set_index(key)
    for idx in rows.index[dup]:
        k = (rows.at[idx, CAR_PARK], rows.at[idx, TIMESTAMP])
        where = first.loc[k]
        out[idx] = (
            f"{k[0]} already read at {k[1]} ({where[SOURCE_FILE]} line "
            f"{where[SOURCE_ROW]})"
        )
    return out


PARKING_CONTRACT = DataContract(
    name="parking_readings",
    description="One occupancy reading of one car park (either format, after ingest).",
    columns=(
        ColumnSpec(
            CAR_PARK,
            "str",
            pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\- ]{0,63}$",
            description="car park code (SystemCodeNumber, or the file name)",
        ),
        ColumnSpec(
            CAPACITY, "int", min_value=1, max_value=100_000, description="spaces"
        ),
        ColumnSpec(
            COUNT,
            "int",
            min_value=0,
            max_value=100_000,
            description="cars counted (car_count / Occupancy)",
        ),
        ColumnSpec(
            TIMESTAMP,
            "str",
            pattern=r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$",
            description="reading time, local, YYYY-MM-DD HH:MM:SS",
        ),
        ColumnSpec(
            CLOSED,
            "int",
            min_value=0,
            max_value=1,
            description="1 when the operator's calendar (closures.csv) has the car "
            "park closed on the reading's day, else 0 (set at ingest)",
        ),
    ),
    row_checks=(
        RowCheck(
            "count_above_capacity",
            "a count above the car park's capacity (the UCI file has some): "
            "a sensor error, never a forecasting target",
            count_above_capacity,
        ),
        RowCheck(
            "duplicate_reading",
            "a second reading of the same car park at the same time",
            duplicate_reading,
            across_files=(CAR_PARK, TIMESTAMP, SOURCE_FILE, SOURCE_ROW),
        ),
    ),
)
