"""Incremental tables in the lake: a ledger of processed raw files, tables of parts
committed by one manifest write (docs/incremental.md).

A :class:`LakeTable` is a folder of Parquet part files and ``_manifest.json``, which
names the current file of every part. The manifest is the commit point: a commit
writes the new part files under content-addressed names, then the manifest (one
rename locally, one PUT on S3, both atomic), then removes the files no part names
any more. A process killed before the manifest is written leaves the previous table
whole (the stray files are removed by the next commit); killed after it, the new one
(fault points ``lake.<table folder>.parts_written`` and ``.manifest_written``,
tests/test_incremental.py).
Readers only ever open files the manifest names.

Silver is a lake table with one part per raw file, and its manifest is the
**processed-batch ledger**: each part records the file's SHA-256, size and
modification stamp (mtime locally, ETag on S3). :class:`RawFilesDataset` compares
the raw folder with that ledger, so a run reads only new files and files whose
content changed (a re-delivered or corrected file), and drops the part of a file
that is gone. Gold is a lake table with one part per period, beside the use case's
state parts (retail: the customer states, the offline feature store).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import posixpath
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from kedro.io import AbstractDataset, DatasetError

from mlops_platform.faults import point
from mlops_platform.model_store import write_atomically

logger = logging.getLogger(__name__)

MANIFEST = "_manifest.json"
# Part name prefixes of a gold table: a period's rows, a state table's period.
GOLD = "gold/"
STATE = "state/"
# Each state table compacted to its latest row per key, after the newest period.
LATEST = "latest/"
PARTS = "parts"
FORMAT = 1


def storage_options(
    credentials: dict[str, Any] | None, fs_args: dict[str, Any] | None
) -> dict[str, Any]:
    return {**(fs_args or {}), **(credentials or {})}


def _is_local(fs: Any) -> bool:
    protocol = fs.protocol
    return "file" in (protocol if isinstance(protocol, tuple) else (protocol,))


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """``frame`` as Parquet, the same bytes for the same frame (no index, no time
    stamp in the file): the full-refresh test compares gold parts byte for byte."""
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer)
    return buffer.getvalue()


@dataclass
class TableUpdate:
    """What a commit changes: parts written (a frame, or ``None`` for a part with
    no rows), parts deleted, entries whose metadata alone changes, and table meta.
    ``replace_all``: every part not written is deleted (a full refresh)."""

    writes: dict[str, pd.DataFrame | None] = field(default_factory=dict)
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    deletes: set[str] = field(default_factory=set)
    meta: dict[str, Any] | None = None
    replace_all: bool = False
    # The version the update was planned on: the commit is refused if another run
    # committed since (None: no check).
    base_version: int | None = None

    @property
    def empty(self) -> bool:
        return not (
            self.writes
            or self.deletes
            or self.entries
            or self.meta is not None
            or self.replace_all
        )


class LakeTable:
    """A committed table: the manifest as read once (later commits by others are not
    seen), and reads of its parts."""

    def __init__(self, url: str, fs: Any, path: str) -> None:
        self.url, self._fs, self._path = url, fs, path
        manifest = self._read_manifest()
        self.version: int = manifest["version"]
        self.parts: dict[str, dict[str, Any]] = manifest["parts"]
        self.meta: dict[str, Any] = manifest["meta"]

    @classmethod
    def open(cls, url: str, **storage_options: Any) -> LakeTable:
        fs, path = fsspec.core.url_to_fs(url.rstrip("/"), **storage_options)
        return cls(url.rstrip("/"), fs, path)

    def _read_manifest(self) -> dict[str, Any]:
        target = posixpath.join(self._path, MANIFEST)
        try:
            with self._fs.open(target, "rb") as f:
                manifest = json.loads(f.read())
        except FileNotFoundError:
            return {"format": FORMAT, "version": 0, "parts": {}, "meta": {}}
        if manifest.get("format") != FORMAT:
            raise DatasetError(
                f"{self.url}/{MANIFEST}: format {manifest.get('format')!r}, this code "
                f"reads {FORMAT}"
            )
        return manifest

    def names(self, prefix: str = "") -> list[str]:
        return sorted(n for n in self.parts if n.startswith(prefix))

    def part_bytes(self, name: str) -> bytes | None:
        file = self.parts[name].get("file")
        if file is None:
            return None
        with self._fs.open(posixpath.join(self._path, file), "rb") as f:
            return bytes(f.read())

    def read(
        self,
        names: Iterable[str] | None = None,
        *,
        prefix: str = "",
        columns: list[str] | None = None,
    ) -> pd.DataFrame:
        """The parts ``names`` in that order (default: all under ``prefix``, in name
        order), concatenated; an empty frame if none has rows."""
        chosen = list(names) if names is not None else self.names(prefix)
        files = [
            posixpath.join(self._path, self.parts[n]["file"])
            for n in chosen
            if self.parts[n].get("file")
        ]
        if not files:
            return pd.DataFrame(columns=columns) if columns else pd.DataFrame()
        tables = []
        for path in files:
            with self._fs.open(path, "rb") as f:
                tables.append(pq.read_table(f, columns=columns))
        frames = [t.to_pandas() for t in tables]
        if len(frames) == 1:
            return frames[0]
        return pd.concat(frames, ignore_index=True)

    # ---- writing
    def commit(self, update: TableUpdate) -> LakeTable:
        """Apply ``update`` on top of this version; returns the new table.

        Refuses (and writes nothing) if another commit landed since this table was
        read: each run plans from the version it read."""
        current = self._read_manifest()
        if current["version"] != self.version:
            raise DatasetError(
                f"{self.url}: committed by another run since version {self.version} "
                f"(now {current['version']}); run again"
            )
        parts = {} if update.replace_all else dict(self.parts)
        for name in update.deletes:
            parts.pop(name, None)
        local = _is_local(self._fs)
        parts_dir = posixpath.join(self._path, PARTS)
        if local:
            self._fs.makedirs(parts_dir, exist_ok=True)
        for name, frame in sorted(update.writes.items()):
            entry = {**self.parts.get(name, {}), **update.entries.get(name, {})}
            if frame is None:
                entry.update(file=None, rows=0, bytes=0)
            else:
                data = parquet_bytes(frame)
                digest = hashlib.sha256(data).hexdigest()
                file = f"{PARTS}/{_safe(name)}-{digest[:20]}.parquet"
                with self._fs.open(posixpath.join(self._path, file), "wb") as f:
                    f.write(data)
                entry.update(file=file, rows=len(frame), bytes=len(data))
            parts[name] = entry
        for name, extra in update.entries.items():
            if name not in update.writes and name in parts:
                parts[name] = {**parts[name], **extra}
        point(f"lake.{posixpath.basename(self._path)}.parts_written")
        manifest = {
            "format": FORMAT,
            "version": self.version + 1,
            "parts": dict(sorted(parts.items())),
            "meta": self.meta if update.meta is None else update.meta,
        }
        self._write_manifest(manifest, local)
        point(f"lake.{posixpath.basename(self._path)}.manifest_written")
        committed = LakeTable(self.url, self._fs, self._path)
        committed.remove_unnamed()
        return committed

    def _write_manifest(self, manifest: dict[str, Any], local: bool) -> None:
        data = json.dumps(manifest, indent=1, sort_keys=False).encode()
        target = posixpath.join(self._path, MANIFEST)
        if local:
            write_atomically(target, data)  # synced, then one rename
        else:  # one PUT: readers see the old manifest or the new, never a mix
            with self._fs.open(target, "wb") as f:
                f.write(data)

    def remove_unnamed(self) -> None:
        """Remove part files no entry names (replaced ones, and those a commit killed
        before or after its manifest left). Only this table's own ``parts/`` folder
        is touched; one writer at a time (docs/incremental.md)."""
        parts, parts_dir = self.parts, posixpath.join(self._path, PARTS)
        named = {
            posixpath.join(self._path, p["file"])
            for p in parts.values()
            if p.get("file")
        }
        try:
            present = self._fs.ls(parts_dir, detail=False)
        except FileNotFoundError:
            return
        stale = [
            p
            for p in (x.rstrip("/") for x in present)
            if p.endswith(".parquet") and p not in named
        ]
        if stale:
            self._fs.rm(stale)
        if _is_local(self._fs):
            folder = os.path.dirname(posixpath.join(self._path, MANIFEST))
            for n in os.listdir(folder):  # write_atomically's, from a killed write
                if n.startswith(f"{MANIFEST}.") and n.endswith(".tmp"):
                    os.remove(os.path.join(folder, n))


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", name)[:120]


class LakeTableDataset(AbstractDataset[TableUpdate, LakeTable]):
    """A :class:`LakeTable` in the catalog: ``load`` gives the committed table (its
    manifest; parts are read on demand), ``save`` commits a :class:`TableUpdate`.

    ``read_only``: an entry that names a table another entry writes (the gold table
    as the previous run left it, an input of the node that writes the next).

    ``glue_database`` and ``glue_table``: after each save the table is published into
    that AWS Glue database for Athena (:mod:`mlops_platform.lake_catalog`); null
    ``glue_database`` (a local run) publishes nothing."""

    def __init__(
        self,
        path: str,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        read_only: bool = False,
        metadata: dict[str, Any] | None = None,
        glue_database: str | None = None,
        glue_table: str | None = None,
    ) -> None:
        self._url = path.rstrip("/")
        self._options = storage_options(credentials, fs_args)
        self._read_only = read_only
        self.metadata = metadata
        if glue_database and not glue_table:
            raise DatasetError(f"{self._url}: glue_database without a glue_table name")
        if glue_database and not self._url.startswith("s3://"):
            raise DatasetError(
                f"{self._url}: glue_database {glue_database!r} is set (MLOPS_GLUE_"
                "DATABASE), but Athena reads tables on S3 and this one is not: unset "
                "it for a local run"
            )
        self._glue = (glue_database, glue_table) if glue_database else None

    def load(self) -> LakeTable:
        return LakeTable.open(self._url, **self._options)

    def save(self, data: TableUpdate) -> None:
        if self._read_only:
            raise DatasetError(f"{self._url}: this catalog entry only reads the table")
        if not isinstance(data, TableUpdate):
            raise DatasetError(
                f"{self._url}: a lake table saves a TableUpdate, got "
                f"{type(data).__name__}"
            )
        table = self.load()
        if data.empty:  # nothing to commit; still clear what a killed commit left
            table.remove_unnamed()
        else:
            if data.base_version is not None and data.base_version != table.version:
                raise DatasetError(
                    f"{self._url}: planned on version {data.base_version}, now "
                    f"{table.version}: another run committed in between; run again"
                )
            table = table.commit(data)
        if self._glue is not None:  # also finishes what a killed publish left
            self._publish(table)

    def _publish(self, table: LakeTable) -> None:
        from mlops_platform.lake_catalog import LakeCatalog  # noqa: PLC0415

        database, name = self._glue  # type: ignore[misc]
        region = (self._options.get("client_kwargs") or {}).get("region_name")
        LakeCatalog(database, str(name), region=region).publish(table)

    def _exists(self) -> bool:
        return self.load().version > 0

    def _describe(self) -> dict[str, Any]:
        return {"path": self._url, "read_only": self._read_only, "glue": self._glue}


# ---- gold tables: a part per period, state parts per kind and period
def ordered(table: LakeTable, prefix: str) -> list[str]:
    """Part names under ``prefix`` in period order."""
    return sorted(table.names(prefix), key=lambda n: table.parts[n]["period"])


def read_gold(gold: LakeTable) -> pd.DataFrame:
    """Every gold row, period after period."""
    return gold.read(ordered(gold, GOLD))


def read_states(gold: LakeTable, before: Any = None) -> dict[str, pd.DataFrame] | None:
    """The use case's state tables (``state/<kind>/<period>`` parts), period after
    period, of the periods before ``before`` (all by default); None if there are
    none."""
    kinds: dict[str, list[str]] = {}
    for name in ordered(gold, STATE):
        if before is None or gold.parts[name]["period"] < before:
            kinds.setdefault(name[len(STATE) :].split("/")[0], []).append(name)
    return {kind: gold.read(names) for kind, names in kinds.items()} or None


def compact(frame: pd.DataFrame, key: str, period: str) -> pd.DataFrame:
    """The last value of each column per ``key`` over the periods (the last non-null,
    as the state tables are read), with the period it was last seen in; sorted by
    key, text columns as Python objects (the same bytes however the rows came)."""
    out = (
        frame.sort_values(period, kind="stable")
        .groupby(key, sort=True, as_index=False)
        .last()
    )
    for col in out.columns:
        if not pd.api.types.is_numeric_dtype(out[col]):
            values = out[col].astype(object)
            out[col] = values.where(values.notna(), None)
    return out


def read_latest(gold: LakeTable) -> dict[str, pd.DataFrame] | None:
    """The compacted state tables (``latest/<kind>``) if the table has them."""
    names = gold.names(LATEST)
    return {n[len(LATEST) :]: gold.read([n]) for n in names} or None


def states_before(
    gold: LakeTable, before: Any, kinds: Any
) -> dict[str, pd.DataFrame] | None:
    """The state tables as of the periods before ``before``: the compacted ones when
    every state part is older (a new period, the common case: one row per key read,
    however long the history), else the parts before it."""
    periods = [gold.parts[n]["period"] for n in gold.names(STATE)]
    latest = read_latest(gold)
    if latest and set(kinds) <= set(latest) and periods and max(periods) < before:
        return latest
    return read_states(gold, before)


# ---- raw files and the processed-batch ledger
def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class RawFiles(Mapping[str, Callable[[], bytes]]):
    """The raw files of a use case as ``{key: loader}`` (keys as Kedro's
    PartitionedDataset names them), each with its size and modification stamp, and
    the ledger of what earlier runs processed (the silver manifest's parts)."""

    def __init__(
        self,
        fs: Any,
        files: dict[str, dict[str, Any]],
        ledger: LakeTable,
        suffix: str = "",
    ) -> None:
        self._fs = fs
        self.stamps = files
        self.silver = ledger  # the table the ledger is the manifest of
        self.ledger = ledger.parts
        self.ledger_meta = ledger.meta
        self.ledger_version = ledger.version
        self.suffix = suffix

    def __getitem__(self, key: str) -> Callable[[], bytes]:
        path = self.stamps[key]["path"]

        def load() -> bytes:
            with self._fs.open(path, "rb") as f:
                return bytes(f.read())

        return load

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.stamps))

    def __len__(self) -> int:
        return len(self.stamps)

    def stamp(self, key: str) -> dict[str, Any]:
        """Size and modification stamp, as recorded in the ledger."""
        s = self.stamps[key]
        return {"size": s["size"], "modified": s["modified"]}

    def unchanged_by_stamp(self, key: str) -> bool:
        """The ledger holds this file with the same size and stamp: not read again
        (reading every file of a large lake to hash it would cost what the ledger
        saves). A stamp that differs leads to a hash; equal content is then kept."""
        entry = self.ledger.get(key)
        return entry is not None and all(
            entry.get(k) == v for k, v in self.stamp(key).items()
        )


class RawFilesDataset(AbstractDataset[None, RawFiles]):
    """Every file under ``path`` ending in ``filename_suffix`` (recursively), keyed
    as Kedro's PartitionedDataset keys them, with the ledger kept in the silver lake
    table at ``ledger`` (its manifest). Read-only: raw files are immutable inputs."""

    def __init__(
        self,
        path: str,
        ledger: str,
        filename_suffix: str = "",
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._url = path.rstrip("/")
        self._ledger = ledger.rstrip("/")
        self._suffix = filename_suffix
        self._options = storage_options(credentials, fs_args)
        self.metadata = metadata

    def load(self) -> RawFiles:
        fs, root = fsspec.core.url_to_fs(self._url, **self._options)
        files: dict[str, dict[str, Any]] = {}
        if fs.exists(root):
            for path, info in sorted(fs.find(root, detail=True).items()):
                if info.get("type") == "directory" or not path.endswith(self._suffix):
                    continue
                rel = posixpath.relpath(path, root)
                key = rel[: len(rel) - len(self._suffix)] if self._suffix else rel
                files[key] = {
                    "path": path,
                    "size": int(info.get("size") or 0),
                    "modified": _modified(info),
                }
        ledger = LakeTable.open(self._ledger, **self._options)
        return RawFiles(fs, files, ledger, self._suffix)

    def save(self, data: None) -> None:
        raise DatasetError(f"{self._url}: raw files are read, never written")

    def _exists(self) -> bool:
        fs, root = fsspec.core.url_to_fs(self._url, **self._options)
        return bool(fs.exists(root))

    def _describe(self) -> dict[str, Any]:
        return {"path": self._url, "ledger": self._ledger, "suffix": self._suffix}


def _modified(info: dict[str, Any]) -> str:
    """A stamp that changes when the object is rewritten: S3's ETag, else mtime."""
    for key in ("ETag", "etag"):
        if info.get(key):
            return f"etag:{str(info[key]).strip(chr(34))}"
    for key in ("mtime", "LastModified", "last_modified", "created"):
        if info.get(key) is not None:
            value = info[key]
            text = value.isoformat() if hasattr(value, "isoformat") else repr(value)
            return f"mtime:{text}"
    return "unknown"
