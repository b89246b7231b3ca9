"""Retail's feature definitions: one implementation, run by training and serving.

The batch pipeline (``mlops_platform.use_cases.retail.features``) calls these functions
on every basket of a run at once; the service calls them on the one basket a till
sends (:mod:`mlops_serving.usecases.retail`). Both pass numpy arrays, so a definition
is written once and cannot drift between the two; ``tests/use_cases/
test_retail_online_parity.py`` in the main project holds the two paths (gold tables and
the basket endpoint) to identical values on real baskets.

Two families:

- **Basket features**, from the basket's own lines: counts, spend, unit prices and the
  spend share per product division (:func:`basket_features`).
- **Customer features**, from the customer's state *as of the end of the previous
  period* (:func:`history_features`): baskets, mean spend, label shares, days since
  the last basket, and the profile (price sensitivity, life stage) last seen. The
  state is what a run publishes to the online store, so a basket at the till sees
  exactly what the same basket sees in training. Baskets earlier in the same period
  are not part of it: they reach the state with the next run, in both places.

No pandas here: the service stays free of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import NamedTuple

import numpy as np

# The coarsest product level seen in the real data (there is no D00007).
DIVISIONS = (
    "D00001",
    "D00002",
    "D00003",
    "D00004",
    "D00005",
    "D00006",
    "D00008",
    "D00009",
)
CLASSES = ("LA", "MM", "UM")
SHARE_COLUMNS = (*(f"share_{d.lower()}" for d in DIVISIONS), "share_other")
BASKET_COLUMNS = (
    "n_lines",
    "n_departments",
    "total_quantity",
    "total_spend",
    "unit_price_mean",
    "unit_price_median",
    "unit_price_std",
    "unit_price_min",
    "unit_price_max",
    *SHARE_COLUMNS,
)
HISTORY_COLUMNS = (
    "cust_prev_baskets",
    "cust_prev_mean_spend",
    *(f"cust_prev_share_{c.lower()}" for c in CLASSES),
    "cust_days_since_prev",
)
PROFILE_COLUMNS = ("cust_price_sensitivity", "cust_lifestage")
# A customer's state after a period: sums over every basket up to its end, the time
# of the last basket (hours since the epoch) and the profile on that basket.
STATE_SUMS = ("baskets", "spend", *(f"n_{c.lower()}" for c in CLASSES), "labelled")
STATE_COLUMNS = (*STATE_SUMS, "last_hour", *PROFILE_COLUMNS)
HOURS_PER_DAY = 24.0
_DIVISION_INDEX = {code: k for k, code in enumerate(DIVISIONS)}
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# Stored in the online store's meta; the service refuses a store of another version.
DEFINITIONS_VERSION = 1


class Encoded(NamedTuple):
    """Dictionary-encoded strings, as a run holds millions of lines of a few hundred
    distinct codes: line ``i``'s value is ``values[codes[i]]``; ``values`` are
    distinct; code -1 is a missing value."""

    codes: np.ndarray
    values: Sequence[object]


def basket_features(
    basket: np.ndarray,
    spend: np.ndarray,
    quantity: np.ndarray,
    department: np.ndarray | Encoded,
    division: np.ndarray | Encoded,
    n_baskets: int,
) -> dict[str, np.ndarray]:
    """Per basket ``0 .. n_baskets - 1``, from its lines (line ``i`` belongs to basket
    ``basket[i]``; any order). ``department`` and ``division`` are string codes, one
    per line (a till's few lines) or :class:`Encoded` (a run's millions: each
    distinct code looked up once); a division outside :data:`DIVISIONS` counts as
    other. Unit price is spend per item; its standard deviation is the sample one (0
    for a one-line basket)."""
    basket = np.asarray(basket, dtype=np.int64)
    spend = np.asarray(spend, dtype=np.float64)
    quantity = np.asarray(quantity, dtype=np.float64)
    unit = spend / quantity
    # Lines in basket order, unit prices ascending within a basket: sums, extremes and
    # medians then come from contiguous runs.
    order = np.lexsort((unit, basket))
    b, u = basket[order], unit[order]
    n = np.bincount(b, minlength=n_baskets).astype(np.float64)
    if (n == 0).any():
        raise ValueError(f"basket {int(np.flatnonzero(n == 0)[0])} has no lines")
    start = np.concatenate(([0], np.cumsum(n[:-1]).astype(np.int64)))
    end = start + n.astype(np.int64) - 1
    total_spend = np.bincount(basket, weights=spend, minlength=n_baskets)
    unit_sum = np.add.reduceat(u, start)
    mean = unit_sum / n
    dev = u - mean[b]
    ss = np.add.reduceat(dev * dev, start)
    with np.errstate(invalid="ignore", divide="ignore"):
        std = np.where(n > 1, np.sqrt(ss / (n - 1)), 0.0)
    lo, hi = (start + end) // 2, (start + end + 1) // 2
    median = (u[lo] + u[hi]) / 2.0
    out: dict[str, np.ndarray] = {
        "n_lines": n,
        "n_departments": _distinct_per_basket(basket, department, n_baskets),
        "total_quantity": np.bincount(basket, weights=quantity, minlength=n_baskets),
        "total_spend": total_spend,
        "unit_price_mean": mean,
        "unit_price_median": median,
        "unit_price_std": std,
        "unit_price_min": u[start],
        "unit_price_max": u[end],
    }
    # spend per (basket, division): one bincount over division indexes (other last)
    slot = _codes(division, _DIVISION_INDEX, default=len(DIVISIONS))
    width = len(SHARE_COLUMNS)
    per_division = np.bincount(
        basket * width + slot, weights=spend, minlength=n_baskets * width
    ).reshape(n_baskets, width)
    safe_total = np.where(total_spend > 0, total_spend, 1.0)
    shares = per_division / safe_total[:, None]
    for k, column in enumerate(SHARE_COLUMNS):
        out[column] = shares[:, k]
    return out


def _codes(
    values: np.ndarray | Encoded,
    index: dict[str, int] | None = None,
    default: int = -1,
) -> np.ndarray:
    """Integer codes of string values: from ``index`` (``default`` when absent), or
    distinct per distinct value. Strings: a dict lookup per value (no sort of
    strings); :class:`Encoded`: one lookup per distinct value, a missing value
    treated as the string path treats ``None``."""
    if isinstance(values, Encoded):
        codes = np.asarray(values.codes, dtype=np.int64)
        codes = np.where(codes < 0, len(values.values), codes)  # missing: one more
        if index is None:
            return codes
        table = [index.get(str(v), default) for v in values.values]
        return np.asarray([*table, default], dtype=np.int64)[codes]
    if index is None:
        seen: dict[object, int] = {}
        return np.fromiter(
            (seen.setdefault(v, len(seen)) for v in values),
            dtype=np.int64,
            count=len(values),
        )
    return np.fromiter(
        (index.get(v, default) for v in values), dtype=np.int64, count=len(values)
    )


def _distinct_per_basket(
    basket: np.ndarray, values: np.ndarray | Encoded, n_baskets: int
) -> np.ndarray:
    codes = _codes(values)
    width = int(codes.max(initial=0)) + 1
    # distinct (basket, value) pairs: sort and keep changes (np.unique's hash table
    # took 2 s on a run's 3.4M lines, the sort 0.3 s)
    pairs = np.sort(basket * width + codes)
    first = np.ones(len(pairs), dtype=bool)
    first[1:] = pairs[1:] != pairs[:-1]
    return np.bincount(pairs[first] // width, minlength=n_baskets).astype(np.float64)


def history_features(
    state: Mapping[str, np.ndarray], hour: np.ndarray
) -> dict[str, np.ndarray]:
    """Customer features of baskets at ``hour`` (hours since the epoch, the basket's
    date and hour) from the customer's state before the basket's period.

    ``state`` holds :data:`STATE_SUMS` and ``last_hour``, NaN where the customer has
    no state (new, or no card): then the basket count is 0 and the rest missing, as
    for a customer's first basket in training."""
    baskets = np.asarray(state["baskets"], dtype=np.float64)
    known = np.isfinite(baskets) & (baskets > 0)
    labelled = np.asarray(state["labelled"], dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {
            "cust_prev_baskets": np.where(known, baskets, 0.0),
            "cust_prev_mean_spend": np.where(
                known, np.asarray(state["spend"], dtype=np.float64) / baskets, np.nan
            ),
        }
        for c in CLASSES:
            count = np.asarray(state[f"n_{c.lower()}"], dtype=np.float64)
            out[f"cust_prev_share_{c.lower()}"] = np.where(
                known & (labelled > 0), count / labelled, np.nan
            )
        since = (
            np.asarray(hour, dtype=np.float64)
            - np.asarray(state["last_hour"], dtype=np.float64)
        ) / HOURS_PER_DAY
    out["cust_days_since_prev"] = np.where(known, since, np.nan)
    return out


def basket_hour(day: np.ndarray, hour: np.ndarray) -> np.ndarray:
    """Hours since 1970-01-01 of a basket: ``day`` as YYYYMMDD integers, ``hour``
    0-23 (a till's time is cut to its hour, the resolution of the data)."""
    return _days(day) * HOURS_PER_DAY + np.asarray(hour, dtype=np.float64)


def _days(day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of YYYYMMDD integers (a run's many baskets: each
    distinct date converted once)."""
    day = np.asarray(day, dtype=np.int64)
    few = len(day) <= 64
    unique, inverse = (day, None) if few else np.unique(day, return_inverse=True)
    ordinals = np.array(
        [
            date(d // 10000, d // 100 % 100, d % 100).toordinal() - _EPOCH_ORDINAL
            for d in unique.tolist()
        ],
        dtype=np.float64,
    )
    return ordinals if inverse is None else ordinals[inverse.reshape(-1)]


def lgsr_weekday(day: np.ndarray) -> np.ndarray:
    """LGSR's SHOP_WEEKDAY of YYYYMMDD dates: 1 = Sunday .. 7 = Saturday."""
    # 1970-01-01 was a Thursday (5 in this numbering)
    return (_days(day).astype(np.int64) + 4) % 7 + 1.0
