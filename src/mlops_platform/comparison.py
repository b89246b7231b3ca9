"""Is one model credibly better than another on the same rows?

A paired bootstrap: both models' predictions on the same test rows are resampled
together (the same draw for both), the task's metric is recomputed on each draw, and
the interval of the difference says how much of the observed lead is the sample's
luck. Rows that are not independent are resampled as units (the use case's
``comparison_units``: a customer's baskets, a car park's readings in an hour);
resampling them one by one would make the interval too narrow.

The metric is recomputed exactly on every draw through the task's
``resampled_scores`` (weights = how often each row was drawn), so macro F1 is macro
F1, not a per-row average standing in for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlops_platform.tasks import Task

#: Draws handled at once: memory is chunk x rows floats.
CHUNK = 100


@dataclass(frozen=True)
class Bootstrap:
    resamples: int = 1000
    confidence: float = 0.95
    seed: int = 0


def draw_weights(
    units: np.ndarray, n_draws: int, rng: np.random.Generator
) -> np.ndarray:
    """``[n_draws, rows]``: how many times each row is in each draw, drawing whole
    units (rows with the same ``units`` code) with replacement."""
    n_units = int(units.max()) + 1 if len(units) else 0
    counts = rng.multinomial(n_units, np.full(n_units, 1.0 / n_units), size=n_draws)
    return counts[:, units].astype(np.float64)


def unit_codes(groups: pd.Series | None, n_rows: int) -> tuple[np.ndarray, str, int]:
    """Integer unit per row, what a unit is, and how many there are."""
    if groups is None:
        return np.arange(n_rows), "row", n_rows
    codes, uniques = pd.factorize(groups.astype(object))
    codes = codes.astype(np.int64)
    alone = codes < 0  # no unit (an anonymous basket): a unit of its own
    codes[alone] = len(uniques) + np.arange(int(alone.sum()))
    return codes, str(groups.name), len(uniques) + int(alone.sum())


def paired_difference(
    task: Task,
    metric: str,
    y_true: Any,
    new: Any,
    old: Any,
    groups: pd.Series | None = None,
    settings: Bootstrap = Bootstrap(),
) -> dict[str, Any]:
    """How much ``new`` beats ``old`` on ``metric`` (positive = better, in the metric's
    direction), with a ``settings.confidence`` bootstrap interval over units."""
    y = np.asarray(y_true)
    new, old = np.asarray(new), np.asarray(old)
    units, unit, n_units = unit_codes(groups, len(y))
    if n_units < 2:
        raise ValueError(
            f"paired comparison on {metric}: {n_units} {unit}(s); need at least 2"
        )
    sign = 1.0 if task.metric(metric).higher_is_better else -1.0
    ones = np.ones((1, len(y)))
    point = sign * float(
        task.resampled_scores(y, new, ones)[metric][0]
        - task.resampled_scores(y, old, ones)[metric][0]
    )
    rng = np.random.default_rng(settings.seed)
    diffs = []
    for start in range(0, settings.resamples, CHUNK):
        w = draw_weights(units, min(CHUNK, settings.resamples - start), rng)
        diffs.append(
            sign
            * (
                task.resampled_scores(y, new, w)[metric]
                - task.resampled_scores(y, old, w)[metric]
            )
        )
    d = np.concatenate(diffs)
    tail = (1.0 - settings.confidence) / 2.0
    lo, hi = np.quantile(d, [tail, 1.0 - tail])
    return {
        "metric": metric,
        "difference": round(point, 6),
        "interval": [round(float(lo), 6), round(float(hi), 6)],
        "confidence": settings.confidence,
        "share_not_better": round(float((d <= 0).mean()), 4),
        "resamples": settings.resamples,
        "unit": unit,
        "units": n_units,
        "rows": len(y),
    }
