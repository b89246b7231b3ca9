"""Model runtimes: ONNX (onnxruntime) by default, scikit-learn as the fallback.

Both take the same columns: numeric features as float64 arrays (NaN for missing) and
categorical features as lists of ``str | None``, and return class probabilities
``[n, n_classes]`` in the bundle's class order.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

PROBABILITIES = "probabilities"


class RuntimeLoadError(RuntimeError):
    """The model file cannot be loaded by the chosen runtime."""


@dataclass(frozen=True)
class Columns:
    numeric: dict[str, np.ndarray]
    categorical: dict[str, list[str | None]]
    n_rows: int


class Runtime(Protocol):
    name: str

    def predict_proba(self, columns: Columns) -> np.ndarray: ...


class OnnxRuntime:
    name = "onnx"

    def __init__(self, model: bytes, missing_category: str) -> None:
        import onnxruntime as ort  # noqa: PLC0415

        opts = ort.SessionOptions()
        # One request at a time per worker: extra threads only add hand-off latency.
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(
                model, sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise RuntimeLoadError(
                f"onnxruntime cannot load model.onnx: {exc}"
            ) from exc
        outputs = [o.name for o in self.session.get_outputs()]
        if PROBABILITIES not in outputs:
            raise RuntimeLoadError(f"model.onnx has no {PROBABILITIES!r} output")
        self.dtypes: dict[str, Any] = {}
        for inp in self.session.get_inputs():
            self.dtypes[inp.name] = {
                "tensor(float)": np.float32,
                "tensor(double)": np.float64,
                "tensor(string)": object,
            }.get(inp.type)
            if self.dtypes[inp.name] is None:
                raise RuntimeLoadError(f"input {inp.name!r} has type {inp.type}")
        self.missing = missing_category
        self.outputs = [PROBABILITIES]

    def predict_proba(self, columns: Columns) -> np.ndarray:
        feed: dict[str, np.ndarray] = {}
        for name, values in columns.numeric.items():
            feed[name] = values.astype(self.dtypes[name], copy=False).reshape(-1, 1)
        missing = self.missing
        for name, cats in columns.categorical.items():
            arr = np.empty((len(cats), 1), dtype=object)
            arr[:, 0] = [missing if v is None else v for v in cats]
            feed[name] = arr
        (proba,) = self.session.run(self.outputs, feed)
        return np.asarray(proba, dtype=np.float64)


class SklearnRuntime:
    name = "sklearn"

    def __init__(self, model: bytes, features: list[str]) -> None:
        try:
            import joblib  # noqa: PLC0415
            import pandas as pd  # noqa: PLC0415
        except ImportError as exc:
            raise RuntimeLoadError(
                "this bundle needs the scikit-learn runtime: "
                "pip install 'mlops-serving[sklearn]'"
            ) from exc
        try:
            self.model = joblib.load(io.BytesIO(model))
        except Exception as exc:
            raise RuntimeLoadError(f"joblib cannot load model.joblib: {exc}") from exc
        self.pd = pd
        self.features = features

    def predict_proba(self, columns: Columns) -> np.ndarray:
        data: dict[str, Any] = dict(columns.numeric)
        for name, cats in columns.categorical.items():
            # object dtype holding None: the imputer's learned "missing" category
            data[name] = self.pd.Series(cats, dtype=object)
        frame = self.pd.DataFrame(data)[self.features]
        return np.asarray(self.model.predict_proba(frame), dtype=np.float64)
