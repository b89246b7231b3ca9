"""What the engine scripts of benchmarks/engine_benchmark.py share: their command line
and their one JSON line of results (they run in ``.venv-peers/engines``, without the
project installed, so they import this from their own folder)."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Lap = Callable[[str], None]


def run(work: Callable[[Path, dict[str, Any], Path, Lap], dict[str, Any]]) -> int:
    """``--raw DIR --spec spec.json --out DIR``: run ``work``, which calls ``lap(name)``
    at the end of each stage; print its report with each stage's seconds."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--raw", type=Path, required=True)
    parser.add_argument("--spec", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    spec = json.loads(args.spec.read_text())
    args.out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    last = [time.perf_counter()]

    def lap(name: str) -> None:
        now = time.perf_counter()
        seconds[f"{name}_s"] = round(now - last[0], 2)
        last[0] = now

    report = work(args.raw, spec, args.out, lap)
    print(json.dumps(report | seconds))
    return 0
