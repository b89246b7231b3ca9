"""Estimators of our own, following scikit-learn's estimator contract.

:class:`ScaledTargetRegressor` learns ``y / x[scale]`` and predicts
``estimator(x) * x[scale]``: a car park's count as its occupancy rate times its
capacity, so one model serves car parks of 100 and of 3,000 spaces. The ONNX exporter
knows it (``onnx_export.sklearn_to_onnx``: the inner graph times the scale input).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, clone


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
