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
    # Share of the test periods' comparison units (retail: customers; rows when the
    # use case has none) trained on instead of tested: a challenger trained after
    # drift in the newest period then sees that period, and is tested, with the
    # champion, on the other units' rows of the same period. 0: the newest periods
    # are test only.
    newest_train_share: float = Field(0.0, ge=0.0, lt=1.0)
    # Train on at most this many periods before validation, the newest (a rolling
    # window; periods without rows to score do not count). The split then reads
    # only those periods of gold, newest first, so a daily or weekly run and
    # training's input stay the same size however long the history grows
    # (docs/incremental.md). None: every period gold holds.
    train_periods: int | None = Field(None, ge=1)


class DataEngineeringParams(_Strict):
    max_quarantine_share: float = Field(0.05, ge=0.0, le=1.0)
    split: SplitParams = Field(default_factory=SplitParams)
    # Options of the use case's gold builder (parking: horizon_minutes, ...).
    gold: dict[str, Any] = Field(default_factory=dict)
    # Reprocess every raw file and rebuild gold from the first period, ignoring the
    # ledger (docs/incremental.md): `kedro run --params
    # <use_case>.data_engineering.full_refresh=true`. Gives the same gold, byte for
    # byte, as the incremental runs (tests/test_incremental.py).
    full_refresh: bool = False
    # At most this many megabytes of raw files per run, taken in key order (oldest
    # first for dated file names); the rest wait for the next run and the ingest
    # report lists them as ``deferred``. A file larger than the limit goes alone.
    # A backlog larger than memory (a first run on years of history, a full refresh
    # of a large lake) then goes through in runs of bounded memory, with the gold of
    # one run over all of it: `python -m mlops_platform.backfill <use case>`
    # (docs/incremental.md). None: every new file in one run.
    max_batch_mb: float | None = Field(None, gt=0)


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
    # ... and, where the use case names kinds of period that differ by design
    # (UseCase.period_kinds: a car park's weekdays, Saturdays and Sundays), judge the
    # batch against the reference periods of its own kind, and each reference period
    # against the others of its kind.
    null_within_kind: bool = False
    null_quantile: float = Field(0.95, gt=0.5, lt=1.0)
    min_null_periods: int = Field(8, ge=3)
    # "Severe": at least this many times the null quantile.
    null_severe_factor: float = Field(2.0, gt=1.0)
    # With null_from_periods: one test over every period-level cause (each counted
    # feature, the label, the per-series check, the predicted classes) at
    # null_quantile, instead of each cause at its own null_quantile and the
    # feature-share and severe rules (pipelines/drift/combined.py: max-T). The
    # performance check stays its own rule.
    combine_causes: bool = False
    # Relative worsening of the champion's own score on the newest batch against its
    # test score at training time that counts as drift (None: not checked).
    max_performance_drop: float | None = Field(None, gt=0.0)
    # A classifier two-sample test over every counted feature (and the label when
    # joint_with_label): drift when its out-of-fold AUC reaches joint_min_auc with
    # p < p_value. One cause spread over correlated features, or a changed relation
    # between features and label, is one finding, not a diluted vote. Row-level: not
    # run with null_from_periods.
    joint_test: bool = False
    joint_with_label: bool = True
    joint_min_auc: float = Field(0.53, gt=0.5, lt=1.0)
    # Stricter than p_value: out-of-fold scores of a few folds' models make the
    # Mann-Whitney p-value somewhat optimistic (docs/drift.md: null AUCs spread
    # wider than its standard error says).
    joint_p_value: float = Field(0.001, gt=0.0, lt=1.0)
    joint_reference_rows: int = Field(10000, ge=100)
    force_retrain: bool = False
    reference_sample_rows: int = Field(20000, ge=100)


class CandidateParams(_Strict):
    enabled: bool = True
    params: dict[str, Any] = Field(default_factory=dict)


class TrainingParams(_Strict):
    random_state: int = 42
    # A metric of the use case's task; None: the task's default (macro F1, MAE).
    selection_metric: str | None = None
    # Fit the chosen candidate again on train + validation before the test (what
    # validation chose, such as a network's epoch count, stays): the newest
    # validation period then trains the challenger too.
    refit_on_validation: bool = False
    candidates: dict[str, CandidateParams]


class PrecisionFloor(_Strict):
    """Per-class precision floor of a classification task: always reported; a gate
    only where ``gated`` (where the data can reach it: docs/evaluation.md)."""

    floor: float = Field(ge=0.0, le=1.0)
    gated: bool = False


class GateParams(_Strict):
    """Quality gates, in the terms of the use case's task.

    ``bounds``: metric -> the worst acceptable test value (a floor for metrics where
    higher is better, a ceiling where lower is). The challenger must beat the use
    case's strong baseline by more than ``min_improvement_over_strong_baseline`` and
    the champion by more than ``min_improvement_over_champion`` on
    ``comparison_metric``, each judged by the lower end of a paired bootstrap
    interval on the same test rows (``confidence``, ``resamples``): a lead the
    sample's luck could explain does not promote. ``min_improvement_over_baselines``:
    further baselines, judged the same way.
    """

    bounds: dict[str, float] = Field(default_factory=dict)
    min_improvement_over_strong_baseline: float = 0.0
    min_improvement_over_baselines: dict[str, float] = Field(default_factory=dict)
    min_improvement_over_champion: float = 0.0
    comparison_metric: str | None = None
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    resamples: int = Field(1000, ge=100)
    per_class_precision: PrecisionFloor | None = None
    # A bound the champion also fails on the same rows says the data got harder, not
    # that the challenger is broken: it is reported and does not decide, so a
    # challenger credibly better than the champion (a gate that still decides) can
    # replace it after drift.
    waive_bounds_the_champion_fails: bool = True


class EvaluationParams(_Strict):
    gates: GateParams = Field(default_factory=GateParams)
    golden_rows: int = Field(25, ge=1, le=1000)
