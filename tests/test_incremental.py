"""Incremental data_engineering (docs/incremental.md): the ledger reads only new and
changed raw files, gold is rebuilt from the first changed period, and the result is
the full refresh's, byte for byte.

Harness: the project's own catalog (conf/base/catalog.yml, its factories and lake
datasets) and the registered ``<use case>.data_engineering`` pipelines run in this
process with Kedro's SequentialRunner, in a scratch copy of the project (the working
directory is the scratch project, as under ``kedro run``). What that substitutes,
the Kedro session and its hooks, is run by ``kedro run`` itself in
tests/test_integration.py (the same pipelines over the same catalog).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from mlops_platform.lake import LakeTable, read_gold
from mlops_platform.params import DataEngineeringParams
from mlops_platform.pipeline_registry import register_pipelines
from mlops_platform.scratch import scratch_project
from mlops_platform.use_cases.retail import RetailUseCase
from mlops_platform.use_cases.retail.features import online_tables

REPO = Path(__file__).resolve().parents[1]


def run_data_engineering(
    project: Path,
    use_case: str = "retail",
    full_refresh: bool = False,
    to_node: str | None = None,
    max_batch_mb: float | None = None,
) -> dict[str, Any]:
    """``kedro run --pipeline <use_case>.data_engineering [--to-nodes ...]`` in
    process; returns the reports it wrote."""
    loader = OmegaConfigLoader(
        conf_source=str(project / "conf"), base_env="base", default_run_env="local"
    )
    catalog = DataCatalog.from_config(loader["catalog"], loader["credentials"])
    params = dict(loader["parameters"][use_case]["data_engineering"])
    params["full_refresh"] = full_refresh
    params["max_batch_mb"] = max_batch_mb
    # the typed parameters, as the session's validation hands them to the node
    catalog[f"params:{use_case}.data_engineering"] = MemoryDataset(
        DataEngineeringParams(**params)
    )
    here = os.getcwd()
    os.chdir(project)  # the catalog's paths are relative to the project
    try:
        stage = register_pipelines()[f"{use_case}.data_engineering"]
        if to_node:
            stage = stage.to_nodes(f"{use_case}.{to_node}")
        SequentialRunner().run(stage, catalog)
    finally:
        os.chdir(here)
    reports = project / "data" / "reports" / use_case
    return {
        name: json.loads((reports / f"{name}.json").read_text())
        for name in ("ingest", "silver", "gold")
        if (reports / f"{name}.json").exists()
    }


def lake(project: Path, path: str) -> LakeTable:
    return LakeTable.open(str(project / "data" / path))


def part_bytes(table: LakeTable) -> dict[str, bytes | None]:
    return {name: table.part_bytes(name) for name in table.names()}


def deliver(project: Path, weeks: Path, names: list[str]) -> None:
    raw = project / "data" / "raw" / "retail"
    raw.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(weeks / f"transactions_{name}.csv", raw)


def two_files_a_batch(project: Path, weeks: list[str]) -> float:
    """A ``max_batch_mb`` that takes the first two of these delivered weeks, not the
    third (weeks as ``YYYYWW``)."""
    raw = project / "data/raw/retail"
    sizes = [(raw / f"transactions_{w}.csv").stat().st_size for w in weeks[:3]]
    return (sizes[0] + sizes[1] + sizes[2] // 2) / 1e6


def correct(path: Path) -> None:
    """A re-delivered file: the spend of its first ten lines corrected upwards."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[:9, "SPEND"] = [f"{float(v) + 1.25:.2f}" for v in frame.loc[:9, "SPEND"]]
    frame.to_csv(path, index=False)


def test_weekly_runs_give_the_gold_of_a_full_refresh_byte_for_byte(
    tmp_path: Path, weeks: Path
) -> None:
    incremental = scratch_project(REPO, tmp_path / "a")
    names = sorted(
        p.stem.removeprefix("transactions_") for p in weeks.glob("transactions_*.csv")
    )
    deliver(incremental, weeks, names[:4])
    first = run_data_engineering(incremental)
    assert first["ingest"]["incremental"]["new"] == [
        f"transactions_{n}" for n in names[:4]
    ]
    assert first["gold"]["mode"] == "full"

    # nothing new: nothing read, nothing rebuilt, nothing committed
    silver_version = lake(incremental, "silver/retail/records").version
    gold_version = lake(incremental, "gold/retail/table").version
    again = run_data_engineering(incremental)
    assert again["ingest"]["rows"] == 0 and again["gold"]["mode"] == "unchanged"
    assert lake(incremental, "silver/retail/records").version == silver_version
    assert lake(incremental, "gold/retail/table").version == gold_version

    # one new week at a time: only that file is read, only that week is built
    for name in names[4:]:
        deliver(incremental, weeks, [name])
        step = run_data_engineering(incremental)
        assert step["ingest"]["incremental"]["new"] == [f"transactions_{name}"]
        assert step["ingest"]["incremental"]["unchanged"] >= 4
        assert step["gold"]["mode"] == "incremental"
        assert step["gold"]["periods_rebuilt"] == [int(name)]

    full = scratch_project(REPO, tmp_path / "b")
    deliver(full, weeks, names)
    refreshed = run_data_engineering(full, full_refresh=True)
    assert refreshed["gold"]["mode"] == "full"
    gold_a = part_bytes(lake(incremental, "gold/retail/table"))
    gold_b = part_bytes(lake(full, "gold/retail/table"))
    assert sorted(gold_a) == sorted(gold_b)
    assert len([n for n in gold_a if n.startswith("gold/")]) == 6
    assert sorted(n for n in gold_a if n.startswith("latest/")) == [
        "latest/customers",
        "latest/products",
        "latest/stores",
    ]
    # state parts: the customers' states, and the products and stores seen, a week
    states = ("state/customers", "state/products", "state/stores")
    assert sorted(n.rsplit("/", 1)[0] for n in gold_a if n.startswith("state/")) == [
        s for s in states for _ in range(6)
    ]
    different = [n for n in gold_a if gold_a[n] != gold_b[n]]
    assert not different, f"parts that differ: {different}"
    assert part_bytes(lake(incremental, "silver/retail/records")) == part_bytes(
        lake(full, "silver/retail/records")
    )
    appended = gold_a

    # a corrected (re-delivered) week 3: detected by its content, that week and every
    # later one rebuilt (their customer history includes it), the rest kept
    for project in (incremental, full):
        correct(project / "data/raw/retail" / f"transactions_{names[2]}.csv")
    fixed = run_data_engineering(incremental)
    assert fixed["ingest"]["incremental"]["changed"] == [f"transactions_{names[2]}"]
    assert fixed["ingest"]["incremental"]["new"] == []
    assert fixed["gold"]["periods_rebuilt"] == [int(n) for n in names[2:]]
    refreshed = run_data_engineering(full, full_refresh=True)
    gold_a = part_bytes(lake(incremental, "gold/retail/table"))
    gold_b = part_bytes(lake(full, "gold/retail/table"))
    assert gold_a == gold_b
    # the till's tables from the stored states are those of a pass over all of gold
    silver, gold = (
        lake(incremental, "silver/retail/records"),
        lake(incremental, "gold/retail/table"),
    )
    stored = RetailUseCase().online_tables(silver, gold)["tables"]
    recomputed = online_tables(silver.read(), read_gold(gold))["tables"]

    def plain(frame: pd.DataFrame) -> pd.DataFrame:  # None and NaN: both missing
        frame = frame.sort_index().astype(object)
        return frame.where(frame.notna(), None)

    for entity, table in recomputed.items():
        pd.testing.assert_frame_equal(plain(stored[entity]), plain(table))
    changed = sorted(n for n in gold_a if gold_a[n] != appended[n])
    # the corrected week and every later one (the customers' states carry it on);
    # the products and stores seen are the same (only spends were corrected)
    assert changed == sorted(
        [
            *(f"{kind}/{n}" for kind in ("gold", "state/customers") for n in names[2:]),
            "latest/customers",  # the compacted state the next week starts from
        ]
    ), changed


def test_a_touched_file_is_hashed_and_kept_and_a_removed_file_leaves(
    tmp_path: Path, weeks: Path
) -> None:
    project = scratch_project(REPO, tmp_path / "p")
    names = sorted(
        p.stem.removeprefix("transactions_") for p in weeks.glob("transactions_*.csv")
    )
    deliver(project, weeks, names[:4])
    run_data_engineering(project)
    before = part_bytes(lake(project, "gold/retail/table"))
    # the same bytes written again (a re-sent file): the stamp changes, the hash not
    raw = project / "data/raw/retail"
    target = raw / f"transactions_{names[1]}.csv"
    target.write_bytes(target.read_bytes())
    os.utime(target, (1_900_000_000, 1_900_000_000))
    same = run_data_engineering(project)
    assert same["ingest"]["incremental"]["touched"] == [f"transactions_{names[1]}"]
    assert same["ingest"]["incremental"]["changed"] == []
    assert same["gold"]["mode"] == "unchanged"
    entry = lake(project, "silver/retail/records").parts[f"transactions_{names[1]}"]
    assert entry["modified"] == f"mtime:{os.stat(target).st_mtime!r}"
    # the newest week withdrawn: its silver part, gold and state parts go
    (raw / f"transactions_{names[3]}.csv").unlink()
    gone = run_data_engineering(project)
    assert gone["ingest"]["incremental"]["removed"] == [f"transactions_{names[3]}"]
    silver = lake(project, "silver/retail/records")
    assert f"transactions_{names[3]}" not in silver.parts
    gold = lake(project, "gold/retail/table")
    assert not [n for n in gold.parts if n.endswith(f"/{names[3]}")]
    # the other weeks' parts are untouched; the compacted latest state is now week 3's
    kept = [n for n in gold.names() if not n.startswith("latest/")]
    assert {n: before[n] for n in kept} == {n: gold.part_bytes(n) for n in kept}
    customers = gold.read(["latest/customers"])
    assert customers["shop_week"].max() == int(names[2])


def test_a_changed_data_contract_validates_every_file_again(
    tmp_path: Path, weeks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Silver's ledger records the contract it validated under (its digest); rows
    of earlier runs checked by another definition are checked again, so a
    tightened rule reaches the weeks already in silver, not only new files."""
    import dataclasses

    from mlops_platform.use_cases import USE_CASES

    project = scratch_project(REPO, tmp_path / "c")
    names = sorted(
        p.stem.removeprefix("transactions_") for p in weeks.glob("transactions_*.csv")
    )
    deliver(project, weeks, names[:3])
    run_data_engineering(project)
    same = run_data_engineering(project)
    assert same["ingest"]["incremental"]["reason"] == "incremental"
    retail = USE_CASES["retail"]
    spend = lake(project, "silver/retail/records").read(columns=["SPEND"])["SPEND"]
    limit = float(spend.quantile(0.99))  # about 1% of every week's lines above it
    stricter = dataclasses.replace(
        retail.contract,
        columns=tuple(
            dataclasses.replace(c, max_value=limit) if c.name == "SPEND" else c
            for c in retail.contract.columns
        ),
    )
    monkeypatch.setattr(retail, "contract", stricter)
    again = run_data_engineering(project)
    assert again["ingest"]["incremental"]["full_refresh"] is True
    assert (
        "data contract 'retail_lgsr_transactions' changed"
        in (again["ingest"]["incremental"]["reason"])
    )
    bad = lake(project, "silver/retail/quarantine").read()
    over = bad[bad["quarantine_reason"].str.contains("SPEND: outside")]
    assert set(over["source_file"].str[:19]) == {
        f"transactions_{n}" for n in names[:3]
    }  # every week's rows over the new limit, not only a new week's
    assert len(over) == int((spend > limit).sum())
    settled = run_data_engineering(project)  # the new definition is now silver's
    assert settled["ingest"]["incremental"]["reason"] == "incremental"


def test_a_duplicate_of_a_review_read_in_an_earlier_run_is_quarantined(
    tmp_path: Path,
) -> None:
    """Rules between rows of different files (sentiment's duplicate review) see the
    rows silver keeps from files read by earlier runs, not only the new batch."""
    project = scratch_project(REPO, tmp_path / "s")
    raw = project / "data/raw/sentiment"
    raw.mkdir(parents=True)

    def day(name: str, texts: list[str]) -> None:
        frame = pd.DataFrame(
            {
                "review": texts,
                "sentiment": [
                    "positive" if i % 2 else "negative" for i in range(len(texts))
                ],
            }
        )
        frame.to_csv(raw / f"reviews_{name}.csv", index=False)

    words = "plot acting score pacing ending cast script camera".split()
    first = [
        f"Review {i}: the {words[i % 8]} was {'good' if i % 2 else 'poor'}."
        for i in range(40)
    ]
    day("20261101", first)
    run_data_engineering(project, "sentiment", to_node="build_gold_table")
    day(
        "20261102",
        [f"Another review {i}, about the {words[i % 8]}." for i in range(39)]
        + [first[3]],
    )
    report = run_data_engineering(project, "sentiment", to_node="build_gold_table")
    # sentiment's raw entry takes every file (no suffix): keys keep theirs
    assert report["ingest"]["incremental"]["new"] == ["reviews_20261102.csv"]
    bad = lake(project, "silver/sentiment/quarantine").read()
    assert len(bad) == 1
    assert (
        "same text as reviews_20261101.csv line 5" in bad["quarantine_reason"].iloc[0]
    )
    silver = lake(project, "silver/sentiment/records")
    assert silver.parts["reviews_20261102.csv"]["rows"] == 39
    assert silver.parts["reviews_20261102.csv"]["quarantined"] == 1
    # what the check read of earlier runs: each review's digest, not its text
    from mlops_platform.use_cases.sentiment import schema

    earlier = {c for check in schema.SENTIMENT_CONTRACT.row_checks
               for c in check.across_files}  # fmt: skip
    assert schema.REVIEW not in earlier and schema.REVIEW_DIGEST in earlier
    kept = silver.read(columns=[schema.REVIEW, schema.REVIEW_DIGEST])
    assert kept[schema.REVIEW_DIGEST].tolist() == [
        hashlib.sha256(t.strip().encode()).hexdigest() for t in kept[schema.REVIEW]
    ]


@pytest.mark.parametrize(
    "kill_at",
    [
        "lake.quarantine.manifest_written",  # quarantine committed, the ledger not
        "lake.records.parts_written",  # silver parts written, the manifest not
        "lake.records.manifest_written",  # silver and ledger committed, gold not
        "lake.table.parts_written",
        "lake.table.manifest_written",  # gold committed, the online store not
    ],
)
def test_a_run_killed_at_a_commit_leaves_a_lake_the_next_run_completes(
    tmp_path: Path, weeks: Path, kill_at: str
) -> None:
    """Fault injection (SIGKILL at the point, mlops_platform.faults): the tables
    stay readable (their manifests name only files that exist), the next run
    finishes the week, and gold is the full refresh's byte for byte with no
    stray part file."""
    names = sorted(
        p.stem.removeprefix("transactions_") for p in weeks.glob("transactions_*.csv")
    )
    project = scratch_project(REPO, tmp_path / "p")
    deliver(project, weeks, names[:4])
    run_data_engineering(project)
    deliver(project, weeks, names[4:5])
    script = (
        "import sys; from pathlib import Path; "
        "from tests.test_incremental import run_data_engineering; "
        "run_data_engineering(Path(sys.argv[1]))"
    )
    env = {**os.environ, "MLOPS_FAULT_KILL": kill_at}
    killed = subprocess.run(
        [sys.executable, "-c", script, str(project)], cwd=REPO, env=env, check=False
    )
    assert killed.returncode == -signal.SIGKILL, killed.returncode
    for path in (
        "silver/retail/records",
        "silver/retail/quarantine",
        "gold/retail/table",
    ):
        table = lake(project, path)
        for name in table.names():
            table.part_bytes(name)  # every named file is there
    run_data_engineering(project)
    full = scratch_project(REPO, tmp_path / "full")
    deliver(full, weeks, names[:5])
    run_data_engineering(full, full_refresh=True)
    for path in (
        "silver/retail/records",
        "silver/retail/quarantine",
        "gold/retail/table",
    ):
        assert part_bytes(lake(project, path)) == part_bytes(lake(full, path)), path
        named = {e["file"] for e in lake(project, path).parts.values() if e.get("file")}
        present = {
            f"parts/{p.name}" for p in (project / "data" / path / "parts").glob("*")
        }
        assert present == named, path


def test_parking_days_added_one_run_at_a_time_give_the_full_refresh_gold(
    tmp_path: Path,
) -> None:
    """A use case whose gold rows reach across periods (parking: a late origin's
    target is the next day's reading, a window and "yesterday" reach back): the day
    before the first new one is rebuilt, from two days of context, and gold is the
    full refresh's byte for byte."""
    from mlops_platform.datagen.parking import ParkingConfig, generate

    days = tmp_path / "days"
    generate(ParkingConfig(seed=3, days=8, car_parks=2), days)
    files = sorted(days.glob("readings_*.csv"))
    project = scratch_project(REPO, tmp_path / "a")
    raw = project / "data/raw/parking"
    raw.mkdir(parents=True)
    for f in files[:5]:
        shutil.copy(f, raw)
    first = run_data_engineering(project, "parking", to_node="build_gold_table")
    assert first["gold"]["mode"] == "full"
    for f in files[5:]:
        shutil.copy(f, raw)
        step = run_data_engineering(project, "parking", to_node="build_gold_table")
        assert step["gold"]["mode"] == "incremental", step["gold"]
        new_day = int(f.stem.removeprefix("readings_"))
        # the day before is rebuilt too (its late origins' targets are today's)
        assert step["gold"]["periods_rebuilt"][-1] == new_day
        assert len(step["gold"]["periods_rebuilt"]) == 2, step["gold"]
    full = scratch_project(REPO, tmp_path / "b")
    shutil.copytree(raw, full / "data/raw/parking", dirs_exist_ok=True)
    run_data_engineering(full, "parking", full_refresh=True, to_node="build_gold_table")
    gold_a = part_bytes(lake(project, "gold/parking/table"))
    gold_b = part_bytes(lake(full, "gold/parking/table"))
    assert sorted(gold_a) == sorted(gold_b) and len(gold_a) == 8
    assert [n for n in gold_a if gold_a[n] != gold_b[n]] == []


def test_a_backlog_in_batches_gives_the_full_refresh_gold_byte_for_byte(
    tmp_path: Path, weeks: Path
) -> None:
    """``data_engineering.max_batch_mb``: each run takes the new files in key order up
    to the limit (at least one) and defers the rest; a full refresh asked for resets
    silver and gold to the first batch, and the later batches add to them. The end
    is the one-pass full refresh, byte for byte (what ``mlops_platform.backfill``
    runs; its sessions and MLflow runs: tests/test_backfill.py)."""
    names = sorted(
        f"transactions_{p.stem.removeprefix('transactions_')}"
        for p in weeks.glob("transactions_*.csv")
    )
    batched = scratch_project(REPO, tmp_path / "a")
    deliver(batched, weeks, [n.removeprefix("transactions_") for n in names])
    run_data_engineering(batched)  # a lake with every week, to be refreshed
    # batches of 2, 2, 2
    limit = two_files_a_batch(batched, [n.removeprefix("transactions_") for n in names])
    seen = []
    while True:
        step = run_data_engineering(
            batched,
            full_refresh=not seen,
            to_node="build_gold_table",
            max_batch_mb=limit,
        )
        done = step["ingest"]["incremental"]
        seen.append(done["new"] + done["changed"])
        if len(seen) == 1:  # the reset: silver and gold hold the first batch only
            assert done["full_refresh"] and step["gold"]["mode"] == "full"
            assert lake(batched, "silver/retail/records").names() == names[:2]
            gold = lake(batched, "gold/retail/table")
            assert len([n for n in gold.names() if n.startswith("gold/")]) == 2
        else:
            assert step["gold"]["mode"] == "incremental"
        assert done["deferred"] == names[2 * len(seen) :]
        if not done["deferred"]:
            break
    assert seen == [names[0:2], names[2:4], names[4:6]]
    # smaller than any file: one file a run, never none
    one = scratch_project(REPO, tmp_path / "c")
    deliver(one, weeks, [n.removeprefix("transactions_") for n in names[:2]])
    first = run_data_engineering(one, to_node="build_gold_table", max_batch_mb=1e-6)
    assert first["ingest"]["incremental"]["new"] == names[:1]
    assert first["ingest"]["incremental"]["deferred"] == names[1:2]

    full = scratch_project(REPO, tmp_path / "b")
    deliver(full, weeks, [n.removeprefix("transactions_") for n in names])
    run_data_engineering(full, full_refresh=True, to_node="build_gold_table")
    for table in ("gold/retail/table", "silver/retail/records"):
        a, b = part_bytes(lake(batched, table)), part_bytes(lake(full, table))
        assert sorted(a) == sorted(b)
        assert [n for n in a if a[n] != b[n]] == [], table
