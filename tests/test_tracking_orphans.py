"""MLflow runs a killed ``kedro run`` left RUNNING are closed by the next run
(issue 12, item 8), on a real MLflow SQLite store.

The owner of a run is a real process that is started and killed here with SIGKILL,
as a killed ``kedro run`` would be; the next run's check is the hook's
:func:`close_orphan_runs`, called directly (the hook's wiring is checked in the
integration test: its run carries the owner tags, and nothing is left RUNNING).
"""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import sys
import time

import mlflow
import pytest
from mlflow import MlflowClient

from mlops_platform.tracking import OWNER_HOST, OWNER_PID, close_orphan_runs


@pytest.fixture
def client(tmp_path) -> MlflowClient:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    yield MlflowClient(uri)
    mlflow.set_tracking_uri(None)


def killed_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    return proc.pid


def test_runs_of_dead_processes_are_closed_and_live_ones_kept(client):
    exp = client.create_experiment("orphans")
    host = platform.node()

    def run(pid: int | None, start_ms: int | None = None, parent: str | None = None):
        tags = {OWNER_HOST: host, OWNER_PID: str(pid)} if pid else {}
        if parent:
            tags["mlflow.parentRunId"] = parent
        return client.create_run(exp, start_time=start_ms, tags=tags).info.run_id

    dead = run(killed_pid())
    child_of_dead = run(None, parent=dead)  # a candidate's nested run
    alive = run(os.getpid())
    untagged_recent = run(None)
    untagged_old = run(None, start_ms=int((time.time() - 2 * 86400) * 1000))
    other_host = client.create_run(
        exp, tags={OWNER_HOST: "elsewhere", OWNER_PID: "1"}
    ).info.run_id
    me = run(os.getpid())

    closed = close_orphan_runs(exp, active_run_id=me)

    assert set(closed) == {dead, child_of_dead, untagged_old}
    status = {r: client.get_run(r).info.status for r in (dead, child_of_dead)}
    assert status == {dead: "FAILED", child_of_dead: "FAILED"}
    assert "is gone" in client.get_run(dead).data.tags["mlops.closed_by"]
    for kept in (alive, untagged_recent, other_host, me):
        assert client.get_run(kept).info.status == "RUNNING"
    assert close_orphan_runs(exp, active_run_id=me) == []  # nothing left to close
