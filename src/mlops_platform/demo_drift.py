"""``make demo-drift``: new weeks arrive, drift is caught, a challenger is judged.

1. If there is no champion yet, the normal first run (``kedro run``).
2. A drifted week is appended to ``data/raw/retail`` (price inflation, a shift to
   less affluent shoppers and to convenience formats, weaker tier signal); ``kedro run``
   again: drift is reported, a challenger is trained and compared with the champion on
   the same (newest) test week, and the decision is printed.
3. An undrifted week (same distribution) is appended; ``kedro run``: no drift, the
   champion is kept.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mlops_platform.datagen.retail import DriftSpec, RetailConfig, generate, week_code
from mlops_platform.model_store import ModelStore

RAW = Path("data/raw/retail")
MODELS = "data/models"


def _kedro_run(title: str) -> None:
    print(f"\n=== {title}: kedro run --pipeline retail", flush=True)
    subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--pipeline", "retail"], check=True
    )


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


def main() -> int:
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
