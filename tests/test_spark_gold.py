"""The distributed path (docs/scale.md): retail gold on Spark equals the pandas gold.

Spark runs in local mode (``local[2]``, this machine's JVM): the same module a
cluster runs (SageMaker's PySparkProcessor, EMR Serverless), over a silver lake table
the project's own pipeline wrote. What local mode substitutes, the cluster and
``s3a://``, is not exercised here: the module only reads the files the manifest names
and writes Parquet, which both do the same way.

Equal means: the same baskets, identical ids, counts, categories and profiles, and
floats within 1e-9 relative (Spark adds a group's values in its own order; pandas
compensates its sums' rounding).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_platform.contracts import enforce_contract
from mlops_platform.lake import LakeTable, TableUpdate
from mlops_platform.use_cases.retail import RetailUseCase
from mlops_platform.use_cases.retail.features import (
    CATEGORICAL_FEATURES,
    NUMERIC_FEATURES,
    build_basket_features,
)

from .conftest import partitions_of

pytest.importorskip("pyspark")
if shutil.which("java") is None:  # pragma: no cover - the project's machines have it
    pytest.skip("Spark needs a Java runtime", allow_module_level=True)


def test_spark_gold_is_the_pandas_gold(small_raw: Path, tmp_path: Path) -> None:
    from mlops_platform.use_cases.retail import spark as spark_gold

    retail = RetailUseCase()
    raw, _ = retail.ingest(partitions_of(small_raw))
    silver = enforce_contract(raw, retail.contract).valid
    table = LakeTable.open(str(tmp_path / "silver"))
    weeks = {f"week_{w}": rows for w, rows in silver.groupby("SHOP_WEEK")}
    table.commit(TableUpdate(writes=weeks))
    out = tmp_path / "gold"
    assert (
        spark_gold.main(
            [
                "--silver",
                str(tmp_path / "silver"),
                "--out",
                str(out),
                "--master",
                "local[2]",
            ]
        )
        == 0
    )

    expected = build_basket_features(silver).set_index("basket_key").sort_index()
    got = pd.read_parquet(out).set_index("basket_key").sort_index()
    assert len(got) == len(expected) > 1000
    assert list(got.index) == list(expected.index)
    assert set(expected.columns) <= set(got.columns)
    got["shop_week"] = got["shop_week"].astype("int64")
    for col in ("shop_week", "shop_date", "cust_code", "store_code", "label"):
        assert got[col].astype(str).tolist() == expected[col].astype(str).tolist(), col
    for col in CATEGORICAL_FEATURES:
        a = got[col].astype(object).where(got[col].notna(), None).tolist()
        b = expected[col].astype(object).where(expected[col].notna(), None).tolist()
        assert a == b, col
    for col in NUMERIC_FEATURES:
        a, b = got[col].to_numpy(float), expected[col].to_numpy(float)
        assert np.array_equal(np.isnan(a), np.isnan(b)), col
        np.testing.assert_allclose(
            a, b, rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=col
        )
    # the customer history is not trivially empty: most baskets have one
    assert (got["cust_prev_baskets"] > 0).mean() > 0.5
