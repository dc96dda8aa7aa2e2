"""Who may be recommended, and to whom: through the API, the pages, the emails and /ops.

Only confirmed contacts take part: an unconfirmed profile is recommended to nobody and its details
go nowhere; an unconfirmed requester cannot ask for introductions; an accepted introduction's
details go only to a confirmed address that still takes our emails. A council's address should be
the council's: one off the council's own web domain is recommended with a label, its contact
withheld, until a person verifies (or rejects) it on /ops.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import (
    AuditEntry,
    EmailDelivery,
    Introduction,
    OutboxEvent,
    Profile,
)
from partnermatch.shared.outbox.events import REFRESH_TOPIC
from partnermatch.shared.profiles.demo import seed_demo
from partnermatch.shared.recommendations import refresh as freshness
from partnermatch.shared.recommendations.confirmation import confirm_address
from partnermatch.shared.recommendations.live_index import CandidateIndex
from partnermatch.shared.reference.addresses import UNVERIFIED_REASON
from tests.services.api.helpers import CAMBRIDGE, bearer, create
from tests.services.api.test_ops import (
    OPS_TOKEN,
    csrf,
    log_in,
    ops_user,  # noqa: F401
)
from tests.services.api.test_ops import app_config as ops_app_config  # noqa: F401
from tests.services.api.web_helpers import (
    fill_council_form,
    link_in,
    post_form,
    run_worker,
    submit,
    text_part,
)

MANCHESTER, BIRMINGHAM = "E08000003", "E08000025"
LEEDS_ADDRESS = "sam.officer@leeds.gov.uk"
LABEL = "Not yet verified"


@pytest.fixture
def app_config(ops_app_config):  # noqa: F811
    return ops_app_config


def sessions(app):
    return app.extensions["partnermatch"].sessions


def strong_in_waste(client, gss_code: str, address: str, **overrides) -> dict:
    """A council strong in waste, able to help, sharing its contact details (through the API)."""
    body = {"gss_code": gss_code, "contact_email": address, "contact_name": "Pat Partner",
            "ratings": {"waste": 5}, "capacity_to_support": "available", "share_contact": True,
            "strengths_text": "Kerbside recycling", **overrides}
    return create(client, **body)


def weak_in_waste(client, address: str = "api.officer@leeds.gov.uk") -> dict:
    """A Leeds profile asking for help with waste, through the API."""
    return create(client, contact_email=address, ratings={"waste": 1})


def waste_partners(client, asker: dict) -> list[dict]:
    body = client.get(f"/api/v1/profiles/{asker['id']}/matches",
                      headers=bearer(asker["token"])).get_json()
    assert body["status"] == "ready"
    return [p for n in body["needs"] if n["service_area"] == "waste" for p in n["partners"]]


def rematch(client, asker: dict) -> None:
    """Change nothing but press save again through the API: the profile is matched again."""
    document = client.get(f"/api/v1/profiles/{asker['id']}", headers=bearer(asker["token"]))
    fields = {k: v for k, v in document.get_json().items() if k in (
        "kind", "gss_code", "contact_name", "contact_email", "ratings", "needs_text",
        "strengths_text", "seeking", "capacity_to_support", "share_contact")}
    assert client.put(f"/api/v1/profiles/{asker['id']}", json=fields,
                      headers=bearer(asker["token"])).status_code == 200


def web_asker(client, app, tmp_path) -> list:
    """A Leeds officer sends the form (weak in waste), is matched and confirms the address;
    return the emails the worker sent meanwhile."""
    fill_council_form(client, **{"ratings-waste": "1"})
    submit(client)
    sent = run_worker(app, tmp_path)
    with transaction(sessions(app)) as session:
        confirm_address(session, LEEDS_ADDRESS)
    return sent


def run_refresh(app, profile_id: str) -> None:
    """Run the worker's refresh pass for the refresh event a profile owes."""
    runtime = app.extensions["partnermatch"]
    with runtime.sessions() as session:
        (event_id,) = session.scalars(select(OutboxEvent.id).where(
            OutboxEvent.topic == REFRESH_TOPIC, OutboxEvent.profile_id == profile_id)).all()
        index = CandidateIndex(session)
    freshness.refresh_partners(runtime.sessions, runtime.read_sessions, index, event_id, 60.0)


def sent_to(messages, address: str):
    return [m for m in messages if m["To"].addresses[0].addr_spec == address]


# -- only confirmed contacts take part ----------------------------------------------------------

def test_an_unconfirmed_partner_is_recommended_and_shared_only_once_its_address_is_confirmed(
        client, app, tmp_path):
    manchester = strong_in_waste(client, MANCHESTER, "pat@manchester.gov.uk")
    api_asker = weak_in_waste(client)
    emails = web_asker(client, app, tmp_path)
    with transaction(sessions(app)) as session:
        confirm_address(session, "api.officer@leeds.gov.uk")

    assert manchester["id"] not in [p["partner_id"] for p in waste_partners(client, api_asker)]
    page = client.get("/profile").get_data(as_text=True)
    assert "Manchester" not in page and "pat@manchester.gov.uk" not in page
    emails += run_worker(app, tmp_path)
    (confirm_manchester,) = sent_to(emails, "pat@manchester.gov.uk")
    for email in sent_to(emails, LEEDS_ADDRESS):
        assert "pat@manchester.gov.uk" not in text_part(email)

    # Manchester's officer presses the button in the confirmation email
    link = link_in(confirm_manchester, "/confirm/")
    assert post_form(app.test_client(), link, {}).status_code == 303
    run_refresh(app, manchester["id"])  # councils it helps are re-ranked, as the worker does

    page = client.get("/profile").get_data(as_text=True)
    assert "Manchester" in page and "pat@manchester.gov.uk" in page
    (new_partner,) = [m for m in run_worker(app, tmp_path) if "New partner" in m["Subject"]]
    assert "pat@manchester.gov.uk" in text_part(new_partner)
    rematch(client, api_asker)
    run_worker(app, tmp_path)
    assert [p["partner_id"] for p in waste_partners(client, api_asker)] == [manchester["id"]]


def test_an_unconfirmed_requester_cannot_ask_for_an_introduction_even_by_posting(
        client, app, tmp_path):
    shy = strong_in_waste(client, CAMBRIDGE, "waste@cambridge.gov.uk", share_contact=False,
                          ratings={"waste": 5, "housing": 4})
    with transaction(sessions(app)) as session:
        confirm_address(session, "waste@cambridge.gov.uk")
    fill_council_form(client, **{"ratings-waste": "1"})
    submit(client)
    run_worker(app, tmp_path)
    assert "Request an introduction" not in client.get("/profile").get_data(as_text=True)

    response = post_form(client, "/profile/introductions", {"partner_id": shy["id"]},
                         page="/profile")
    assert response.status_code == 303  # back to the page, which says why
    assert "Confirm your email address first" in client.get("/profile").get_data(as_text=True)
    with sessions(app)() as session:
        assert session.scalars(select(Introduction)).all() == []
        assert session.scalars(select(EmailDelivery).where(
            EmailDelivery.purpose == "introduction")).all() == []

    with transaction(sessions(app)) as session:
        confirm_address(session, LEEDS_ADDRESS)
    response = post_form(client, "/profile/introductions", {"partner_id": shy["id"]},
                         page="/profile")
    assert response.status_code == 303
    with sessions(app)() as session:
        assert len(session.scalars(select(Introduction)).all()) == 1


def test_an_accepted_introduction_goes_only_to_an_address_still_subscribed(
        client, app, tmp_path):
    shy = strong_in_waste(client, CAMBRIDGE, "waste@cambridge.gov.uk", share_contact=False,
                          ratings={"waste": 5, "housing": 4})
    with transaction(sessions(app)) as session:
        confirm_address(session, "waste@cambridge.gov.uk")
    web_asker(client, app, tmp_path)
    post_form(client, "/profile/introductions", {"partner_id": shy["id"]}, page="/profile")
    emails = run_worker(app, tmp_path)
    (asked,) = [m for m in emails if "would like an introduction" in m["Subject"]]
    (recommendations,) = sent_to(emails, LEEDS_ADDRESS)
    # the officer unsubscribes, then the partner accepts
    unsubscribe = link_in(recommendations, "/unsubscribe/")
    post_form(client, unsubscribe, {})
    partner = app.test_client()
    assert post_form(partner, link_in(asked, "/introductions/"),
                     {"decision": "accept"}).status_code == 200
    assert run_worker(app, tmp_path) == []
    with sessions(app)() as session:
        assert session.scalars(select(EmailDelivery).where(
            EmailDelivery.purpose == "introduction_accepted")).all() == []


# -- a council's address should belong to the council -------------------------------------------

@pytest.fixture
def claimed_birmingham(client, app):
    """Someone with a Dudley address says they are Birmingham; their address is confirmed."""
    claimed = strong_in_waste(client, BIRMINGHAM, "someone@dudley.gov.uk")
    with transaction(sessions(app)) as session:
        confirm_address(session, "someone@dudley.gov.uk")
    return claimed


def test_an_address_off_the_councils_domain_is_labelled_withheld_and_listed_for_checking(
        client, app, tmp_path, claimed_birmingham, ops_user):  # noqa: F811
    own = strong_in_waste(client, MANCHESTER, "pat@manchester.gov.uk")
    with transaction(sessions(app)) as session:
        confirm_address(session, "pat@manchester.gov.uk")
    api_asker = weak_in_waste(client)
    web_asker(client, app, tmp_path)

    partners = {p["partner_id"]: p for p in waste_partners(client, api_asker)}
    assert partners[claimed_birmingham["id"]]["reasons"][0] == UNVERIFIED_REASON
    assert not any(LABEL in r for r in partners[own["id"]]["reasons"])
    page = client.get("/profile").get_data(as_text=True)
    assert LABEL in page and "pat@manchester.gov.uk" in page
    assert "someone@dudley.gov.uk" not in page
    (email,) = sent_to(run_worker(app, tmp_path), LEEDS_ADDRESS)
    assert LABEL in text_part(email) and "someone@dudley.gov.uk" not in text_part(email)

    ops = app.test_client()
    log_in(ops, ops_user)
    dashboard = ops.get("/ops", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "someone@dudley.gov.uk" in dashboard and "pat@manchester.gov.uk" not in dashboard
    response = ops.post(f"/ops/addresses/{claimed_birmingham['id']}/verify",
                        data={"csrf_token": csrf(ops, "/ops")})
    assert response.status_code == 303
    with sessions(app)() as session:
        entry = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "address.verified")).one()
        assert (entry.actor, entry.target) == (ops_user, claimed_birmingham["id"])

    page = client.get("/profile").get_data(as_text=True)
    assert "someone@dudley.gov.uk" in page and LABEL not in page
    assert not any(LABEL in r for p in waste_partners(client, api_asker) for r in p["reasons"])
    dashboard = ops.get("/ops", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "someone@dudley.gov.uk" not in dashboard


def test_a_rejected_address_is_recommended_to_nobody(client, app, tmp_path, claimed_birmingham,
                                                     ops_user):  # noqa: F811
    api_asker = weak_in_waste(client)
    web_asker(client, app, tmp_path)
    assert claimed_birmingham["id"] in [p["partner_id"] for p in waste_partners(client, api_asker)]

    ops = app.test_client()
    log_in(ops, ops_user)
    assert ops.post(f"/ops/addresses/{claimed_birmingham['id']}/reject",
                    data={"csrf_token": csrf(ops, "/ops")}).status_code == 303

    assert claimed_birmingham["id"] not in [
        p["partner_id"] for p in waste_partners(client, api_asker)]
    assert "Birmingham" not in client.get("/profile").get_data(as_text=True)
    rematch(client, api_asker)
    run_worker(app, tmp_path)
    assert claimed_birmingham["id"] not in [
        p["partner_id"] for p in waste_partners(client, api_asker)]
    with sessions(app)() as session:
        assert session.scalars(select(AuditEntry.action).where(
            AuditEntry.target == claimed_birmingham["id"])).all() == ["address.rejected"]


def test_a_decision_on_an_address_needs_a_person_a_form_and_a_waiting_address(
        client, app, claimed_birmingham, ops_user):  # noqa: F811
    own = strong_in_waste(client, MANCHESTER, "pat@manchester.gov.uk")
    ops = app.test_client()
    log_in(ops, ops_user)
    token = csrf(ops, "/ops")
    target = claimed_birmingham["id"]
    assert ops.post(f"/ops/addresses/{target}/verify").status_code == 400  # no CSRF token
    assert ops.post(f"/ops/addresses/{target}/approve",
                    data={"csrf_token": token}).status_code == 404
    assert ops.post("/ops/addresses/00000000-0000-4000-8000-000000000000/verify",
                    data={"csrf_token": token}).status_code == 404
    assert ops.post(f"/ops/addresses/{own['id']}/reject",  # on its own domain: nothing to check
                    data={"csrf_token": token}).status_code == 404
    assert client.post(f"/ops/addresses/{target}/verify",
                       headers=bearer(OPS_TOKEN)).status_code in (400, 401)
    with sessions(app)() as session:
        assert session.get(Profile, target).address_status == "unverified"
        assert session.get(Profile, own["id"]).address_status == "council_domain"
        assert session.scalars(select(AuditEntry).where(
            AuditEntry.action.like("address.%"))).all() == []


def test_changing_the_address_checks_it_again_and_a_decision_stands_only_for_its_address(
        client, app, claimed_birmingham, ops_user):  # noqa: F811
    ops = app.test_client()
    log_in(ops, ops_user)
    ops.post(f"/ops/addresses/{claimed_birmingham['id']}/verify",
             data={"csrf_token": csrf(ops, "/ops")})

    def change(address: str) -> str:
        body = {"kind": "council", "gss_code": BIRMINGHAM, "contact_name": "Pat Partner",
                "contact_email": address, "ratings": {"waste": 5}, "seeking": ["council"],
                "capacity_to_support": "available", "share_contact": True}
        response = client.put(f"/api/v1/profiles/{claimed_birmingham['id']}", json=body,
                              headers=bearer(claimed_birmingham["token"]))
        assert response.status_code == 200
        with sessions(app)() as session:
            return session.get(Profile, claimed_birmingham["id"]).address_status

    assert change("someone@dudley.gov.uk") == "verified"  # same address: the decision stands
    assert change("other@sandwell.gov.uk") == "unverified"  # a new address is checked again
    assert change("pat@education.birmingham.gov.uk") == "council_domain"  # (3 a day at most)


def test_a_council_profile_on_a_shared_service_domain_needs_no_review(client, app):
    babergh = strong_in_waste(client, "E07000200", "officer@baberghmidsuffolk.gov.uk",
                              ratings={"waste": 5})
    richmond = strong_in_waste(client, "E09000027", "officer@richmondandwandsworth.gov.uk")
    leeds = strong_in_waste(client, "E08000035", "officer@baberghmidsuffolk.gov.uk")
    with sessions(app)() as session:
        statuses = {p.id: p.address_status for p in session.scalars(select(Profile))}
    assert statuses[babergh["id"]] == statuses[richmond["id"]] == "shared_service"
    assert statuses[leeds["id"]] == "unverified"  # Babergh's shared domain is not Leeds's


def test_demo_councils_stay_candidates_without_a_contact(client, app, tmp_path):
    with transaction(sessions(app)) as session:
        seed_demo(session)
    asker = create(client, contact_email="api.officer@leeds.gov.uk",
                   ratings={"childrens_services": 1})
    with transaction(sessions(app)) as session:
        confirm_address(session, "api.officer@leeds.gov.uk")
    run_worker(app, tmp_path)
    body = client.get(f"/api/v1/profiles/{asker['id']}/matches",
                      headers=bearer(asker["token"])).get_json()
    (need,) = body["needs"]
    assert need["partners"], "demo councils from public data are still recommended"
    assert not any(LABEL in r for p in need["partners"] for r in p["reasons"])
    with sessions(app)() as session:
        demo = session.scalars(select(Profile).where(Profile.demo.is_(True))).all()
        assert demo and all(p.address_status is None for p in demo)
