from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_platform.use_cases.retail.features import (
    HISTORY_COLUMNS,
    SHARE_COLUMNS,
    add_customer_history,
)


def _baskets(rows):
    cols = [
        "basket_key",
        "cust_code",
        "shop_week",
        "shop_date",
        "shop_hour",
        "total_spend",
        "label",
        "cust_price_sensitivity",
    ]
    return pd.DataFrame(rows, columns=cols).assign(cust_lifestage=None)


class TestBasketFeatures:
    def test_one_row_per_basket(self, small_gold):
        assert small_gold["basket_key"].is_unique

    def test_shares_sum_to_one(self, small_gold):
        total = small_gold[list(SHARE_COLUMNS)].sum(axis=1)
        np.testing.assert_allclose(total, 1.0, atol=1e-9)

    def test_features_are_floats_and_finite(self, small_gold, retail):
        x = retail.model_input(small_gold)
        nums = x[list(retail.numeric_features)]
        assert (nums.dtypes == "float64").all()
        assert np.isfinite(nums.fillna(0).to_numpy()).all()

    def test_model_input_uses_none_for_missing_categories(self, small_gold, retail):
        x = retail.model_input(small_gold)
        col = x["cust_price_sensitivity"]
        assert col.dtype == object
        assert col.isna().any()
        assert all(v is None for v in col[col.isna()])


class TestCustomerHistory:
    """The customer as of the end of the previous week they shopped in: what the
    online store holds when the week's baskets reach the till."""

    def test_only_earlier_weeks(self):
        b = _baskets(
            [
                ("a", "C1", 200614, 20060403, 10, 10.0, "LA", "LA"),
                ("b", "C1", 200614, 20060405, 11, 20.0, "UM", "LA"),
                ("c", "C1", 200615, 20060411, 9, 30.0, "MM", "MM"),
                ("d", "C1", 200615, 20060415, 9, 40.0, "XX", "MM"),
                ("e", None, 200615, 20060415, 9, 5.0, "MM", None),
                ("f", "C1", 200617, 20060424, 8, 1.0, "LA", "UM"),
            ]
        )
        h = add_customer_history(b).set_index("basket_key")
        # the first week: no history, no profile, even for the week's later basket
        for k in "ab":
            assert h.loc[k, "cust_prev_baskets"] == 0
            assert np.isnan(h.loc[k, "cust_prev_mean_spend"])
            assert pd.isna(h.loc[k, "cust_price_sensitivity"])
        # the next week sees the state after the first, the same for both baskets
        for k in "cd":
            assert h.loc[k, "cust_prev_baskets"] == 2
            assert h.loc[k, "cust_prev_mean_spend"] == pytest.approx(15.0)
            assert h.loc[k, "cust_prev_share_la"] == pytest.approx(0.5)
            assert h.loc[k, "cust_price_sensitivity"] == "LA"  # last seen
        assert h.loc["c", "cust_days_since_prev"] == pytest.approx(6 - 2 / 24)
        assert h.loc["d", "cust_days_since_prev"] == pytest.approx(10 - 2 / 24)
        # a week skipped: the latest state before it; XX counts as a basket, not a
        # labelled one
        assert h.loc["f", "cust_prev_baskets"] == 4
        assert h.loc["f", "cust_prev_share_mm"] == pytest.approx(1 / 3)
        assert h.loc["f", "cust_prev_mean_spend"] == pytest.approx(25.0)
        assert h.loc["f", "cust_price_sensitivity"] == "MM"
        assert h.loc["e", "cust_prev_baskets"] == 0
        assert np.isnan(h.loc["e", "cust_prev_mean_spend"])
        assert pd.isna(h.loc["e", "cust_price_sensitivity"])

    def test_future_never_leaks(self):
        base = [
            ("a", "C1", 200614, 20060403, 10, 10.0, "LA", "LA"),
            ("b", "C1", 200615, 20060412, 10, 20.0, "UM", "LA"),
            ("c", "C1", 200616, 20060419, 10, 30.0, "MM", "LA"),
        ]
        # the last week's own basket changes: nothing featurised from it may move
        changed = [*base[:2], ("c", "C1", 200616, 20060419, 10, 999.0, "LA", "UM")]
        h1 = add_customer_history(_baskets(base))
        h2 = add_customer_history(_baskets(changed))
        cols = [*HISTORY_COLUMNS, "cust_price_sensitivity"]
        pd.testing.assert_frame_equal(h1[cols], h2[cols])
