"""The online feature store as the service reads it: one SQLite file per use case.

A run publishes the use case's entity tables (``mlops_platform.online_store``) and
points ``online/<use_case>.json`` at the file. The manager follows that pointer as it
follows the production pointer: it reads the file, checks it (the use case, the
feature definitions' version, the tables the use case needs), loads it into memory
(``sqlite3`` deserialize: no local file, no disk on the lookup path) and swaps it in
with one reference assignment. A request reads the reference once, so it is answered
from one store; a store that fails the checks is refused and the old one keeps
serving. A lookup is a primary-key read of an in-memory table (docs/benchmarks.md).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass, field
from typing import Any


class OnlineStoreRefused(ValueError):
    """The file must not serve; the message says why."""


def pointer_path(use_case: str) -> str:
    return f"online/{use_case}.json"


def read_online_pointer(raw: bytes, where: str) -> dict[str, Any]:
    try:
        pointer = json.loads(raw)
    except ValueError as exc:
        raise OnlineStoreRefused(f"{where}: not JSON: {exc}") from exc
    if not isinstance(pointer, dict):
        raise OnlineStoreRefused(f"{where}: not a JSON object")
    for key in ("version", "path", "sha256"):
        if not isinstance(pointer.get(key), str):
            raise OnlineStoreRefused(f"{where}: field {key!r} missing or not a string")
    return dict(pointer)


@dataclass
class OnlineStore:
    """The tables of one published file, in memory, read-only."""

    use_case: str
    version: str
    meta: dict[str, Any]
    tables: dict[str, tuple[str, ...]]
    loaded_at: str
    _conn: sqlite3.Connection = field(repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        *,
        use_case: str,
        version: str,
        entities: tuple[str, ...],
        definitions: int,
        loaded_at: str,
    ) -> OnlineStore:
        conn = sqlite3.connect(":memory:", check_same_thread=False)
        try:
            conn.deserialize(data)
            meta = {
                k: json.loads(v) for k, v in conn.execute("SELECT key, value FROM meta")
            }
            tables = {
                name: tuple(
                    row[1] for row in conn.execute(f"PRAGMA table_info({name})")
                )
                for (name,) in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                )
            }
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise OnlineStoreRefused(f"not a readable store: {exc}") from exc
        problems = []
        if meta.get("use_case") != use_case:
            problems.append(f"it is {meta.get('use_case')!r}'s, not {use_case!r}'s")
        if meta.get("definitions") != definitions:
            problems.append(
                f"its features follow definitions version {meta.get('definitions')}, "
                f"this service computes version {definitions}"
            )
        missing = [e for e in entities if e not in tables]
        if missing:
            problems.append(f"tables {missing} missing")
        if problems:
            conn.close()
            raise OnlineStoreRefused("; ".join(problems))
        conn.execute("PRAGMA query_only = 1")
        return cls(use_case, version, meta, tables, loaded_at, conn)

    def get(self, table: str, key: str) -> dict[str, Any] | None:
        """The row of ``key`` in ``table`` (column -> value, NULL as None), or None."""
        columns = self.tables[table]
        with self._lock:  # one connection: serialise (a lookup takes microseconds)
            row = self._conn.execute(
                f"SELECT * FROM {table} WHERE key = ?",  # noqa: S608 - checked name
                (key,),
            ).fetchone()
        return None if row is None else dict(zip(columns, row, strict=True))

    def get_many(self, table: str, keys: list[str]) -> dict[str, dict[str, Any]]:
        """Rows of the distinct ``keys`` found in ``table``, by key."""
        columns = self.tables[table]
        unique = list(dict.fromkeys(keys))
        found: dict[str, dict[str, Any]] = {}
        with self._lock:
            for start in range(0, len(unique), 500):
                part = unique[start : start + 500]
                marks = ", ".join("?" * len(part))
                for row in self._conn.execute(
                    f"SELECT * FROM {table} WHERE key IN ({marks})",  # noqa: S608
                    part,
                ):
                    found[row[0]] = dict(zip(columns, row, strict=True))
        return found

    def describe(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "loaded_at": self.loaded_at,
            **{k: self.meta[k] for k in ("as_of_period", "rows") if k in self.meta},
        }
