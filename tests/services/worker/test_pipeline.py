"""A profile through the real queue: API → Redis → worker → SMTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from partnermatch.shared.db.engine import make_engine, make_sessionmaker, transaction
from partnermatch.shared.db.models import EmailDelivery, Profile
from partnermatch.shared.profiles.store import create_profile
from partnermatch.shared.recommendations.confirmation import confirm_address
from partnermatch.shared.reference.taxonomy import delivers
from tests.processes import CeleryProcess, text_of
from tests.services.api.helpers import CAMBRIDGE, bearer, council_body
from tests.services.worker.conftest import confirm, confirm_link

pytestmark = pytest.mark.slow

LEEDS_ADDRESS = "sam.officer@leeds.gov.uk"


def to(address: str):
    return lambda message: address in message["To"]


def wait_ready(client, created, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(created["links"]["matches"] + "?limit=50",
                          headers=bearer(created["token"])).get_json()
        if body["status"] != "pending":
            return body
        time.sleep(0.2)
    raise AssertionError("matches stayed pending")


def add_district_strong_in_waste(database_url: str) -> None:
    engine = make_engine(database_url)
    with transaction(make_sessionmaker(engine)) as session:
        create_profile(session, {
            "kind": "council", "gss_code": CAMBRIDGE, "contact_name": "Waste lead",
            "contact_email": "waste@cambridge.gov.uk", "share_contact": True,
            "ratings": {"waste": 5, "housing": 4}, "needs_text": "",
            "strengths_text": "Kerbside recycling and food waste collection",
            "seeking": ["council"], "capacity_to_support": "available",
        })
        confirm_address(session, "waste@cambridge.gov.uk")  # only confirmed profiles take part
    engine.dispose()


def test_confirmed_council_gets_one_email_naming_strong_councils(
    api, worker, beat, smtp, demo_candidates, database_url
):
    add_district_strong_in_waste(database_url)
    created = api.post("/api/v1/profiles", json=council_body(
        ratings={"childrens_services": 1, "adult_social_care": 2, "waste": 2})).get_json()

    confirmation = smtp.wait_for(to(LEEDS_ADDRESS))[0]
    assert confirmation["Subject"].startswith("Confirm your email address")
    assert wait_ready(api, created)["status"] == "ready"
    # nothing but the confirmation before confirming (Cambridge, confirmed, gets its own email)
    assert len([m for m in smtp.messages if to(LEEDS_ADDRESS)(m)]) == 1

    confirm(api, confirm_link(text_of(confirmation)))
    email = smtp.wait_for(lambda m: to(LEEDS_ADDRESS)(m) and "recommendations" in m["Subject"])[0]
    matches = wait_ready(api, created)
    needs = {n["service_area"]: n["partners"] for n in matches["needs"]}
    council_types = dict(_council_types(api))
    assert needs["childrens_services"], "strong children's services councils exist in the data"
    assert all(delivers(council_types[p["gss_code"]], "childrens_services")
               for p in needs["childrens_services"] if p["kind"] == "council")
    assert all(p["strength_rating"] >= 4 and p["reasons"] for n in needs.values() for p in n)
    assert CAMBRIDGE in [p["gss_code"] for p in needs["waste"]]
    body = text_of(email)
    assert needs["childrens_services"][0]["name"] in body and "Cambridge" in body

    time.sleep(4)  # the relay runs every second: nothing may be sent twice
    assert len(smtp.wait_for(to(LEEDS_ADDRESS), count=2)) == 2


def _council_types(client):
    for council in client.get("/api/v1/councils").get_json()["items"]:
        yield council["gss_code"], council["council_type"]


def test_deleted_profile_gets_no_email(api, service_env, tmp_path, beat, smtp, database_url):
    # Each match waits a second once started, so the DELETE below surely comes before the second
    # profile's match, however fast the worker is (without it, a worker that matches and sends
    # within the DELETE's round trip rightly emails a profile that still existed).
    worker = CeleryProcess.worker({**service_env, "TEST_MATCH_DELAY_SECONDS": "1"},
                                  tmp_path / "worker.log")
    try:
        _delete_before_the_match(api, smtp, database_url)
    finally:
        worker.stop()


def _delete_before_the_match(api, smtp, database_url) -> None:
    first = api.post("/api/v1/profiles", json=council_body()).get_json()
    confirm(api, confirm_link(text_of(smtp.wait_for(to(LEEDS_ADDRESS))[0])))
    wait_ready(api, first)
    smtp.wait_for(lambda m: "recommendations" in m["Subject"])
    before = len(smtp.messages)

    second = api.post("/api/v1/profiles", json=council_body(needs_text="Another need")).get_json()
    assert api.delete(f"/api/v1/profiles/{second['id']}",
                      headers=bearer(second["token"])).status_code == 204
    time.sleep(6)  # long enough for the match, the email and two relay passes
    assert len(smtp.messages) == before
    engine = make_engine(database_url)
    with make_sessionmaker(engine)() as session:
        assert session.get(Profile, second["id"]) is None
        owed = session.scalar(select(func.count()).select_from(EmailDelivery)
                              .where(EmailDelivery.profile_id == second["id"]))
        assert owed == 0
    engine.dispose()


def test_a_strong_newcomer_reaches_the_councils_it_helps_in_one_email_each(
    api, worker, beat, smtp, database_url
):
    waiting = api.post("/api/v1/profiles", json=council_body(
        ratings={"waste": 1, "highways_transport": 1})).get_json()
    confirm(api, confirm_link(text_of(smtp.wait_for(to(LEEDS_ADDRESS))[0])))
    first = smtp.wait_for(lambda m: to(LEEDS_ADDRESS)(m) and "recommendations" in m["Subject"])
    assert "New partner" not in first[0]["Subject"]
    # the promise the new partner email below keeps
    assert text_of(first[0]).count("We will email you when one joins partnermatch.") == 2
    before = {n["service_area"]: n["partners"] for n in wait_ready(api, waiting)["needs"]}
    assert before == {"waste": [], "highways_transport": []}, "nobody strong there yet"

    manchester = "waste.lead@manchester.gov.uk"
    api.post("/api/v1/profiles", json=council_body(
        gss_code="E08000003", contact_email=manchester, contact_name="Waste lead",
        ratings={"waste": 5, "highways_transport": 5}, seeking=["council"]))
    confirm(api, confirm_link(text_of(smtp.wait_for(to(manchester))[0])))

    news = smtp.wait_for(lambda m: to(LEEDS_ADDRESS)(m) and m["Subject"].startswith("New partner"))
    assert news[0]["Subject"] == "New partner recommendations for Leeds"
    assert "Manchester has joined partnermatch" in text_of(news[0])
    needs = {n["service_area"]: n["partners"] for n in wait_ready(api, waiting)["needs"]}
    assert needs["waste"][0]["gss_code"] == "E08000003"
    assert needs["highways_transport"][0]["gss_code"] == "E08000003"

    time.sleep(4)  # the relay runs every second: nothing may be sent twice
    assert len(smtp.wait_for(to(LEEDS_ADDRESS), count=3)) == 3  # confirm, first, news


def test_get_a_link_is_answered_by_the_worker_through_the_queue(api, worker, smtp):
    """/profile/link only records the request; a worker looks the address up and emails the
    link (the request must not take longer for an address we know)."""
    from tests.services.api.web_helpers import post_form

    api.post("/api/v1/profiles", json=council_body())
    confirm(api, confirm_link(text_of(smtp.wait_for(to(LEEDS_ADDRESS))[0])))
    for address in ("nobody@leeds.gov.uk", LEEDS_ADDRESS):
        response = post_form(api, "/profile/link", {"email": address})
        assert response.headers["Location"] == "/profile/link/sent"
    (link,) = smtp.wait_for(lambda m: m["Subject"] == "Your link to partnermatch")
    assert LEEDS_ADDRESS in link["To"] and "/open/" in text_of(link)
    assert not any("nobody@" in m["To"] for m in smtp.messages)


def test_a_partner_confirming_after_the_council_was_matched_reaches_it_in_one_email(
    api, worker, beat, smtp
):
    bradford = "children.lead@bradford.gov.uk"
    api.post("/api/v1/profiles", json=council_body(
        gss_code="E08000032", contact_email=bradford, contact_name="Children's lead",
        ratings={"childrens_services": 5}, seeking=["council"], capacity_to_support="available"))
    bradford_confirmation = smtp.wait_for(to(bradford))[0]  # not confirmed: not a candidate yet

    waiting = api.post("/api/v1/profiles", json=council_body(
        ratings={"childrens_services": 1})).get_json()
    confirm(api, confirm_link(text_of(smtp.wait_for(to(LEEDS_ADDRESS))[0])))
    first = smtp.wait_for(lambda m: to(LEEDS_ADDRESS)(m) and "recommendations" in m["Subject"])
    assert "Bradford" not in text_of(first[0])
    before = {n["service_area"]: n["partners"] for n in wait_ready(api, waiting)["needs"]}
    assert before == {"childrens_services": []}

    link = confirm_link(text_of(bradford_confirmation))
    confirm(api, link)
    news = smtp.wait_for(lambda m: to(LEEDS_ADDRESS)(m) and m["Subject"].startswith("New partner"))
    assert "Bradford has joined partnermatch" in text_of(news[0])
    needs = {n["service_area"]: n["partners"] for n in wait_ready(api, waiting)["needs"]}
    assert [p["gss_code"] for p in needs["childrens_services"]] == ["E08000032"]

    confirm(api, link)  # the link opened again
    time.sleep(4)  # the relay runs every second: nothing may be sent twice
    assert len(smtp.wait_for(to(LEEDS_ADDRESS), count=3)) == 3  # confirm, first, news
