"""Each series judged against its own reference periods
(``mlops_platform.pipelines.drift.series``).

Synthetic series here: every series (a "car park") has its own scale, a level per
kind of day and a day-to-day factor, and a constant column (its capacity), so the
mechanism is seen alone. Parking's generator and use case are measured in
docs/drift.md's table, and ``tests/use_cases/test_parking.py::TestDailyDrift`` runs
the stage on parking's own gold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_platform.params import DriftParams
from mlops_platform.pipelines.drift.nodes import PeriodNull, _period_null_test
from mlops_platform.pipelines.drift.series import UNSEEN, series_level_test

KIND_LEVEL = {"Mon-Fri": 1.0, "Saturday": 0.7, "Sunday": 0.4}
SCALES = {"A": 900.0, "B": 400.0, "C": 250.0, "D": 120.0}


def _kind(day: int) -> str:
    return {5: "Saturday", 6: "Sunday"}.get(day % 7, "Mon-Fri")


def _day(
    rng: np.random.Generator,
    day: int,
    scales: dict[str, float] = SCALES,
    factor: dict[str, float] | None = None,
    capacity: dict[str, float] | None = None,
) -> pd.DataFrame:
    frames = []
    for name, scale in scales.items():
        level = scale * KIND_LEVEL[_kind(day)] * float(np.exp(rng.normal(0, 0.15)))
        level *= (factor or {}).get(name, 1.0)
        n = 96
        frames.append(
            pd.DataFrame(
                {
                    "car_park": name,
                    "day": day,
                    "kind": _kind(day),
                    "count": rng.normal(level, 0.2 * level, n),
                    "capacity": (capacity or {}).get(name, scale * 1.25),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _judge(reference: pd.DataFrame, today: pd.DataFrame) -> dict:
    null_of = PeriodNull.build(reference["day"], reference["kind"], _kind_of(today))
    result = series_level_test(
        reference,
        today,
        "car_park",
        ["count", "capacity"],
        null_of.periods,
        null_of.today,
        null_of.pairs,
        0.95,
    )
    assert result is not None
    return result


def _kind_of(today: pd.DataFrame) -> str:
    return str(today["kind"].iloc[0])


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    return pd.concat([_day(rng, d) for d in range(42)], ignore_index=True)


def test_ordinary_days_pass_at_about_the_quantiles_rate(reference):
    """60 fresh ordinary days of every kind: the one test over every series and
    column (its null takes the same maximum) keeps false alarms near 5% (measured:
    2 of 60), where a 95% quantile per series and column would not."""
    rng = np.random.default_rng(12)
    alarms = [_judge(reference, _day(rng, 42 + d))["drifted"] for d in range(60)]
    assert sum(alarms) <= 6, sum(alarms)


def test_one_series_busier_is_caught_where_the_pooled_test_misses_it(reference):
    """Car park C (250 of 1,670 cars a weekday) 80% busier on 20 weekdays: pooled
    with the others, its readings move the day's distribution about as much as an
    ordinary day does (measured: 9 of 20 caught); against its own weekdays, 18.
    The day-to-day factor alone (15%) leaves some draws inside the null."""
    rng = np.random.default_rng(13)
    null_of = PeriodNull.build(reference["day"], reference["kind"], "Mon-Fri")
    params = DriftParams(null_from_periods=True)
    own = pooled = 0
    for d in range(20):
        today = _day(rng, 42 + 7 * (d // 5) + d % 5, factor={"C": 1.8})
        result = _judge(reference, today)
        # caught, and for C's count (an ordinary day of another car park can
        # cross too: not counted)
        if result["drifted"] and result["largest"] == {
            "series": "C",
            "column": "count",
        }:
            own += 1
            top = result["top"][0]
            assert top["batch_mean"] > 1.3 * top["reference_mean"]
        pooled += _period_null_test(
            "numeric", reference["count"], null_of, today["count"], params
        )["drifted"]
    assert own >= 16, own
    assert own >= pooled + 5, (own, pooled)


def test_a_changed_constant_is_unseen(reference):
    today = _day(np.random.default_rng(6), 45, capacity={"A": 900 * 1.25 * 1.5})
    result = _judge(reference, today)
    assert result["drifted"] is True
    assert result["statistic"] == UNSEEN
    assert result["largest"] == {"series": "A", "column": "capacity"}


def test_a_new_series_is_unseen(reference):
    today = _day(np.random.default_rng(7), 46, scales={**SCALES, "E": 300.0})
    result = _judge(reference, today)
    assert result["drifted"] is True
    assert result["unseen_series"] == ["E"]
    assert result["largest"]["series"] == "E"
    from mlops_platform.pipelines.drift.nodes import _series_reason

    assert _series_reason(result) == "new car_park: E"


def test_a_series_never_open_on_this_kind_of_day_is_unseen():
    """B never opens on Sundays in the reference: a Sunday with B is new ground,
    while a Sunday without it is ordinary."""
    rng = np.random.default_rng(8)
    days = []
    for d in range(42):
        day = _day(rng, d)
        days.append(day[~((day["kind"] == "Sunday") & (day["car_park"] == "B"))])
    reference = pd.concat(days, ignore_index=True)
    sunday = _day(np.random.default_rng(9), 48)
    with_b = _judge(reference, sunday)
    assert with_b["drifted"] is True and with_b["largest"]["series"] == "B"
    without_b = _judge(reference, sunday[sunday["car_park"] != "B"])
    assert without_b["drifted"] is False, without_b


def test_nothing_to_compare_is_none(reference):
    today = _day(np.random.default_rng(10), 43)
    null_of = PeriodNull.build(reference["day"], reference["kind"], "Mon-Fri")
    args = (null_of.periods, null_of.today, null_of.pairs, 0.95)
    assert series_level_test(reference, today, "car_park", ["gone"], *args) is None
    no_series = reference.drop(columns="car_park")
    assert series_level_test(no_series, today, "car_park", ["count"], *args) is None


def test_a_shift_every_series_shares_adds_up(reference):
    """Every car park 25% quieter on 20 weekdays: about 1.9 of their own spreads
    each (a day-to-day factor of 15%), rarely enough alone, but the four together
    are (Stouffer's sum, the "every car_park" row; measured: 17 of 20 caught by
    that row, 1 by a single car park). The report line names it."""
    from mlops_platform.pipelines.drift.nodes import _series_lines, _series_reason

    rng = np.random.default_rng(14)
    together = alone = 0
    caught: dict = {}
    for d in range(20):
        today = _day(rng, 42 + 7 * (d // 5) + d % 5, factor=dict.fromkeys(SCALES, 0.75))
        result = _judge(reference, today)
        if result["drifted"] and result["largest"]["series"] == "every car_park":
            together += 1
            caught = result
        elif result["drifted"]:
            alone += 1
    assert together >= 14, (together, alone)
    assert together > 2 * alone, (together, alone)
    line = _series_lines(caught)[0]
    assert line.startswith("- Each car_park against its own reference periods (4 in")
    assert "every car_park count (combined |z|" in line
    reason = _series_reason(caught)
    assert reason.startswith("every car_park's count moved beyond"), reason


def _shaped_day(rng: np.random.Generator, day: int, hours: range) -> pd.DataFrame:
    """One series whose count follows a strong hour-of-day shape (low at 7, high
    from 9, as a car park), at a day level varying 5%, for the given hours."""
    level = 600.0 * KIND_LEVEL[_kind(day)] * float(np.exp(rng.normal(0, 0.05)))
    hour = np.repeat(np.array(list(hours), dtype=float), 12)
    shape = np.interp(hour, [7, 9, 12, 13, 17], [0.2, 1.0, 0.6, 0.9, 0.8])
    return pd.DataFrame(
        {"car_park": "A", "day": day, "kind": _kind(day), "hour": hour,
         "count": rng.normal(level * shape, 0.03 * level), "capacity": 750.0}
    )  # fmt: skip


def _judge_shaped(reference: pd.DataFrame, today: pd.DataFrame, position):
    null_of = PeriodNull.build(reference["day"], reference["kind"], _kind_of(today))
    profile = {
        "position": position,
        "kinds": reference["kind"].to_numpy(),
        "batch_kind": _kind_of(today),
        "min_kind_periods": PeriodNull.MIN_KIND_PERIODS,
    }
    result = series_level_test(
        reference, today, "car_park", ["count", "capacity"], null_of.periods,
        null_of.today, null_of.pairs, 0.95, profile,
    )  # fmt: skip
    assert result is not None
    return result


def test_a_partial_day_is_judged_by_its_level_not_by_its_hours():
    """A day whose readings stop at 10:00 (the morning only) at an ordinary level:
    its raw mean is far from full days' (the morning is low), so raw means flag it;
    less each hour's profile it is ordinary. A 40% drop on such a day is still
    caught, and a capacity change and a new series stay unseen."""
    rng = np.random.default_rng(5)
    full = range(7, 17)
    reference = pd.concat([_shaped_day(rng, d, full) for d in range(35)])
    partial = _shaped_day(rng, 37, range(7, 10))  # a Wednesday
    raw = _judge_shaped(reference, partial, None)
    profiled = _judge_shaped(reference, partial, "hour")
    assert raw["drifted"] and raw["profile"] is None
    assert not profiled["drifted"] and profiled["profile"] == "hour"
    assert "less its profile by hour" in profiled["test"]
    cut = partial.assign(count=partial["count"] * 0.6)
    assert _judge_shaped(reference, cut, "hour")["drifted"]
    bigger = partial.assign(capacity=900.0)
    assert _judge_shaped(reference, bigger, "hour")["statistic"] >= UNSEEN
    newcomer = pd.concat([partial, partial.assign(car_park="NEW")])
    result = _judge_shaped(reference, newcomer, "hour")
    assert result["unseen_series"] == ["NEW"] and result["drifted"]
