"""Model flavours: what the platform does with a model depends on its framework.

A candidate is not always a scikit-learn Pipeline. A :class:`Flavour` owns everything
framework-specific: fitting (for Keras: epochs, early stopping on the validation set,
the reported ``val_loss``), predicting from a gold frame, the bytes written into the
bundle, logging to MLflow with the flavour's own MLflow module, and the ONNX export.
The generic stages only ever call a flavour found by the name a candidate (and later
the bundle manifest) records, the way kedro-mlflow names an MLflow flavour in a
catalog entry instead of importing a library in a node.

TensorFlow is imported only by the Keras flavour's methods (4-6 s and 640 MB).
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)


def import_keras() -> Any:
    """Keras, with TensorFlow imported first and quiet.

    kedro-mlflow turns MLflow autologging off at start-up, which leaves a post-import
    hook on ``tensorflow``; importing ``keras`` first fires it while Keras is half
    initialised (a circular-import warning). TensorFlow first avoids that.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow  # noqa: PLC0415

    del tensorflow  # imported for its side effect: initialised before keras
    import keras  # noqa: PLC0415

    return keras


@dataclass
class Candidate:
    """An unfitted candidate: the flavour that fits it and what to fit."""

    flavour: str
    spec: Any
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class FitResult:
    model: Any
    info: dict[str, Any] = field(default_factory=dict)


class Flavour(ABC):
    name: str
    #: The bundle file holding the model in its framework's own format.
    model_file: str

    @abstractmethod
    def fit(
        self,
        spec: Any,
        x_train: pd.DataFrame,
        y_train: pd.Series,
        x_val: pd.DataFrame,
        y_val: pd.Series,
    ) -> FitResult: ...

    @abstractmethod
    def refit(
        self, spec: Any, x: pd.DataFrame, y: pd.Series, fitted: FitResult
    ) -> FitResult:
        """The same candidate fitted again on ``x`` (train + validation), with what
        validation chose in ``fitted`` fixed (e.g. a network's epoch count), since
        no rows are left to choose it on."""

    @abstractmethod
    def predict(self, model: Any, x: pd.DataFrame) -> np.ndarray: ...

    def predict_proba(self, model: Any, x: pd.DataFrame) -> np.ndarray:
        raise TypeError(f"flavour {self.name}: this model gives no probabilities")

    def classes(self, model: Any) -> list[str] | None:
        return None

    @abstractmethod
    def dumps(self, model: Any) -> bytes: ...

    @abstractmethod
    def loads(self, data: bytes, described: dict[str, Any]) -> Any:
        """The model from its bundle bytes and what :meth:`describe` recorded."""

    def describe(self, model: Any) -> dict[str, Any]:
        """What the manifest's ``model`` entry records beside the file."""
        return {}

    @abstractmethod
    def onnx_feed(
        self, model: Any, x: pd.DataFrame, info: dict[str, Any]
    ) -> dict[str, np.ndarray]:
        """The exported graph's inputs for the gold rows ``x``."""

    @abstractmethod
    def log_mlflow(self, model: Any, name: str, example: pd.DataFrame) -> str:
        """Log the model to the active MLflow run; returns its model URI (the
        caller registers it: :func:`mlops_platform.tracking.register_model`)."""

    @abstractmethod
    def to_onnx(self, model: Any, use_case: Any) -> tuple[bytes, dict[str, Any]]:
        """The ONNX graph (output named after the task) and how it was made.

        Raises :class:`mlops_platform.onnx_export.OnnxExportError` when the model
        cannot be converted; the parity check is generic (onnx_export.export_onnx).
        """

    def versions(self) -> dict[str, str]:
        return {}


# ---------------------------------------------------------------------- scikit-learn
class SklearnFlavour(Flavour):
    name = "sklearn"
    model_file = "model.joblib"

    def fit(self, spec, x_train, y_train, x_val, y_val) -> FitResult:
        from sklearn.base import clone  # noqa: PLC0415

        return FitResult(clone(spec).fit(x_train, y_train))

    def refit(self, spec, x, y, fitted: FitResult) -> FitResult:
        from sklearn.base import clone  # noqa: PLC0415

        return FitResult(clone(spec).fit(x, y), {"refit_rows": len(x)})

    def predict(self, model: Any, x: pd.DataFrame) -> np.ndarray:
        return np.asarray(model.predict(x))

    def predict_proba(self, model: Any, x: pd.DataFrame) -> np.ndarray:
        return np.asarray(model.predict_proba(x), dtype=np.float64)

    def classes(self, model: Any) -> list[str] | None:
        classes = getattr(model, "classes_", None)
        return [str(c) for c in classes] if classes is not None else None

    def dumps(self, model: Any) -> bytes:
        import joblib  # noqa: PLC0415

        buf = io.BytesIO()
        joblib.dump(model, buf, compress=3)
        return buf.getvalue()

    def loads(self, data: bytes, described: dict[str, Any]) -> Any:
        import joblib  # noqa: PLC0415

        return joblib.load(io.BytesIO(data))

    def onnx_feed(
        self, model: Any, x: pd.DataFrame, info: dict[str, Any]
    ) -> dict[str, np.ndarray]:
        from mlops_platform.onnx_export import onnx_feed, stack_feed  # noqa: PLC0415

        numeric = [i["name"] for i in info["inputs"] if i["kind"] == "numeric"]
        categorical = [i["name"] for i in info["inputs"] if i["kind"] == "categorical"]
        dtype = np.float64 if info["numeric_dtype"] == "float64" else np.float32
        feed = onnx_feed(
            x, numeric, categorical, info.get("missing_category", ""), dtype
        )
        for i in info["inputs"]:
            if i["kind"] == "text":
                feed[i["name"]] = (
                    x[i["name"]].astype(str).to_numpy(dtype=object).reshape(-1, 1)
                )
        return stack_feed(feed, info.get("stacked", ()))

    def log_mlflow(self, model, name, example) -> str:
        import mlflow  # noqa: PLC0415
        import sklearn  # noqa: PLC0415
        from mlflow.models import infer_signature  # noqa: PLC0415

        from mlops_platform.tracking import without_pickle_advice  # noqa: PLC0415

        with without_pickle_advice():
            info = mlflow.sklearn.log_model(
                model,
                name=name,
                # skops (the default) refuses tree models (STACK-FACTS.md)
                serialization_format="cloudpickle",
                signature=infer_signature(example, model.predict(example)),
                input_example=example,
                pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
            )
        return str(info.model_uri)

    def to_onnx(self, model: Any, use_case: Any) -> tuple[bytes, dict[str, Any]]:
        from mlops_platform.onnx_export import sklearn_to_onnx  # noqa: PLC0415

        return sklearn_to_onnx(
            model,
            use_case.numeric_features,
            use_case.categorical_features,
            use_case.task.output_name,
        )

    def versions(self) -> dict[str, str]:
        import sklearn  # noqa: PLC0415

        return {"sklearn_version": sklearn.__version__}


# ----------------------------------------------------------------------------- Keras
@dataclass(frozen=True)
class InputLayout:
    """How gold columns become a network's named inputs.

    Each window is one ``[n, length, 1]`` input, each vector one ``[n, k]`` input and
    each text one ``[n, length]`` input of token ids, named after it (a column may
    feed several inputs). Token ids come from :class:`mlops_serving.text.Tokenizer`,
    fitted on the training texts (:meth:`fitted`) with ``tokenizer_params``: the
    serving package runs the same tokenizer, because a tokenizer inside a Keras
    graph cannot be exported. The bundle's manifest records the layout (with the
    fitted vocabulary), so serving builds the same tensors for the ONNX graph.
    """

    windows: dict[str, tuple[str, ...]] = field(default_factory=dict)
    vectors: dict[str, tuple[str, ...]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    tokenizer_params: dict[str, Any] = field(default_factory=dict)
    tokenizer: Any = None

    def fitted(self, x: pd.DataFrame) -> InputLayout:
        """The layout with its tokenizer fitted on ``x``'s texts (itself if none)."""
        if not self.texts:
            return self
        from mlops_serving.text import Tokenizer  # noqa: PLC0415

        texts = [t for col in self.texts.values() for t in x[col].tolist()]
        return replace(self, tokenizer=Tokenizer.fit(texts, **self.tokenizer_params))

    def arrays(self, x: pd.DataFrame) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for name, cols in self.windows.items():
            out[name] = x[list(cols)].to_numpy(dtype=np.float32)[:, :, None]
        for name, cols in self.vectors.items():
            out[name] = x[list(cols)].to_numpy(dtype=np.float32)
        bad = [k for k, v in out.items() if not np.isfinite(v).all()]
        if bad:
            raise ValueError(
                f"Keras inputs {bad} hold NaN or infinite values: a network needs "
                "complete inputs (fill them in build_gold)"
            )
        for name, col in self.texts.items():
            if self.tokenizer is None:
                raise ValueError(f"text input {name}: the tokenizer is not fitted")
            out[name] = self.tokenizer.encode(x[col].astype(str).tolist())
        return out

    def columns(self) -> list[str]:
        seen: dict[str, None] = {}
        for cols in [*self.windows.values(), *self.vectors.values()]:
            seen.update(dict.fromkeys(cols))
        seen.update(dict.fromkeys(self.texts.values()))
        return list(seen)

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> InputLayout:
        """The layout back from :meth:`document` (the manifest's and serving's form)."""
        groups: dict[str, dict[str, tuple[str, ...]]] = {"window": {}, "vector": {}}
        texts: dict[str, str] = {}
        tokenizer = None
        for spec in doc["inputs"]:
            if spec["kind"] == "tokens":
                from mlops_serving.text import Tokenizer  # noqa: PLC0415

                (texts[spec["name"]],) = spec["columns"]
                tokenizer = Tokenizer.from_document(spec["tokenizer"])
            else:
                groups[spec["kind"]][spec["name"]] = tuple(spec["columns"])
        return cls(
            windows=groups["window"],
            vectors=groups["vector"],
            texts=texts,
            tokenizer=tokenizer,
        )

    def document(self) -> dict[str, Any]:
        return {
            "inputs": [
                *(
                    {
                        "name": n,
                        "kind": "window",
                        "shape": [None, len(c), 1],
                        "columns": list(c),
                    }
                    for n, c in self.windows.items()
                ),
                *(
                    {
                        "name": n,
                        "kind": "vector",
                        "shape": [None, len(c)],
                        "columns": list(c),
                    }
                    for n, c in self.vectors.items()
                ),
                *(
                    {
                        "name": n,
                        "kind": "tokens",
                        "shape": [None, self.tokenizer.length],
                        "columns": [c],
                        "tokenizer": self.tokenizer.document(),
                    }
                    for n, c in self.texts.items()
                ),
            ]
        }


@dataclass(frozen=True)
class KerasSpec:
    """An unfitted Keras candidate: a builder and how to train it.

    ``build(train_arrays, params)`` returns an uncompiled ``keras.Model`` whose inputs
    are named as :class:`InputLayout` names them; it may read the training arrays to
    set fixed scaling (see :func:`scaling_layer`) and ``params["vocabulary_size"]``
    (the fitted tokenizer's embedding rows) when the layout has texts. A classifier
    names its ``classes``: the network answers one probability per class, in that
    order, and trains on the class indices.
    """

    layout: InputLayout
    build: Callable[[dict[str, np.ndarray], dict[str, Any]], Any]
    params: dict[str, Any] = field(default_factory=dict)
    loss: str = "mae"
    epochs: int = 30
    batch_size: int = 256
    patience: int = 4
    learning_rate: float = 1e-3
    seed: int = 42
    classes: tuple[str, ...] = ()


class KerasModel:
    """A fitted network and its input layout; pickles through the ``.keras`` format."""

    def __init__(
        self, network: Any, layout: InputLayout, classes: tuple[str, ...] = ()
    ) -> None:
        self.network = network
        self.layout = layout
        self.classes = tuple(classes)

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        arrays = self.layout.arrays(x)
        if not len(x):
            return np.zeros(0)
        out = self.network.predict(_inputs(arrays), batch_size=4096, verbose=0)
        return np.asarray(out, dtype=np.float64).reshape(len(x), -1)

    def __getstate__(self) -> dict[str, Any]:
        return {
            "network": keras_bytes(self.network),
            "layout": self.layout,
            "classes": self.classes,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.network = keras_from_bytes(state["network"])
        self.layout = state["layout"]
        self.classes = tuple(state.get("classes", ()))


def keras_bytes(network: Any) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        network.save(path)
        with open(path, "rb") as f:
            return f.read()


def keras_from_bytes(data: bytes) -> Any:
    keras = import_keras()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        with open(path, "wb") as f:
            f.write(data)
        return keras.saving.load_model(path, compile=False)


def scaling_layer(mean: Any, std: Any, name: str) -> Any:
    """A frozen ``Dense`` that standardises the last axis: ``(x - mean) / std``.

    Keras's ``Normalization`` layer is not used: tf2onnx turns its constants into
    extra graph inputs, so the exported graph cannot run (measured here).
    """
    keras = import_keras()
    mean = np.atleast_1d(np.asarray(mean, dtype=np.float64))
    std = np.atleast_1d(np.asarray(std, dtype=np.float64))
    std = np.where(std > 1e-9, std, 1.0)
    layer = keras.layers.Dense(len(mean), trainable=False, name=name)
    layer.build((None, len(mean)))
    layer.set_weights(
        [np.diag(1.0 / std).astype(np.float32), (-mean / std).astype(np.float32)]
    )
    return layer


class KerasFlavour(Flavour):
    name = "keras"
    model_file = "model.keras"

    def fit(self, spec: KerasSpec, x_train, y_train, x_val, y_val) -> FitResult:
        return self._train(spec, x_train, y_train, (x_val, y_val), spec.epochs)

    def refit(self, spec: KerasSpec, x, y, fitted: FitResult) -> FitResult:
        """As many epochs as the validation loss was best after."""
        epochs = int(fitted.info["best_epoch"])
        result = self._train(spec, x, y, None, epochs)
        result.info["refit_rows"] = len(x)
        return result

    def _train(
        self,
        spec: KerasSpec,
        x_train: pd.DataFrame,
        y_train: pd.Series,
        validation: tuple[pd.DataFrame, pd.Series] | None,
        epochs: int,
    ) -> FitResult:
        keras = import_keras()
        keras.utils.set_random_seed(spec.seed)
        layout = spec.layout.fitted(x_train)
        train = layout.arrays(x_train)
        params = dict(spec.params)
        if layout.tokenizer is not None:
            params["vocabulary_size"] = layout.tokenizer.size
        network = spec.build(train, params)
        network.compile(
            optimizer=keras.optimizers.Adam(learning_rate=spec.learning_rate),
            loss=spec.loss,
        )
        fit_args: dict[str, Any] = {}
        if validation is not None:
            x_val, y_val = validation
            fit_args["validation_data"] = (
                _inputs(layout.arrays(x_val)),
                _targets(y_val, spec.classes),
            )
            fit_args["callbacks"] = [
                keras.callbacks.EarlyStopping(
                    monitor="val_loss",
                    patience=spec.patience,
                    restore_best_weights=True,
                )
            ]
        start = time.perf_counter()
        history = network.fit(
            _inputs(train),
            _targets(y_train, spec.classes),
            epochs=epochs,
            batch_size=spec.batch_size,
            verbose=0,
            shuffle=True,
            **fit_args,
        )
        info: dict[str, Any] = {"loss": spec.loss}
        if validation is not None:
            val_loss = [float(v) for v in history.history["val_loss"]]
            best = int(np.argmin(val_loss))
            info.update(
                epochs_run=len(val_loss),
                best_epoch=best + 1,
                val_loss=val_loss[best],
                val_loss_history=[round(v, 6) for v in val_loss],
            )
        else:
            info["epochs_run"] = epochs
        info["train_seconds"] = round(time.perf_counter() - start, 2)
        info["parameters"] = int(network.count_params())
        if layout.tokenizer is not None:
            info["vocabulary"] = len(layout.tokenizer.vocabulary)
        return FitResult(KerasModel(network, layout, spec.classes), info)

    def predict(self, model: KerasModel, x: pd.DataFrame) -> np.ndarray:
        out = model.predict(x)
        if model.classes:
            return np.asarray(model.classes, dtype=object)[out.argmax(axis=1)]
        return out[:, 0] if out.ndim == 2 and out.shape[1] == 1 else out

    def predict_proba(self, model: KerasModel, x: pd.DataFrame) -> np.ndarray:
        if not model.classes:
            raise TypeError("this network is a regressor: it gives no probabilities")
        return model.predict(x)

    def classes(self, model: KerasModel) -> list[str] | None:
        return list(model.classes) or None

    def dumps(self, model: KerasModel) -> bytes:
        return keras_bytes(model.network)

    def describe(self, model: KerasModel) -> dict[str, Any]:
        return {
            "layout": model.layout.document(),
            **({"classes": list(model.classes)} if model.classes else {}),
        }

    def loads(self, data: bytes, described: dict[str, Any]) -> KerasModel:
        return KerasModel(
            keras_from_bytes(data),
            InputLayout.from_document(described["layout"]),
            tuple(described.get("classes", ())),
        )

    def onnx_feed(
        self, model: KerasModel, x: pd.DataFrame, info: dict[str, Any]
    ) -> dict[str, np.ndarray]:
        return model.layout.arrays(x)

    def log_mlflow(self, model: KerasModel, name, example) -> str:
        import mlflow  # noqa: PLC0415
        from mlflow.models import infer_signature  # noqa: PLC0415

        arrays = model.layout.arrays(example)
        info = mlflow.keras.log_model(
            model.network,
            name=name,
            signature=infer_signature(
                arrays, model.network.predict(_inputs(arrays), verbose=0)
            ),
            # No input_example: mlflow 3.17's keras flavour fails to write one for a
            # multi-input model (FileNotFoundError on input_example.json, measured).
        )
        return str(info.model_uri)

    def to_onnx(self, model: KerasModel, use_case: Any) -> tuple[bytes, dict[str, Any]]:
        import_keras()
        import onnx  # noqa: PLC0415
        import tensorflow as tf  # noqa: PLC0415

        from mlops_platform.onnx_export import OnnxExportError  # noqa: PLC0415

        network = model.network
        specs = [
            tf.TensorSpec(
                tuple(inp.shape), tf.as_dtype(inp.dtype), name=inp.name.split(":")[0]
            )
            for inp in network.inputs
        ]
        wanted = {i["name"] for i in model.layout.document()["inputs"]}
        if {s.name for s in specs} != wanted:
            raise OnnxExportError(
                f"network inputs {[s.name for s in specs]} differ from the layout "
                f"{sorted(wanted)}"
            )
        network(_inputs(model.layout.arrays(_zeros_frame(model.layout))))  # built
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.onnx")
            try:
                network.export(
                    path, format="onnx", input_signature=[specs], verbose=False
                )
            except Exception as exc:
                raise OnnxExportError(f"keras export to ONNX failed: {exc}") from exc
            graph = onnx.load(path)
        (output,) = graph.graph.output
        old, new = output.name, use_case.task.output_name
        for node in graph.graph.node:
            node.output[:] = [new if o == old else o for o in node.output]
        output.name = new
        import tf2onnx  # noqa: PLC0415

        keras = import_keras()
        return graph.SerializeToString(), {
            "converter": f"keras {keras.__version__} export (tf2onnx "
            f"{tf2onnx.__version__})",
            "numeric_dtype": "float32",
            "layout": model.layout.document(),
        }

    def versions(self) -> dict[str, str]:
        keras = import_keras()
        import tensorflow as tf  # noqa: PLC0415

        return {
            "keras_version": keras.__version__,
            "tensorflow_version": tf.__version__,
        }


def _zeros_frame(layout: InputLayout) -> pd.DataFrame:
    cols = layout.columns()
    frame = pd.DataFrame(np.ones((1, len(cols))), columns=cols)
    for col in layout.texts.values():
        frame[col] = "a"
    return frame


def _inputs(arrays: dict[str, np.ndarray]) -> Any:
    """A one-input network takes its array itself: Keras warns when handed a dict
    for a model whose input is not a dict."""
    return next(iter(arrays.values())) if len(arrays) == 1 else arrays


def _targets(y: pd.Series, classes: tuple[str, ...]) -> np.ndarray:
    """Regression targets as floats; class labels as their index in ``classes``."""
    if not classes:
        return y.to_numpy(dtype=np.float32)
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted(set(map(str, y.unique())) - set(index))
    if unknown:
        raise ValueError(f"labels {unknown} are not among the classes {classes}")
    return y.astype(str).map(index).to_numpy(dtype=np.int64)


FLAVOURS: dict[str, Flavour] = {f.name: f for f in (SklearnFlavour(), KerasFlavour())}


def get_flavour(name: str) -> Flavour:
    try:
        return FLAVOURS[name]
    except KeyError:
        raise ValueError(
            f"unknown model flavour {name!r}; known: {sorted(FLAVOURS)}"
        ) from None
