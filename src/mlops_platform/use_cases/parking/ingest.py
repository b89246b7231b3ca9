"""Read car-park readings in either real format into one frame of raw strings.

- UCI "Parking Birmingham": ``SystemCodeNumber,Capacity,Occupancy,LastUpdated``
  (``YYYY-MM-DD HH:MM:SS``), many car parks per file. What the generator writes, one
  file per day (``readings_YYYYMMDD.csv``).
- The seed's ``parking_data.csv``: ``car_count,timestamp`` (``dd/mm/YYYY HH:MM:SS``),
  one car park per file and no capacity. The car park is named after the file, and
  its capacity comes from ``car_parks.csv`` (``SystemCodeNumber,Capacity``) in the same
  folder; a seed-format file without one stops the run naming the file.

The operator's closure calendar, ``closures.csv`` (``SystemCodeNumber,Date``, one
row per car park and day closed, ``YYYY-MM-DD``) in the same folder, sets each
reading's ``closed`` (0 without a calendar). A closed car park's readings are kept
in silver and gold, and left out of training, scoring and every drift test
(``UseCase.out_of_service_column``): a lot shut for works is not an ordinary day
and not a drop in demand. A calendar line that cannot be read stops the run naming
its line, column and value.

Every row keeps its file and line (``source_file``, ``source_row``) for quarantine;
files are read line by line (:mod:`mlops_platform.raw_csv`), and a file that cannot
be read (or whose format or capacity is unknown) is skipped and reported.
"""

from __future__ import annotations

import logging
from pathlib import PurePosixPath
from typing import Any

import pandas as pd

from mlops_platform.contracts import (
    INGEST_ERROR,
    SOURCE_FILE,
    SOURCE_ROW,
    SchemaViolation,
)
from mlops_platform.raw_csv import read_csv_bytes, read_each
from mlops_platform.use_cases.base import PartitionLoaders
from mlops_platform.use_cases.parking.schema import (
    CAPACITY,
    CAR_PARK,
    CLOSED,
    COUNT,
    ISO_FORMAT,
    TIMESTAMP,
)

logger = logging.getLogger(__name__)

CAR_PARKS_FILE = "car_parks"
CLOSURES_FILE = "closures"
CLOSURE_COLUMNS = ("SystemCodeNumber", "Date")
UCI_COLUMNS = ("SystemCodeNumber", "Capacity", "Occupancy", "LastUpdated")
SEED_COLUMNS = ("car_count", "timestamp")
SEED_TIME_FORMAT = "%d/%m/%Y %H:%M:%S"
UCI_TIME_FORMAT = ISO_FORMAT


def normalise_timestamps(raw: pd.Series, fmt: str) -> pd.Series:
    """``fmt`` -> ISO text; a value that does not parse keeps its raw text (the
    contract's pattern rule then quarantines it, naming the value)."""
    text = raw.astype(object).where(raw.notna(), "").astype(str).str.strip()
    parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    iso = parsed.dt.strftime(ISO_FORMAT)
    return iso.where(parsed.notna(), text)


def _format_of(frame: pd.DataFrame, source: str) -> str:
    cols = {c.strip() for c in frame.columns}
    if set(UCI_COLUMNS) <= cols:
        return "uci"
    if set(SEED_COLUMNS) <= cols:
        return "seed"
    raise SchemaViolation(
        source,
        None,
        f"neither the UCI format ({','.join(UCI_COLUMNS)}) nor the seed format "
        f"({','.join(SEED_COLUMNS)}); columns are {list(frame.columns)}",
    )


def _with_columns(
    frame: pd.DataFrame, source: str, columns: tuple[str, ...], what: str
) -> pd.DataFrame:
    """A reference file's frame (header names stripped), or the run stops naming
    the first missing column."""
    frame = frame.rename(columns=lambda c: c.strip())
    for col in columns:
        if col not in frame.columns:
            raise SchemaViolation(
                source, col, f"missing column in the {what} ({','.join(columns)})"
            )
    return frame


def read_capacities(frame: pd.DataFrame, source: str) -> dict[str, str]:
    frame = _with_columns(
        frame, source, ("SystemCodeNumber", "Capacity"), "car-park list"
    )
    return dict(
        zip(
            frame["SystemCodeNumber"].astype(str).str.strip(),
            frame["Capacity"].astype(str).str.strip(),
            strict=True,
        )
    )


def read_closures(frame: pd.DataFrame, source: str) -> set[tuple[str, str]]:
    """(car park, YYYY-MM-DD) pairs of the closure calendar; a line that is not one
    stops the run, naming the line, column and value."""
    frame = _with_columns(frame, source, CLOSURE_COLUMNS, "closure calendar")
    if frame[INGEST_ERROR].notna().any():
        bad = frame[frame[INGEST_ERROR].notna()].iloc[0]
        raise SchemaViolation(
            source, None, f"line {bad[SOURCE_ROW]}: {bad[INGEST_ERROR]}"
        )
    parks = frame["SystemCodeNumber"].astype(object).fillna("").astype(str).str.strip()
    text = frame["Date"].astype(object).fillna("").astype(str).str.strip()
    parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    for col, bad in (("SystemCodeNumber", parks == ""), ("Date", parsed.isna())):
        if bad.any():
            i = int(bad.to_numpy().argmax())
            raise SchemaViolation(
                source,
                col,
                f"line {frame[SOURCE_ROW].iloc[i]}: {text.iloc[i]!r} is not a date "
                "(YYYY-MM-DD)"
                if col == "Date"
                else f"line {frame[SOURCE_ROW].iloc[i]}: no car park",
            )
    return set(zip(parks, parsed.dt.strftime("%Y-%m-%d"), strict=True))


def _closed(frame: pd.DataFrame, closures: set[tuple[str, str]]) -> pd.Series:
    """1 where the reading's car park is closed on its day (ISO timestamps; one that
    did not parse is 0, and quarantined by the contract)."""
    if not closures:
        return pd.Series(0, index=frame.index, dtype="int64")
    day = frame[TIMESTAMP].astype(str).str.slice(0, 10)
    park = frame[CAR_PARK].astype(str).str.strip()
    keys = pd.MultiIndex.from_arrays([park, day])
    wanted = pd.MultiIndex.from_tuples(sorted(closures))
    return pd.Series(keys.isin(wanted).astype("int64"), index=frame.index)


def _read_one(
    name: str, data: bytes, capacities: dict[str, str]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    source = f"{name}.csv"
    table = read_csv_bytes(data, source)
    raw = table.frame
    kind = _format_of(raw.drop(columns=[SOURCE_FILE, SOURCE_ROW, INGEST_ERROR]), source)
    if kind == "uci":
        out = pd.DataFrame(
            {
                CAR_PARK: raw["SystemCodeNumber"],
                CAPACITY: raw["Capacity"],
                COUNT: raw["Occupancy"],
                TIMESTAMP: normalise_timestamps(raw["LastUpdated"], UCI_TIME_FORMAT),
            }
        )
    else:
        park = PurePosixPath(name).name
        if park not in capacities:
            raise SchemaViolation(
                source,
                "capacity",
                f"a seed-format file ({','.join(SEED_COLUMNS)}) has no capacity: "
                f"add '{park},<spaces>' to {CAR_PARKS_FILE}.csv "
                "(SystemCodeNumber,Capacity)",
            )
        out = pd.DataFrame(
            {
                CAR_PARK: park,
                CAPACITY: capacities[park],
                COUNT: raw["car_count"],
                TIMESTAMP: normalise_timestamps(raw["timestamp"], SEED_TIME_FORMAT),
            }
        )
    for col in (SOURCE_FILE, SOURCE_ROW, INGEST_ERROR):
        out[col] = raw[col]
    return out, {"format": kind, "lines": table.lines, "rows": len(out), **table.notes}


def read_readings(
    partitions: PartitionLoaders,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    capacities: dict[str, str] = {}
    if CAR_PARKS_FILE in partitions:
        source = f"{CAR_PARKS_FILE}.csv"
        table = read_csv_bytes(partitions[CAR_PARKS_FILE](), source)
        capacities = read_capacities(table.frame, source)
    closures: set[tuple[str, str]] = set()
    if CLOSURES_FILE in partitions:
        source = f"{CLOSURES_FILE}.csv"
        table = read_csv_bytes(partitions[CLOSURES_FILE](), source)
        closures = read_closures(table.frame, source)
    read, skipped = read_each(
        (n for n in sorted(partitions) if n not in (CAR_PARKS_FILE, CLOSURES_FILE)),
        lambda name: _read_one(name, partitions[name](), capacities),
        what="raw/parking (readings_YYYYMMDD.csv)",
    )
    frame = pd.concat([out for out, _ in read.values()], ignore_index=True)
    files = {f"{name}.csv": notes for name, (_, notes) in read.items()}
    for col in (CAR_PARK, CAPACITY, COUNT):
        frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
        frame[col] = frame[col].map(lambda v: v.strip() if isinstance(v, str) else v)
    frame[CLOSED] = _closed(frame, closures)
    report = {
        "files": files,
        "rows": len(frame),
        "car_parks_file": bool(capacities),
        "closure_days": len(closures),
        "closed_readings": int(frame[CLOSED].sum()),
        "skipped_files": skipped,
    }
    logger.info(
        "parking: %d readings from %d files (%d skipped)",
        len(frame),
        len(files),
        len(skipped),
    )
    return frame, report
