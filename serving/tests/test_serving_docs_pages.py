"""The API's documentation pages render with no network: a real uvicorn server on
loopback, and Debian's Chromium, headless, with every other host unresolvable
(tests/browser.py), so a page that needs a CDN renders nothing. Where no Chromium
can be installed the browser tests skip and say so; the page-source checks below
still run."""

from __future__ import annotations

import re

import httpx2 as httpx
import pytest
from conftest import live_server

from tests.browser import needs_browser, render


@pytest.fixture(scope="module")
def base(tmp_path_factory, trained):
    """A real server with the retail model of the serving fixtures loaded."""
    from conftest import publish_bundle

    store = tmp_path_factory.mktemp("docs-store")
    publish_bundle(trained, store)
    log = tmp_path_factory.mktemp("docs-log") / "server.log"
    with live_server(store, log) as url:
        yield url


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_pages_load_nothing_from_another_host(base, page):
    html = httpx.get(base + page, timeout=10).text
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources, html
    assert all(s.startswith("/") for s in sources), sources
    for source in sources:
        got = httpx.get(base + source, timeout=10)
        assert got.status_code == 200 and len(got.content) > 1000, source


@needs_browser
def test_swagger_ui_renders_every_operation_offline(base):
    dom = render(base + "/docs")
    paths = set(re.findall(r'class="opblock-summary-path" data-path="([^"]+)"', dom))
    assert {"/v1/retail/predict", "/v1/models", "/health", "/ready"} <= paths, dom[
        :2000
    ]


@needs_browser
def test_redoc_renders_every_operation_offline(base):
    dom = render(base + "/redoc")
    assert "retail: predict one record or a batch" in dom, dom[:2000]
    # the request body's fields, with their descriptions from the bundle's schema
    assert "share of the basket&#39;s spend in division" in dom or (
        "share of the basket's spend in division" in dom
    )
