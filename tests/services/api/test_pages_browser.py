"""The pages reached from emails, in a real headless Chromium driven by Playwright."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from config.settings import PROJECT_ROOT
from shared import links
from shared.candidates import CandidateIndex
from shared.db import transaction
from shared.demo import seed_demo
from shared.matchmaking import match_event
from shared.models import OutboxEvent, Profile
from shared.profiles import create_profile
from tests.services.api.helpers import council_body

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="needs Debian's chromium (.ci/run installs it)")


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def matched_profile(app) -> str:
    """Store a Leeds profile and match it against the demo councils, in process."""
    runtime = app.extensions["partnermatch"]
    with transaction(runtime.sessions) as session:
        seed_demo(session)
        fields = council_body(ratings={"childrens_services": 1, "adult_social_care": 2})
        profile, _ = create_profile(session, fields)
        profile_id = profile.id
    with transaction(runtime.sessions) as session:
        event = session.query(OutboxEvent).filter_by(profile_id=profile_id).one()
        match_event(session, CandidateIndex(session), event.id)
    return profile_id


def test_matches_page_lists_partners_with_reasons(app, live_server, browser):
    profile_id = matched_profile(app)
    token = links.sign(app.config["SECRET_KEY"], links.MATCHES, {"p": profile_id})
    page = browser.new_page(viewport={"width": 1000, "height": 1400})
    page.goto(f"{live_server}/matches/{token}")
    assert page.locator("h1").inner_text() == "Recommendations for Leeds"
    assert page.locator("h2", has_text="Children's services").count() == 1
    first = page.locator("ol").first.locator("> li").first
    assert "Rates itself" in first.inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "matches.png"), full_page=False)


def test_tampered_matches_link_is_refused(app, live_server, browser):
    profile_id = matched_profile(app)
    token = links.sign(app.config["SECRET_KEY"], links.MATCHES, {"p": profile_id})
    page = browser.new_page()
    response = page.goto(f"{live_server}/matches/{token[:-2]}xx")
    assert response.status == 404
    with app.extensions["partnermatch"].sessions() as session:
        assert session.get(Profile, profile_id) is not None
