"""Parking: both real formats, the contract, forecasting examples on real readings
only, the generator's realism against the real sample, and the Keras flavour (fit,
ONNX parity, bundle round trip)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_platform.contracts import SchemaViolation, enforce_contract
from mlops_platform.datagen.parking import ParkingConfig, ParkingDrift, generate
from mlops_platform.flavours import KerasFlavour, KerasModel
from mlops_platform.onnx_export import export_onnx
from mlops_platform.params import CandidateParams, TrainingParams
from mlops_platform.use_cases.parking import ParkingUseCase
from mlops_platform.use_cases.parking.features import (
    WINDOW,
    GoldParams,
    build_examples,
)
from tests.conftest import REPO, partitions_of, read_partition

REAL = REPO.parent / "shared" / "real-samples" / "parking_data.csv"
real_sample = pytest.mark.skipif(not REAL.exists(), reason="no ../shared real sample")


@pytest.fixture(scope="module")
def parking() -> ParkingUseCase:
    return ParkingUseCase()


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("parking")
    generate(ParkingConfig(seed=5, days=10, car_parks=3), out)
    return out


@pytest.fixture(scope="module")
def silver(parking, raw) -> pd.DataFrame:
    frame, _ = parking.ingest(partitions_of(raw))
    return enforce_contract(frame, parking.contract).valid


@pytest.fixture(scope="module")
def gold(parking, silver) -> pd.DataFrame:
    return parking.build_gold(silver, {})


def seed_partitions(tmp_path: Path, rows: str, capacity: int | None = 100) -> dict:
    (tmp_path / "lot_a.csv").write_text("car_count,timestamp\n" + rows)
    if capacity is not None:
        (tmp_path / "car_parks.csv").write_text(
            f"SystemCodeNumber,Capacity\nlot_a,{capacity}\n"
        )
    return partitions_of(tmp_path)


class TestIngestAndContract:
    def test_both_formats_give_the_same_record(self, parking, tmp_path):
        uci = tmp_path / "uci"
        uci.mkdir()
        (uci / "readings_20121001.csv").write_text(
            "SystemCodeNumber,Capacity,Occupancy,LastUpdated\n"
            "lot_a,100,42,2012-10-01 08:05:11\n"
        )
        seed_dir = tmp_path / "seed"
        seed_dir.mkdir()
        seed_p = seed_partitions(seed_dir, "42,01/10/2012 08:05:11\n")
        a, _ = parking.ingest(partitions_of(uci))
        b, _ = parking.ingest(seed_p)
        cols = ["car_park", "capacity", "count", "timestamp"]
        assert (
            a[cols].to_dict("records")
            == b[cols].to_dict("records")
            == [
                {
                    "car_park": "lot_a",
                    "capacity": "100",
                    "count": "42",
                    "timestamp": "2012-10-01 08:05:11",
                }
            ]
        )

    def test_seed_format_without_capacity_names_the_file(self, parking, tmp_path):
        parts = seed_partitions(tmp_path, "1,01/10/2012 08:00:00\n", capacity=None)
        with pytest.raises(SchemaViolation, match=r"lot_a\.csv.*car_parks\.csv"):
            parking.ingest(parts)

    def test_unknown_format_is_refused(self, parking, tmp_path):
        (tmp_path / "x.csv").write_text("a,b\n1,2\n")
        with pytest.raises(SchemaViolation, match=r"x\.csv.*neither the UCI"):
            parking.ingest(partitions_of(tmp_path))

    def test_bad_rows_are_quarantined_with_reasons(self, parking, tmp_path):
        rows = (
            "10,01/10/2012 08:00:00\n"  # line 2: fine
            "-3,01/10/2012 08:05:00\n"  # 3: negative
            "130,01/10/2012 08:10:00\n"  # 4: above capacity 100
            "12,01/10/2012 08:00:00\n"  # 5: duplicate of line 2
            "11,31/02/2012 08:15:00\n"  # 6: no such date
            "abc,01/10/2012 08:20:00\n"  # 7: not a number
            "14,01/10/2012 08:25:00\n"  # 8: fine
        )
        frame, _ = parking.ingest(seed_partitions(tmp_path, rows))
        result = enforce_contract(frame, parking.contract)
        q = result.quarantine.set_index("source_row")["quarantine_reason"]
        assert len(result.valid) + len(q) == 7  # nothing dropped
        assert sorted(result.valid["count"]) == [10, 14]
        assert "count: outside [0, 100000] (-3)" in q[3]
        assert q[4] == "count_above_capacity: count 130 above capacity 100"
        assert q[5] == (
            "duplicate_reading: lot_a already read at 2012-10-01 08:00:00 "
            "(lot_a.csv line 2)"
        )
        assert "timestamp: does not match" in q[6] and "31/02/2012" in q[6]
        assert "count: not a number ('abc')" in q[7]

    def test_generated_files_quarantine_a_few_rows(self, parking, raw):
        frame, report = parking.ingest(partitions_of(raw))
        result = enforce_contract(frame, parking.contract)
        assert set(report["files"]) == {f.name for f in raw.glob("readings_*.csv")}
        reasons = " ".join(result.quarantine["quarantine_reason"])
        for rule in ("count_above_capacity", "duplicate_reading", "outside", "match"):
            assert rule in reasons
        assert result.report["quarantined_share"] < 0.02


class TestClosureCalendar:
    """The operator's calendar (raw ``closures.csv``): a closed car park's readings
    are kept in silver and gold, flagged, and left out of training, scoring and
    every drift test (``UseCase.out_of_service_column``)."""

    @pytest.fixture
    def closed_raw(self, raw, tmp_path) -> tuple[Path, str, str]:
        """The generated days with a calendar of one closed day (``plain/``: the
        same days without a calendar)."""
        for folder in ("plain", "closed"):
            (tmp_path / folder).mkdir()
            for f in raw.glob("readings_*.csv"):
                (tmp_path / folder / f.name).write_bytes(f.read_bytes())
        park, day = "BHMEURBRD01", "2012-09-18"
        (tmp_path / "closed" / "closures.csv").write_text(
            f"SystemCodeNumber,Date\n{park},{day}\n"
        )
        return tmp_path / "closed", park, day

    def test_readings_and_examples_of_a_closed_day_are_flagged_not_dropped(
        self, parking, closed_raw
    ):
        folder, park, day = closed_raw
        frame, report = parking.ingest(partitions_of(folder))
        that_day = (frame["car_park"] == park) & frame["timestamp"].str.startswith(day)
        assert that_day.sum() > 50
        assert (frame["closed"] == that_day.astype(int)).all()
        assert report["closed_readings"] == that_day.sum()
        assert report["closure_days"] == 1
        # the same readings as without a calendar: nothing dropped
        plain, _ = parking.ingest(partitions_of(folder.parent / "plain"))
        assert len(plain) == len(frame) and plain["closed"].sum() == 0
        gold = parking.build_gold(enforce_contract(frame, parking.contract).valid, {})
        flagged = gold["closed"] == 1
        assert set(gold.loc[flagged, "car_park"]) == {park}
        assert set(gold.loc[flagged, "day"]) == {int(day.replace("-", ""))}
        assert set(gold.columns) - set(parking.features) >= {"closed"}
        assert "closed" not in parking.features  # not a model input

    def test_closed_rows_never_train_or_score_and_drift_leaves_them_out(
        self, parking, closed_raw
    ):
        from mlops_platform.model_store import Bundle
        from mlops_platform.params import DataEngineeringParams, DriftParams
        from mlops_platform.pipelines.data_engineering.nodes import split_by_time
        from mlops_platform.pipelines.drift.nodes import (
            detect_drift,
            render_drift_report,
        )

        folder, _, day = closed_raw
        frame, _ = parking.ingest(partitions_of(folder))
        gold = parking.build_gold(enforce_contract(frame, parking.contract).valid, {})
        gold = gold[gold["day"] <= int(day.replace("-", ""))]  # the closed day last
        params = DataEngineeringParams(split={"test_periods": 2})
        train, validation, test, latest, report = split_by_time(parking, gold, params)
        closed = int((gold["closed"] == 1).sum())
        assert report["rows"]["out_of_service_rows"] == closed > 0
        for part in (train, validation, test):
            assert (part["closed"] == 0).all()
        assert (latest["closed"] == 1).sum() == closed  # drift sees the batch whole
        from mlops_platform.pipelines.reporting.nodes import summarise_lifecycle

        contract = {"rows_in": 1, "rows_quarantined": 0, "quarantined_share": 0.0}
        summary = summarise_lifecycle(
            parking, {}, contract, report, {"reason": "-"}, {}, {}, {"reason": "-"}
        )
        assert f"out of service, never trained or scored: {closed:,}" in summary
        # A batch of nothing but closed rows is not judged (no model needed)
        champion = Bundle(
            "parking",
            "v0001",
            {"model": {"flavor": "sklearn"}, "training_periods": []},
            None,
            {},
            {},
            {},
            train[[*parking.features, "car_park", "day", "target_count"]],
        )
        only_closed = latest[latest["closed"] == 1]
        drift, decision = detect_drift(parking, only_closed, champion, DriftParams())
        assert drift["status"] == "out_of_service"
        assert drift["out_of_service_rows"] == len(only_closed)
        assert decision["train"] is False and decision["drift_detected"] is None
        assert "out of service (closed)" in decision["reason"]
        text, _ = render_drift_report(parking, drift, only_closed, champion)
        assert "Not compared: every row of the batch is out of service" in text

    def test_a_newest_day_closed_everywhere_is_the_batch_not_the_test(
        self, parking, gold
    ):
        from mlops_platform.params import DataEngineeringParams
        from mlops_platform.pipelines.data_engineering.nodes import split_by_time

        days = sorted(gold["day"].unique())
        shut = gold.assign(closed=(gold["day"] == days[-1]).astype(int))
        params = DataEngineeringParams()
        _, validation, test, latest, report = split_by_time(parking, shut, params)
        assert set(test["day"]) == {days[-2]} and set(validation["day"]) == {days[-3]}
        assert set(latest["day"]) == {days[-1]}  # drift still sees it, and skips it
        assert report["rows"]["out_of_service_rows"] == (shut["closed"] == 1).sum()

    @pytest.mark.parametrize(
        ("calendar", "named"),
        [
            ("SystemCodeNumber,Date\nA,2012-09-18\nB,2012-13-40\n", "line 3"),
            ("SystemCodeNumber,Day\nA,2012-09-18\n", "column 'Date'"),
            ("SystemCodeNumber,Date\n,2012-09-18\n", "line 2: no car park"),
        ],
    )
    def test_a_calendar_that_cannot_be_read_stops_the_run_naming_it(
        self, parking, tmp_path, calendar, named
    ):
        (tmp_path / "closures.csv").write_text(calendar)
        partitions = seed_partitions(tmp_path, "5,12/10/2012 08:00:00\n")
        with pytest.raises(SchemaViolation) as err:
            parking.ingest(partitions)
        assert "closures.csv" in str(err.value) and named in str(err.value)
        if "13-40" in calendar:
            assert "'2012-13-40' is not a date" in str(err.value)


class TestGold:
    def test_origins_and_targets_are_real_readings(self, silver, gold):
        t = pd.to_datetime(silver["timestamp"]).dt.floor("5min")
        real = set(
            zip(silver["car_park"], t.dt.strftime("%Y-%m-%d %H:%M"), strict=True)
        )
        assert all(
            k in real for k in zip(gold["car_park"], gold["origin"], strict=True)
        )
        assert all(
            k in real for k in zip(gold["car_park"], gold["target_time"], strict=True)
        )
        gap = pd.to_datetime(gold["target_time"]) - pd.to_datetime(gold["origin"])
        assert (gap == pd.Timedelta(minutes=60)).all()

    def test_persistence_is_the_last_reading_and_no_night_is_crossed(self, gold):
        np.testing.assert_allclose(
            gold["count_now"], gold[WINDOW[-1]] * gold["capacity"], atol=1e-9
        )
        origin_day = pd.to_datetime(gold["origin"]).dt.date
        assert (origin_day == pd.to_datetime(gold["target_time"]).dt.date).all()
        assert gold[list(WINDOW)].notna().all().all()
        assert gold[list(WINDOW)].to_numpy().max() <= 1.0

    def test_horizon_is_a_parameter(self, silver):
        two = build_examples(silver, GoldParams(horizon_minutes=120))
        gap = pd.to_datetime(two["target_time"]) - pd.to_datetime(two["origin"])
        assert (gap == pd.Timedelta(minutes=120)).all()
        with pytest.raises(ValueError, match="multiple of 5"):
            build_examples(silver, GoldParams(horizon_minutes=62))

    def test_drift_features_stand_for_the_window_once(self, parking):
        drift = parking.drift_features
        assert drift["occ_m000"] == "numeric"
        assert not any(c in drift for c in WINDOW[:-1])
        assert drift["occupancy_by_hour"] == "categorical"


class TestGenerator:
    def test_deterministic_and_drift_knobs(self, tmp_path):
        a = generate(ParkingConfig(seed=1, days=4, car_parks=2), tmp_path / "a")
        generate(ParkingConfig(seed=1, days=4, car_parks=2), tmp_path / "b")
        for name in a["files"]:
            assert (tmp_path / "a" / name).read_bytes() == (
                tmp_path / "b" / name
            ).read_bytes()
        drift = ParkingDrift(start_day="2012-09-12", new_car_park=1.0)
        c = generate(
            ParkingConfig(seed=1, days=4, car_parks=2, drift=drift), tmp_path / "c"
        )
        assert len(c["car_parks"]) == 3
        first = read_partition(tmp_path / "c" / "readings_20120910.csv")
        last = read_partition(tmp_path / "c" / "readings_20120913.csv")
        assert (
            first["SystemCodeNumber"].nunique()
            <= 2
            < last["SystemCodeNumber"].nunique()
        )

    def test_seed_format_round_trips(self, parking, tmp_path):
        generate(
            ParkingConfig(seed=2, days=3, car_parks=2, output_format="seed"), tmp_path
        )
        frame, report = parking.ingest(partitions_of(tmp_path))
        assert {f["format"] for f in report["files"].values()} == {"seed"}
        assert frame["car_park"].nunique() == 2

    @pytest.mark.real_sample
    @real_sample
    def test_as_hard_as_the_real_file(self, tmp_path):
        """At the unit the model predicts (a count one hour ahead, real readings
        only): persistence error per 100 spaces and the room a model has over it."""
        from mlops_platform.datagen.parking_realism import difficulty, load_examples

        real = difficulty(load_examples(REAL, capacity=100)).iloc[0]
        generate(ParkingConfig(seed=7, days=45, car_parks=4), tmp_path)
        fake = difficulty(load_examples(tmp_path))
        lot = fake[fake["capacity"] == 100].iloc[0]
        assert 0.7 <= lot["persistence_per100"] / real["persistence_per100"] <= 1.3
        assert 0.7 <= lot["hgb_per100"] / real["hgb_per100"] <= 1.3
        assert (fake["hgb_over_persistence"] >= 0.4).all()  # not trivially easy
        assert (fake["hgb_over_persistence"] <= 0.9).all()  # learnable

    # The real lot's day levels: parking_realism.day_levels on the real sample,
    # its closed days read off the levels (inferred_closures; docs/parking.md,
    # "Day levels"). test_the_real_figures_are_the_files checks them against the
    # file where it is present.
    REAL_DAY_LEVELS = {
        "open_robust_cv": 0.045,
        "closed_share": 0.118,
        "weekday_range": 0.064,
        "saturday_ratio": 0.59,
        "sunday_ratio": 0.02,
    }

    @pytest.mark.parametrize("seed", [7, 8])
    def test_day_levels_are_the_real_lots(self, parking, tmp_path, seed):
        """At the unit the drift check compares (a car park's day): ordinary days
        vary about as much as the real lot's (not less: the check would have an
        easier problem; not 4-6 times more, as before), flat Monday-Friday, closed
        days on the calendar, the weekend's ratios."""
        from mlops_platform.datagen.parking_realism import day_levels, readings

        real = self.REAL_DAY_LEVELS
        stats = generate(ParkingConfig(seed=seed, days=45, car_parks=4), tmp_path)
        levels = day_levels(readings(tmp_path))
        assert len(levels) == 4
        cv = float(levels["open_robust_cv"].median())
        assert 0.8 * real["open_robust_cv"] <= cv <= 2 * real["open_robust_cv"]
        assert (levels["weekday_range"] <= 2.5 * real["weekday_range"]).all()
        # the real lot: 7 of 71 days closed (12% of its full weekdays, a floor)
        assert 0.05 <= stats["closure_days"] / (45 * 4) <= 2 * real["closed_share"]
        assert levels["closed_weekdays"].sum() > 0
        sat = real["saturday_ratio"]  # from three open Saturdays: a loose match
        assert levels["saturday_ratio"].between(sat - 0.15, sat + 0.15).all()
        assert (levels["sunday_ratio"] <= 0.06).all()

    @pytest.mark.real_sample
    @real_sample
    def test_the_real_figures_are_the_files(self):
        from mlops_platform.datagen.parking_realism import (
            day_levels,
            inferred_closures,
            readings,
        )

        calendar = inferred_closures(readings(REAL, capacity=100))
        assert list(calendar["Date"]) == [
            "2012-10-12", "2012-10-13", "2012-10-15", "2012-10-30", "2012-11-06",
            "2012-11-07",
        ]  # fmt: skip
        silver = readings(REAL, capacity=100, closures=calendar)
        (got,) = day_levels(silver).to_dict("records")
        for k, v in self.REAL_DAY_LEVELS.items():
            assert got[k] == v, k

    def test_day_levels_measure_what_the_drift_check_compares(self):
        """Day level = mean per 100 spaces over the core hours, on days that cover
        them; a weekday under a quarter of the median is closed and left out of
        the spread. Built by hand: 9 weekdays at 60 +- 3, one at 1, a Saturday at
        30, and a day whose readings stop at noon (not a full day)."""
        from mlops_platform.datagen.parking_realism import day_levels

        rows = []
        monday = pd.Timestamp("2012-09-10")
        days = [monday + pd.Timedelta(days=k) for k in (0, 1, 2, 3, 4, 7, 8, 9, 10)]
        levels = [57, 60, 63, 57, 60, 63, 57, 60, 63]
        plan = [*zip(days, levels, strict=True), (monday + pd.Timedelta(days=11), 1),
                (monday + pd.Timedelta(days=5), 30)]  # fmt: skip
        for day, level in plan:
            for minutes in range(7 * 60, 18 * 60, 30):
                rows.append((day + pd.Timedelta(minutes=minutes), level))
        for minutes in range(7 * 60, 12 * 60, 30):  # a partial Friday, ignored
            rows.append((monday + pd.Timedelta(days=12, minutes=minutes), 5))
        silver = pd.DataFrame(
            {"car_park": "A", "capacity": 100, "count": [r[1] for r in rows],
             "timestamp": [str(r[0]) for r in rows]}
        )  # fmt: skip
        (got,) = day_levels(silver).to_dict("records")
        assert got["full_weekdays"] == 10 and got["closed_weekdays"] == 1
        assert got["weekday_level"] == 60.0
        assert got["open_robust_cv"] == round(1.4826 * 3 / 60, 3)
        assert got["saturday_ratio"] == 0.5 and got["sunday_ratio"] is None

    @pytest.mark.real_sample
    @real_sample
    def test_the_series_check_replayed_on_the_real_file(self):
        """The drift test's series check on the recorded days (docs/drift.md,
        "On the real lot"): the first weekday the lot stood empty (2012-10-12) is an
        alarm; before that closure reaches the reference, a 40% cut of an ordinary
        weekday's demand is caught every time (each day less its hour-of-day
        profile: the partial days in the reference no longer widen it)."""
        from mlops_platform.datagen.parking_realism import load_examples, series_replay

        days = series_replay(load_examples(REAL, capacity=100))
        assert len(days) >= 20
        first_empty = days[days["day"] == 20121012].iloc[0]
        assert first_empty["alarm"]
        before = days[
            (days["kind"] == "Mon-Fri")
            & (days["mean_occupancy"] > 0.5)
            & (days["day"] < 20121012)
            & ~days["alarm"]  # an ordinary day as recorded
        ]
        assert len(before) >= 3
        assert before["caught_cut_40%"].all()
        assert (before["surprise_cut_40%"] > 5 * before["surprise"]).all()

    @pytest.mark.real_sample
    @real_sample
    def test_with_a_calendar_the_closures_no_longer_hide_a_drop(self):
        """The same replay with the lot's closed days on a calendar (read off the
        levels: the operator's is not published): the closed days are neither
        judged nor in the reference, so the lot's range stays that of its open
        days, and a 40% cut is caught on most ordinary weekdays after the first
        closure too (without the calendar: on none of them)."""
        from mlops_platform.datagen.parking_realism import (
            inferred_closures,
            load_examples,
            readings,
            series_replay,
        )

        calendar = inferred_closures(readings(REAL, capacity=100))
        days = series_replay(load_examples(REAL, capacity=100, closures=calendar))
        closed = {int(d.replace("-", "")) for d in calendar["Date"]}
        assert not closed & set(days["day"])
        ordinary = days[(days["kind"] == "Mon-Fri") & ~days["alarm"]]
        after = ordinary[ordinary["day"] > 20121012]
        assert len(after) >= 8
        assert after["caught_cut_40%"].mean() >= 0.75
        assert days["alarm"].sum() <= 1

    @pytest.mark.real_sample
    @real_sample
    def test_real_file_loads_and_gives_examples(self, parking):
        parts = {
            "parking_data": REAL.read_bytes,
            "car_parks": lambda: b"SystemCodeNumber,Capacity\nparking_data,100\n",
        }
        frame, _ = parking.ingest(parts)
        result = enforce_contract(frame, parking.contract)
        assert len(frame) == 4473 and result.report["rows_quarantined"] == 0
        gold = parking.build_gold(result.valid, {})
        assert 3000 < len(gold) < 4473  # origins with a real reading an hour later


class TestKerasFlavour:
    @pytest.fixture(scope="class")
    def fitted(self, parking, gold):
        days = sorted(gold["day"].unique())
        train, val = gold[gold["day"] < days[-1]], gold[gold["day"] == days[-1]]
        params = TrainingParams(
            candidates={
                "lstm": CandidateParams(
                    params={"units": 8, "dense": 8, "epochs": 2, "batch_size": 512}
                )
            }
        )
        candidate = parking.candidates(params)["lstm"]
        fit = KerasFlavour().fit(
            candidate.spec,
            parking.model_input(train),
            train["target_count"],
            parking.model_input(val),
            val["target_count"],
        )
        return fit, val

    def test_fit_reports_val_loss_and_predicts_cars(self, parking, fitted):
        fit, val = fitted
        assert fit.info["epochs_run"] == 2 and len(fit.info["val_loss_history"]) == 2
        pred = KerasFlavour().predict(fit.model, parking.model_input(val))
        assert pred.shape == (len(val),)
        assert np.isfinite(pred).all()

    def test_refit_trains_without_validation_for_the_chosen_epochs(
        self, parking, gold, fitted
    ):
        fit, val = fitted
        spec = parking.candidates(
            TrainingParams(
                candidates={
                    "lstm": CandidateParams(
                        params={"units": 8, "dense": 8, "epochs": 2, "batch_size": 512}
                    )
                }
            )
        )["lstm"].spec
        again = KerasFlavour().refit(
            spec, parking.model_input(gold), gold["target_count"], fit
        )
        assert again.info["epochs_run"] == fit.info["best_epoch"]
        assert again.info["refit_rows"] == len(gold)
        assert "val_loss" not in again.info
        pred = KerasFlavour().predict(again.model, parking.model_input(val))
        assert np.isfinite(pred).all()

    def test_onnx_export_matches_the_network(self, parking, fitted):
        fit, val = fitted
        export = export_onnx(KerasFlavour(), fit.model, parking, val)
        assert export.info["output"] == "prediction"
        assert export.info["parity"]["max_abs_diff"] <= parking.task.parity.max_abs_diff
        names = [i["name"] for i in export.info["layout"]["inputs"]]
        assert names == ["occupancy", "context", "capacity"]

    def test_pickle_and_bundle_round_trip(self, parking, fitted, tmp_path):
        from mlops_platform.model_store import ModelStore, PromotionRequest

        fit, val = fitted
        x = parking.model_input(val)
        again = pickle.loads(pickle.dumps(fit.model))
        assert isinstance(again, KerasModel)
        np.testing.assert_array_equal(again.predict(x), fit.model.predict(x))
        store = ModelStore(str(tmp_path), "parking")
        version = store.write_bundle(
            PromotionRequest(
                use_case="parking",
                promote=True,
                reason="test",
                model=fit.model,
                flavour="keras",
                reference=val.head(5),
            ),
            {},
        )
        bundle = store.load_bundle(version)
        assert bundle.flavour == "keras"
        assert bundle.manifest["model"]["file"] == "model.keras"
        assert "keras_version" in bundle.manifest["model"]
        np.testing.assert_array_equal(bundle.model.predict(x), fit.model.predict(x))


class TestDailyDrift:
    """The newest day against the champion's training days, as the daily run does:
    no alarm on ordinary days (a busy Thursday is not drift), an alarm when the
    champion's forecasts break (a failing sensor, an event day)."""

    SCENARIOS = {
        "ordinary day": (7, ParkingDrift()),
        "ordinary day, another world": (8, ParkingDrift()),
        "sensor failure": (7, ParkingDrift(start_day="2012-10-25", sensor_failure=1.0)),
        "event day": (7, ParkingDrift(start_day="2012-10-25", event_day=1.0)),
        # the largest car park's capacity: diluted among the others in the pooled
        # tests; caught by each car park against its own days (a new car park, the
        # other series case, is tested on synthetic series in
        # tests/pipelines/test_drift_series.py; each scenario here trains a model)
        "capacity change": (
            7,
            ParkingDrift(start_day="2012-10-25", capacity_change=1.0),
        ),
    }

    @pytest.fixture(scope="class")
    def params(self):
        import yaml

        from mlops_platform.params import DriftParams

        conf = yaml.safe_load((REPO / "conf/base/parameters_drift.yml").read_text())
        return DriftParams(**conf["parking"]["drift"])

    @pytest.mark.parametrize("scenario", list(SCENARIOS))
    def test_verdict(self, parking, params, tmp_path, scenario):
        from mlops_platform.flavours import get_flavour
        from mlops_platform.model_store import Bundle
        from mlops_platform.pipelines.drift.nodes import detect_drift

        seed, drift = self.SCENARIOS[scenario]
        generate(ParkingConfig(seed=seed, days=46, car_parks=4, drift=drift), tmp_path)
        frame, _ = parking.ingest(partitions_of(tmp_path))
        gold = parking.build_gold(enforce_contract(frame, parking.contract).valid, {})
        days = sorted(gold["day"].unique())
        train = gold[gold["day"] < days[-5]]
        held = gold[(gold["day"] >= days[-5]) & (gold["day"] < days[-1])]
        params_hgb = TrainingParams(
            candidates={
                "hist_gradient_boosting": CandidateParams(
                    params={"loss": "absolute_error", "max_iter": 200}
                )
            }
        )
        cand = parking.candidates(params_hgb)["hist_gradient_boosting"]
        sklearn = get_flavour("sklearn")
        x = parking.model_input(train)
        model = sklearn.fit(cand.spec, x, train["target_count"], x, None).model
        pred = sklearn.predict(model, parking.model_input(held))
        by_period = parking.task.scores_by_period(
            held["target_count"], pred, held["day"]
        )
        # as evaluation's drift_reference keeps them (the series column included)
        drift_only = ["occupancy_by_hour", "car_park", "day", "target_count"]
        champion = Bundle(
            "parking",
            "v0001",
            {"model": {"flavor": "sklearn"}, "training_periods": []},
            model,
            {},
            {"by_period": by_period},
            {},
            train[[*parking.features, *drift_only]],
        )
        report, decision = detect_drift(
            parking, gold[gold["day"] == days[-1]], champion, params
        )
        assert report["features"]["occ_m000"]["test"].startswith("KS statistic above")
        assert report["features"]["weekday"].get("counted") is False
        expected = scenario.startswith(("sensor", "event", "capacity"))
        assert decision["drift_detected"] is expected, decision["reason"]
        if scenario.startswith(("sensor", "event")):
            assert report["performance"]["drifted"], report["performance"]
        series = report["series"]
        assert series["columns"] == ["capacity", "occ_m000", "target_count"]
        if scenario.startswith(("ordinary", "capacity")):
            caught = scenario.startswith("capacity")
            assert report["series_drift"] is caught, series
        if scenario.startswith("capacity"):
            assert series["largest"]["column"] == "capacity"
            assert series["top"][0]["batch_mean"] > series["top"][0]["reference_mean"]
