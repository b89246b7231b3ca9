"""How often does the drift stage catch each kind of drift, and how often does it
cry wolf? (retail, through the generator's drift knobs)

For each world seed: the reference is the world's first weeks (the champion's
training sample, as ``prepare_promotion`` keeps it); the newest week is generated
again from the same world either undrifted (another sample seed: any alarm is a
false one) or with one knob on from that week. ``detect_drift`` runs with the
project's parameters (conf/base/parameters_drift.yml), so the table measures what
``kedro run`` decides.

    .venv/bin/python -m mlops_platform.datagen.drift_power --seeds 20 --scale default

Prints a Markdown table (docs/drift.md).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlops_platform.contracts import enforce_contract
from mlops_platform.datagen.retail import DriftSpec, RetailConfig, generate
from mlops_platform.model_store import Bundle
from mlops_platform.params import DriftParams
from mlops_platform.pipelines.drift.nodes import detect_drift
from mlops_platform.use_cases.retail import RetailUseCase

#: Scales: make run's world, and a small one (a few hundred baskets a week).
SCALES: dict[str, dict[str, Any]] = {
    "default": {"customers": 3000, "stores": 120},
    "small": {"customers": 700, "stores": 50},
}

#: name -> DriftSpec knobs on the newest week (None: undrifted, another sample).
SCENARIOS: dict[str, dict[str, Any] | None] = {
    "none (false alarms)": None,
    "price x1.18 (price_inflation 0.6)": {"price_inflation": 0.6},
    "concept: items match the basket tier 0.75 -> 0.55 (concept 1.0)": {"concept": 1.0},
    "new products: 30% of lines (new_products 1.0)": {"new_products": 1.0},
}


@dataclass
class Tally:
    detected: int = 0
    runs: int = 0
    by: dict[str, int] = field(default_factory=dict)
    joint_auc: list[float] = field(default_factory=list)


def _gold(use_case: RetailUseCase, cfg: RetailConfig) -> pd.DataFrame:
    with tempfile.TemporaryDirectory() as tmp:
        generate(cfg, tmp, progress=False)
        parts = {p.stem: p.read_bytes for p in sorted(Path(tmp).glob("*.csv"))}
        raw, _ = use_case.ingest(parts)
    return use_case.build_gold(enforce_contract(raw, use_case.contract).valid)


def _causes(report: dict[str, Any], params: DriftParams) -> list[str]:
    out = []
    if report["drifted_share"] >= params.drifted_feature_share:
        out.append("feature share")
    if report["severe_features"]:
        out.append("severe feature")
    if report["label_drift"]:
        out.append("label")
    if report.get("joint_drift"):
        out.append("joint")
    return out


def measure(
    seeds: list[int],
    scale: str,
    weeks: int,
    params: DriftParams,
    scenarios: dict[str, dict[str, Any] | None] = SCENARIOS,
) -> dict[str, Tally]:
    use_case = RetailUseCase()
    tallies = {name: Tally() for name in scenarios}
    size = SCALES[scale]
    for seed in seeds:
        world = _gold(use_case, RetailConfig(seed=seed, weeks=weeks, **size))
        last = int(world[use_case.time_column].max())
        ref = world[
            (world[use_case.time_column] < last)
            & ~world[use_case.label].isin(use_case.excluded_labels)
        ]
        ref = ref[[*use_case.features, use_case.time_column, use_case.label]]
        if len(ref) > params.reference_sample_rows:
            ref = ref.sample(params.reference_sample_rows, random_state=0)
        champion = Bundle("retail", "v0001", {}, None, {}, {}, {}, ref)
        for name, knobs in scenarios.items():
            cfg = (
                RetailConfig(seed=seed + 10_000, world_seed=seed, weeks=weeks, **size)
                if knobs is None
                else RetailConfig(
                    seed=seed,
                    weeks=weeks,
                    drift=DriftSpec(start_week=last, **knobs),
                    **size,
                )
            )
            gold = _gold(use_case, cfg)
            latest = gold[gold[use_case.time_column] == last]
            report, _ = detect_drift(use_case, latest, champion, params)
            t = tallies[name]
            t.runs += 1
            t.detected += bool(report["drift_detected"])
            if report.get("joint"):
                t.joint_auc.append(float(report["joint"]["auc"]))
            for cause in _causes(report, params):
                t.by[cause] = t.by.get(cause, 0) + 1
    return tallies


def table(results: dict[str, dict[str, Tally]]) -> str:
    lines = [
        "| scale | scenario | detected | by cause (runs) | joint AUC median (max) |",
        "|---|---|---|---|---|",
    ]
    for scale, tallies in results.items():
        for name, t in tallies.items():
            causes = ", ".join(f"{k} {v}" for k, v in sorted(t.by.items())) or "-"
            auc = (
                f"{np.median(t.joint_auc):.3f} ({max(t.joint_auc):.3f})"
                if t.joint_auc
                else "-"
            )
            lines.append(
                f"| {scale} | {name} | {t.detected}/{t.runs} "
                f"({100 * t.detected / max(1, t.runs):.0f}%) | {causes} | {auc} |"
            )
    return "\n".join(lines)


def project_params(project: Path | None = None) -> DriftParams:
    """Retail's drift parameters as ``kedro run`` reads them (base environment)."""
    from mlops_platform.config import config_loader  # noqa: PLC0415

    loader = config_loader(project or Path.cwd())
    return DriftParams(**loader["parameters"]["retail"]["drift"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=100)
    ap.add_argument("--weeks", type=int, default=6)
    ap.add_argument("--scale", choices=[*SCALES, "both"], default="both")
    args = ap.parse_args(argv)
    params = project_params()
    scales = list(SCALES) if args.scale == "both" else [args.scale]
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    started = time.time()
    results = {s: measure(seeds, s, args.weeks, params) for s in scales}
    sys.stdout.write(
        f"{table(results)}\n\n{len(seeds)} world seeds ({seeds[0]}-{seeds[-1]}), "
        f"{args.weeks} weeks (the newest is the batch), "
        f"{time.time() - started:.0f} s\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
