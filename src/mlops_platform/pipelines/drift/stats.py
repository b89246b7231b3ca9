"""Two-sample drift statistics (pure numpy/scipy)."""

from __future__ import annotations

import numpy as np
import pandas as pd

EPS = 1e-4
MISSING = "<missing>"


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """Population stability index over quantile bins of the reference."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:
        return 0.0 if np.allclose(current, edges[0]) else float("inf")
    edges[0], edges[-1] = -np.inf, np.inf
    ref = np.histogram(reference, edges)[0] / len(reference)
    cur = np.histogram(current, edges)[0] / len(current)
    ref, cur = np.clip(ref, EPS, None), np.clip(cur, EPS, None)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def scaled_wasserstein(reference: np.ndarray, current: np.ndarray) -> float:
    """Wasserstein distance in units of the reference standard deviation."""
    from scipy import stats  # noqa: PLC0415

    scale = float(np.std(reference)) or 1.0
    return float(stats.wasserstein_distance(reference, current) / scale)


def category_shares(values: pd.Series) -> pd.Series:
    return (
        values.astype(object).where(values.notna(), MISSING).astype(str).value_counts()
    )


def js_distance(reference: pd.Series, current: pd.Series) -> float:
    from scipy.spatial.distance import jensenshannon  # noqa: PLC0415

    ref, cur = category_shares(reference), category_shares(current)
    cats = sorted(set(ref.index) | set(cur.index))
    p = ref.reindex(cats, fill_value=0).to_numpy(dtype=float)
    q = cur.reindex(cats, fill_value=0).to_numpy(dtype=float)
    return float(jensenshannon(p / p.sum(), q / q.sum(), base=2))


def chi_square_p(reference: pd.Series, current: pd.Series) -> float:
    from scipy import stats  # noqa: PLC0415

    ref, cur = category_shares(reference), category_shares(current)
    cats = sorted(set(ref.index) | set(cur.index))
    table = np.vstack(
        [
            ref.reindex(cats, fill_value=0).to_numpy(),
            cur.reindex(cats, fill_value=0).to_numpy(),
        ]
    )
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 1.0
    return float(stats.chi2_contingency(table)[1])
