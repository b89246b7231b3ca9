"""Lake tables published into the Glue Data Catalog for Athena (issue 14), on a moto
server on loopback.

Athena is not available here. What it would read is computed the way it reads a
symlink table: for each partition Glue lists, the manifest at the partition's
location names the Parquet files to read. The tests compare that with what the lake
table itself reads (the files its manifest names)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from kedro.io import DatasetError

from mlops_platform.aws.moto_lake import (
    GLUE_DATABASE,
    REGION,
    create_bucket,
    moto_client,
    moto_server,
    s3_client,
)
from mlops_platform.lake import LakeTableDataset, TableUpdate
from mlops_platform.lake_catalog import CatalogError, columns_of

BUCKET = "catalog-lake"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def endpoint():
    """The moto server, and what lake_env gives a step: boto3's Glue client finds
    the server through AWS_ENDPOINT_URL (restored afterwards)."""
    with moto_server() as url, pytest.MonkeyPatch.context() as env:
        create_bucket(url, BUCKET)
        env.setenv("AWS_ENDPOINT_URL", url)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        yield url


def dataset(endpoint: str, path: str, table: str) -> LakeTableDataset:
    return LakeTableDataset(
        path=f"s3://{BUCKET}/{path}",
        credentials={
            "client_kwargs": {"endpoint_url": endpoint, "region_name": REGION},
            "key": "testing",
            "secret": "testing",
        },
        glue_database=GLUE_DATABASE,
        glue_table=table,
    )


def week(period: str, n: int, offset: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "shop_week": [int(period)] * n,
            "basket_id": [f"{period}-{i}" for i in range(n)],
            "total_spend": [i + offset for i in range(n)],
            "label": pd.Categorical(["LA", "MM", "UM"] * (n // 3) + ["MM"] * (n % 3)),
        }
    )


def athena_reads(endpoint: str, table: str) -> pd.DataFrame:
    """What Athena would read from a partitioned symlink table."""
    glue, s3 = moto_client(endpoint, "glue"), s3_client(endpoint)
    partitions = glue.get_partitions(DatabaseName=GLUE_DATABASE, TableName=table)
    frames = []
    for p in partitions["Partitions"]:
        location = p["StorageDescriptor"]["Location"].removeprefix(f"s3://{BUCKET}/")
        listing = s3.get_object(Bucket=BUCKET, Key=f"{location}manifest")["Body"]
        for line in listing.read().decode().split():
            key = line.removeprefix(f"s3://{BUCKET}/")
            body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            frames.append(pq.read_table(io.BytesIO(body)).to_pandas())
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


def same_rows(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    key = ["basket_id"]
    a = a.sort_values(key).reset_index(drop=True)
    b = b.sort_values(key).reset_index(drop=True)
    return a.astype(str).equals(b.astype(str))


def test_gold_views_are_partitioned_tables_athena_reads_as_the_lake_does(endpoint):
    ds = dataset(endpoint, "lake/gold/retail/table", "retail")
    ds.save(
        TableUpdate(
            writes={
                "gold/200601": week("200601", 6),
                "gold/200602": week("200602", 9),
                "state/customers/200601": pd.DataFrame(
                    {"customer": ["c1", "c2"], "baskets": [3, 4]}
                ),
                "latest/customers": pd.DataFrame(
                    {"customer": ["c1", "c2"], "baskets": [3, 4]}
                ),
            }
        )
    )
    glue = moto_client(endpoint, "glue")
    tables = {
        t["Name"]: t for t in glue.get_tables(DatabaseName=GLUE_DATABASE)["TableList"]
    }
    assert {"retail_gold", "retail_state_customers", "retail_latest_customers"} <= set(
        tables
    )
    gold = tables["retail_gold"]
    assert gold["PartitionKeys"] == [{"Name": "period", "Type": "string"}]
    assert gold["StorageDescriptor"]["InputFormat"].endswith("SymlinkTextInputFormat")
    assert gold["StorageDescriptor"]["Columns"] == [
        {"Name": "shop_week", "Type": "bigint"},
        {"Name": "basket_id", "Type": "string"},
        {"Name": "total_spend", "Type": "double"},
        {"Name": "label", "Type": "string"},
    ]
    assert tables["retail_latest_customers"]["PartitionKeys"] == []
    table = ds.load()
    assert same_rows(athena_reads(endpoint, "retail_gold"), table.read(prefix="gold/"))

    # A killed commit's stray part file (what a Glue table over parts/ would count)
    # and a commit that rewrites one week and drops another.
    s3 = s3_client(endpoint)
    stray = pq.read_table(io.BytesIO(table.part_bytes("gold/200601") or b""))
    buffer = io.BytesIO()
    pq.write_table(stray, buffer)
    s3.put_object(
        Bucket=BUCKET, Key="lake/gold/retail/table/parts/gold_200601-stray.parquet",
        Body=buffer.getvalue(),
    )  # fmt: skip
    ds.save(
        TableUpdate(
            writes={"gold/200602": week("200602", 12, offset=0.5)},
            deletes={"gold/200601", "state/customers/200601"},
        )
    )
    values = glue.get_partitions(DatabaseName=GLUE_DATABASE, TableName="retail_gold")
    assert [p["Values"] for p in values["Partitions"]] == [["200602"]]
    # the state view lost its only part: its table stays, with no partitions
    states = glue.get_partitions(
        DatabaseName=GLUE_DATABASE, TableName="retail_state_customers"
    )
    assert states["Partitions"] == []
    keys = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="lake/gold/retail/table/")[
            "Contents"
        ]
    ]
    assert not any("/_symlink/state_customers/" in k for k in keys)
    reads = athena_reads(endpoint, "retail_gold")
    assert len(reads) == 12 and same_rows(reads, ds.load().read(prefix="gold/"))


def test_silver_is_one_table_partitioned_by_raw_file(endpoint):
    ds = dataset(endpoint, "lake/silver/retail/records", "retail_silver")
    ds.save(
        TableUpdate(
            writes={
                "transactions_200601.csv": week("200601", 3),
                "transactions_200602.csv": week("200602", 3),
            }
        )
    )
    glue = moto_client(endpoint, "glue")
    table = glue.get_table(DatabaseName=GLUE_DATABASE, Name="retail_silver")["Table"]
    assert table["PartitionKeys"] == [{"Name": "source_part", "Type": "string"}]
    assert same_rows(athena_reads(endpoint, "retail_silver"), ds.load().read())


def test_a_publish_killed_midway_is_finished_by_the_next_save(endpoint, tmp_path):
    """Killed after the symlink manifests were written and before Glue was told:
    Athena sees the previous partitions, each whole; the next save of the table
    (even with nothing to commit) finishes the job."""
    path = "lake/gold/parking/table"
    dataset(endpoint, path, "parking").save(
        TableUpdate(writes={"gold/2026-01-01": week("1", 3)})
    )
    script = tmp_path / "commit.py"
    script.write_text(
        "import sys\n"
        "sys.path.insert(0, sys.argv[2])\n"
        "from tests.test_lake_catalog import dataset, week\n"
        "from mlops_platform.lake import TableUpdate\n"
        f"dataset(sys.argv[1], {path!r}, 'parking').save(\n"
        "    TableUpdate(writes={'gold/2026-01-02': week('2', 6)}))\n"
    )
    env = {**os.environ, "MLOPS_FAULT_KILL": "catalog.manifests_written"}
    proc = subprocess.run(  # noqa: PLW1510 (the kill is the expected exit)
        [sys.executable, str(script), endpoint, str(REPO)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    glue = moto_client(endpoint, "glue")

    def partitions() -> list[list[str]]:
        found = glue.get_partitions(
            DatabaseName=GLUE_DATABASE, TableName="parking_gold"
        )
        return sorted(p["Values"] for p in found["Partitions"])

    assert partitions() == [["2026-01-01"]]  # Glue was not told yet
    assert len(athena_reads(endpoint, "parking_gold")) == 3
    ds = dataset(endpoint, path, "parking")
    ds.save(TableUpdate())  # the next run: nothing new to commit
    assert partitions() == [["2026-01-01"], ["2026-01-02"]]
    assert same_rows(
        athena_reads(endpoint, "parking_gold"), ds.load().read(prefix="gold/")
    )


def test_column_types_and_refusals(tmp_path):
    frame = pd.DataFrame(
        {
            "n": pd.array([1, 2], dtype="int64"),
            "x": [0.5, 1.5],
            "flag": [True, False],
            "code": pd.Categorical(["a", "b"]),
            "when": pd.to_datetime(["2026-01-01", "2026-01-02"]),
            "Mixed Case": ["a", "b"],
        }
    )
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    schema = pq.read_schema(io.BytesIO(buffer.getvalue()))
    assert [(c["Name"], c["Type"]) for c in columns_of(schema)] == [
        ("n", "bigint"), ("x", "double"), ("flag", "boolean"), ("code", "string"),
        ("when", "timestamp"), ("mixed_case", "string"),
    ]  # fmt: skip
    with pytest.raises(DatasetError, match="Athena reads tables on S3"):
        LakeTableDataset(
            path=str(tmp_path / "t"), glue_database="mlops_dev_lake", glue_table="t"
        )
    assert not (tmp_path / "t").exists()  # refused before anything was written
    with pytest.raises(CatalogError, match="no Glue type"):
        columns_of(pa.schema([("d", pa.duration("s"))]))


def test_the_aws_catalog_entries_are_the_base_ones_plus_glue():
    """conf/aws/catalog.yml replaces three base entries whole (Kedro's catalog merge):
    apart from the Glue keys they must stay the base entries, or the aws environment
    would silently read and write other tables than the local one."""
    import yaml

    base = yaml.safe_load((REPO / "conf/base/catalog.yml").read_text())
    aws = yaml.safe_load((REPO / "conf/aws/catalog.yml").read_text())
    assert aws  # the three lake table writers
    for name, entry in aws.items():
        assert entry["glue_database"] == "${glue_database:}"
        plain = {k: v for k, v in entry.items() if not k.startswith("glue_")}
        assert plain == base[name], name
    assert {e["type"] for e in aws.values()} == {"mlops_platform.lake.LakeTableDataset"}
    writers = {
        n for n, e in base.items()
        if e.get("type") == "mlops_platform.lake.LakeTableDataset"
        and not e.get("read_only")
    }  # fmt: skip
    assert set(aws) == writers
