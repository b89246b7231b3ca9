from __future__ import annotations

import pandas as pd
import pytest

from mlops_platform.contracts import (
    REASON,
    SOURCE_FILE,
    SOURCE_ROW,
    QuarantineLimitExceeded,
    SchemaViolation,
    build_expectation_suite,
    enforce_contract,
)
from mlops_platform.use_cases.retail.ingest import normalise_file
from tests.conftest import FIXTURES, partitions_of, read_partition


@pytest.fixture
def quirky(retail):
    frame, _ = retail.ingest(partitions_of(FIXTURES))
    return frame


class TestSchemaLevel:
    def test_missing_column_names_file_and_column(self, retail):
        raw = read_partition(FIXTURES / "lgsr_quirks.csv").drop(columns=["SPEND"])
        with pytest.raises(SchemaViolation, match=r"file 'week_x.csv', column 'SPEND'"):
            normalise_file(raw, "week_x.csv")

    def test_an_unreadable_file_is_skipped_and_reported(self, retail):
        good = (FIXTURES / "lgsr_quirks.csv").read_bytes()
        frame, report = retail.ingest(
            {"transactions_200607": lambda: good, "transactions_200699": lambda: b""}
        )
        assert set(frame["source_file"]) == {"transactions_200607.csv"}
        assert report["skipped_files"] == {
            "transactions_200699.csv": "file 'transactions_200699.csv': "
            "empty file (no header)"
        }

    def test_no_readable_file_stops_the_run_naming_each(self, retail):
        with pytest.raises(SchemaViolation, match=r"no readable files") as err:
            retail.ingest({"a": lambda: b"", "b": lambda: b"X,Y\n1,2\n"})
        assert "'a.csv': empty file" in str(err.value)
        assert "'b.csv', column 'SHOP_WEEK': missing column" in str(err.value)

    def test_a_storage_error_is_not_a_data_problem(self, retail):
        """A file the store cannot hand over (an S3 error) stops the run: skipping
        it would quietly train without a week."""

        def failing() -> bytes:
            raise OSError("connection reset")

        with pytest.raises(OSError, match="connection reset"):
            retail.ingest({"transactions_200607": failing})

    def test_enforce_checks_schema_before_rows(self, quirky, retail):
        with pytest.raises(SchemaViolation, match="column 'STORE_REGION'"):
            enforce_contract(quirky.drop(columns=["STORE_REGION"]), retail.contract)


class TestRowLevel:
    def test_bad_rows_are_quarantined_with_reasons(self, quirky, retail):
        result = enforce_contract(quirky, retail.contract)
        q = result.quarantine.set_index(SOURCE_ROW)
        # line numbers in the file (header is line 1)
        assert set(q.index) == {11, 12, 13}
        assert q.loc[11, REASON] == "QUANTITY: outside [1, 1000] (-2)"
        assert "SPEND: not a number ('abc')" in q.loc[12, REASON]
        assert "STORE_REGION: not one of" in q.loc[13, REASON]
        assert "'Z09'" in q.loc[13, REASON]
        assert (q[SOURCE_FILE] == "lgsr_quirks.csv").all()

    def test_nothing_is_lost(self, quirky, retail):
        result = enforce_contract(quirky, retail.contract)
        assert len(result.valid) + len(result.quarantine) == len(quirky)
        assert result.report["rows_quarantined"] == 3
        assert result.report["quarantined_by_file"] == {"lgsr_quirks.csv": 3}

    def test_valid_rows_are_typed(self, quirky, retail):
        valid = enforce_contract(quirky, retail.contract).valid
        assert valid["QUANTITY"].dtype == "int64"
        assert valid["SPEND"].dtype == "float64"
        assert valid["QUANTITY"].min() >= 1

    def test_quarantine_limit_stops_a_rotten_batch(self, quirky, retail):
        with pytest.raises(
            QuarantineLimitExceeded, match=r"3 of 14 rows .* above the limit"
        ):
            enforce_contract(quirky, retail.contract, max_quarantine_share=0.1)

    def test_suite_covers_every_rule(self, retail):
        suite = build_expectation_suite(retail.contract)
        rules: dict[str, set[str]] = {}
        for e in suite.expectations:
            column = getattr(e, "column", None)
            if column is not None:
                rules.setdefault(column, set()).add(type(e).__name__)
        # one rule per property the contract states, for every column
        for spec in retail.contract.columns:
            expected = set()
            if not spec.nullable:
                expected.add("ExpectColumnValuesToNotBeNull")
            if spec.allowed is not None:
                expected.add("ExpectColumnValuesToBeInSet")
            if spec.min_value is not None or spec.max_value is not None:
                expected.add("ExpectColumnValuesToBeBetween")
            if spec.pattern is not None:
                expected.add("ExpectColumnValuesToMatchRegex")
            assert rules.get(spec.name, set()) == expected, spec.name


def test_distinct_value_validation_matches_row_wise_gx(retail, small_raw):
    """The fast path (GX on distinct values) flags exactly the rows GX row-wise does."""
    import great_expectations as gx

    from mlops_platform.contracts import _coerce_types, _validate_with_gx

    raw, _ = retail.ingest(partitions_of(FIXTURES))
    generated, _ = retail.ingest(partitions_of(small_raw))
    frame = pd.concat([raw, generated.head(3000)], ignore_index=True)
    frame.loc[5, "STORE_FORMAT"] = None
    frame.loc[7, "PROD_CODE"] = "PRD12"
    typed, _ = _coerce_types(frame, retail.contract)
    fast, _ = _validate_with_gx(typed, retail.contract)

    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas("rowwise")
        .add_dataframe_asset("rows")
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": typed})
    )
    suite = context.suites.add(build_expectation_suite(retail.contract))
    result = batch.validate(suite, result_format={"result_format": "COMPLETE"})
    slow: dict[int, int] = {}
    for r in result.results:
        for idx in (r.result or {}).get("unexpected_index_list") or []:
            slow[int(idx)] = slow.get(int(idx), 0) + 1
    assert {i: len(v) for i, v in fast.items()} == slow
    assert set(fast) == {5, 7, 9, 10, 11}
