"""What a council sees, in headless Chromium, from the form to the page the email links to: a
partner that shares its details, a need nobody is strong in yet, and councils recommended from
public data that have not joined."""

from __future__ import annotations

import csv
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import Council
from partnermatch.shared.profiles.demo import seed_demo
from partnermatch.shared.profiles.store import create_profile
from partnermatch.shared.recommendations.confirmation import confirm_address
from tests.conftest import REFERENCE_DATA_DIR
from tests.services.api.browser import assert_accessible
from tests.services.api.helpers import council_body
from tests.services.api.web_helpers import html_part, link_in, run_worker, text_part

pytestmark = [pytest.mark.parametrize("seeded_database", ["sqlite"], indirect=True)]
EMAIL = "sam.officer@leeds.gov.uk"
PARTNER = "pat.partner@kirklees.gov.uk"
NOT_JOINED = "Not on partnermatch yet: recommended from public data"
NO_PARTNER = ("No partner is strong in this service area yet. "
              "We will email you when one joins partnermatch.")


@pytest.fixture
def partners(app) -> None:
    """The demo councils from public data, and Kirklees, which joined and shares its details: a
    West Yorkshire neighbour of Leeds that is also near it in circumstances (its 9th nearest council
    for children's services, where Bradford, next door too, is 63rd)."""
    with transaction(app.extensions["partnermatch"].sessions) as session:
        seed_demo(session)
        create_profile(session, council_body(
            gss_code="E08000034", contact_name="Pat Partner", contact_email=PARTNER,
            ratings={"childrens_services": 5}, share_contact=True, seeking=["council"],
            capacity_to_support="available", strengths_text="Stable placements for children"))
        confirm_address(session, PARTNER)


def send_profile(page, live_server: str) -> None:
    """Fill in the form as a Leeds officer struggling with children's services and culture."""
    page.goto(live_server)
    page.get_by_role("button", name="Start now").click()
    page.locator("input#gss_code").wait_for()  # the script has made the list a text box
    page.get_by_label("Which council do you work for?").fill("Leed")
    page.get_by_role("option", name="Leeds").click()
    page.get_by_role("button", name="Continue").click()
    group = page.get_by_role("group", name="Children's services")
    group.get_by_label("1", exact=True).check()
    page.get_by_role("group", name="Culture and leisure").get_by_label("2", exact=True).check()
    page.get_by_label("What do you struggle with?").fill("Placement stability for children.")
    page.get_by_label("Other councils", exact=True).check()
    page.get_by_label("Suppliers", exact=True).check()
    page.get_by_label("Not at the moment").check()
    page.get_by_label("Full name", exact=True).fill("Sam Officer")
    page.get_by_label("Email address", exact=True).fill(EMAIL)
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Accept and send").click()
    page.wait_for_url(f"{live_server}/submitted")


def to_leeds(messages: list) -> list:
    """Return the messages sent to the Leeds officer (Kirklees gets its own)."""
    return [m for m in messages if m["To"].addresses[0].addr_spec == EMAIL]


def partner_item(page, name: str):
    return page.locator("li.pm-partner").filter(has=page.get_by_role("heading", name=name,
                                                                     exact=True))


def expected_website(app, name: str) -> str:
    """Return the council's web address as the public lookup gives it, read here independently."""
    with app.extensions["partnermatch"].sessions() as session:
        gss = session.scalar(select(Council.gss_code).where(Council.name == name))
    with open(f"{REFERENCE_DATA_DIR}/ofsted-ilacs-scrape-tool/Provider_data_lookup.csv",
              newline="", encoding="utf-8") as file:
        domain = next((row["domain"].lower() for row in csv.DictReader(file)
                       if row["la_code_new"] == gss), "")
    return f"https://www.{domain}" if domain.endswith(".gov.uk") else \
        "https://www.gov.uk/find-local-council"


def assert_sees_what_partners_are(app, page) -> str:
    """Check the need without partners, Kirklees's details and a council from public data;
    return that council's name."""
    culture = page.get_by_role("heading", name=re.compile("^Culture and leisure"))
    expect(culture).to_have_count(1)
    expect(page.locator("#recommendations")).to_contain_text(NO_PARTNER)
    expect(page.locator("#recommendations")).not_to_contain_text("You did not rate any service")
    kirklees = partner_item(page, "Kirklees")
    expect(kirklees).to_contain_text("Has capacity to support other councils")
    expect(kirklees).not_to_contain_text(NOT_JOINED)
    public = page.locator("li.pm-partner").filter(has_text=NOT_JOINED).first
    name = public.get_by_role("heading").inner_text()
    expect(public).not_to_contain_text("capacity")
    expect(public).to_contain_text(f"{name} is not on partnermatch yet, so we cannot introduce you")
    expect(public.get_by_role("link")).to_have_attribute("href", expected_website(app, name))
    expect(public.get_by_role("button")).to_have_count(0)  # no introduction nobody could receive
    return name


def test_a_council_sees_shared_details_empty_needs_and_councils_from_public_data(
    app, live_server, browser, partners, tmp_path
):
    page = browser.new_page()
    send_profile(page, live_server)
    (confirmation,) = to_leeds(run_worker(app, tmp_path / "outbox", live_server))
    page.get_by_role("heading", name="Your recommendations").wait_for()
    assert_sees_what_partners_are(app, page)
    expect(partner_item(page, "Kirklees")).not_to_contain_text(PARTNER)  # not before confirming
    assert_accessible(page)

    page.goto(live_server + link_in(confirmation, "/confirm/"))
    page.get_by_role("button", name="Confirm my email address").click()
    page.wait_for_url(f"{live_server}/profile")
    contact = partner_item(page, "Kirklees").get_by_role("link", name=PARTNER)
    expect(contact).to_have_attribute("href", f"mailto:{PARTNER}")
    public_name = assert_sees_what_partners_are(app, page)
    assert_accessible(page)

    (email,) = to_leeds(run_worker(app, tmp_path / "outbox", live_server))
    text = text_part(email)
    assert f"Contact: Pat Partner, {PARTNER}" in text
    assert "Culture and leisure\n-------------------\n\nYou rated this service area 2 out of 5." \
        "\n\n" + NO_PARTNER in text
    listed = text.split(f"* {public_name}\n", 1)[1].split("\n* ", 1)[0]
    assert f"  - {NOT_JOINED}" in listed and "capacity" not in listed
    assert "Not on partnermatch yet, so we cannot introduce you." in listed
    assert expected_website(app, public_name) in listed
    assert NO_PARTNER in html_part(email)

    # The link in the email opens the profile page in a browser that was never signed in.
    reader = browser.browser.new_context()
    opened = reader.new_page()
    opened.goto(live_server + link_in(email, "/open/"))
    opened.get_by_role("button", name="Open my profile").click()
    opened.wait_for_url(f"{live_server}/profile")
    expect(opened.locator("h1")).to_have_text("Leeds")
    expect(partner_item(opened, "Kirklees").get_by_role("link", name=PARTNER)).to_have_count(1)
    assert_sees_what_partners_are(app, opened)
    reader.close()
