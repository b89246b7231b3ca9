"""Silver transaction lines -> one gold row per basket, with the useful features."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlops_platform.use_cases.retail.ingest import BASKET_KEY, BASKET_KEY_REBUILT
from mlops_platform.use_cases.retail.schema import CLASSES, DIVISIONS

LABEL = "label"
TIME_COLUMN = "shop_week"
ID_COLUMNS = ("basket_key", "shop_week", "shop_date", "cust_code", "store_code")

SHARE_COLUMNS = (*tuple(f"share_{d.lower()}" for d in DIVISIONS), "share_other")
HISTORY_COLUMNS = (
    "cust_prev_baskets",
    "cust_prev_mean_spend",
    *(f"cust_prev_share_{c.lower()}" for c in CLASSES),
    "cust_days_since_prev",
)
NUMERIC_FEATURES = (
    "n_lines",
    "n_departments",
    "total_quantity",
    "total_spend",
    "unit_price_mean",
    "unit_price_median",
    "unit_price_std",
    "unit_price_min",
    "unit_price_max",
    *SHARE_COLUMNS,
    "shop_hour",
    "shop_weekday",
    *HISTORY_COLUMNS,
)
CATEGORICAL_FEATURES = (
    "basket_size",
    "basket_type",
    "basket_dominant_mission",
    "store_format",
    "store_region",
    "cust_price_sensitivity",
    "cust_lifestage",
)
# What each input means (the bundle's input schema carries these to the API docs).
DESCRIPTIONS = {
    "n_lines": "lines (products) in the basket",
    "n_departments": "distinct departments (PROD_CODE_20) in the basket",
    "total_quantity": "items in the basket (sum of QUANTITY)",
    "total_spend": "basket spend in GBP (sum of SPEND)",
    "unit_price_mean": "mean unit price (SPEND / QUANTITY) over the lines, GBP",
    "unit_price_median": "median unit price over the lines, GBP",
    "unit_price_std": "standard deviation of the unit prices (0 for one line)",
    "unit_price_min": "cheapest unit price in the basket, GBP",
    "unit_price_max": "dearest unit price in the basket, GBP",
    **{
        f"share_{d.lower()}": f"share of the basket's spend in division {d}"
        for d in DIVISIONS
    },
    "share_other": "spend share of divisions outside the named ones",
    "shop_hour": "hour of the basket (0-23)",
    "shop_weekday": "day of week, 1 = Sunday .. 7 = Saturday",
    "cust_prev_baskets": "the customer's earlier baskets; 0 for a new or anonymous one",
    "cust_prev_mean_spend": "mean spend of the customer's earlier baskets; null if "
    "none",
    **{
        f"cust_prev_share_{c.lower()}": f"share of the customer's earlier baskets "
        f"labelled {c}; null if none"
        for c in CLASSES
    },
    "cust_days_since_prev": "days since the customer's previous basket; null if none",
    "basket_size": "S, M or L",
    "basket_type": "Small Shop, Top Up or Full Shop",
    "basket_dominant_mission": "Fresh, Grocery, Mixed or Nonfood",
    "store_format": "LS, MS, SS or XLS",
    "store_region": "store region code such as E02",
    "cust_price_sensitivity": "the customer's own segment (LA, MM, UM, XX); null if "
    "the shopper has no loyalty card",
    "cust_lifestage": "YA, OA, YF, OF, PE, OT or XX; null if unknown",
}

_BASKET_ATTRIBUTES = {
    "SHOP_WEEK": "shop_week",
    "SHOP_DATE": "shop_date",
    "SHOP_WEEKDAY": "shop_weekday",
    "SHOP_HOUR": "shop_hour",
    "CUST_CODE": "cust_code",
    "CUST_PRICE_SENSITIVITY": "cust_price_sensitivity",
    "CUST_LIFESTAGE": "cust_lifestage",
    "BASKET_SIZE": "basket_size",
    "BASKET_TYPE": "basket_type",
    "BASKET_DOMINANT_MISSION": "basket_dominant_mission",
    "STORE_CODE": "store_code",
    "STORE_FORMAT": "store_format",
    "STORE_REGION": "store_region",
    "BASKET_PRICE_SENSITIVITY": LABEL,
    BASKET_KEY_REBUILT: "basket_key_rebuilt",
}


def build_basket_features(silver: pd.DataFrame) -> pd.DataFrame:
    """One row per basket: spend, counts, unit prices, category mix, context, history"""
    codes, keys = pd.factorize(silver[BASKET_KEY].astype("str"), sort=False)
    spend = silver["SPEND"].to_numpy(dtype="float64")
    quantity = silver["QUANTITY"].to_numpy(dtype="float64")
    work = pd.DataFrame(
        {
            "k": codes,
            "spend": spend,
            "qty": quantity,
            "up": spend / quantity,
            "dep": silver["PROD_CODE_20"].astype("str").to_numpy(),
            "div": silver["PROD_CODE_40"].astype("str").to_numpy(),
        }
    )
    grouped = work.groupby("k", sort=True)
    gold = grouped.agg(
        n_lines=("spend", "size"),
        total_spend=("spend", "sum"),
        total_quantity=("qty", "sum"),
        unit_price_mean=("up", "mean"),
        unit_price_median=("up", "median"),
        unit_price_std=("up", "std"),
        unit_price_min=("up", "min"),
        unit_price_max=("up", "max"),
        n_departments=("dep", "nunique"),
    )
    gold["unit_price_std"] = gold["unit_price_std"].fillna(0.0)

    division = work["div"].where(work["div"].isin(DIVISIONS), "other")
    by_div = (
        work.assign(div=division)
        .groupby(["k", "div"], sort=False)["spend"]
        .sum()
        .unstack(fill_value=0.0)
    )
    by_div = by_div.reindex(columns=[*DIVISIONS, "other"], fill_value=0.0)
    by_div.columns = list(SHARE_COLUMNS)
    total = gold["total_spend"].to_numpy()
    gold = gold.join(by_div.div(np.where(total > 0, total, 1.0), axis=0))

    attrs = (
        silver[list(_BASKET_ATTRIBUTES)]
        .assign(k=codes)
        .groupby("k", sort=True)
        .first()
        .rename(columns=_BASKET_ATTRIBUTES)
    )
    gold = attrs.join(gold)
    gold.insert(0, "basket_key", np.asarray(keys)[gold.index.to_numpy()])
    gold = gold.reset_index(drop=True)
    for col in ("shop_week", "shop_date"):
        gold[col] = gold[col].astype("int64")
    gold = add_customer_history(gold)
    for col in NUMERIC_FEATURES:
        gold[col] = gold[col].astype("float64")
    gold = gold.sort_values(["shop_date", "shop_hour", "basket_key"], kind="stable")
    return gold.reset_index(drop=True)


def add_customer_history(baskets: pd.DataFrame) -> pd.DataFrame:
    """Customer features from strictly earlier baskets (never the same hour or later).

    Baskets of one customer in the same date and hour are simultaneous: none of them
    sees the others. Anonymous baskets get no history (NaN, counts 0).
    """
    out = baskets.copy()
    ts = pd.to_datetime(
        out["shop_date"].astype("str"), format="%Y%m%d"
    ) + pd.to_timedelta(out["shop_hour"], unit="h")
    known = out["cust_code"].notna()
    b = pd.DataFrame(
        {
            "cust": out.loc[known, "cust_code"].astype("str"),
            "ts": ts[known],
            "spend": out.loc[known, "total_spend"],
            **{
                f"n_{c.lower()}": (out.loc[known, LABEL] == c).astype("float64")
                for c in CLASSES
            },
        }
    )
    b["n"] = 1.0
    b["n_labelled"] = b[[f"n_{c.lower()}" for c in CLASSES]].sum(axis=1)
    per_ts = b.groupby(["cust", "ts"], sort=True).sum()
    earlier = per_ts.groupby(level="cust").cumsum() - per_ts  # strictly earlier
    ts_level = per_ts.index.get_level_values("ts").to_series(index=per_ts.index)
    prev_ts = ts_level.groupby(level="cust").shift(1)
    hist = pd.DataFrame(index=per_ts.index)
    hist["cust_prev_baskets"] = earlier["n"]
    with np.errstate(invalid="ignore", divide="ignore"):
        hist["cust_prev_mean_spend"] = earlier["spend"] / earlier["n"]
        for c in CLASSES:
            hist[f"cust_prev_share_{c.lower()}"] = (
                earlier[f"n_{c.lower()}"] / earlier["n_labelled"]
            )
    hist["cust_days_since_prev"] = (ts_level - prev_ts).dt.total_seconds() / 86400.0
    hist = hist.replace([np.inf, -np.inf], np.nan)

    lookup = pd.MultiIndex.from_arrays([b["cust"], b["ts"]])
    joined = hist.reindex(lookup)
    for col in HISTORY_COLUMNS:
        values = np.full(len(out), np.nan)
        values[known.to_numpy()] = joined[col].to_numpy()
        out[col] = values
    out["cust_prev_baskets"] = out["cust_prev_baskets"].fillna(0.0)
    return out
