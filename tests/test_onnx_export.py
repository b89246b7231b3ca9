"""ONNX export: every candidate converts and reproduces scikit-learn, including on
missing numbers, missing categories and categories the model never saw."""

from __future__ import annotations

import copy

import google.protobuf
import numpy as np
import pandas as pd
import pytest
import skl2onnx
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType, StringTensorType

from mlops_platform.flavours import SklearnFlavour
from mlops_platform.onnx_export import (
    OnnxExportError,
    _categorical_imputers,
    _skl2onnx_convert,
    export_onnx,
    missing_category,
    onnx_feed,
    run_onnx,
    stack_feed,
)
from mlops_platform.params import CandidateParams, TrainingParams
from mlops_platform.use_cases.retail.models import build_candidates

SKLEARN = SklearnFlavour()

PARAMS = TrainingParams(
    random_state=0,
    candidates={
        "logistic_regression": CandidateParams(params={"C": 0.5, "max_iter": 300}),
        "decision_tree": CandidateParams(params={"max_depth": 6}),
        "random_forest": CandidateParams(
            params={"n_estimators": 20, "max_depth": 8, "n_jobs": 2}
        ),
        "hist_gradient_boosting": CandidateParams(params={"max_iter": 60}),
    },
)


@pytest.fixture(scope="module")
def data(retail, small_gold):
    g = small_gold[small_gold["label"] != "XX"]
    last = g["shop_week"].max()
    train = retail.model_input(g[g["shop_week"] < last])
    check = retail.model_input(g[g["shop_week"] == last])
    # Hard rows: categories never seen, missing categories, missing numbers.
    odd = check.head(300).copy()
    odd.loc[odd.index[:100], "store_region"] = "Z99"
    odd.loc[odd.index[50:200], "basket_type"] = None
    odd.loc[odd.index[150:], "total_spend"] = np.nan
    odd.loc[odd.index[::3], "cust_prev_mean_spend"] = np.nan
    check = pd.concat([check, odd], ignore_index=True)
    return train, g.loc[g["shop_week"] < last, "label"], check


@pytest.fixture(scope="module")
def fitted(retail, data):
    x, y, _ = data
    models = build_candidates(
        retail.numeric_features, retail.categorical_features, PARAMS
    )
    return {name: m.fit(x, y) for name, m in models.items()}


@pytest.mark.parametrize(
    "name",
    ["logistic_regression", "decision_tree", "random_forest", "hist_gradient_boosting"],
)
def test_every_candidate_exports_faithfully(retail, data, fitted, name):
    _, _, check = data
    export = export_onnx(SKLEARN, fitted[name], retail, check)
    parity = export.info["parity"]
    assert parity["rows"] == len(check)
    assert parity["decision_agreement"] == 1.0
    assert parity["max_abs_diff"] <= 1e-6
    assert export.info["missing_category"] == "missing"
    assert export.info["output"] == "probabilities"
    if name == "hist_gradient_boosting":  # our float64 TreeEnsemble: exact
        assert export.info["numeric_dtype"] == "float64"
        assert parity["max_abs_diff"] < 1e-12
    # Two stacked inputs, [N, k] each, whatever the converter (parity above runs on
    # them): what serving feeds without a tensor per feature.
    import onnxruntime as ort

    inputs = ort.InferenceSession(export.model).get_inputs()
    assert {i.name: i.shape[1] for i in inputs} == {
        "stacked:numeric": len(retail.numeric_features),
        "stacked:categorical": len(retail.categorical_features),
    }
    assert [g["columns"] for g in export.info["stacked"]] == [
        list(retail.numeric_features),
        list(retail.categorical_features),
    ]


def test_hgb_binary_uses_sigmoid(retail, data):
    x, y, check = data
    binary = (y == "UM").map({True: "UM", False: "rest"})
    model = build_candidates(
        retail.numeric_features,
        retail.categorical_features,
        TrainingParams(
            candidates={
                "hist_gradient_boosting": CandidateParams(params={"max_iter": 40})
            }
        ),
    )["hist_gradient_boosting"].fit(x, binary)
    export = export_onnx(SKLEARN, model, retail, check)
    assert export.info["parity"]["max_abs_diff"] < 1e-12


def test_a_graph_of_another_model_is_refused(retail, data, fitted):
    """The parity check compares the graph with the model it claims to be."""
    _, _, check = data
    other = SKLEARN.to_onnx(fitted["decision_tree"], retail)

    class Swapped(SklearnFlavour):
        def to_onnx(self, model, use_case):
            return other

    with pytest.raises(OnnxExportError, match="does not match the model"):
        export_onnx(Swapped(), fitted["logistic_regression"], retail, check)


def test_hgb_regressor_exports_exactly():
    """Regression: our TreeEnsemble without categorical features, output prediction."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.pipeline import Pipeline

    from mlops_platform.onnx_export import sklearn_to_onnx

    rng = np.random.default_rng(1)
    x = pd.DataFrame(rng.normal(size=(400, 3)), columns=["a", "b", "c"])
    x.loc[::7, "b"] = np.nan
    y = 3 * x["a"] - x["b"].fillna(0) ** 2 + rng.normal(size=400)
    model = Pipeline(
        [
            (
                "preprocess",
                ColumnTransformer([("numeric", "passthrough", ["a", "b", "c"])]),
            ),
            ("model", HistGradientBoostingRegressor(max_iter=50, random_state=0)),
        ]
    ).fit(x, y)
    graph, info = sklearn_to_onnx(model, ["a", "b", "c"], [], "prediction")
    got = run_onnx(graph, SKLEARN.onnx_feed(model, x, info), "prediction")
    np.testing.assert_allclose(got[:, 0], model.predict(x), atol=1e-10)


def test_a_model_skl2onnx_cannot_convert_is_refused_by_name(retail, data):
    x, y, check = data
    model = build_candidates(
        retail.numeric_features,
        retail.categorical_features,
        TrainingParams(
            candidates={"decision_tree": CandidateParams(params={"max_depth": 3})}
        ),
    )["decision_tree"]
    model.set_params(preprocess__categorical__encode__min_frequency=500)
    model.fit(x, y)
    with pytest.raises(OnnxExportError, match="Infrequent categories"):
        export_onnx(SKLEARN, model, retail, check)


def test_missing_category_is_what_the_imputer_writes(retail, data, fitted):
    """A missing category fed as the fill value gives the batch answer for None."""
    _, _, check = data
    model = fitted["hist_gradient_boosting"]
    rows = check[check["basket_type"].isna()].head(20)
    assert len(rows) == 20
    export = export_onnx(SKLEARN, model, retail, check)
    feed = onnx_feed(
        rows,
        retail.numeric_features,
        retail.categorical_features,
        missing_category(model),
        np.float64,
    )
    assert set(feed["basket_type"].ravel()) == {"missing"}
    np.testing.assert_allclose(
        run_onnx(
            export.model, stack_feed(feed, export.info["stacked"]), "probabilities"
        ),
        model.predict_proba(rows),
        atol=1e-12,
    )


def test_skl2onnx_still_needs_the_bool_fix(retail):
    """Pins the skl2onnx workaround (and shows when it is needed)."""
    assert skl2onnx.__version__.startswith("1.20.")
    model = build_candidates(
        retail.numeric_features,
        retail.categorical_features,
        TrainingParams(
            candidates={
                "hist_gradient_boosting": CandidateParams(params={"max_iter": 5})
            }
        ),
    )["hist_gradient_boosting"]
    model.set_params(model__categorical_features=None)  # skl2onnx's own path
    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame(
        {c: rng.normal(size=n) for c in retail.numeric_features}
        | {c: rng.choice(["a", "b"], size=n) for c in retail.categorical_features}
    )
    model.fit(frame, rng.choice(["x", "y", "z"], size=n))
    copied = copy.deepcopy(model)
    for imp in _categorical_imputers(copied):
        imp.missing_values = "missing"
    types = [(c, FloatTensorType([None, 1])) for c in retail.numeric_features] + [
        (c, StringTensorType([None, 1])) for c in retail.categorical_features
    ]
    # protobuf 7 rejects the bool among ints; protobuf 6 (what sagemaker<3 allows, so
    # what is pinned) accepts it. Keep the fix while either may be installed.
    if int(google.protobuf.__version__.split(".")[0]) >= 7:
        with pytest.raises(ValueError, match=r"Unable to create node .TreeEnsemble"):
            to_onnx(copied, initial_types=types, options={"zipmap": False})
    assert _skl2onnx_convert(
        model, retail.numeric_features, retail.categorical_features, "missing"
    )
