from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_platform.model_store import Bundle
from mlops_platform.params import DriftParams
from mlops_platform.pipelines.drift.nodes import detect_drift, render_drift_report
from mlops_platform.pipelines.drift.stats import js_distance, psi
from tests.conftest import DriftSpec, RetailConfig, make_gold

WEEKS = dict(customers=900, stores=60, weeks=5)
LAST = 200611


def _bundle(retail, reference: pd.DataFrame, definitions: object = "same") -> Bundle:
    ref = reference[[*retail.features, retail.label]]
    schema = {
        "options": {
            "feature_definitions": retail.feature_definitions
            if definitions == "same"
            else definitions
        }
    }
    return Bundle(
        "retail", "v0001", {"training_periods": []}, None, schema, {}, {}, ref
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory, retail):
    gold = make_gold(
        retail, tmp_path_factory.mktemp("ref"), RetailConfig(seed=21, **WEEKS)
    )
    return gold[(gold["shop_week"] < LAST) & (gold["label"] != "XX")]


def _latest(retail, tmp_path_factory, **cfg) -> pd.DataFrame:
    gold = make_gold(
        retail, tmp_path_factory.mktemp("cur"), RetailConfig(**{**WEEKS, **cfg})
    )
    return gold[gold["shop_week"] == LAST]


class TestStatistics:
    def test_psi_zero_for_same_and_large_for_shifted(self):
        rng = np.random.default_rng(0)
        a = rng.normal(size=5000)
        assert psi(a, a) == pytest.approx(0.0, abs=1e-9)
        assert psi(a, a + 1.0) > 0.5

    def test_js_distance(self):
        s = pd.Series(["a", "b", None] * 10)
        assert js_distance(s, s) == pytest.approx(0.0, abs=1e-9)
        assert js_distance(s, pd.Series(["c"] * 30)) == pytest.approx(1.0)


class TestDecision:
    def test_no_champion_means_train(self, retail, reference):
        report, decision = detect_drift(retail, reference, None, DriftParams())
        assert decision == {
            "train": True,
            "reason": "no champion yet: train the first model",
            "drift_detected": None,
            "champion_version": None,
        }
        md, _fig = render_drift_report(retail, report, reference, None)
        assert "No champion yet" in md

    @pytest.mark.parametrize("definitions", [None, 0])
    def test_a_champion_of_other_feature_definitions_is_retrained(
        self, retail, reference, definitions
    ):
        champion = _bundle(retail, reference, definitions)
        report, decision = detect_drift(retail, reference, champion, DriftParams())
        assert decision["train"] is True
        assert report["status"] == "definitions_changed"
        assert (
            f"gold is now built with version {retail.feature_definitions}"
            in (decision["reason"])
        )
        md, _fig = render_drift_report(retail, report, reference, champion)
        assert "other feature definitions" in md

    def test_same_distribution_other_seed_is_not_drift(
        self, retail, reference, tmp_path_factory
    ):
        latest = _latest(retail, tmp_path_factory, seed=22, world_seed=21)
        report, decision = detect_drift(
            retail, latest, _bundle(retail, reference), DriftParams()
        )
        assert report["drift_detected"] is False, report["drifted_features"]
        assert decision["train"] is False
        assert "champion v0001 kept" in decision["reason"]

    @pytest.mark.parametrize(
        "knobs",
        [
            {"price_inflation": 0.6},
            {"basket_type_mix": 1.0},
            {"tier_mix": 1.0, "concept": 1.0},
            {"store_format_mix": 1.0, "anonymous_share": 1.0},
        ],
        ids=["price", "basket-type", "tier-and-concept", "format-and-anonymous"],
    )
    def test_drift_knobs_are_detected(self, retail, reference, tmp_path_factory, knobs):
        latest = _latest(
            retail, tmp_path_factory, seed=21, drift=DriftSpec(start_week=LAST, **knobs)
        )
        report, decision = detect_drift(
            retail, latest, _bundle(retail, reference), DriftParams()
        )
        assert report["drift_detected"] is True
        assert decision["train"] is True
        assert decision["reason"].startswith("drift:")
        md, _ = render_drift_report(retail, report, latest, _bundle(retail, reference))
        assert "DRIFT DETECTED" in md

    def test_force_retrain_overrides(self, retail, reference, tmp_path_factory):
        latest = _latest(retail, tmp_path_factory, seed=22, world_seed=21)
        _, decision = detect_drift(
            retail, latest, _bundle(retail, reference), DriftParams(force_retrain=True)
        )
        assert decision["train"] is True
        assert decision["reason"] == "force_retrain is set"

    def test_small_samples_use_significance_tests(self, retail, reference):
        latest = reference.sample(300, random_state=1)
        report, _ = detect_drift(
            retail, latest, _bundle(retail, reference), DriftParams()
        )
        tests = {r["test"].split()[0] for r in report["features"].values()}
        assert tests == {"KS", "chi-square"}
        assert report["drift_detected"] is False

    def test_time_dependent_features_are_reported_not_counted(
        self, retail, reference, tmp_path_factory
    ):
        latest = _latest(retail, tmp_path_factory, seed=22, world_seed=21)
        report, _ = detect_drift(
            retail, latest, _bundle(retail, reference), DriftParams()
        )
        assert report["features"]["cust_prev_baskets"]["counted"] is False
        assert report["counted_features"] == len(retail.features) - len(
            retail.time_dependent_features
        )


class TestJointTest:
    """The classifier two-sample test beside the per-feature vote (docs/drift.md has
    the detection power over 20 seeds; this is its fast version)."""

    JOINT = DriftParams(joint_test=True)

    def test_undrifted_week_raises_no_joint_alarm(
        self, retail, reference, tmp_path_factory
    ):
        latest = _latest(retail, tmp_path_factory, seed=22, world_seed=21)
        report, _ = detect_drift(retail, latest, _bundle(retail, reference), self.JOINT)
        assert report["joint"]["auc"] < self.JOINT.joint_min_auc
        assert report["drift_detected"] is False

    def test_a_concept_shift_no_feature_shows_is_caught_jointly(
        self, retail, reference, tmp_path_factory
    ):
        """Items match the basket's tier less often: no single column moves, the
        relation between the features and the label does. (At this small scale the
        label's chi-square also fires; at make run's scale its Jensen-Shannon rule
        does not: docs/drift.md's table.)"""
        latest = _latest(
            retail,
            tmp_path_factory,
            seed=21,
            drift=DriftSpec(start_week=LAST, concept=1.0),
        )
        bundle = _bundle(retail, reference)
        report, decision = detect_drift(retail, latest, bundle, self.JOINT)
        assert report["drifted_features"] == []
        assert report["joint_drift"] is True, report["joint"]
        assert "a classifier tells the batch" in decision["reason"]
        md, _ = render_drift_report(retail, report, latest, bundle)
        assert "Joint test" in md and "**drifted**" in md

    def test_without_the_label_a_concept_shift_is_invisible(
        self, retail, reference, tmp_path_factory
    ):
        """The label is what makes the joint test see concept drift: shown by
        taking it out."""
        latest = _latest(
            retail,
            tmp_path_factory,
            seed=21,
            drift=DriftSpec(start_week=LAST, concept=1.0),
        )
        params = DriftParams(joint_test=True, joint_with_label=False)
        report, _ = detect_drift(retail, latest, _bundle(retail, reference), params)
        assert report["joint"]["with_label"] is False
        assert "label" not in report["joint"]["auc_lost_without"]
        assert report["joint_drift"] is False, report["joint"]


class TestChampionScore:
    """Retail's performance check (``max_performance_drop`` in conf/base): a concept
    shift moves no column, and the champion's own macro F1 on the week shows it. The
    champion is fitted as the power study fits it (the lifecycle's split, training
    node and refit: ``drift_power.fit_champion``), on the reference world."""

    @pytest.fixture(scope="class")
    def project(self, retail, reference):
        from mlops_platform.datagen.drift_power import fit_champion, project_params
        from tests.conftest import REPO

        params = project_params("retail", REPO)
        assert params.drift.max_performance_drop is not None  # what kedro run uses
        return params, fit_champion(retail, reference, params, "hist_gradient_boosting")

    def test_a_concept_shift_is_caught_by_the_champions_own_score(
        self, retail, project, tmp_path_factory
    ):
        params, champion = project
        latest = _latest(
            retail,
            tmp_path_factory,
            seed=21,
            drift=DriftSpec(start_week=LAST, concept=1.0),
        )
        # the joint test off: this is the performance check's catch alone
        drift = params.drift.model_copy(update={"joint_test": False})
        report, decision = detect_drift(retail, latest, champion, drift)
        assert report["drifted_features"] == [] and report["severe_features"] == []
        performance = report["performance"]
        assert performance["metric"] == "macro_f1"
        assert performance["relative_worsening"] > drift.max_performance_drop
        assert report["performance_drift"] is True
        assert "champion's macro_f1 worse on the newest batch" in decision["reason"]

    def test_an_undrifted_week_is_scored_as_well_as_at_training(
        self, retail, project, tmp_path_factory
    ):
        params, champion = project
        latest = _latest(retail, tmp_path_factory, seed=22, world_seed=21)
        report, _ = detect_drift(retail, latest, champion, params.drift)
        assert report["performance"]["relative_worsening"] < (
            params.drift.max_performance_drop
        )
        assert report["performance_drift"] is False
        assert report["drift_detected"] is False, report


class TestPeriodKinds:
    """Period-level tests within a kind of period (``null_within_kind``, parking's
    weekdays, Saturdays and Sundays). Readings here are drawn per day around a level
    that depends on the kind of day, so the mechanism is seen alone; parking's own
    generator and use case are measured in docs/drift.md's table."""

    LEVEL = {"Mon-Fri": 0.7, "Saturday": 0.5, "Sunday": 0.3}
    PARAMS = DriftParams(null_from_periods=True)

    @staticmethod
    def _kind(day: int) -> str:
        return {5: "Saturday", 6: "Sunday"}.get(day % 7, "Mon-Fri")

    def _day(self, rng, day: int, level_factor: float = 1.0) -> pd.DataFrame:
        level = self.LEVEL[self._kind(day)] * level_factor + rng.normal(0, 0.02)
        return pd.DataFrame(
            {"day": day, "kind": self._kind(day), "x": rng.normal(level, 0.1, 200)}
        )

    @pytest.fixture(scope="class")
    def reference(self) -> pd.DataFrame:
        rng = np.random.default_rng(3)
        return pd.concat([self._day(rng, d) for d in range(35)], ignore_index=True)

    def _judge(self, reference, today: pd.DataFrame, within: bool):
        from mlops_platform.pipelines.drift.nodes import PeriodNull, _period_null_test

        null_of = PeriodNull.build(
            reference["day"],
            reference["kind"] if within else None,
            today["kind"].iloc[0] if within else None,
        )
        return _period_null_test(
            "numeric", reference["x"], null_of, today["x"], self.PARAMS
        )

    def test_a_weekday_40_percent_down_hides_in_the_weeks_shape(self, reference):
        """Against every day, a Sunday against the rest sets the null so high that
        a Wednesday at 60% of its level passes; against weekdays it does not."""
        wednesday = self._day(np.random.default_rng(9), 37, level_factor=0.6)
        across = self._judge(reference, wednesday, within=False)
        within = self._judge(reference, wednesday, within=True)
        assert across["drifted"] is False, across
        assert within["drifted"] is True, within
        assert within["test"].endswith("of its kind (Mon-Fri)")
        assert within["n_reference"] == 25 * 200  # the weekdays only

    @pytest.mark.parametrize("day", [36, 40, 41], ids=["Tuesday", "Saturday", "Sunday"])
    def test_an_ordinary_day_of_each_kind_passes(self, reference, day):
        today = self._day(np.random.default_rng(day), day)
        assert self._judge(reference, today, within=True)["drifted"] is False

    def test_a_kind_with_too_few_periods_is_judged_against_every_period(
        self, reference
    ):
        from mlops_platform.pipelines.drift.nodes import PeriodNull

        two_sundays = reference[~reference["day"].isin([6, 13, 20])]
        null_of = PeriodNull.build(two_sundays["day"], two_sundays["kind"], "Sunday")
        assert null_of.kind is None and null_of.today.all()
        # the two Sundays themselves are compared with every other day
        sunday = (two_sundays["day"] == 27).to_numpy()
        rest = next(r for inside, r in null_of.pairs if (inside == sunday).all())
        assert rest.sum() == len(two_sundays) - sunday.sum()


def test_drift_power_table_fast_version():
    """docs/drift.md's retail table, one seed of a 4-week small world (the full table
    is `python -m mlops_platform.datagen.drift_power --use-case retail`): the
    project's own retail drift parameters catch a x1.18 price shift and stay quiet
    on the world's own next week."""
    from dataclasses import replace

    from mlops_platform.datagen.drift_power import (
        STUDIES,
        measure,
        project_params,
        table,
    )
    from tests.conftest import REPO

    params = project_params("retail", REPO)
    assert params.drift.joint_test  # what kedro run uses for retail
    study = STUDIES["retail"]
    tiny = replace(study, scales={"tiny": {**study.scales["small"], "weeks": 4}})
    scenarios = {
        k: v
        for k, v in study.scenarios.items()
        if v in (None, {"price_inflation": 0.6})
    }
    tallies = measure(tiny, [100], "tiny", params, scenarios)
    none, price = (tallies[k] for k in scenarios)
    assert (none.detected, none.runs) == (0, 1)
    assert (price.detected, price.runs) == (1, 1) and price.by.get("joint") == 1
    assert "| tiny | price x1.18" in table({"tiny": tallies})


class TestReport:
    """What a person reads in the drift report (issue 17, item 6): the test actually
    used per feature with its effect size, numbers and categories ranked on one
    scale, and a first run that says what will come."""

    def test_a_feature_names_the_test_that_flagged_it(self):
        from mlops_platform.pipelines.drift.nodes import _numeric_test

        rng = np.random.default_rng(3)
        ref = pd.Series(rng.normal(0.0, 1.0, 20_000))
        cur = pd.Series(rng.normal(0.2, 1.0, 5_000))  # a shift PSI does not flag
        params = DriftParams()
        r = _numeric_test(ref, cur, params, 0.01)
        assert r["drifted"] and r["psi"] < params.psi_threshold
        assert r["flagged_by"] == [
            f"Wasserstein {r['wasserstein_std']:.3f} std >= 0.15"
        ]
        assert "PSI" in r["effect"] and "Wasserstein" in r["effect"]
        assert r["effect_ratio"] == pytest.approx(r["wasserstein_std"] / 0.15)
        same = _numeric_test(ref, pd.Series(rng.normal(0.0, 1.0, 5_000)), params, 0.01)
        assert not same["drifted"] and same["flagged_by"] == []

    def test_the_table_and_figure_show_numbers_and_categories(
        self, retail, reference, tmp_path_factory
    ):
        from mlops_platform.pipelines.drift.nodes import _drift_panels

        latest = _latest(
            retail, tmp_path_factory, seed=21,
            drift=DriftSpec(start_week=LAST, price_inflation=0.6),
        )  # fmt: skip
        bundle = _bundle(retail, reference)
        report, _ = detect_drift(retail, latest, bundle, DriftParams())
        md, fig = render_drift_report(retail, report, latest, bundle)
        assert "| feature | kind | test | effect size | p-value | flagged by |" in md
        price = next(line for line in md.splitlines() if "| unit_price_mean |" in line)
        flagged = report["features"]["unit_price_mean"]["flagged_by"]
        assert flagged and flagged[0] in price  # what flagged it (this sample: KS)
        assert "PSI" in price and "Wasserstein" in price  # and the effect sizes
        ordered = sorted(
            report["features"].items(), key=lambda kv: -kv[1]["effect_ratio"]
        )
        panels = _drift_panels(retail, ordered)
        kinds = {report["features"][n]["type"] for _, n in panels}
        assert kinds == {"numeric", "categorical"}, panels
        # the price features that moved lead the numeric panels
        assert panels[0][1].startswith("unit_price")
        titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
        assert any(f"DRIFTED: {flagged[0]}" in t for t in titles), titles
        assert all(
            ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes if ax.has_data()
        )

    def test_a_first_run_says_what_comes_and_how_to_see_it(self, retail, reference):
        report, _ = detect_drift(retail, reference, None, DriftParams())
        md, fig = render_drift_report(retail, report, reference, None)
        assert "make demo-drift" in md
        assert "make demo-drift" in fig.texts[0].get_text() or any(
            "make demo-drift" in t.get_text() for ax in fig.axes for t in ax.texts
        )

    def test_text_columns_get_length_and_vocabulary_panels_first(self, retail):
        from mlops_platform.pipelines.drift.nodes import _drift_panels

        results = [
            ("text:words", {"type": "text", "column": "text", "effect_ratio": 3.0}),
            ("text:oov_share", {"type": "text", "column": "text", "effect_ratio": 2.0}),
            ("n_lines", {"type": "numeric", "effect_ratio": 1.0}),
        ]
        assert _drift_panels(retail, results) == [
            ("length", "text"),
            ("vocabulary", "text"),
            ("feature", "n_lines"),
        ]
