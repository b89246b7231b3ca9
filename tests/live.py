"""Processes a test starts: waiting for one to answer over HTTP on loopback, and
stopping one with everything it started."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 120) -> bytes:
    """The body of the first 2xx answer from ``url``; fails if ``proc`` exits first
    or nothing answers in ``timeout`` seconds (a 4xx/5xx answer, such as /ready's
    503 while models load, counts as not yet)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args!r} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 (loopback)
                return r.read()
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer in {timeout} s")


@contextlib.contextmanager
def process_group(args: list[str], **popen: Any) -> Iterator[subprocess.Popen]:
    """``args`` started in a session (and process group) of its own; on exit the whole
    group is stopped and waited for. A command such as ``kedro jupyter lab`` or
    ``mlflow ui`` starts the server as its child: terminating the command alone left
    that child serving after the suite ended (a JupyterLab was found so)."""
    proc = subprocess.Popen(args, start_new_session=True, **popen)
    try:
        yield proc
    finally:
        stop_group(proc)


def stop_group(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM to ``proc``'s process group, SIGKILL to what is left after
    ``timeout`` seconds; returns when no process of the group is left."""
    group = proc.pid  # a session leader's group id is its pid
    _signal_group(group, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _signal_group(group, signal.SIGKILL)
        proc.wait()
    while _group_alive(group):
        if time.monotonic() > deadline:
            _signal_group(group, signal.SIGKILL)
            deadline = time.monotonic() + timeout
        time.sleep(0.1)


def _signal_group(group: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, sig)


def _group_alive(group: int) -> bool:
    """Whether a live process (not a zombie waiting for its parent) is in ``group``
    (Linux: read from /proc)."""
    return bool(group_members(group))


def group_members(group: int) -> list[int]:
    """The pids of the live processes in process group ``group``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # gone meanwhile
            continue
        state, _ppid, pgrp = text.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == group and state != "Z":
            found.append(int(stat.parent.name))
    return found
