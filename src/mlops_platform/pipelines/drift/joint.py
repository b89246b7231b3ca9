"""A classifier two-sample test: can a model tell the newest batch from the
reference?

Per-feature tests split one cause over many correlated columns (a price rise moves
the mean, median, minimum and maximum unit price, and spend) and a vote over the
share of features then dilutes it; a change in how features relate to the label
(concept drift) moves no single column at all. A classifier trained to tell
reference rows from current rows, on every counted feature and the label together,
sees both: its out-of-fold AUC is the effect size (0.5: indistinguishable) and the
Mann-Whitney test of its scores the p-value.

The p-value assumes independent rows; for batches whose rows share a period's level
(parking's readings, a day of reviews) the drift stage judges periods instead and
this test is not run.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

MAX_CATEGORIES = 255


def _encode(
    frame: pd.DataFrame, kinds: dict[str, str]
) -> tuple[np.ndarray, list[bool]]:
    cols, categorical = [], []
    for name, kind in kinds.items():
        if kind == "numeric":
            cols.append(pd.to_numeric(frame[name], errors="coerce").to_numpy(float))
            categorical.append(False)
        else:
            values = pd.Categorical(frame[name].astype(object))
            codes = values.codes.astype(float)
            codes[codes < 0] = np.nan
            cols.append(codes)
            # the booster's categorical splits take at most 255 categories; more
            # are split as ordered codes
            categorical.append(len(values.categories) <= MAX_CATEGORIES)
    return np.column_stack(cols), categorical


def classifier_two_sample(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    kinds: dict[str, str],
    *,
    max_reference_rows: int,
    folds: int = 3,
    seed: int = 0,
) -> dict[str, Any]:
    """Out-of-fold AUC of reference-vs-current over the columns ``kinds`` names
    (numeric or categorical), its Mann-Whitney p-value, and the columns the
    classifier leans on most."""
    from scipy import stats  # noqa: PLC0415
    from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: PLC0415
    from sklearn.metrics import roc_auc_score  # noqa: PLC0415
    from sklearn.model_selection import StratifiedKFold  # noqa: PLC0415

    if len(reference) > max_reference_rows:
        reference = reference.sample(max_reference_rows, random_state=seed)
    both = pd.concat([reference[list(kinds)], current[list(kinds)]], ignore_index=True)
    x, categorical = _encode(both, kinds)
    y = np.r_[np.zeros(len(reference)), np.ones(len(current))]
    scores = np.zeros(len(y))
    k = int(min(folds, len(current), len(reference)))
    for fit_idx, score_idx in StratifiedKFold(k, shuffle=True, random_state=seed).split(
        x, y
    ):
        model = HistGradientBoostingClassifier(
            max_iter=100,
            learning_rate=0.1,
            max_leaf_nodes=15,
            min_samples_leaf=40,
            categorical_features=categorical,
            class_weight="balanced",
            early_stopping=False,
            random_state=seed,
        ).fit(x[fit_idx], y[fit_idx])
        scores[score_idx] = model.predict_proba(x[score_idx])[:, 1]
    auc = float(roc_auc_score(y, scores))
    p = float(
        stats.mannwhitneyu(scores[y == 1], scores[y == 0], alternative="greater").pvalue
    )
    # What tells them apart, for a person: the AUC lost on the last fold's held-out
    # rows when one column is shuffled (permutation importance).
    rng = np.random.default_rng(seed)
    held_x, held_y = x[score_idx], y[score_idx]
    fold_auc = float(roc_auc_score(held_y, model.predict_proba(held_x)[:, 1]))
    lost = {}
    for i, name in enumerate(kinds):
        shuffled = held_x.copy()
        shuffled[:, i] = rng.permutation(shuffled[:, i])
        lost[name] = fold_auc - float(
            roc_auc_score(held_y, model.predict_proba(shuffled)[:, 1])
        )
    top = [n for n in sorted(lost, key=lambda n: -lost[n])[:5] if lost[n] > 0.001]
    return {
        "auc": round(auc, 4),
        "p_value": p,
        "n_reference": len(reference),
        "n_current": len(current),
        "columns": len(kinds),
        "auc_lost_without": {n: round(lost[n], 4) for n in top},
    }
