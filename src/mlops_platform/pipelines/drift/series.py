"""Each series' own level, judged against its own reference periods.

A use case whose rows come from several series (parking: car parks) pools them in
the per-feature tests, so a change to one series is diluted: the largest car park
gaining half its spaces moves a quarter of the pooled capacity values, which a day
with one car park offline moves as much; a new car park is one series of five. Here
every series is compared with itself.

For each series and level column (``UseCase.series_level_columns``), the batch's
mean is set against the same series' means in the reference periods the batch is
judged by (its kind of period, as
:class:`~mlops_platform.pipelines.drift.nodes.PeriodNull` says): a two-sided p-value
from Student's t with their count less one degrees of freedom, reported as the
surprise ``-log10 p``. A column a series never varied in (a capacity) that changes,
and a series the reference does not hold on this kind of period (a new car park),
are infinitely surprising (UNSEEN). One more row per column holds every series
together (Stouffer's sum of their signed normal scores): a shift all series share,
each within its own range, adds up.

Where the use case names where in its period a row is (``series_profile_column``;
parking: the hour of the day), each row is first taken less its series' mean at that
hour in the reference (:func:`deprofiled`), so a period's mean is its level whatever
part of the period it covers.

The batch's statistic is the largest surprise over every series, row and column: one
test, not one per pair. Its null is the same statistic for each reference period
against the rest of its kind (leave one out), so the many pairs are accounted for by
taking the maximum on both sides; drift is the batch's maximum above the null's
``null_quantile``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# A series absent from the periods it is judged against, or a column that never
# varied there and changed: "infinitely" far, finite so quantiles stay defined.
UNSEEN = 1e12
# Spread below this (relative to the level) is no spread: the column is constant.
_CONSTANT = 1e-9


@dataclass(frozen=True)
class _Scores:
    """Per series and column: ``surprise`` (-log10 of the two-sided p-value of the
    target among the periods' means, Student's t with their count less one degrees
    of freedom: a mean of 5 Sundays is less sure than one of 30 weekdays, and both
    are judged on one scale), ``z`` and the periods' ``centre``."""

    surprise: np.ndarray
    z: np.ndarray
    centre: np.ndarray


def _scores(means: np.ndarray, target: np.ndarray, rest: np.ndarray) -> _Scores:
    """``target`` (series x columns, NaN where a series has no rows) against the
    series' means in the ``rest`` periods (``means``: series x periods x columns,
    NaN where a series has no rows in a period). A series with rows in no ``rest``
    period is UNSEEN; with one, not judged (NaN)."""
    from scipy import stats  # noqa: PLC0415

    against = means[:, rest, :]
    count = np.sum(~np.isnan(against), axis=1)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices: handled
        centre = np.nanmean(against, axis=1)
        spread = np.nanstd(against, axis=1, ddof=1)
        diff = np.abs(target - centre)
        floor = _CONSTANT * np.maximum(1.0, np.abs(centre))
        constant = spread <= floor
        z = np.where(constant, np.where(diff > floor, UNSEEN, 0.0), diff / spread)
        # a new value against n others: t = z / sqrt(1 + 1/n), n - 1 df
        t = z / np.sqrt(1.0 + 1.0 / count)
        p = 2.0 * stats.t.sf(t, np.maximum(count - 1, 1))
        surprise = np.where(z >= UNSEEN, UNSEEN, -np.log10(np.maximum(p, 1e-300)))
    surprise = np.where(constant & (z == 0.0), 0.0, surprise)
    judged = count >= 2  # one period gives no spread
    unseen = (count.max(axis=1) == 0)[:, None] | (z >= UNSEEN)
    missing = np.isnan(target)
    surprise = np.where(judged, surprise, np.nan)
    surprise = np.where(unseen, UNSEEN, surprise)
    z = np.where(unseen, UNSEEN, np.where(judged, z, np.nan))
    surprise = np.where(missing, np.nan, surprise)
    z = np.where(missing, np.nan, z)
    # Every series together (Stouffer's sum of signed normal scores, per column): a
    # shift all car parks share, each within its own range, adds up.
    with np.errstate(all="ignore"):
        q = np.sign(target - centre) * stats.norm.isf(p / 2.0)
    q = np.where(judged & ~unseen & ~missing & ~constant & np.isfinite(q), q, np.nan)
    k = np.sum(~np.isnan(q), axis=0)
    with np.errstate(all="ignore"):
        together = np.where(k >= 2, np.abs(np.nansum(q, axis=0)) / np.sqrt(k), np.nan)
        together_surprise = -np.log10(np.maximum(2.0 * stats.norm.sf(together), 1e-300))
    return _Scores(
        np.vstack([surprise, together_surprise]),
        np.vstack([z, together]),
        np.vstack([centre, np.full(centre.shape[1], np.nan)]),
    )


def _largest(z: np.ndarray) -> tuple[float, tuple[int, int] | None]:
    if np.isnan(z).all():
        return float("nan"), None
    flat = int(np.nanargmax(z))
    where = divmod(flat, z.shape[1])
    return float(z[where]), where


def deprofiled(
    reference: pd.DataFrame,
    latest: pd.DataFrame,
    series: str,
    columns: list[str],
    position: str,
    kinds: np.ndarray | None,
    batch_kind: str | None,
    min_kind_periods: int,
    periods: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``reference`` and ``latest`` with each row's ``columns`` less its series' mean
    at its whole ``position`` (the hour of the day) in the reference: within its
    kind of period where the reference holds at least ``min_kind_periods`` of that
    kind, else over every period. A period's mean is then its level whatever part of
    the period it covers: a day whose readings stop at noon is not "low" because
    afternoons are.

    A reference row's profile leaves out its own period, as the batch is not in the
    profile it is taken less: otherwise every reference period would sit closer to
    its profile than a new one does (by a fifth on a kind of five days), the null
    would be too narrow and ordinary batches would alarm. Rows of a series the
    reference never had keep their values (it is unseen either way); a row at a
    position its series has in no other period is left out (NaN)."""
    kind_of = (
        np.full(len(reference), "*", dtype=object)
        if kinds is None
        else np.asarray(kinds, dtype=object)
    )
    per_kind = pd.Series(periods).groupby(kind_of).nunique()
    usable = {k for k, n in per_kind.items() if n >= min_kind_periods}
    kind_of = np.where(np.isin(kind_of, list(usable)), kind_of, "*")
    ref_series = reference[series].astype(str).to_numpy()
    new_series = latest[series].astype(str).to_numpy()
    ref_pos = np.floor(reference[position].to_numpy(dtype=float))
    new_pos = np.floor(latest[position].to_numpy(dtype=float))
    frame = pd.DataFrame(reference[columns].to_numpy(dtype=float), columns=columns)

    def cells(keys: list[np.ndarray]) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Sum and count of each column per cell (NaN values left out)."""
        groups = frame.groupby(keys)
        return groups.sum(), groups.count()

    def at(table: pd.DataFrame, keys: list[np.ndarray]) -> np.ndarray:
        return table.reindex(pd.MultiIndex.from_arrays(keys)).to_numpy(dtype=float)

    def mean_at(table: tuple[pd.DataFrame, pd.DataFrame], keys: list) -> np.ndarray:
        total, count = at(table[0], keys), at(table[1], keys)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / count, np.nan)

    def left_out(table: tuple[pd.DataFrame, pd.DataFrame], keys: list) -> np.ndarray:
        """Each reference row's cell mean over the other periods (NaN if none)."""
        own = cells([*keys, periods])
        rest = (
            at(table[0], keys) - at(own[0], [*keys, periods]),
            at(table[1], keys) - at(own[1], [*keys, periods]),
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(rest[1] > 0, rest[0] / rest[1], np.nan)

    kind_cells = cells([ref_series, kind_of, ref_pos])
    every_cells = cells([ref_series, ref_pos])
    by_kind = left_out(kind_cells, [ref_series, kind_of, ref_pos])
    every = left_out(every_cells, [ref_series, ref_pos])
    ref_out = frame.to_numpy() - np.where(np.isnan(by_kind), every, by_kind)
    batch_kind_of = np.full(
        len(latest), batch_kind if batch_kind in usable else "*", dtype=object
    )
    kind_profile = mean_at(kind_cells, [new_series, batch_kind_of, new_pos])
    every_profile = mean_at(every_cells, [new_series, new_pos])
    new_values = latest[columns].to_numpy(dtype=float)
    known = np.isin(new_series, ref_series)[:, None]
    new_out = np.where(
        known,
        new_values - np.where(np.isnan(kind_profile), every_profile, kind_profile),
        new_values,
    )
    return (
        pd.DataFrame(ref_out, columns=columns, index=reference.index).assign(
            **{series: reference[series].to_numpy()}
        ),
        pd.DataFrame(new_out, columns=columns, index=latest.index).assign(
            **{series: latest[series].to_numpy()}
        ),
    )


def series_level_test(
    reference: pd.DataFrame,
    latest: pd.DataFrame,
    series: str,
    columns: list[str],
    periods: pd.Series,
    today: np.ndarray,
    pairs: tuple[tuple[np.ndarray, np.ndarray], ...],
    quantile: float,
    profile: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The test above. ``periods`` labels the reference rows; ``today`` masks the
    reference rows the batch is judged against and ``pairs`` each reference period's
    rows with the rows it is judged against (``PeriodNull``). With ``profile``
    (``position``: the column that says where in its period a row is, ``kinds``,
    ``batch_kind`` and ``min_kind_periods`` as ``PeriodNull`` judges them), each
    row is taken less its series' profile over the period first
    (:func:`deprofiled`). None when there is nothing to compare (no column, or no
    reference period with a spread)."""
    columns = [c for c in columns if c in reference.columns and c in latest.columns]
    if not columns or series not in reference.columns or series not in latest.columns:
        return None
    position = (profile or {}).get("position")
    if position is not None and (
        position not in reference.columns or position not in latest.columns
    ):
        position = None
    if position is not None and profile is not None:
        reference, latest = deprofiled(
            reference,
            latest,
            series,
            columns,
            position,
            profile.get("kinds"),
            profile.get("batch_kind"),
            int(profile.get("min_kind_periods", 1)),
            periods.to_numpy(),
        )
    labels = periods.to_numpy()
    period_ids, period_of = np.unique(labels, return_inverse=True)
    known = pd.Index(pd.unique(reference[series].astype(str))).sort_values()
    batch = latest[columns].groupby(latest[series].astype(str)).mean()
    names = known.append(batch.index.difference(known))  # unseen series last
    # the scores' last row: every series together
    labels_of = [*map(str, names), f"every {series}"]
    by_period = (
        reference[columns]
        .assign(_s=reference[series].astype(str), _p=period_of)
        .groupby(["_s", "_p"])
        .mean()
    )
    means = np.full((len(names), len(period_ids), len(columns)), np.nan)
    s_idx = names.get_indexer(by_period.index.get_level_values("_s"))
    p_idx = by_period.index.get_level_values("_p").to_numpy()
    means[s_idx, p_idx] = by_period.to_numpy()
    target = batch.reindex(names).to_numpy(dtype=float)

    def rest_of(mask: np.ndarray) -> np.ndarray:
        out = np.zeros(len(period_ids), dtype=bool)
        out[np.unique(period_of[mask])] = True
        return out

    now = _scores(means, target, rest_of(today))
    statistic, where = _largest(now.surprise)
    null = []
    for inside, rest in pairs:
        own = means[:, period_of[inside][0], :]
        null.append(_largest(_scores(means, own, rest_of(rest)).surprise)[0])
    null_arr = np.array([v for v in null if np.isfinite(v)])
    if not len(null_arr) or not np.isfinite(statistic):
        return None
    threshold = float(np.quantile(null_arr, quantile))
    order = np.argsort(np.nan_to_num(now.surprise, nan=-1.0), axis=None)[::-1][:5]
    top = []
    for flat in order:
        i, j = divmod(int(flat), len(columns))
        if np.isnan(now.surprise[i, j]):
            break
        top.append(
            {
                "series": labels_of[i],
                "column": columns[j],
                "surprise": round(float(now.surprise[i, j]), 3),
                "z": round(float(now.z[i, j]), 3),
                "batch_mean": (float(target[i, j]) if i < len(names) else None),
                "reference_mean": (
                    None if np.isnan(now.centre[i, j]) else float(now.centre[i, j])
                ),
            }
        )
    return {
        "test": (
            f"largest surprise (-log10 p, Student's t) of each {series}'s mean"
            + (f" less its profile by {position}" if position else "")
            + f", and of every {series} together, against its own reference "
            f"periods (every column), above the {quantile:.0%} quantile of "
            f"{len(null_arr)} reference periods' own"
        ),
        "series_column": series,
        "profile": position,
        "columns": columns,
        "series": len(batch),
        "unseen_series": [str(n) for n in names[len(known) :]],
        "statistic": min(statistic, UNSEEN),
        "null_quantile": threshold,
        "null_max": float(null_arr.max()),
        "largest": (
            None
            if where is None
            else {"series": labels_of[where[0]], "column": columns[where[1]]}
        ),
        "top": top,
        "drifted": bool(statistic > threshold),
        # each reference period's own statistic, in ``pairs``' order (NaN kept)
        "null_by_pair": [float(v) for v in null],
    }
