"""Read movie reviews in either real format into one frame of raw strings.

- Kaggle ``IMDB Dataset.csv``: ``review,sentiment`` (``positive``/``negative``), quoted,
  reviews spanning lines. What ``make run`` writes, one file per day
  (``reviews_YYYYMMDD.csv``).
- aclImdb: ``<batch>/{train,test}/{pos,neg}/<id>_<rating>.txt``, one review per file;
  ``unsup/`` (unlabelled) is counted and not read.

A batch's day comes from a ``YYYYMMDD`` (or ``YYYY-MM-DD``) in its file or top folder
name; a file without one stops the run naming it. Files are read as bytes: a record
with invalid UTF-8 or a malformed CSV record is kept (its bytes shown with
backslash escapes) with the reason in ``ingest_error`` and quarantined by the
contract, so one bad review never stops a batch and none is dropped silently.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

import pandas as pd

from mlops_platform.contracts import (
    INGEST_ERROR,
    SOURCE_FILE,
    SOURCE_ROW,
    SchemaViolation,
)
from mlops_platform.raw_csv import read_each
from mlops_platform.use_cases.sentiment.schema import (
    DAY,
    RATING,
    REVIEW,
    REVIEW_DIGEST,
    SENTIMENT,
    review_digest,
)

logger = logging.getLogger(__name__)

KAGGLE_COLUMNS = ("review", "sentiment")
ACLIMDB_FILE = re.compile(
    r"(?:^|/)(?P<split>train|test)/(?P<label>pos|neg)/(?P<id>\d+)_(?P<rating>\d+)\.txt$"
)
ACLIMDB_UNLABELLED = re.compile(r"(?:^|/)(train|test)/unsup/[^/]+\.txt$")
DAY_IN_NAME = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?!\d)")
LABELS = {"pos": "positive", "neg": "negative"}
# A CSV field may hold a whole (even an absurdly long) review: the contract, not the
# parser, refuses what is too long, naming the row.
csv.field_size_limit(2**30)


def day_of(name: str) -> str:
    top = PurePosixPath(name).parts[0]
    found = DAY_IN_NAME.search(top)
    if not found:
        raise SchemaViolation(
            name,
            None,
            "no day in the batch's name: name a file reviews_YYYYMMDD.csv or an "
            "aclImdb folder <name>_YYYYMMDD/",
        )
    return "".join(found.groups())


def decode(data: bytes) -> tuple[str, str | None]:
    """UTF-8 text (a BOM removed), or a readable form and what was wrong."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        bad = data[exc.start : exc.start + 4]
        return data.decode("utf-8", errors="backslashreplace"), (
            f"invalid UTF-8 at byte {exc.start} ({bad!r})"
        )


def read_kaggle_csv(data: bytes, source: str, day: str) -> pd.DataFrame:
    """One review per CSV record; ``source_row`` is the line the record starts on."""
    text = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    # surrogateescape keeps invalid bytes through the CSV parser; they are shown
    # with backslash escapes per record below.
    reader = csv.reader(
        io.StringIO(text.decode("utf-8", errors="surrogateescape"), newline="")
    )
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise SchemaViolation(source, None, "empty file (no header)") from None
    missing = [c for c in KAGGLE_COLUMNS if c not in header]
    if missing:
        raise SchemaViolation(
            source,
            missing[0],
            f"missing column: the Kaggle format is {','.join(KAGGLE_COLUMNS)}; "
            f"the header is {header}",
        )
    at = {c: header.index(c) for c in KAGGLE_COLUMNS}
    rows: list[dict[str, Any]] = []
    start = reader.line_num + 1
    try:
        for record in reader:
            problems: list[str] = []
            if len(record) != len(header):
                problems.append(
                    f"{len(record)} fields where the header has {len(header)}"
                )
            values = {}
            for col, i in at.items():
                raw = record[i] if i < len(record) else ""
                try:
                    raw.encode("utf-8")
                except UnicodeEncodeError as exc:
                    problems.append(f"{col}: invalid UTF-8 at character {exc.start}")
                    raw = raw.encode("utf-8", errors="surrogateescape").decode(
                        "utf-8", errors="backslashreplace"
                    )
                values[col] = raw
            if record or problems:
                rows.append(
                    {
                        REVIEW: values["review"],
                        SENTIMENT: values["sentiment"].strip(),
                        RATING: None,
                        DAY: day,
                        INGEST_ERROR: "; ".join(problems) or None,
                        SOURCE_FILE: source,
                        SOURCE_ROW: start,
                    }
                )
            start = reader.line_num + 1
    except csv.Error as exc:
        raise SchemaViolation(
            source, None, f"line {reader.line_num}: not CSV as written: {exc}"
        ) from None
    return pd.DataFrame(rows)


def read_aclimdb_file(data: bytes, source: str, day: str) -> dict[str, Any] | None:
    """One aclImdb review file; None for a file that is not a labelled review."""
    found = ACLIMDB_FILE.search(source)
    if not found:
        return None
    text, error = decode(data)
    return {
        REVIEW: text,
        SENTIMENT: LABELS[found["label"]],
        RATING: found["rating"],
        DAY: day,
        INGEST_ERROR: error,
        SOURCE_FILE: source,
        SOURCE_ROW: 1,
    }


def file_kind(name: str) -> str:
    """``csv`` or ``aclimdb`` for a review file this use case reads, else why not."""
    lower = name.lower()
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith(".txt") and ACLIMDB_FILE.search(name):
        return "aclimdb"
    if ACLIMDB_UNLABELLED.search(name):
        return "unlabelled aclImdb reviews (unsup/)"
    return "not a review file"


def read_reviews(
    partitions: dict[str, Callable[[], bytes]],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Every review file; a file that cannot be read is skipped and reported."""
    csv_names: list[str] = []
    tree_names: list[str] = []
    skipped: dict[str, int] = {}
    for name in sorted(partitions):
        kind = file_kind(name)
        if kind == "csv":
            csv_names.append(name)
        elif kind == "aclimdb":
            tree_names.append(name)
        else:
            skipped[kind] = skipped.get(kind, 0) + 1
    csv_set = set(csv_names)

    def read_one(name: str) -> Any:
        if name in csv_set:
            return read_kaggle_csv(partitions[name](), name, day_of(name))
        return read_aclimdb_file(partitions[name](), name, day_of(name))

    read, unreadable = read_each(
        [*csv_names, *tree_names],
        read_one,
        what="raw/sentiment (*.csv or an aclImdb tree)",
    )
    frames: list[pd.DataFrame] = []
    files: dict[str, Any] = {}
    tree_rows: list[dict[str, Any]] = []
    for name, got in read.items():
        if name in csv_set:
            frames.append(got)
            files[name] = {"format": "kaggle_csv", "rows": len(got)}
        else:
            tree_rows.append(got)
            top = PurePosixPath(name).parts[0]
            files.setdefault(top, {"format": "aclimdb", "rows": 0})["rows"] += 1
    if tree_rows:
        frames.append(pd.DataFrame(tree_rows))
    frame = pd.concat(frames, ignore_index=True)
    frame[REVIEW_DIGEST] = [review_digest(t) for t in frame[REVIEW]]
    report = {
        "files": files,
        "rows": len(frame),
        "not_read": skipped,
        "skipped_files": unreadable,
    }
    logger.info(
        "sentiment: %d reviews from %d files (%s not read, %d skipped)",
        len(frame),
        len(files),
        sum(skipped.values()),
        len(unreadable),
    )
    return frame, report
