"""Score the challenger and the champion on the same test set; gate; promote.

Everything model-specific is asked of the use case's task (metrics and their
direction, baselines, figure, golden outputs) and of the model's flavour (predict,
ONNX export); nothing here names a metric or a framework.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mlops_platform.comparison import Bootstrap, paired_difference
from mlops_platform.flavours import get_flavour
from mlops_platform.model_store import Bundle, PromotionRequest
from mlops_platform.params import DriftParams, EvaluationParams, GateParams
from mlops_platform.pipelines.training.nodes import Challenger
from mlops_platform.tracking import registered_model_name
from mlops_platform.use_cases.base import UseCase

if TYPE_CHECKING:
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)


def evaluate_models(
    use_case: UseCase,
    challenger: Challenger,
    champion: Bundle | None,
    train: pd.DataFrame,
    test: pd.DataFrame,
    params: EvaluationParams,
) -> tuple[dict[str, Any], Figure]:
    """Metrics on the test split for the challenger, the champion and baselines, and
    the challenger's paired comparisons with each of them on the same rows."""
    task = use_case.task
    y = test[use_case.label]
    x = use_case.model_input(test)
    report: dict[str, Any] = {
        "use_case": use_case.name,
        "task": task.name,
        "metrics": {
            m.name: {"higher_is_better": m.higher_is_better} for m in task.metrics
        },
        "test_rows": len(test),
        "test_periods": sorted(int(p) for p in test[use_case.time_column].unique()),
        "challenger": None,
        "champion": None,
        "strong_baseline": use_case.strong_baseline,
        "baselines": {},
    }
    predictions: dict[str, np.ndarray] = {}
    for name, (what, pred) in task.default_baselines(
        train[use_case.label], len(y)
    ).items():
        report["baselines"][name] = {"predicts": what, **task.scores(y, pred)}
        predictions[f"baseline {name}"] = pred
    for name, pred in use_case.baseline_predictions(train, test).items():
        report["baselines"][name] = task.scores(y, pred)
        predictions[f"baseline {name}"] = pred
    if use_case.strong_baseline not in report["baselines"]:
        raise ValueError(
            f"{use_case.name}: strong_baseline {use_case.strong_baseline!r} is not "
            f"one of its baselines {sorted(report['baselines'])}"
        )

    panels: list[tuple[str, Any, np.ndarray, dict[str, Any]]] = []
    challenger_pred = None
    if challenger.trained and challenger.model is not None:
        challenger_pred = task.predict(
            get_flavour(challenger.flavour or "sklearn"), challenger.model, x
        )
        result = task.report(y, challenger_pred)
        report["challenger"] = {
            "name": challenger.name,
            "flavour": challenger.flavour,
            **result,
            "by_period": task.scores_by_period(
                y, challenger_pred, test[use_case.time_column]
            ),
        }
        panels.append((f"challenger ({challenger.name})", y, challenger_pred, result))
    else:
        report["challenger_skipped"] = challenger.reason
    if champion is not None:
        try:
            pred = task.predict(get_flavour(champion.flavour), champion.model, x)
        except Exception as exc:  # an old champion that cannot score today's features
            # Reported, and a failed gate in decide_promotion: a challenger is never
            # promoted past a champion nobody could compare it with.
            report["champion"] = {"version": champion.version, "error": repr(exc)}
            logger.warning(
                "%s: champion %s could not score the test set: %r",
                use_case.name,
                champion.version,
                exc,
            )
        else:
            result = task.report(y, pred)
            report["champion"] = {
                "version": champion.version,
                "name": champion.manifest.get("model_name"),
                "flavour": champion.flavour,
                "feature_definitions": champion.input_schema.get("options", {}).get(
                    "feature_definitions"
                ),
                **result,
            }
            predictions[f"champion {champion.version}"] = pred
            panels.append((f"champion ({champion.version})", y, pred, result))
    if challenger_pred is not None:
        report["comparisons"] = compare_with_challenger(
            use_case, params, test, challenger_pred, predictions
        )
    labels = getattr(task, "labels", {})
    periods = ", ".join(map(str, report["test_periods"]))
    fig = task.figure(
        f"{use_case.name}: test {use_case.time_column} {periods}",
        panels,
        labels,
        series_of(use_case, test),
    )
    return report, fig


def series_of(use_case: UseCase, rows: pd.DataFrame) -> pd.DataFrame | None:
    """The rows' series and time, for a task's figure (``UseCase.series_columns``)."""
    if use_case.series_columns is None:
        return None
    name, time = use_case.series_columns
    return pd.DataFrame(
        {
            "series": rows[name].astype(str).to_numpy(),
            "time": pd.to_datetime(rows[time]).to_numpy(),
        }
    )


def compare_with_challenger(
    use_case: UseCase,
    params: EvaluationParams,
    test: pd.DataFrame,
    challenger_pred: np.ndarray,
    others: dict[str, np.ndarray],
) -> dict[str, dict[str, Any]]:
    """The challenger's lead over each other model on the same test rows, with a
    paired bootstrap interval (resampling the use case's comparison units whole)."""
    gates = params.gates
    metric = gates.comparison_metric or use_case.task.default_metric
    groups = use_case.comparison_units(test)
    settings = Bootstrap(resamples=gates.resamples, confidence=gates.confidence)
    return {
        name: paired_difference(
            use_case.task,
            metric,
            test[use_case.label].to_numpy(),
            challenger_pred,
            pred,
            groups,
            settings,
        )
        for name, pred in others.items()
    }


def _lead_check(
    against: str, margin: float, comparison: dict[str, Any]
) -> dict[str, Any]:
    """Passed when the interval's lower end is above the margin: the lead holds in
    all but (1 - confidence) / 2 of the draws."""
    lo, hi = comparison["interval"]
    unit = comparison["unit"]
    units = "rows" if unit == "row" else f"{unit} values"
    return {
        "check": f"{comparison['metric']} better than {against} by > {margin} "
        f"({comparison['confidence']:.0%} interval's lower end, paired over "
        f"{comparison['units']} {units})",
        "value": comparison["difference"],
        "interval": [lo, hi],
        "threshold": margin,
        "passed": bool(lo > margin),
    }


def decide_promotion(
    use_case: UseCase, evaluation: dict[str, Any], params: EvaluationParams
) -> dict[str, Any]:
    """Apply the quality gates; every check is reported with its value and threshold.

    Bounds compare in each metric's direction (a floor where higher is better, a
    ceiling where lower is). Leads over the strong baseline, other baselines and the
    champion are signed so that positive is better, and pass only when the paired
    interval's lower end clears the margin. A check with ``gating: false`` is
    reported and does not decide.
    """
    task = use_case.task
    gates = params.gates
    challenger = evaluation.get("challenger")
    champion = evaluation.get("champion")
    if not challenger:
        reason = evaluation.get("challenger_skipped") or "no challenger"
        return {"promote": False, "reason": f"champion kept: {reason}", "checks": []}
    metric = gates.comparison_metric or task.default_metric
    comparisons = evaluation.get("comparisons") or {}
    checks: list[dict[str, Any]] = []
    # The champion's scores on the same rows, when it could be scored.
    rival: dict[str, Any] = champion if champion and "error" not in champion else {}
    for name, bound in gates.bounds.items():
        higher = task.metric(name).higher_is_better
        op = ">=" if higher else "<="

        def meets(value: float, higher: bool = higher, bound: float = bound) -> bool:
            return bool(value >= bound if higher else value <= bound)

        check = {
            "check": f"{name} {op} {bound}",
            "value": challenger[name],
            "threshold": bound,
            "passed": meets(challenger[name]),
        }
        if (
            not check["passed"]
            and gates.waive_bounds_the_champion_fails
            and name in rival
            and not meets(rival[name])
        ):
            check["gating"] = False
            check["waived"] = True
            check["note"] = (
                f"champion {rival['version']} scores {rival[name]:.4f} on the "
                "same rows: the data moved; the champion gate decides"
            )
        checks.append(check)
    margins = {use_case.strong_baseline: gates.min_improvement_over_strong_baseline}
    margins.update(gates.min_improvement_over_baselines)
    for name, margin in margins.items():
        if name not in evaluation["baselines"]:
            raise ValueError(
                f"{use_case.name}: gates name baseline {name!r}; the evaluation has "
                f"{sorted(evaluation['baselines'])}"
            )
        what = "strong baseline" if name == use_case.strong_baseline else "baseline"
        check = _lead_check(f"{what} {name}", margin, comparisons[f"baseline {name}"])
        implied = _implied_by_bound(
            task, metric, evaluation["baselines"][name][metric], margin, gates.bounds
        )
        if implied:
            check["note"] = (
                f"{implied} already asks more than this baseline's score + margin "
                "(only the interval can still fail)"
            )
            logger.warning(
                "%s: gate '%s': %s", use_case.name, check["check"], check["note"]
            )
        checks.append(check)
    if champion and "error" in champion:
        checks.append(
            {
                "check": f"champion {champion['version']} scored on the same rows",
                "value": champion["error"],
                "threshold": None,
                "passed": False,
            }
        )
    elif champion:
        check = _lead_check(
            f"champion {champion['version']}",
            gates.min_improvement_over_champion,
            comparisons[f"champion {champion['version']}"],
        )
        trained_on = champion.get("feature_definitions")
        if use_case.feature_definitions is not None and (
            trained_on != use_case.feature_definitions
        ):
            # A migration: the champion was trained on features that are no longer
            # computed (and the online store serves only the current ones), so the
            # comparison is reported; the absolute and baseline gates decide.
            check["gating"] = False
            check["note"] = (
                f"champion {champion['version']} was trained on feature definitions "
                f"{trained_on or 'from before they were versioned'}; gold is built "
                f"with version {use_case.feature_definitions}: reported, not gated"
            )
        checks.append(check)
    if gates.per_class_precision is not None:
        checks.extend(_precision_checks(use_case, challenger, gates))
    failed = [c["check"] for c in checks if c.get("gating", True) and not c["passed"]]
    if failed:
        reason = "gate failed: " + "; ".join(failed) + " -> champion kept"
    else:
        reason = (
            f"all {sum(c.get('gating', True) for c in checks)} gates passed: "
            f"promote {challenger['name']} ({metric} {challenger[metric]:.4f})"
        )
        waived = [c["check"] for c in checks if c.get("waived")]
        if waived:
            reason += f" (not met, as by the champion: {'; '.join(waived)})"
        migrated = [
            c["note"]
            for c in checks
            if c.get("gating", True) is False and not c.get("waived") and "note" in c
        ]
        if migrated:
            reason += f" ({'; '.join(migrated)})"
    logger.info("%s promotion: %s", use_case.name, reason)
    return {
        "promote": not failed,
        "reason": reason,
        "checks": checks,
        "challenger": challenger["name"],
    }


def _implied_by_bound(
    task: Any, metric: str, baseline: float, margin: float, bounds: dict[str, float]
) -> str | None:
    """A bound on the same metric at least as strict as "the baseline's score plus
    the margin" makes the baseline gate dead (the majority class's macro F1 is at
    most 1/3 with three classes: any floor above that implies it)."""
    if metric not in bounds:
        return None
    bound = bounds[metric]
    if task.improvement(metric, bound, baseline) >= margin:
        op = ">=" if task.metric(metric).higher_is_better else "<="
        return f"the bound {metric} {op} {bound}"
    return None


def _precision_checks(
    use_case: UseCase, challenger: dict[str, Any], gates: GateParams
) -> list[dict[str, Any]]:
    floor = gates.per_class_precision
    if floor is None:
        return []
    if "per_class" not in challenger:
        raise ValueError(
            f"{use_case.name}: gates.per_class_precision needs a classification "
            f"task; {use_case.task.name} reports no classes"
        )
    return [
        {
            "check": f"precision of {c} >= {floor.floor}",
            "value": scores["precision"],
            "threshold": floor.floor,
            "passed": bool(scores["precision"] >= floor.floor),
            "gating": floor.gated,
        }
        for c, scores in challenger["per_class"].items()
    ]


def input_schema(use_case: UseCase, train: pd.DataFrame) -> dict[str, Any]:
    """The bundle's input contract, from the use case's feature schema: each field's
    kind, description and what training saw (ranges, categories); and the task."""
    x = use_case.model_input(train)
    fields: list[dict[str, Any]] = []
    for f in use_case.feature_schema:
        field: dict[str, Any] = {"name": f.name, "kind": f.kind}
        if f.description:
            field["description"] = f.description
        if f.kind == "numeric":
            s = x[f.name]
            field.update(
                type="number",
                nullable=True,
                min=float(s.min()),
                max=float(s.max()),
                missing_share=round(float(s.isna().mean()), 6),
            )
        elif f.kind == "categorical":
            s = x[f.name]
            field.update(
                type="category",
                nullable=True,
                categories=sorted(map(str, s.dropna().unique())),
                missing_share=round(float(s.isna().mean()), 6),
                unknown_category="encoded as unseen (all-zero one-hot or "
                "the unknown code)",
            )
        elif f.kind == "window":
            values = x[list(f.columns)].to_numpy(dtype=float)
            field.update(
                type="window",
                columns=list(f.columns),
                length=len(f.columns),
                step_minutes=f.step_minutes,
                min=float(np.nanmin(values)),
                max=float(np.nanmax(values)),
            )
        else:
            field.update(type="text")
        fields.append(field)
    return {
        "use_case": use_case.name,
        **use_case.task.schema(),
        "label": use_case.label,
        "fields": fields,
        **({"options": o} if (o := schema_options(use_case, train)) else {}),
        "missing_value": "null (JSON) / None; NaN is treated the same",
    }


def schema_options(use_case: UseCase, train: pd.DataFrame) -> dict[str, Any]:
    options = dict(use_case.schema_options(train))
    if use_case.feature_definitions is not None:
        options["feature_definitions"] = use_case.feature_definitions
    return options


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
    use_case: UseCase, flavour_name: str, model: Any, test: pd.DataFrame, n: int
) -> dict[str, Any]:
    """A few test rows, some with missing values, and the model's outputs on them."""
    task = use_case.task
    flavour = get_flavour(flavour_name)
    x = use_case.model_input(test)
    has_missing = x.isna().any(axis=1)
    rng = np.random.default_rng(0)
    idx_missing = x.index[has_missing].to_numpy()
    idx_full = x.index[~has_missing].to_numpy()
    k = min(len(idx_missing), max(1, n // 3))
    pick = np.r_[
        rng.choice(idx_missing, size=k, replace=False) if k else [],
        rng.choice(idx_full, size=min(len(idx_full), n - k), replace=False),
    ]
    sample = x.loc[np.sort(pick.astype(int))]
    outputs = task.outputs(flavour, model, sample)
    golden: dict[str, Any] = {
        "rows": json_records(sample),
        "output": task.output_name,
        "expected": task.expected_rows(outputs, flavour.classes(model)),
        # The same bound the ONNX export is held to.
        "tolerance": task.parity.max_abs_diff,
    }
    if task.output_name == "probabilities":  # format 2 readers look for this key
        golden["probability_tolerance"] = task.parity.max_abs_diff
    return golden


def data_hash(*frames: pd.DataFrame) -> str:
    h = hashlib.sha256()
    for f in frames:
        h.update(pd.util.hash_pandas_object(f, index=False).to_numpy().tobytes())
    return h.hexdigest()


def drift_reference(
    use_case: UseCase,
    train: pd.DataFrame,
    validation: pd.DataFrame,
    training_periods: list[int],
    drift_params: DriftParams,
) -> pd.DataFrame:
    """The rows the champion was fitted on, as the drift stage compares new batches
    with: the training rows, and the validation rows of the periods it was fitted on
    too (``training_periods`` holds them after a refit on train + validation), with
    features, drift-only columns, the series column (drift judges each series
    against its own periods), the time column (drift can judge a batch against
    whole reference periods) and the label; sampled down to
    ``reference_sample_rows``."""
    drift_only = [c for c in use_case.drift_features if c not in use_case.features]
    refit = validation[validation[use_case.time_column].isin(training_periods)]
    series = [use_case.series_columns[0]] if use_case.series_columns else []
    wanted = [*use_case.features, *drift_only, *series, use_case.time_column]
    columns = list(dict.fromkeys([*wanted, use_case.label]))
    reference = pd.concat([train[columns], refit[columns]], ignore_index=True)
    if len(reference) > drift_params.reference_sample_rows:
        reference = reference.sample(drift_params.reference_sample_rows, random_state=0)
    return reference.reset_index(drop=True)


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
    flavour = challenger.flavour or "sklearn"
    reference = drift_reference(
        use_case, train, validation, challenger.training_periods, drift_params
    )
    golden = golden_rows(use_case, flavour, model, test, params.golden_rows)
    onnx, onnx_info = bundle_onnx(
        use_case, flavour, model, [validation, test, pd.DataFrame(golden["rows"])]
    )
    metrics = {
        "task": use_case.task.name,
        "headline": {
            m.name: evaluation["challenger"][m.name] for m in use_case.task.metrics
        },
        "validation": challenger.validation_scores,
        "test": evaluation["challenger"],
        # Every validation and test period's own score: how much one period varies
        # (the drift stage's reference for the champion's error on a new period).
        "by_period": {
            **challenger.validation_by_period,
            **evaluation["challenger"].get("by_period", {}),
        },
        "baselines": evaluation["baselines"],
        "champion_replaced": evaluation.get("champion"),
        "gates": decision["checks"],
    }
    return PromotionRequest(
        use_case=use_case.name,
        promote=True,
        reason=decision["reason"],
        model=model,
        flavour=flavour,
        input_schema=input_schema(use_case, train),
        metrics=metrics,
        golden=golden,
        reference=reference,
        onnx=onnx,
        onnx_info=onnx_info,
        # committed only if this is still the champion at commit time
        judged_against=(evaluation.get("champion") or {}).get("version"),
        recheck=True,
        manifest_extra={
            "model_name": challenger.name,
            "trained_at": challenger.trained_at,
            "training_periods": challenger.training_periods,
            "validation_periods": challenger.validation_periods,
            "test_periods": sorted(int(p) for p in test[use_case.time_column].unique()),
            "data_hash": data_hash(train, validation, test),
            "registered_model": registered_model_name(use_case.name),
            "registered_by_run": getattr(challenger, "registered_by_run", None),
            "features": use_case.features,
        },
    )


def bundle_onnx(
    use_case: UseCase, flavour: str, model: Any, frames: list[pd.DataFrame]
) -> tuple[bytes | None, dict[str, Any]]:
    """The bundle's ONNX graph, checked against the model on validation, test and golden
    rows; a model that cannot be exported faithfully gets no ONNX file (serving then
    uses the flavour's own runtime where it has one, or refuses the bundle)."""
    from mlops_platform.onnx_export import OnnxExportError, export_onnx  # noqa: PLC0415

    rows = pd.concat(
        [use_case.model_input(f) for f in frames if len(f)], ignore_index=True
    )
    try:
        export = export_onnx(get_flavour(flavour), model, use_case, rows)
    except OnnxExportError as exc:
        logger.warning("%s: no ONNX export (%s)", use_case.name, exc)
        return None, {"reason": str(exc)[:2000]}
    logger.info(
        "%s: ONNX export matches the %s model on %d rows (max |diff| %.1e)",
        use_case.name,
        flavour,
        export.info["parity"]["rows"],
        export.info["parity"]["max_abs_diff"],
    )
    return export.model, export.info
