"""Score the challenger and the champion on the same test set; gate; promote."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    confusion_matrix,
    precision_recall_fscore_support,
)

from mlops_platform.model_store import Bundle, PromotionRequest
from mlops_platform.onnx_export import (
    MAX_PROBABILITY_DIFF,
    OnnxExportError,
    export_onnx,
)
from mlops_platform.params import DriftParams, EvaluationParams
from mlops_platform.pipelines.training.nodes import (
    Challenger,
    classification_scores,
)
from mlops_platform.tracking import registered_model_name
from mlops_platform.use_cases.base import UseCase

logger = logging.getLogger(__name__)


def classification_report(
    classes: tuple[str, ...], y_true: pd.Series, y_pred: np.ndarray
) -> dict[str, Any]:
    scores = classification_scores(y_true, y_pred)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=list(classes), zero_division=0
    )
    return {
        **{k: round(v, 6) for k, v in scores.items()},
        "per_class": {
            c: {
                "precision": round(float(p), 6),
                "recall": round(float(r), 6),
                "f1": round(float(f), 6),
                "support": int(s),
            }
            for c, p, r, f, s in zip(
                classes, precision, recall, f1, support, strict=True
            )
        },
        "confusion_matrix": {
            "labels": list(classes),
            "matrix": confusion_matrix(y_true, y_pred, labels=list(classes)).tolist(),
        },
    }


def evaluate_models(
    use_case: UseCase,
    challenger: Challenger,
    champion: Bundle | None,
    train: pd.DataFrame,
    test: pd.DataFrame,
) -> tuple[dict[str, Any], plt.Figure]:
    """Metrics on the test split for the challenger, the champion and baselines."""
    y = test[use_case.label]
    x = use_case.model_input(test)
    report: dict[str, Any] = {
        "use_case": use_case.name,
        "test_rows": len(test),
        "test_periods": sorted(int(p) for p in test[use_case.time_column].unique()),
        "challenger": None,
        "champion": None,
        "baselines": {},
    }
    majority = train[use_case.label].mode().iloc[0]
    report["baselines"]["majority_class"] = {
        "predicts": str(majority),
        **classification_scores(y, np.full(len(y), majority, dtype=object)),
    }
    for name, pred in use_case.baseline_predictions(train, test).items():
        report["baselines"][name] = classification_scores(y, pred)

    matrices: list[tuple[str, dict[str, Any]]] = []
    if challenger.trained and challenger.model is not None:
        result = classification_report(use_case.classes, y, challenger.model.predict(x))
        report["challenger"] = {"name": challenger.name, **result}
        matrices.append((f"challenger ({challenger.name})", result))
    else:
        report["challenger_skipped"] = challenger.reason
    if champion is not None:
        try:
            result = classification_report(
                use_case.classes, y, champion.model.predict(x)
            )
            report["champion"] = {
                "version": champion.version,
                "name": champion.manifest.get("model_name"),
                **result,
            }
            matrices.append((f"champion ({champion.version})", result))
        except Exception as exc:  # an old champion that cannot score today's features
            report["champion"] = {"version": champion.version, "error": repr(exc)}
            logger.warning(
                "%s: champion %s could not score the test set: %r",
                use_case.name,
                champion.version,
                exc,
            )

    fig, axes = plt.subplots(
        1, max(1, len(matrices)), figsize=(5.5 * max(1, len(matrices)), 4.5)
    )
    axes = np.atleast_1d(axes)
    if not matrices:
        axes[0].axis("off")
        axes[0].text(0.5, 0.5, "no model to evaluate", ha="center")
    for ax, (title, result) in zip(axes, matrices, strict=False):
        cm = np.array(result["confusion_matrix"]["matrix"])
        ConfusionMatrixDisplay(
            cm,
            display_labels=[
                f"{c}\n{use_case.class_labels.get(c, '')}" for c in use_case.classes
            ],
        ).plot(ax=ax, colorbar=False, values_format="d")
        ax.set_title(
            f"{title}\nacc {result['accuracy']:.3f}  macro F1 {result['macro_f1']:.3f}",
            fontsize=9,
        )
        ax.tick_params(labelsize=7)
    fig.suptitle(f"{use_case.name}: test periods {report['test_periods']}")
    fig.tight_layout()
    return report, fig


def decide_promotion(
    use_case: UseCase, evaluation: dict[str, Any], params: EvaluationParams
) -> dict[str, Any]:
    """Apply the quality gates; every check is reported with its value and threshold."""
    gates = params.gates
    challenger = evaluation.get("challenger")
    champion = evaluation.get("champion")
    if not challenger:
        reason = evaluation.get("challenger_skipped") or "no challenger"
        return {"promote": False, "reason": f"champion kept: {reason}", "checks": []}
    metric = gates.comparison_metric
    majority = evaluation["baselines"]["majority_class"]
    checks = [
        {
            "check": "accuracy >= min_accuracy",
            "value": challenger["accuracy"],
            "threshold": gates.min_accuracy,
            "passed": challenger["accuracy"] >= gates.min_accuracy,
        },
        {
            "check": "macro_f1 >= min_macro_f1",
            "value": challenger["macro_f1"],
            "threshold": gates.min_macro_f1,
            "passed": challenger["macro_f1"] >= gates.min_macro_f1,
        },
        {
            "check": f"{metric} - majority baseline >= min_lift_over_majority",
            "value": round(challenger[metric] - majority[metric], 6),
            "threshold": gates.min_lift_over_majority,
            "passed": challenger[metric] - majority[metric]
            >= gates.min_lift_over_majority,
        },
    ]
    if champion and "error" not in champion:
        delta = challenger[metric] - champion[metric]
        checks.append(
            {
                "check": f"{metric} - champion {champion['version']} >= "
                "min_improvement_over_champion",
                "value": round(delta, 6),
                "threshold": gates.min_improvement_over_champion,
                "passed": delta >= gates.min_improvement_over_champion,
            }
        )
    failed = [c["check"] for c in checks if not c["passed"]]
    if failed:
        reason = "gate failed: " + "; ".join(failed) + " -> champion kept"
    else:
        reason = (
            f"all {len(checks)} gates passed: promote {challenger['name']} "
            f"({metric} {challenger[metric]:.4f})"
        )
    logger.info("%s promotion: %s", use_case.name, reason)
    return {
        "promote": not failed,
        "reason": reason,
        "checks": checks,
        "challenger": challenger["name"],
    }


def input_schema(use_case: UseCase, train: pd.DataFrame) -> dict[str, Any]:
    """The bundle's input contract: fields, types, seen categories, ranges, classes."""
    x = use_case.model_input(train)
    fields: list[dict[str, Any]] = []
    for col in use_case.numeric_features:
        s = x[col]
        fields.append(
            {
                "name": col,
                "type": "number",
                "nullable": True,
                "min": float(s.min()),
                "max": float(s.max()),
                "missing_share": round(float(s.isna().mean()), 6),
            }
        )
    for col in use_case.categorical_features:
        s = x[col]
        fields.append(
            {
                "name": col,
                "type": "category",
                "nullable": True,
                "categories": sorted(map(str, s.dropna().unique())),
                "missing_share": round(float(s.isna().mean()), 6),
                "unknown_category": "encoded as unseen (all-zero one-hot or "
                "the unknown code)",
            }
        )
    return {
        "use_case": use_case.name,
        "task": "classification",
        "label": use_case.label,
        "classes": list(use_case.classes),
        "class_labels": dict(use_case.class_labels),
        "fields": fields,
        "missing_value": "null (JSON) / None; NaN is treated the same",
    }


def json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready records, ``None`` for missing (what a client sends)."""
    return [
        {
            k: (None if (v is None or (isinstance(v, float) and np.isnan(v))) else v)
            for k, v in row.items()
        }
        for row in frame.astype(object).to_dict(orient="records")
    ]


def golden_rows(
    use_case: UseCase, model: Any, test: pd.DataFrame, n: int
) -> dict[str, Any]:
    """A few test rows, some with missing values, and the model's outputs on them."""
    x = use_case.model_input(test)
    has_missing = x[list(use_case.categorical_features)].isna().any(axis=1)
    rng = np.random.default_rng(0)
    idx_missing = x.index[has_missing].to_numpy()
    idx_full = x.index[~has_missing].to_numpy()
    k = min(len(idx_missing), max(1, n // 3))
    pick = np.r_[
        rng.choice(idx_missing, size=k, replace=False) if k else [],
        rng.choice(idx_full, size=min(len(idx_full), n - k), replace=False),
    ]
    sample = x.loc[np.sort(pick.astype(int))]
    proba = model.predict_proba(sample)
    classes = [str(c) for c in model.classes_]
    return {
        "rows": json_records(sample),
        "expected": [
            {
                "class": classes[int(np.argmax(p))],
                "probabilities": {c: float(v) for c, v in zip(classes, p, strict=True)},
            }
            for p in proba
        ],
        # The same bound the ONNX export is held to (float32 graphs differ by ~2e-7).
        "probability_tolerance": MAX_PROBABILITY_DIFF,
    }


def data_hash(*frames: pd.DataFrame) -> str:
    h = hashlib.sha256()
    for f in frames:
        h.update(pd.util.hash_pandas_object(f, index=False).to_numpy().tobytes())
    return h.hexdigest()


def prepare_promotion(
    use_case: UseCase,
    decision: dict[str, Any],
    evaluation: dict[str, Any],
    challenger: Challenger,
    train: pd.DataFrame,
    validation: pd.DataFrame,
    test: pd.DataFrame,
    params: EvaluationParams,
    drift_params: DriftParams,
) -> PromotionRequest:
    """Everything a bundle holds, computed here; the model_store dataset writes it."""
    if not decision["promote"] or challenger.model is None:
        return PromotionRequest(
            use_case=use_case.name, promote=False, reason=decision["reason"]
        )
    model = challenger.model
    reference = train[[*use_case.features, use_case.label]]
    if len(reference) > drift_params.reference_sample_rows:
        reference = reference.sample(drift_params.reference_sample_rows, random_state=0)
    golden = golden_rows(use_case, model, test, params.golden_rows)
    onnx, onnx_info = bundle_onnx(
        use_case, model, [validation, test, pd.DataFrame(golden["rows"])]
    )
    metrics = {
        "headline": {k: evaluation["challenger"][k] for k in ("accuracy", "macro_f1")},
        "validation": challenger.validation_scores,
        "test": evaluation["challenger"],
        "baselines": evaluation["baselines"],
        "champion_replaced": evaluation.get("champion"),
        "gates": decision["checks"],
    }
    return PromotionRequest(
        use_case=use_case.name,
        promote=True,
        reason=decision["reason"],
        model=model,
        input_schema=input_schema(use_case, train),
        metrics=metrics,
        golden=golden,
        reference=reference.reset_index(drop=True),
        onnx=onnx,
        onnx_info=onnx_info,
        manifest_extra={
            "model_name": challenger.name,
            "trained_at": challenger.trained_at,
            "training_periods": challenger.training_periods,
            "validation_periods": challenger.validation_periods,
            "test_periods": sorted(int(p) for p in test[use_case.time_column].unique()),
            "data_hash": data_hash(train, validation, test),
            "registered_model": registered_model_name(use_case.name),
            "features": use_case.features,
        },
    )


def bundle_onnx(
    use_case: UseCase, model: Any, frames: list[pd.DataFrame]
) -> tuple[bytes | None, dict[str, Any]]:
    """The bundle's ONNX graph, checked against the model on validation, test and golden
    rows; a model that cannot be exported faithfully is served with scikit-learn."""
    rows = pd.concat(
        [use_case.model_input(f) for f in frames if len(f)], ignore_index=True
    )
    try:
        export = export_onnx(
            model, use_case.numeric_features, use_case.categorical_features, rows
        )
    except OnnxExportError as exc:
        logger.warning(
            "%s: no ONNX export (%s); serving uses scikit-learn", use_case.name, exc
        )
        return None, {"reason": str(exc)[:2000]}
    logger.info(
        "%s: ONNX export matches scikit-learn on %d rows (max |dp| %.1e)",
        use_case.name,
        export.info["parity"]["rows"],
        export.info["parity"]["max_probability_diff"],
    )
    return export.model, export.info
