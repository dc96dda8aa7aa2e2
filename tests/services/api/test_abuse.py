"""Abuse and leaks, through the API and the pages, on each database.

- Confirmation emails cannot be turned on strangers: changes are limited per client and per
  profile, confirmations capped per profile and per address a day, and what is sent to an address
  nobody has confirmed holds nothing the submitter typed.
- A stored Idempotency-Key replay goes with the profile it created, is purged after 24 hours and
  belongs to the client that made it.
- Smaller holes: a trailing newline in an address, a draft key signing in another browser, a
  link request answering faster for unknown addresses.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import (
    EmailDelivery,
    IdempotencyKey,
    Introduction,
    LinkRequest,
    Profile,
    utcnow,
)
from partnermatch.shared.operations.purge import purge_expired
from partnermatch.shared.profiles.store import create_profile
from partnermatch.shared.recommendations.confirmation import confirm_address
from tests.services.api.helpers import CAMBRIDGE, assert_envelope, bearer, council_body, create
from tests.services.api.web_helpers import (
    answer_link_requests,
    as_pairs,
    council_details,
    csrf_token,
    fill_council_form,
    post_form,
    run_worker,
    submission_key,
    submit,
    text_part,
)

STRANGERS = [f"stranger{n}@example.co.uk" for n in range(6)]
PROXIED = {"TRUSTED_PROXY_COUNT": "1"}


def sessions(app):
    return app.extensions["partnermatch"].sessions


def supplier_body(**overrides) -> dict:
    body = {
        "kind": "supplier", "name": "Example Care Ltd", "contact_name": "Pat Supplier",
        "contact_email": "pat@example-care.co.uk", "ratings": {"adult_social_care": 5},
        "regions_served": ["North West"], "evidence_text": "CQC outstanding",
        "company_number": "01234567",
    }
    return {**body, **overrides}


def confirmations_to(app, address: str) -> int:
    with sessions(app)() as session:
        return session.scalar(select(func.count()).select_from(EmailDelivery).where(
            EmailDelivery.purpose == "confirmation", EmailDelivery.to_address == address))


def contact_of(app, profile_id: str) -> str:
    with sessions(app)() as session:
        return session.get(Profile, profile_id).contact_email


# --- 6: confirmation emails as a spam cannon ------------------------------------------------------

def test_pointing_a_profile_at_stranger_after_stranger_is_stopped_at_three_a_day(client, app):
    created = client.post("/api/v1/profiles", json=supplier_body(contact_email=STRANGERS[0]))
    profile_id, token = created.get_json()["id"], created.get_json()["token"]
    codes = [client.put(f"/api/v1/profiles/{profile_id}", headers=bearer(token),
                        json=supplier_body(contact_email=address)).status_code
             for address in STRANGERS[1:4]]
    assert codes == [200, 200, 429]  # the first confirmation went with the submission
    assert contact_of(app, profile_id) == STRANGERS[2]  # the refused change changed nothing
    assert [confirmations_to(app, a) for a in STRANGERS[:4]] == [1, 1, 1, 0]


def test_the_refusal_says_why_and_when_to_come_back(client):
    created = create(client)
    for n in range(2):
        client.put(f"/api/v1/profiles/{created['id']}", headers=bearer(created["token"]),
                   json=council_body(contact_email=f"officer{n}@leeds.gov.uk"))
    response = client.put(f"/api/v1/profiles/{created['id']}", headers=bearer(created["token"]),
                          json=council_body(contact_email="officer9@leeds.gov.uk"))
    body = assert_envelope(response, 429)
    assert "confirmation emails" in body["message"] and int(response.headers["Retry-After"]) > 0


def test_one_address_is_sent_at_most_three_confirmations_a_day(client, app):
    codes = [client.post("/api/v1/profiles",
                         json=supplier_body(name=f"Supplier {n}", contact_email=STRANGERS[0]))
             .status_code for n in range(5)]
    assert codes == [201] * 5  # every submission is kept
    assert confirmations_to(app, STRANGERS[0]) == 3


def test_erasing_the_profile_does_not_buy_another_email(client, app, tmp_path):
    sent = []
    for n in range(5):
        created = client.post("/api/v1/profiles", json=supplier_body(
            name=f"Supplier {n}", contact_email=STRANGERS[0])).get_json()
        sent += run_worker(app, tmp_path)
        client.delete(f"/api/v1/profiles/{created['id']}", headers=bearer(created["token"]))
    assert sum(STRANGERS[0] in str(message["To"]) for message in sent) == 3


def test_a_confirmation_holds_nothing_the_submitter_typed(client, app, tmp_path):
    typed = {"name": "Prize Draw Ltd", "contact_name": "You have won",
             "evidence_text": "Claim at evil.example now", "contact_email": STRANGERS[0]}
    assert client.post("/api/v1/profiles", json=supplier_body(**typed)).status_code == 201
    (message,) = run_worker(app, tmp_path)
    html = message.get_body(preferencelist=("html",)).get_content()
    whole = " ".join([str(message["To"]), str(message["Subject"]), text_part(message), html])
    for text in ("Prize Draw", "You have won", "evil.example"):
        assert text not in whole
    assert "A supplier profile was submitted" in text_part(message)


def test_a_councils_confirmation_names_only_the_council_from_the_register(client, app, tmp_path):
    create(client, contact_name="Click this link")
    (message,) = run_worker(app, tmp_path)
    assert "Click this link" not in str(message["To"]) + text_part(message)
    assert "A profile for Leeds" in text_part(message)


def test_changes_are_limited_per_profile_and_a_strangers_attempts_cost_its_owner_nothing(
        make_app):
    client = make_app(RATE_LIMIT_PROFILE_CHANGE="2/hour", **PROXIED).test_client()
    created = create(client)
    url, body = f"/api/v1/profiles/{created['id']}", council_body(needs_text="Fly-tipping")
    strangers = [client.put(url, json=body, headers={**bearer("x" * 43),
                                                     "X-Forwarded-For": f"203.0.113.{n}"})
                 for n in range(4)]
    assert {r.status_code for r in strangers} == {404}
    owner = [client.put(url, json=body, headers={**bearer(created["token"]),
                                                 "X-Forwarded-For": f"198.51.100.{n}"})
             for n in range(3)]
    assert [r.status_code for r in owner] == [200, 200, 429]  # a new client each time
    assert "Retry-After" in owner[-1].headers


def test_changes_are_limited_per_client(make_app):
    client = make_app(RATE_LIMIT_CHANGE="2/hour").test_client()
    profiles = [create(client, contact_email=f"officer{n}@leeds.gov.uk") for n in range(3)]
    codes = [client.put(f"/api/v1/profiles/{p['id']}", headers=bearer(p["token"]),
                        json=council_body(contact_email=f"officer{n}@leeds.gov.uk")).status_code
             for n, p in enumerate(profiles)]
    assert codes == [200, 200, 429]


def test_the_web_edit_shares_the_limits_and_says_so_on_a_page(make_app):
    app = make_app(RATE_LIMIT_PROFILE_CHANGE="1/hour")
    client = app.test_client()
    fill_council_form(client)
    submit(client)  # signs this browser in
    changes = [post_form(client, "/profile/edit", as_pairs(council_details(needs_text=text)))
               for text in ("Fly-tipping", "Potholes")]
    assert [r.status_code for r in changes] == [303, 429]
    assert "govuk-template" in changes[1].get_data(as_text=True)
    with sessions(app)() as session:
        assert session.scalars(select(Profile)).one().fields["needs_text"] == "Fly-tipping"


def test_the_web_edit_refuses_a_fourth_new_address_and_changes_nothing(client, app):
    fill_council_form(client)
    submit(client)
    codes = [post_form(client, "/profile/edit", as_pairs(council_details(
        contact_email=f"officer{n}@leeds.gov.uk"))).status_code for n in range(3)]
    assert codes == [303, 303, 429]
    page = client.get("/profile").get_data(as_text=True)
    assert "officer1@leeds.gov.uk" in page and "officer2@leeds.gov.uk" not in page


def test_a_confirmed_address_is_never_counted(client, app):
    created = create(client)
    with transaction(sessions(app)) as session:
        confirm_address(session, "sam.officer@leeds.gov.uk")
    for n in range(5):
        response = client.put(f"/api/v1/profiles/{created['id']}", headers=bearer(
            created["token"]), json=council_body(needs_text=f"Need {n}"))
        assert response.status_code == 200


def test_an_unconfirmed_address_cannot_ask_for_introductions(client, app, tmp_path):
    """The request carries the requester's words to a partner, and the partner's details come
    back to the requester's address: neither may happen for an address nobody has confirmed."""
    with transaction(sessions(app)) as session:
        partner, _token = create_profile(session, council_body(
            gss_code=CAMBRIDGE, contact_email="waste@cambridge.gov.uk", share_contact=False,
            ratings={"waste": 5}, seeking=["council"], capacity_to_support="available"))
        confirm_address(session, "waste@cambridge.gov.uk")
        partner_id = partner.id
    fill_council_form(client, **{"ratings-waste": "1",
                                 "needs_text": "Visit evil.example for a prize"})
    submit(client)  # signed in, address not confirmed
    run_worker(app, tmp_path)
    response = post_form(client, "/profile/introductions", {"partner_id": partner_id},
                         page="/profile")
    assert response.status_code == 303
    assert "Confirm your email address first" in client.get("/profile").get_data(as_text=True)
    with sessions(app)() as session:
        assert session.scalars(select(Introduction)).all() == []
    assert run_worker(app, tmp_path) == []  # nothing to the partner


# --- 9: idempotency records ----------------------------------------------------------------------

def test_a_replay_after_erasure_never_returns_the_erased_profile(client, app):
    headers = {"Idempotency-Key": "retry-safe-1"}
    first = client.post("/api/v1/profiles", json=council_body(), headers=headers).get_json()
    assert client.delete(f"/api/v1/profiles/{first['id']}",
                         headers=bearer(first["token"])).status_code == 204
    with sessions(app)() as session:
        assert session.scalars(select(IdempotencyKey)).all() == []
    again = client.post("/api/v1/profiles", json=council_body(), headers=headers)
    assert again.status_code == 201
    assert again.get_json()["id"] != first["id"]
    assert again.get_json()["token"] != first["token"]


def test_a_key_replays_only_for_the_client_that_made_it(make_app):
    app = make_app(**PROXIED)
    client = app.test_client()
    key = {"Idempotency-Key": "predictable-key"}
    mine = client.post("/api/v1/profiles", json=council_body(),
                       headers={**key, "X-Forwarded-For": "198.51.100.1"}).get_json()
    replay = client.post("/api/v1/profiles", json=council_body(),
                         headers={**key, "X-Forwarded-For": "198.51.100.1"}).get_json()
    theirs = client.post("/api/v1/profiles", json=council_body(),
                         headers={**key, "X-Forwarded-For": "203.0.113.7"})
    assert replay == mine
    assert theirs.status_code == 201 and theirs.get_json()["token"] != mine["token"]


def test_stored_replays_are_purged_after_24_hours(client, app):
    headers = {"Idempotency-Key": "purge-me"}
    client.post("/api/v1/profiles", json=council_body(), headers=headers)
    with transaction(sessions(app)) as session:
        assert purge_expired(session, utcnow() + timedelta(hours=23))["idempotency_keys"] == 0
    with transaction(sessions(app)) as session:
        assert purge_expired(session, utcnow() + timedelta(hours=25))["idempotency_keys"] == 1
    with sessions(app)() as session:
        assert session.scalars(select(IdempotencyKey)).all() == []


# --- 10: the smaller ones ------------------------------------------------------------------------

@pytest.mark.parametrize("address", ["pat@example-care.co.uk\n", "pat@example-care.co.uk\r\n",
                                     "pat@example-care.co.uk\nBcc: x@example-care.co.uk"])
def test_an_address_with_a_trailing_newline_is_refused(client, app, address):
    # A supplier: any domain is allowed, so only the address pattern stands in the way.
    response = client.post("/api/v1/profiles", json=supplier_body(contact_email=address))
    assert "contact_email" in assert_envelope(response, 422)["errors"]
    with sessions(app)() as session:
        assert session.scalar(select(func.count()).select_from(Profile)) == 0


def test_the_draft_key_does_not_sign_another_browser_in(client, app):
    fill_council_form(client)
    key = submission_key(client)

    def press_send(browser):
        page = browser.get("/profile/link").get_data(as_text=True)  # any page with a form
        return browser.post("/check", data={"csrf_token": csrf_token(page),
                                            "submission_key": key})

    thief = app.test_client()
    response = press_send(thief)  # the profile is stored; the thief is not signed in to it
    assert response.status_code == 200 and "use the link in the email" in response.get_data(True)
    assert thief.get("/profile").status_code == 302
    assert press_send(client).headers["Location"] == "/submitted"  # the browser that filled it in
    assert client.get("/profile").status_code == 200
    with sessions(app)() as session:
        assert session.scalar(select(func.count()).select_from(Profile)) == 1


def statements_of(app, request) -> list[str]:
    """The SQL a request runs (statements only, never values)."""
    engine, seen = app.extensions["partnermatch"].engine, []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        response = request()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 303
    return seen


def test_a_link_request_does_the_same_work_for_a_known_and_an_unknown_address(client, app):
    created = create(client)
    with transaction(sessions(app)) as session:
        confirm_address(session, "sam.officer@leeds.gov.uk")

    def ask(address: str):
        return lambda: post_form(client, "/profile/link", {"email": address})

    known = statements_of(app, ask("sam.officer@leeds.gov.uk"))
    unknown = statements_of(app, ask("nobody@leeds.gov.uk"))
    assert known == unknown
    with sessions(app)() as session:
        assert session.scalar(select(func.count()).select_from(EmailDelivery).where(
            EmailDelivery.purpose == "link")) == 0  # nothing looked up yet
        assert session.scalar(select(func.count()).select_from(LinkRequest)) == 2
    answer_link_requests(app)  # what the worker does
    with sessions(app)() as session:
        (link,) = session.scalars(select(EmailDelivery).where(EmailDelivery.purpose == "link"))
        assert link.profile_id == created["id"]
        assert session.scalar(select(func.count()).select_from(LinkRequest)) == 0
