"""A challenger trained after drift sees the drifted period: part of the newest
period's units train, the rest are the test both models are judged on, and the
chosen candidate is fitted again on train + validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_platform.params import (
    CandidateParams,
    DataEngineeringParams,
    SplitParams,
    TrainingParams,
)
from mlops_platform.pipelines.data_engineering.nodes import split_by_time
from mlops_platform.pipelines.training.nodes import train_candidates

TRAIN = {"train": True, "reason": "drift"}


def split(retail, gold, share):
    return split_by_time(
        retail,
        gold,
        DataEngineeringParams(split=SplitParams(newest_train_share=share)),
    )


class TestNewestInTraining:
    def test_share_zero_is_the_old_split(self, retail, small_gold):
        train, _, test, _, report = split(retail, small_gold, 0.0)
        newest = small_gold["shop_week"].max()
        assert newest not in set(train["shop_week"])
        assert report["rows"]["test_periods_in_train"] == 0
        assert set(test["shop_week"]) == {newest}

    def test_half_the_customers_of_the_newest_week_train(self, retail, small_gold):
        """The old split never trained on the newest week: a challenger triggered
        by drift there was trained on weeks up to N-2."""
        train, val, test, latest, report = split(retail, small_gold, 0.5)
        newest = small_gold["shop_week"].max()
        in_train = train[train["shop_week"] == newest]
        labelled = small_gold[
            (small_gold["shop_week"] == newest) & (small_gold["label"] != "XX")
        ]
        assert len(in_train) + len(test) == len(labelled)  # none lost, none twice
        assert 0.35 < len(in_train) / len(labelled) < 0.65
        assert report["rows"]["test_periods_in_train"] == len(in_train)
        carded = lambda f: set(f["cust_code"].dropna())  # noqa: E731
        assert not carded(in_train) & carded(test)  # a customer on one side only
        anonymous = labelled["cust_code"].isna().sum()
        if anonymous > 20:  # anonymous baskets spread over both sides
            assert in_train["cust_code"].isna().any() and test["cust_code"].isna().any()
        assert latest["shop_week"].eq(newest).all() and len(latest) >= len(labelled)
        assert newest not in set(val["shop_week"])

    def test_the_same_rows_on_a_rerun(self, retail, small_gold):
        a = split(retail, small_gold, 0.5)[2]
        b = split(retail, small_gold.sample(frac=1.0, random_state=3), 0.5)[2]
        assert sorted(a["basket_key"]) == sorted(b["basket_key"])


class TestRefit:
    PARAMS = TrainingParams(
        random_state=0,
        refit_on_validation=True,
        candidates={
            "logistic_regression": CandidateParams(params={"max_iter": 200}),
            "decision_tree": CandidateParams(params={"max_depth": 5}),
        },
    )

    @pytest.fixture(scope="class")
    def trained(self, retail, small_gold):
        train, val, _, _, _ = split(retail, small_gold, 0.5)
        return train, val, *train_candidates(retail, train, val, TRAIN, self.PARAMS)

    def test_the_chosen_candidate_is_fitted_on_train_and_validation(
        self, trained, retail
    ):
        train, val, challenger, report = trained
        assert report["refit"]["rows"] == len(train) + len(val)
        weeks = sorted({*train["shop_week"], *val["shop_week"]})
        assert challenger.training_periods == [int(w) for w in weeks]
        assert "refit on train + validation" in challenger.reason
        # The refit model is not the one validation scored: it learned the
        # validation week (its fit there differs from the first fit's).
        first = train_candidates(
            retail,
            train,
            val,
            TRAIN,
            self.PARAMS.model_copy(update={"refit_on_validation": False}),
        )[0]
        x = retail.model_input(val)
        assert not np.array_equal(
            challenger.model.predict_proba(x), first.model.predict_proba(x)
        )

    def test_keras_refit_runs_the_epochs_validation_chose(self):
        """The training loop is replaced here (on a fresh flavour object) to see
        what refit asks of it; the real loop without validation runs in
        tests/use_cases/test_parking.py::TestKerasFlavour."""
        from mlops_platform.flavours import FitResult, KerasFlavour

        flavour = KerasFlavour()
        calls = {}

        def fake_train(spec, x, y, validation, epochs):
            calls.update(validation=validation, epochs=epochs, rows=len(x))
            return FitResult("model", {})

        flavour._train = fake_train  # type: ignore[method-assign]
        x = pd.DataFrame({"a": range(10)})
        out = flavour.refit(None, x, x["a"], FitResult("m", {"best_epoch": 7}))
        assert calls == {"validation": None, "epochs": 7, "rows": 10}
        assert out.info["refit_rows"] == 10

    def test_drift_compares_with_the_rows_the_champion_was_fitted_on(
        self, trained, retail
    ):
        """After a refit the champion has seen the validation week: the drift
        reference holds it too (the reference of the model actually promoted, and
        more rows for the joint test: docs/drift.md). Without a refit it does not."""
        from mlops_platform.params import DriftParams
        from mlops_platform.pipelines.evaluation.nodes import drift_reference

        train, val, challenger, _ = trained
        params = DriftParams(reference_sample_rows=10**6)
        ref = drift_reference(retail, train, val, challenger.training_periods, params)
        assert len(ref) == len(train) + len(val)
        assert set(ref["shop_week"]) == set(challenger.training_periods)
        before = sorted(int(w) for w in train["shop_week"].unique())
        assert len(drift_reference(retail, train, val, before, params)) == len(train)
