"""Retail data_engineering's silver stage on Arrow compute alone, for
benchmarks/engine_benchmark.py (runs in ``.venv-peers/engines``, without the project
installed; see that script for what the work is).

Silver only: Arrow compute has no exact grouped median (``hash_approximate_median``
and ``hash_tdigest`` estimate) and no window functions, so the gold's
``unit_price_median`` and the customer history cannot be written in it alone; the
project's gold already runs its definitions on numpy arrays.

    python arrow_de.py --raw DIR --spec spec.json --out DIR
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv
import pyarrow.parquet as pq
from engine_cli import Lap, run


def broken(col: dict, values: pa.Array) -> pa.Array:
    """True where a raw text value breaks the column's spec (the rules the project's
    contract checks: parse, null, set, range, pattern, length)."""
    rules = []
    if not col["nullable"]:
        rules.append(pc.is_null(values))
    if col["kind"] in ("int", "float"):
        # Arrow's cast fails on the first bad value: parse one value at a time
        # (these are distinct values, a few thousand at most)
        num = pa.array([_number(v) for v in values.to_pylist()], pa.float64())
        rules.append(pc.and_(pc.is_valid(values), pc.is_null(num)))
        if col["kind"] == "int":
            rules.append(pc.not_equal(num, pc.floor(num)))
        if col["min_value"] is not None:
            rules.append(pc.less(num, col["min_value"]))
        if col["max_value"] is not None:
            rules.append(pc.greater(num, col["max_value"]))
    if col["allowed"] is not None:
        known = pc.is_in(values, pa.array(col["allowed"]))
        rules.append(pc.and_(pc.is_valid(values), pc.invert(known)))
    if col["pattern"] is not None:
        rules.append(pc.invert(pc.match_substring_regex(values, col["pattern"])))
    if col["min_length"] is not None:
        rules.append(pc.less(pc.utf8_length(values), col["min_length"]))
    if col["max_length"] is not None:
        rules.append(pc.greater(pc.utf8_length(values), col["max_length"]))
    out = rules[0]
    for rule in rules[1:]:
        out = pc.or_kleene(out, rule)
    return pc.fill_null(out, False)


def _number(text: str | None) -> float | None:
    try:
        return None if text is None else float(text)
    except ValueError:
        return None


def check_file(table: pa.Table, spec: dict) -> pa.Array:
    """True where a row breaks any column's spec: each column's rules on its
    distinct values, the rows holding a broken value found by membership."""
    bad = pa.array([False] * table.num_rows)
    for col in spec["columns"]:
        column = table[col["name"]]
        distinct = pc.unique(column)
        values = pc.filter(distinct, broken(col, distinct))
        hit = pc.is_in(column, values, skip_nulls=True)
        if values.null_count:
            hit = pc.or_(hit, pc.is_null(column))
        bad = pc.or_(bad, hit)
    return bad


def typed(table: pa.Table, spec: dict) -> pa.Table:
    arrays = []
    for col in spec["columns"]:
        column = table[col["name"]]
        if col["kind"] == "int":
            column = pc.cast(pc.cast(column, pa.float64()), pa.int64())
        elif col["kind"] == "float":
            column = pc.cast(column, pa.float64())
        arrays.append(column)
    names = [c["name"] for c in spec["columns"]]
    out = pa.table(arrays, names=names)
    return out.append_column("BASKET_KEY", table["BASKET_ID"])


def work(raw: Path, spec: dict, out: Path, lap: Lap) -> dict:
    (out / "silver").mkdir(parents=True, exist_ok=True)
    strings = pv.ConvertOptions(
        column_types={c["name"]: pa.string() for c in spec["columns"]},
        strings_can_be_null=True,
    )
    rows_in = rows_bad = 0
    for path in sorted(raw.glob("transactions_*.csv")):
        table = pv.read_csv(path, convert_options=strings)
        for col, mapping in spec["value_aliases"].items():
            column = table[col]
            for old, new in mapping.items():
                pattern = f"^{re.escape(old)}$"
                column = pc.replace_substring_regex(column, pattern, new)
            table = table.set_column(table.schema.get_field_index(col), col, column)
        bad = check_file(table, spec)
        rows_in += table.num_rows
        rows_bad += pc.sum(bad).as_py() or 0
        valid = typed(table.filter(pc.invert(bad)), spec)
        pq.write_table(valid, out / "silver" / f"{path.stem}.parquet")
    lap("silver")
    return {"rows_in": rows_in, "rows_quarantined": rows_bad}


if __name__ == "__main__":
    raise SystemExit(run(work))
