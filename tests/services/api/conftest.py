"""Fixtures for the API and website tests: a live server for the app, a headless Chromium,
counting rows and opening a profile by its emailed link."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from werkzeug.serving import WSGIRequestHandler, make_server

from partnermatch.shared.db.models import Profile
from partnermatch.shared.notifications import links
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


@pytest.fixture
def count(app):
    """count(Model) is how many rows the app's database holds (profiles by default)."""

    def rows(model=Profile) -> int:
        with app.extensions["partnermatch"].sessions() as session:
            return session.scalar(select(func.count()).select_from(model))

    return rows


@pytest.fixture
def open_link(app):
    """open_link(profile) is the path of the emailed link that opens the profile's page."""

    def path(profile: Profile) -> str:
        return "/open/" + links.sign(app.config["SECRET_KEY"], links.MANAGE,
                                     {"p": profile.id, "e": profile.contact_email})

    return path
