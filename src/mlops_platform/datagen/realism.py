"""Compare generated LGSR data with a real week: marginal shares and basket structure.

``python -m mlops_platform.datagen.realism GENERATED_DIR REAL_CSV`` prints the table
that docs/datagen.md shows; the test suite asserts the tolerances.
``python -m mlops_platform.datagen.realism curve REAL_CSV`` prints the model's lead
over the segment rule by training baskets (the learning curve), real and generated.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from mlops_platform.use_cases.retail.ingest import BASKET_IDENTITY

LINE_COLUMNS = (
    "SHOP_WEEKDAY",
    "QUANTITY",
    "BASKET_SIZE",
    "BASKET_TYPE",
    "BASKET_DOMINANT_MISSION",
    "STORE_FORMAT",
    "CUST_PRICE_SENSITIVITY",
    "CUST_LIFESTAGE",
    "BASKET_PRICE_SENSITIVITY",
    "PROD_CODE_40",
)
# Lines of one basket, when BASKET_ID may have lost its digits (as in the real sample);
# the customer segment is kept as a column for the label-strength statistic.
_IDENTITY = (
    *(c for c in BASKET_IDENTITY if c != "BASKET_ID"),
    "CUST_PRICE_SENSITIVITY",
)


def read_lines(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    files = sorted(path.glob("transactions_*.csv")) if path.is_dir() else [path]
    return pd.concat(
        [pd.read_csv(f, dtype=str, keep_default_na=False) for f in files],
        ignore_index=True,
    )


def line_shares(df: pd.DataFrame) -> dict[str, pd.Series]:
    out = {}
    for col in LINE_COLUMNS:
        values = df[col].replace({"": "<blank>", "Non Food": "Nonfood"})
        if col == "QUANTITY":
            values = values.where(values.isin(["1", "3"]), "other")
        out[col] = values.value_counts(normalize=True)
    return out


def baskets_of(df: pd.DataFrame) -> pd.DataFrame:
    """One row per basket (lines grouped by the basket's identity): lines, spend,
    the customer's segment and the basket's label."""
    d = df.assign(SPEND=df["SPEND"].astype(float))
    return (
        d.groupby(list(_IDENTITY), dropna=False)
        .agg(lines=("SPEND", "size"), spend=("SPEND", "sum"))
        .reset_index()
    )


def segment_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per basket, the unit the model predicts: the share of each basket label given
    the customer's segment (rows: customer LA/MM/UM; carded, labelled baskets)."""
    b = baskets_of(df)
    tiers = ["LA", "MM", "UM"]
    b = b[
        (b["CUST_CODE"] != "")
        & b["CUST_PRICE_SENSITIVITY"].isin(tiers)
        & b["BASKET_PRICE_SENSITIVITY"].isin(tiers)
    ]
    table = pd.crosstab(
        b["CUST_PRICE_SENSITIVITY"], b["BASKET_PRICE_SENSITIVITY"], normalize="index"
    )
    return table.reindex(index=tiers, columns=tiers, fill_value=0.0)


def customer_persistence(df: pd.DataFrame) -> dict[str, float]:
    """Beyond the segment, do a customer's baskets share a label? Over customers with
    at least two labelled baskets: the share of pairs of one customer's baskets with
    the same label, and the share expected if each basket drew its label from the
    customer's segment alone (the segment table); the excess is what a customer's
    own history could tell a model that the segment does not."""
    tiers = ["LA", "MM", "UM"]
    b = baskets_of(df)
    b = b[
        (b["CUST_CODE"] != "")
        & b["CUST_PRICE_SENSITIVITY"].isin(tiers)
        & b["BASKET_PRICE_SENSITIVITY"].isin(tiers)
    ]
    counts = pd.crosstab(b["CUST_CODE"], b["BASKET_PRICE_SENSITIVITY"])
    n = counts.sum(axis=1)
    multi = n >= 2
    counts, n = counts[multi], n[multi]
    same = ((counts * (counts - 1)).sum(axis=1) / (n * (n - 1))).mean()
    table = pd.crosstab(
        b["CUST_PRICE_SENSITIVITY"], b["BASKET_PRICE_SENSITIVITY"], normalize="index"
    )
    segment = b.groupby("CUST_CODE")["CUST_PRICE_SENSITIVITY"].first()[counts.index]
    expected = (table.pow(2).sum(axis=1))[segment].mean()
    return {
        "customer_pairs_same_label": float(same),
        "customer_pairs_same_label_from_segment": float(expected),
        "customer_pairs_excess": float(same - expected),
    }


def basket_stats(df: pd.DataFrame) -> dict[str, float]:
    d = df.assign(SPEND=df["SPEND"].astype(float))
    baskets = baskets_of(df)
    carded = baskets[baskets["CUST_CODE"] != ""]
    carded = carded[carded["BASKET_PRICE_SENSITIVITY"].isin(["LA", "MM", "UM"])]
    known = carded[carded["CUST_PRICE_SENSITIVITY"].isin(["LA", "MM", "UM"])]
    by_size = baskets.groupby("BASKET_SIZE")
    unit = d["SPEND"] / d["QUANTITY"].astype(float)
    med = unit.groupby(d["BASKET_PRICE_SENSITIVITY"]).median()
    return {
        "spend_median": float(d["SPEND"].median()),
        "spend_mean": float(d["SPEND"].mean()),
        "spend_p95": float(d["SPEND"].quantile(0.95)),
        "lines_per_L_basket": float(by_size["lines"].mean().get("L", float("nan"))),
        "lines_per_M_basket": float(by_size["lines"].mean().get("M", float("nan"))),
        "lines_per_S_basket": float(by_size["lines"].mean().get("S", float("nan"))),
        "small_shop_basket_share": float(
            (baskets["BASKET_TYPE"] == "Small Shop").mean()
        ),
        "label_equals_customer_segment": float(
            (
                known["CUST_PRICE_SENSITIVITY"] == known["BASKET_PRICE_SENSITIVITY"]
            ).mean()
        ),
        "unit_price_median_LA": float(med.get("LA", float("nan"))),
        "unit_price_median_UM": float(med.get("UM", float("nan"))),
        **customer_persistence(df),
    }


def compare(generated: pd.DataFrame, real: pd.DataFrame) -> pd.DataFrame:
    """One row per (column, value) share and per basket statistic: real, generated."""
    rows = []
    g, r = line_shares(generated), line_shares(real)
    for col in LINE_COLUMNS:
        for value in sorted(set(g[col].index) | set(r[col].index)):
            rows.append(
                {
                    "measure": f"{col}={value}",
                    "real": float(r[col].get(value, 0.0)),
                    "generated": float(g[col].get(value, 0.0)),
                }
            )
    gs, rs = basket_stats(generated), basket_stats(real)
    for key in rs:
        rows.append({"measure": key, "real": rs[key], "generated": gs[key]})
    gt, rt = segment_table(generated), segment_table(real)
    for customer in rt.index:
        for label in rt.columns:
            rows.append(
                {
                    "measure": f"per basket: label {label} | customer {customer}",
                    "real": float(rt.loc[customer, label]),
                    "generated": float(gt.loc[customer, label]),
                }
            )
    out = pd.DataFrame(rows)
    out["difference"] = out["generated"] - out["real"]
    return out


def lead_over_segment_rule(
    gold: pd.DataFrame,
    candidate: str = "hist_gradient_boosting",
    folds: int = 5,
    training_baskets: int | None = None,
    repeats: int = 1,
) -> dict[str, float]:
    """The protocol of docs/real-data.md at the unit the model predicts: on one week's
    labelled gold baskets, the macro F1 of the customer's own segment (MM where
    unknown) and of a project candidate (conf/base/parameters_training.yml) in
    cross-validation grouped by customer (anonymous baskets each on their own).

    ``training_baskets``: each training fold keeps whole customers, in a random
    order, until it has that many baskets (the learning curve: how the lead grows
    with the data a model sees); averaged over ``repeats`` orders.
    """
    import numpy as np  # noqa: PLC0415
    from sklearn.metrics import f1_score  # noqa: PLC0415
    from sklearn.model_selection import GroupKFold  # noqa: PLC0415

    from mlops_platform.config import config_loader  # noqa: PLC0415
    from mlops_platform.params import TrainingParams  # noqa: PLC0415
    from mlops_platform.use_cases.retail import RetailUseCase  # noqa: PLC0415

    uc = RetailUseCase()
    carded = gold["cust_code"].notna()
    if carded.any() and gold.loc[carded, "cust_price_sensitivity"].isna().all():
        raise ValueError(
            "the segment rule needs the customers' segment: build the week's gold "
            "with week_gold, or build_basket_features(..., customer_profile='line') "
            "(the pipeline's gold takes it as of the previous week, and one week has "
            "none)"
        )
    root = Path(__file__).resolve().parents[3]
    params = TrainingParams(**config_loader(root)["parameters"]["retail"]["training"])
    tiers = ["LA", "MM", "UM"]
    g = gold[gold["label"].isin(tiers)].reset_index(drop=True)
    y = g["label"].to_numpy()
    x = uc.model_input(g)
    # One week has no earlier week: the customer's history is missing for every
    # basket. A constant says the same to a model, and HistGradientBoosting cannot
    # bin a column with no value at all.
    empty = [c for c in uc.numeric_features if x[c].isna().all()]
    x[empty] = 0.0
    # the strong baseline the gates use (the training majority, MM, where unknown)
    rule = uc.baseline_predictions(g, g)[uc.strong_baseline]
    alone = pd.Series(np.arange(len(g)).astype(str))
    groups = g["cust_code"].astype(object).where(g["cust_code"].notna(), alone)
    groups = groups.to_numpy()
    scores, used = [], []
    for repeat in range(repeats):
        rng = np.random.default_rng(repeat)
        pred = np.empty(len(g), dtype=object)
        for fold, score in GroupKFold(folds).split(x, y, groups):
            if training_baskets is not None:
                if len(fold) < training_baskets:
                    raise ValueError(
                        f"a training fold has {len(fold)} baskets, fewer than "
                        f"training_baskets={training_baskets}"
                    )
                sizes = pd.Series(groups[fold]).value_counts()
                order = sizes.index.to_numpy()[rng.permutation(len(sizes))]
                enough = np.cumsum(sizes[order].to_numpy()) <= training_baskets
                fit = fold[np.isin(groups[fold], order[enough])]
            else:
                fit = fold
            used.append(len(fit))
            model = uc.candidates(params)[candidate].spec
            model.fit(x.iloc[fit], y[fit])
            pred[score] = model.predict(x.iloc[score])
        scores.append(float(f1_score(y, pred, average="macro")))
    rule_f1 = float(f1_score(y, rule, average="macro"))
    model_f1 = float(np.mean(scores))
    return {
        "baskets": len(g),
        "training_baskets": float(np.mean(used)),
        "rule": rule_f1,
        "model": model_f1,
        "lead": model_f1 - rule_f1,
    }


#: Training baskets of the learning curve: a real week's training folds hold about
#: 3,000 labelled baskets (3,775 in week 200607, 5-fold).
CURVE_SIZES = (500, 1000, 2000, 2800)


def week_gold(csv: str | Path) -> pd.DataFrame:
    """One weekly transactions file through the retail use case's ingest, contract
    and gold (the file is read as ``transactions_<SHOP_WEEK>.csv``)."""
    import tempfile  # noqa: PLC0415

    from mlops_platform.contracts import enforce_contract  # noqa: PLC0415
    from mlops_platform.use_cases.retail import RetailUseCase  # noqa: PLC0415
    from mlops_platform.use_cases.retail.features import (  # noqa: PLC0415
        build_basket_features,
    )

    uc = RetailUseCase()
    week = read_lines(csv)["SHOP_WEEK"].iloc[0]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"transactions_{week}.csv"
        path.write_bytes(Path(csv).read_bytes())
        raw, _ = uc.ingest({path.stem: path.read_bytes})
    # the study's protocol: the customer's segment as the lines give it (one week has
    # no earlier week to take it from, docs/online_features.md)
    valid = enforce_contract(raw, uc.contract).valid
    return build_basket_features(valid, customer_profile="line")


def learning_curve(
    real_csv: str | Path,
    worlds: tuple[int, ...] = (7, 8, 9),
    sizes: tuple[int, ...] = CURVE_SIZES,
    repeats: int = 3,
) -> pd.DataFrame:
    """The model's lead over the segment rule by training baskets, on the real week
    and on one generated week per world (6,000 customers: about as many labelled
    baskets as the real week), same protocol."""
    import tempfile  # noqa: PLC0415

    from mlops_platform.datagen.retail import RetailConfig, generate  # noqa: PLC0415

    weeks = {"real week": week_gold(real_csv)}
    for seed in worlds:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = RetailConfig(seed=seed, weeks=1, customers=6000, stores=240)
            generate(cfg, tmp, progress=False)
            weeks[f"generated, world {seed}"] = week_gold(
                next(Path(tmp).glob("transactions_*.csv"))
            )
    rows = []
    for name, gold in weeks.items():
        row: dict[str, object] = {"week": name}
        for n in sizes:
            lead = lead_over_segment_rule(gold, training_baskets=n, repeats=repeats)
            row[f"{n} baskets"] = lead["lead"]
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) == 2 and args[0] == "curve":
        sys.stdout.write(markdown(learning_curve(args[1])) + "\n")
        return 0
    if len(args) != 2:
        sys.stderr.write(
            "usage: realism GENERATED_DIR REAL_CSV | realism curve REAL_CSV\n"
        )
        return 2
    table = compare(read_lines(args[0]), read_lines(args[1]))
    sys.stdout.write(markdown(table) + "\n")
    return 0


def markdown(table: pd.DataFrame) -> str:
    """The table in Markdown, numbers to 3 decimals (pandas' to_markdown needs
    tabulate, which the project does not install)."""
    head = "| " + " | ".join(table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    rows = [
        "| "
        + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row)
        + " |"
        for row in table.itertuples(index=False)
    ]
    return "\n".join([head, rule, *rows])


if __name__ == "__main__":
    sys.exit(main())
