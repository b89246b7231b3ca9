"""Silver transaction lines -> one gold row per basket, with the useful features."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from mlops_serving.retail_features import (
    BASKET_COLUMNS,
    CLASSES,
    DEFINITIONS_VERSION,
    DIVISIONS,
    HISTORY_COLUMNS,
    PROFILE_COLUMNS,
    SHARE_COLUMNS,  # noqa: F401 - re-exported for the pipeline's tests
    STATE_COLUMNS,
    STATE_SUMS,
    basket_features,
    basket_hour,
    history_features,
    lgsr_weekday,
)

from mlops_platform.use_cases.retail.ingest import BASKET_KEY, BASKET_KEY_REBUILT

LABEL = "label"
TIME_COLUMN = "shop_week"
ID_COLUMNS = ("basket_key", "shop_week", "shop_date", "cust_code", "store_code")

NUMERIC_FEATURES = (
    *BASKET_COLUMNS,
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


def build_basket_features(
    silver: pd.DataFrame, customer_profile: Literal["as_of", "line"] = "as_of"
) -> pd.DataFrame:
    """One row per basket: spend, counts, unit prices, category mix, context, and the
    customer as of the end of the previous week (the definitions are
    :mod:`mlops_serving.retail_features`, which the till endpoint runs too).

    ``customer_profile="line"`` keeps the segment and life stage the basket's own
    lines carry (as a CRM would know them), for the realism study's one-week protocol
    (:mod:`mlops_platform.datagen.realism`); the pipeline never uses it: a till cannot
    know a segment the store has not seen."""
    codes, keys = pd.factorize(silver[BASKET_KEY].astype("str"), sort=False)
    lines = basket_features(
        codes,
        silver["SPEND"].to_numpy(dtype="float64"),
        silver["QUANTITY"].to_numpy(dtype="float64"),
        silver["PROD_CODE_20"].astype("str").to_numpy(dtype=object),
        silver["PROD_CODE_40"].astype("str").to_numpy(dtype=object),
        len(keys),
    )
    attrs = (
        silver[list(_BASKET_ATTRIBUTES)]
        .assign(k=codes)
        .groupby("k", sort=True)
        .first()
        .rename(columns=_BASKET_ATTRIBUTES)
    )
    gold = attrs.join(pd.DataFrame(lines))
    gold.insert(0, "basket_key", np.asarray(keys)[gold.index.to_numpy()])
    gold = gold.reset_index(drop=True)
    for col in ("shop_week", "shop_date"):
        gold[col] = gold[col].astype("int64")
    gold["shop_weekday"] = lgsr_weekday(gold["shop_date"].to_numpy())
    seen_on_line = gold[list(PROFILE_COLUMNS)].copy()
    gold = add_customer_history(gold)
    if customer_profile == "line":
        gold[list(PROFILE_COLUMNS)] = seen_on_line
    for col in NUMERIC_FEATURES:
        gold[col] = gold[col].astype("float64")
    gold = gold.sort_values(["shop_date", "shop_hour", "basket_key"], kind="stable")
    return gold.reset_index(drop=True)


def customer_states(baskets: pd.DataFrame) -> pd.DataFrame:
    """Each carded customer's state after each week they shopped in (index: customer,
    week): :data:`STATE_SUMS` over all their baskets up to the week's end, the hour
    of the last one and the profile last seen (the last non-null value)."""
    known = baskets["cust_code"].notna()
    b = baskets.loc[known]
    per_week = pd.DataFrame(
        {
            "cust": b["cust_code"].astype("str"),
            TIME_COLUMN: b[TIME_COLUMN].astype("int64"),
            "baskets": 1.0,
            "spend": b["total_spend"].astype("float64"),
            **{f"n_{c.lower()}": (b[LABEL] == c).astype("float64") for c in CLASSES},
            "last_hour": basket_hour(b["shop_date"].to_numpy(), b["shop_hour"]),
            **{c: b[c].astype(object) for c in PROFILE_COLUMNS},
        }
    )
    per_week["labelled"] = per_week[[f"n_{c.lower()}" for c in CLASSES]].sum(axis=1)
    per_week = per_week.sort_values(["cust", TIME_COLUMN, "last_hour"], kind="stable")
    grouped = per_week.groupby(["cust", TIME_COLUMN], sort=True)
    state = grouped[list(STATE_SUMS)].sum()
    state = state.groupby(level="cust").cumsum()
    state["last_hour"] = grouped["last_hour"].max()
    profile = grouped[list(PROFILE_COLUMNS)].last().groupby(level="cust").ffill()
    return state.join(profile)[list(STATE_COLUMNS)]


def add_customer_history(baskets: pd.DataFrame) -> pd.DataFrame:
    """Customer features from the customer's state at the end of the previous week
    they shopped in (:func:`customer_states`): never the same week or later, so a
    week's gold needs only the state before it, and the till endpoint, which reads
    the state the last run published, sees the same. Anonymous baskets and a
    customer's first week get no history (count 0, the rest NaN) and no profile."""
    out = baskets.copy()
    states = customer_states(out).reset_index()
    known = out["cust_code"].notna().to_numpy()
    query = pd.DataFrame(
        {
            "cust": out.loc[known, "cust_code"].astype("str").to_numpy(),
            TIME_COLUMN: out.loc[known, TIME_COLUMN].astype("int64").to_numpy(),
            "row": np.flatnonzero(known),
        }
    ).sort_values(TIME_COLUMN, kind="stable")
    before = pd.merge_asof(
        query,
        states.sort_values(TIME_COLUMN, kind="stable"),
        on=TIME_COLUMN,
        by="cust",
        allow_exact_matches=False,  # strictly an earlier week
        direction="backward",
    ).set_index("row")
    state = {c: np.full(len(out), np.nan) for c in (*STATE_SUMS, "last_hour")}
    rows = before.index.to_numpy()
    for c, values in state.items():
        values[rows] = before[c].to_numpy(dtype="float64", na_value=np.nan)
    hour = basket_hour(out["shop_date"].to_numpy(), out["shop_hour"].to_numpy())
    for col, values in history_features(state, hour).items():
        out[col] = values
    for col in PROFILE_COLUMNS:
        profile = np.full(len(out), None, dtype=object)
        profile[rows] = before[col].to_numpy(dtype=object)
        out[col] = pd.Series(profile, index=out.index).where(pd.notna(profile), None)
    return out


def online_tables(silver: pd.DataFrame, gold: pd.DataFrame) -> dict[str, Any]:
    """What the till endpoint looks up: each carded customer's state after the newest
    week (the state the next week's baskets are featurised from), each product's
    department and division, each store's format and region (the latest seen)."""
    line_profile = (
        silver.groupby(BASKET_KEY, sort=False)[
            ["CUST_PRICE_SENSITIVITY", "CUST_LIFESTAGE"]
        ]
        .first()
        .rename(
            columns={
                "CUST_PRICE_SENSITIVITY": "cust_price_sensitivity",
                "CUST_LIFESTAGE": "cust_lifestage",
            }
        )
    )
    baskets = gold.drop(columns=list(PROFILE_COLUMNS)).join(
        line_profile, on="basket_key"
    )
    states = customer_states(baskets)
    customers = states.groupby(level="cust").tail(1).droplevel(TIME_COLUMN)
    order = silver.sort_values(["SHOP_DATE", "SHOP_HOUR"], kind="stable")
    products = (
        order.groupby("PROD_CODE", sort=True)[["PROD_CODE_20", "PROD_CODE_40"]]
        .last()
        .rename(columns={"PROD_CODE_20": "department", "PROD_CODE_40": "division"})
    )
    stores = (
        order.groupby("STORE_CODE", sort=True)[["STORE_FORMAT", "STORE_REGION"]]
        .last()
        .rename(columns={"STORE_FORMAT": "format", "STORE_REGION": "region"})
    )
    tables = {"customers": customers, "products": products, "stores": stores}
    return {
        "tables": tables,
        "meta": {
            "definitions": DEFINITIONS_VERSION,
            "as_of_period": int(gold[TIME_COLUMN].max()),
            "as_of_hour": float(
                basket_hour(gold["shop_date"].to_numpy(), gold["shop_hour"]).max()
            ),
            "rows": {name: len(frame) for name, frame in tables.items()},
        },
    }


def till_requests(
    silver: pd.DataFrame, days_later: int = 0
) -> dict[str, dict[str, Any]]:
    """Each basket of ``silver`` as a till sends it to ``POST /v1/retail/baskets``
    (replays for the parity tests and the benchmark), ``days_later`` days after it
    happened. Minutes and seconds are added to the hour: features must not depend on
    them."""
    out: dict[str, dict[str, Any]] = {}
    for key, lines in silver.groupby(BASKET_KEY, sort=True):
        first = lines.iloc[0]
        when = pd.Timestamp(str(int(first["SHOP_DATE"]))) + pd.Timedelta(
            days=days_later, hours=int(first["SHOP_HOUR"]), minutes=17, seconds=31
        )
        card = first["CUST_CODE"]
        out[str(key)] = {
            "basket_id": str(key),
            "customer_card": None if pd.isna(card) else str(card),
            "store": str(first["STORE_CODE"]),
            "time": when.isoformat(),
            "basket_size": first["BASKET_SIZE"],
            "basket_type": first["BASKET_TYPE"],
            "basket_dominant_mission": first["BASKET_DOMINANT_MISSION"],
            "lines": [
                {"product": p, "quantity": int(q), "spend": float(v)}
                for p, q, v in zip(
                    lines["PROD_CODE"], lines["QUANTITY"], lines["SPEND"], strict=True
                )
            ],
        }
    return out
