"""Train the use case's candidates on the train split; pick one on validation.

Each candidate is fitted by its flavour (scikit-learn, Keras) and scored with the
use case's task; the best on the selection metric, in the metric's direction, becomes
the challenger whatever its flavour.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from mlops_platform.flavours import FitResult, get_flavour
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
    flavour: str | None = None
    model: Any = None
    validation_scores: dict[str, float] = field(default_factory=dict)
    validation_by_period: dict[str, dict[str, float]] = field(default_factory=dict)
    training_periods: list[int] = field(default_factory=list)
    validation_periods: list[int] = field(default_factory=list)
    trained_at: str | None = None
    # The MLflow run that logged and registered the model (set by the project's hook
    # after training): evaluation may run in another run (`kedro run --pipeline
    # <uc>.evaluation` alone), and the champion alias must find the version there.
    registered_by_run: str | None = None


def selection_metric(use_case: UseCase, params: TrainingParams) -> str:
    metric = params.selection_metric or use_case.task.default_metric
    use_case.task.metric(metric)  # raises naming the task's metrics
    return metric


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
    task = use_case.task
    metric = selection_metric(use_case, params)
    x_train, y_train = use_case.model_input(train), train[use_case.label]
    x_val, y_val = use_case.model_input(validation), validation[use_case.label]
    candidates = use_case.candidates(params)
    if not candidates:
        raise ValueError(
            f"{use_case.name}: parameters_training.yml enables no candidate"
        )
    results: dict[str, dict[str, Any]] = {}
    fitted: dict[str, FitResult] = {}
    by_period: dict[str, dict[str, dict[str, float]]] = {}
    for i, (name, candidate) in enumerate(candidates.items(), start=1):
        logger.info(
            "%s: training candidate %d/%d %s (%s) on %d rows",
            use_case.name,
            i,
            len(candidates),
            name,
            candidate.flavour,
            len(x_train),
        )
        flavour = get_flavour(candidate.flavour)
        start = time.perf_counter()
        fit = flavour.fit(candidate.spec, x_train, y_train, x_val, y_val)
        seconds = time.perf_counter() - start
        pred = task.predict(flavour, fit.model, x_val)
        scores = task.scores(y_val, pred)
        by_period[name] = task.scores_by_period(
            y_val, pred, validation[use_case.time_column]
        )
        results[name] = {
            "flavour": candidate.flavour,
            "params": candidate.params,
            "validation": scores,
            "fit_seconds": round(seconds, 2),
            **({"fit": fit.info} if fit.info else {}),
        }
        fitted[name] = fit
        logger.info(
            "%s: %s validation %s (%.1fs)",
            use_case.name,
            name,
            task.summary(scores),
            seconds,
        )
    best = task.best({n: r["validation"] for n, r in results.items()}, metric)
    reason = f"{drift_decision.get('reason')}; best on validation {metric}: {best}"
    model = fitted[best].model
    refit = None
    if params.refit_on_validation:
        flavour = get_flavour(results[best]["flavour"])
        start = time.perf_counter()
        again = flavour.refit(
            candidates[best].spec,
            pd.concat([x_train, x_val]),
            pd.concat([y_train, y_val]),
            fitted[best],
        )
        model = again.model
        refit = {
            "rows": len(x_train) + len(x_val),
            "fit_seconds": round(time.perf_counter() - start, 2),
            **again.info,
        }
        train_periods = sorted({*train_periods, *val_periods})
        reason += "; refit on train + validation"
        logger.info(
            "%s: %s refit on train + validation (%d rows)",
            use_case.name,
            best,
            refit["rows"],
        )
    challenger = Challenger(
        use_case=use_case.name,
        trained=True,
        reason=reason,
        name=best,
        flavour=results[best]["flavour"],
        model=model,
        validation_scores=results[best]["validation"],
        validation_by_period=by_period[best],
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        training_periods=train_periods,
        validation_periods=val_periods,
    )
    report = {
        "trained": True,
        "reason": reason,
        "task": task.name,
        "selection_metric": metric,
        "higher_is_better": task.metric(metric).higher_is_better,
        "challenger": best,
        "candidates": results,
        "rows": {"train": len(x_train), "validation": len(x_val)},
        "refit": refit,
        "training_periods": train_periods,
        "validation_periods": val_periods,
    }
    return challenger, report
