"""Typed parameters of the generic pipelines (Pydantic v2; Kedro validates them)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitParams(_Strict):
    validation_weeks: int = Field(1, ge=1)
    test_weeks: int = Field(1, ge=1)
    latest_weeks: int = Field(1, ge=1)


class DataEngineeringParams(_Strict):
    max_quarantine_share: float = Field(0.05, ge=0.0, le=1.0)
    split: SplitParams = Field(default_factory=SplitParams)


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
    force_retrain: bool = False
    reference_sample_rows: int = Field(20000, ge=100)


class CandidateParams(_Strict):
    enabled: bool = True
    params: dict[str, Any] = Field(default_factory=dict)


class TrainingParams(_Strict):
    random_state: int = 42
    selection_metric: Literal["accuracy", "macro_f1"] = "macro_f1"
    candidates: dict[str, CandidateParams]


class GateParams(_Strict):
    min_accuracy: float = Field(0.5, ge=0.0, le=1.0)
    min_macro_f1: float = Field(0.5, ge=0.0, le=1.0)
    min_lift_over_majority: float = 0.0
    min_improvement_over_champion: float = 0.0
    comparison_metric: Literal["accuracy", "macro_f1"] = "macro_f1"


class EvaluationParams(_Strict):
    gates: GateParams = Field(default_factory=GateParams)
    golden_rows: int = Field(25, ge=1, le=1000)
