"""Fault-injection points for the reliability tests (docs/reliability.md).

Code that must survive a crash at a given step calls :func:`point` with the step's
name. Nothing happens unless the environment asks for it:

- ``MLOPS_FAULT_KILL=<name>``: the process kills itself there with SIGKILL (no
  cleanup, no ``finally``), as an out-of-memory kill or a lost node would;
- ``MLOPS_FAULT_PAUSE=<name>:<seconds>``: it sleeps there, so a test can line up
  two processes at the same step.

The variables are read at each call (a test sets them for one subprocess only).
"""

from __future__ import annotations

import os
import signal
import time


def point(name: str) -> None:
    if os.environ.get("MLOPS_FAULT_KILL") == name:
        os.kill(os.getpid(), signal.SIGKILL)
    pause = os.environ.get("MLOPS_FAULT_PAUSE", "")
    where, _, seconds = pause.partition(":")
    if where == name and seconds:
        time.sleep(float(seconds))
