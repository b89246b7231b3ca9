"""Retail data_engineering's work on DuckDB, for benchmarks/engine_benchmark.py (runs
in ``.venv-peers/engines``, without the project installed; see that script for what
the work is and how its gold is checked against the project's).

    python duckdb_de.py --raw DIR --spec spec.json --out DIR

The SQL is built from the project's own contract and constants (S608 does not
apply: no outside text reaches it).
"""

# ruff: noqa: S608
from __future__ import annotations

from pathlib import Path

import duckdb
from engine_cli import Lap, run


def quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def broken(col: dict, raw: str) -> str:
    """SQL that is true where the raw text ``raw`` breaks the column's spec (the
    rules the project's contract checks: parse, null, set, range, pattern, length)."""
    name = col["name"]
    rules = []
    if not col["nullable"]:
        rules.append(f"{raw} IS NULL")
    if col["kind"] in ("int", "float"):
        num = f"TRY_CAST({raw} AS DOUBLE)"
        rules.append(f"({raw} IS NOT NULL AND {num} IS NULL)")
        if col["kind"] == "int":
            rules.append(f"({num} IS NOT NULL AND {num} <> floor({num}))")
        if col["min_value"] is not None:
            rules.append(f"{num} < {col['min_value']}")
        if col["max_value"] is not None:
            rules.append(f"{num} > {col['max_value']}")
    if col["allowed"] is not None:
        rules.append(f"{raw} NOT IN ({', '.join(map(quoted, col['allowed']))})")
    if col["pattern"] is not None:
        rules.append(f"NOT regexp_full_match({raw}, {quoted(col['pattern'])})")
    if col["min_length"] is not None:
        rules.append(f"length({raw}) < {col['min_length']}")
    if col["max_length"] is not None:
        rules.append(f"length({raw}) > {col['max_length']}")
    if not rules:
        raise ValueError(f"column {name} has no rule")
    return "coalesce(" + " OR ".join(f"({r})" for r in rules) + ", false)"


def typed(col: dict) -> str:
    raw = f'"{col["name"]}"'
    kind = {"int": "BIGINT", "float": "DOUBLE"}.get(col["kind"])
    return f"CAST(CAST({raw} AS DOUBLE) AS {kind}) AS {raw}" if kind else raw


def silver(con: duckdb.DuckDBPyConnection, raw: Path, spec: dict, out: Path) -> dict:
    columns = spec["columns"]
    # The generated files carry LGSR's own header; the real files' renamed columns
    # (the project's COLUMN_ALIASES) are not part of this work.
    con.execute(
        f"""CREATE TEMP VIEW raw_lines AS SELECT *
        FROM read_csv({quoted(str(raw / "transactions_*.csv"))}, all_varchar = true,
                      header = true, filename = true)"""
    )
    fixes = []
    for col, mapping in spec["value_aliases"].items():
        cases = " ".join(
            f"WHEN {quoted(a)} THEN {quoted(b)}" for a, b in mapping.items()
        )
        fixes.append(f'CASE "{col}" {cases} ELSE "{col}" END AS "{col}"')
    replace = f"REPLACE ({', '.join(fixes)})" if fixes else ""
    con.execute(f"CREATE TEMP TABLE fixed AS SELECT * {replace} FROM raw_lines")
    # As the project's contract does, each column's rules run on its distinct values;
    # the rows holding a broken value are found by membership.
    flags = []
    for k, col in enumerate(columns):
        name = f'"{col["name"]}"'
        con.execute(
            f"""CREATE TEMP TABLE bad_{k} AS SELECT v FROM
            (SELECT DISTINCT {name} AS v FROM fixed) WHERE {broken(col, "v")}"""
        )
        flags.append(
            f"{name} IN (SELECT v FROM bad_{k})"
            f" OR ({name} IS NULL AND EXISTS (SELECT 1 FROM bad_{k} WHERE v IS NULL))"
        )
    con.execute(
        f"""CREATE TEMP TABLE lines AS
        SELECT {", ".join(typed(c) for c in columns)},
               parse_filename(filename) AS source_file, "BASKET_ID" AS "BASKET_KEY"
        FROM fixed WHERE NOT coalesce({" OR ".join(f"({f})" for f in flags)}, false)"""
    )
    con.execute(
        f"""COPY lines TO {quoted(str(out / "silver"))}
        (FORMAT parquet, PARTITION_BY (source_file), OVERWRITE_OR_IGNORE true)"""
    )
    rows_in = con.execute("SELECT count(*) FROM fixed").fetchone()[0]
    rows_valid = con.execute("SELECT count(*) FROM lines").fetchone()[0]
    return {"rows_in": rows_in, "rows_quarantined": rows_in - rows_valid}


def gold(con: duckdb.DuckDBPyConnection, spec: dict, out: Path) -> dict:
    divisions, classes = spec["divisions"], spec["classes"]
    shares = [
        f"sum(CASE WHEN PROD_CODE_40 = {quoted(d)} THEN SPEND ELSE 0 END) "
        f"/ CASE WHEN sum(SPEND) > 0 THEN sum(SPEND) ELSE 1 END "
        f"AS share_{d.lower()}"
        for d in divisions
    ]
    shares.append(
        f"sum(CASE WHEN PROD_CODE_40 IN ({', '.join(map(quoted, divisions))}) "
        f"THEN 0 ELSE SPEND END) / CASE WHEN sum(SPEND) > 0 THEN sum(SPEND) ELSE 1 END "
        f"AS share_other"
    )
    con.execute(
        f"""CREATE TEMP TABLE baskets AS
        SELECT "BASKET_KEY" AS basket_key,
          first(SHOP_WEEK) AS shop_week, first(SHOP_DATE) AS shop_date,
          first(SHOP_HOUR)::DOUBLE AS shop_hour,
          first(CUST_CODE) AS cust_code,
          first(BASKET_PRICE_SENSITIVITY) AS label,
          count(*)::DOUBLE AS n_lines,
          count(DISTINCT PROD_CODE_20)::DOUBLE AS n_departments,
          sum(QUANTITY)::DOUBLE AS total_quantity,
          sum(SPEND) AS total_spend,
          avg(SPEND / QUANTITY) AS unit_price_mean,
          median(SPEND / QUANTITY) AS unit_price_median,
          coalesce(stddev_samp(SPEND / QUANTITY), 0) AS unit_price_std,
          min(SPEND / QUANTITY) AS unit_price_min,
          max(SPEND / QUANTITY) AS unit_price_max,
          {", ".join(shares)},
          (date_diff('day', DATE '1970-01-01',
                     strptime(first(SHOP_DATE)::VARCHAR, '%Y%m%d')::DATE) * 24.0
           + first(SHOP_HOUR)) AS hour
        FROM lines GROUP BY "BASKET_KEY" """
    )
    counts = ", ".join(
        f"sum((label = {quoted(c)})::DOUBLE) AS n_{c.lower()}" for c in classes
    )
    sums = ["baskets", "spend", *(f"n_{c.lower()}" for c in classes), "labelled"]
    cumulative = ", ".join(f"sum({s}) OVER w AS {s}" for s in sums)
    previous = ", ".join(f"lag({s}) OVER v AS prev_{s}" for s in sums)
    # Each customer's running sums after each week they shopped in; the state before
    # a week is the previous such row of the same customer.
    con.execute(
        f"""CREATE TEMP TABLE before AS
        WITH per_week AS (
          SELECT cust_code AS cust, shop_week, count(*)::DOUBLE AS baskets,
                 sum(total_spend) AS spend, {counts}, max(hour) AS last_hour
          FROM baskets WHERE cust_code IS NOT NULL GROUP BY ALL),
        weekly AS (
          SELECT *, {" + ".join(f"n_{c.lower()}" for c in classes)} AS labelled
          FROM per_week),
        cumulative AS (
          SELECT cust, shop_week, {cumulative}, last_hour FROM weekly
          WINDOW w AS (PARTITION BY cust ORDER BY shop_week
                       ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))
        SELECT cust, shop_week, {previous}, lag(last_hour) OVER v AS prev_last_hour
        FROM cumulative WINDOW v AS (PARTITION BY cust ORDER BY shop_week)"""
    )
    label_shares = ", ".join(
        f"CASE WHEN known AND prev_labelled > 0 "
        f"THEN prev_n_{c.lower()} / prev_labelled END AS cust_prev_share_{c.lower()}"
        for c in classes
    )
    helpers = ", ".join(
        ["hour", "known", *(f"prev_{s}" for s in sums), "prev_last_hour"]
    )
    con.execute(
        f"""COPY (
          SELECT b.* EXCLUDE ({helpers}),
            CASE WHEN known THEN prev_baskets ELSE 0 END AS cust_prev_baskets,
            CASE WHEN known THEN prev_spend / prev_baskets END AS cust_prev_mean_spend,
            {label_shares},
            CASE WHEN known THEN (b.hour - prev_last_hour) / 24.0 END
              AS cust_days_since_prev
          FROM (SELECT b.*, s.* EXCLUDE (cust, shop_week),
                       coalesce(s.prev_baskets > 0, false) AS known
                FROM baskets b LEFT JOIN before s
                  ON s.cust = b.cust_code AND s.shop_week = b.shop_week) b
        ) TO {quoted(str(out / "gold"))}
        (FORMAT parquet, PARTITION_BY (shop_week), OVERWRITE_OR_IGNORE true)"""
    )
    return {"baskets": con.execute("SELECT count(*) FROM baskets").fetchone()[0]}


def work(raw: Path, spec: dict, out: Path, lap: Lap) -> dict:
    con = duckdb.connect()
    report = silver(con, raw, spec, out)
    lap("silver")
    report |= gold(con, spec, out)
    lap("gold")
    return report


if __name__ == "__main__":
    raise SystemExit(run(work))
