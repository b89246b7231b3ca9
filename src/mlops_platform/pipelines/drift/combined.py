"""One correction over every cause judged against the reference periods (max-T).

Each period-level cause (a feature's statistic, the label's, the per-series
surprise, the champion's predicted class shares) is judged against the same
reference periods: today's value against each period's own, that period compared
with the rest. Judged one by one at their own 95% quantile, k causes give up to k
times 5% false alarms. Here each cause's values are put on one scale by its own
null and today's value (0 at their median, 1 at their ``quantile``), each
reference period keeps its largest scaled value over the causes, and today's
largest is drifted only above
the ``quantile`` of those per-period maxima. The maxima carry the causes'
correlation (a day whose level is low moves the occupancy, the target and the
series together), so the rule is as strict as one test at ``quantile``, no
stricter (Westfall and Young's max-T, with periods for permutations).

A cause whose null has no spread (every period the same) scales today's value to
infinity if it is above that value and is left out otherwise: a capacity that
never changed and now has is drift whatever the other causes say.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np

from mlops_platform.pipelines.drift.series import UNSEEN

MIN_NULL_PERIODS = 3


def by_period(periods: list[Hashable], values: list[float]) -> dict[str, float | None]:
    """A cause's null values keyed by their period (JSON-safe: None where a period
    had no finite value), so causes are matched period by period."""
    return {
        str(p): (float(v) if np.isfinite(v) else None)
        for p, v in zip(periods, values, strict=True)
    }


def _scaled(
    today: float, null: np.ndarray, quantile: float
) -> tuple[float, np.ndarray] | None:
    """Today and the periods on the cause's scale, set by the periods and today
    together (so today is one more draw, exchangeable with the periods when nothing
    changed: scaled by the periods alone, an out-of-sample value exceeds their
    quantile more often). None: a cause without spread that did not move."""
    finite = np.append(null[np.isfinite(null)], today)
    centre = float(np.median(finite))
    top = float(np.quantile(finite, quantile))
    spread = top - centre
    if spread > 0:
        return (today - centre) / spread, (null - centre) / spread
    if today > float(np.max(null[np.isfinite(null)])):  # moved from a constant
        return float("inf"), np.full(len(null), np.nan)
    return None


def max_over_causes(
    causes: Mapping[str, tuple[float, Mapping[str, float | None]]],
    quantile: float,
) -> dict[str, Any] | None:
    """``causes``: name -> (today's value, {period: that period's own value}).
    None when no cause has a null of at least :data:`MIN_NULL_PERIODS` periods."""
    periods = sorted({p for _, null in causes.values() for p in null})
    names: list[str] = []
    today: list[float] = []
    rows: list[np.ndarray] = []
    for name, (value, null) in causes.items():
        # an unseen series (UNSEEN, as JSON holds it) is unbounded whatever the null
        now = float("inf") if value >= UNSEEN else float(value)
        values = np.array(
            [np.nan if null.get(p) is None else null[p] for p in periods], dtype=float
        )
        if now == float("inf"):
            names.append(name)
            today.append(now)
            rows.append(np.full(len(periods), np.nan))
            continue
        if np.isnan(now) or np.isfinite(values).sum() < MIN_NULL_PERIODS:
            continue
        scaled_pair = _scaled(now, values, quantile)
        if scaled_pair is None:
            continue
        scaled_now, scaled_null = scaled_pair
        names.append(name)
        today.append(scaled_now)
        rows.append(scaled_null)
    if not names:
        return None
    table = np.vstack(rows)
    has_value = np.isfinite(table).any(axis=0)
    maxima = np.max(np.where(np.isfinite(table), table, -np.inf), axis=0)[has_value]
    if len(maxima) < MIN_NULL_PERIODS:
        return None
    # The smallest period maximum at or above the quantile ("higher", not
    # interpolated): today beats it only by ranking among the top 1 - quantile of
    # the periods and itself, which happens that often when nothing changed.
    # Interpolated, 40 periods gave 7% false alarms at 95%, not 5%.
    threshold = float(np.quantile(maxima, quantile, method="higher"))
    scaled = np.nan_to_num(np.array(today, dtype=float), nan=-np.inf)
    order = np.argsort(scaled)[::-1]
    statistic = float(scaled.max())
    drifted = statistic > threshold
    p_value = (1 + int((maxima >= statistic).sum())) / (1 + len(maxima))
    return {
        "test": (
            f"the largest of {len(names)} causes, each scaled by its own reference "
            f"periods (0 at their median, 1 at their {quantile:.0%} quantile), above "
            f"the {quantile:.0%} quantile of {len(maxima)} reference periods' own "
            "largest (max-T: one correction over every cause)"
        ),
        "causes": len(names),
        "statistic": min(statistic, UNSEEN),  # JSON has no infinity
        "threshold": threshold,
        # share of the periods (and today) whose largest is at least today's
        "p_value": round(p_value, 4),
        "largest": names[int(order[0])],
        "top": [
            {"cause": names[int(i)], "scaled": round(min(float(scaled[i]), UNSEEN), 3)}
            for i in order[:5]
            if scaled[i] > -np.inf
        ],
        "drifted": bool(drifted),
    }
