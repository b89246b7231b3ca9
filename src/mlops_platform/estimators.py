"""Estimators of our own, following scikit-learn's estimator contract.

:class:`ScaledTargetRegressor` learns ``y / x[scale]`` and predicts
``estimator(x) * x[scale]``: a car park's count as its occupancy rate times its
capacity, so one model serves car parks of 100 and of 3,000 spaces. The ONNX exporter
knows it (``onnx_export.sklearn_to_onnx``: the inner graph times the scale input).

:class:`TextClassifier` runs a vectorizer and a linear classifier over one text column
of a frame; the exporter puts the whole pipeline, tokenizer included, in the graph.
:class:`NBLogisticRegression` is NBSVM in its logistic form (Wang and Manning 2012;
the "NB-LR" variant): binary word and pair features scaled by their naive Bayes
log-count ratio ``r``, then a logistic regression. Since ``(x * r) . w = x . (r * w)``
the fitted model is an ordinary logistic regression with coefficients ``r * w``
(:meth:`NBLogisticRegression.as_logistic_regression`), which is what is exported.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline


class ScaledTargetRegressor(RegressorMixin, BaseEstimator):
    def __init__(self, estimator: Any, scale: str) -> None:
        self.estimator = estimator
        self.scale = scale

    def _scale(self, x: pd.DataFrame) -> np.ndarray:
        s = pd.to_numeric(x[self.scale], errors="coerce").to_numpy(dtype=float)
        if not (np.isfinite(s).all() and (s > 0).all()):
            raise ValueError(f"{self.scale}: every row needs a positive scale")
        return s

    def fit(self, x: pd.DataFrame, y: Any) -> ScaledTargetRegressor:
        self.estimator_ = clone(self.estimator).fit(
            x, np.asarray(y, dtype=float) / self._scale(x)
        )
        return self

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.estimator_.predict(x), dtype=float) * self._scale(x)


class NBLogisticRegression(ClassifierMixin, BaseEstimator):
    """Logistic regression on features scaled by their naive Bayes log-count ratio.

    For two classes: ``r = log((p / |p|_1) / (q / |q|_1))`` with ``p`` (``q``) the
    feature sums over the second (first) class's rows plus ``alpha``.
    """

    def __init__(
        self, C: float = 0.3, alpha: float = 1.0, max_iter: int = 1000
    ) -> None:
        self.C = C
        self.alpha = alpha
        self.max_iter = max_iter

    def fit(self, x: Any, y: Any) -> NBLogisticRegression:
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise ValueError(
                f"NBLogisticRegression needs exactly two classes, got {self.classes_}"
            )
        first = y == self.classes_[0]
        p = np.asarray(x[~first].sum(axis=0)).ravel() + self.alpha
        q = np.asarray(x[first].sum(axis=0)).ravel() + self.alpha
        self.ratio_ = np.log((p / p.sum()) / (q / q.sum()))
        self.logistic_ = LogisticRegression(C=self.C, max_iter=self.max_iter).fit(
            self._scaled(x), y
        )
        return self

    def _scaled(self, x: Any) -> Any:
        if hasattr(x, "multiply"):
            return x.multiply(self.ratio_).tocsr()
        return np.asarray(x) * self.ratio_

    def predict_proba(self, x: Any) -> np.ndarray:
        return self.logistic_.predict_proba(self._scaled(x))

    def predict(self, x: Any) -> np.ndarray:
        return self.logistic_.predict(self._scaled(x))

    def as_logistic_regression(self) -> LogisticRegression:
        """The same model as a plain logistic regression on the unscaled features."""
        folded = copy.deepcopy(self.logistic_)
        folded.coef_ = self.logistic_.coef_ * self.ratio_[None, :]
        return folded


class TextClassifier(ClassifierMixin, BaseEstimator):
    """``vectorizer`` then ``classifier`` over the text column ``column``."""

    def __init__(self, column: str, vectorizer: Any, classifier: Any) -> None:
        self.column = column
        self.vectorizer = vectorizer
        self.classifier = classifier

    def _texts(self, x: pd.DataFrame) -> pd.Series:
        texts = x[self.column]
        if texts.isna().any():
            raise ValueError(f"{self.column}: every row needs a text")
        return texts.astype(str)

    def fit(self, x: pd.DataFrame, y: Any) -> TextClassifier:
        self.pipeline_ = Pipeline(
            [("vectorizer", clone(self.vectorizer)), ("model", clone(self.classifier))]
        ).fit(self._texts(x), y)
        self.classes_ = self.pipeline_.classes_
        return self

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        return self.pipeline_.predict_proba(self._texts(x))

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        return self.pipeline_.predict(self._texts(x))

    @property
    def features(self) -> int:
        return len(self.pipeline_.named_steps["vectorizer"].vocabulary_)

    def export_pipeline(self) -> Pipeline:
        """The fitted pipeline with every step an ONNX converter knows."""
        model = self.pipeline_.named_steps["model"]
        if hasattr(model, "as_logistic_regression"):
            model = model.as_logistic_regression()
        return Pipeline(
            [("vectorizer", self.pipeline_.named_steps["vectorizer"]), ("model", model)]
        )
