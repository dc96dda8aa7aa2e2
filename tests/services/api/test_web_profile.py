"""The private profile page and the pages opened from email links."""

from __future__ import annotations

import time

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import (
    ContactAddress,
    EmailDelivery,
    Feedback,
    Introduction,
    OutboxEvent,
    Profile,
)
from partnermatch.shared.notifications import links
from partnermatch.shared.profiles.demo import seed_demo
from partnermatch.shared.profiles.store import create_profile
from partnermatch.shared.recommendations.confirmation import confirm_address
from tests.services.api.helpers import CAMBRIDGE, council_body
from tests.services.api.web_helpers import (
    answer_link_requests,
    as_pairs,
    council_details,
    csrf_token,
    fill_council_form,
    link_in,
    post_form,
    run_worker,
    submit,
    text_part,
)

LEEDS_ADDRESS = "sam.officer@leeds.gov.uk"


def sessions(app):
    return app.extensions["partnermatch"].sessions


def sign(app, purpose: str, payload: dict) -> str:
    return links.sign(app.config["SECRET_KEY"], purpose, payload)


@pytest.fixture
def submitted(client, app, tmp_path) -> Profile:
    """A Leeds profile sent through the form, matched, with its address confirmed."""
    with transaction(sessions(app)) as session:
        seed_demo(session)
    fill_council_form(client)
    submit(client)
    run_worker(app, tmp_path)
    with transaction(sessions(app)) as session:
        confirm_address(session, LEEDS_ADDRESS)
        return session.scalars(select(Profile).where(Profile.demo.is_(False))).one()


def owed(app, purpose: str) -> list[EmailDelivery]:
    with sessions(app)() as session:
        return list(session.scalars(select(EmailDelivery).where(EmailDelivery.purpose == purpose)))


def test_the_profile_page_shows_recommendations_and_answers(client, submitted):
    page = client.get("/profile").get_data(as_text=True)
    assert "Your recommendations" in page and "Children&#39;s services" in page
    assert "sam.officer@leeds.gov.uk" in page and 'href="/profile/edit#needs_text"' in page


def test_the_profile_page_is_private_and_never_cached(client, app, submitted):
    response = client.get("/profile")
    assert response.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    stranger = app.test_client()
    assert stranger.get("/profile").headers["Location"] == "/profile/link?expired=1"
    assert stranger.get("/profile/status.json").status_code == 401


def test_a_sign_in_ends_after_two_hours(client, submitted, monkeypatch):
    later = time.time() + 2 * 3600 + 1
    monkeypatch.setattr(time, "time", lambda: later)
    assert client.get("/profile").status_code == 302


def test_changing_the_profile_matches_it_again(client, app, submitted):
    response = post_form(client, "/profile/edit", as_pairs(council_details(
        **{"ratings-waste": "1", "needs_text": "Fly-tipping"})))
    assert response.headers["Location"] == "/profile"
    with sessions(app)() as session:
        profile = session.get(Profile, submitted.id)
        event = session.scalars(select(OutboxEvent).where(
            OutboxEvent.topic == "profile.updated")).one()
    assert profile.version == 2 and profile.fields["ratings"]["waste"] == 1
    assert event.profile_version == 2
    page = client.get("/profile").get_data(as_text=True)
    assert "We are finding partners for it again" in page and 'data-status="pending"' in page


def test_an_invalid_change_is_shown_with_errors_and_changes_nothing(client, app, submitted):
    response = post_form(client, "/profile/edit", as_pairs(council_details(contact_name="")))
    assert response.status_code == 400 and 'href="#contact_name"' in response.get_data(True)
    with sessions(app)() as session:
        assert session.get(Profile, submitted.id).version == 1


def test_deleting_asks_first_then_erases_everything_and_signs_out(client, app, submitted):
    assert "Are you sure" in client.get("/profile/delete").get_data(as_text=True)
    with sessions(app)() as session:
        assert session.get(Profile, submitted.id) is not None  # a GET changes nothing
    response = post_form(client, "/profile/delete", {})
    assert response.headers["Location"] == "/profile/deleted"
    with sessions(app)() as session:
        assert session.get(Profile, submitted.id) is None
        assert session.get(ContactAddress, LEEDS_ADDRESS) is None
    assert client.get("/profile").status_code == 302


@pytest.mark.parametrize("address", [LEEDS_ADDRESS, "Sam.Officer@leeds.gov.uk",
                                     "nobody@leeds.gov.uk"])
def test_send_me_my_link_says_the_same_whatever_the_address(client, app, submitted, address):
    response = post_form(client, "/profile/link", {"email": address})
    assert response.headers["Location"] == "/profile/link/sent"
    answer_link_requests(app)  # the worker looks the address up
    assert len(owed(app, "link")) == (0 if address.startswith("nobody") else 1)


def test_send_me_my_link_sends_at_most_one_email_an_hour(client, app, submitted, tmp_path):
    for _ in range(3):
        post_form(client, "/profile/link", {"email": LEEDS_ADDRESS})
    answer_link_requests(app)
    assert len(owed(app, "link")) == 1
    (email,) = [m for m in run_worker(app, tmp_path) if m["Subject"].startswith("Your link")]
    assert "Open the profile for Leeds" in text_part(email)


def test_an_unconfirmed_address_gets_its_confirmation_again(client, app):
    fill_council_form(client)
    submit(client)
    post_form(client, "/profile/link", {"email": LEEDS_ADDRESS})
    answer_link_requests(app)
    assert len(owed(app, "confirmation")) == 2 and owed(app, "link") == []


def test_send_me_my_link_checks_the_address(client):
    response = post_form(client, "/profile/link", {"email": "not an address"})
    assert response.status_code == 400 and 'href="#email"' in response.get_data(as_text=True)


def test_a_profile_link_opens_once_and_leaves_a_clean_address(open_link, app, submitted):
    browser = app.test_client()
    link = open_link(submitted)
    page = browser.get(link)
    assert page.status_code == 200 and page.headers["Referrer-Policy"] == "no-referrer"
    response = browser.post(link + "?next=//evil.example",
                            data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert response.status_code == 303 and response.headers["Location"] == "/profile"
    assert browser.get("/profile").status_code == 200
    stranger = app.test_client()
    page = stranger.get(link)
    again = stranger.post(link, data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert again.status_code == 410 and stranger.get("/profile").status_code == 302


def test_a_profile_link_after_the_address_changed_is_refused(client, app, submitted):
    link = "/open/" + sign(app, links.MANAGE, {"p": submitted.id, "e": "old@leeds.gov.uk"})
    assert client.get(link).status_code == 404


@pytest.mark.parametrize("make", [
    lambda app, p: "/open/" + sign(app, links.MANAGE, {"p": p.id, "e": p.contact_email})[:-3]
    + "abc",
    lambda app, p: "/open/" + sign(app, links.CONFIRM, {"p": p.id, "e": p.contact_email}),
    lambda app, p: "/open/" + URLSafeTimedSerializer("another-key", salt=links.MANAGE).dumps(
        {"p": p.id, "e": p.contact_email}),
    lambda app, p: "/open/" + sign(app, links.MANAGE, {"p": "../../etc", "e": p.contact_email}),
    lambda app, p: "/open/" + "a" * 3000,
    lambda app, p: "/confirm/" + sign(app, links.MANAGE, {"p": p.id, "e": p.contact_email}),
    lambda app, p: "/unsubscribe/" + sign(app, links.FEEDBACK, {"e": p.contact_email}),
    lambda app, p: "/introductions/" + sign(app, links.INTRODUCTION, {"i": "nope"}),
])
def test_tampered_foreign_or_misdirected_links_are_404(app, submitted, make):
    response = app.test_client().get(make(app, submitted))
    assert response.status_code == 404
    assert "<h1" in response.get_data(as_text=True)  # a page, not a JSON error


def test_an_expired_link_is_refused(open_link, app, submitted, monkeypatch):
    link = open_link(submitted)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + links.MAX_AGE[links.MANAGE] + 60)
    response = app.test_client().get(link)
    assert response.status_code == 404 and "expired" in response.get_data(as_text=True)


def test_confirming_twice_confirms_once_and_signs_in_only_the_first_time(app):
    client = app.test_client()
    fill_council_form(client)
    submit(client)
    with sessions(app)() as session:
        profile = session.scalars(select(Profile)).one()
    link = "/confirm/" + sign(app, links.CONFIRM, {"p": profile.id, "e": LEEDS_ADDRESS})
    stranger = app.test_client()
    assert post_form(stranger, link, {}).headers["Location"] == "/profile"
    assert post_form(app.test_client(), link, {}).headers["Location"] == "/confirmed"
    with sessions(app)() as session:
        assert session.get(ContactAddress, LEEDS_ADDRESS).confirmed_at is not None


def test_the_recommendation_email_has_feedback_profile_and_unsubscribe_links(
    client, app, submitted, tmp_path
):
    (email,) = run_worker(app, tmp_path)
    header = email["List-Unsubscribe"]
    assert header.startswith("<http://localhost/unsubscribe/")
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/open/" in text_part(email) and "Was this recommendation useful?" in text_part(email)

    one_click = app.test_client().post(header[len("<http://localhost"):-1],
                                       data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    with sessions(app)() as session:
        assert session.get(ContactAddress, LEEDS_ADDRESS).unsubscribed_at is not None


def test_unsubscribing_needs_the_button_and_stops_recommendation_emails(
    client, app, submitted, tmp_path
):
    link = "/unsubscribe/" + sign(app, links.UNSUBSCRIBE, {"e": LEEDS_ADDRESS})
    assert app.test_client().get(link).status_code == 200
    assert app.test_client().post(link, data={}).status_code == 400  # no CSRF token, no one-click
    with sessions(app)() as session:
        assert session.get(ContactAddress, LEEDS_ADDRESS).unsubscribed_at is None
    assert post_form(app.test_client(), link, {}).status_code == 200
    assert run_worker(app, tmp_path) == []  # the recommendation email owed earlier is cancelled


def test_feedback_is_asked_on_a_page_and_recorded_once_per_partner(client, app, submitted,
                                                                   tmp_path):
    (email,) = run_worker(app, tmp_path)
    link = link_in(email, "/feedback/")
    browser = app.test_client()
    page = browser.get(link).get_data(as_text=True)
    assert "a useful recommendation?" in page
    with sessions(app)() as session:
        assert session.scalars(select(Feedback)).all() == []  # mail scanners record nothing
    post_form(browser, link, {"useful": "yes"})
    post_form(browser, link, {"useful": "no"})
    with sessions(app)() as session:
        (answer,) = session.scalars(select(Feedback)).all()
    assert answer.useful is False and answer.match_run_id and answer.partner_profile_id


def ask(client, partner_id: str):
    return post_form(client, "/profile/introductions", {"partner_id": partner_id}, page="/profile")


@pytest.fixture
def shy_partner(app) -> Profile:
    """A confirmed district council, strong in waste, that did not share its contact details."""
    with transaction(sessions(app)) as session:
        partner, _ = create_profile(session, council_body(
            gss_code=CAMBRIDGE, contact_email="waste@cambridge.gov.uk", contact_name="Wes Waste",
            ratings={"waste": 5, "housing": 4}, share_contact=False, seeking=["council"],
            capacity_to_support="available", strengths_text="Kerbside recycling"))
        confirm_address(session, "waste@cambridge.gov.uk")
        return partner


def test_an_introduction_is_asked_accepted_and_the_details_emailed(app, client, shy_partner,
                                                                   tmp_path):
    fill_council_form(client, **{"ratings-waste": "1"})
    submit(client)
    run_worker(app, tmp_path)
    with transaction(sessions(app)) as session:
        confirm_address(session, LEEDS_ADDRESS)
    page = client.get("/profile").get_data(as_text=True)
    assert "Request an introduction to Cambridge" in page
    ask(client, shy_partner.id)
    ask(client, shy_partner.id)  # twice: one ask
    sent = {m["Subject"]: m for m in run_worker(app, tmp_path)}
    request = sent["Leeds would like an introduction"]
    assert "Care leavers in suitable accommodation" in text_part(request)
    assert "waste@cambridge.gov.uk" not in text_part(sent["Partner recommendations for Leeds"])

    link = link_in(request, "/introductions/")
    partner = app.test_client()
    assert post_form(partner, link, {}).status_code == 400  # no answer chosen
    assert "accepted" in post_form(partner, link, {"decision": "accept"}).get_data(True).lower()
    assert "already answered" in partner.get(link).get_data(as_text=True)
    (accepted,) = run_worker(app, tmp_path)
    assert accepted["Subject"] == "Cambridge accepted your introduction request"
    assert "Wes Waste, waste@cambridge.gov.uk" in text_part(accepted)
    with sessions(app)() as session:
        assert session.scalars(select(Introduction)).one().status == "accepted"


def test_a_declined_introduction_sends_nothing_back(app, client, shy_partner, tmp_path):
    fill_council_form(client, **{"ratings-waste": "1"})
    submit(client)
    run_worker(app, tmp_path)
    with transaction(sessions(app)) as session:
        confirm_address(session, LEEDS_ADDRESS)
    ask(client, shy_partner.id)
    (request,) = [m for m in run_worker(app, tmp_path) if "introduction" in m["Subject"]]
    post_form(app.test_client(), link_in(request, "/introductions/"), {"decision": "decline"})
    assert [m["Subject"] for m in run_worker(app, tmp_path)] == []
    assert "Introduction: declined" in client.get("/profile").get_data(as_text=True)


def test_introductions_only_to_recommended_partners_and_only_once_confirmed(app, client,
                                                                            shy_partner, tmp_path):
    fill_council_form(client, **{"ratings-waste": "1"})
    submit(client)
    run_worker(app, tmp_path)
    assert "Request an introduction" not in client.get("/profile").get_data(as_text=True)
    with transaction(sessions(app)) as session:
        confirm_address(session, LEEDS_ADDRESS)
        stranger, _ = create_profile(session, council_body(contact_email="x@leeds.gov.uk"))
    ask(client, stranger.id)
    ask(client, "../../etc")
    assert owed(app, "introduction") == []


def test_erasing_the_requester_cancels_the_unsent_introduction(app, client, shy_partner,
                                                               tmp_path):
    fill_council_form(client, **{"ratings-waste": "1"})
    submit(client)
    run_worker(app, tmp_path)
    with transaction(sessions(app)) as session:
        confirm_address(session, LEEDS_ADDRESS)
    ask(client, shy_partner.id)
    assert len(owed(app, "introduction")) == 1
    post_form(client, "/profile/delete", {})
    assert owed(app, "introduction") == []
    with sessions(app)() as session:
        assert session.scalars(select(Introduction)).all() == []


BRADFORD = "E08000032"


@pytest.fixture
def open_partner(app) -> Profile:
    """A confirmed council, strong in children's services, that shares its contact details."""
    with transaction(sessions(app)) as session:
        partner, _ = create_profile(session, council_body(
            gss_code=BRADFORD, contact_email="pat.partner@bradford.gov.uk",
            contact_name="Pat Partner", ratings={"childrens_services": 5}, share_contact=True,
            seeking=["council"], capacity_to_support="available"))
        confirm_address(session, "pat.partner@bradford.gov.uk")
        return partner


def test_the_profile_page_shows_the_details_a_partner_chose_to_share(app, client, open_partner,
                                                                     tmp_path):
    fill_council_form(client)
    submit(client)
    run_worker(app, tmp_path)
    with transaction(sessions(app)) as session:
        confirm_address(session, LEEDS_ADDRESS)
    response = client.get("/profile")
    assert response.status_code == 200
    assert ('Contact: Pat Partner, <a class="govuk-link" href="mailto:pat.partner@bradford.gov.uk">'
            'pat.partner@bradford.gov.uk</a>') in response.get_data(as_text=True)
