"""How often does the drift stage catch each kind of drift, and how often does it
cry wolf? For every use case, through its data's drift knobs.

For each seed, a world of the use case is written as its raw files (retail's weekly
transactions, parking's daily readings, sentiment's daily real reviews), read
through the use case's own ingest, contract and gold. Everything before the newest
period is the history a champion was trained on: the lifecycle's split, one of the
use case's configured candidates (``Study.champion_candidate``) and the reference
sample the evaluation stage would bundle. The newest period is then written again
either undrifted (the world's own next period: any alarm is a false one) or with one
drift knob on from that period, and ``detect_drift`` judges it with the project's
parameters (``conf/base``), so the table measures what ``kedro run`` decides.

    .venv/bin/python -m mlops_platform.datagen.drift_power --use-case parking

Prints a Markdown table (docs/drift.md).
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from kedro.io import AbstractDataset, DataCatalog

from mlops_platform.contracts import enforce_contract
from mlops_platform.datagen import parking as parking_data
from mlops_platform.datagen import retail as retail_data
from mlops_platform.datagen import sentiment as sentiment_data
from mlops_platform.flavours import get_flavour
from mlops_platform.model_store import Bundle
from mlops_platform.params import DataEngineeringParams, DriftParams, TrainingParams
from mlops_platform.pipelines.data_engineering.nodes import split_by_time
from mlops_platform.pipelines.drift.nodes import _batch_kind, detect_drift
from mlops_platform.pipelines.evaluation.nodes import drift_reference, schema_options
from mlops_platform.pipelines.training.nodes import train_candidates
from mlops_platform.use_cases import get_use_case
from mlops_platform.use_cases.base import UseCase

Knobs = dict[str, Any] | None
#: (folder, seed, sizes, knobs on the newest period or None) -> writes raw files
Writer = Callable[[Path, int, dict[str, Any], Knobs], None]


@dataclass(frozen=True)
class Study:
    """One use case's drift scenarios: how to write a world, at which sizes, with
    which knobs, and which configured candidate stands for the champion."""

    use_case: str
    write: Writer
    scales: dict[str, dict[str, Any]]
    scenarios: dict[str, Knobs]
    # A candidate of parameters_training.yml, fitted as the lifecycle would (the
    # champion's own predictions and errors feed prediction and performance drift).
    champion_candidate: str
    period: str  # what one period is, for the printout


@dataclass
class Tally:
    detected: int = 0
    runs: int = 0
    # batches with no row in service (every car park closed): not judged, not runs
    not_judged: int = 0
    # the seeds whose verdict went against the scenario (an alarm on an ordinary
    # batch, a miss on a drifted one), with the batch's kind of period
    wrong: list[str] = field(default_factory=list)
    ordinary: bool = False  # the scenario without a knob (its detections: alarms)
    by: dict[str, int] = field(default_factory=dict)
    joint_auc: list[float] = field(default_factory=list)
    drifted_share: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class ProjectParams:
    data_engineering: DataEngineeringParams
    drift: DriftParams
    training: TrainingParams
    raw_files: dict[str, Any]  # the catalog entry kedro run reads raw files with


# ------------------------------------------------------------------ the worlds
def _write_retail(out: Path, seed: int, size: dict[str, Any], knobs: Knobs) -> None:
    weeks = size["weeks"]
    last = retail_data.week_code(retail_data.FIRST_WEEK, weeks - 1)
    drift = retail_data.DriftSpec(start_week=last, **(knobs or {}))
    sizes = {k: v for k, v in size.items() if k != "weeks"}
    cfg = retail_data.RetailConfig(seed=seed, weeks=weeks, drift=drift, **sizes)
    retail_data.generate(cfg, out, progress=False)


def _write_parking(out: Path, seed: int, size: dict[str, Any], knobs: Knobs) -> None:
    # The newest day cycles through the week with the seed: a Sunday's readings are
    # judged as often as a Thursday's.
    days = size["days"] + seed % 7
    first = date.fromisoformat(parking_data.FIRST_DAY)
    last = (first + timedelta(days=days - 1)).isoformat()
    drift = parking_data.ParkingDrift(start_day=last, **(knobs or {}))
    cfg = parking_data.ParkingConfig(
        seed=seed, days=days, car_parks=size["car_parks"], drift=drift
    )
    parking_data.generate(cfg, out)


@functools.cache
def _reviews() -> pd.DataFrame:
    return sentiment_data.load_package()


def drifted_reviews(
    day: pd.DataFrame, seed: int, knobs: dict[str, Any]
) -> pd.DataFrame:
    """The newest day's reviews with one knob on: ``rotten_tomatoes`` (this share
    of the day replaced by Rotten Tomatoes sentences, another site's short texts) or
    ``positive_share`` (reviews of the other class dropped until positives make
    this share of the day)."""
    rng = np.random.default_rng(seed)
    if set(knobs) == {"rotten_tomatoes"}:
        n = round(knobs["rotten_tomatoes"] * len(day))
        pool = _reviews()[_reviews()["source"] == "rotten_tomatoes"]
        replaced = rng.choice(len(day), size=n, replace=False)
        kept = day.drop(day.index[replaced])
        new = pool.iloc[rng.choice(len(pool), size=n, replace=False)]
        return pd.concat([kept, new]).sample(frac=1.0, random_state=seed)
    if set(knobs) == {"positive_share"}:
        share = knobs["positive_share"]
        pos, neg = day[day["label"] == 1], day[day["label"] == 0]
        neg = neg.iloc[: round(len(pos) * (1 - share) / share)]
        return pd.concat([pos, neg]).sample(frac=1.0, random_state=seed)
    raise ValueError(f"sentiment knobs {knobs}: rotten_tomatoes or positive_share")


def _write_sentiment(out: Path, seed: int, size: dict[str, Any], knobs: Knobs) -> None:
    plan = sentiment_data.Plan(
        days=size["days"], first_day="2026-11-01", seed=seed, limit=size.get("limit")
    )
    batches = sentiment_data.deal(_reviews(), plan)
    out.mkdir(parents=True, exist_ok=True)
    for k, part in enumerate(batches):
        rows = (
            drifted_reviews(part, seed, knobs) if knobs and k == plan.days - 1 else part
        )
        sentiment_data.write_reviews(rows, out / f"reviews_{plan.day(k):%Y%m%d}.csv")


STUDIES: dict[str, Study] = {
    study.use_case: study
    for study in (
        Study(
            use_case="retail",
            write=_write_retail,
            # make run's world, and a small retailer's (about 600 baskets a week)
            scales={
                "default": {"weeks": 6, "customers": 3000, "stores": 120},
                "small": {"weeks": 6, "customers": 700, "stores": 50},
            },
            scenarios={
                "none (false alarms)": None,
                "price x1.09 (price_inflation 0.3)": {"price_inflation": 0.3},
                "price x1.18 (price_inflation 0.6)": {"price_inflation": 0.6},
                "concept: tier match 0.75 -> 0.65 (concept 0.5)": {"concept": 0.5},
                "concept: tier match 0.75 -> 0.55 (concept 1.0)": {"concept": 1.0},
                "new products on 25% of lines (new_products 0.5)": {
                    "new_products": 0.5
                },
                "new products on 50% of lines (new_products 1.0)": {
                    "new_products": 1.0
                },
            },
            # the performance check reads the champion's macro F1 on the week
            champion_candidate="hist_gradient_boosting",
            period="week",
        ),
        Study(
            use_case="parking",
            write=_write_parking,
            # make run's world; a small operator's (2 car parks, 3 weeks); plus
            # 0-6 days by seed
            scales={
                "default": {"days": 45, "car_parks": 4},
                "small": {"days": 21, "car_parks": 2},
            },
            scenarios={
                "none (false alarms)": None,
                "demand -20% (demand_shift 0.5)": {"demand_shift": 0.5},
                "demand -40% (demand_shift 1.0)": {"demand_shift": 1.0},
                "largest car park +50% spaces (capacity_change 1.0)": {
                    "capacity_change": 1.0
                },
                "a new car park (new_car_park 1.0)": {"new_car_park": 1.0},
                "event: +18 points of occupancy from noon (event_day 0.5)": {
                    "event_day": 0.5
                },
                "event: +36 points of occupancy from noon (event_day 1.0)": {
                    "event_day": 1.0
                },
                "one sensor: 30% stuck or zero (sensor_failure 0.5)": {
                    "sensor_failure": 0.5
                },
                "one sensor: 60% stuck or zero (sensor_failure 1.0)": {
                    "sensor_failure": 1.0
                },
            },
            champion_candidate="hist_gradient_boosting",
            period="day",
        ),
        Study(
            use_case="sentiment",
            write=_write_sentiment,
            # make run's days (1,250 reviews); a small site's (250 a day)
            scales={
                "default": {"days": 20},
                "small": {"days": 20, "limit": 5000},
            },
            scenarios={
                "none (false alarms)": None,
                "Rotten Tomatoes sentences: 30% of the day": {"rotten_tomatoes": 0.3},
                "Rotten Tomatoes sentences: the whole day": {"rotten_tomatoes": 1.0},
                "positives 50% -> 70% of the day": {"positive_share": 0.7},
                "positives 50% -> 90% of the day": {"positive_share": 0.9},
            },
            champion_candidate="nbsvm",
            period="day",
        ),
    )
}


# ------------------------------------------------------------------ measuring
def gold_of(use_case: UseCase, folder: Path, params: ProjectParams) -> pd.DataFrame:
    """The folder's raw files read by the project's own ``<use case>.raw_files``
    catalog entry (its path swapped for the folder), then the use case's ingest,
    contract and gold."""
    entry = {**params.raw_files, "path": str(folder)}
    parts = AbstractDataset.from_config(f"{use_case.name}.raw_files", entry).load()
    raw, _ = use_case.ingest(parts)
    valid = enforce_contract(raw, use_case.contract).valid
    return use_case.build_gold(valid, params.data_engineering.gold)


def fit_champion(
    use_case: UseCase,
    history: pd.DataFrame,
    params: ProjectParams,
    candidate: str,
) -> Bundle:
    """The bundle a lifecycle run on ``history`` would promote, with one candidate:
    split as configured, fitted (and refitted) by the training node, scored on the
    held-out periods, with the reference sample the evaluation stage keeps."""
    train, validation, test, _, _ = split_by_time(
        use_case, history, params.data_engineering
    )
    one = params.training.model_copy(
        update={"candidates": {candidate: params.training.candidates[candidate]}}
    )
    challenger, _ = train_candidates(
        use_case, train, validation, {"train": True, "reason": "power study"}, one
    )
    reference = drift_reference(
        use_case, train, validation, challenger.training_periods, params.drift
    )
    task, flavour = use_case.task, get_flavour(challenger.flavour or "sklearn")
    pred = task.predict(flavour, challenger.model, use_case.model_input(test))
    y, periods = test[use_case.label], test[use_case.time_column]
    metrics = {
        "test": task.scores(y, pred),
        "by_period": {
            **challenger.validation_by_period,
            **task.scores_by_period(y, pred, periods),
        },
    }
    manifest = {
        "model": {"flavor": challenger.flavour},
        "training_periods": challenger.training_periods,
    }
    # the options a promoted bundle records (feature definitions included)
    schema = {"options": schema_options(use_case, train)}
    return Bundle(
        use_case.name, "v0001", manifest, challenger.model, schema, metrics, {},
        reference,
    )  # fmt: skip


def causes(report: dict[str, Any], params: DriftParams) -> list[str]:
    """Which of the drift stage's causes fired (drift.json's verdict inputs). With
    ``combine_causes``, the one test's largest cause (a feature, the label or the
    series check) when it fired, and the performance check."""
    out = []
    combined = report.get("combined")
    if combined is not None:
        if combined["drifted"]:
            largest = combined["largest"]
            out.append(largest if largest in ("label", "series") else "feature")
        if report.get("performance_drift"):
            out.append("performance")
        return out
    if report["drifted_share"] >= params.drifted_feature_share:
        out.append("feature share")
    if report["severe_features"]:
        out.append("severe feature")
    if report["label_drift"]:
        out.append("label")
    if report.get("series_drift"):
        out.append("series")
    if report.get("performance_drift"):
        out.append("performance")
    if report.get("joint_drift"):
        out.append("joint")
    return out


def measure(
    study: Study,
    seeds: list[int],
    scale: str,
    params: ProjectParams,
    scenarios: dict[str, Knobs] | None = None,
) -> dict[str, Tally]:
    use_case = get_use_case(study.use_case)
    scenarios = study.scenarios if scenarios is None else scenarios
    size = study.scales[scale]
    tallies = {name: Tally() for name in scenarios}
    period = use_case.time_column
    for seed in seeds:
        with tempfile.TemporaryDirectory() as tmp:
            study.write(Path(tmp), seed, size, None)
            world = gold_of(use_case, Path(tmp), params)
        last = world[period].max()
        champion = fit_champion(
            use_case, world[world[period] < last], params, study.champion_candidate
        )
        for name, knobs in scenarios.items():
            gold = world
            if knobs is not None:
                with tempfile.TemporaryDirectory() as tmp:
                    study.write(Path(tmp), seed, size, knobs)
                    gold = gold_of(use_case, Path(tmp), params)
            latest = gold[gold[period] == last].reset_index(drop=True)
            report, _ = detect_drift(use_case, latest, champion, params.drift)
            t = tallies[name]
            if report["status"] == "out_of_service":
                t.not_judged += 1
                continue
            t.runs += 1
            t.detected += bool(report["drift_detected"])
            t.ordinary = knobs is None
            if bool(report["drift_detected"]) != (knobs is not None):
                kind = _batch_kind(use_case, latest)
                t.wrong.append(f"{seed}" + (f" ({kind})" if kind else ""))
            t.drifted_share.append(float(report["drifted_share"]))
            if report.get("joint"):
                t.joint_auc.append(float(report["joint"]["auc"]))
            for cause in causes(report, params.drift):
                t.by[cause] = t.by.get(cause, 0) + 1
    return tallies


def table(results: dict[str, dict[str, Tally]]) -> str:
    lines = [
        "| scale | scenario | detected | by cause (runs) | drifted features, "
        "median share | joint AUC median (max) |",
        "|---|---|---|---|---|---|",
    ]
    for scale, tallies in results.items():
        for name, t in tallies.items():
            by = ", ".join(f"{k} {v}" for k, v in sorted(t.by.items())) or "-"
            auc = (
                f"{np.median(t.joint_auc):.3f} ({max(t.joint_auc):.3f})"
                if t.joint_auc
                else "-"
            )
            share = f"{np.median(t.drifted_share):.2f}" if t.drifted_share else "-"
            closed = f", {t.not_judged} not judged (closed)" if t.not_judged else ""
            lines.append(
                f"| {scale} | {name} | {t.detected}/{t.runs} "
                f"({100 * t.detected / max(1, t.runs):.0f}%{closed}) | {by} | "
                f"{share} | {auc} |"
            )
    wrong = [
        f"- {scale}, {name}: {'alarms' if t.ordinary else 'missed'} on seeds "
        f"{', '.join(t.wrong)}"
        for scale, tallies in results.items()
        for name, t in tallies.items()
        if t.wrong
    ]
    return "\n".join([*lines, "", *wrong] if wrong else lines)


def project_params(use_case: str, project: Path | None = None) -> ProjectParams:
    """The use case's parameters as ``kedro run`` reads them (base environment)."""
    from mlops_platform.config import config_loader  # noqa: PLC0415

    loader = config_loader(project or Path.cwd())
    conf = loader["parameters"][use_case]
    catalog = DataCatalog.from_config(
        loader["catalog"], credentials=loader["credentials"]
    )
    return ProjectParams(
        data_engineering=DataEngineeringParams(**conf["data_engineering"]),
        drift=DriftParams(**conf["drift"]),
        training=TrainingParams(**conf["training"]),
        raw_files=catalog.config_resolver.resolve_pattern(f"{use_case}.raw_files"),
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--use-case", choices=sorted(STUDIES), required=True)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=100)
    ap.add_argument("--scale", choices=["default", "small", "both"], default="both")
    ap.add_argument(
        "--scenario",
        action="append",
        metavar="TEXT",
        help="only the scenarios whose name contains TEXT (repeatable; default all)",
    )
    args = ap.parse_args(argv)
    study = STUDIES[args.use_case]
    params = project_params(study.use_case)
    scales = list(study.scales) if args.scale == "both" else [args.scale]
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    scenarios = {
        name: knobs
        for name, knobs in study.scenarios.items()
        if not args.scenario or any(t in name for t in args.scenario)
    }
    if not scenarios:
        ap.error(f"no scenario of {study.use_case} matches {args.scenario}")
    started = time.time()
    results = {s: measure(study, seeds, s, params, scenarios) for s in scales}
    sys.stdout.write(
        f"{table(results)}\n\n{study.use_case}: {len(seeds)} seeds "
        f"({seeds[0]}-{seeds[-1]}), the newest {study.period} is the batch, "
        f"{time.time() - started:.0f} s\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
