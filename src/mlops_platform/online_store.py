"""The online feature store: entity tables a run publishes for the service to look up.

A use case with online entities (retail: customers, products, stores) publishes them
after data_engineering, every run, whether or not a model is promoted: the features
must be as fresh as the data, not as the model. The tables go into one SQLite file in
the model store, beside the bundles, and a pointer names the current one::

    online/<use_case>.json                      the pointer (replaced atomically)
    features/<use_case>/<sha256[:16]>.sqlite    one immutable file per content

The file is complete before the pointer names it (written, then the pointer), so a
reader never sees half a store; a crash between the two leaves an unreferenced file,
which the next publish removes with every file but the current one and the one
before it (``tests/test_online_store.py`` kills a publish at each step). The service
reads the pointer, loads the file into memory (``sqlite3`` deserialize) and swaps it
in as it does a model (``mlops_serving.online``). Why a file and not DynamoDB or
SageMaker Feature Store: docs/online_features.md.

Each table has a text primary key ``key`` and typed columns (REAL or TEXT, NULL for
missing); ``meta`` holds what the service checks before it uses a store: the use case,
the definitions' version, the newest period and hour of the data, row counts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import posixpath
import sqlite3
import tempfile
from collections.abc import Mapping
from typing import Any

import fsspec
import numpy as np
import pandas as pd

from mlops_platform.faults import point
from mlops_platform.model_store import write_atomically

logger = logging.getLogger(__name__)

POINTER_DIR = "online"
FILES_DIR = "features"


def pointer_relative(use_case: str) -> str:
    return f"{POINTER_DIR}/{use_case}.json"


def build_sqlite(tables: Mapping[str, pd.DataFrame], meta: Mapping[str, Any]) -> bytes:
    """One SQLite file holding ``tables`` (each indexed by its text key) and ``meta``.
    Same tables and meta give the same bytes (rows in key order)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "store.sqlite")
        conn = sqlite3.connect(path)
        try:
            conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
            conn.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [(k, json.dumps(v, sort_keys=True)) for k, v in sorted(meta.items())],
            )
            for name, frame in tables.items():
                _write_table(conn, name, frame)
            conn.commit()
        finally:
            conn.close()
        with open(path, "rb") as f:
            return f.read()


def _write_table(conn: sqlite3.Connection, name: str, frame: pd.DataFrame) -> None:
    if not name.isidentifier():
        raise ValueError(f"online table name {name!r} is not an identifier")
    if not frame.index.is_unique:
        dup = frame.index[frame.index.duplicated()][0]
        raise ValueError(f"online table {name}: key {dup!r} appears more than once")
    frame = frame.sort_index()
    kinds = {
        c: "REAL" if pd.api.types.is_numeric_dtype(frame[c]) else "TEXT"
        for c in frame.columns
    }
    for c in frame.columns:
        if not str(c).isidentifier():
            raise ValueError(f"online table {name}: column {c!r} is not an identifier")
    cols = ", ".join(f"{c} {k}" for c, k in kinds.items())
    conn.execute(f"CREATE TABLE {name} (key TEXT PRIMARY KEY, {cols}) WITHOUT ROWID")
    columns: list[list[Any]] = [frame.index.astype(str).tolist()]
    for c, kind in kinds.items():
        values = frame[c]
        if kind == "REAL":
            arr = values.to_numpy(dtype="float64", na_value=np.nan)
            columns.append([None if np.isnan(v) else v for v in arr.tolist()])
        else:
            columns.append([None if pd.isna(v) else str(v) for v in values.tolist()])
    marks = ", ".join("?" * (len(kinds) + 1))
    insert = f"INSERT INTO {name} VALUES ({marks})"  # noqa: S608 - checked names
    conn.executemany(insert, zip(*columns, strict=True))


class OnlineStoreWriter:
    """Publishes one use case's online store under a model store root (a folder or
    an S3 prefix, through fsspec as the model store does)."""

    def __init__(
        self, root: str, use_case: str, storage_options: dict[str, Any] | None = None
    ) -> None:
        self.root = root.rstrip("/")
        self.use_case = use_case
        self.fs, self._root_path = fsspec.core.url_to_fs(
            self.root, **(storage_options or {})
        )
        protocol = self.fs.protocol
        self.local = "file" in (
            protocol if isinstance(protocol, tuple) else (protocol,)
        )

    def _p(self, relative: str) -> str:
        return posixpath.join(self._root_path, relative)

    def read_pointer(self) -> dict[str, Any] | None:
        path = self._p(pointer_relative(self.use_case))
        if not self.fs.exists(path):
            return None
        with self.fs.open(path, "rb") as f:
            return dict(json.loads(f.read()))

    def read(self, relative: str) -> bytes:
        with self.fs.open(self._p(relative), "rb") as f:
            return bytes(f.read())

    def publish(self, data: bytes, meta: Mapping[str, Any]) -> dict[str, Any]:
        """Write the file, then point at it; an unchanged store keeps its pointer."""
        digest = hashlib.sha256(data).hexdigest()
        relative = f"{FILES_DIR}/{self.use_case}/{digest[:16]}.sqlite"
        pointer = {
            "use_case": self.use_case,
            "version": digest[:16],
            "path": relative,
            "sha256": digest,
            "bytes": len(data),
            **{
                k: meta[k] for k in ("definitions", "as_of_period", "rows") if k in meta
            },
        }
        current = self.read_pointer()
        if current and current.get("sha256") == digest:
            logger.info("%s: online store unchanged (%s)", self.use_case, digest[:16])
            return current
        self._put(relative, data)
        point("online_store.file_written")
        self._put(pointer_relative(self.use_case), _json(pointer))
        point("online_store.pointer_written")
        keep = {relative} | ({current["path"]} if current else set())
        self._prune(keep)
        logger.info(
            "%s: online store %s published (%d bytes, %s)",
            self.use_case,
            digest[:16],
            len(data),
            pointer.get("rows"),
        )
        return pointer

    def _put(self, relative: str, data: bytes) -> None:
        path = self._p(relative)
        if self.local:
            write_atomically(path, data)
        else:
            self.fs.pipe_file(path, data)  # one PUT: the object appears whole

    def _prune(self, keep: set[str]) -> None:
        """Everything in the use case's folder but the file the pointer names and
        the one before it (a reader may be downloading it): older files, files a
        killed publish wrote but never pointed at, temporary files."""
        folder = self._p(f"{FILES_DIR}/{self.use_case}")
        kept = {self._p(k).rstrip("/") for k in keep}
        try:
            names = self.fs.ls(folder, detail=False)
        except FileNotFoundError:
            return
        for name in names:
            if name.rstrip("/") not in kept and "/" + name.lstrip("/") not in kept:
                self.fs.rm_file(name)


def _json(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode()
