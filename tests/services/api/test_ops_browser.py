"""The ops dashboard in headless Chromium: it never reloads itself (WCAG 2.2.1, 2.2.4); its
figures update in place from /ops/figures.json under the page's strict CSP, a button pauses the
updates, without JavaScript a link refreshes the page; charts have axes and clock times; and
axe-core finds nothing wrong.

Playwright's clock stands in for the 15 seconds between updates, so nothing here waits on time."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from partnermatch.shared.db.models import DeadLetter
from partnermatch.shared.outbox.names import TaskName, email_key
from tests.services.api.browser import assert_accessible
from tests.services.api.helpers import create
from tests.services.api.test_ops import (
    PASSWORD,
    ops_user,  # noqa: F401
    supplier_body,
)
from tests.services.api.test_ops import app_config as ops_app_config  # noqa: F401

pytestmark = [pytest.mark.parametrize("seeded_database", ["sqlite"], indirect=True)]
FIGURE = '[data-figure="outbox_unconsumed"]'  # events waiting for the relay: none runs here
# Count the page's requests for figures.json as the script makes them (fetch is synchronous to
# call), so a paused page can be checked without waiting for a request that should not come.
COUNT_FETCHES = """
window.figureFetches = 0;
const realFetch = window.fetch.bind(window);
window.fetch = (url, ...rest) => {
  if (String(url).includes("figures.json")) window.figureFetches += 1;
  return realFetch(url, ...rest);
};
"""


@pytest.fixture
def app_config(ops_app_config):  # noqa: F811
    return ops_app_config


@pytest.fixture
def strict(chromium):
    """A browser context that keeps the site's CSP: the page's script must work under it."""
    context = chromium.new_context(viewport={"width": 1000, "height": 1200})
    context.set_default_timeout(10_000)
    yield context
    context.close()


def log_in(page, live_server: str, name: str) -> None:
    """Log in to /ops through the form, as a person does."""
    page.goto(f"{live_server}/ops")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server}/ops")
    expect(page.get_by_role("heading", name="Operations", exact=True)).to_be_visible()


def test_figures_update_in_place_and_pause_stops_them(strict, live_server, app, client,
                                                      ops_user):  # noqa: F811
    page = strict.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.clock.install()
    page.add_init_script(COUNT_FETCHES)
    log_in(page, live_server, ops_user)
    assert page.locator('meta[http-equiv="refresh"]').count() == 0
    page.evaluate("window.samePage = true")  # gone if the page reloads or navigates
    figure = page.locator(FIGURE)
    before = int(figure.inner_text())

    create(client, contact_email="first@leeds.gov.uk")
    page.clock.fast_forward("00:16")
    expect(figure).to_have_text(str(before + 1))
    expect(page.get_by_text(re.compile(r"last updated \d\d:\d\d:\d\d UTC"))).to_be_visible()
    assert page.evaluate("window.samePage") is True and page.url == f"{live_server}/ops"

    page.get_by_role("button", name="Pause updates").click()
    expect(page.get_by_text(re.compile(r"Updates paused at \d\d:\d\d:\d\d UTC"))).to_be_visible()
    fetches = page.evaluate("window.figureFetches")
    create(client, contact_email="second@leeds.gov.uk")
    page.clock.fast_forward("05:00")  # twenty updates' worth of time
    assert page.evaluate("window.figureFetches") == fetches
    expect(figure).to_have_text(str(before + 1))

    page.get_by_role("button", name="Resume updates").click()
    page.clock.fast_forward("00:16")
    expect(figure).to_have_text(str(before + 2))
    changed = page.get_by_text("The alerts have changed since the page was loaded.")
    expect(changed).to_be_hidden()

    with app.extensions["partnermatch"].sessions() as session, session.begin():
        session.add(DeadLetter(task_name=TaskName.SEND_EMAIL, task_key=email_key("x"),
                               task_args=["x"], error="550 no such user", attempts=1))
    page.clock.fast_forward("00:16")
    expect(page.locator('[data-figure="dead_letters"]')).to_have_text("1")
    expect(changed).to_be_visible()  # the alert's words are the server's: it offers the reload
    assert page.evaluate("window.samePage") is True
    assert errors == []  # nothing refused by the CSP, no script error


def test_without_javascript_a_link_refreshes_the_page(chromium, live_server, client,
                                                      ops_user):  # noqa: F811
    context = chromium.new_context(java_script_enabled=False)
    context.set_default_timeout(10_000)
    page = context.new_page()
    log_in(page, live_server, ops_user)
    assert page.locator('meta[http-equiv="refresh"]').count() == 0
    assert page.get_by_role("button", name="Pause updates").count() == 0
    before = int(page.locator(FIGURE).inner_text())
    create(client)
    page.get_by_role("link", name="Refresh the page").click()
    page.wait_for_url(f"{live_server}/ops")
    expect(page.locator(FIGURE)).to_have_text(str(before + 1))
    context.close()


def test_charts_have_axes_and_clock_times(browser, live_server, ops_user):  # noqa: F811
    page = browser.new_page()
    log_in(page, live_server, ops_user)
    loaded = page.locator("time").first.inner_text()  # "06:01:02 UTC"
    charts = page.locator("figure.pm-chart svg")
    expect(charts).to_have_count(4)
    for svg in charts.all():
        assert svg.locator('[data-axis="x"]').count() == 1
        assert svg.locator('[data-axis="y"]').count() == 1
        times = [t.text_content() for t in svg.locator('[data-tick="x"]').all()]
        assert all(re.fullmatch(r"\d\d:\d\d", t) for t in times) and len(times) == 3
        assert times[-1] == loaded[:5]  # the hour ends when the page was loaded
        assert "0" in [t.text_content() for t in svg.locator('[data-tick="y"]').all()]
        assert re.search(r"\d\d:\d\d to \d\d:\d\d UTC", svg.get_attribute("aria-label") or
                         svg.locator("title").text_content())


def test_the_dashboard_with_work_to_do_is_accessible(browser, live_server, app, client,
                                                     ops_user):  # noqa: F811
    create(client)
    assert client.post("/api/v1/profiles", json=supplier_body()).status_code == 201
    with app.extensions["partnermatch"].sessions() as session, session.begin():
        session.add(DeadLetter(task_name=TaskName.SEND_EMAIL, task_key=email_key("x"),
                               task_args=["x"], error="550 no such user", attempts=1))
    page = browser.new_page()
    log_in(page, live_server, ops_user)
    expect(page.get_by_role("button", name="Approve Careful Care Ltd")).to_be_visible()
    retry = page.get_by_role("button", name=re.compile("^Retry partnermatch.send_email"))
    expect(retry).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Emails written to the outbox").click()
    assert_accessible(page)
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{live_server}/ops/login")
    assert_accessible(page)
