"""``python -m mlops_platform.backfill``: a backlog through data_engineering in batches
of bounded size, each batch a Kedro session (with the project's hooks and
kedro-mlflow) in one process, then the rest of the pipeline once.

This is the part tests/test_incremental.py substitutes (it runs the pipeline with
Kedro's runner, without sessions): here the real command runs in a scratch copy of
the project, and its batches, MLflow runs and final gold are checked. That the
batches give the one-pass full refresh's gold byte for byte is
tests/test_incremental.py's; this test compares the command's gold with it too.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from mlops_platform.offline import OFFLINE_ENV
from mlops_platform.scratch import scratch_project

from .conftest import REPO
from .test_incremental import (
    deliver,
    lake,
    part_bytes,
    run_data_engineering,
    two_files_a_batch,
)


def backlog(root: Path, weeks: Path) -> tuple[Path, list[str]]:
    """A scratch project with the first five weeks delivered, and their names."""
    project = scratch_project(REPO, root)
    names = sorted(
        p.stem.removeprefix("transactions_") for p in weeks.glob("transactions_*.csv")
    )[:5]
    deliver(project, weeks, names)
    return project, names


def test_the_backfill_command_runs_batches_as_sessions_and_ends_each_mlflow_run(
    tmp_path: Path, weeks: Path
) -> None:
    project, names = backlog(tmp_path / "p", weeks)
    limit = two_files_a_batch(project, names)
    env = {
        **os.environ,
        **OFFLINE_ENV,
        "KEDRO_LOGGING_CONFIG": str(REPO / "conf/logging.yml"),
        "COLUMNS": "300",
    }
    proc = subprocess.run(  # noqa: PLW1510 (the assert below reports the output)
        [sys.executable, "-m", "mlops_platform.backfill", "retail",
         "--batch-mb", str(limit), "--full-refresh"],
        cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    batches = re.findall(r"retail backfill, batch (\d+): (\d+) file\(s\)", out)
    assert batches == [("1", "2"), ("2", "2"), ("3", "1")], out[-3000:]
    assert "retail backfill: 5 file(s) in 3 batch(es)" in out

    # one MLflow run a batch and one for the rest, every one ended
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{project}/data/mlflow/mlflow.db")
    experiments = client.search_experiments()
    runs = client.search_runs(
        [e.experiment_id for e in experiments], order_by=["attributes.start_time"]
    )
    assert len(runs) == 4, [r.info.run_name for r in runs]
    assert {r.info.status for r in runs} == {"FINISHED"}
    logged = [
        tuple(
            r.data.params.get(f"retail.data_engineering.{k}")
            for k in ("full_refresh", "max_batch_mb")
        )
        for r in runs
    ]
    # the reset with the first batch only; the rest (it reads no raw file) with the
    # batches' values, as a compiled step's sessions sharing one MLflow run need
    assert logged == [
        ("True", str(limit)),
        ("False", str(limit)),
        ("False", str(limit)),
        ("False", str(limit)),
    ], logged

    # the rest ran once over everything: the training split and the online tables
    for name in ("train", "validation", "test", "latest"):
        assert (project / f"data/gold/retail/{name}.parquet").exists()
    assert list((project / "data/models/features/retail").glob("*.sqlite"))

    full = scratch_project(REPO, tmp_path / "b")
    deliver(full, weeks, names)
    run_data_engineering(full, full_refresh=True, to_node="build_gold_table")
    a = part_bytes(lake(project, "gold/retail/table"))
    b = part_bytes(lake(full, "gold/retail/table"))
    assert sorted(a) == sorted(b)
    assert [n for n in a if a[n] != b[n]] == []


def test_a_backfill_killed_after_a_batch_is_finished_by_running_it_again(
    tmp_path: Path, weeks: Path
) -> None:
    """Fault injection (SIGKILL as the first batch's gold commit lands, mlops_platform.
    faults): the command run again without ``--full-refresh`` goes on from the
    ledger, and the gold is the one-pass full refresh's."""
    project, names = backlog(tmp_path / "p", weeks)
    limit = str(two_files_a_batch(project, names))
    env = {**os.environ, **OFFLINE_ENV, "COLUMNS": "300"}
    command = [sys.executable, "-m", "mlops_platform.backfill", "retail"]
    killed = subprocess.run(  # noqa: PLW1510 (the return code is the check)
        [*command, "--batch-mb", limit, "--full-refresh"],
        cwd=project, env={**env, "MLOPS_FAULT_KILL": "lake.table.manifest_written"},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stdout[-2000:]
    assert sorted(lake(project, "silver/retail/records").names()) == [
        f"transactions_{n}" for n in names[:2]
    ]
    again = subprocess.run(  # noqa: PLW1510 (the assert below reports the output)
        [*command, "--batch-mb", limit],
        cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    out = again.stdout + again.stderr
    assert again.returncode == 0, out[-4000:]
    assert "retail backfill: 3 file(s) in 2 batch(es)" in out, out[-3000:]
    full = scratch_project(REPO, tmp_path / "b")
    deliver(full, weeks, names)
    run_data_engineering(full, full_refresh=True, to_node="build_gold_table")
    for table in ("gold/retail/table", "silver/retail/records"):
        a, b = part_bytes(lake(project, table)), part_bytes(lake(full, table))
        assert sorted(a) == sorted(b) and [n for n in a if a[n] != b[n]] == [], table


def test_a_full_refresh_backfill_killed_between_its_first_commits_goes_on_without_it(
    tmp_path: Path, weeks: Path
) -> None:
    """Fault injection at the first batch's quarantine commit (the ledger not yet
    moved) of a full refresh in batches over an existing lake, with broken lines in
    every file. The command run again without ``--full-refresh`` must end with the
    one-pass refresh's silver, gold and quarantine: the batch kept the quarantine
    parts of the files it deferred."""
    project, names = backlog(tmp_path / "p", weeks)
    raw = project / "data/raw/retail"
    for n in names:  # one line a file with a negative quantity: quarantined
        path = raw / f"transactions_{n}.csv"
        lines = path.read_text().split("\n")
        fields = lines[5].split(",")
        fields[lines[0].split(",").index("QUANTITY")] = "-1"
        lines[5] = ",".join(fields)
        path.write_text("\n".join(lines))
    run_data_engineering(project)  # the lake to refresh
    before = part_bytes(lake(project, "silver/retail/quarantine"))
    assert len([n for n, b in before.items() if b]) == 5
    limit = str(two_files_a_batch(project, names))
    env = {**os.environ, **OFFLINE_ENV, "COLUMNS": "300"}
    command = [sys.executable, "-m", "mlops_platform.backfill", "retail"]
    killed = subprocess.run(  # noqa: PLW1510 (the return code is the check)
        [*command, "--batch-mb", limit, "--full-refresh"],
        cwd=project,
        env={**env, "MLOPS_FAULT_KILL": "lake.quarantine.manifest_written"},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stdout[-2000:]
    again = subprocess.run(  # noqa: PLW1510 (the assert below reports the output)
        [*command, "--batch-mb", limit],
        cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
    full = scratch_project(REPO, tmp_path / "b")
    shutil.copytree(raw, full / "data/raw/retail", dirs_exist_ok=True)
    run_data_engineering(full, full_refresh=True, to_node="build_gold_table")
    for table in (
        "silver/retail/quarantine",
        "silver/retail/records",
        "gold/retail/table",
    ):
        a, b = part_bytes(lake(project, table)), part_bytes(lake(full, table))
        assert sorted(a) == sorted(b) and [n for n in a if a[n] != b[n]] == [], table


def test_in_a_compiled_step_one_batch_and_the_rest_log_into_the_given_run(
    tmp_path: Path, weeks: Path
) -> None:
    """An ordinary day of the compiled data_engineering step (``step.py --batch-mb``):
    the new files fit one batch, and both sessions (the batch, then the split and
    the online tables) log into the execution's run, named by ``MLFLOW_RUN_ID``.
    mlflow.start_run deletes that variable once it has read it, so without the loop
    setting it again the second session made a top-level run of its own. The step
    itself runs the loop in tests/aws/test_sagemaker.py (there with several
    batches); here the command stands in for it, with the variable the step sets."""
    import mlflow

    project = scratch_project(REPO, tmp_path / "p")
    names = sorted(
        p.stem.removeprefix("transactions_") for p in weeks.glob("transactions_*.csv")
    )[:3]  # the split needs 3 weeks
    deliver(project, weeks, names)
    client = mlflow.MlflowClient(f"sqlite:///{project}/data/mlflow/mlflow.db")
    experiment = client.create_experiment(
        "mlops_platform", artifact_location=(tmp_path / "artifacts").as_uri()
    )
    execution = client.create_run(experiment, run_name="the execution's run")
    env = {
        **os.environ,
        **OFFLINE_ENV,
        "KEDRO_LOGGING_CONFIG": str(REPO / "conf/logging.yml"),
        "COLUMNS": "300",
        "MLFLOW_RUN_ID": execution.info.run_id,
    }
    proc = subprocess.run(  # noqa: PLW1510 (the assert below reports the output)
        [sys.executable, "-m", "mlops_platform.backfill", "retail", "--batch-mb",
         "1000"],
        cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "retail backfill: 3 file(s) in 1 batch(es)" in out
    runs = client.search_runs([experiment])
    assert [r.info.run_id for r in runs] == [execution.info.run_id], [
        (r.info.run_name, r.data.tags.get("mlflow.parentRunId")) for r in runs
    ]
    (run,) = runs
    assert run.data.params["retail.data_engineering.max_batch_mb"] == "1000.0"
    assert run.info.status == "FINISHED"
    assert (project / "data/gold/retail/train.parquet").exists()  # the rest ran
