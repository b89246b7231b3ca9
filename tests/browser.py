"""Debian's Chromium, headless, for tests that check what a person sees in a page.

Every host name except the loopback address is unresolvable
(``--host-resolver-rules``): a page that needs a CDN or any other host renders
nothing, so a rendered page proves it works offline. `make test` installs Chromium
where apt-get can (the Makefile's ``browser`` target); elsewhere these tests skip and
say so.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")

needs_browser = pytest.mark.skipif(
    BROWSER is None,
    reason="no Chromium on this machine (make test installs Debian's `chromium` "
    "where apt-get runs as root; here it could not)",
)


def render(url: str, budget_ms: int = 15_000) -> str:
    """The page's DOM after its scripts ran (``--dump-dom``), offline but for
    loopback."""
    assert BROWSER is not None
    out = subprocess.run(
        [
            BROWSER,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--window-size=1600,1000",
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            f"--virtual-time-budget={budget_ms}",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    return out.stdout
