"""Bad lines in raw CSVs: quarantined with their true line number, never a stopped
batch, never a lost row (issue 12, item 7).

Every corruption is applied to a real-shaped file of each CSV use case (retail's LGSR
quirks fixture, parking's generated readings) and the result is checked through the
use case's own ingest and contract: rows in = silver + quarantine, exactly; each
quarantined line is named by its file and true line; a file that cannot be read is
skipped and reported. A property test then corrupts random lines of a file.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_platform.contracts import (
    INGEST_ERROR,
    REASON,
    SOURCE_FILE,
    SOURCE_ROW,
    enforce_contract,
)
from mlops_platform.datagen.parking import ParkingConfig, generate
from mlops_platform.raw_csv import UnreadableFile, read_csv_bytes
from mlops_platform.use_cases.parking import ParkingUseCase
from tests.conftest import FIXTURES


def _lines(data: bytes) -> list[bytes]:
    return data.rstrip(b"\n").split(b"\n")


def _join(lines: list[bytes], end: bytes = b"\n") -> bytes:
    return b"".join(line + end for line in lines)


# Each corruption: (bytes of a good file) -> (bytes, {line: expected reason part}),
# lines numbered as an editor shows them (the header is line 1).
def truncated_last_line(data: bytes) -> tuple[bytes, dict[int, str]]:
    lines = _lines(data)
    cut = lines[-1][: len(lines[-1]) // 3]
    return _join(lines[:-1]) + cut, {len(lines): "fields where the header has"}


def one_field_too_many(data: bytes) -> tuple[bytes, dict[int, str]]:
    lines = _lines(data)
    header = lines[0].count(b",") + 1
    lines[3] += b",extra"
    return _join(lines), {4: f"{header + 1} fields where the header has {header}"}


def not_utf8(data: bytes) -> tuple[bytes, dict[int, str]]:
    lines = _lines(data)
    first = lines[2].index(b",")
    lines[2] = lines[2][:first] + b"\xff\xfe" + lines[2][first:]
    column = lines[0].split(b",")[0].decode().strip()
    return _join(lines), {3: f"invalid UTF-8 in column '{column}'"}


def blank_lines(data: bytes) -> tuple[bytes, dict[int, str]]:
    lines = _lines(data)
    # two blank lines after line 2, one (with a CR) after the old line 5
    out = [*lines[:2], b"", b"", *lines[2:5], b"\r", *lines[5:]]
    out[8] += b",extra"  # the old line 6, now line 9: must be named 9
    header = lines[0].count(b",") + 1
    return _join(out), {9: f"{header + 1} fields where the header has {header}"}


def crlf(data: bytes) -> tuple[bytes, dict[int, str]]:
    lines = _lines(data)
    lines[4] += b",extra"
    return _join(lines, b"\r\n"), {5: "fields where the header has"}


def bom(data: bytes) -> tuple[bytes, dict[int, str]]:
    return b"\xef\xbb\xbf" + data, {}


CORRUPTIONS: list[Callable[[bytes], tuple[bytes, dict[int, str]]]] = [
    truncated_last_line,
    one_field_too_many,
    not_utf8,
    blank_lines,
    crlf,
    bom,
]


@pytest.fixture(scope="module")
def parking_day(tmp_path_factory) -> bytes:
    out = tmp_path_factory.mktemp("parking_raw")
    generate(ParkingConfig(seed=3, days=1, car_parks=2), out)
    (day,) = sorted(out.glob("readings_*.csv"))
    return day.read_bytes()


@pytest.fixture(params=["retail", "parking"])
def case(request, retail, parking_day) -> tuple:
    if request.param == "retail":
        return (
            retail,
            "transactions_200610",
            (FIXTURES / "lgsr_quirks.csv").read_bytes(),
        )
    return ParkingUseCase(), "readings_20121001", parking_day


def _data_lines(data: bytes) -> set[int]:
    """Line numbers holding data, as an editor counts them (no header, no blank)."""
    lines = data.removeprefix(b"\xef\xbb\xbf").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return {n for n, line in enumerate(lines[1:], start=2) if line.strip(b"\r")}


@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=lambda f: f.__name__)
def test_a_bad_line_is_quarantined_and_nothing_is_lost(case, corrupt):
    use_case, name, good = case
    data, expected = corrupt(good)
    frame, report = use_case.ingest({name: lambda: data})
    result = enforce_contract(frame, use_case.contract)
    rows_in = result.report["rows_in"]
    assert rows_in == len(result.valid) + len(result.quarantine)
    # one row per data line, each with its true line number
    assert set(frame[SOURCE_ROW]) == _data_lines(data)
    assert rows_in == len(_data_lines(data))
    q = result.quarantine.set_index(SOURCE_ROW)
    for line, part in expected.items():
        assert line in q.index, f"line {line} not quarantined"
        reason = q.loc[line, REASON]
        assert reason.startswith("unreadable line: ") and part in reason, reason
        assert q.loc[line, SOURCE_FILE] == f"{name}.csv"
    assert INGEST_ERROR not in result.valid.columns
    if expected:
        file_report = report["files"][f"{name}.csv"]
        noted = {
            **file_report.get("malformed_lines", {}),
            **file_report.get("invalid_utf8_lines", {}),
        }
        assert noted, file_report


def test_a_good_file_reads_the_same_as_before(case):
    """The fast path (no bad line) gives what the careful path gives."""
    _, _, good = case
    fast = read_csv_bytes(good, "x.csv")
    careful = read_csv_bytes(good.replace(b"\n", b"\n\n", 1), "x.csv")
    assert careful.blank_lines == 1
    assert fast.frame.drop(columns=[SOURCE_ROW]).equals(
        careful.frame.drop(columns=[SOURCE_ROW])
    )
    assert list(careful.frame[SOURCE_ROW]) == [n + 1 for n in fast.frame[SOURCE_ROW]]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "empty file (no header)"),
        (b"\n\n", "empty file (no header)"),
        (b"a,\xff\n1,2\n", "the header is not UTF-8"),
        (b"a,b,a\n1,2,3\n", "names a column twice"),
        (b'a,b\n1,"two\nlines"\n3,4\n', "records span lines"),
    ],
)
def test_unreadable_files_name_the_problem(data, problem):
    with pytest.raises(UnreadableFile) as err:
        read_csv_bytes(data, "f.csv")
    assert err.value.source == "f.csv" and problem in str(err.value)


def test_a_header_only_file_has_no_rows():
    table = read_csv_bytes(b"a,b\n", "f.csv")
    assert len(table.frame) == 0 and table.lines == 0


def test_an_unreadable_file_is_skipped_and_the_summary_says_so(case):
    from mlops_platform.pipelines.reporting.nodes import skipped_lines

    use_case, name, good = case
    _, report = use_case.ingest({name: lambda: good, f"{name}_9": lambda: b""})
    assert list(report["skipped_files"]) == [f"{name}_9.csv"]
    text = "\n".join(skipped_lines(report))
    assert f"{name}_9.csv" in text and "empty file" in text


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    edits=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=13),
            st.sampled_from(["extra", "cut", "blank", "utf8", "empty_field"]),
        ),
        max_size=6,
    )
)
def test_any_mix_of_bad_lines_loses_nothing(retail, edits):
    """Random corruptions of the LGSR fixture: every data line is one row with its
    true number (the contract's rows in = silver + quarantine is checked per
    corruption above; here the reader alone, so many mixes run quickly)."""
    lines = _lines((FIXTURES / "lgsr_quirks.csv").read_bytes())
    for wanted, kind in edits:
        at = min(wanted, len(lines) - 1)
        if kind == "extra":
            lines[at] += b",x"
        elif kind == "cut":
            lines[at] = lines[at][: len(lines[at]) // 2]
        elif kind == "blank":
            lines.insert(at, b"")
        elif kind == "utf8":
            lines[at] = b"\xc3" + lines[at]
        else:
            lines[at] = lines[at].replace(b",", b",,", 1)
    data = _join(lines)
    frame, _ = retail.ingest({"transactions_200610": lambda: data})
    assert sorted(frame[SOURCE_ROW]) == sorted(_data_lines(data))
    fields = lines[0].count(b",") + 1
    expected_bad = set()
    for n, raw in enumerate(data.split(b"\n")[1:], start=2):
        line = raw.rstrip(b"\r")
        if not line:
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            expected_bad.add(n)
        if line.count(b",") + 1 != fields:
            expected_bad.add(n)
    broken = frame[INGEST_ERROR].notna()
    assert set(frame.loc[broken, SOURCE_ROW]) == expected_bad
