"""Rate limits: per client, shared by API and form, in Redis, and open when Redis is down."""

from __future__ import annotations

import logging
import time

from sqlalchemy import func, select

from partnermatch.shared.db.models import Profile
from tests.services.api.helpers import assert_envelope, council_body
from tests.services.api.web_helpers import fill_council_form, post_form, submit


def count_profiles(app) -> int:
    with app.extensions["partnermatch"].sessions() as session:
        return session.scalar(select(func.count()).select_from(Profile))


def post_profile(client, n: int, **headers):
    body = council_body(contact_email=f"officer{n}@leeds.gov.uk")
    return client.post("/api/v1/profiles", json=body, headers=headers)


def test_a_burst_of_api_submissions_is_cut_off_with_429_and_retry_after(make_app):
    app = make_app(RATE_LIMIT_SUBMIT="3/minute")
    client = app.test_client()
    assert [post_profile(client, n).status_code for n in range(3)] == [201] * 3
    refused = post_profile(client, 3)
    body = assert_envelope(refused, 429)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "try again" in body["message"]
    assert count_profiles(app) == 3


def test_reading_is_not_counted_against_the_submission_allowance(make_app):
    client = make_app(RATE_LIMIT_SUBMIT="1/minute").test_client()
    for _ in range(5):
        assert client.get("/api/v1/service-areas").status_code == 200
    assert post_profile(client, 0).status_code == 201


def test_the_form_and_the_api_share_one_allowance_and_the_form_says_so_kindly(make_app):
    app = make_app(RATE_LIMIT_SUBMIT="1/minute")
    client = app.test_client()
    fill_council_form(client)  # filling in the pages is not submitting
    assert post_profile(client, 0).status_code == 201
    response = submit(client)
    page = response.get_data(as_text=True)
    assert response.status_code == 429 and "Retry-After" in response.headers
    assert "You have sent this too many times" in page and "Nothing was saved" in page
    assert "govuk-template" in page
    assert count_profiles(app) == 1


def test_requests_for_a_private_link_are_limited(make_app):
    client = make_app(RATE_LIMIT_LINK="2/hour").test_client()
    responses = [post_form(client, "/profile/link", {"email": "sam@leeds.gov.uk"})
                 for _ in range(3)]
    assert [r.status_code for r in responses] == [303, 303, 429]
    assert int(responses[-1].headers["Retry-After"]) > 60  # an hour's window
    assert "Try again in 60 minutes" in responses[-1].get_data(as_text=True)


def test_spoofed_x_forwarded_for_does_not_buy_a_new_allowance(make_app):
    client = make_app(RATE_LIMIT_SUBMIT="2/minute").test_client()
    codes = [post_profile(client, n, **{"X-Forwarded-For": f"198.51.100.{n}"}).status_code
             for n in range(3)]
    assert codes == [201, 201, 429]


def test_behind_a_trusted_proxy_each_client_has_its_own_allowance(make_app):
    client = make_app(RATE_LIMIT_SUBMIT="1/minute", TRUSTED_PROXY_COUNT="1").test_client()
    first = {"X-Forwarded-For": "203.0.113.1"}
    second = {"X-Forwarded-For": "203.0.113.2"}
    spoofed = {"X-Forwarded-For": "198.51.100.9, 203.0.113.1"}  # the proxy appended the real one
    assert post_profile(client, 0, **first).status_code == 201
    assert post_profile(client, 1, **second).status_code == 201
    assert post_profile(client, 2, **first).status_code == 429
    assert post_profile(client, 3, **spoofed).status_code == 429


def test_limits_are_counted_in_redis_so_every_process_sees_them(make_app, redis_server):
    settings = {"REDIS_URL": redis_server.url, "RATE_LIMIT_SUBMIT": "2/minute"}
    one, two = make_app(**settings).test_client(), make_app(**settings).test_client()
    assert post_profile(one, 0).status_code == 201
    assert post_profile(two, 1).status_code == 201
    assert post_profile(one, 2).status_code == 429
    assert post_profile(two, 3).status_code == 429


def test_with_redis_down_submissions_are_accepted_fast_and_still_limited_per_process(
    make_app, redis_server, caplog
):
    app = make_app(REDIS_URL=redis_server.url, RATE_LIMIT_SUBMIT="3/minute")
    client = app.test_client()
    assert post_profile(client, 0).status_code == 201
    redis_server.stop()
    caplog.set_level(logging.WARNING, logger="flask-limiter")
    started = time.monotonic()
    codes = [post_profile(client, n).status_code for n in range(1, 5)]
    assert time.monotonic() - started < 5
    assert codes == [201, 201, 201, 429]  # a fresh in-memory allowance, still bounded
    assert "falling back to in-memory storage" in caplog.text
    assert count_profiles(app) == 4
