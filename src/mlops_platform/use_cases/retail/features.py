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
    Encoded,
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
    silver: pd.DataFrame,
    customer_profile: Literal["as_of", "line"] = "as_of",
    prior_states: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per basket: spend, counts, unit prices, category mix, context, and the
    customer as of the end of the previous week (the definitions are
    :mod:`mlops_serving.retail_features`, which the till endpoint runs too).

    ``customer_profile="line"`` keeps the segment and life stage the basket's own
    lines carry (as a CRM would know them), for the realism study's one-week protocol
    (:mod:`mlops_platform.datagen.realism`); the pipeline never uses it: a till cannot
    know a segment the store has not seen.

    ``prior_states``: the customer states of the weeks before ``silver``'s (as
    :func:`customer_states` gives them), when ``silver`` holds only the newer weeks
    (incremental gold, :meth:`RetailUseCase.build_gold_increment`)."""
    return basket_gold(silver, customer_profile, prior_states)[0]


def basket_gold(
    silver: pd.DataFrame,
    customer_profile: Literal["as_of", "line"] = "as_of",
    prior_states: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`build_basket_features` and the customer states of ``silver``'s weeks
    (continuing ``prior_states``): what the next increment starts from."""
    codes, keys = pd.factorize(silver[BASKET_KEY].astype("str"), sort=False)
    lines = basket_features(
        codes,
        silver["SPEND"].to_numpy(dtype="float64"),
        silver["QUANTITY"].to_numpy(dtype="float64"),
        Encoded(*pd.factorize(silver["PROD_CODE_20"])),
        Encoded(*pd.factorize(silver["PROD_CODE_40"])),
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
    states = customer_states(gold, prior_states)
    gold = add_customer_history(gold, states, prior_states)
    if customer_profile == "line":
        gold[list(PROFILE_COLUMNS)] = seen_on_line
    for col in NUMERIC_FEATURES:
        gold[col] = gold[col].astype("float64")
    gold = gold.sort_values(["shop_date", "shop_hour", "basket_key"], kind="stable")
    return gold.reset_index(drop=True), states


def customer_states(
    baskets: pd.DataFrame, prior: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Each carded customer's state after each week they shopped in (index: customer,
    week): :data:`STATE_SUMS` over all their baskets up to the week's end, the hour
    of the last one and the profile last seen (the last non-null value).

    ``prior``: the states of earlier weeks (this function's output for them); the
    sums and the profile continue from each customer's last prior state, adding in
    the same order as one pass over all the weeks would (so the floats are equal)."""
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
    sums = grouped[list(STATE_SUMS)].sum()
    profile = grouped[list(PROFILE_COLUMNS)].last()
    last = _last_states(prior)
    if last is not None:
        shoppers = sums.index.get_level_values("cust").unique()
        last = last[last.index.get_level_values("cust").isin(shoppers)]
        sums = pd.concat([last[list(STATE_SUMS)], sums]).sort_index(kind="stable")
        profile = pd.concat([last[list(PROFILE_COLUMNS)], profile]).sort_index(
            kind="stable"
        )
    state = _running_sums(sums)
    profile = profile.groupby(level="cust").ffill()
    if last is not None:
        new = ~state.index.isin(last.index)
        state, profile = state[new], profile[new]
    state["last_hour"] = grouped["last_hour"].max()
    return state.join(profile)[list(STATE_COLUMNS)]


def _running_sums(sums: pd.DataFrame) -> pd.DataFrame:
    """Each customer's running totals, week after week, added one week at a time
    (``x1 + x2``, then ``+ x3``...). Not ``groupby().cumsum()``: pandas compensates
    its rounding (Kahan), so totals continued from a stored state would differ in
    the last bit from totals of one pass, and incremental gold would not be the full
    refresh's (tests/test_incremental.py)."""
    values = sums.to_numpy(dtype="float64", copy=True)
    rank = sums.groupby(level="cust").cumcount().to_numpy()
    for r in range(1, int(rank.max()) + 1 if len(rank) else 0):
        rows = np.flatnonzero(rank == r)  # the row before is the same customer's
        values[rows] += values[rows - 1]
    return pd.DataFrame(values, index=sums.index, columns=sums.columns)


def _last_states(states: pd.DataFrame | None) -> pd.DataFrame | None:
    """Each customer's latest row of ``states`` (index: customer, week)."""
    if states is None or states.empty:
        return None
    return states.sort_index(kind="stable").groupby(level="cust").tail(1)


def states_frame(states: pd.DataFrame) -> pd.DataFrame:
    """Customer states as a flat table (a lake part) and back: :func:`state_index`."""
    return states.reset_index()


def state_index(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.set_index(["cust", TIME_COLUMN]).sort_index(kind="stable")
    for col in (*STATE_SUMS, "last_hour"):
        out[col] = out[col].astype("float64")
    for col in PROFILE_COLUMNS:
        values = out[col].astype(object)
        out[col] = values.where(pd.notna(values), None)
    return out[list(STATE_COLUMNS)]


def add_customer_history(
    baskets: pd.DataFrame,
    states: pd.DataFrame | None = None,
    prior: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Customer features from the customer's state at the end of the previous week
    they shopped in (:func:`customer_states`): never the same week or later, so a
    week's gold needs only the state before it, and the till endpoint, which reads
    the state the last run published, sees the same. Anonymous baskets and a
    customer's first week get no history (count 0, the rest NaN) and no profile.

    ``states``: :func:`customer_states` of ``baskets`` (computed if None), after
    ``prior``, the states of the weeks before (incremental gold)."""
    out = baskets.copy()
    if states is None:
        states = customer_states(out, prior)
    last = _last_states(prior)
    if last is not None:  # only the latest earlier state can be the one before
        states = pd.concat([last, states])
    states = states.reset_index()
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


# What the till looks up about a product and a store, from silver's columns.
ENTITIES = {
    "products": (
        "PROD_CODE",
        {"PROD_CODE_20": "department", "PROD_CODE_40": "division"},
    ),
    "stores": ("STORE_CODE", {"STORE_FORMAT": "format", "STORE_REGION": "region"}),
}


def entities_by_week(silver: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Each product's and store's attributes as last seen in each week (state
    tables, so the online tables need no pass over all of silver)."""
    needed = ["SHOP_WEEK", "SHOP_DATE", "SHOP_HOUR"]
    for key, columns in ENTITIES.values():
        needed += [key, *columns]
    # only the columns used: reordering every string column of silver cost seconds
    order = silver[needed].sort_values(["SHOP_DATE", "SHOP_HOUR"], kind="stable")
    out = {}
    for name, (key, columns) in ENTITIES.items():
        table = order.groupby(["SHOP_WEEK", key], sort=True)[list(columns)].last()
        out[name] = (
            table.rename(columns=columns)
            .reset_index()
            .rename(columns={"SHOP_WEEK": TIME_COLUMN})
        )
    return out


def latest_entities(by_week: pd.DataFrame, name: str) -> pd.DataFrame:
    """The last seen attributes (the last non-null of each) over the weeks."""
    key = ENTITIES[name][0]
    ordered = by_week.sort_values(TIME_COLUMN, kind="stable")
    return ordered.groupby(key, sort=True)[list(ENTITIES[name][1].values())].last()


def online_tables(
    silver: pd.DataFrame,
    gold: pd.DataFrame,
    states: pd.DataFrame | None = None,
    entities: dict[str, pd.DataFrame] | None = None,
) -> dict[str, Any]:
    """What the till endpoint looks up: each carded customer's state after the newest
    week (the state the next week's baskets are featurised from), each product's
    department and division, each store's format and region (the latest seen).

    ``states`` and ``entities``: the state tables gold was built with (the lake's
    state parts, :func:`entities_by_week` for products and stores); then ``gold``
    needs only its newest week and ``silver`` is not read. Without: computed from
    all of gold and silver."""
    if states is None:
        states = _states_from_lines(silver, gold)
    if entities is None:
        entities = entities_by_week(silver)
    customers = _last_states(states)
    customers = (
        customers.droplevel(TIME_COLUMN)
        if customers is not None
        else states.droplevel(TIME_COLUMN)
    )
    tables = {
        "customers": customers,
        **{name: latest_entities(entities[name], name) for name in ENTITIES},
    }
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


def _states_from_lines(silver: pd.DataFrame, gold: pd.DataFrame) -> pd.DataFrame:
    """The customer states of all of ``gold``, with the profile its lines carry."""
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
    return customer_states(baskets)


def till_requests(
    silver: pd.DataFrame,
    days_later: int = 0,
    with_hierarchy: bool = False,
    with_store: bool = False,
) -> dict[str, dict[str, Any]]:
    """Each basket of ``silver`` as a till sends it to ``POST /v1/retail/baskets``
    (replays for the parity tests and the benchmark), ``days_later`` days after it
    happened. Minutes and seconds are added to the hour: features must not depend on
    them. ``with_hierarchy``: each line also carries its product's department and
    division (``PROD_CODE_20``, ``PROD_CODE_40``), as a till with its own product
    master sends them; ``with_store``: the basket carries its store's format and
    region, as a till that knows its own store sends them."""
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
            **(
                {
                    "store_format": str(first["STORE_FORMAT"]),
                    "store_region": str(first["STORE_REGION"]),
                }
                if with_store
                and pd.notna(first["STORE_FORMAT"])
                and pd.notna(first["STORE_REGION"])
                else {}
            ),
            "lines": [
                {"product": p, "quantity": int(q), "spend": float(v)}
                | ({"department": str(d), "division": str(g)} if with_hierarchy else {})
                for p, q, v, d, g in zip(
                    lines["PROD_CODE"],
                    lines["QUANTITY"],
                    lines["SPEND"],
                    lines["PROD_CODE_20"],
                    lines["PROD_CODE_40"],
                    strict=True,
                )
            ],
        }
    return out
