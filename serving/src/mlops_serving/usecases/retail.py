"""Retail: basket price sensitivity (LA / MM / UM -> High / Medium / Low).

The fields are the gold table's model features (``mlops_platform`` retail use case);
a test in the main project checks that both lists agree, and every bundle's input
schema is checked against them before it is served.
"""

from __future__ import annotations

from mlops_serving.usecases.base import TabularClassifier

NUMERIC = (
    "n_lines",
    "n_departments",
    "total_quantity",
    "total_spend",
    "unit_price_mean",
    "unit_price_median",
    "unit_price_std",
    "unit_price_min",
    "unit_price_max",
    "share_d00001",
    "share_d00002",
    "share_d00003",
    "share_d00004",
    "share_d00005",
    "share_d00006",
    "share_d00008",
    "share_d00009",
    "share_other",
    "shop_hour",
    "shop_weekday",
    "cust_prev_baskets",
    "cust_prev_mean_spend",
    "cust_prev_share_la",
    "cust_prev_share_mm",
    "cust_prev_share_um",
    "cust_days_since_prev",
)
CATEGORICAL = (
    "basket_size",
    "basket_type",
    "basket_dominant_mission",
    "store_format",
    "store_region",
    "cust_price_sensitivity",
    "cust_lifestage",
)

EXAMPLE = {
    "n_lines": 12.0,
    "n_departments": 7.0,
    "total_quantity": 15.0,
    "total_spend": 24.37,
    "unit_price_mean": 1.62,
    "unit_price_median": 1.29,
    "unit_price_std": 1.05,
    "unit_price_min": 0.35,
    "unit_price_max": 4.99,
    "share_d00001": 0.21,
    "share_d00002": 0.34,
    "share_d00003": 0.12,
    "share_d00004": 0.08,
    "share_d00005": 0.1,
    "share_d00006": 0.05,
    "share_d00008": 0.06,
    "share_d00009": 0.04,
    "share_other": 0.0,
    "shop_hour": 17.0,
    "shop_weekday": 5.0,
    "cust_prev_baskets": 9.0,
    "cust_prev_mean_spend": 19.8,
    "cust_prev_share_la": 0.22,
    "cust_prev_share_mm": 0.56,
    "cust_prev_share_um": 0.22,
    "cust_days_since_prev": 6.5,
    "basket_size": "M",
    "basket_type": "Full Shop",
    "basket_dominant_mission": "Fresh",
    "store_format": "LS",
    "store_region": "E02",
    "cust_price_sensitivity": "MM",
    "cust_lifestage": None,
}

DESCRIPTIONS = {
    "total_spend": "basket spend (sum of SPEND); null if missing",
    "share_other": "spend share of departments outside the named ones",
    "shop_hour": "hour of the basket (0-23)",
    "shop_weekday": "day of week (1-7)",
    "cust_prev_baskets": "the customer's earlier baskets; 0 for a new or anonymous one",
    "store_region": "store region code such as E02; null if missing",
    "cust_price_sensitivity": "the customer's segment (LA, MM, UM, XX); null if none",
}

USE_CASE = TabularClassifier(
    "retail",
    NUMERIC,
    CATEGORICAL,
    EXAMPLE,
    DESCRIPTIONS,
    title="RetailBasket",
)
