"""Retail candidate models: scikit-learn Pipelines that take raw gold features.

Only scikit-learn's own estimators and transformers are used, so a saved model loads
anywhere scikit-learn does (the serving package does not import this project).
Missing categories: ``SimpleImputer(missing_values=pd.NA)`` treats ``None`` and ``NaN``
alike, so a one-row request with ``null`` is encoded as the missing category the
model learned, not as an unknown one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

from mlops_platform.params import TrainingParams

MISSING = "missing"


def _categorical_imputer() -> SimpleImputer:
    return SimpleImputer(missing_values=pd.NA, strategy="constant", fill_value=MISSING)


def one_hot_preprocessor(
    numeric: Sequence[str], categorical: Sequence[str], scale: bool
) -> ColumnTransformer:
    numeric_steps: list[tuple[str, Any]] = [
        ("impute", SimpleImputer(strategy="median"))
    ]
    if scale:
        numeric_steps.append(("scale", StandardScaler()))
    return ColumnTransformer(
        [
            ("numeric", Pipeline(numeric_steps), list(numeric)),
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", _categorical_imputer()),
                        (
                            "encode",
                            # No min_frequency: skl2onnx 1.20 cannot export
                            # infrequent-category grouping (tests/test_onnx_export).
                            OneHotEncoder(handle_unknown="ignore"),
                        ),
                    ]
                ),
                list(categorical),
            ),
        ],
        verbose_feature_names_out=False,
    )


def ordinal_preprocessor(
    numeric: Sequence[str], categorical: Sequence[str]
) -> ColumnTransformer:
    """For gradient boosting: NaN stays NaN (native handling), categories as codes."""
    return ColumnTransformer(
        [
            ("numeric", "passthrough", list(numeric)),
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", _categorical_imputer()),
                        (
                            "encode",
                            OrdinalEncoder(
                                handle_unknown="use_encoded_value",
                                unknown_value=-1,
                                encoded_missing_value=-1,
                            ),
                        ),
                    ]
                ),
                list(categorical),
            ),
        ],
        verbose_feature_names_out=False,
    )


def build_candidates(
    numeric: Sequence[str], categorical: Sequence[str], params: TrainingParams
) -> dict[str, Pipeline]:
    seed = params.random_state
    n_num = len(numeric)
    factories = {
        "logistic_regression": lambda p: Pipeline(
            [
                ("preprocess", one_hot_preprocessor(numeric, categorical, scale=True)),
                ("model", LogisticRegression(random_state=seed, **p)),
            ]
        ),
        "decision_tree": lambda p: Pipeline(
            [
                ("preprocess", one_hot_preprocessor(numeric, categorical, scale=False)),
                ("model", DecisionTreeClassifier(random_state=seed, **p)),
            ]
        ),
        "random_forest": lambda p: Pipeline(
            [
                ("preprocess", one_hot_preprocessor(numeric, categorical, scale=False)),
                ("model", RandomForestClassifier(random_state=seed, **p)),
            ]
        ),
        "hist_gradient_boosting": lambda p: Pipeline(
            [
                ("preprocess", ordinal_preprocessor(numeric, categorical)),
                (
                    "model",
                    HistGradientBoostingClassifier(
                        random_state=seed,
                        categorical_features=list(
                            range(n_num, n_num + len(categorical))
                        ),
                        **p,
                    ),
                ),
            ]
        ),
    }
    unknown = set(params.candidates) - set(factories)
    if unknown:
        raise ValueError(
            f"parameters_training.yml: unknown retail candidate(s) {sorted(unknown)}; "
            f"known: {sorted(factories)}"
        )
    return {
        name: factories[name](dict(spec.params))
        for name, spec in params.candidates.items()
        if spec.enabled
    }
