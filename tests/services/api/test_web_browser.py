"""A council officer's journey through the website in headless Chromium: with a mouse, with the
keyboard only, and without JavaScript; axe-core checks every page on the way."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from partnermatch.shared.db.engine import transaction
from partnermatch.shared.profiles.demo import seed_demo
from tests.services.api.browser import SCREENSHOTS, assert_accessible
from tests.services.api.web_helpers import html_part, link_in, run_worker

# The pages behave alike on both databases (the form tests run on both); the browser runs once.
pytestmark = [pytest.mark.parametrize("seeded_database", ["sqlite"], indirect=True)]
EMAIL = "sam.officer@leeds.gov.uk"


@pytest.fixture
def demo(app) -> None:
    with transaction(app.extensions["partnermatch"].sessions) as session:
        seed_demo(session)


def worker(app, tmp_path, live_server):
    """Match what is waiting and send what is owed, as the worker would."""
    return run_worker(app, tmp_path / "outbox", live_server)


def rating(page, area: str, value: str):
    return page.get_by_role("group", name=area).get_by_label(value, exact=True)


def test_a_council_officer_fixes_a_mistake_confirms_and_sees_recommendations(
    app, live_server, browser, demo, tmp_path
):
    page = browser.new_page()
    page.goto(live_server)
    assert_accessible(page)
    page.get_by_role("button", name="Start now").click()

    assert_accessible(page)
    page.get_by_label("Which council do you work for?").fill("Leed")
    page.get_by_role("option", name="Leeds").click()
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("group", name="Adult social care")).to_have_count(1)
    assert_accessible(page)
    rating(page, "Children's services", "1").check()
    rating(page, "Adult social care", "2").check()
    rating(page, "Waste", "5").check()
    page.get_by_label("What do you struggle with?").fill("Care leavers in suitable homes.")
    page.get_by_label("Other councils", exact=True).check()
    page.get_by_label("Suppliers", exact=True).check()
    page.get_by_label("A little: we could help now and then").check()
    page.get_by_label("Full name", exact=True).fill("Sam Officer")
    page.get_by_label("Email address", exact=True).fill("sam.officer@gmail.com")  # the mistake
    page.get_by_role("button", name="Continue").click()

    summary = page.locator(".govuk-error-summary")
    assert "Use your council email address" in summary.inner_text()
    assert page.title().startswith("Error: ")
    assert_accessible(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "form.png"))
    summary.get_by_role("link").first.click()
    assert page.evaluate("document.activeElement.id") == "contact_email"
    page.keyboard.press("Control+A")
    page.keyboard.type(EMAIL)
    page.get_by_role("button", name="Continue").click()

    expect(page.locator("h1")).to_have_text("Check your answers before sending your profile")
    expect(page.locator(".govuk-summary-list")).to_contain_text("Leeds (Metropolitan borough)")
    assert_accessible(page)
    page.get_by_role("button", name="Accept and send").click()

    page.wait_for_url(f"{live_server}/submitted")
    expect(page.locator(".govuk-panel")).to_contain_text("Profile sent")
    assert page.locator("#recommendations").get_attribute("data-status") == "pending"
    assert_accessible(page)
    confirmation = worker(app, tmp_path, live_server)
    # The page asks for the status every two seconds and reloads itself when it is ready.
    page.get_by_role("heading", name="Your recommendations").wait_for()
    assert page.get_by_role("heading", name="Children's services").count() == 1
    assert_accessible(page)
    page.screenshot(path=str(SCREENSHOTS / "confirmation.png"))

    assert [m["Subject"] for m in confirmation] == ["Confirm your email address for partnermatch"]
    page.goto(live_server + link_in(confirmation[0], "/confirm/"))
    assert_accessible(page)
    page.get_by_role("button", name="Confirm my email address").click()
    page.wait_for_url(f"{live_server}/profile")
    banner = page.locator(".govuk-notification-banner").inner_text()
    assert "Your email address is confirmed" in banner
    assert page.get_by_role("heading", name="Children's services").count() == 1

    recommendations = worker(app, tmp_path, live_server)
    assert [m["Subject"] for m in recommendations] == ["Partner recommendations for Leeds"]
    page.set_content(html_part(recommendations[0]))
    assert_accessible(page)
    page.screenshot(path=str(SCREENSHOTS / "email.png"))


def tab_to(page, selector: str, limit: int = 250) -> None:
    """Press Tab until the element matching a CSS selector has the focus."""
    for _ in range(limit):
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def test_the_same_journey_with_the_keyboard_only(app, live_server, browser, demo, tmp_path):
    page = browser.new_page()
    page.goto(live_server)
    tab_to(page, "a.govuk-button--start")
    page.keyboard.press("Enter")

    page.wait_for_url("**/council/new")
    tab_to(page, "input#gss_code")
    page.keyboard.type("Leeds")
    page.get_by_role("option", name="Leeds").wait_for()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    tab_to(page, "form button.govuk-button")
    page.keyboard.press("Enter")

    page.wait_for_url("**/council/details")
    tab_to(page, "#ratings-childrens_services")
    page.keyboard.press("Space")  # 1
    tab_to(page, "#ratings-adult_social_care")
    page.keyboard.press("ArrowRight")  # moves from 1 to 2 and selects it
    tab_to(page, "#seeking")
    page.keyboard.press("Space")
    tab_to(page, "#capacity_to_support")
    page.keyboard.press("Space")
    tab_to(page, "#contact_email")
    page.keyboard.type(EMAIL)
    tab_to(page, "form button.govuk-button")
    page.keyboard.press("Enter")  # without a name: the mistake

    page.wait_for_function("document.activeElement.classList.contains('govuk-error-summary')")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Enter your full name"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "contact_name"
    page.keyboard.type("Sam Officer")
    tab_to(page, "form button.govuk-button")
    page.keyboard.press("Enter")

    page.wait_for_url("**/check")
    tab_to(page, "form button.govuk-button")
    page.keyboard.press("Enter")
    page.wait_for_url("**/submitted")
    confirmation = worker(app, tmp_path, live_server)
    page.get_by_role("heading", name="Your recommendations").wait_for()

    page.goto(live_server + link_in(confirmation[0], "/confirm/"))
    tab_to(page, "form button.govuk-button")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server}/profile")
    assert page.get_by_role("heading", name="Adult social care").count() == 1


def test_without_javascript_the_council_list_is_a_select_and_the_page_refreshes_itself(
    app, live_server, chromium, demo, tmp_path
):
    context = chromium.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server}/council/new")
    page.get_by_label("Which council do you work for?").select_option(label="Leeds")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("group", name="Children's services").get_by_label("1", exact=True).check()
    page.get_by_label("Other councils", exact=True).check()
    page.get_by_label("Not at the moment").check()
    page.get_by_label("Full name", exact=True).fill("Sam Officer")
    page.get_by_label("Email address", exact=True).fill(EMAIL)
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Accept and send").click()
    page.wait_for_url(f"{live_server}/submitted")
    assert '<meta http-equiv="refresh" content="3">' in page.content()
    worker(app, tmp_path, live_server)
    page.get_by_role("heading", name="Your recommendations").wait_for(timeout=8_000)
    context.close()


def test_the_pages_run_under_their_content_security_policy(app, live_server, chromium, demo):
    context = chromium.new_context()  # no bypass: what a real browser enforces
    page = context.new_page()
    refused = []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.goto(f"{live_server}/council/new")
    page.get_by_label("Which council do you work for?").fill("Leed")
    page.get_by_role("option", name="Leeds").click()
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("What do you struggle with?").fill("Recruiting social workers")
    expect(page.locator(".govuk-character-count__status").first).to_contain_text(
        "characters remaining")
    assert page.evaluate("document.body.classList.contains('govuk-frontend-supported')")
    assert refused == []
    context.close()
