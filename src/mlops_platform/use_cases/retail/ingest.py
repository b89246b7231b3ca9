"""Read LGSR files, real or generated, into one frame of raw strings.

Handles the quirks of circulating real copies: ``seg_1``/``seg_2`` in place of the
customer segment columns, stray extra columns, ``Non Food`` for ``Nonfood``, and
BASKET_ID saved in scientific notation (precision lost), in which case basket identity
is rebuilt from the customer, date, hour, store and basket attributes.
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
from mlops_platform.use_cases.retail.schema import (
    COLUMN_ALIASES,
    COLUMNS,
    VALUE_ALIASES,
)

logger = logging.getLogger(__name__)

BASKET_KEY = "BASKET_KEY"
BASKET_KEY_REBUILT = "BASKET_KEY_REBUILT"
# What identifies a basket when BASKET_ID lost its digits.
BASKET_IDENTITY = (
    "CUST_CODE",
    "SHOP_DATE",
    "SHOP_HOUR",
    "STORE_CODE",
    "BASKET_SIZE",
    "BASKET_TYPE",
    "BASKET_DOMINANT_MISSION",
    "BASKET_PRICE_SENSITIVITY",
    "BASKET_ID",
)
TIME_TABLE = "time"


def is_lossy_basket_id(values: pd.Series) -> pd.Series:
    """True where BASKET_ID is in scientific notation or decimal (digits lost)."""
    text = values.astype("str")
    return text.str.contains(r"[eE.]", regex=True, na=False)


def rebuild_basket_key(frame: pd.DataFrame) -> pd.Series:
    """A stable basket key from the columns that identify a basket."""
    parts = frame[list(BASKET_IDENTITY)].astype("str").fillna("")
    hashed = pd.util.hash_pandas_object(parts, index=False)  # fixed key: stable
    return "R" + hashed.astype("str")


def normalise_file(frame: pd.DataFrame, source: str) -> tuple[pd.DataFrame, dict]:
    """Apply the real-file quirks to one file's rows (as :func:`read_csv_bytes` gives
    them, with their lines); raise on a missing column."""
    notes: dict[str, Any] = {}
    renames = {
        old: new
        for old, new in COLUMN_ALIASES.items()
        if old in frame.columns and new not in frame.columns
    }
    if renames:
        frame = frame.rename(columns=renames)
        notes["renamed_columns"] = renames
    kept = (SOURCE_FILE, SOURCE_ROW, INGEST_ERROR)
    stray = [c for c in frame.columns if c not in COLUMNS and c not in kept]
    if stray:
        notes["ignored_columns"] = stray
    for col in COLUMNS:
        if col not in frame.columns:
            raise SchemaViolation(
                source, col, "missing column (an LGSR transaction file has 22 columns)"
            )
    frame = frame[[*COLUMNS, *(c for c in kept if c in frame.columns)]].copy()
    for col, mapping in VALUE_ALIASES.items():
        hits = frame[col].isin(list(mapping))
        if hits.any():
            frame[col] = frame[col].replace(mapping)
            notes.setdefault("normalised_values", {})[col] = int(hits.sum())
    lossy = is_lossy_basket_id(frame["BASKET_ID"])
    frame[BASKET_KEY_REBUILT] = lossy.to_numpy()
    key = frame["BASKET_ID"].astype("str")
    if lossy.any():
        key = key.where(~lossy, rebuild_basket_key(frame.loc[lossy]))
        notes["basket_ids_rebuilt"] = int(lossy.sum())
    frame[BASKET_KEY] = key
    return frame, notes


def read_lgsr(partitions: PartitionLoaders) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Concatenate every transaction file (any CSV but ``time``), each file's bytes
    read line by line (:mod:`mlops_platform.raw_csv`); a file that cannot be read is
    skipped and reported."""
    report: dict[str, Any] = {"files": {}, "time_table": None}
    names = []
    for key in sorted(partitions):
        if PurePosixPath(key).name == TIME_TABLE:
            report["time_table"] = key
        else:
            names.append(key)

    def read_one(key: str) -> tuple[pd.DataFrame, dict[str, Any]]:
        source = key if key.endswith(".csv") else f"{key}.csv"
        table = read_csv_bytes(partitions[key](), source)
        frame, notes = normalise_file(table.frame, source)
        return frame, {"lines": table.lines, "rows": len(frame), **table.notes, **notes}

    read, skipped = read_each(
        names, read_one, what="raw/retail (transactions_YYYYWW.csv)"
    )
    frames = []
    for key, (frame, notes) in read.items():
        report["files"][key if key.endswith(".csv") else f"{key}.csv"] = notes
        frames.append(frame)
        logger.info("read %s: %d lines", key, len(frame))
    report["skipped_files"] = skipped
    out = pd.concat(frames, ignore_index=True)
    report["rows"] = len(out)
    return out, report
