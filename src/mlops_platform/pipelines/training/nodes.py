"""Train the use case's candidates on the train split; pick one on validation."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sklearn.base import clone
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import Pipeline

from mlops_platform.params import TrainingParams
from mlops_platform.use_cases.base import UseCase

logger = logging.getLogger(__name__)


@dataclass
class Challenger:
    """The outcome of a training run: a fitted model, or why none was trained."""

    use_case: str
    trained: bool
    reason: str
    name: str | None = None
    model: Pipeline | None = None
    validation_scores: dict[str, float] = field(default_factory=dict)
    training_periods: list[int] = field(default_factory=list)
    validation_periods: list[int] = field(default_factory=list)
    trained_at: str | None = None


def classification_scores(y_true: pd.Series, y_pred: Any) -> dict[str, float]:
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
    }


def train_candidates(
    use_case: UseCase,
    train: pd.DataFrame,
    validation: pd.DataFrame,
    drift_decision: dict[str, Any],
    params: TrainingParams,
) -> tuple[Challenger, dict[str, Any]]:
    """Fit every enabled candidate; the best on validation becomes the challenger.

    Training is skipped (and says why) when the drift decision says the champion
    stays: no drift, a champion in place and no ``force_retrain``.
    """
    train_periods = sorted(int(p) for p in train[use_case.time_column].unique())
    val_periods = sorted(int(p) for p in validation[use_case.time_column].unique())
    if not drift_decision.get("train", True):
        reason = f"training skipped: {drift_decision.get('reason')}"
        logger.info("%s: %s", use_case.name, reason)
        return (
            Challenger(
                use_case=use_case.name,
                trained=False,
                reason=reason,
                training_periods=train_periods,
                validation_periods=val_periods,
            ),
            {"trained": False, "reason": reason, "candidates": {}},
        )
    x_train, y_train = use_case.model_input(train), train[use_case.label]
    x_val, y_val = use_case.model_input(validation), validation[use_case.label]
    candidates = use_case.candidates(params)
    if not candidates:
        raise ValueError(
            f"{use_case.name}: parameters_training.yml enables no candidate"
        )
    results: dict[str, dict[str, Any]] = {}
    fitted: dict[str, Pipeline] = {}
    for i, (name, estimator) in enumerate(candidates.items(), start=1):
        logger.info(
            "%s: training candidate %d/%d %s on %d rows",
            use_case.name,
            i,
            len(candidates),
            name,
            len(x_train),
        )
        start = time.perf_counter()
        model = clone(estimator).fit(x_train, y_train)
        seconds = time.perf_counter() - start
        scores = classification_scores(y_val, model.predict(x_val))
        results[name] = {
            "params": params.candidates[name].params,
            "validation": scores,
            "fit_seconds": round(seconds, 2),
        }
        fitted[name] = model
        logger.info(
            "%s: %s validation accuracy %.4f macro F1 %.4f (%.1fs)",
            use_case.name,
            name,
            scores["accuracy"],
            scores["macro_f1"],
            seconds,
        )
    metric = params.selection_metric
    best = max(results, key=lambda n: (results[n]["validation"][metric], n))
    reason = f"{drift_decision.get('reason')}; best on validation {metric}: {best}"
    challenger = Challenger(
        use_case=use_case.name,
        trained=True,
        reason=reason,
        name=best,
        model=fitted[best],
        validation_scores=results[best]["validation"],
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        training_periods=train_periods,
        validation_periods=val_periods,
    )
    report = {
        "trained": True,
        "reason": reason,
        "selection_metric": metric,
        "challenger": best,
        "candidates": results,
        "rows": {"train": len(x_train), "validation": len(x_val)},
        "training_periods": train_periods,
        "validation_periods": val_periods,
    }
    return challenger, report
