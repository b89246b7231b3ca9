"""Does the newest batch differ from the data the champion was trained on?"""

from __future__ import annotations

import functools
import logging
import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mlops_platform.flavours import get_flavour
from mlops_platform.model_store import Bundle
from mlops_platform.params import DriftParams
from mlops_platform.pipelines.drift.combined import by_period, max_over_causes
from mlops_platform.pipelines.drift.joint import classifier_two_sample
from mlops_platform.pipelines.drift.series import UNSEEN, series_level_test
from mlops_platform.pipelines.drift.stats import (
    chi_square_p,
    js_distance,
    psi,
    scaled_wasserstein,
)
from mlops_platform.pipelines.drift.text import (
    DESCRIBED,
    comparable,
    null_effect,
    null_test,
    text_statistics,
)
from mlops_platform.plotting import pyplot
from mlops_platform.use_cases.base import UseCase

if TYPE_CHECKING:
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)


def _numeric_test(
    ref: pd.Series, cur: pd.Series, params: DriftParams, alpha: float
) -> dict[str, Any]:
    from scipy import stats  # noqa: PLC0415

    r = ref.dropna().to_numpy(dtype=float)
    c = cur.dropna().to_numpy(dtype=float)
    missing_shift = abs(float(cur.isna().mean()) - float(ref.isna().mean()))
    out: dict[str, Any] = {
        "type": "numeric",
        "n_reference": len(r),
        "n_current": len(c),
        "missing_share_change": round(missing_shift, 4),
    }
    flagged: list[str] = []
    if missing_shift > 0.1:
        flagged.append(f"missing share moved {missing_shift:.1%} (> 10%)")
    if len(r) == 0 or len(c) == 0:
        out.update(
            test="missing-share",
            drifted=missing_shift > 0.1,
            flagged_by=flagged,
            effect=f"missing share moved {missing_shift:.1%}",
            effect_ratio=missing_shift / 0.1,
        )
        return out
    ks = stats.ks_2samp(r, c)
    out["ks_statistic"] = float(ks.statistic)
    out["ks_p_value"] = float(ks.pvalue)
    out["psi"] = psi(r, c, params.psi_bins)
    out["wasserstein_std"] = scaled_wasserstein(r, c)
    if len(c) < params.large_sample_rows:
        out["test"] = f"KS p < {alpha:.2g} (Bonferroni)"
        out["drifted"] = bool(ks.pvalue < alpha)
        out["score"] = float(ks.statistic)
        if out["drifted"]:
            flagged.append(f"KS p {ks.pvalue:.1e} < {alpha:.1e}")
    else:
        out["test"] = (
            f"PSI >= {params.psi_threshold} or Wasserstein >= "
            f"{params.wasserstein_threshold} std"
        )
        out["drifted"] = bool(
            out["psi"] >= params.psi_threshold
            or out["wasserstein_std"] >= params.wasserstein_threshold
        )
        out["score"] = float(out["psi"])
        if out["psi"] >= params.psi_threshold:
            flagged.append(f"PSI {out['psi']:.3f} >= {params.psi_threshold}")
        if out["wasserstein_std"] >= params.wasserstein_threshold:
            flagged.append(
                f"Wasserstein {out['wasserstein_std']:.3f} std >= "
                f"{params.wasserstein_threshold}"
            )
    out["severe"] = bool(out["psi"] >= params.severe_psi)
    if out["severe"]:
        flagged.append(f"PSI {out['psi']:.3f} >= severe {params.severe_psi}")
    out["drifted"] = bool(out["drifted"] or missing_shift > 0.1 or out["severe"])
    out["flagged_by"] = list(dict.fromkeys(flagged))
    out["effect"] = (
        f"PSI {out['psi']:.3f}, Wasserstein {out['wasserstein_std']:.3f} std, "
        f"KS D {ks.statistic:.3f}"
    )
    # the effect against the threshold it is judged by, whichever test a sample size
    # picks: one scale to rank every feature on
    out["effect_ratio"] = max(
        out["psi"] / params.psi_threshold,
        out["wasserstein_std"] / params.wasserstein_threshold,
        missing_shift / 0.1,
    )
    return out


def _categorical_test(
    ref: pd.Series, cur: pd.Series, params: DriftParams, alpha: float
) -> dict[str, Any]:
    js = js_distance(ref, cur)
    out: dict[str, Any] = {
        "type": "categorical",
        "n_reference": len(ref),
        "n_current": len(cur),
        "js_distance": js,
    }
    flagged: list[str] = []
    effect = f"Jensen-Shannon {js:.3f}"
    if len(cur) < params.large_sample_rows:
        p = chi_square_p(ref, cur)
        out.update(
            test=f"chi-square p < {alpha:.2g} (Bonferroni)",
            chi2_p_value=p,
            drifted=bool(p < alpha),
            score=js,
        )
        if out["drifted"]:
            flagged.append(f"chi-square p {p:.1e} < {alpha:.1e}")
    else:
        out.update(
            test=f"Jensen-Shannon >= {params.js_threshold}",
            drifted=bool(js >= params.js_threshold),
            score=js,
        )
        if out["drifted"]:
            flagged.append(f"Jensen-Shannon {js:.3f} >= {params.js_threshold}")
    out["severe"] = bool(js >= params.severe_js)
    if out["severe"]:
        flagged.append(f"Jensen-Shannon {js:.3f} >= severe {params.severe_js}")
    out["drifted"] = bool(out["drifted"] or out["severe"])
    out.update(
        flagged_by=list(dict.fromkeys(flagged)),
        effect=effect,
        effect_ratio=js / params.js_threshold,
    )
    return out


def _statistic(kind: str, ref: pd.Series, cur: pd.Series) -> float:
    from scipy import stats  # noqa: PLC0415

    if kind == "numeric":
        r = ref.dropna().to_numpy(dtype=float)
        c = cur.dropna().to_numpy(dtype=float)
        if not len(r) or not len(c):
            return float("nan")
        return float(stats.ks_2samp(r, c).statistic)
    return float(js_distance(ref, cur))


@dataclass(frozen=True)
class PeriodNull:
    """What a period-level test compares: the batch with ``today`` (a mask over the
    reference rows), and for the null each reference period with ``pairs``' rest.
    Without kinds, the rest is the whole reference. With the use case's kinds of
    period (``UseCase.period_kinds``: a car park's Sundays are not its Wednesdays),
    the batch meets the reference periods of its own kind and every reference
    period the others of its kind, so a level shift is not hidden by the week's
    shape; a kind with fewer than ``MIN_KIND_PERIODS`` periods in the reference is
    compared with every period."""

    MIN_KIND_PERIODS = 3

    periods: pd.Series
    today: np.ndarray
    pairs: tuple[tuple[np.ndarray, np.ndarray], ...]
    kind: str | None  # the batch's kind, when it was judged within it

    @classmethod
    def build(
        cls, periods: pd.Series, kinds: pd.Series | None, today_kind: str | None
    ) -> PeriodNull:
        labels = periods.to_numpy()
        every = np.ones(len(labels), dtype=bool)
        if kinds is None or today_kind is None:
            pairs = tuple((labels == p, labels != p) for p in pd.unique(labels))
            return cls(periods, every, pairs, None)
        kind_of = kinds.to_numpy()
        count = pd.Series(labels).groupby(kind_of).nunique()

        def judged_within(k: str) -> bool:
            return int(count.get(k, 0)) >= cls.MIN_KIND_PERIODS

        own = judged_within(today_kind)
        pairs_list = []
        for p in pd.unique(labels):
            inside = labels == p
            k = kind_of[inside][0]
            rest = ~inside & (kind_of == k) if judged_within(k) else ~inside
            pairs_list.append((inside, rest))
        today = kind_of == today_kind if own else every
        return cls(periods, today, tuple(pairs_list), today_kind if own else None)

    @property
    def described(self) -> str:
        return f" of its kind ({self.kind})" if self.kind else ""

    @functools.cached_property
    def labels(self) -> list[Any]:
        """The reference periods, in ``pairs``' order."""
        return list(pd.unique(self.periods.to_numpy()))


def _period_null_test(
    kind: str,
    ref: pd.Series,
    null_of: PeriodNull,
    cur: pd.Series,
    params: DriftParams,
) -> dict[str, Any]:
    """Today's statistic against each reference period's own (that period against
    the rest of the reference, or of its kind): drift only beyond what a normal
    period shows."""
    today = _statistic(kind, ref[null_of.today], cur)
    null = [_statistic(kind, ref[rest], ref[inside]) for inside, rest in null_of.pairs]
    null_arr = np.array([v for v in null if np.isfinite(v)])
    threshold = float(np.quantile(null_arr, params.null_quantile))
    name = "KS statistic" if kind == "numeric" else "Jensen-Shannon"
    return {
        "type": kind,
        "n_reference": int(ref[null_of.today].notna().sum()),
        "n_current": int(cur.notna().sum()),
        "test": f"{name} above the {params.null_quantile:.0%} quantile of "
        f"{len(null_arr)} reference periods' own{null_of.described}",
        "score": today,
        "null_quantile": threshold,
        "null_max": float(null_arr.max()),
        "drifted": bool(today > threshold),
        "severe": bool(today >= params.null_severe_factor * threshold),
        "null_by_period": by_period(null_of.labels, null),
        **null_effect(name, today, threshold, params.null_quantile),
    }


def _text_tests(
    use_case: UseCase,
    reference: pd.DataFrame,
    null_of: PeriodNull | None,
    latest: pd.DataFrame,
    params: DriftParams,
) -> dict[str, dict[str, Any]]:
    """Each text feature's statistics (:mod:`.text`), judged against the periods:
    every reference period, kinds of period or not (:func:`.text.text_statistics`
    computes each period against the whole; no use case with text names kinds)."""
    texts = [
        f.name
        for f in use_case.feature_schema
        if f.kind == "text" and f.name in reference.columns
    ]
    if not texts:
        return {}
    if null_of is None:
        logger.warning(
            "%s drift: text features %s need null_from_periods and at least %d "
            "reference periods: not tested",
            use_case.name,
            texts,
            params.min_null_periods,
        )
        return {}
    if null_of.kind is not None:
        logger.warning(
            "%s drift: text features %s are judged against every reference period, "
            "not only %s ones",
            use_case.name,
            texts,
            null_of.kind,
        )
    out: dict[str, dict[str, Any]] = {}
    for f in texts:
        for stat, (today, null) in text_statistics(
            reference[f], null_of.periods, latest[f]
        ).items():
            out[f"{f}:{stat}"] = {
                "type": "text",
                "n_reference": len(reference),
                "n_current": len(latest),
                "column": f,
                "statistic": stat,
                "null_by_period": by_period(null_of.labels, list(null)),
                **null_test(
                    DESCRIBED[stat],
                    today,
                    null,
                    params.null_quantile,
                    params.null_severe_factor,
                ),
            }
    return out


def _prediction_drift(
    use_case: UseCase,
    reference: pd.DataFrame,
    null_of: PeriodNull | None,
    latest: pd.DataFrame,
    champion: Bundle,
    params: DriftParams,
) -> dict[str, Any] | None:
    """The champion's predicted class shares on the batch against its predictions on
    the reference (Jensen-Shannon), judged against the reference periods' own: a
    model that suddenly calls most reviews positive has met something new, labels
    or not."""
    if (
        not params.check_prediction_drift
        or null_of is None
        or use_case.task.label_kind != "categorical"
    ):
        return None
    task, flavour = use_case.task, get_flavour(champion.flavour)
    try:
        ref_pred = pd.Series(
            task.predict(flavour, champion.model, use_case.model_input(reference))
        )
        # at the reference periods' size, as the null is (text.comparable)
        sample = latest.loc[comparable(latest[use_case.label], null_of.periods).index]
        cur_pred = pd.Series(
            task.predict(flavour, champion.model, use_case.model_input(sample))
        )
    except Exception as exc:  # a champion that cannot read these features
        return {"type": "prediction", "error": repr(exc), "drifted": True}
    null = [
        js_distance(ref_pred[rest], ref_pred[inside]) for inside, rest in null_of.pairs
    ]
    shares = cur_pred.value_counts(normalize=True).round(4).to_dict()
    return {
        "type": "prediction",
        "null_by_period": by_period(null_of.labels, null),
        "n_reference": len(ref_pred),
        "n_current": len(cur_pred),
        "current_shares": {str(k): float(v) for k, v in shares.items()},
        "reference_shares": {
            str(k): float(v)
            for k, v in ref_pred.value_counts(normalize=True).round(4).items()
        },
        **null_test(
            "predicted class Jensen-Shannon",
            js_distance(ref_pred[null_of.today], cur_pred),
            null,
            params.null_quantile,
            params.null_severe_factor,
        ),
    }


def _performance_drift(
    use_case: UseCase,
    latest: pd.DataFrame,
    champion: Bundle,
    params: DriftParams,
) -> dict[str, Any] | None:
    """The champion's own score on the newest labelled rows against its worst
    validation or test period at training time (in the metric's better direction):
    one period's score varies a lot on its own (a Sunday's car counts are easy, a
    Thursday's hard), so only a period worse than any it was judged on counts."""
    if params.max_performance_drop is None:
        return None
    task = use_case.task
    metric = task.default_metric
    held_out = [
        s[metric] for s in (champion.metrics.get("by_period") or {}).values()
    ] or [(champion.metrics.get("test") or {}).get(metric)]
    held_out = [float(v) for v in held_out if v is not None]
    at_training = (
        min(held_out, key=lambda v: task.improvement(metric, v, 0.0))
        if held_out
        else None
    )
    rows = latest[~latest[use_case.label].isin(use_case.excluded_labels)]
    if at_training is None or rows.empty:
        return None
    try:
        pred = task.predict(
            get_flavour(champion.flavour), champion.model, use_case.model_input(rows)
        )
    except Exception as exc:  # a champion that cannot read today's features
        return {"metric": metric, "error": repr(exc), "drifted": True}
    current = task.scores(rows[use_case.label], pred)[metric]
    worse_by = -task.improvement(metric, current, float(at_training))
    relative = worse_by / max(abs(float(at_training)), 1e-12)
    return {
        "metric": metric,
        "current": round(current, 6),
        "at_training": float(at_training),
        "at_training_is": f"the worst of {len(held_out)} held-out period(s)",
        "relative_worsening": round(relative, 4),
        "threshold": params.max_performance_drop,
        "rows": len(rows),
        "drifted": bool(relative > params.max_performance_drop),
    }


def _joint_test(
    use_case: UseCase,
    reference: pd.DataFrame,
    latest: pd.DataFrame,
    counted: list[str],
    periods: pd.Series | None,
    params: DriftParams,
) -> dict[str, Any] | None:
    """The classifier two-sample test (:mod:`.joint`) over the counted columns and
    the label; None when not asked for or when rows are judged by period."""
    if not params.joint_test:
        return None
    if periods is not None:
        logger.info(
            "%s drift: joint test not run (rows judged by period)", use_case.name
        )
        return None
    tested = use_case.drift_features
    kinds = {f: tested[f] for f in counted if f in tested}
    label = use_case.label
    keep_ref = ~reference[label].isin(use_case.excluded_labels)
    keep_cur = ~latest[label].isin(use_case.excluded_labels)
    if params.joint_with_label and label in reference.columns:
        kinds[label] = use_case.task.label_kind
    if not kinds or keep_cur.sum() < 20:
        return None
    result = classifier_two_sample(
        reference[keep_ref],
        latest[keep_cur],
        kinds,
        max_reference_rows=params.joint_reference_rows,
    )
    result["test"] = (
        f"classifier two-sample: out-of-fold AUC >= {params.joint_min_auc} and "
        f"Mann-Whitney p < {params.joint_p_value}"
    )
    result["with_label"] = label in kinds
    result["drifted"] = bool(
        result["auc"] >= params.joint_min_auc
        and result["p_value"] < params.joint_p_value
    )
    return result


def _z_text(z: float) -> str:
    return "unseen" if z >= UNSEEN else f"{z:.2f}"


def _series_reason(series: dict[str, Any]) -> str:
    """What the series test found, for the run's reason."""
    col, where = series["series_column"], series["largest"]
    if series["unseen_series"]:
        return f"new {col}: {', '.join(series['unseen_series'])}"
    what = (
        f"{where['series']}'s {where['column']} moved beyond their own ranges together"
        if where["series"] == f"every {col}"
        else f"{col} {where['series']}'s {where['column']} left its own range"
    )
    return (
        f"{what} (surprise {_z_text(series['statistic'])} vs "
        f"{series['null_quantile']:.2f})"
    )


def _series_test(
    use_case: UseCase,
    reference: pd.DataFrame,
    null_of: PeriodNull | None,
    latest: pd.DataFrame,
    counted: dict[str, dict[str, Any]],
    params: DriftParams,
) -> dict[str, Any] | None:
    """Each series (``UseCase.series_columns``) against its own reference periods,
    on its level columns (``UseCase.series_level_columns``; by default the counted
    numeric features and a numeric label: ``series.py``); needs the
    period-level null. None where the use case has no series, or the champion's
    reference predates the series column."""
    if null_of is None or not use_case.series_columns:
        return None
    if use_case.series_level_columns is not None:
        columns = list(use_case.series_level_columns)
    else:
        columns = [f for f, r in counted.items() if r.get("type") == "numeric"]
        if use_case.task.label_kind == "numeric":
            columns.append(use_case.label)
    profile = None
    if use_case.series_profile_column is not None:
        kinds = use_case.period_kinds(reference) if params.null_within_kind else None
        profile = {
            "position": use_case.series_profile_column,
            "kinds": None if kinds is None else kinds.to_numpy(),
            "batch_kind": _batch_kind(use_case, latest)
            if params.null_within_kind
            else None,
            "min_kind_periods": PeriodNull.MIN_KIND_PERIODS,
        }
    result = series_level_test(
        reference,
        latest,
        use_case.series_columns[0],
        columns,
        null_of.periods,
        null_of.today,
        null_of.pairs,
        params.null_quantile,
        profile,
    )
    if result is not None:
        result["null_by_period"] = by_period(null_of.labels, result.pop("null_by_pair"))
    return result


SERIES_CAUSE = "series"
LABEL_CAUSE = "label"


def _combined_test(
    counted: dict[str, dict[str, Any]],
    label: dict[str, Any] | None,
    series: dict[str, Any] | None,
    null_of: PeriodNull | None,
    params: DriftParams,
) -> dict[str, Any] | None:
    """``combine_causes``: every period-level cause in one max-T test
    (:mod:`.combined`); None when not asked for or rows are not judged by period."""
    if not params.combine_causes or null_of is None:
        return None
    causes: dict[str, tuple[float, dict[str, float | None]]] = {
        f: (float(r["score"]), r["null_by_period"])
        for f, r in counted.items()
        if "null_by_period" in r and "score" in r
    }
    if label and "null_by_period" in label:
        causes[LABEL_CAUSE] = (float(label["score"]), label["null_by_period"])
    if series:
        causes[SERIES_CAUSE] = (float(series["statistic"]), series["null_by_period"])
    return max_over_causes(causes, params.null_quantile)


def _performance_reason(performance: dict[str, Any] | None) -> str:
    if not performance:
        return ""
    return (
        f"champion's {performance['metric']} worse on the newest batch "
        f"({performance.get('current', performance.get('error'))} vs "
        f"{performance.get('at_training')})"
    )


def _combined_reason(combined: dict[str, Any], series: dict[str, Any] | None) -> str:
    largest = combined["largest"]
    what = (
        _series_reason(series)
        if largest == SERIES_CAUSE and series and series.get("largest")
        else f"{largest} moved"
    )
    return (
        f"{what}; {_z_text(combined['statistic'])} of its own scale against "
        f"{combined['threshold']:.2f}, the limit over all {combined['causes']} causes"
    )


def _batch_kind(use_case: UseCase, latest: pd.DataFrame) -> str | None:
    """The batch's kind of period (its most common, for a batch of several)."""
    kinds = use_case.period_kinds(latest)
    if kinds is None or kinds.empty:
        return None
    return str(kinds.mode().iloc[0])


def detect_drift(
    use_case: UseCase,
    latest: pd.DataFrame,
    champion: Bundle | None,
    params: DriftParams,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per-feature tests, label drift, a verdict, and the decision gating training.
    Rows out of service (``UseCase.out_of_service_column``) are left out of the
    batch and the reference; a batch of nothing else is not judged."""
    report: dict[str, Any] = {
        "use_case": use_case.name,
        "current_periods": sorted(
            int(p) for p in latest[use_case.time_column].unique()
        ),
        "current_rows": len(latest),
        "champion_version": champion.version if champion else None,
    }
    if champion is None:
        report.update(status="no_reference", features={}, drift_detected=None)
        decision = {
            "train": True,
            "reason": "no champion yet: train the first model",
            "drift_detected": None,
            "champion_version": None,
        }
        logger.info("%s drift: no champion yet -> train", use_case.name)
        return report, decision
    trained_on = champion.input_schema.get("options", {}).get("feature_definitions")
    if use_case.feature_definitions is not None and (
        trained_on != use_case.feature_definitions
    ):
        reason = (
            f"champion {champion.version} was trained on feature definitions "
            f"{trained_on or 'from before they were versioned'}; gold is now built "
            f"with version {use_case.feature_definitions}: retrain"
        )
        report.update(status="definitions_changed", features={}, drift_detected=None)
        decision = {
            "train": True,
            "reason": reason,
            "drift_detected": None,
            "champion_version": champion.version,
        }
        logger.info("%s drift: %s", use_case.name, reason)
        return report, decision

    reference = champion.reference[use_case.in_service(champion.reference)]
    in_service = use_case.in_service(latest)
    report["out_of_service_rows"] = int((~in_service).sum())
    if not in_service.any():
        reason = (
            f"every row of the batch is out of service "
            f"({use_case.out_of_service_column}): nothing to judge; champion "
            f"{champion.version} kept"
        )
        report.update(
            status="out_of_service", features={}, drift_detected=None, note=reason
        )
        decision = {
            "train": bool(params.force_retrain),
            "reason": "force_retrain is set" if params.force_retrain else reason,
            "drift_detected": None,
            "champion_version": champion.version,
        }
        logger.info("%s drift: %s", use_case.name, reason)
        return report, decision
    latest = latest[in_service]
    tested = use_case.drift_features
    features = [f for f in tested if f in reference.columns]
    alpha = params.p_value / max(1, len(features))
    periods = (
        reference[use_case.time_column]
        if params.null_from_periods and use_case.time_column in reference.columns
        else None
    )
    if periods is not None and periods.nunique() < params.min_null_periods:
        logger.warning(
            "%s drift: %d reference periods, fewer than %d: row-level tests instead",
            use_case.name,
            periods.nunique(),
            params.min_null_periods,
        )
        periods = None
    null_of = (
        None
        if periods is None
        else PeriodNull.build(
            periods,
            use_case.period_kinds(reference) if params.null_within_kind else None,
            _batch_kind(use_case, latest) if params.null_within_kind else None,
        )
    )
    results: dict[str, dict[str, Any]] = {}
    for f in features:
        if null_of is not None:
            results[f] = _period_null_test(
                tested[f], reference[f], null_of, latest[f], params
            )
        elif tested[f] == "numeric":
            results[f] = _numeric_test(reference[f], latest[f], params, alpha)
        else:
            results[f] = _categorical_test(reference[f], latest[f], params, alpha)
    results.update(_text_tests(use_case, reference, null_of, latest, params))
    prediction = _prediction_drift(
        use_case, reference, null_of, latest, champion, params
    )
    if prediction is not None:
        results["predicted_class"] = prediction
    for f in use_case.time_dependent_features:
        if f in results:
            results[f]["counted"] = False
            results[f]["note"] = "changes with time by construction; not in the verdict"
    counted = {f: r for f, r in results.items() if r.get("counted", True)}
    drifted = sorted(f for f, r in counted.items() if r["drifted"])
    share = len(drifted) / max(1, len(counted))
    severe = sorted(f for f, r in counted.items() if r.get("severe"))

    label_result = None
    if params.check_label_drift and use_case.label in reference.columns:
        ref_y = reference[use_case.label]
        cur_y = latest[use_case.label][
            ~latest[use_case.label].isin(use_case.excluded_labels)
        ]
        kind = use_case.task.label_kind
        test = _numeric_test if kind == "numeric" else _categorical_test
        if len(cur_y) and null_of is not None:
            label_result = _period_null_test(kind, ref_y, null_of, cur_y, params)
        elif len(cur_y):
            label_result = test(ref_y, cur_y, params, params.p_value)
    label_drift = bool(label_result and label_result["drifted"])
    series_result = _series_test(use_case, reference, null_of, latest, counted, params)
    series_drift = bool(series_result and series_result["drifted"])
    performance = _performance_drift(use_case, latest, champion, params)
    performance_drift = bool(performance and performance["drifted"])
    joint = _joint_test(use_case, reference, latest, sorted(counted), periods, params)
    joint_drift = bool(joint and joint["drifted"])
    combined = _combined_test(counted, label_result, series_result, null_of, params)
    combined_drift = bool(combined and combined["drifted"])
    if combined is not None:  # one correction over the period-level causes
        detected = combined_drift or performance_drift or joint_drift
    else:
        detected = (
            share >= params.drifted_feature_share
            or bool(severe)
            or label_drift
            or series_drift
            or performance_drift
            or joint_drift
        )
    report.update(
        status="compared",
        reference_rows=len(reference),
        reference_periods=champion.manifest.get("training_periods"),
        features=results,
        counted_features=len(counted),
        drifted_features=drifted,
        drifted_share=round(share, 4),
        severe_features=severe,
        drifted_share_threshold=params.drifted_feature_share,
        label=label_result,
        label_drift=label_drift,
        series=series_result,
        series_drift=series_drift,
        performance=performance,
        performance_drift=performance_drift,
        joint=joint,
        joint_drift=joint_drift,
        combined=combined,
        combined_drift=combined_drift,
        drift_detected=bool(detected),
    )
    if params.force_retrain:
        reason = "force_retrain is set"
    elif detected and combined is not None:
        reason = "drift: " + "; ".join(
            part
            for part in (
                _combined_reason(combined, series_result) if combined_drift else "",
                _performance_reason(performance) if performance_drift else "",
            )
            if part
        )
    elif detected:
        reason = (
            f"drift: {len(drifted)} of {len(counted)} features drifted "
            f"({', '.join(drifted[:6])}{' ...' if len(drifted) > 6 else ''})"
            + (f"; severe shift in {', '.join(severe)}" if severe else "")
            + ("; label distribution drifted" if label_drift else "")
            + (
                f"; {_series_reason(series_result)}"
                if series_drift and series_result and series_result["largest"]
                else ""
            )
            + (f"; {_performance_reason(performance)}" if performance_drift else "")
            + (
                f"; a classifier tells the batch from the reference (AUC "
                f"{joint['auc']:.3f}, p {joint['p_value']:.1e}; most: "
                f"{', '.join(joint['auc_lost_without']) or 'no single column'})"
                if joint_drift and joint
                else ""
            )
        )
    elif combined is not None:
        reason = (
            f"no drift (largest cause {combined['largest']} at "
            f"{combined['statistic']:.2f} of its own scale, every cause's limit "
            f"{combined['threshold']:.2f}): champion {champion.version} kept"
        )
    else:
        reason = (
            f"no drift ({len(drifted)} of {len(counted)} features, below "
            f"{params.drifted_feature_share:.0%}"
            + (f"; joint AUC {joint['auc']:.3f}" if joint else "")
            + f"): champion {champion.version} kept"
        )
    decision = {
        "train": bool(detected or params.force_retrain),
        "reason": reason,
        "drift_detected": bool(detected),
        "champion_version": champion.version,
    }
    logger.info("%s drift: %s", use_case.name, reason)
    return report, decision


def _combined_lines(combined: dict[str, Any] | None) -> list[str]:
    if not combined:
        return []
    top = ", ".join(f"{t['cause']} {_z_text(t['scaled'])}" for t in combined["top"])
    return [
        f"- One test over every cause ({combined['test']}): largest "
        f"{combined['largest']} at {_z_text(combined['statistic'])} against "
        f"{combined['threshold']:.2f}: "
        f"**{'drifted' if combined['drifted'] else 'not drifted'}** (the verdict; "
        f"each cause's own flag below is for reading, not deciding). Largest: {top}"
    ]


def _joint_lines(joint: dict[str, Any] | None) -> list[str]:
    if not joint:
        return []
    lean = ", ".join(f"{k} {v:.3f}" for k, v in joint["auc_lost_without"].items())
    return [
        f"- Joint test (every counted feature"
        f"{' and the label' if joint['with_label'] else ''}): a classifier tells "
        f"the batch from the reference with out-of-fold AUC {joint['auc']:.3f} "
        f"(p {joint['p_value']:.1e}; {joint['test']}): "
        f"**{'drifted' if joint['drifted'] else 'not drifted'}**"
        + (f"; AUC lost without: {lean}" if lean else "")
    ]


def _series_lines(series: dict[str, Any] | None) -> list[str]:
    if not series:
        return []

    profiled = series.get("profile")
    sign = "+" if profiled else ""  # a mean less the profile: its sign matters

    def one(t: dict[str, Any]) -> str:
        if t["batch_mean"] is None:  # every series together
            return f"{t['series']} {t['column']} (combined |z| {t['z']:.2f})"
        ref = t["reference_mean"]
        was = "never seen" if ref is None else f"{ref:{sign}.4g}"
        return (
            f"{t['series']} {t['column']} {t['batch_mean']:{sign}.4g} vs {was} "
            f"(|z| {_z_text(t['z'])})"
        )

    top = "; ".join(one(t) for t in series["top"][:3])
    unseen = series["unseen_series"]
    return [
        f"- Each {series['series_column']} against its own reference periods "
        f"({series['series']} in the batch"
        + (f", new: {', '.join(unseen)}" if unseen else "")
        + f"): surprise {_z_text(series['statistic'])} against "
        f"{series['null_quantile']:.2f} ({series['test']}): "
        f"**{'drifted' if series['drifted'] else 'not drifted'}**; furthest: {top}"
    ]


def _p_value(r: dict[str, Any]) -> str:
    for key in ("ks_p_value", "chi2_p_value", "p_value"):
        if r.get(key) is not None:
            return f"{r[key]:.1e}"
    return ""


def _row(name: str, r: dict[str, Any]) -> str:
    verdict = "; ".join(r.get("flagged_by") or []) or ("yes" if r["drifted"] else "")
    return (
        f"| {name} | {r['type']} | {r.get('test', '')} | {r.get('effect', '')} | "
        f"{_p_value(r)} | {verdict} | "
        f"{'' if r.get('counted', True) else 'no (time-dependent)'} |"
    )


FIRST_RUN = (
    "No champion yet, so there is no reference to compare with: the first model "
    "will be trained. From the next run on, this report compares each new batch "
    "with the rows the champion was fitted on: per feature, the test used, its "
    "effect size and what flagged it, with a plot of the features that moved "
    "most. To see one now: `make demo-drift` (`USE_CASE=parking` or "
    "`USE_CASE=sentiment` for the others) appends a drifted period and runs again."
)


def render_drift_report(
    use_case: UseCase,
    report: dict[str, Any],
    latest: pd.DataFrame,
    champion: Bundle | None,
) -> tuple[str, Figure]:
    """Markdown and a figure for people: what moved, by how much, against what.

    Features are ranked by their effect against the threshold they are judged by
    (``effect_ratio``), whichever test their sample size picked, so numbers and
    categories are ranked on one scale; the figure shows the text columns' length
    and vocabulary, then the numeric and the categorical features that moved most
    (both kinds when the use case has both), the label and the champion's
    predictions."""
    lines = [f"# Drift report: {use_case.name}", ""]
    if report.get("status") != "compared" or champion is None:
        status = report.get("status")
        changed = status == "definitions_changed"
        closed = status == "out_of_service"
        text = (
            f"Not compared: champion {champion.version} was trained on other feature "
            "definitions than gold is built with now, so its reference data and "
            "today's batch measure different things; the run retrains."
            if changed and champion is not None
            else f"Not compared: {report['note']}."
            if closed
            else FIRST_RUN
        )
        lines.append(text)
        fig, ax = pyplot().subplots(figsize=(8, 2.4))
        ax.axis("off")
        ax.text(
            0.5,
            0.5,
            textwrap.fill(text.replace("`", ""), 95),
            ha="center",
            va="center",
            fontsize=9,
        )
        fig.suptitle(
            f"{use_case.name}: "
            + (
                "feature definitions changed"
                if changed
                else "the batch is out of service"
                if closed
                else "no champion yet"
            )
            + ", nothing to compare"
        )
        return "\n".join(lines) + "\n", fig
    verdict = "DRIFT DETECTED" if report["drift_detected"] else "no drift"
    lines += [
        f"- Verdict: **{verdict}** ({len(report['drifted_features'])} of "
        f"{report['counted_features']} features drifted, threshold "
        f"{report['drifted_share_threshold']:.0%}; "
        f"label drift: {report['label_drift']}"
        + (
            f"; {report['series']['series_column']} drift: {report['series_drift']}"
            if report.get("series")
            else ""
        )
        + ")",
        f"- Current batch: periods {report['current_periods']}, "
        f"{report['current_rows']} rows",
        f"- Reference: champion {report['champion_version']}, "
        f"{report['reference_rows']} rows",
        *_combined_lines(report.get("combined")),
        *_joint_lines(report.get("joint")),
        *_series_lines(report.get("series")),
        "",
        "Effect sizes: PSI (population stability index), Wasserstein distance in "
        "reference standard deviations, KS D (largest gap between the two "
        "cumulative distributions), Jensen-Shannon distance (base 2, 0 to 1).",
        "",
        "| feature | kind | test | effect size | p-value | flagged by | in verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    ordered = sorted(
        report["features"].items(), key=lambda kv: -kv[1].get("effect_ratio", 0.0)
    )
    lines += [_row(name, r) for name, r in ordered]
    if report.get("label"):
        lines.append(_row(f"label ({use_case.label})", report["label"]))
    lines += ["", "![drift](drift_report.png)"]
    in_service = latest[use_case.in_service(latest)]  # as detect_drift judged it
    fig = _drift_figure(use_case, report, in_service, champion, ordered, verdict)
    return "\n".join(lines) + "\n", fig


def _drift_panels(
    use_case: UseCase, ordered: list[tuple[str, dict[str, Any]]]
) -> list[tuple[str, str]]:
    """(panel kind, name), at most nine: text columns (length, vocabulary), then up to
    three numeric and three categorical features by effect, topped up from the
    rest, then the label and the predictions."""
    counted = [(n, r) for n, r in ordered if r.get("counted", True)]
    panels: list[tuple[str, str]] = []
    for column in dict.fromkeys(r["column"] for _, r in counted if "column" in r):
        panels += [("length", column), ("vocabulary", column)]
    numeric = [n for n, r in counted if r["type"] == "numeric"]
    categorical = [n for n, r in counted if r["type"] == "categorical"]
    chosen = numeric[:3] + categorical[:3]
    rest = [n for n in numeric + categorical if n not in chosen]
    chosen += rest[: max(0, 6 - len(chosen))]
    order = {n: i for i, (n, _) in enumerate(counted)}
    panels += [("feature", n) for n in sorted(chosen, key=order.__getitem__)]
    return panels[:8]


def _drift_figure(
    use_case: UseCase,
    report: dict[str, Any],
    latest: pd.DataFrame,
    champion: Bundle,
    ordered: list[tuple[str, dict[str, Any]]],
    verdict: str,
) -> Figure:
    ref = champion.reference
    panels = _drift_panels(use_case, ordered)
    if report.get("label") and use_case.label in ref.columns:
        panels.append(("label", use_case.label))
    if "predicted_class" in report["features"] and report["features"][
        "predicted_class"
    ].get("current_shares"):
        panels.append(("prediction", "predicted_class"))
    n = max(1, len(panels))
    cols = min(3, n)
    rows = -(-n // cols)
    fig, axes = pyplot().subplots(rows, cols, figsize=(5.2 * cols, 3.9 * rows))
    axes = np.atleast_1d(axes).ravel()
    features = report["features"]
    for ax, (kind, name) in zip(axes, panels, strict=False):
        if kind == "length":
            _plot_lengths(ax, ref[name], latest[name])
            result = features.get(f"{name}:words", {})
            title = f"{name}: words per text"
        elif kind == "vocabulary":
            _plot_vocabulary(ax, ref[name], latest[name])
            parts = [
                features[f"{name}:{stat}"]
                for stat in ("oov_share", "token_divergence")
                if f"{name}:{stat}" in features
            ]
            result = {
                "drifted": any(r["drifted"] for r in parts),
                "flagged_by": [x for r in parts for x in r.get("flagged_by", [])],
                "effect": "; ".join(r.get("effect", "") for r in parts),
            }
            title = f"{name}: words whose share moved most"
        elif kind == "prediction":
            result = features[name]
            _plot_shares(ax, result["reference_shares"], result["current_shares"])
            ax.set_ylabel("share of predictions")
            title = "champion's predicted class"
        elif kind == "label":
            result = report["label"]
            labelled = latest[name][~latest[name].isin(use_case.excluded_labels)]
            if result.get("type") == "numeric":
                _plot_numeric(ax, ref[name], labelled, name)
            else:
                _plot_categories(ax, ref[name], labelled, name)
            title = f"{name} (the label)"
        else:
            result = features[name]
            if result["type"] == "numeric":
                _plot_numeric(ax, ref[name], latest[name], name)
            else:
                _plot_categories(ax, ref[name], latest[name], name)
            title = name
        flagged = "; ".join(result.get("flagged_by") or [])
        status = f"DRIFTED: {flagged}" if result.get("drifted") else "not drifted"
        ax.set_title(
            "\n".join(
                [
                    title,
                    textwrap.fill(status, 66),
                    textwrap.fill(result.get("effect", ""), 66),
                ]
            ),
            fontsize=7.5,
            color="firebrick" if result.get("drifted") else "black",
        )
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    for ax in axes[len(panels) :]:
        ax.axis("off")
    fig.suptitle(
        f"{use_case.name}: {verdict}; batch {report['current_periods']} against "
        f"champion {report['champion_version']}'s reference"
    )
    fig.tight_layout()
    return fig


def _plot_numeric(ax: Any, ref: pd.Series, cur: pd.Series, name: str) -> None:
    r = pd.to_numeric(ref, errors="coerce").dropna().to_numpy(dtype=float)
    c = pd.to_numeric(cur, errors="coerce").dropna().to_numpy(dtype=float)
    both = np.r_[r, c]
    lo = float(np.nanquantile(both, 0.005)) if len(both) else 0.0
    hi = float(np.nanquantile(both, 0.995)) if len(both) else 1.0
    bins = np.linspace(lo, hi if hi > lo else lo + 1, 30)
    ax.hist(r, bins=bins, density=True, alpha=0.5, label="reference")
    ax.hist(c, bins=bins, density=True, alpha=0.5, label="batch")
    ax.set_xlabel(f"{name} (0.5%-99.5% range)")
    ax.set_ylabel("density")


def _shares(values: pd.Series) -> pd.Series:
    return (
        values.astype(object)
        .fillna("<missing>")
        .astype(str)
        .value_counts(normalize=True)
    )


def _plot_shares(ax: Any, ref: dict[str, float], cur: dict[str, float]) -> None:
    shares = pd.DataFrame({"reference": ref, "batch": cur}).fillna(0.0)
    shares.plot.bar(ax=ax, alpha=0.7, rot=0)


def _plot_categories(ax: Any, ref: pd.Series, cur: pd.Series, name: str) -> None:
    shares = pd.DataFrame({"reference": _shares(ref), "batch": _shares(cur)}).fillna(
        0.0
    )
    # the categories whose share moved most, when there are many
    moved = (shares["batch"] - shares["reference"]).abs().sort_values(ascending=False)
    shares = shares.loc[moved.index[:12]]
    shares.plot.bar(ax=ax, alpha=0.7, rot=45 if len(shares) > 4 else 0)
    ax.set_xlabel(name + (" (12 that moved most)" if len(moved) > 12 else ""))
    ax.set_ylabel("share of rows")


def _plot_lengths(ax: Any, ref: pd.Series, cur: pd.Series) -> None:
    from mlops_serving.text import words  # noqa: PLC0415

    r = np.array([len(words(str(t))) for t in ref], dtype=float)
    c = np.array([len(words(str(t))) for t in cur], dtype=float)
    top = max(2.0, float(np.nanquantile(np.r_[r, c], 0.995)))
    bins = np.geomspace(1, top, 30)
    ax.hist(r, bins=bins, density=True, alpha=0.5, label="reference")
    ax.hist(c, bins=bins, density=True, alpha=0.5, label="batch")
    ax.set_xscale("log")
    ax.set_xlabel("words per text (log scale)")
    ax.set_ylabel("density")


def _plot_vocabulary(ax: Any, ref: pd.Series, cur: pd.Series) -> None:
    """The words whose share of all words moved most, in percentage points."""
    from collections import Counter  # noqa: PLC0415

    from mlops_serving.text import words  # noqa: PLC0415

    def shares(texts: pd.Series) -> pd.Series:
        counts: Counter[str] = Counter()
        for t in texts:
            counts.update(words(str(t)))
        total = sum(counts.values()) or 1
        return pd.Series(counts, dtype=float) / total

    moved = (
        pd.concat([shares(ref), shares(cur)], axis=1, keys=["reference", "batch"])
        .fillna(0.0)
        .pipe(lambda d: (d["batch"] - d["reference"]) * 100)
    )
    top = moved.reindex(moved.abs().sort_values(ascending=False).index[:14])[::-1]
    colors = ["tab:orange" if v > 0 else "tab:blue" for v in top]
    ax.barh(top.index, top.to_numpy(), color=colors, label="batch - reference")
    ax.axvline(0, color="black", lw=0.6)
    ax.set_xlabel("change in share of all words (percentage points)")
