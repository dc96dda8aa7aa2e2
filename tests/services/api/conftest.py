"""Fixtures for the website tests: a live server for the app and a headless Chromium."""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.services.api.browser import CHROMIUM_ARGS, require_assets, require_chromium


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:
        """Keep test output free of one line per request."""


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    require_assets()
    with sync_playwright() as playwright:
        executable = require_chromium(playwright)
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser(chromium):
    """A fresh browser context (its own cookies), which lets axe-core be injected."""
    context = chromium.new_context(bypass_csp=True, viewport={"width": 1000, "height": 1200})
    context.set_default_timeout(10_000)
    yield context
    context.close()
