"""The private profile page reached from an email link, in a real headless Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import OutboxEvent, Profile
from partnermatch.shared.profiles.demo import seed_demo
from partnermatch.shared.profiles.store import create_profile
from partnermatch.shared.recommendations.consume import match_event
from partnermatch.shared.recommendations.live_index import CandidateIndex
from tests.services.api.browser import SCREENSHOTS, assert_accessible
from tests.services.api.helpers import council_body

pytestmark = [pytest.mark.parametrize("seeded_database", ["sqlite"], indirect=True)]


def matched_profile(app) -> Profile:
    """Store a Leeds profile and match it against the demo councils, in process."""
    runtime = app.extensions["partnermatch"]
    with transaction(runtime.sessions) as session:
        seed_demo(session)
        fields = council_body(ratings={"childrens_services": 1, "adult_social_care": 2})
        profile, _ = create_profile(session, fields)
    with transaction(runtime.sessions) as session:
        event = session.query(OutboxEvent).filter_by(profile_id=profile.id).one()
        match_event(session, CandidateIndex(session), event.id)
    return profile


def test_profile_page_lists_partners_with_reasons_at_a_clean_address(
        open_link, app, live_server, browser):
    profile = matched_profile(app)
    page = browser.new_page()
    page.goto(live_server + open_link(profile))
    assert_accessible(page)
    page.get_by_role("button", name="Open my profile").click()
    page.wait_for_url(f"{live_server}/profile")
    expect(page.locator("h1")).to_have_text("Leeds")
    assert page.get_by_role("heading", name="Children's services").count() == 1
    first = page.locator("ol.pm-partners").first.locator("> li").first
    assert "out of 5 for Children's services" in first.inner_text()
    assert_accessible(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#recommendations").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "matches.png"))


def test_tampered_or_reused_profile_links_are_refused(open_link, app, live_server, browser):
    profile = matched_profile(app)
    link = open_link(profile)
    page = browser.new_page()
    assert page.goto(f"{live_server}{link[:-2]}xx").status == 404
    assert_accessible(page)
    page.goto(live_server + link)
    page.get_by_role("button", name="Open my profile").click()
    page.wait_for_url(f"{live_server}/profile")

    stranger = browser.browser.new_context(bypass_csp=True).new_page()
    stranger.goto(live_server + link)
    stranger.get_by_role("button", name="Open my profile").click()
    expect(stranger.locator("h1")).to_have_text("This link has already been used")
    assert stranger.goto(f"{live_server}/profile").url.endswith("/profile/link?expired=1")
    assert_accessible(stranger)
    stranger.context.close()
    with app.extensions["partnermatch"].sessions() as session:
        assert session.get(Profile, profile.id) is not None
