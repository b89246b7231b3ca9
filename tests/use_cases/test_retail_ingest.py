from __future__ import annotations

import pytest

from mlops_platform.contracts import enforce_contract
from mlops_platform.use_cases.retail.ingest import BASKET_KEY, BASKET_KEY_REBUILT
from mlops_platform.use_cases.retail.schema import COLUMNS
from tests.conftest import FIXTURES, REAL_SAMPLE, partitions_of


class TestQuirksFixture:
    def test_quirks_are_normalised(self, retail):
        frame, report = retail.ingest(partitions_of(FIXTURES))
        notes = report["files"]["lgsr_quirks.csv"]
        assert notes["renamed_columns"] == {
            "seg_1": "CUST_PRICE_SENSITIVITY",
            "seg_2": "CUST_LIFESTAGE",
        }
        assert notes["ignored_columns"] == ["SFNND", "BASKET_TYFN"]
        assert notes["normalised_values"] == {"BASKET_DOMINANT_MISSION": 1}
        assert "Non Food" not in set(frame["BASKET_DOMINANT_MISSION"])
        assert list(frame.columns[: len(COLUMNS)]) == list(COLUMNS)

    def test_basket_identity_rebuilt_from_scientific_ids(self, retail):
        frame, report = retail.ingest(partitions_of(FIXTURES))
        assert frame[BASKET_KEY_REBUILT].all()
        assert report["files"]["lgsr_quirks.csv"]["basket_ids_rebuilt"] == 14
        # every line says 9.94E+14, yet the file holds 7 baskets
        assert frame[BASKET_KEY].nunique() == 7
        gold = retail.build_gold(enforce_contract(frame, retail.contract).valid)
        assert sorted(gold["n_lines"].astype(int)) == [1, 2, 2, 3, 3]

    def test_exact_ids_are_kept(self, retail, small_raw):
        first = sorted(small_raw.glob("transactions_*.csv"))[0]
        frame, _ = retail.ingest({first.stem: first.read_bytes})
        assert not frame[BASKET_KEY_REBUILT].any()
        assert (frame[BASKET_KEY] == frame["BASKET_ID"]).all()


@pytest.mark.real_sample
@pytest.mark.skipif(not REAL_SAMPLE.exists(), reason="needs ../shared/real-samples")
class TestRealWeek:
    def test_real_week_passes_the_contract(self, retail):
        frame, report = retail.ingest({"transactions_200607": REAL_SAMPLE.read_bytes})
        assert report["files"]["transactions_200607.csv"]["basket_ids_rebuilt"] == 25240
        result = enforce_contract(frame, retail.contract)
        assert result.report["rows_quarantined"] == 0
        assert len(result.valid) == 25240

    def test_real_week_baskets(self, retail):
        frame, _ = retail.ingest({"transactions_200607": REAL_SAMPLE.read_bytes})
        gold = retail.build_gold(enforce_contract(frame, retail.contract).valid)
        # DATASETS.md: ~3.8k approximate baskets; L ~14 lines, S ~1.4
        assert 3500 <= len(gold) <= 4100
        by_size = gold.groupby("basket_size")["n_lines"].mean()
        assert 12 <= by_size["L"] <= 16
        assert 1.2 <= by_size["S"] <= 1.7
