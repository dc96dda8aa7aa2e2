"""Helpers for the website tests: fill in the forms as a browser would, and do the worker's job."""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import EmailDelivery, LinkRequest, OutboxEvent
from partnermatch.shared.email import FileSender
from partnermatch.shared.notifications.delivery import MailSettings, claim, record_sent
from partnermatch.shared.notifications.owed import answer_link_request
from partnermatch.shared.recommendations.consume import match_event
from partnermatch.shared.recommendations.emails import compose
from partnermatch.shared.recommendations.live_index import CandidateIndex
from tests.services.api.helpers import LEEDS

MATCHED_TOPICS = ("profile.submitted", "profile.updated")


def csrf_token(page_text: str) -> str:
    """Return the CSRF token of the first form on a page."""
    return re.search(r'name="csrf_token" value="([^"]+)"', page_text).group(1)


def post_form(client, path: str, data: dict[str, Any] | list[tuple[str, str]],
              page: str | None = None, **kwargs):
    """Open a page (the form's own unless told), then post with its CSRF token, like a browser."""
    token = csrf_token(client.get(page or path).get_data(as_text=True))
    items = list(data.items()) if isinstance(data, dict) else list(data)
    return client.post(path, data=MultiDict([("csrf_token", token), *items]), **kwargs)


def council_details(**overrides: Any) -> dict[str, Any]:
    """Return the details form of a Leeds officer struggling with children's and adult care."""
    form: dict[str, Any] = {
        "ratings-adult_social_care": "2", "ratings-childrens_services": "1", "ratings-waste": "5",
        "needs_text": "Care leavers in suitable accommodation; recruiting social workers.",
        "strengths_text": "Recycling rates and kerbside collection.",
        "seeking": ["council", "supplier"], "capacity_to_support": "limited",
        "contact_name": "Sam Officer", "contact_email": "sam.officer@leeds.gov.uk",
        "share_contact": "yes",
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def as_pairs(form: dict[str, Any]) -> list[tuple[str, str]]:
    """Flatten a form with lists (checkboxes) into name/value pairs."""
    pairs = []
    for name, value in form.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append((name, item))
    return pairs


def fill_council_form(client, gss_code: str = LEEDS, **overrides: Any):
    """Choose a council and fill in the details; return the response to the details page."""
    response = post_form(client, "/council/new", {"gss_code": gss_code})
    assert response.status_code == 303, response.get_data(as_text=True)
    return post_form(client, "/council/details", as_pairs(council_details(**overrides)))


def submission_key(client) -> str:
    """Return the hidden one-time key on the check-answers page."""
    page = client.get("/check").get_data(as_text=True)
    return re.search(r'name="submission_key" value="([^"]+)"', page).group(1)


def submit(client, key: str | None = None):
    """Press "Accept and send" on the check-answers page."""
    page = client.get("/check").get_data(as_text=True)
    key = key or re.search(r'name="submission_key" value="([^"]+)"', page).group(1)
    return client.post("/check", data={"csrf_token": csrf_token(page), "submission_key": key})


def answer_link_requests(app) -> None:
    """Do in process what the worker's send_profile_links does for every waiting link request."""
    runtime = app.extensions["partnermatch"]
    with runtime.sessions() as session:
        waiting = session.scalars(select(LinkRequest.id).order_by(LinkRequest.created_at)).all()
    for request_id in waiting:
        with transaction(runtime.sessions) as session:
            answer_link_request(session, request_id, runtime.confirmation)


def run_worker(app, outbox: Path, base_url: str = "http://localhost") -> list[EmailMessage]:
    """Do in process what the worker does: match waiting events, answer link requests, then send
    owed emails to files."""
    runtime = app.extensions["partnermatch"]
    answer_link_requests(app)
    with runtime.sessions() as session:
        events = session.scalars(select(OutboxEvent.id).where(
            OutboxEvent.consumed_at.is_(None), OutboxEvent.topic.in_(MATCHED_TOPICS))).all()
    for event_id in events:
        with transaction(runtime.sessions) as session:
            match_event(session, CandidateIndex(session), event_id)
    mail = MailSettings(secret_key=app.config["SECRET_KEY"], public_base_url=base_url,
                        mail_from="partnermatch@partnermatch.test",
                        reference_data_dir=app.config["REFERENCE_DATA_DIR"])
    sender, sent = FileSender(outbox), []
    with runtime.sessions() as session:
        owed = session.scalars(select(EmailDelivery.id).where(EmailDelivery.status == "pending")
                               .order_by(EmailDelivery.created_at)).all()
    for delivery_id in owed:
        with transaction(runtime.sessions) as session:
            delivery = claim(session, delivery_id)
            message = compose(session, delivery, mail)
        sender.send(message)
        sent.append(message)
        with transaction(runtime.sessions) as session:
            record_sent(session, delivery_id)
    return sent


def read_eml(path: Path) -> EmailMessage:
    """Parse an .eml file the FileSender wrote."""
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def text_part(message: EmailMessage) -> str:
    """Return the plain-text part of a message."""
    return message.get_body(preferencelist=("plain",)).get_content()


def html_part(message: EmailMessage) -> str:
    """Return the HTML part of a message."""
    return message.get_body(preferencelist=("html",)).get_content()


def link_in(message: EmailMessage, path: str) -> str:
    """Return the first link to a path (like "/confirm/") in a message's text, without its host."""
    match = re.search(r"https?://[^/\s]+(" + re.escape(path) + r"[A-Za-z0-9_.\-]+)",
                      text_part(message))
    assert match, f"no {path} link in:\n{text_part(message)}"
    return match.group(1)
