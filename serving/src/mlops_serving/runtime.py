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
import threading
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
    #: batches of up to this many rows are predicted on the event loop; larger ones
    #: in the service's prediction thread
    inline_rows: int

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


def _numeric_block(cols: list[str], dtype: Any) -> Feed:
    """``[n, k]`` of the named numeric columns: the request's numeric matrix itself
    when it holds exactly these columns in this order (the usual case: both follow
    the input schema), else its columns picked in this order."""
    wanted = tuple(cols)

    def feed(c: Columns) -> np.ndarray:
        if c.numeric_names == wanted and c.matrix is not None:
            block = c.matrix
        else:
            block = np.stack([c.numeric[x] for x in cols], axis=1)
        return block.astype(dtype, copy=False)

    return feed


def _categorical_block(cols: list[str], missing: str) -> Feed:
    """``[n, k]`` strings of the named categorical columns, ``missing`` for None."""

    def feed(c: Columns) -> np.ndarray:
        values = [c.categorical[x] for x in cols]
        return np.array(
            [
                [missing if v is None else v for v in row]
                for row in zip(*values, strict=True)
            ],
            dtype=object,
        ).reshape(c.n_rows, len(cols))

    return feed


class OnnxRuntime:
    name = "onnx"
    # One row: about 30-60 us in the session, less than a hand-off to a thread.
    inline_rows = 64

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
        else:  # one [n, 1] tensor per feature, or per kind (stacked, format 4)
            missing = info.get("missing_category", "missing")
            texts = {i["name"] for i in info.get("inputs", []) if i["kind"] == "text"}
            stacked = {g["name"]: g for g in info.get("stacked") or []}
            for name, dtype in types.items():
                group = stacked.get(name)
                if group is not None:
                    self.columns.update(group["columns"])
                    self.feeds[name] = (
                        _numeric_block(group["columns"], dtype)
                        if group["kind"] == "numeric"
                        else _categorical_block(group["columns"], missing)
                    )
                    continue
                self.columns.add(name)
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


_one_thread = threading.local()


def _limit_native_threads() -> None:
    """OpenMP and BLAS at one thread, for the calling thread (once per thread).

    scikit-learn's HistGradientBoosting predicts through OpenMP. OpenMP's thread count
    is a per-thread setting, and every thread that opens a parallel region gets a team
    of its own whose idle members spin-wait: one row cost 8 ms on the event loop and
    about 20 ms in a pool thread (2 cores, shared with the load generator). A worker
    answers one request at a time and scales with replicas, so one native thread is
    what it should use, on whichever thread predicts."""
    if getattr(_one_thread, "done", False):
        return
    from threadpoolctl import threadpool_limits  # noqa: PLC0415 (scikit-learn's)

    threadpool_limits(limits=1)
    _one_thread.done = True


class SklearnRuntime:
    name = "sklearn"
    # Milliseconds per call even for one row: always off the event loop.
    inline_rows = 0

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
        _limit_native_threads()
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
