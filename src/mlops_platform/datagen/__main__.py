"""CLI: ``python -m mlops_platform.datagen retail --out data/raw/retail ...``."""

from __future__ import annotations

import argparse
import logging
import sys

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
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    return _retail(args)


if __name__ == "__main__":
    sys.exit(main())
