"""Retail data_engineering's work on Polars, for benchmarks/engine_benchmark.py (runs
in ``.venv-peers/engines``, without the project installed; see that script for what
the work is and how its gold is checked against the project's).

    python polars_de.py --raw DIR --spec spec.json --out DIR
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from engine_cli import Lap, run


def broken(col: dict) -> pl.Expr:
    """True where the column's raw text breaks its spec (the rules the project's
    contract checks: parse, null, set, range, pattern, length)."""
    raw = pl.col(col["name"])
    rules = []
    if not col["nullable"]:
        rules.append(raw.is_null())
    if col["kind"] in ("int", "float"):
        num = raw.cast(pl.Float64, strict=False)
        rules.append(raw.is_not_null() & num.is_null())
        if col["kind"] == "int":
            rules.append(num != num.floor())
        if col["min_value"] is not None:
            rules.append(num < col["min_value"])
        if col["max_value"] is not None:
            rules.append(num > col["max_value"])
    if col["allowed"] is not None:
        rules.append(~raw.is_in(col["allowed"]))
    if col["pattern"] is not None:
        rules.append(~raw.str.contains(col["pattern"]))
    if col["min_length"] is not None:
        rules.append(raw.str.len_chars() < col["min_length"])
    if col["max_length"] is not None:
        rules.append(raw.str.len_chars() > col["max_length"])
    if not rules:
        raise ValueError(f"column {col['name']} has no rule")
    return pl.any_horizontal(rules).fill_null(False)


def flagged(lines: pl.DataFrame, columns: list[dict]) -> pl.Expr:
    """True where a row breaks any column's spec. As the project's contract does,
    each column's rules run on its distinct values, and the rows holding a broken
    value are found by membership."""
    flags = []
    for col in columns:
        name = col["name"]
        bad = lines.select(pl.col(name).unique()).filter(broken(col))[name]
        flag = pl.col(name).is_in(bad.drop_nulls().implode())
        if bad.null_count():
            flag = flag | pl.col(name).is_null()
        flags.append(flag)
    return pl.any_horizontal(flags).fill_null(False)


def typed(col: dict) -> pl.Expr:
    raw = pl.col(col["name"])
    if col["kind"] == "int":
        return raw.cast(pl.Float64).cast(pl.Int64)
    if col["kind"] == "float":
        return raw.cast(pl.Float64)
    return raw


def silver(raw: Path, spec: dict, out: Path) -> tuple[pl.DataFrame, dict]:
    columns = spec["columns"]
    # The generated files carry LGSR's own header; the real files' renamed columns
    # (the project's COLUMN_ALIASES) are not part of this work.
    lines = pl.scan_csv(
        raw / "transactions_*.csv", infer_schema=False, include_file_paths="path"
    ).with_columns(
        pl.col(col).replace(mapping) for col, mapping in spec["value_aliases"].items()
    )
    lines = lines.collect()
    checked = lines.with_columns(bad=flagged(lines, columns))
    valid = checked.filter(~pl.col("bad")).select(
        *(typed(c) for c in columns),
        pl.col("path").str.split("/").list.last().alias("source_file"),
        pl.col("BASKET_ID").alias("BASKET_KEY"),
    )
    valid.write_parquet(out / "silver", partition_by="source_file")
    report = {"rows_in": checked.height, "rows_quarantined": int(checked["bad"].sum())}
    return valid, report


def gold(lines: pl.DataFrame, spec: dict, out: Path) -> dict:
    divisions, classes = spec["divisions"], spec["classes"]
    unit = pl.col("SPEND") / pl.col("QUANTITY")
    total = pl.col("SPEND").sum()
    safe = pl.when(total > 0).then(total).otherwise(1.0)
    shares = [
        (pl.col("SPEND").filter(pl.col("PROD_CODE_40") == d).sum() / safe).alias(
            f"share_{d.lower()}"
        )
        for d in divisions
    ]
    shares.append(
        (
            pl.col("SPEND").filter(~pl.col("PROD_CODE_40").is_in(divisions)).sum()
            / safe
        ).alias("share_other")
    )
    date = pl.col("SHOP_DATE").first().cast(pl.String).str.to_date("%Y%m%d")
    baskets = (
        lines.lazy()
        .group_by("BASKET_KEY")
        .agg(
            pl.col("SHOP_WEEK").first().alias("shop_week"),
            pl.col("SHOP_DATE").first().alias("shop_date"),
            pl.col("SHOP_HOUR").first().cast(pl.Float64).alias("shop_hour"),
            pl.col("CUST_CODE").first().alias("cust_code"),
            pl.col("BASKET_PRICE_SENSITIVITY").first().alias("label"),
            pl.len().cast(pl.Float64).alias("n_lines"),
            pl.col("PROD_CODE_20").n_unique().cast(pl.Float64).alias("n_departments"),
            pl.col("QUANTITY").sum().cast(pl.Float64).alias("total_quantity"),
            total.alias("total_spend"),
            unit.mean().alias("unit_price_mean"),
            unit.median().alias("unit_price_median"),
            unit.std(ddof=1).fill_null(0.0).alias("unit_price_std"),
            unit.min().alias("unit_price_min"),
            unit.max().alias("unit_price_max"),
            *shares,
            (
                (date - pl.date(1970, 1, 1)).dt.total_days().cast(pl.Float64) * 24.0
                + pl.col("SHOP_HOUR").first()
            ).alias("hour"),
        )
        .rename({"BASKET_KEY": "basket_key"})
        .collect()
    )
    counts = [
        (pl.col("label") == c).cast(pl.Float64).sum().alias(f"n_{c.lower()}")
        for c in classes
    ]
    sums = ["baskets", "spend", *(f"n_{c.lower()}" for c in classes), "labelled"]
    # Each customer's running sums after each week they shopped in; the state before
    # a week is the previous such row of the same customer.
    before = (
        baskets.lazy()
        .filter(pl.col("cust_code").is_not_null())
        .group_by("cust_code", "shop_week")
        .agg(
            pl.len().cast(pl.Float64).alias("baskets"),
            pl.col("total_spend").sum().alias("spend"),
            *counts,
            pl.col("hour").max().alias("last_hour"),
        )
        .with_columns(labelled=pl.sum_horizontal(f"n_{c.lower()}" for c in classes))
        .sort("cust_code", "shop_week")
        .with_columns(pl.col(s).cum_sum().over("cust_code") for s in sums)
        .with_columns(
            pl.col(s).shift(1).over("cust_code").alias(f"prev_{s}")
            for s in (*sums, "last_hour")
        )
        .select("cust_code", "shop_week", *(f"prev_{s}" for s in (*sums, "last_hour")))
    )
    known = pl.col("prev_baskets").fill_null(0) > 0
    labelled = known & (pl.col("prev_labelled") > 0)
    result = (
        baskets.lazy()
        .join(before, on=["cust_code", "shop_week"], how="left")
        .with_columns(
            pl.when(known)
            .then(pl.col("prev_baskets"))
            .otherwise(0.0)
            .alias("cust_prev_baskets"),
            pl.when(known)
            .then(pl.col("prev_spend") / pl.col("prev_baskets"))
            .alias("cust_prev_mean_spend"),
            *(
                pl.when(labelled)
                .then(pl.col(f"prev_n_{c.lower()}") / pl.col("prev_labelled"))
                .alias(f"cust_prev_share_{c.lower()}")
                for c in classes
            ),
            pl.when(known)
            .then((pl.col("hour") - pl.col("prev_last_hour")) / 24.0)
            .alias("cust_days_since_prev"),
        )
        .drop("hour", *(f"prev_{s}" for s in (*sums, "last_hour")))
        .collect()
    )
    result.write_parquet(out / "gold", partition_by="shop_week")
    return {"baskets": result.height}


def work(raw: Path, spec: dict, out: Path, lap: Lap) -> dict:
    lines, report = silver(raw, spec, out)
    lap("silver")
    report |= gold(lines, spec, out)
    lap("gold")
    return report


if __name__ == "__main__":
    raise SystemExit(run(work))
