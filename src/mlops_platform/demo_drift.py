"""``make demo-drift [USE_CASE=retail|sentiment]``: new data arrives, drift is caught,
a challenger is judged.

Retail (generated weeks):

1. If there is no champion yet, the normal first run (``kedro run``).
2. A drifted week is appended to ``data/raw/retail`` (price inflation, a shift to
   less affluent shoppers and to convenience formats, weaker tier signal); ``kedro run``
   again: drift is reported, a challenger is trained and compared with the champion on
   the same (newest) test week, and the decision is printed.
3. An undrifted week (same distribution) is appended; ``kedro run``: no drift, the
   champion is kept.

Sentiment (real reviews, ``make run`` leaves the last planned IMDB day unwritten):

1. If there is no champion yet, ``kedro run --pipeline sentiment``.
2. A day of real Rotten Tomatoes sentences (another site, one-line snippets) is
   appended: the text statistics and the champion's accuracy on it show the shift.
3. The held-back day of real IMDB reviews is appended: no drift.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from mlops_platform.datagen import sentiment
from mlops_platform.datagen.retail import DriftSpec, RetailConfig, generate, week_code
from mlops_platform.model_store import ModelStore

RAW = Path("data/raw/retail")
MODELS = "data/models"


#: ``--params`` passed to every ``kedro run`` of the demo (``--params`` option).
EXTRA: list[str] = []


def _kedro_run(title: str, use_case: str = "retail") -> None:
    print(f"\n=== {title}: kedro run --pipeline {use_case}", flush=True)
    subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--pipeline", use_case, *EXTRA],
        check=True,
    )


def _verdict(use_case: str) -> str:
    reports = Path("data/reports") / use_case
    drift = json.loads((reports / "drift.json").read_text())
    promotion = json.loads((reports / "promotion_decision.json").read_text())
    moved = ", ".join(drift.get("drifted_features") or []) or "none"
    return (
        f"drift detected: {drift.get('drift_detected')} (moved: {moved}); "
        f"promotion: {promotion.get('reason')}"
    )


def sentiment_demo() -> int:
    raw = Path("data/raw/sentiment")
    if not (raw / sentiment.PROVENANCE).exists():
        print("data/raw/sentiment has no batches: run `make run`", file=sys.stderr)
        return 2
    store = ModelStore(MODELS, "sentiment")
    if store.current_version() is None:
        _kedro_run("first run (no champion yet)", "sentiment")
    before = store.current_version()
    day = sentiment.append_day(raw, "rotten_tomatoes")
    _kedro_run(f"a day of Rotten Tomatoes sentences ({day}) appended", "sentiment")
    print(_verdict("sentiment"), flush=True)
    after_shift = store.current_version()
    try:
        day = sentiment.append_day(raw, "imdb")
    except ValueError as exc:
        print(f"no held-back IMDB day left ({exc}): stopping here", flush=True)
        return 0
    _kedro_run(f"a day of real IMDB reviews ({day}) appended", "sentiment")
    print(_verdict("sentiment"), flush=True)
    print(
        f"\nchampion before: {before}; after the Rotten Tomatoes day: {after_shift}; "
        f"after the IMDB day: {store.current_version()}\n"
        "reports: data/reports/sentiment/drift_report.md, evaluation.json, "
        "lifecycle.md; audit: data/models/audit/sentiment.jsonl",
        flush=True,
    )
    return 0


def _next_week() -> int:
    meta = json.loads((RAW / "generator_config.json").read_text())
    return week_code(int(meta["last_week"]), 1)


def _append_week(drift: DriftSpec | None) -> int:
    meta = json.loads((RAW / "generator_config.json").read_text())
    week = _next_week()
    cfg = RetailConfig(
        seed=meta["seed"],
        world_seed=meta.get("world_seed"),
        customers=meta["customers"],
        stores=meta["stores"],
        products=meta["products"],
        first_week=week,
        weeks=1,
        drift=drift or DriftSpec(),
    )
    generate(cfg, RAW, progress=False)
    return week


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlops_platform.demo_drift")
    parser.add_argument("--use-case", choices=["retail", "sentiment"], default="retail")
    parser.add_argument(
        "--params", help="passed to every kedro run, as `kedro run --params`"
    )
    args = parser.parse_args(argv)
    EXTRA[:] = ["--params", args.params] if args.params else []
    if args.use_case == "sentiment":
        return sentiment_demo()
    if not (RAW / "generator_config.json").exists():
        print(
            "data/raw/retail has no generated data: run `make run` first",
            file=sys.stderr,
        )
        return 2
    store = ModelStore(MODELS, "retail")
    if store.current_version() is None:
        _kedro_run("first run (no champion yet)")
    before = store.current_version()
    week = _append_week(
        DriftSpec(
            start_week=_next_week(),
            tier_mix=0.8,
            price_inflation=0.5,
            store_format_mix=0.6,
            concept=0.5,
        )
    )
    _kedro_run(f"drifted week {week} appended")
    after_drift = store.current_version()
    week = _append_week(None)
    _kedro_run(f"undrifted week {week} appended")
    after_calm = store.current_version()
    print(
        f"\nchampion before: {before}; after the drifted week: {after_drift}; "
        f"after the undrifted week: {after_calm}\n"
        "reports: data/reports/retail/drift_report.md, evaluation.json, lifecycle.md; "
        "audit: data/models/audit/retail.jsonl",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
