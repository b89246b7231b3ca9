"""Export a promoted scikit-learn Pipeline to ONNX, and prove the export is faithful.

The serving package runs ``model.onnx`` with onnxruntime (0.02-0.1 ms per row), not
the scikit-learn Pipeline (3-9 ms per row, mostly the ColumnTransformer). An export is
only written into a bundle when it reproduces the scikit-learn model on the rows it is
checked on (see :func:`check_parity`); otherwise the bundle has no ONNX file and the
serving package falls back to scikit-learn.

Two converters, one contract (docs/model_bundle.md, "model.onnx"):

* ``HistGradientBoostingClassifier`` behind the ordinal preprocessor: converted here
  to the ONNX-ML ``TreeEnsemble`` operator (opset 5) in float64, with native
  categorical splits as ``BRANCH_MEMBER`` nodes. skl2onnx 1.20 cannot do this model: it
  has no categorical splits (it would silently treat the codes as numbers), its
  float32 thresholds flipped 0.3% of retail test predictions (probabilities up to 0.18
  off), and its float64 path builds an invalid graph.
* Everything else (the one-hot pipelines: logistic regression, trees, forests): skl2onnx
  in float32, with the two adaptations in :func:`_skl2onnx_convert`.

Inputs of every exported graph: one ``[N, 1]`` tensor per feature, named after it;
numeric features as float (``tensor(float)`` or ``tensor(double)``, NaN for missing),
categorical features as strings with a missing value given as the imputer's fill
value (``missing_category`` in the manifest, ``"missing"``), which is exactly what the
scikit-learn imputer turns a missing value into. Output ``probabilities``: ``[N, C]``,
columns in ``classes`` order.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone, is_classifier
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

logger = logging.getLogger(__name__)

ONNX_FILE = "model.onnx"
OPSET = 18
TREE_OPSET = 20  # our TreeEnsemble graph: StringConcat is opset 20
ML_OPSET = 5
PROBABILITIES = "probabilities"
#: The stacked inputs of a scikit-learn graph (runtimes.onnx.stacked): names no
#: feature can have (features are identifiers).
STACKED = {"numeric": "stacked:numeric", "categorical": "stacked:categorical"}
# The parity an export must reach is the task's (tasks.py, Task.parity).


class OnnxExportError(RuntimeError):
    """The model cannot be exported, or the export does not match scikit-learn."""


@dataclass(frozen=True)
class OnnxExport:
    model: bytes
    info: dict[str, Any]


# ---------------------------------------------------------------------------- inputs
def _categorical_imputers(model: Any) -> Iterator[SimpleImputer]:
    if isinstance(model, SimpleImputer):
        yield model
    for attr in ("steps", "transformers_"):
        for item in getattr(model, attr, None) or []:
            yield from _categorical_imputers(item[1])


def missing_category(model: Pipeline, categorical: Sequence[str] = ("?",)) -> str:
    """The string the model's categorical imputer writes for a missing value."""
    if not categorical:
        return ""
    fills = {
        str(imp.fill_value)
        for imp in _categorical_imputers(model)
        if imp.strategy == "constant" and isinstance(imp.fill_value, str)
    }
    if len(fills) != 1:
        raise OnnxExportError(
            f"expected one constant string fill value for missing categories, "
            f"found {sorted(fills)}"
        )
    return fills.pop()


def onnx_feed(
    frame: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    missing: str,
    float_dtype: type[np.floating[Any]],
) -> dict[str, np.ndarray]:
    """Columns as the exported graph takes them (the serving package does the same)."""
    feed: dict[str, np.ndarray] = {}
    for col in numeric:
        feed[col] = (
            pd.to_numeric(frame[col], errors="coerce")
            .to_numpy(dtype=float_dtype, na_value=np.nan)
            .reshape(-1, 1)
        )
    for col in categorical:
        values = frame[col].astype(object).to_numpy()
        feed[col] = np.array(
            [missing if pd.isna(v) else str(v) for v in values], dtype=object
        ).reshape(-1, 1)
    return feed


def stack_feed(
    feed: dict[str, np.ndarray], stacked: Sequence[dict[str, Any]]
) -> dict[str, np.ndarray]:
    """A per-feature feed (``[n, 1]`` each) as a stacked graph takes it: each group
    of ``runtimes.onnx.stacked`` side by side in one ``[n, k]`` tensor."""
    out = dict(feed)
    for group in stacked:
        out[group["name"]] = np.hstack([out.pop(c) for c in group["columns"]])
    return out


def stacked_groups(
    numeric: Sequence[str], categorical: Sequence[str]
) -> list[dict[str, Any]]:
    """``runtimes.onnx.stacked``: the graph's ``[N, k]`` input per kind of feature."""
    return [
        {"name": STACKED[kind], "kind": kind, "columns": list(cols)}
        for kind, cols in (("numeric", numeric), ("categorical", categorical))
        if cols
    ]


def _stack_inputs(
    model_bytes: bytes, numeric: Sequence[str], categorical: Sequence[str]
) -> tuple[bytes, list[dict[str, Any]]]:
    """One ``[N, k]`` input per kind instead of one ``[N, 1]`` input per feature:
    ``Split`` nodes hand the graph its old inputs, so the graph is unchanged.

    Why: onnxruntime's cost per call grows with the number of inputs (each is
    checked and wrapped), and the serving side builds two arrays instead
    of 33. Returns the graph and ``runtimes.onnx.stacked``."""
    import onnx  # noqa: PLC0415
    from onnx import helper, numpy_helper  # noqa: PLC0415

    graph = onnx.load_from_string(model_bytes)
    inputs = {i.name: i for i in graph.graph.input}
    new_inputs, nodes, used = [], [], set()
    for kind, cols in (("numeric", list(numeric)), ("categorical", list(categorical))):
        if not cols:
            continue
        absent = [c for c in cols if c not in inputs]
        if absent:
            raise OnnxExportError(f"the graph has no input for {absent}")
        types = {inputs[c].type.tensor_type.elem_type for c in cols}
        if len(types) != 1:
            raise OnnxExportError(f"{kind} inputs of several types: {sorted(types)}")
        name = STACKED[kind]
        new_inputs.append(
            helper.make_tensor_value_info(name, types.pop(), [None, len(cols)])
        )
        sizes = f"{name}:sizes"
        graph.graph.initializer.append(
            numpy_helper.from_array(np.ones(len(cols), dtype=np.int64), sizes)
        )
        nodes.append(helper.make_node("Split", [name, sizes], cols, axis=1))
        used.update(cols)
    others = [i for i in graph.graph.input if i.name not in used]
    del graph.graph.input[:]
    graph.graph.input.extend([*new_inputs, *others])
    for node in reversed(nodes):
        graph.graph.node.insert(0, node)
    onnx.checker.check_model(graph)
    return bytes(graph.SerializeToString()), stacked_groups(numeric, categorical)


# ------------------------------------------------- HistGradientBoosting -> TreeEnsemble
def _ordinal_parts(
    model: Pipeline, numeric: Sequence[str], categorical: Sequence[str]
) -> tuple[OrdinalEncoder | None, Any]:
    pre, est = model.steps[0][1], model.steps[-1][1]
    if not (isinstance(pre, ColumnTransformer) and len(model.steps) == 2):
        raise OnnxExportError("expected Pipeline([preprocess, model])")
    spec = {name: (trans, cols) for name, trans, cols in pre.transformers}
    num_t, num_cols = spec.get("numeric", (None, []))
    cat_cols = spec.get("categorical", (None, []))[1]
    cat_t = pre.named_transformers_.get("categorical")
    if num_t != "passthrough" or list(num_cols) != list(numeric):
        raise OnnxExportError("numeric features must be passed through unchanged")
    if not categorical:
        return None, est
    if list(cat_cols) != list(categorical) or not isinstance(cat_t, Pipeline):
        raise OnnxExportError("categorical features must be one imputer+encoder")
    encoder = cat_t.steps[-1][1]
    if not isinstance(encoder, OrdinalEncoder):
        raise OnnxExportError("categorical encoder must be an OrdinalEncoder")
    return encoder, est


def _hgb_graph(
    model: Pipeline,
    numeric: Sequence[str],
    categorical: Sequence[str],
    output: str = PROBABILITIES,
) -> bytes:
    from onnx import TensorProto, helper, numpy_helper  # noqa: PLC0415

    encoder, hgb = _ordinal_parts(model, numeric, categorical)
    n_num = len(numeric)
    # Column order of the matrix the trees see. With categorical features HGB
    # re-encodes them with its own OrdinalEncoder and moves them first.
    inner = getattr(hgb, "_preprocessor", None)
    outer_cols = [*numeric, *categorical]  # output order of our ColumnTransformer
    code_maps: dict[str, dict[str, float]] = {}
    if inner is None:
        tree_cols = outer_cols
        for j, col in enumerate(categorical):
            if encoder is None:
                raise OnnxExportError(f"categorical feature {col!r} has no encoder")
            code_maps[col] = {
                str(c): float(i) for i, c in enumerate(encoder.categories_[j])
            }
    else:
        is_cat = np.asarray(hgb.is_categorical_, dtype=bool)
        inner_enc = inner.named_transformers_["encoder"]
        cat_pos = [i for i in range(len(outer_cols)) if is_cat[i]]
        num_pos = [i for i in range(len(outer_cols)) if not is_cat[i]]
        tree_cols = [outer_cols[i] for i in cat_pos + num_pos]
        for k, pos in enumerate(cat_pos):
            col = outer_cols[pos]
            if pos < n_num or encoder is None:
                raise OnnxExportError(f"numeric feature {col!r} marked categorical")
            outer_cats = encoder.categories_[pos - n_num]
            inner_codes = {
                float(v): float(i) for i, v in enumerate(inner_enc.categories_[k])
            }
            code_maps[col] = {
                str(c): inner_codes[float(i)]
                for i, c in enumerate(outer_cats)
                if float(i) in inner_codes
            }
    # Unknown strings: the outer encoder gives -1 and the inner encoder NaN (missing).
    # Without the inner encoder a -1 code compares as a number, so reproduce it.
    unknown = float("nan") if inner is not None else -1.0

    modes: list[int] = []
    feats: list[int] = []
    tracks: list[int] = []
    splits: list[float] = []
    members: list[float] = []
    true_ids: list[int] = []
    true_leaf: list[int] = []
    false_ids: list[int] = []
    false_leaf: list[int] = []
    leaf_targets: list[int] = []
    leaf_weights: list[float] = []
    roots: list[int] = []
    n_classes = hgb.n_trees_per_iteration_
    for iteration in hgb._predictors:
        for k, predictor in enumerate(iteration):
            tnodes = predictor.nodes
            bitsets = predictor.raw_left_cat_bitsets
            leaf_index: dict[int, int] = {}
            node_index: dict[int, int] = {}
            for i, nd in enumerate(tnodes):
                if nd["is_leaf"]:
                    leaf_index[i] = len(leaf_weights)
                    leaf_targets.append(k)
                    leaf_weights.append(float(nd["value"]))
            internal = [i for i, nd in enumerate(tnodes) if not nd["is_leaf"]]
            start = len(modes)
            for j, i in enumerate(internal):
                node_index[i] = start + j
            if not internal:  # a stump: one node whose both branches reach the leaf
                roots.append(len(modes))
                leaf = leaf_index[0]
                modes.append(0)
                feats.append(0)
                splits.append(0.0)
                tracks.append(1)
                true_ids.append(leaf)
                true_leaf.append(1)
                false_ids.append(leaf)
                false_leaf.append(1)
                continue
            roots.append(node_index[0])
            for i in internal:
                nd = tnodes[i]
                feats.append(int(nd["feature_idx"]))
                tracks.append(int(nd["missing_go_to_left"]))
                if nd["is_categorical"]:
                    words = bitsets[int(nd["bitset_idx"])]
                    left = [
                        float(c)
                        for c in range(32 * len(words))
                        if (int(words[c // 32]) >> (c % 32)) & 1
                    ]
                    modes.append(6)  # BRANCH_MEMBER
                    splits.append(0.0)
                    members.extend([*left, float("nan")])
                else:
                    modes.append(0)  # BRANCH_LEQ
                    splits.append(float(nd["num_threshold"]))
                for child, ids, is_leaf in (
                    (int(nd["left"]), true_ids, true_leaf),
                    (int(nd["right"]), false_ids, false_leaf),
                ):
                    if child in leaf_index:
                        ids.append(leaf_index[child])
                        is_leaf.append(1)
                    else:
                        ids.append(node_index[child])
                        is_leaf.append(0)

    dbl = TensorProto.DOUBLE
    ensemble_attrs: dict[str, Any] = {
        "aggregate_function": 1,  # SUM
        "post_transform": 0,  # NONE: baseline and softmax follow
        "n_targets": n_classes,
        "tree_roots": roots,
        "nodes_modes": numpy_helper.from_array(np.array(modes, dtype=np.uint8)),
        "nodes_featureids": feats,
        "nodes_splits": numpy_helper.from_array(np.array(splits, dtype=np.float64)),
        "nodes_truenodeids": true_ids,
        "nodes_trueleafs": true_leaf,
        "nodes_falsenodeids": false_ids,
        "nodes_falseleafs": false_leaf,
        "nodes_missing_value_tracks_true": tracks,
        "leaf_targetids": leaf_targets,
        "leaf_weights": numpy_helper.from_array(
            np.array(leaf_weights, dtype=np.float64)
        ),
    }
    if members:
        ensemble_attrs["membership_values"] = numpy_helper.from_array(
            np.array(members, dtype=np.float64)
        )
    # Stacked inputs (runtimes.onnx.stacked): the numeric block goes to the trees as
    # it is; the categorical block is encoded by one LabelEncoder, its keys made
    # per column by a prefix ("<column index>|<value>") that StringConcat puts on
    # every cell. Per-node cost dominates a one-row call in onnxruntime: a Split and
    # seven encoders took 21 of retail's 47 us in onnxruntime's profile; the whole
    # call went from 25.5 to 20.5 us (the same model, measured).
    graph_nodes = []
    inputs, initializers = [], []
    if numeric:
        inputs.append(
            helper.make_tensor_value_info(STACKED["numeric"], dbl, [None, n_num])
        )
    codes = "categorical:codes"
    if categorical:
        block = STACKED["categorical"]
        inputs.append(
            helper.make_tensor_value_info(
                block, TensorProto.STRING, [None, len(categorical)]
            )
        )
        prefixes = np.array([[f"{j}|" for j in range(len(categorical))]], dtype=object)
        initializers.append(numpy_helper.from_array(prefixes, "categorical:prefixes"))
        keys = [f"{j}|{k}" for j, col in enumerate(categorical) for k in code_maps[col]]
        values = [code_maps[col][k] for col in categorical for k in code_maps[col]]
        graph_nodes += [
            helper.make_node(
                "StringConcat", ["categorical:prefixes", block], ["categorical:keys"]
            ),
            helper.make_node(
                "LabelEncoder",
                ["categorical:keys"],
                [codes],
                domain="ai.onnx.ml",
                keys_strings=keys,
                values_tensor=numpy_helper.from_array(
                    np.array(values, dtype=np.float64)
                ),
                default_tensor=numpy_helper.from_array(
                    np.array([unknown], dtype=np.float64)
                ),
            ),
        ]
    # The trees' column order (categoricals moved first when HGB encodes them): each
    # kind stays one block in its own order either way.
    kinds = ["c" if c in code_maps else "n" for c in tree_cols]
    runs = [k for i, k in enumerate(kinds) if i == 0 or kinds[i - 1] != k]
    if len(runs) > 2 or [c for c in tree_cols if c in code_maps] != list(categorical):
        raise OnnxExportError("the trees do not read each kind of feature as a block")
    parts = [codes if k == "c" else STACKED["numeric"] for k in runs]
    graph_nodes.append(helper.make_node("Concat", parts, ["X"], axis=1))
    graph_nodes.append(
        helper.make_node(
            "TreeEnsemble", ["X"], ["raw"], domain="ai.onnx.ml", **ensemble_attrs
        )
    )
    baseline = np.asarray(hgb._baseline_prediction, dtype=np.float64).reshape(1, -1)
    initializers.append(numpy_helper.from_array(baseline, "baseline"))
    graph_nodes.append(helper.make_node("Add", ["raw", "baseline"], ["score"]))
    if isinstance(hgb, HistGradientBoostingRegressor):
        link = type(hgb._loss.link).__name__
        if link != "IdentityLink":
            raise OnnxExportError(f"regression loss with a {link} is not exported")
        graph_nodes.append(helper.make_node("Identity", ["score"], [output]))
    elif n_classes > 1:
        graph_nodes.append(helper.make_node("Softmax", ["score"], [output], axis=1))
    else:  # binary: one tree per iteration, sigmoid of the positive class
        initializers.append(numpy_helper.from_array(np.array([1.0]), "one"))
        graph_nodes += [
            helper.make_node("Sigmoid", ["score"], ["p1"]),
            helper.make_node("Sub", ["one", "p1"], ["p0"]),
            helper.make_node("Concat", ["p0", "p1"], [output], axis=1),
        ]
    graph = helper.make_graph(
        graph_nodes,
        "hist_gradient_boosting",
        inputs,
        [helper.make_tensor_value_info(output, dbl, [None, None])],
        initializer=initializers,
    )
    onnx_model = helper.make_model(
        graph,
        opset_imports=[
            helper.make_opsetid("", TREE_OPSET),
            helper.make_opsetid("ai.onnx.ml", ML_OPSET),
        ],
        producer_name="mlops_platform.onnx_export",
    )
    onnx_model.ir_version = 10
    return onnx_model.SerializeToString()


# ---------------------------------------------------------------------- skl2onnx path
@contextlib.contextmanager
def _skl2onnx_bool_fix() -> Iterator[None]:
    """skl2onnx 1.20 passes a Python ``False`` for leaves next to numpy ints in
    ``nodes_missing_value_tracks_true``; protobuf 7 rejects the mix. Cast to int."""
    from skl2onnx.common import tree_ensemble  # noqa: PLC0415

    original = tree_ensemble.add_node

    def add_node(*args: Any, **kwargs: Any) -> Any:
        key = "nodes_missing_value_tracks_true"
        if key in kwargs:
            kwargs[key] = int(kwargs[key])
        return original(*args, **kwargs)

    tree_ensemble.add_node = add_node
    try:
        yield
    finally:
        tree_ensemble.add_node = original


def _skl2onnx_convert(
    model: Pipeline, numeric: Sequence[str], categorical: Sequence[str], missing: str
) -> bytes:
    from skl2onnx import to_onnx  # noqa: PLC0415
    from skl2onnx.common.data_types import (  # noqa: PLC0415
        FloatTensorType,
        StringTensorType,
    )

    # skl2onnx converts string imputers only when missing_values is a string. The
    # serving side already sends the fill value for a missing category, so an imputer
    # that "replaces" the fill value with itself is exactly the fitted behaviour.
    export = copy.deepcopy(model)
    for imp in _categorical_imputers(export):
        if imp.missing_values is pd.NA:
            imp.missing_values = missing
    initial_types = [(c, FloatTensorType([None, 1])) for c in numeric]
    initial_types += [(c, StringTensorType([None, 1])) for c in categorical]
    with _skl2onnx_bool_fix():
        onx = to_onnx(
            export,
            initial_types=initial_types,
            # zipmap exists for classifiers only (a regressor refuses the option)
            options={"zipmap": False} if is_classifier(model) else None,
            target_opset={"": OPSET, "ai.onnx.ml": 3},
        )
    return bytes(onx.SerializeToString())


# ----------------------------------------------------------------------------- public
def run_onnx(
    model_bytes: bytes,
    feed: dict[str, np.ndarray],
    output: str,
    max_rows_per_call: int | None = None,
) -> np.ndarray:
    """Run an exported graph on ``feed`` (in calls of at most ``max_rows_per_call``
    rows when the export says so); ``[n, k]`` float64 outputs."""
    import onnxruntime as ort  # noqa: PLC0415

    sess = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    if output not in names:
        raise OnnxExportError(f"exported graph has no {output!r} output: {names}")
    wanted = {i.name: i.type for i in sess.get_inputs()}
    missing = sorted(set(wanted) - set(feed))
    if missing:
        raise OnnxExportError(f"exported graph wants inputs {missing} it is not fed")
    cast = {
        k: (v.astype(np.float64) if wanted[k] == "tensor(double)" else v)
        for k, v in feed.items()
        if k in wanted
    }
    n = len(next(iter(cast.values()))) if cast else 0
    step = max_rows_per_call or max(n, 1)
    parts = []
    for start in range(0, max(n, 1), step):
        (out,) = sess.run(
            [output], {k: v[start : start + step] for k, v in cast.items()}
        )
        out = np.asarray(out, dtype=np.float64)
        parts.append(out.reshape(len(out), -1))
    return np.vstack(parts)


def sklearn_to_onnx(
    model: Pipeline,
    numeric: Sequence[str],
    categorical: Sequence[str],
    output: str = PROBABILITIES,
) -> tuple[bytes, dict[str, Any]]:
    """Convert a scikit-learn Pipeline; the graph's output is named ``output``."""
    from mlops_platform.estimators import (  # noqa: PLC0415
        ScaledTargetRegressor,
        TextClassifier,
    )

    if isinstance(model, ScaledTargetRegressor):
        return _scaled_graph(model, numeric, categorical, output)
    if isinstance(model, TextClassifier):
        return _text_graph(model, output)
    missing = missing_category(model, categorical)
    estimator = model.steps[-1][1] if isinstance(model, Pipeline) else model
    if isinstance(
        estimator, HistGradientBoostingClassifier | HistGradientBoostingRegressor
    ):
        converter = "mlops_platform.onnx_export:TreeEnsemble"
        exact = True
        model_bytes = _hgb_graph(model, numeric, categorical, output)
        stacked = stacked_groups(numeric, categorical)  # built stacked
    else:
        import skl2onnx  # noqa: PLC0415

        converter = f"skl2onnx {skl2onnx.__version__}"
        exact = False
        try:
            model_bytes = _skl2onnx_convert(model, numeric, categorical, missing)
            model_bytes = _rename_output(model_bytes, output)
        except OnnxExportError:
            raise
        except Exception as exc:  # converter coverage varies by estimator
            raise OnnxExportError(f"skl2onnx cannot convert: {exc}") from exc
        model_bytes, stacked = _stack_inputs(model_bytes, numeric, categorical)
    info = {
        "converter": converter,
        "opset": (
            {"": TREE_OPSET, "ai.onnx.ml": ML_OPSET}
            if exact
            else {"": OPSET, "ai.onnx.ml": 3}
        ),
        "numeric_dtype": "float64" if exact else "float32",
        "missing_category": missing,
        "inputs": [
            *({"name": c, "kind": "numeric"} for c in numeric),
            *({"name": c, "kind": "categorical"} for c in categorical),
        ],
        "stacked": stacked,
    }
    return model_bytes, info


# The vectorizer's output inside onnxruntime is dense (rows x vocabulary floats): one
# call on 9,775 reviews x 439k features was killed at 24 GB here. Exported text models
# record how many rows one call may take so that this stays under TEXT_CALL_BYTES.
TEXT_CALL_BYTES = 64 * 2**20
# skl2onnx's StringNormalizer defaults to the en_US.UTF-8 locale, which slim images
# (and this machine) lack: the session then fails to load. C.UTF-8 is always there.
TEXT_LOCALE = "C.UTF-8"


def _text_graph(
    model: Any, output: str, sparse_if_possible: bool = True
) -> tuple[bytes, dict[str, Any]]:
    """The whole text pipeline (lowercasing, tokenizing, n-grams, weights, the linear
    model) as one graph over a ``[N, 1]`` string input named after the column.

    Parity with scikit-learn needs a token pattern skl2onnx keeps (it silently replaces
    the default ``(?u)\\b\\w\\w+\\b``), no ``sublinear_tf``, no stop words and no custom
    preprocessor: checked here, so a model that breaks them is not exported.

    The sparse form (:func:`_sparse_text_graph`) where it applies, unless
    ``sparse_if_possible`` is false (skl2onnx's dense graph, which
    ``benchmarks/text_graph_benchmark.py`` compares it with).
    """
    import skl2onnx  # noqa: PLC0415
    from skl2onnx import to_onnx  # noqa: PLC0415
    from skl2onnx.common.data_types import StringTensorType  # noqa: PLC0415

    pipeline = model.export_pipeline()
    vectorizer = pipeline.named_steps["vectorizer"]
    problems = [
        f"{name}={getattr(vectorizer, name)!r}"
        for name, ok in (
            # scikit-learn's default pattern, which skl2onnx replaces
            ("token_pattern", vectorizer.token_pattern != r"(?u)\b\w\w+\b"),  # noqa: S105
            ("sublinear_tf", not getattr(vectorizer, "sublinear_tf", False)),
            ("stop_words", vectorizer.stop_words is None),
            ("preprocessor", vectorizer.preprocessor is None),
            ("strip_accents", vectorizer.strip_accents is None),
            ("analyzer", vectorizer.analyzer == "word"),
        )
        if not ok
    ]
    if problems:
        raise OnnxExportError(
            "the text vectorizer cannot be exported exactly: " + ", ".join(problems)
        )
    estimator = pipeline.named_steps["model"]
    features = model.features
    info = {
        "converter": f"skl2onnx {skl2onnx.__version__} (text pipeline in the graph)",
        "opset": {"": OPSET, "ai.onnx.ml": 3},
        "numeric_dtype": "float32",
        "inputs": [{"name": model.column, "kind": "text"}],
        "text_features": features,
        "max_rows_per_call": max(1, TEXT_CALL_BYTES // (4 * max(1, features))),
    }
    sparse = sparse_if_possible and _sparse_form(vectorizer, estimator)
    # With the sparse form skl2onnx converts a stand-in of the vectorizer, for its
    # normalizer and tokenizer only: the same settings, fitted on one word. Its
    # option handling walks every attribute of what it converts, the vocabulary's
    # entries included: 40 s of make run's 53 s export was that walk.
    converted = (
        clone(vectorizer)
        .set_params(min_df=1, max_df=1.0, max_features=None, vocabulary=None)
        .fit(["token"])
        if sparse
        else pipeline
    )
    locale = {"locale": TEXT_LOCALE}
    options: dict[int, dict[str, Any]] = (
        {id(converted): locale}
        if sparse
        else {id(estimator): {"zipmap": False}, id(vectorizer): locale}
    )
    try:
        onx = to_onnx(
            converted,
            initial_types=[(model.column, StringTensorType([None, 1]))],
            options=options,
            target_opset={"": OPSET, "ai.onnx.ml": 3},
        )
    except Exception as exc:
        raise OnnxExportError(f"skl2onnx cannot convert the text model: {exc}") from exc
    if sparse:
        info |= {
            "converter": f"skl2onnx {skl2onnx.__version__} (normalizer and tokenizer) "
            "+ mlops_platform.onnx_export (n-grams looked up sparsely)",
            "max_rows_per_call": max(1, TEXT_CALL_BYTES // SPARSE_BYTES_PER_TEXT),
        }
        return _sparse_text_graph(onx, vectorizer, estimator, output), info
    return _rename_output(bytes(onx.SerializeToString()), output), info


# What one text may cost the sparse graph at most: its tokens (at most one per two
# characters of the service's longest text, 100,000) as strings, ids and n-gram keys.
# Measured on onnxruntime 1.31 (peak RSS of one call): 3.9-4.0 MB per text of
# 50,000 one-letter words, 2.4 MB per 100,000 characters of ordinary words.
SPARSE_BYTES_PER_TEXT = 50_000 * 100


def _sparse_form(vectorizer: Any, estimator: Any) -> bool:
    """Whether :func:`_sparse_text_graph` builds this text model."""
    from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: PLC0415
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    return (
        isinstance(estimator, LogisticRegression)
        and isinstance(vectorizer, TfidfVectorizer)
        and estimator.coef_.shape[0] == 1
        and len(estimator.classes_) == 2
        and vectorizer.ngram_range[0] == 1
        and vectorizer.ngram_range[1] in (1, 2)
        and vectorizer.norm in (None, "l1", "l2")
    )


def _sparse_text_graph(onx: Any, vectorizer: Any, estimator: Any, output: str) -> bytes:
    """The text model without its dense intermediate: skl2onnx's graph builds a
    ``rows x vocabulary`` tensor (402,704 floats for make run's NBSVM) and spends
    most of a review's time on it (the vectorizer, two casts and the linear model:
    about 0.6 ms of 0.7, docs/benchmarks.md). Here the tokens skl2onnx's own nodes
    produce (its normalizer and tokenizer, kept as they are) are looked up instead:

    * words to ids (``LabelEncoder``), ids to unigram features (``Gather``), pairs of
      adjacent ids to bigram features (``LabelEncoder`` on ``(a + 1) * (W + 1) + b
      + 1``); a token or pair outside the vocabulary is feature 0, weight 0;
    * per text, its distinct features and their counts: the keys ``row * (F + 1) +
      feature + 1`` sorted (``TopK``), each run of equal keys one feature, its
      length the count; then scikit-learn's TfidfVectorizer arithmetic on them: the
      count or 1 (``binary``), times idf, over the row's l1 or l2 norm (the score's
      terms looked up as idf x weight, one lookup per n-gram);
    * the logistic regression's score as a sum per row (``ScatterElements`` add) in
      float64, and ``[1 - p, p]``.

    For a binary logistic regression on a TfidfVectorizer of 1- and 2-grams (both
    sentiment candidates: :func:`_sparse_form`); anything else keeps the dense
    graph. The export's parity check holds either to scikit-learn. ``onx`` is
    skl2onnx's graph of a vectorizer with the same settings (the nodes up to its
    TfIdfVectorizer's input are taken)."""
    import onnx  # noqa: PLC0415
    from onnx import TensorProto, helper, numpy_helper  # noqa: PLC0415

    graph = onx.graph
    tfidf = [n for n in graph.node if n.op_type == "TfIdfVectorizer"]
    if len(tfidf) != 1:
        raise OnnxExportError(
            "skl2onnx's text graph has no single TfIdfVectorizer to take tokens from"
        )
    tokens = tfidf[0].input[0]
    coef = estimator.coef_
    # skl2onnx's nodes up to the tokens, as they are
    front, wanted = [], {tokens}
    for node in reversed(list(graph.node)):
        if wanted & set(node.output):
            front.append(node)
            wanted |= set(node.input)
    front.reverse()

    vocabulary = vectorizer.vocabulary_
    n_features = len(vectorizer.vocabulary_)
    grams = [(g.split(" "), i) for g, i in vocabulary.items()]
    words = sorted({w for parts, _ in grams for w in parts})
    word_id = {w: i for i, w in enumerate(words)}
    # unigram feature of word id + 1 (0: a word outside; -1: no unigram feature)
    unigram = np.full(len(words) + 1, -1, dtype=np.int64)
    pair_keys, pair_values = [], []
    base = len(words) + 1
    for parts, i in grams:
        if len(parts) == 1:
            unigram[word_id[parts[0]] + 1] = i
        else:
            a, b = (word_id[w] + 1 for w in parts)
            pair_keys.append(a * base + b)
            pair_values.append(i)
    # feature f + 1 (0: outside the vocabulary, weight 0)
    weights = np.concatenate([[0.0], coef[0].astype(np.float64)])
    idf = np.ones(n_features + 1)
    if vectorizer.use_idf:
        idf[1:] = vectorizer.idf_
    idf[0] = 0.0

    def const(name: str, value: Any) -> Any:
        return numpy_helper.from_array(np.asarray(value), name)

    stride = n_features + 1
    initializers = [
        const("sp:unigram", unigram),
        const("sp:idf_weights", idf * weights),
        const("sp:idf", idf),
        const("sp:one", np.array(1, dtype=np.int64)),
        const("sp:zero", np.array(0, dtype=np.int64)),
        const("sp:base", np.array(base, dtype=np.int64)),
        const("sp:stride", np.array(stride, dtype=np.int64)),
        const("sp:flat", np.array([-1], dtype=np.int64)),
        const("sp:col", np.array([-1, 1], dtype=np.int64)),
        const("sp:axis1", np.array([1], dtype=np.int64)),
        const("sp:s0", np.array([0], dtype=np.int64)),
        const("sp:s1", np.array([1], dtype=np.int64)),
        const("sp:e-1", np.array([-1], dtype=np.int64)),
        const("sp:big", np.array([2**62], dtype=np.int64)),
        const("sp:intercept", np.array(float(estimator.intercept_[0]))),
        const("sp:fone", np.array(1.0)),
        const("sp:tiny", np.array(np.finfo(np.float64).tiny)),
    ]
    n = helper.make_node
    nodes = [
        *front,
        n(
            "LabelEncoder",
            [tokens],
            ["sp:word"],
            domain="ai.onnx.ml",
            keys_strings=words,
            values_int64s=list(range(len(words))),
            default_int64=-1,
        ),
        n("Add", ["sp:word", "sp:one"], ["sp:word1"]),  # [N, T], 0: outside
        n("Gather", ["sp:unigram", "sp:word1"], ["sp:uni"]),
    ]
    grams_out = "sp:uni"
    if pair_keys:
        nodes += [
            n("Slice", ["sp:word1", "sp:s0", "sp:e-1", "sp:axis1"], ["sp:left"]),
            n("Slice", ["sp:word1", "sp:s1", "sp:big", "sp:axis1"], ["sp:right"]),
            n("Mul", ["sp:left", "sp:base"], ["sp:left_base"]),
            n("Add", ["sp:left_base", "sp:right"], ["sp:pair"]),
            n(
                "LabelEncoder",
                ["sp:pair"],
                ["sp:bi"],
                domain="ai.onnx.ml",
                keys_int64s=pair_keys,
                values_int64s=pair_values,
                default_int64=-1,
            ),
            n("Concat", ["sp:uni", "sp:bi"], ["sp:grams"], axis=1),
        ]
        grams_out = "sp:grams"
    nodes += [
        # row * stride + feature + 1, flattened: distinct per row with counts
        n("Shape", [grams_out], ["sp:shape"], end=1),
        n("Squeeze", ["sp:shape"], ["sp:rows_n"]),
        n("Range", ["sp:zero", "sp:rows_n", "sp:one"], ["sp:rows"]),
        n("Reshape", ["sp:rows", "sp:col"], ["sp:rows_col"]),
        n("Mul", ["sp:rows_col", "sp:stride"], ["sp:row_base"]),
        n("Add", [grams_out, "sp:one"], ["sp:feature1"]),
        n("Add", ["sp:row_base", "sp:feature1"], ["sp:keys2d"]),
        n("Reshape", ["sp:keys2d", "sp:flat"], ["sp:keys0"]),
        # Distinct keys and their counts by sorting (onnxruntime's Unique took 79 us
        # of a median review's 200): runs of equal keys, each run's start and
        # length. Key 0 (row 0, outside the vocabulary: weight 0) is always added,
        # so a batch without a single token still has one key.
        n("Concat", ["sp:keys0", "sp:s0"], ["sp:keys"], axis=0),
        n("Shape", ["sp:keys"], ["sp:m"]),
        n("TopK", ["sp:keys", "sp:m"], ["sp:sorted", "sp:order"], largest=0, sorted=1),
        n("Slice", ["sp:sorted", "sp:s1", "sp:big", "sp:s0"], ["sp:later"]),
        n("Slice", ["sp:sorted", "sp:s0", "sp:e-1", "sp:s0"], ["sp:earlier"]),
        n("Equal", ["sp:later", "sp:earlier"], ["sp:same"]),
        n("Not", ["sp:same"], ["sp:new_run"]),
        n("NonZero", ["sp:new_run"], ["sp:new_at"]),
        n("Reshape", ["sp:new_at", "sp:flat"], ["sp:new_at1"]),
        n("Add", ["sp:new_at1", "sp:one"], ["sp:run_starts"]),
        n("Concat", ["sp:s0", "sp:run_starts"], ["sp:starts"], axis=0),
        n("Gather", ["sp:sorted", "sp:starts"], ["sp:distinct"]),
        n("Div", ["sp:distinct", "sp:stride"], ["sp:row"]),
        n("Mod", ["sp:distinct", "sp:stride"], ["sp:feature"]),
    ]
    # The score's terms take one lookup: idf x weight per feature (count times it,
    # or it alone for presence). Each lookup is a cache miss per n-gram in a server
    # (the tables are MBs), so the idf alone is looked up only for a norm.
    nodes.append(n("Gather", ["sp:idf_weights", "sp:feature"], ["sp:iw_f"]))
    term, value = "sp:iw_f", "sp:idf_f"  # presence: the count is 1
    if not vectorizer.binary:  # a run's length is its feature's count
        nodes += [
            n("Concat", ["sp:run_starts", "sp:m"], ["sp:ends"], axis=0),
            n("Sub", ["sp:ends", "sp:starts"], ["sp:counts"]),
            n("Cast", ["sp:counts"], ["sp:tf"], to=TensorProto.DOUBLE),
            n("Mul", ["sp:tf", "sp:iw_f"], ["sp:term"]),
        ]
        term = "sp:term"
    nodes += [
        n(
            "ConstantOfShape",
            ["sp:shape"],
            ["sp:zeros"],
            value=helper.make_tensor("z", TensorProto.DOUBLE, [1], [0.0]),
        ),
        n("ScatterElements", ["sp:zeros", "sp:row", term], ["sp:dot"],
          reduction="add"),
    ]  # fmt: skip
    score_in = "sp:dot"
    if vectorizer.norm is not None:  # the features' values: count or 1, times idf
        nodes.append(n("Gather", ["sp:idf", "sp:feature"], ["sp:idf_f"]))
        if not vectorizer.binary:
            nodes.append(n("Mul", ["sp:tf", "sp:idf_f"], ["sp:value"]))
            value = "sp:value"
        if vectorizer.norm == "l2":
            nodes += [
                n("Mul", [value, value], ["sp:sq"]),
                n("ScatterElements", ["sp:zeros", "sp:row", "sp:sq"], ["sp:sumsq"],
                  reduction="add"),
                n("Sqrt", ["sp:sumsq"], ["sp:norm0"]),
            ]  # fmt: skip
        else:
            nodes += [
                n("Abs", [value], ["sp:abs"]),
                n("ScatterElements", ["sp:zeros", "sp:row", "sp:abs"], ["sp:norm0"],
                  reduction="add"),
            ]  # fmt: skip
        # scikit-learn leaves a row of norm 0 as it is (all zeros): so does tiny
        nodes += [
            n("Max", ["sp:norm0", "sp:tiny"], ["sp:norm"]),
            n("Div", ["sp:dot", "sp:norm"], ["sp:dot_n"]),
        ]
        score_in = "sp:dot_n"
    nodes += [
        n("Add", [score_in, "sp:intercept"], ["sp:score"]),
        n("Sigmoid", ["sp:score"], ["sp:p1"]),
        n("Sub", ["sp:fone", "sp:p1"], ["sp:p0"]),
        n("Reshape", ["sp:p0", "sp:col"], ["sp:p0c"]),
        n("Reshape", ["sp:p1", "sp:col"], ["sp:p1c"]),
        n("Concat", ["sp:p0c", "sp:p1c"], ["sp:proba"], axis=1),
        n("Cast", ["sp:proba"], [output], to=TensorProto.FLOAT),
    ]
    used = {name for node in nodes for name in node.input}
    out = helper.make_tensor_value_info(output, TensorProto.FLOAT, [None, 2])
    model = helper.make_model(
        helper.make_graph(
            nodes,
            "sparse_text",
            list(graph.input),
            [out],
            [
                *(i for i in graph.initializer if i.name in wanted),
                *(i for i in initializers if i.name in used),
            ],
        ),
        # the tokenizer is com.microsoft's, as skl2onnx wrote it
        opset_imports=[
            helper.make_opsetid("", OPSET),
            helper.make_opsetid("ai.onnx.ml", 3),
            *(o for o in onx.opset_import if o.domain == "com.microsoft"),
        ],
    )
    model.ir_version = onx.ir_version
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def _scaled_graph(
    model: Any, numeric: Sequence[str], categorical: Sequence[str], output: str
) -> tuple[bytes, dict[str, Any]]:
    """The inner regressor's graph times the scale input (``ScaledTargetRegressor``)."""
    import onnx  # noqa: PLC0415
    from onnx import helper, numpy_helper  # noqa: PLC0415

    if model.scale not in numeric:
        raise OnnxExportError(f"scale column {model.scale!r} is not a numeric input")
    inner, info = sklearn_to_onnx(model.estimator_, numeric, categorical, "unscaled")
    graph = onnx.load_from_string(inner)
    # The scale column, [N, 1], out of the stacked numeric input.
    at = list(numeric).index(model.scale)
    for name, value in (("starts", at), ("ends", at + 1), ("axes", 1)):
        graph.graph.initializer.append(
            numpy_helper.from_array(np.array([value], dtype=np.int64), f"scale:{name}")
        )
    graph.graph.node.extend(
        [
            helper.make_node(
                "Slice",
                [STACKED["numeric"], "scale:starts", "scale:ends", "scale:axes"],
                ["scale"],
            ),
            helper.make_node("Mul", ["unscaled", "scale"], [output]),
        ]
    )
    (out,) = graph.graph.output
    out.name = output
    onnx.checker.check_model(graph)
    info = {**info, "converter": f"{info['converter']} x {model.scale}"}
    return graph.SerializeToString(), info


def _rename_output(model_bytes: bytes, output: str) -> bytes:
    """skl2onnx names a classifier's probabilities ``probabilities`` (zipmap off) and a
    regressor's output ``variable``; the bundle contract names it after the task."""
    import onnx  # noqa: PLC0415

    graph = onnx.load_from_string(model_bytes)
    outs = list(graph.graph.output)
    if any(o.name == output for o in outs):
        keep = [o for o in outs if o.name == output]
    elif len(outs) == 1 or (len(outs) == 2 and output != PROBABILITIES):
        old = outs[-1].name if len(outs) == 1 else outs[0].name
        for node in graph.graph.node:
            node.output[:] = [output if o == old else o for o in node.output]
        keep = [o for o in outs if o.name == old]
        keep[0].name = output
    else:
        raise OnnxExportError(
            f"cannot tell which graph output is {output!r}: {[o.name for o in outs]}"
        )
    del graph.graph.output[:]
    graph.graph.output.extend(keep)
    return bytes(graph.SerializeToString())


def export_onnx(
    flavour: Any, model: Any, use_case: Any, check_rows: pd.DataFrame
) -> OnnxExport:
    """Convert ``model`` with its flavour and check it against the model itself on
    ``check_rows`` (gold rows) within the task's parity; raise OnnxExportError."""
    import onnxruntime  # noqa: PLC0415

    task = use_case.task
    model_bytes, info = flavour.to_onnx(model, use_case)
    x = use_case.model_input(check_rows)
    expected = task.outputs(flavour, model, x)
    got = run_onnx(
        model_bytes,
        flavour.onnx_feed(model, x, info),
        task.output_name,
        info.get("max_rows_per_call"),
    )
    ok, parity = task.compare(expected, got)
    if not ok:
        raise OnnxExportError(f"ONNX export does not match the model: {parity}")
    info = {
        "file": ONNX_FILE,
        **info,
        "onnxruntime_version": onnxruntime.__version__,
        "output": task.output_name,
        "parity": parity,
    }
    return OnnxExport(model=model_bytes, info=info)
