"""The tests' own process handling (tests/live.py): a command that serves from a
child process must leave nothing running once its test ends."""

from __future__ import annotations

import subprocess
import sys

from tests.live import group_members, process_group, stop_group

# a command as `kedro jupyter lab` and `mlflow ui` are: it starts the server as a
# child, prints the child's pid here, and waits
PARENT = (
    "import subprocess, sys, time; "
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); "
    "print(child.pid, flush=True); time.sleep(120)"
)


def _start(**popen) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True, **popen
    )
    return proc, int(proc.stdout.readline())


def test_terminating_the_command_alone_leaves_its_child_running():
    """The defect process_group exists for (and this test's own cleanup by it)."""
    proc, child = _start(start_new_session=True)
    try:
        proc.terminate()
        proc.wait(timeout=30)
        assert child in group_members(proc.pid)
    finally:
        stop_group(proc)
        proc.stdout.close()
    assert group_members(proc.pid) == []


def test_process_group_stops_the_command_and_its_child():
    with process_group([sys.executable, "-c", PARENT], stdout=subprocess.PIPE,
                       text=True) as proc:  # fmt: skip
        child = int(proc.stdout.readline())
        assert set(group_members(proc.pid)) == {proc.pid, child}
        proc.stdout.close()
    assert group_members(proc.pid) == []
    assert proc.returncode is not None
