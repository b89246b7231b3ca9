"""Model runtimes: ONNX (onnxruntime) by default, scikit-learn as the fallback.

Both take :class:`~mlops_serving.schema.Columns` and return the model's outputs
``[n, k]`` (class probabilities in the bundle's class order, or one predicted value),
named in the bundle (``runtimes.onnx.output``). How columns feed a graph comes from
the bundle too: one ``[n, 1]`` tensor per feature (scikit-learn exports; a text
feature as strings, the graph tokenizes it), or the named window, vector and token-id
tensors of a Keras network (``runtimes.onnx.layout``; token ids from
:mod:`mlops_serving.text` with the vocabulary the bundle carries). A text graph's
intermediate is dense (rows x vocabulary floats), so a bundle can bound the rows per
call (``runtimes.onnx.max_rows_per_call``); larger batches run in slices.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from mlops_serving.schema import Columns

DTYPES: dict[str, Any] = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(string)": object,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
}


class RuntimeLoadError(RuntimeError):
    """The model file cannot be loaded by the chosen runtime."""


class Runtime(Protocol):
    name: str
    #: the columns (gold column names) the model reads
    columns: set[str]

    def predict(self, columns: Columns) -> np.ndarray: ...


Feed = Callable[[Columns], np.ndarray]


def _stack(cols: list[str], dtype: Any, window: bool) -> Feed:
    """Columns side by side: ``[n, k]``, or ``[n, k, 1]`` for a window."""

    def feed(c: Columns) -> np.ndarray:
        out = np.stack([c.numeric[x] for x in cols], axis=1).astype(dtype, copy=False)
        return out[:, :, None] if window else out

    return feed


def _tokens(column: str, tokenizer_doc: dict[str, Any]) -> Feed:
    from mlops_serving.text import Tokenizer  # noqa: PLC0415

    try:
        tokenizer = Tokenizer.from_document(tokenizer_doc)
    except (KeyError, TypeError, ValueError) as exc:
        raise RuntimeLoadError(f"tokenizer of {column!r}: {exc}") from exc

    def feed(c: Columns) -> np.ndarray:
        return tokenizer.encode(c.text[column])

    return feed


def _text(name: str) -> Feed:
    def feed(c: Columns) -> np.ndarray:
        return np.array(c.text[name], dtype=object).reshape(-1, 1)

    return feed


def _column(name: str, dtype: Any) -> Feed:
    def feed(c: Columns) -> np.ndarray:
        return c.numeric[name].astype(dtype, copy=False).reshape(-1, 1)

    return feed


class OnnxRuntime:
    name = "onnx"

    def __init__(self, model: bytes, info: dict[str, Any]) -> None:
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
        output = str(info.get("output", "probabilities"))
        outputs = [o.name for o in self.session.get_outputs()]
        if output not in outputs:
            raise RuntimeLoadError(f"model.onnx has no {output!r} output: {outputs}")
        self.outputs = [output]
        types: dict[str, Any] = {}
        for inp in self.session.get_inputs():
            types[inp.name] = DTYPES.get(inp.type)
            if types[inp.name] is None:
                raise RuntimeLoadError(f"input {inp.name!r} has type {inp.type}")
        self.feeds: dict[str, Feed] = {}
        self.columns: set[str] = set()
        layout = info.get("layout")
        self.max_rows = int(info.get("max_rows_per_call") or 0) or None
        layout = info.get("layout")
        if layout:  # a network's named tensors
            for spec in layout["inputs"]:
                self.columns.update(spec["columns"])
                if spec["kind"] == "tokens":
                    self.feeds[spec["name"]] = _tokens(
                        spec["columns"][0], spec["tokenizer"]
                    )
                else:
                    self.feeds[spec["name"]] = _stack(
                        list(spec["columns"]),
                        types[spec["name"]],
                        window=spec["kind"] == "window",
                    )
        else:  # one [n, 1] tensor per feature
            missing = info.get("missing_category", "missing")
            texts = {i["name"] for i in info.get("inputs", []) if i["kind"] == "text"}
            self.columns.update(types)
            for name, dtype in types.items():
                if name in texts:
                    self.feeds[name] = _text(name)
                elif dtype is object:
                    self.feeds[name] = self._categorical(name, missing)
                else:
                    self.feeds[name] = _column(name, dtype)
        unfed = sorted(set(types) - set(self.feeds))
        if unfed:
            raise RuntimeLoadError(f"model.onnx inputs {unfed} have no column")

    @staticmethod
    def _categorical(name: str, missing: str) -> Feed:
        def feed(c: Columns) -> np.ndarray:
            arr = np.empty((c.n_rows, 1), dtype=object)
            arr[:, 0] = [missing if v is None else v for v in c.categorical[name]]
            return arr

        return feed

    def predict(self, columns: Columns) -> np.ndarray:
        feed = {name: make(columns) for name, make in self.feeds.items()}
        n, step = columns.n_rows, self.max_rows
        if step is None or n <= step:
            (out,) = self.session.run(self.outputs, feed)
            out = np.asarray(out, dtype=np.float64)
            return out.reshape(len(out), -1)
        parts = []
        for start in range(0, n, step):
            part = {k: v[start : start + step] for k, v in feed.items()}
            (out,) = self.session.run(self.outputs, part)
            parts.append(np.asarray(out, dtype=np.float64).reshape(len(out), -1))
        return np.vstack(parts)


class SklearnRuntime:
    name = "sklearn"

    def __init__(self, model: bytes, features: list[str], task: str) -> None:
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
        self.columns = set(features)
        self.classify = task == "classification"

    def predict(self, columns: Columns) -> np.ndarray:
        data: dict[str, Any] = dict(columns.numeric)
        for name, cats in columns.categorical.items():
            # object dtype holding None: the imputer's learned "missing" category
            data[name] = self.pd.Series(cats, dtype=object)
        for name, texts in columns.text.items():
            data[name] = self.pd.Series(texts, dtype=object)
        frame = self.pd.DataFrame(data)[self.features]
        if self.classify:
            return np.asarray(self.model.predict_proba(frame), dtype=np.float64)
        return np.asarray(self.model.predict(frame), dtype=np.float64).reshape(-1, 1)
