"""The API reference at /api/docs in a real headless Chromium, under the page's own CSP."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.services.api.browser import SCREENSHOTS

pytestmark = [pytest.mark.parametrize("seeded_database", ["sqlite"], indirect=True)]


def test_the_api_reference_renders_with_nothing_fetched_from_another_site(live_server, chromium):
    context = chromium.new_context()  # no bypass: the page's real Content Security Policy applies
    page = context.new_page()
    requested, refused = [], []
    page.on("request", lambda request: requested.append(request.url))
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.goto(f"{live_server}/api/docs")
    expect(page.get_by_role("heading", level=1)).to_contain_text("partnermatch")
    menu = page.get_by_role("menu").first
    menu.get_by_role("menuitem", name="profiles").click()
    menu.get_by_text("Submit a council or supplier profile").click()
    expect(page.get_by_role("heading", name="Request Body schema: application/json")
           .first).to_be_in_viewport()
    operation = page.get_by_role("heading", name="Submit a council or supplier profile")
    expect(operation).to_have_count(1)
    page.wait_for_load_state("networkidle")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "api-docs.png"))
    assert refused == []
    assert f"{live_server}/openapi.json" in requested
    assert all(url.startswith(f"{live_server}/") for url in requested), requested
    assert page.locator('img[alt="redocly logo"]').count() == 0  # its image is Redocly's
    context.close()
