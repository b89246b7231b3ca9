"""Read a raw CSV file's bytes into rows of strings without losing a line.

Raw tables (LGSR weeks, car-park readings) hold one record per line. A bad line must
not stop its batch, and no line may disappear: every data line of a readable file
becomes exactly one row, with its true line number in ``source_row`` (the header is
line 1; blank lines are counted, not read) and, when it could not be read as written,
the reason in ``ingest_error``, which the contract turns into a quarantine reason:

- a line with too few or too many fields (a truncated last line, a stray comma): its
  fields are kept as far as they go, ``23 fields where the header has 22``;
- a line with bytes that are not UTF-8: kept with those bytes shown as ``\\xff``,
  naming the column and the byte.

A file that cannot be read at all (empty, no header, a header that is not UTF-8 or
names a column twice, records that span lines) raises :class:`UnreadableFile`; the
use case skips it and reports it (:func:`read_each`), and the run says so in its
summary.

The common case costs one multi-threaded pyarrow parse. Only a file with a blank,
malformed or non-UTF-8 line is parsed again on one thread, which is when pyarrow
reports each bad line's number.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from mlops_platform.contracts import (
    INGEST_ERROR,
    SOURCE_FILE,
    SOURCE_ROW,
    SchemaViolation,
)

logger = logging.getLogger(__name__)

BOM = b"\xef\xbb\xbf"
T = TypeVar("T")


class UnreadableFile(SchemaViolation):
    """A whole file that cannot be read as a table: skipped and reported."""


@dataclass
class RawTable:
    """Rows of strings (``None`` for an empty field) with their file and line."""

    frame: pd.DataFrame
    lines: int  # data lines: rows + blank lines
    blank_lines: int = 0
    malformed_lines: list[int] = field(default_factory=list)
    invalid_utf8_lines: list[int] = field(default_factory=list)

    @property
    def notes(self) -> dict[str, Any]:
        """What a file report shows (only what happened)."""
        out: dict[str, Any] = {}
        if self.blank_lines:
            out["blank_lines"] = self.blank_lines
        if self.malformed_lines:
            out["malformed_lines"] = _head(self.malformed_lines)
        if self.invalid_utf8_lines:
            out["invalid_utf8_lines"] = _head(self.invalid_utf8_lines)
        return out


def _head(lines: list[int], shown: int = 20) -> dict[str, Any]:
    return {"count": len(lines), "first": lines[:shown]}


def _header(data: bytes, source: str) -> list[str]:
    end = data.find(b"\n")
    line = (data if end < 0 else data[:end]).rstrip(b"\r")
    if not data.strip():
        raise UnreadableFile(source, None, "empty file (no header)")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            source, None, f"line 1: the header is not UTF-8 (byte {exc.start})"
        ) from None
    names = [n.strip() for n in next(csv.reader([text]))]
    if not any(names):
        raise UnreadableFile(source, None, "line 1: the header is empty")
    seen: set[str] = set()
    for n in names:
        if not n or n in seen:
            what = "a column twice" if n else "an empty column"
            raise UnreadableFile(
                source, n or None, f"line 1: the header names {what} ({text!r})"
            )
        seen.add(n)
    return names


def _options(
    names: list[str], threads: bool, keep_blank: bool, handler: Callable[[Any], str]
) -> dict[str, Any]:
    return {
        "read_options": pacsv.ReadOptions(
            column_names=names, skip_rows=1, use_threads=threads, block_size=1 << 24
        ),
        "parse_options": pacsv.ParseOptions(
            invalid_row_handler=handler, ignore_empty_lines=not keep_blank
        ),
        "convert_options": pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=True,
            null_values=[""],
        ),
    }


def _to_frame(table: pa.Table) -> pd.DataFrame:
    # pandas' own string dtype (Arrow-backed in pandas 3, as pandas.read_csv with
    # dtype=str gives): about a fifth of the memory of Python str objects
    return table.to_pandas(
        types_mapper={pa.string(): pd.StringDtype(na_value=np.nan)}.get
    )


def read_csv_bytes(data: bytes, source: str) -> RawTable:
    """Every data line of ``data`` as one row; see the module docstring."""
    if data.startswith(BOM):
        data = data[len(BOM) :]
    names = _header(data, source)
    bad_rows: list[str] = []

    def count(row: Any) -> str:
        bad_rows.append(row.text)
        return "skip"

    blank = b"\n\n" in data or b"\n\r\n" in data
    if not blank:
        try:
            table = pacsv.read_csv(
                io.BytesIO(data), **_options(names, True, False, count)
            )
        except pa.ArrowInvalid:
            table = None  # bytes that are not UTF-8: the careful path names them
        lines = data.count(b"\n") + (not data.endswith(b"\n")) - 1
        if table is not None and not bad_rows and table.num_rows == lines:
            frame = _to_frame(table)
            frame[SOURCE_FILE] = source
            frame[SOURCE_ROW] = np.arange(2, len(frame) + 2, dtype=np.int64)
            frame[INGEST_ERROR] = None
            return RawTable(frame, lines=lines)
    return _read_carefully(data, source, names)


def _read_carefully(data: bytes, source: str, names: list[str]) -> RawTable:
    """One thread, blank lines kept as rows: each row's line is then known."""
    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()  # the newline that ends the last line
    errors: dict[int, str] = {}
    utf8_lines: list[int] = []
    repaired = False
    for i, line in enumerate(raw_lines[1:], start=2):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            column = line[: exc.start].count(b",")
            name = names[column] if column < len(names) else f"field {column + 1}"
            bad = line[exc.start : exc.start + 4]
            errors[i] = (
                f"invalid UTF-8 in column '{name}' at byte {exc.start + 1} of the "
                f"line ({bad!r})"
            )
            utf8_lines.append(i)
            raw_lines[i - 1] = line.decode("utf-8", errors="backslashreplace").encode()
            repaired = True
    if repaired:
        data = b"\n".join(raw_lines) + b"\n"

    malformed: dict[int, str] = {}
    expected = len(names)

    def keep(row: Any) -> str:
        malformed[int(row.number)] = row.text
        return "skip"

    table = pacsv.read_csv(io.BytesIO(data), **_options(names, False, True, keep))
    frame = _to_frame(table)
    line_numbers = np.array(
        [n for n in range(2, len(raw_lines) + 1) if n not in malformed], dtype=np.int64
    )
    if len(line_numbers) != len(frame):
        raise UnreadableFile(
            source,
            None,
            f"{len(frame) + len(malformed)} records in {len(raw_lines) - 1} lines: "
            "records span lines (quoted line breaks, or a carriage return inside "
            "a line); these files hold one record "
            "per line",
        )
    frame[SOURCE_FILE] = source
    frame[SOURCE_ROW] = line_numbers
    frame[INGEST_ERROR] = [errors.get(int(n)) for n in line_numbers]

    is_blank = np.array(
        [not raw_lines[n - 1].strip(b"\r") for n in line_numbers], dtype=bool
    )
    frame = frame.loc[~is_blank]
    if malformed:
        extra = pd.DataFrame(
            [_malformed_row(names, n, text, expected) for n, text in malformed.items()]
        )
        extra[SOURCE_FILE] = source
        for n in list(malformed):
            if n in errors:  # both: keep both reasons
                extra.loc[extra[SOURCE_ROW] == n, INGEST_ERROR] += f"; {errors[n]}"
        frame = pd.concat([frame, extra], ignore_index=True)
        frame = frame.sort_values(SOURCE_ROW, kind="stable")
    frame = frame.reset_index(drop=True)
    frame[SOURCE_ROW] = frame[SOURCE_ROW].astype(np.int64)
    return RawTable(
        frame,
        lines=len(raw_lines) - 1,
        blank_lines=int(is_blank.sum()),
        malformed_lines=sorted(malformed),
        invalid_utf8_lines=utf8_lines,
    )


def _malformed_row(
    names: list[str], number: int, text: str, expected: int
) -> dict[str, Any]:
    try:
        fields = next(csv.reader([text]))
    except (csv.Error, StopIteration):
        fields = text.split(",")
    values = [f if f != "" else None for f in fields[:expected]]
    values += [None] * (expected - len(values))
    return {
        **dict(zip(names, values, strict=True)),
        SOURCE_ROW: number,
        INGEST_ERROR: f"{len(fields)} fields where the header has {expected}",
    }


def read_each(
    names: Iterable[str], read: Callable[[str], T], what: str
) -> tuple[dict[str, T], dict[str, str]]:
    """``read(name)`` for every name; a file that raises :class:`SchemaViolation`
    (unreadable, not this use case's format) is skipped and reported, not fatal.

    Returns what was read and the skipped files with their reasons. If nothing could
    be read, the run stops naming every file and why (``what`` says what was
    expected).
    """
    out: dict[str, T] = {}
    skipped: dict[str, str] = {}
    names = list(names)
    for name in names:
        try:
            out[name] = read(name)
        except SchemaViolation as exc:
            skipped[exc.source] = str(exc)
            logger.warning("skipped %s", exc)
    if not out:
        detail = "; ".join(skipped.values()) if skipped else "there are none"
        raise SchemaViolation(what, None, f"no readable files: {detail}")
    return out, skipped
