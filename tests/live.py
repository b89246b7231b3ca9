"""Waiting for a process the test started to answer over HTTP on loopback."""

from __future__ import annotations

import subprocess
import time
import urllib.request


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
