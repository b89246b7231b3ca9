from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_platform.use_cases.retail.features import (
    SHARE_COLUMNS,
    add_customer_history,
)


def _baskets(rows):
    cols = ["basket_key", "cust_code", "shop_date", "shop_hour", "total_spend", "label"]
    return pd.DataFrame(rows, columns=cols)


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
    def test_only_strictly_earlier_baskets(self):
        b = _baskets(
            [
                ("a", "C1", 20060410, 10, 10.0, "LA"),
                ("b", "C1", 20060410, 10, 20.0, "UM"),  # same hour: not earlier
                ("c", "C1", 20060411, 9, 30.0, "MM"),
                ("d", "C1", 20060415, 9, 40.0, "XX"),
                ("e", None, 20060415, 9, 5.0, "MM"),
            ]
        )
        h = add_customer_history(b).set_index("basket_key")
        assert h.loc["a", "cust_prev_baskets"] == 0
        assert h.loc["b", "cust_prev_baskets"] == 0
        assert h.loc["c", "cust_prev_baskets"] == 2
        assert h.loc["c", "cust_prev_mean_spend"] == pytest.approx(15.0)
        assert h.loc["c", "cust_prev_share_la"] == pytest.approx(0.5)
        assert h.loc["c", "cust_days_since_prev"] == pytest.approx(23 / 24)
        assert h.loc["d", "cust_prev_baskets"] == 3
        assert h.loc["d", "cust_prev_share_mm"] == pytest.approx(1 / 3)
        assert h.loc["e", "cust_prev_baskets"] == 0
        assert np.isnan(h.loc["e", "cust_prev_mean_spend"])

    def test_future_never_leaks(self):
        base = [
            ("a", "C1", 20060410, 10, 10.0, "LA"),
            ("b", "C1", 20060412, 10, 20.0, "UM"),
            ("c", "C1", 20060414, 10, 30.0, "MM"),
        ]
        changed = [*base[:2], ("c", "C1", 20060414, 10, 999.0, "LA")]
        h1 = add_customer_history(_baskets(base))
        h2 = add_customer_history(_baskets(changed))
        pd.testing.assert_frame_equal(h1.iloc[:2], h2.iloc[:2])
