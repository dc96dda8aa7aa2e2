"""The real pipeline with EMAIL_BACKEND=notify: API → Redis → worker → a local GOV.UK Notify."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from sqlalchemy import select

from partnermatch.shared.db.engine import make_engine, make_sessionmaker, transaction
from partnermatch.shared.db.models import DeadLetter, EmailDelivery
from partnermatch.shared.operations.repair import replay_dead_letter
from tests.notify_server import API_KEY, TEMPLATE_ID, NotifyServer
from tests.services.api.helpers import council_body
from tests.services.worker.conftest import confirm, confirm_link

pytestmark = [pytest.mark.slow, pytest.mark.one_database]

COUNCILS = {"sam.officer@leeds.gov.uk": "E08000035", "waste.lead@manchester.gov.uk": "E08000003"}


@pytest.fixture
def notify_server():
    server = NotifyServer()
    yield server
    server.stop()


@pytest.fixture
def notify(notify_server):
    """What the local Notify received, and what it answers next."""
    return notify_server.state


@pytest.fixture
def service_env(service_env, notify_server) -> dict[str, str]:
    """The shared settings, sending through the local Notify instead of SMTP."""
    return {**service_env, "EMAIL_BACKEND": "notify", "NOTIFY_API_KEY": API_KEY,
            "NOTIFY_TEMPLATE_ID": TEMPLATE_ID, "NOTIFY_BASE_URL": notify_server.url,
            "NOTIFY_TIMEOUT": "5"}


def subject(notification: dict) -> str:
    return notification["personalisation"]["subject"]


def recommendations(notification: dict) -> bool:
    return "recommendations" in subject(notification)


def submit_and_confirm(api, notify, address: str, gss_code: str) -> None:
    """Submit a council profile and follow the link in the confirmation Notify sent."""
    api.post("/api/v1/profiles", json=council_body(gss_code=gss_code, contact_email=address))
    [confirmation] = notify.wait_for(lambda n: n["email_address"] == address)
    assert subject(confirmation).startswith("Confirm your email address")
    confirm(api, confirm_link(confirmation["personalisation"]["body"]))


def test_each_council_gets_exactly_one_recommendation_email_through_notify(
    api, worker, beat, notify, demo_candidates
):
    for address, gss_code in COUNCILS.items():
        submit_and_confirm(api, notify, address, gss_code)
    sent = notify.wait_for(recommendations, count=len(COUNCILS))
    for notification in sent:
        body = notification["personalisation"]["body"]
        assert "Unsubscribe from these emails: http://localhost/unsubscribe/" in body
        assert notification["one_click_unsubscribe_url"].startswith("http://localhost/unsub")
        assert notification["reference"].endswith("@partnermatch.test")

    time.sleep(4)  # the relay runs every second: nothing may be sent twice
    each = Counter(n["email_address"] for n in notify.notifications if recommendations(n))
    assert each == dict.fromkeys(COUNCILS, 1)
    assert len({n["reference"] for n in notify.notifications}) == len(notify.notifications)


def delivery_of(database_url: str, purpose: str) -> tuple[EmailDelivery, list[DeadLetter]]:
    engine = make_engine(database_url)
    with make_sessionmaker(engine)() as session:
        delivery = session.scalar(select(EmailDelivery).where(EmailDelivery.purpose == purpose))
        letters = list(session.scalars(select(DeadLetter)))
    engine.dispose()
    return delivery, letters


def wait_for_delivery(database_url: str, purpose: str, done, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        delivery, letters = delivery_of(database_url, purpose)
        if delivery is not None and done(delivery):
            return delivery, letters
        time.sleep(0.2)
    raise AssertionError(f"the {purpose} delivery never got there")


def test_a_400_from_notify_ends_as_a_dead_letter_without_retries(
    api, worker, beat, notify, database_url
):
    address = "sam.officer@leeds.gov.uk"
    api.post("/api/v1/profiles", json=council_body(contact_email=address))
    [confirmation] = notify.wait_for(lambda n: n["email_address"] == address)
    notify.answers.append(400)
    confirm(api, confirm_link(confirmation["personalisation"]["body"]))

    delivery, letters = wait_for_delivery(database_url, "recommendations",
                                          lambda d: d.status == "failed")
    assert delivery.attempts == 1 and "400" in delivery.last_error
    [letter] = letters
    assert letter.task_args == [delivery.id] and "Can't send to this recipient" in letter.error
    time.sleep(3)  # the relay runs every second: a permanent failure is never retried
    assert notify.posts == 2  # the confirmation, and the one refused attempt
    assert not [n for n in notify.notifications if recommendations(n)]


@pytest.mark.parametrize("status", [429, 500])
def test_a_429_or_500_from_notify_is_retried_and_sent_once(
    api, worker, beat, notify, database_url, status
):
    address = "sam.officer@leeds.gov.uk"
    api.post("/api/v1/profiles", json=council_body(contact_email=address))
    [confirmation] = notify.wait_for(lambda n: n["email_address"] == address)
    notify.answers.append(status)
    confirm(api, confirm_link(confirmation["personalisation"]["body"]))

    [sent] = notify.wait_for(recommendations)
    delivery, letters = wait_for_delivery(database_url, "recommendations",
                                          lambda d: d.status == "sent")
    assert delivery.attempts == 2 and sent["reference"] == delivery.message_id.strip("<>")
    assert letters == []
    time.sleep(3)  # the relay runs every second: nothing may be sent twice
    assert len([n for n in notify.notifications if recommendations(n)]) == 1
    assert notify.posts == 3  # the confirmation, the refused attempt, the retry


def test_an_ambiguous_send_replayed_by_ops_is_recognised_by_its_reference_and_not_sent_twice(
    api, worker, beat, notify, database_url
):
    address = "sam.officer@leeds.gov.uk"
    api.post("/api/v1/profiles", json=council_body(contact_email=address))
    [confirmation] = notify.wait_for(lambda n: n["email_address"] == address)
    notify.hang_up_after_accepting = 1  # Notify takes the email, the answer never arrives
    confirm(api, confirm_link(confirmation["personalisation"]["body"]))

    delivery, [letter] = wait_for_delivery(database_url, "recommendations",
                                           lambda d: d.status == "ambiguous")
    assert "no answer from Notify after sending" in delivery.last_error
    engine = make_engine(database_url)
    with transaction(make_sessionmaker(engine)) as session:
        replay_dead_letter(session, session.get(DeadLetter, letter.id), "ops-test")
    engine.dispose()

    delivery, _ = wait_for_delivery(database_url, "recommendations", lambda d: d.status == "sent")
    assert len([n for n in notify.notifications if recommendations(n)]) == 1
    assert notify.posts == 2  # the confirmation and the one accepted send: the replay only asked
