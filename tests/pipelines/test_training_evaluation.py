from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_platform.params import (
    CandidateParams,
    EvaluationParams,
    GateParams,
    TrainingParams,
)
from mlops_platform.pipelines.evaluation.nodes import (
    decide_promotion,
    evaluate_models,
    golden_rows,
    input_schema,
)
from mlops_platform.pipelines.training.nodes import train_candidates

FAST = TrainingParams(
    random_state=0,
    candidates={
        "logistic_regression": CandidateParams(params={"C": 0.5, "max_iter": 300}),
        "decision_tree": CandidateParams(
            params={"max_depth": 6, "min_samples_leaf": 30}
        ),
        "random_forest": CandidateParams(
            params={
                "n_estimators": 30,
                "max_depth": 10,
                "min_samples_leaf": 20,
                "n_jobs": 2,
            }
        ),
        "hist_gradient_boosting": CandidateParams(params={"max_iter": 80}),
    },
)
TRAIN = {"train": True, "reason": "no champion yet"}


@pytest.fixture(scope="module")
def splits(small_gold):
    g = small_gold[small_gold["label"] != "XX"]
    weeks = sorted(g["shop_week"].unique())
    return (
        g[g["shop_week"].isin(weeks[:-2])],
        g[g["shop_week"] == weeks[-2]],
        g[g["shop_week"] == weeks[-1]],
    )


@pytest.fixture(scope="module")
def trained(retail, splits):
    train, val, _ = splits
    return train_candidates(retail, train, val, TRAIN, FAST)


class TestTraining:
    def test_skipped_when_drift_says_keep(self, retail, splits):
        train, val, _ = splits
        ch, report = train_candidates(
            retail, train, val, {"train": False, "reason": "no drift"}, FAST
        )
        assert not ch.trained and ch.model is None
        assert report == {
            "trained": False,
            "reason": "training skipped: no drift",
            "candidates": {},
        }

    def test_every_candidate_scored_and_best_chosen(self, trained):
        ch, report = trained
        assert set(report["candidates"]) == set(FAST.candidates)
        best = max(
            report["candidates"],
            key=lambda n: report["candidates"][n]["validation"]["macro_f1"],
        )
        assert ch.name == best == report["challenger"]

    def test_quality_is_realistic_not_perfect(self, retail, trained, splits):
        """Model check: beats the majority class on macro F1 (the selection metric),
        lands near the real baselines (per basket on the real week: accuracy 0.51-0.54,
        macro F1 0.49-0.54, docs/datagen.md), never near perfect. On this small world
        (700 customers) accuracy alone is about the majority class's, as a model
        choosing on macro F1 trades the majority class's hits for the others'."""
        from sklearn.metrics import f1_score

        ch, _ = trained
        _, _, test = splits
        pred = ch.model.predict(retail.model_input(test))
        acc = (pred == test["label"]).mean()
        f1 = f1_score(test["label"], pred, average="macro")
        majority_f1 = f1_score(
            test["label"], ["MM"] * len(test), average="macro", zero_division=0
        )
        assert f1 > majority_f1 + 0.15, (f1, majority_f1)
        assert 0.40 <= acc <= 0.72 and f1 <= 0.72, (acc, f1)

    def test_disabled_and_unknown_candidates(self, retail, splits):
        train, val, _ = splits
        only = TrainingParams(
            candidates={
                "decision_tree": CandidateParams(params={"max_depth": 3}),
                "random_forest": CandidateParams(enabled=False),
            }
        )
        _, report = train_candidates(retail, train, val, TRAIN, only)
        assert list(report["candidates"]) == ["decision_tree"]
        with pytest.raises(ValueError, match="unknown retail candidate"):
            train_candidates(
                retail,
                train,
                val,
                TRAIN,
                TrainingParams(candidates={"svm": CandidateParams()}),
            )


class TestModelBehaviour:
    def test_single_row_with_nulls_matches_batch(self, retail, trained, splits):
        """A one-row request with null categories is scored as the batch row is."""
        ch, _ = trained
        _, _, test = splits
        x = retail.model_input(test)
        rows = x[x[list(retail.categorical_features)].isna().any(axis=1)].head(20)
        assert len(rows) > 5
        batch = ch.model.predict_proba(rows)
        for i, raw in enumerate(rows.astype(object).to_dict(orient="records")):
            record = {
                k: (
                    None
                    if isinstance(v, float)
                    and np.isnan(v)
                    and k in retail.categorical_features
                    else v
                )
                for k, v in raw.items()
            }
            one = retail.model_input(pd.DataFrame([record]))
            np.testing.assert_allclose(
                ch.model.predict_proba(one)[0], batch[i], atol=1e-9
            )

    def test_unknown_category_does_not_crash(self, retail, trained, splits):
        ch, _ = trained
        x = retail.model_input(splits[2].head(3)).copy()
        x["store_region"] = "Z99"
        assert ch.model.predict_proba(x).shape == (3, 3)

    def test_golden_rows_reproduce(self, retail, trained, splits):
        ch, _ = trained
        golden = golden_rows(retail, ch.flavour, ch.model, splits[2], 12)
        assert len(golden["rows"]) == 12
        assert any(None in r.values() for r in golden["rows"])
        again = ch.model.predict_proba(retail.model_input(pd.DataFrame(golden["rows"])))
        for exp, p in zip(golden["expected"], again, strict=False):
            assert list(exp["probabilities"].values()) == pytest.approx(
                list(p), abs=1e-9
            )

    def test_input_schema_lists_fields_and_categories(self, retail, splits):
        schema = input_schema(retail, splits[0])
        names = [f["name"] for f in schema["fields"]]
        assert names == retail.features
        region = next(f for f in schema["fields"] if f["name"] == "store_region")
        assert "E01" in region["categories"]
        assert schema["class_labels"]["LA"] == "High price sensitivity"


class TestEvaluationAndGates:
    def test_evaluation_compares_with_baselines_and_champion(
        self, retail, trained, splits
    ):
        ch, _ = trained
        train, _, test = splits
        from mlops_platform.model_store import Bundle

        champ = Bundle(
            "retail", "v0001", {"model_name": "x"}, ch.model, {}, {}, {}, pd.DataFrame()
        )
        report, _fig = evaluate_models(
            retail, ch, champ, train, test, EvaluationParams()
        )
        assert report["champion"]["accuracy"] == report["challenger"]["accuracy"]
        assert set(report["baselines"]) == {"majority_class", "customer_sensitivity"}
        cm = np.array(report["challenger"]["confusion_matrix"]["matrix"])
        assert cm.sum() == len(test)
        assert set(report["challenger"]["per_class"]) == {"LA", "MM", "UM"}

    def _report(self, acc, f1, champion=None):
        """A report as evaluate_models writes it (comparisons: test_gates.py)."""
        lead = {
            "metric": "macro_f1",
            "difference": 0.05,
            "interval": [0.04, 0.08],
            "confidence": 0.95,
            "unit": "cust_code",
            "units": 900,
        }
        return {
            "challenger": {"name": "rf", "accuracy": acc, "macro_f1": f1},
            "champion": champion,
            "baselines": {
                "majority_class": {"accuracy": 0.46, "macro_f1": 0.21},
                "customer_sensitivity": {"accuracy": 0.55, "macro_f1": 0.53},
            },
            "comparisons": {
                "baseline majority_class": lead,
                "baseline customer_sensitivity": lead,
            },
        }

    GATES = EvaluationParams(
        gates=GateParams(
            bounds={"accuracy": 0.52, "macro_f1": 0.5},
            min_improvement_over_baselines={"majority_class": 0.03},
        )
    )

    def test_gates_pass(self, retail):
        d = decide_promotion(retail, self._report(0.6, 0.58), self.GATES)
        assert d["promote"] and d["reason"].startswith("all 4 gates passed")

    def test_gate_failure_names_the_check(self, retail):
        params = EvaluationParams(gates=GateParams(bounds={"accuracy": 0.7}))
        d = decide_promotion(retail, self._report(0.6, 0.58), params)
        assert not d["promote"]
        assert d["reason"] == "gate failed: accuracy >= 0.7 -> champion kept"

    def test_unknown_metric_or_baseline_is_named(self, retail):
        with pytest.raises(ValueError, match="unknown metric 'mae'"):
            decide_promotion(
                retail,
                self._report(0.6, 0.58),
                EvaluationParams(gates=GateParams(bounds={"mae": 1.0})),
            )
        with pytest.raises(ValueError, match="baseline 'persistence'"):
            decide_promotion(
                retail,
                self._report(0.6, 0.58),
                EvaluationParams(
                    gates=GateParams(
                        min_improvement_over_baselines={"persistence": 0.0}
                    )
                ),
            )

    def test_no_challenger_keeps_champion(self, retail):
        d = decide_promotion(
            retail,
            {"challenger": None, "challenger_skipped": "no drift", "baselines": {}},
            EvaluationParams(),
        )
        assert d == {
            "promote": False,
            "reason": "champion kept: no drift",
            "checks": [],
        }
