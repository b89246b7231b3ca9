"""Typed parameters of the generic pipelines (Pydantic v2; Kedro validates them)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitParams(_Strict):
    """Counts of the use case's time periods (weeks for retail, days for parking)."""

    validation_periods: int = Field(1, ge=1)
    test_periods: int = Field(1, ge=1)
    latest_periods: int = Field(1, ge=1)


class DataEngineeringParams(_Strict):
    max_quarantine_share: float = Field(0.05, ge=0.0, le=1.0)
    split: SplitParams = Field(default_factory=SplitParams)
    # Options of the use case's gold builder (parking: horizon_minutes, ...).
    gold: dict[str, Any] = Field(default_factory=dict)


class DriftParams(_Strict):
    large_sample_rows: int = Field(2000, ge=10)
    p_value: float = Field(0.01, gt=0.0, lt=1.0)
    psi_threshold: float = Field(0.2, gt=0.0)
    wasserstein_threshold: float = Field(0.15, gt=0.0)
    js_threshold: float = Field(0.1, gt=0.0, le=1.0)
    psi_bins: int = Field(10, ge=2)
    drifted_feature_share: float = Field(0.2, gt=0.0, le=1.0)
    severe_psi: float = Field(0.5, gt=0.0)
    severe_js: float = Field(0.2, gt=0.0, le=1.0)
    check_label_drift: bool = True
    # Also judge the champion's predicted class shares on the batch against its
    # predictions on the reference (a classification task; needs null_from_periods).
    check_prediction_drift: bool = False
    # Judge each feature against the reference periods themselves: today's statistic
    # (KS for numbers, Jensen-Shannon for categories) against the same statistic of
    # every reference period compared with the rest. For batches whose rows are not
    # independent (a day of 5-minute readings shares that day's level): a row-level
    # significance test would call every day drifted.
    null_from_periods: bool = False
    null_quantile: float = Field(0.95, gt=0.5, lt=1.0)
    min_null_periods: int = Field(8, ge=3)
    # "Severe": at least this many times the null quantile.
    null_severe_factor: float = Field(2.0, gt=1.0)
    # Relative worsening of the champion's own score on the newest batch against its
    # test score at training time that counts as drift (None: not checked).
    max_performance_drop: float | None = Field(None, gt=0.0)
    force_retrain: bool = False
    reference_sample_rows: int = Field(20000, ge=100)


class CandidateParams(_Strict):
    enabled: bool = True
    params: dict[str, Any] = Field(default_factory=dict)


class TrainingParams(_Strict):
    random_state: int = 42
    # A metric of the use case's task; None: the task's default (macro F1, MAE).
    selection_metric: str | None = None
    candidates: dict[str, CandidateParams]


class GateParams(_Strict):
    """Quality gates, in the terms of the use case's task.

    ``bounds``: metric -> the worst acceptable test value (a floor for metrics where
    higher is better, a ceiling where lower is). ``min_improvement_over_baselines``:
    baseline name -> how much the challenger must beat it on ``comparison_metric``
    (in the metric's better direction). ``min_improvement_over_champion``: likewise
    against the champion scored on the same test rows.
    """

    bounds: dict[str, float] = Field(default_factory=dict)
    min_improvement_over_baselines: dict[str, float] = Field(default_factory=dict)
    min_improvement_over_champion: float = 0.0
    comparison_metric: str | None = None


class EvaluationParams(_Strict):
    gates: GateParams = Field(default_factory=GateParams)
    golden_rows: int = Field(25, ge=1, le=1000)
