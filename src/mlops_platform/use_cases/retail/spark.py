"""Retail gold on Spark, for a lake one machine cannot process (docs/scale.md).

The definitions of :mod:`mlops_serving.retail_features` (which the pandas pipeline and
the till endpoint run) written as Spark DataFrame operations, so the same job runs on
a cluster: SageMaker's PySparkProcessor or EMR Serverless over the S3 lake, Spark's
local mode on a laptop and in the tests (``tests/test_spark_gold.py`` holds it to the
pandas gold on the same silver). Pure Spark SQL functions, no Python UDF: the work
stays in the JVM and spreads over the executors.

Run it (a cluster submits the same module)::

    python -m mlops_platform.use_cases.retail.spark \\
        --silver data/silver/retail/records --out data/gold/retail/spark

It reads the silver lake table's parts named by its manifest and writes gold as
Parquet partitioned by ``shop_week``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from mlops_serving.retail_features import (
    CLASSES,
    DIVISIONS,
    HOURS_PER_DAY,
    PROFILE_COLUMNS,
    SHARE_COLUMNS,
)
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from mlops_platform.lake import LakeTable
from mlops_platform.use_cases.retail.features import (
    _BASKET_ATTRIBUTES,
    LABEL,
    NUMERIC_FEATURES,
    TIME_COLUMN,
)
from mlops_platform.use_cases.retail.ingest import BASKET_KEY

SUMS = ("baskets", "spend", *(f"n_{c.lower()}" for c in CLASSES), "labelled")


def _hours(day: Column, hour: Column) -> Column:
    """Hours since 1970-01-01 of a YYYYMMDD date and an hour (``basket_hour``)."""
    date = F.to_date(day.cast("string"), "yyyyMMdd")
    return F.datediff(date, F.lit("1970-01-01")).cast("double") * HOURS_PER_DAY + (
        hour.cast("double")
    )


def baskets(lines: DataFrame) -> DataFrame:
    """One row per basket: ``basket_features`` and the basket's attributes."""
    unit = F.col("SPEND") / F.col("QUANTITY")
    division = F.when(F.col("PROD_CODE_40").isin(*DIVISIONS), F.col("PROD_CODE_40"))
    slots = [*DIVISIONS, None]  # None: a division outside the named ones
    spend_in = [
        F.sum(
            F.when(
                division.isNull() if d is None else division == d, F.col("SPEND")
            ).otherwise(0.0)
        ).alias(f"_spend_{k}")
        for k, d in enumerate(slots)
    ]
    out = (
        lines.withColumn("_unit", unit)
        .groupBy(BASKET_KEY)
        .agg(
            F.count(F.lit(1)).cast("double").alias("n_lines"),
            F.countDistinct("PROD_CODE_20").cast("double").alias("n_departments"),
            F.sum(F.col("QUANTITY").cast("double")).alias("total_quantity"),
            F.sum("SPEND").alias("total_spend"),
            F.avg("_unit").alias("unit_price_mean"),
            F.percentile("_unit", F.lit(0.5)).alias("unit_price_median"),
            F.coalesce(F.stddev_samp("_unit"), F.lit(0.0)).alias("unit_price_std"),
            F.min("_unit").alias("unit_price_min"),
            F.max("_unit").alias("unit_price_max"),
            *spend_in,
            *(F.first(c).alias(new) for c, new in _BASKET_ATTRIBUTES.items()),
        )
    )
    safe = F.when(F.col("total_spend") > 0, F.col("total_spend")).otherwise(1.0)
    for k, column in enumerate(SHARE_COLUMNS):
        out = out.withColumn(column, F.col(f"_spend_{k}") / safe)
    date = F.to_date(F.col("shop_date").cast("string"), "yyyyMMdd")
    return (
        out.drop(*(f"_spend_{k}" for k in range(len(slots))))
        .withColumnRenamed(BASKET_KEY, "basket_key")
        .withColumn("shop_weekday", F.dayofweek(date).cast("double"))
        .withColumn("_hour", _hours(F.col("shop_date"), F.col("shop_hour")))
    )


def customer_states(basket_rows: DataFrame) -> DataFrame:
    """Each carded customer's state after each week they shopped in
    (``customer_states``): running sums, the hour of the last basket, the profile
    last seen; and the next week they shopped in (the state holds until then)."""
    carded = basket_rows.filter(F.col("cust_code").isNotNull())
    labelled = F.col(LABEL).isin(*CLASSES)
    per_week = carded.groupBy("cust_code", TIME_COLUMN).agg(
        F.count(F.lit(1)).cast("double").alias("baskets"),
        F.sum("total_spend").alias("spend"),
        *(
            F.sum((F.col(LABEL) == c).cast("double")).alias(f"n_{c.lower()}")
            for c in CLASSES
        ),
        F.sum(labelled.cast("double")).alias("labelled"),
        F.max("_hour").alias("last_hour"),
        # the profile on the week's last basket that has one (ties: the same hour)
        *(
            F.max_by(c, F.when(F.col(c).isNotNull(), F.col("_hour"))).alias(c)
            for c in PROFILE_COLUMNS
        ),
    )
    ordered = Window.partitionBy("cust_code").orderBy(TIME_COLUMN)
    upto = ordered.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    states = per_week.select(
        "cust_code",
        TIME_COLUMN,
        *(F.sum(c).over(upto).alias(c) for c in SUMS),
        "last_hour",
        *(F.last(c, ignorenulls=True).over(upto).alias(c) for c in PROFILE_COLUMNS),
        F.lead(TIME_COLUMN).over(ordered).alias("_next_week"),
    )
    return states


def basket_gold(lines: DataFrame) -> DataFrame:
    """Gold as :func:`mlops_platform.use_cases.retail.features.build_basket_features`
    builds it: basket features, and the customer as of the end of the previous week
    they shopped in."""
    b = baskets(lines)
    s = customer_states(b).alias("s")
    joined = (
        b.drop(*PROFILE_COLUMNS)
        .alias("b")
        .join(
            s,
            (F.col("b.cust_code") == F.col("s.cust_code"))
            & (F.col(f"s.{TIME_COLUMN}") < F.col(f"b.{TIME_COLUMN}"))
            & (
                F.col("s._next_week").isNull()
                | (F.col(f"b.{TIME_COLUMN}") <= F.col("s._next_week"))
            ),
            "left",
        )
    )
    known = F.coalesce(F.col("s.baskets"), F.lit(0.0)) > 0
    labelled = known & (F.col("s.labelled") > 0)
    history = [
        F.when(known, F.col("s.baskets")).otherwise(0.0).alias("cust_prev_baskets"),
        F.when(known, F.col("s.spend") / F.col("s.baskets")).alias(
            "cust_prev_mean_spend"
        ),
        *(
            F.when(labelled, F.col(f"s.n_{c.lower()}") / F.col("s.labelled")).alias(
                f"cust_prev_share_{c.lower()}"
            )
            for c in CLASSES
        ),
        F.when(known, (F.col("b._hour") - F.col("s.last_hour")) / HOURS_PER_DAY).alias(
            "cust_days_since_prev"
        ),
        *(F.when(known, F.col(f"s.{c}")).alias(c) for c in PROFILE_COLUMNS),
    ]
    out = joined.select("b.*", *history).drop("_hour")
    for c in NUMERIC_FEATURES:
        out = out.withColumn(c, F.col(c).cast("double"))
    return out


def read_silver(spark: SparkSession, table: str) -> DataFrame:
    """The silver lake table's current parts (those its manifest names)."""
    lake = LakeTable.open(table)
    files = [
        f"{lake.url}/{e['file']}".replace("s3://", "s3a://")
        for e in lake.parts.values()
        if e.get("file")
    ]
    return spark.read.parquet(*files)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--silver", required=True, help="silver lake table (folder)")
    parser.add_argument("--out", required=True, help="where gold is written")
    parser.add_argument(
        "--master", default=None, help="e.g. local[2]; default: the cluster's"
    )
    args = parser.parse_args(argv)
    builder = SparkSession.builder.appName("retail-gold")
    if args.master:
        builder = builder.master(args.master)
    spark = builder.getOrCreate()
    try:
        gold = basket_gold(read_silver(spark, args.silver))
        gold.write.mode("overwrite").partitionBy(TIME_COLUMN).parquet(
            args.out.replace("s3://", "s3a://")
        )
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
