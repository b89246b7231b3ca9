"""LGSR-scale benchmark: wall time and peak memory per pipeline (not a test).

    python benchmarks/lifecycle_benchmark.py [--customers 5000 --weeks 117]

Generates about 2.67 million transaction lines (the size of the seed's
transaction.csv, probably the 5,000-customer sample over 117 weeks) into a temporary
copy of the project, then in separate processes, one after the other:

1. the floor: read every weekly CSV with pyarrow and write it as Parquet;
2. ``kedro run --pipeline retail.<stage>`` for data_engineering, drift, training,
   evaluation.

Each step's wall time and peak resident memory (that process's ru_maxrss, from
``os.wait4``) are printed as
a Markdown table to paste into docs/benchmarks.md, with the date and the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from mlops_platform.offline import OFFLINE_ENV
from mlops_platform.scratch import scratch_project

REPO = Path(__file__).resolve().parents[1]
STAGES = ("data_engineering", "drift", "training", "evaluation", "reporting")

FLOOR = """
import sys, pathlib, pyarrow.csv as pc, pyarrow.parquet as pq
src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
dst.mkdir(parents=True, exist_ok=True)
rows = 0
for f in sorted(src.glob("transactions_*.csv")):
    t = pc.read_csv(f)
    rows += t.num_rows
    pq.write_table(t, dst / (f.stem + ".parquet"))
print(rows)
"""


def generate_retail(out: str, weeks: int, customers: int, stores: int) -> list[str]:
    """The command that writes ``weeks`` weekly LGSR-like files into ``out``."""
    return [
        sys.executable, "-m", "mlops_platform.datagen", "retail", "--out", out,
        "--weeks", str(weeks), "--customers", str(customers), "--stores", str(stores),
        "--quiet",
    ]  # fmt: skip


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """Run ``cmd``; return seconds, that process's peak RSS in GB, and its stdout."""
    with (
        tempfile.TemporaryFile(mode="w+") as out,
        tempfile.TemporaryFile(mode="w+") as err,
    ):
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read()
        if proc.returncode != 0:
            sys.stderr.write(stdout[-3000:] + err.read()[-3000:])
            raise SystemExit(f"failed: {' '.join(cmd)}")
    return seconds, usage.ru_maxrss / 1024 / 1024, stdout


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--weeks", type=int, default=117)
    parser.add_argument("--stores", type=int, default=700)
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary project"
    )
    parser.add_argument(
        "--params",
        default=None,
        help="given to every kedro run, e.g. "
        "retail.data_engineering.split.train_periods=null",
    )
    args = parser.parse_args()
    env = {
        **os.environ,
        **OFFLINE_ENV,
        "KEDRO_LOGGING_CONFIG": str(REPO / "conf/logging.yml"),
    }
    root = Path(tempfile.mkdtemp(prefix="mlops-bench-"))
    project = scratch_project(REPO, root)
    py = sys.executable
    rows = []
    s, _, out = timed(
        generate_retail("data/raw/retail", args.weeks, args.customers, args.stores),
        project,
        env,
    )
    print(out.strip())
    lines = int(out.split(":")[1].split("lines")[0].replace(",", "").strip())
    rows.append(("generate data (not part of the lifecycle)", s, None))
    s, gb, _ = timed(
        [py, "-c", FLOOR, "data/raw/retail", str(root / "floor")], project, env
    )
    rows.append(("floor: pyarrow read CSV + write Parquet", s, gb))
    floor = s
    total = 0.0
    for stage in STAGES:
        s, gb, _ = timed(
            [py, "-m", "kedro", "run", "--pipeline", f"retail.{stage}"]
            + (["--params", args.params] if args.params else []),
            project,
            env,
        )
        rows.append((f"kedro run --pipeline retail.{stage}", s, gb))
        total += s
    print(
        f"\nBenchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{lines:,} transaction lines ({args.weeks} weeks, {args.customers} customers, "
        f"{args.stores} stores)\n"
    )
    print("| step | wall time (s) | peak RSS (GB) |")
    print("|---|---|---|")
    for name, sec, gb in rows:
        print(f"| {name} | {sec:.1f} | {'' if gb is None else f'{gb:.2f}'} |")
    print(f"| whole lifecycle (all stages) | {total:.1f} | |")
    de = rows[2][1]
    print(f"\ndata_engineering / floor = {de / floor:.2f}x")
    if args.params:
        print(f"every kedro run given --params {args.params}")
    summary = project / "data/reports/retail/lifecycle.md"
    print("\n" + summary.read_text().strip())
    if args.keep:
        print(f"project kept at {project}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
