"""Incremental data_engineering at LGSR scale: the cost of one new week against the
history already processed (not a test; figures go to docs/benchmarks.md).

    python benchmarks/incremental_benchmark.py [--customers 5000 --history 10 50 117]

Generates ``max(history) + 1`` weeks into a temporary copy of the project, then, in
fresh processes (``kedro run --pipeline retail.data_engineering``, the command a
scheduled run uses):

1. processes the first ``h`` weeks (not timed) and times the run that adds week
   ``h + 1``, for each ``h`` of ``--history`` (the lake grows between them);
2. times a full refresh of every week (``data_engineering.full_refresh=true``), the
   same refresh as a backfill in batches of ``--batch-mb`` (``python -m
   mlops_platform.backfill``; its gold must be the one-pass gold), the same gold on
   Spark in local mode (``mlops_platform.use_cases.retail.spark`` over
   the silver lake table; the JVM's memory is not in the driver's RSS) and the floor
   (pyarrow reads every weekly CSV and writes it as Parquet).

The weekly runs are given a training window of ``--window`` weeks
(``split.train_periods``). After each, the split node alone (``--nodes
retail.split_by_time``) runs twice on the same lake: with the window and with every
week (``train_periods=null``). ``--weekly-only`` skips step 2 except the floor.

Wall time includes the process start (Kedro, pandas, Great Expectations imports);
"pipeline" is the nodes' own time as the run logs it. Peak RSS is the process's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from lifecycle_benchmark import FLOOR, generate_retail, timed

from mlops_platform.offline import OFFLINE_ENV
from mlops_platform.scratch import scratch_project

REPO = Path(__file__).resolve().parents[1]


def gold_files(project: Path) -> dict[str, str]:
    """The gold table's parts and their files (named by the SHA-256 of their bytes)."""
    manifest = project / "data/gold/retail/table/_manifest.json"
    parts = json.loads(manifest.read_text())["parts"]
    return {name: entry["file"] for name, entry in parts.items()}


def print_weekly(title: str, rows: list[tuple]) -> None:
    print(f"\nBenchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {title}\n")
    print(
        "| weeks already processed | new week's lines | wall time (s) | "
        "pipeline (s) | peak RSS (GB) | gold |"
    )
    print("|---|---|---|---|---|---|")
    for h, s, p, g, n, mode in rows:
        print(f"| {h} | {n:,} | {s:.1f} | {p:.0f} | {g:.2f} | {mode} |")


def print_splits(splits: list[tuple]) -> None:
    print(
        "\nThe split node alone after each weekly run:\n\n"
        "| weeks in gold | training window (weeks) | weeks read | train rows | "
        "split node (s) | peak RSS (GB) | wall time (s) |"
    )
    print("|---|---|---|---|---|---|---|")
    for weeks, window, read, train, node, gb, wall in splits:
        print(
            f"| {weeks} | {window if window else 'every week'} | {read} | "
            f"{train:,} | {node:.1f} | {gb:.2f} | {wall:.1f} |"
        )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--stores", type=int, default=700)
    parser.add_argument("--history", type=int, nargs="+", default=[10, 50, 117])
    parser.add_argument(
        "--batch-mb",
        type=float,
        nargs="+",
        default=[100, 400],
        help="batch sizes of the full refresh as a backfill (python -m "
        "mlops_platform.backfill)",
    )
    parser.add_argument(
        "--window",
        type=int,
        default=52,
        help="the weekly runs' training window in weeks (split.train_periods)",
    )
    parser.add_argument(
        "--weekly-only",
        action="store_true",
        help="the weekly runs, the split's window and the floor only",
    )
    args = parser.parse_args()
    env = {
        **os.environ,
        **OFFLINE_ENV,
        "KEDRO_LOGGING_CONFIG": str(REPO / "conf/logging.yml"),
        "COLUMNS": "400",  # one log line each: the node seconds are parsed below
    }
    root = Path(tempfile.mkdtemp(prefix="mlops-incr-"))
    project = scratch_project(REPO, root)
    staged = root / "weeks"
    py = sys.executable
    weeks = max(args.history) + 1
    timed(
        generate_retail(str(staged), weeks, args.customers, args.stores), project, env
    )
    files = sorted(staged.glob("transactions_*.csv"))
    raw = project / "data/raw/retail"
    raw.mkdir(parents=True, exist_ok=True)
    run = [py, "-m", "kedro", "run", "--pipeline", "retail.data_engineering"]

    def deliver(upto: int) -> None:
        for f in files[:upto]:
            if not (raw / f.name).exists():
                shutil.copy(f, raw / f.name)

    def node_seconds(stdout: str) -> str:
        found = re.findall(
            r"node seconds \(inputs loaded, run, outputs saved\): (.*)", stdout
        )
        # the log line without the handler's "hooks.py:NNN" column
        return re.sub(r"\s+\S+\.py:\d+$", "", found[-1].strip()) if found else "-"

    def pipeline_seconds(stdout: str) -> float:
        found = re.findall(r"nodes done in (\d+) s", stdout)
        return float(found[-1]) if found else float("nan")

    def split_seconds(stdout: str) -> float:
        found = re.findall(r"retail\.split_by_time (\d+\.\d)", node_seconds(stdout))
        return float(found[-1]) if found else float("nan")

    title = (
        f"{platform.node()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {args.customers} customers, {args.stores} stores"
    )
    rows, splits = [], []
    split_only = [*run, "--nodes", "retail.split_by_time"]
    window = f"retail.data_engineering.split.train_periods={args.window}"
    every_week = "retail.data_engineering.split.train_periods=null"
    weekly = [*run, "--params", window]
    for h in sorted(args.history):
        deliver(h)
        timed(weekly, project, env)  # the history, processed (not timed)
        deliver(h + 1)
        seconds, gb, out = timed(weekly, project, env)
        last_weekly = out
        report = json.loads((project / "data/reports/retail/gold.json").read_text())
        lines = sum(1 for _ in open(files[h])) - 1
        rows.append((h, seconds, pipeline_seconds(out), gb, lines, report["mode"]))
        for params in (window, every_week):
            s_s, s_gb, s_out = timed([*split_only, "--params", params], project, env)
            split = json.loads((project / "data/reports/retail/split.json").read_text())
            splits.append(
                (h + 1, split["train_window"], split["gold_periods_read"],
                 split["rows"]["train"], split_seconds(s_out), s_gb, s_s)
            )  # fmt: skip
    if args.weekly_only:
        floor, _, floor_out = timed(
            [py, "-c", FLOOR, str(raw), str(root / "floor")], project, env
        )
        print_weekly(title, rows)
        print_splits(splits)
        print(f"\nfloor (the {h + 1} weeks): {floor:.1f} s, {floor_out.strip()} lines")
        shutil.rmtree(root, ignore_errors=True)
        return 0
    seconds, gb, out = timed(
        [*run, "--params", "retail.data_engineering.full_refresh=true"], project, env
    )
    one_pass = gold_files(project)
    backfills = []
    for mb in args.batch_mb:
        b_s, b_gb, b_out = timed(
            [py, "-m", "mlops_platform.backfill", "retail", "--batch-mb", str(mb),
             "--full-refresh"],
            project, env,
        )  # fmt: skip
        n = len(re.findall(r"retail backfill, batch \d+:", b_out))
        backfills.append((mb, b_s, b_gb, n, gold_files(project) == one_pass))
    spark_s, spark_gb, _ = timed(
        [py, "-m", "mlops_platform.use_cases.retail.spark", "--silver",
         "data/silver/retail/records", "--out", str(root / "spark-gold"),
         "--master", "local[2]"],
        project, env,
    )  # fmt: skip
    floor, floor_gb, floor_out = timed(
        [py, "-c", FLOOR, str(raw), str(root / "floor")], project, env
    )
    total_lines = int(floor_out.strip())
    print_weekly(title, rows)
    print(
        f"| full refresh of all {weeks} weeks | {total_lines:,} | {seconds:.1f} | "
        f"{pipeline_seconds(out):.0f} | {gb:.2f} | full |"
    )
    for mb, b_s, b_gb, n, same in backfills:
        print(
            f"| full refresh as a backfill, batches of {mb:g} MB ({n} runs) | "
            f"{total_lines:,} | {b_s:.1f} | | {b_gb:.2f} | "
            f"{'the one-pass gold' if same else 'DIFFERENT GOLD'} |"
        )
    print(
        f"| floor: pyarrow read CSV + write Parquet, {weeks} weeks | "
        f"{total_lines:,} | {floor:.1f} | | {floor_gb:.2f} | |"
    )
    print(
        f"| the same gold on Spark, local[2] (driver process only) | "
        f"{total_lines:,} | {spark_s:.1f} | | {spark_gb:.2f} | full |"
    )
    print(f"\nfull refresh / floor = {seconds / floor:.2f}x")
    print(f"full refresh, node seconds: {node_seconds(out)}")
    print(f"last weekly run, node seconds: {node_seconds(last_weekly)}")
    print_splits(splits)
    shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
