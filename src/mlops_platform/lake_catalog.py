"""The lake tables in the AWS Glue Data Catalog, so Athena can query them.

A lake table's folder holds more Parquet files than its current version: a commit
writes the new part files before the manifest names them, and removes replaced ones
after (a kill in between leaves them until the next commit). A Glue table over the
``parts/`` folder would count those rows twice. So each table is published as Athena
*symlink* tables: for every view of the table, one small manifest per partition that
lists the S3 files of the current parts (``SymlinkTextInputFormat`` over Parquet), and
the Glue partitions point at those manifests.

Views follow the lake's part naming (:mod:`mlops_platform.lake`), the same for every
use case:

* a silver table (one part per raw file): one view, the table itself, partitioned by
  ``source_part`` (the raw file);
* a gold table: ``gold`` (one part per period, partitioned by ``period``), one
  ``state_<kind>`` view per state table (partitioned by ``period``) and one
  unpartitioned ``latest_<kind>`` view per compacted state table.

The Glue table of a view is the dataset's ``glue_table`` (e.g. ``retail_silver``, or
``retail`` for a gold table) plus ``_<view>`` when the view has a name (``retail_gold``,
``retail_state_customers``, ``retail_latest_customers``). Its columns come from the
Parquet schema of the view's newest part; each partition carries its own part's
columns.

Publishing follows the committed manifest and is idempotent: a manifest is rewritten
when the file it lists changed (an index, ``_symlink/_published.json``, written last,
records what each lists), partitions are created and deleted until Glue agrees with
the table. A process killed while publishing leaves Athena the previous version of a
partition or the new one, never a mix, and the next commit finishes the job.
"""

from __future__ import annotations

import json
import logging
import posixpath
import re
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from mlops_platform.faults import point
from mlops_platform.lake import GOLD, LATEST, PARTS, STATE, _safe

logger = logging.getLogger(__name__)

SYMLINK = "_symlink"
INDEX = "_published.json"
INPUT_FORMAT = "org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat"
OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
# Glue's name rules: lowercase letters, digits and underscores (Athena's too).
_GLUE_NAME = re.compile(r"[a-z0-9_]{1,255}")


class CatalogError(RuntimeError):
    """The lake table cannot be described in Glue (a name, a column type)."""


def view_of(part: str) -> tuple[str, str, str | None]:
    """(view, partition column, partition value) of a part name; the column is ""
    and the value None for an unpartitioned view."""
    if part.startswith(GOLD):
        return "gold", "period", part[len(GOLD) :]
    if part.startswith(STATE):
        kind, _, period = part[len(STATE) :].partition("/")
        return f"state_{kind}", "period", period
    if part.startswith(LATEST):
        return f"latest_{part[len(LATEST) :]}", "", None
    return "", "source_part", part


def hive_type(arrow: pa.DataType, column: str) -> str:
    """The Hive (Glue/Athena) type of a Parquet column."""
    if pa.types.is_dictionary(arrow):
        return hive_type(arrow.value_type, column)
    simple = [
        (pa.types.is_boolean, "boolean"), (pa.types.is_int8, "tinyint"),
        (pa.types.is_int16, "smallint"), (pa.types.is_int32, "int"),
        (pa.types.is_int64, "bigint"), (pa.types.is_uint8, "smallint"),
        (pa.types.is_uint16, "int"), (pa.types.is_uint32, "bigint"),
        (pa.types.is_float32, "float"), (pa.types.is_float64, "double"),
        (pa.types.is_string, "string"), (pa.types.is_large_string, "string"),
        (pa.types.is_date32, "date"), (pa.types.is_timestamp, "timestamp"),
        (pa.types.is_binary, "binary"), (pa.types.is_large_binary, "binary"),
    ]  # fmt: skip
    for test, name in simple:
        if test(arrow):
            return name
    if pa.types.is_decimal(arrow):
        return f"decimal({arrow.precision},{arrow.scale})"
    raise CatalogError(f"column {column!r}: no Glue type for Parquet type {arrow}")


def glue_name(name: str) -> str:
    out = re.sub(r"[^a-z0-9_]", "_", name.lower())
    if not _GLUE_NAME.fullmatch(out):
        raise CatalogError(f"{name!r} cannot be a Glue table or column name")
    return out


def columns_of(schema: pa.Schema) -> list[dict[str, str]]:
    return [
        {"Name": glue_name(f.name), "Type": hive_type(f.type, f.name)}
        for f in schema
        if not f.name.startswith("__index_level_")
    ]


class LakeCatalog:
    """Publishes one lake table's views into a Glue database."""

    def __init__(
        self, database: str, table: str, client: Any = None, region: str | None = None
    ) -> None:
        self.database, self.table = database, glue_name(table)
        self._client, self._region = client, region

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # noqa: PLC0415

            self._client = boto3.client("glue", region_name=self._region)
        return self._client

    # ---- what the table should look like
    @staticmethod
    def _views(table: Any) -> dict[str, tuple[str, dict[str | None, str]]]:
        """view -> (partition column, partition value -> the part's file inside the
        table folder); parts without rows are left out (nothing to read)."""
        out: dict[str, tuple[str, dict[str | None, str]]] = {}
        for name, entry in table.parts.items():
            if entry.get("file"):
                view, column, value = view_of(name)
                out.setdefault(view, (column, {}))[1][value] = entry["file"]
        return out

    def _glue_table(self, view: str) -> str:
        return glue_name(f"{self.table}_{view}" if view else self.table)

    # ---- publishing
    def publish(self, table: Any) -> list[str]:
        """Make the symlink manifests and Glue agree with ``table`` (a committed
        :class:`~mlops_platform.lake.LakeTable` on S3); returns what changed."""
        if not table.url.startswith("s3://"):
            raise CatalogError(
                f"{table.url}: Athena reads tables on S3; this one is not (the Glue "
                "catalog is for the aws environment's lake)"
            )
        fs, root = table._fs, table._path
        # another process (a killed run, the previous step) may have written here:
        # s3fs's listing cache would not know its files
        for folder in ("", PARTS, SYMLINK):
            fs.invalidate_cache(posixpath.join(root, folder).rstrip("/"))
        index_path = posixpath.join(root, SYMLINK, INDEX)
        try:
            with fs.open(index_path, "rb") as f:
                published: dict[str, str] = json.loads(f.read())
        except FileNotFoundError:
            published = {}
        views = self._views(table)
        changes: list[str] = []
        wanted: dict[str, str] = {}
        for view, (column, parts) in sorted(views.items()):
            for value, file in sorted(parts.items(), key=lambda kv: str(kv[0])):
                manifest = _manifest_path(view, column, value)
                wanted[manifest] = file
                if published.get(manifest) != file:
                    line = f"s3://{posixpath.join(root, file)}\n"
                    with fs.open(posixpath.join(root, manifest), "wb") as f:
                        f.write(line.encode())  # one PUT: the old list or the new
                    changes.append(f"manifest {manifest}")
        point("catalog.manifests_written")
        for view, (column, parts) in sorted(views.items()):
            changes += self._sync_glue(table, view, column, parts)
        # a view whose parts are all gone: its table stays, with no partitions
        gone = {m.split("/")[1] for m in published} - {v or "table" for v in views}
        for folder in sorted(gone):
            name = self._glue_table("" if folder == "table" else folder)
            drop = sorted(self._partitions(name))
            self._drop(name, drop)
            changes += [f"dropped {name}/{v}" for v in drop]
        # a dropped partition's manifest goes only once Glue no longer lists it
        for manifest in sorted(set(published) - set(wanted)):
            fs.rm(posixpath.join(root, manifest))
            changes.append(f"removed {manifest}")
        with fs.open(index_path, "wb") as f:
            f.write(json.dumps(wanted, indent=1, sort_keys=True).encode())
        if changes:
            logger.info(
                "Glue %s.%s: %d change(s)", self.database, self.table, len(changes)
            )
        return changes

    def _descriptor(self, table: Any, location: str, file: str) -> dict[str, Any]:
        with table._fs.open(posixpath.join(table._path, file), "rb") as f:
            schema = pq.read_schema(f)
        return {
            "Columns": columns_of(schema),
            "Location": location,
            "InputFormat": INPUT_FORMAT,
            "OutputFormat": OUTPUT_FORMAT,
            "SerdeInfo": {"SerializationLibrary": SERDE},
        }

    def _sync_glue(
        self,
        table: Any,
        view: str,
        column: str,
        parts: dict[str | None, str],
    ) -> list[str]:
        name = self._glue_table(view)
        base = f"s3://{posixpath.join(table._path, SYMLINK, view or 'table')}/"
        newest = parts[max(parts, key=str)]
        descriptor = self._descriptor(table, base, newest)
        if column and column in {c["Name"] for c in descriptor["Columns"]}:
            raise CatalogError(
                f"{table.url}: view {view or 'table'!r} has a column named {column!r}, "
                "the name of its partition key: Athena could not tell them apart"
            )
        keys = [{"Name": column, "Type": "string"}] if column else []
        wanted_table: dict[str, Any] = {
            "Name": name,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": "parquet", "lake_table": table.url},
            "StorageDescriptor": descriptor,
            "PartitionKeys": keys,
        }
        changes = []
        try:
            current = self.client.get_table(DatabaseName=self.database, Name=name)
        except self.client.exceptions.EntityNotFoundException:
            self.client.create_table(
                DatabaseName=self.database, TableInput=wanted_table
            )
            changes.append(f"created table {name}")
        else:
            have = current["Table"]
            if (
                have["StorageDescriptor"].get("Columns") != descriptor["Columns"]
                or have["StorageDescriptor"].get("Location") != base
                or have.get("PartitionKeys", []) != keys
            ):
                self.client.update_table(
                    DatabaseName=self.database, TableInput=wanted_table
                )
                changes.append(f"updated table {name}")
        if not column:
            return changes
        existing = self._partitions(name)
        wanted = {}
        for value in parts:
            folder = posixpath.dirname(_manifest_path(view, column, value))
            wanted[str(value)] = f"s3://{posixpath.join(table._path, folder)}/"
        create = sorted(set(wanted) - set(existing))
        drop = sorted(set(existing) - set(wanted))
        for chunk in _chunks(create, 100):  # BatchCreatePartition takes 100
            self.client.batch_create_partition(
                DatabaseName=self.database,
                TableName=name,
                PartitionInputList=[
                    {
                        "Values": [value],
                        "StorageDescriptor": self._descriptor(
                            table, wanted[value], parts[value]
                        ),
                    }
                    for value in chunk
                ],
            )
        self._drop(name, drop)
        changes += [f"partition {name}/{v}" for v in create]
        changes += [f"dropped {name}/{v}" for v in drop]
        return changes

    def _drop(self, name: str, values: list[str]) -> None:
        for chunk in _chunks(values, 25):  # BatchDeletePartition takes 25
            self.client.batch_delete_partition(
                DatabaseName=self.database,
                TableName=name,
                PartitionsToDelete=[{"Values": [v]} for v in chunk],
            )

    def _partitions(self, name: str) -> set[str]:
        pages = self.client.get_paginator("get_partitions").paginate(
            DatabaseName=self.database, TableName=name
        )
        try:
            return {p["Values"][0] for page in pages for p in page["Partitions"]}
        except self.client.exceptions.EntityNotFoundException:
            return set()  # not created yet (a publish killed before it)


def _manifest_path(view: str, column: str, value: str | None) -> str:
    """Where a partition's symlink manifest lives, inside the table folder."""
    folder = posixpath.join(SYMLINK, view or "table")
    if value is not None:
        folder = posixpath.join(folder, f"{column}={_safe(value)}")
    return posixpath.join(folder, "manifest")


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
