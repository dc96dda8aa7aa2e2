"""axe-core on every page the journeys do not reach: the supplier form, the profile's own pages,
the pages opened from emails, the information pages and the error pages."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import Introduction, MatchRun, Profile
from partnermatch.shared.notifications import links
from partnermatch.shared.profiles.demo import seed_demo
from partnermatch.shared.profiles.store import create_profile
from partnermatch.shared.recommendations.confirmation import confirm_address
from tests.services.api.browser import assert_accessible
from tests.services.api.helpers import CAMBRIDGE, council_body
from tests.services.api.web_helpers import run_worker

pytestmark = [pytest.mark.parametrize("seeded_database", ["sqlite"], indirect=True)]


def test_the_supplier_form_its_errors_and_check_page_are_accessible(live_server, browser):
    page = browser.new_page()
    page.goto(f"{live_server}/supplier/details")
    assert_accessible(page)
    page.get_by_role("button", name="Continue").click()
    page.locator(".govuk-error-summary").wait_for()
    assert_accessible(page)
    page.get_by_label("Name of your organisation").fill("Acme Digital Ltd")
    page.get_by_role("group", name="Customer services and digital").get_by_label(
        "5", exact=True).check()
    page.get_by_label("London", exact=True).check()
    page.get_by_label("Full name", exact=True).fill("Ann Seller")
    page.get_by_label("Email address", exact=True).fill("ann@acme-digital.co.uk")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("h1")).to_contain_text("Check your answers")
    assert_accessible(page)
    page.get_by_role("button", name="Accept and send").click()
    expect(page.locator("main")).to_contain_text("Our operations team will check your organisation")
    assert_accessible(page)


@pytest.fixture
def signed_in(app, live_server, browser, tmp_path):
    """A matched, confirmed Leeds profile open in the browser, and a partner that can be asked."""
    with transaction(app.extensions["partnermatch"].sessions) as session:
        seed_demo(session)
        create_profile(session, council_body(
            gss_code=CAMBRIDGE, contact_email="waste@cambridge.gov.uk", share_contact=False,
            ratings={"waste": 5}, seeking=["council"], capacity_to_support="available"))
        mine, _ = create_profile(session, council_body(ratings={"waste": 1,
                                                                "childrens_services": 2}))
        confirm_address(session, "waste@cambridge.gov.uk")
        confirm_address(session, mine.contact_email)
    run_worker(app, tmp_path / "outbox", live_server)
    page = browser.new_page()
    page.goto(live_server + "/open/" + links.sign(
        app.config["SECRET_KEY"], links.MANAGE, {"p": mine.id, "e": mine.contact_email}))
    assert_accessible(page)
    page.get_by_role("button", name="Open my profile").click()
    page.wait_for_url(f"{live_server}/profile")
    return page, mine


def test_the_profile_pages_are_accessible(app, live_server, signed_in):
    page, _ = signed_in
    assert_accessible(page)
    page.get_by_role("button", name="Request an introduction to Cambridge").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("We have asked them")
    assert_accessible(page)
    page.get_by_role("button", name="Change your profile").click()
    assert_accessible(page)
    page.get_by_label("Full name", exact=True).fill("")
    page.get_by_role("button", name="Save changes").click()
    assert_accessible(page)
    page.goto(f"{live_server}/profile/delete")
    assert_accessible(page)
    page.get_by_role("button", name="Yes, delete my profile").click()
    expect(page.locator("h1")).to_have_text("Profile deleted")
    assert_accessible(page)


def test_the_pages_opened_from_emails_are_accessible(app, live_server, signed_in):
    page, mine = signed_in
    secret = app.config["SECRET_KEY"]
    with app.extensions["partnermatch"].sessions() as session:
        run = session.scalars(select(MatchRun).where(MatchRun.profile_id == mine.id)).one()
        partner = run.recommendations[0].partner_profile_id
    page.goto(f"{live_server}/feedback/" + links.sign(secret, links.FEEDBACK,
                                                      {"r": run.id, "p": partner, "u": 1}))
    assert_accessible(page)
    page.get_by_role("button", name="Send my answer").click()
    expect(page.locator("h1")).to_have_text("Thank you for your answer")
    assert_accessible(page)

    page.get_by_role("link", name="Your profile", exact=True).click()
    page.get_by_role("button", name="Request an introduction to Cambridge").click()
    with app.extensions["partnermatch"].sessions() as session:
        asked = session.scalars(select(Introduction)).one()
    page.goto(f"{live_server}/introductions/" + links.sign(secret, links.INTRODUCTION,
                                                           {"i": asked.id}))
    assert_accessible(page)
    page.get_by_role("button", name="Send my answer").click()
    page.locator(".govuk-error-summary").wait_for()
    assert_accessible(page)
    page.get_by_label("Yes, send them my contact details").check()
    page.get_by_role("button", name="Send my answer").click()
    expect(page.locator("h1")).to_have_text("Introduction accepted")
    assert_accessible(page)

    page.goto(f"{live_server}/unsubscribe/" + links.sign(secret, links.UNSUBSCRIBE,
                                                         {"e": mine.contact_email}))
    assert_accessible(page)
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.locator("h1")).to_have_text("You have unsubscribed")
    assert_accessible(page)


@pytest.mark.parametrize("path", ["/privacy", "/accessibility", "/profile/link",
                                  "/profile/link/sent", "/confirmed", "/open/not-a-link",
                                  "/profile/link?expired=1"])
def test_information_and_error_pages_are_accessible(live_server, browser, path):
    page = browser.new_page()
    page.goto(live_server + path)
    assert page.locator("h1").count() == 1
    assert_accessible(page)


def test_the_send_me_my_link_error_is_accessible(live_server, browser, app):
    page = browser.new_page()
    page.goto(f"{live_server}/profile/link")
    page.get_by_label("Email address").fill("not an address")
    page.get_by_role("button", name="Send me a link").click()
    page.locator(".govuk-error-summary").wait_for()
    assert_accessible(page)
    with app.extensions["partnermatch"].sessions() as session:
        assert session.scalars(select(Profile)).all() == []
