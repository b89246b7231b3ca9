"""``make aws-demo``: the retail lifecycle on an S3 data lake, on a moto server.

Starts a moto server on a loopback port (nothing reaches AWS), creates the lake bucket,
uploads ``data/raw/retail``, runs ``kedro run --env aws`` twice (the second run finds
the champion and checks drift), and prints where every artifact landed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from mlops_platform.aws.moto_lake import (
    create_bucket,
    lake_env,
    list_keys,
    moto_server,
    read_json,
    upload_folder,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bucket", default="mlops-demo-lake")
    parser.add_argument("--prefix", default="mlops")
    parser.add_argument("--raw", default="data/raw/retail")
    args = parser.parse_args(argv)
    raw = Path(args.raw)
    if not any(raw.glob("transactions_*.csv")):
        print(f"no raw data in {raw}: run `make data` (or `make run`) first")
        return 1
    kedro = str(Path(sys.executable).parent / "kedro")
    with tempfile.TemporaryDirectory() as tmp, moto_server() as endpoint:
        print(f"moto S3 at {endpoint}; bucket s3://{args.bucket}/{args.prefix}")
        create_bucket(endpoint, args.bucket)
        n = upload_folder(endpoint, raw, args.bucket, f"{args.prefix}/raw/retail")
        print(f"uploaded {n} raw files")
        env = {
            **os.environ,
            **lake_env(
                endpoint, args.bucket, args.prefix, f"sqlite:///{tmp}/mlflow.db"
            ),
        }
        for attempt in (1, 2):
            print(f"\n== kedro run --env aws --pipeline retail ({attempt}/2)")
            done = subprocess.run(
                [kedro, "run", "--env", "aws", "--pipeline", "retail"],
                env=env,
                check=False,
            )
            if done.returncode:
                return done.returncode
        keys = list_keys(endpoint, args.bucket, args.prefix + "/")
        print(f"\n{len(keys)} objects under s3://{args.bucket}/{args.prefix}/:")
        groups: dict[str, int] = {}
        for k in keys:
            parts = k.removeprefix(args.prefix + "/").split("/")
            depth = 2 if parts[0] == "mlflow" else min(3, len(parts) - 1)
            group = "/".join(parts[:depth])
            groups[group] = groups.get(group, 0) + 1
        for group, count in sorted(groups.items()):
            print(f"  {group}/  ({count})")
        pointer = read_json(
            endpoint, args.bucket, f"{args.prefix}/models/production/retail.json"
        )
        print(f"\nproduction retail model: {pointer['version']} ({pointer['reason']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
