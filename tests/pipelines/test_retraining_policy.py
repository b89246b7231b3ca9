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


class TestTrainingWindow:
    """``split.train_periods``: train on the newest periods only, and read only the
    periods of gold the split uses, so a weekly run's split and training's input
    stay the same size however long the history grows."""

    @staticmethod
    def lake(tmp_path, gold):
        """The gold frame as the pipeline's gold lake table: a part per period."""
        from mlops_platform.lake import GOLD, LakeTable, TableUpdate

        table = LakeTable.open(str(tmp_path / "gold"))
        update = TableUpdate()
        for week, rows in gold.groupby("shop_week", sort=True):
            update.writes[f"{GOLD}{week}"] = rows.reset_index(drop=True)
            update.entries[f"{GOLD}{week}"] = {"period": int(week)}
        return table.commit(update)

    @staticmethod
    def params(train_periods):
        return DataEngineeringParams(
            split=SplitParams(newest_train_share=0.5, train_periods=train_periods)
        )

    def test_a_window_as_long_as_the_history_is_no_window(
        self, retail, small_gold, tmp_path
    ):
        table = self.lake(tmp_path, small_gold)
        every = split_by_time(retail, table, self.params(None))
        window = split_by_time(retail, table, self.params(4))  # 6 weeks: 4 + 1 + 1
        for a, b in zip(every[:4], window[:4], strict=True):
            pd.testing.assert_frame_equal(a, b)
        assert window[4]["gold_periods_read"] == window[4]["gold_periods"] == 6
        # the frame the split was given whole: the same split
        whole = split_by_time(retail, small_gold, self.params(None))
        for a, b in zip(every[:4], whole[:4], strict=True):
            pd.testing.assert_frame_equal(a, b)

    def test_the_oldest_periods_are_neither_trained_on_nor_read(
        self, retail, small_gold, tmp_path
    ):
        weeks = sorted(small_gold["shop_week"].unique())
        table = self.lake(tmp_path, small_gold)
        every = split_by_time(retail, table, self.params(None))
        # the two oldest weeks' files are gone: a window of two training weeks
        # (weeks 3-4; week 5 validates, week 6 tests) never opens them
        for name in (f"gold/{w}" for w in weeks[:2]):
            (tmp_path / "gold" / table.parts[name]["file"]).unlink()
        with pytest.raises(FileNotFoundError):
            split_by_time(retail, table, self.params(None))
        train, val, test, latest, report = split_by_time(retail, table, self.params(2))
        assert report["train_periods"] == weeks[2:4]
        assert report["gold_periods_read"] == 4 and report["gold_periods"] == 6
        assert set(train["shop_week"]) == {*weeks[2:4], weeks[5]}
        # validation, test and the drift batch are those of the whole history,
        # and train is the whole history's train without the older weeks
        for a, b in ((val, every[1]), (test, every[2]), (latest, every[3])):
            pd.testing.assert_frame_equal(a, b)
        kept = every[0][every[0]["shop_week"].isin(set(train["shop_week"]))]
        pd.testing.assert_frame_equal(train, kept.reset_index(drop=True))
        # the frame given whole is cut the same way
        whole = split_by_time(retail, small_gold, self.params(2))
        for a, b in zip((train, val, test, latest), whole[:4], strict=True):
            pd.testing.assert_frame_equal(a, b)
        # and the lifecycle summary says what was left out
        from mlops_platform.pipelines.reporting.nodes import summarise_lifecycle

        contract = {"rows_in": 1, "rows_quarantined": 0, "quarantined_share": 0.0}
        said = summarise_lifecycle(
            retail, {}, contract, report, {"reason": "-"}, {}, {}, {"reason": "-"}
        )
        assert (
            f"gold rows: {report['rows']['gold']:,} (the newest 4 of 6 periods, "
            f"a training window of 2; train {len(train):,} / " in said
        ), said

    def test_a_period_with_nothing_to_score_does_not_count(
        self, retail, small_gold, tmp_path
    ):
        """A week whose rows are all unlabelled (a parking day every car park was
        closed, likewise) is read, but the window reaches one period further back
        to hold two weeks to train on."""
        weeks = sorted(small_gold["shop_week"].unique())
        gold = small_gold.copy()
        gold.loc[gold["shop_week"] == weeks[3], "label"] = "XX"
        table = self.lake(tmp_path, gold)
        train, *_, report = split_by_time(retail, table, self.params(2))
        assert report["train_periods"] == [weeks[2], weeks[1]][::-1]
        assert report["gold_periods_read"] == 5
        assert weeks[3] not in set(train["shop_week"])
