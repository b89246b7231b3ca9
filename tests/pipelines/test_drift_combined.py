"""One correction over every period-level cause (pipelines/drift/combined.py).

Synthetic nulls drawn here stand in for the reference periods' own statistics: the
drift stage's wiring of real causes into the test is covered by
tests/use_cases/test_parking.py::TestDailyDrift (parking runs with combine_causes)
and its false-alarm rate on generated worlds by the power table (docs/drift.md)."""

from __future__ import annotations

import numpy as np
import pytest

from mlops_platform.pipelines.drift.combined import by_period, max_over_causes
from mlops_platform.pipelines.drift.series import UNSEEN

PERIODS = [f"d{i:02d}" for i in range(40)]


def causes_of(rng, k: int, shift: float = 0.0, copies: bool = False):
    """k causes over 40 reference periods, each period's own value and today's
    from one distribution (today moved by ``shift`` in the first cause); with
    ``copies`` every cause is the first one (perfectly correlated)."""
    base = rng.gamma(4.0, size=(41, 1 if copies else k))
    values = np.repeat(base, k, axis=1) if copies else base
    out = {}
    for c in range(k):
        today = values[40, c] + (shift if c == 0 else 0.0)
        out[f"cause{c}"] = (float(today), by_period(PERIODS, list(values[:40, c])))
    return out


def own_rule(causes) -> bool:
    """Each cause at its own 95% quantile, as before combine_causes."""
    return any(
        now > np.quantile([v for v in null.values() if v is not None], 0.95)
        for now, null in causes.values()
    )


@pytest.mark.parametrize("copies", [False, True])
def test_false_alarms_stay_at_the_quantile_whatever_the_number_of_causes(copies):
    rng = np.random.default_rng(0)
    trials = 1500
    combined = own = 0
    for _ in range(trials):
        causes = causes_of(rng, 6, copies=copies)
        combined += max_over_causes(causes, 0.95)["drifted"]
        own += own_rule(causes)
    # exchangeable: today is one more period, so about 1 in 20 (2 of 41)
    assert 0.03 <= combined / trials <= 0.07
    # correlated causes cost nothing (the same rate as one test: above); judged one
    # by one, six independent causes gave about 1 - 0.95**6 = 26% and more
    assert own / trials > (0.05 if copies else 0.18)


def test_a_large_move_in_one_cause_is_caught_and_named():
    """Ten of its standard deviations (gamma(4): 2) in one cause of six."""
    rng = np.random.default_rng(1)
    caught = [max_over_causes(causes_of(rng, 6, shift=20.0), 0.95) for _ in range(50)]
    assert all(c["drifted"] for c in caught)
    assert all(c["largest"] == "cause0" for c in caught)
    assert caught[0]["top"][0]["cause"] == "cause0"
    assert all(c["p_value"] <= 0.05 for c in caught)


def test_a_cause_without_spread_counts_only_when_it_moves():
    rng = np.random.default_rng(2)
    causes = causes_of(rng, 3)
    flat = by_period(PERIODS, [0.0] * 40)  # a capacity that never changed
    same = max_over_causes({**causes, "capacity": (0.0, flat)}, 0.95)
    moved = max_over_causes({**causes, "capacity": (0.4, flat)}, 0.95)
    assert (
        same["causes"] == 3
        and same["drifted"] == max_over_causes(causes, 0.95)["drifted"]
    )
    assert moved["drifted"] and moved["largest"] == "capacity"
    assert moved["statistic"] == UNSEEN  # kept finite for JSON


def test_an_unseen_series_is_drift_even_without_a_null():
    rng = np.random.default_rng(3)
    causes = causes_of(rng, 3)
    result = max_over_causes({**causes, "series": (UNSEEN, {})}, 0.95)
    assert result["drifted"] and result["largest"] == "series"


def test_periods_are_matched_by_name_and_gaps_are_left_out():
    """Causes may lack a period (a feature all missing that day): each period's
    largest is over the causes it has."""
    a = by_period(PERIODS, [1.0] * 39 + [float("nan")])
    assert a["d39"] is None
    rng = np.random.default_rng(4)
    b = dict(reversed(list(by_period(PERIODS, list(rng.normal(size=40))).items())))
    result = max_over_causes({"a": (1.0, a), "b": (0.0, b)}, 0.95)
    assert result is not None and result["causes"] == 1  # "a" has no spread
    assert "of 40 reference periods" in result["test"]


def test_nothing_to_judge():
    assert max_over_causes({}, 0.95) is None
    assert (
        max_over_causes({"a": (1.0, by_period(PERIODS[:2], [0.1, 0.2]))}, 0.95) is None
    )
