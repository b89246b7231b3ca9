"""The engine choice for data_engineering, measured (issue 16; not a test, figures go
to docs/benchmarks.md): the project's pandas path against the same work on DuckDB,
Polars and Arrow compute, on the same LGSR-scale raw files, beside the floor.

    python benchmarks/engine_benchmark.py [--customers 5000 --weeks 118 --rounds 2]

The work, the same for every engine (what the project's data_engineering does to a
full refresh, less its ledger, reports and online tables):

1. read every weekly CSV, every column as text;
2. the contract: each column's rules (number, integer, not null, value set, range,
   pattern, length: the project's LGSR contract, passed as JSON) checked on the
   column's distinct values, as the project does; a row holding a broken value is
   quarantined (``BASKET_DOMINANT_MISSION``'s "Non Food" is renamed first);
3. silver: the valid rows, numbers typed, one Parquet file per raw file;
4. gold: one row per basket with the basket features (counts, spend, unit price
   mean / median / sample std / min / max, spend share per division) and the
   customer's history as of the end of the previous week they shopped in (baskets,
   mean spend, label shares, days since), written as Parquet per week.

The raw files are damaged on purpose (one line in 7,919: a negative quantity, text
as spend, a bad product code, an unknown store format or a missing hour, in turn),
so the engines' contracts have rows to quarantine. Each engine's quarantined count
must equal the project's, and its gold must equal the project's gold on every
basket, column by column (to 1e-12, relative: the engines add in another order).

Every engine runs in a fresh process, timed with its start and imports (wall time
and peak RSS, ``os.wait4``); DuckDB, Polars and Arrow run from their own virtualenv
(``.venv-peers/engines``, made from ``benchmarks/peers/requirements-engines.txt``).
The project runs as a scheduled run does: ``kedro run --pipeline
retail.data_engineering`` on an empty lake.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
from lifecycle_benchmark import FLOOR, generate_retail, timed
from mlops_serving.retail_features import (
    BASKET_COLUMNS,
    CLASSES,
    DIVISIONS,
    HISTORY_COLUMNS,
)
from serving_benchmark import peer_python

from mlops_platform.lake import LakeTable, read_gold
from mlops_platform.offline import OFFLINE_ENV
from mlops_platform.scratch import scratch_project
from mlops_platform.use_cases.retail import ingest, schema

REPO = Path(__file__).resolve().parents[1]
ENGINES = REPO / "benchmarks" / "engines"
EVERY = 7919  # one damaged line in EVERY
DAMAGE = (
    ("QUANTITY", "-1"),
    ("SPEND", "abc"),
    ("PROD_CODE", "PRD12"),
    ("STORE_FORMAT", "XXL"),
    ("SHOP_HOUR", ""),
)
COLUMNS = (*BASKET_COLUMNS, *HISTORY_COLUMNS)


def damage(folder: Path) -> int:
    """Break one line in :data:`EVERY` of each file in place (the fields in turn)."""
    done = 0
    for path in sorted(folder.glob("transactions_*.csv")):
        lines = path.read_text().split("\n")
        header = lines[0].split(",")
        for i in range(EVERY, len(lines), EVERY):
            if not lines[i]:
                continue
            fields = lines[i].split(",")
            column, value = DAMAGE[done % len(DAMAGE)]
            fields[header.index(column)] = value
            lines[i] = ",".join(fields)
            done += 1
        path.write_text("\n".join(lines))
    return done


def contract_spec() -> dict:
    """The project's LGSR contract and value fixes, for the engines' scripts."""
    skip = {"description", "pattern_meaning"}
    return {
        "columns": [
            {k: v for k, v in dataclasses.asdict(c).items() if k not in skip}
            for c in schema.LGSR_CONTRACT.columns
        ],
        "value_aliases": ingest.VALUE_ALIASES,
        "divisions": list(DIVISIONS),
        "classes": list(CLASSES),
    }


def disagreement(reference: pd.DataFrame, folder: Path) -> tuple[int, float, int]:
    """Against the project's gold: baskets missing on either side, the largest
    relative difference over :data:`COLUMNS`, and cells where one side is null."""
    weeks = ds.partitioning(pa.schema([("shop_week", pa.int64())]), flavor="hive")
    theirs = ds.dataset(folder, format="parquet", partitioning=weeks).to_table()
    theirs = theirs.select(["basket_key", *COLUMNS]).to_pandas()
    both = reference.set_index("basket_key")[list(COLUMNS)].join(
        theirs.set_index("basket_key"), how="outer", rsuffix=" (engine)"
    )
    ours, their_keys = set(reference["basket_key"]), set(theirs["basket_key"])
    missing = len(ours ^ their_keys) + int(theirs["basket_key"].duplicated().sum())
    worst, null_mismatch = 0.0, 0
    for column in COLUMNS:
        a = both[column].to_numpy(dtype="float64", na_value=np.nan)
        b = both[f"{column} (engine)"].to_numpy(dtype="float64", na_value=np.nan)
        null_mismatch += int((np.isnan(a) != np.isnan(b)).sum())
        ok = ~np.isnan(a) & ~np.isnan(b)
        if ok.any():
            rel = np.abs(a[ok] - b[ok]) / np.maximum(1.0, np.abs(a[ok]))
            worst = max(worst, float(rel.max()))
    return missing, worst, null_mismatch


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--stores", type=int, default=700)
    parser.add_argument("--weeks", type=int, default=118)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    env = {
        **os.environ,
        **OFFLINE_ENV,
        "KEDRO_LOGGING_CONFIG": str(REPO / "conf/logging.yml"),
    }
    root = Path(tempfile.mkdtemp(prefix="mlops-engines-"))
    project = scratch_project(REPO, root)
    raw = project / "data/raw/retail"
    py = sys.executable
    weeks = str(root / "weeks")
    timed(generate_retail(weeks, args.weeks, args.customers, args.stores), project, env)
    raw.mkdir(parents=True, exist_ok=True)
    for f in sorted((root / "weeks").glob("transactions_*.csv")):
        shutil.copy(f, raw / f.name)
    damaged = damage(raw)
    spec = root / "spec.json"
    spec.write_text(json.dumps(contract_spec()))
    engines_py = str(peer_python("engines"))

    kedro = [
        py,
        "-m",
        "kedro",
        "run",
        "--pipeline",
        "retail.data_engineering",
        "--params",
        "retail.data_engineering.full_refresh=true",
    ]
    results: dict[str, list[tuple[float, float, dict]]] = {}
    # Timed runs first, the agreement after: a child forked while this process holds
    # the reference gold would report this process's memory as its own peak RSS.
    for r in range(args.rounds):
        seconds, gb, out = timed(
            [py, "-c", FLOOR, str(raw), str(root / "floor")], project, env
        )
        results.setdefault("floor", []).append((seconds, gb, {"rows": out.strip()}))
        seconds, gb, _ = timed(kedro, project, env)
        contract = json.loads(
            (project / "data/reports/retail/contract.json").read_text()
        )
        results.setdefault("project", []).append((seconds, gb, contract))
        for engine in ("duckdb", "polars", "arrow"):
            out_dir = root / f"{engine}-{r}"
            seconds, gb, out = timed(
                [
                    engines_py,
                    str(ENGINES / f"{engine}_de.py"),
                    "--raw",
                    str(raw),
                    "--spec",
                    str(spec),
                    "--out",
                    str(out_dir),
                ],
                project,
                env,
            )
            report = json.loads(out.strip().splitlines()[-1])
            results.setdefault(engine, []).append(
                (seconds, gb, report | {"out": out_dir})
            )
    gold_dir = project / "data/gold/retail/table"
    table = LakeTable(str(gold_dir), fsspec.filesystem("file"), str(gold_dir))
    reference = read_gold(table)
    for runs in results.values():
        for _, _, report in runs:
            out_dir = report.pop("out", None)
            if out_dir is not None and (out_dir / "gold").exists():
                report["agreement"] = disagreement(reference, out_dir / "gold")

    project_q = results["project"][0][2]["rows_quarantined"]
    print(
        f"\nBenchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{results['project'][0][2]['rows_in']:,} lines in {args.weeks} files, "
        f"{damaged} damaged; the project quarantined {project_q:,}, its gold has "
        f"{len(reference):,} baskets\n"
    )
    print(
        "| engine | wall time (s), per round | peak RSS (GB) | silver / gold (s) | "
        "quarantined | gold against the project's |"
    )
    print("|---|---|---|---|---|---|")
    floor = min(s for s, _, _ in results["floor"])
    for name, runs in results.items():
        walls = " / ".join(f"{s:.1f}" for s, _, _ in runs)
        rss = max(g for _, g, _ in runs)
        rep = runs[0][2]
        stages = (
            f"{rep['silver_s']} / {rep.get('gold_s', '-')}" if "silver_s" in rep else ""
        )
        quarantined = rep.get("rows_quarantined", "")
        agree = ""
        if "agreement" in rep:
            missing, worst, nulls = rep["agreement"]
            agree = (
                f"{missing} baskets missing, max rel. diff {worst:.1e}, "
                f"{nulls} nulls apart"
            )
        elif name not in ("floor", "project"):
            agree = "silver only"
        ratio = min(s for s, _, _ in runs) / floor
        print(
            f"| {name} ({ratio:.1f}x floor) | {walls} | {rss:.2f} | {stages} | "
            f"{quarantined} | {agree} |"
        )
    bad = [
        n
        for n, runs in results.items()
        for _, _, rep in runs
        if n not in ("floor", "project")
        and (
            rep["rows_quarantined"] != project_q
            or (
                "agreement" in rep
                and (
                    rep["agreement"][0]
                    or rep["agreement"][2]
                    or rep["agreement"][1] > 1e-12
                )
            )
        )
    ]
    shutil.rmtree(root, ignore_errors=True)
    if bad:
        print(f"\nDISAGREE with the project: {sorted(set(bad))}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
