"""Which emails are owed: confirmation first, recommendations only to confirmed addresses.

Each email is an EmailDelivery row with a unique dedupe key, created in the same transaction as its
cause, so a retry or a replayed event can never owe the same email twice.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Integer, Select, String, bindparam, func, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from partnermatch.shared.db.models import (
    ConfirmationSent,
    ContactAddress,
    EmailDelivery,
    Introduction,
    LinkRequest,
    MatchRun,
    Profile,
    new_id,
    utcnow,
)
from partnermatch.shared.db.statuses import DeliveryStatus, RunStatus
from partnermatch.shared.reference.addresses import mark_confirmed

CAP_WINDOW = timedelta(days=1)


@dataclass(frozen=True)
class ConfirmationPolicy:
    """Whether addresses must be confirmed, and how many confirmations a day may be sent.

    Without caps, anyone could point a profile at strangers' addresses, one after another, and
    have us email them: at most `per_profile` confirmations go out for one profile in 24 hours
    (a change beyond that is refused) and at most `per_address` to one address (beyond that the
    change is kept and no email is sent: the address has links enough to confirm with).
    """

    required: bool
    secret_key: str
    per_profile: int = 3
    per_address: int = 3


class ConfirmationLimitReached(Exception):
    """This profile has been sent as many confirmation emails today as it may be."""


def is_example_address(address: str) -> bool:
    """Say whether an address is one we never write to (demo and documentation domains)."""
    domain = address.rsplit("@", 1)[-1].lower()
    return domain.endswith((".invalid", ".example", ".test")) or domain in (
        "example.com", "example.org", "example.net", "invalid", "example")


def message_id_for(delivery_id: str) -> str:
    """The Message-ID of a delivery's email, the same on every attempt."""
    return f"<{delivery_id}@partnermatch>"


def confirmation_key(profile_id: str, address: str) -> str:
    """The dedupe key of a profile's confirmation email to an address: one each."""
    return f"confirm:{profile_id}:{address}"


def _owe(session: Session, dedupe_key: str, purpose: str, profile: Profile,
         match_run_id: str | None = None, introduction_id: str | None = None,
         key_is_new: bool = False) -> EmailDelivery | None:
    if is_example_address(profile.contact_email) or profile.demo:
        return None
    if not key_is_new and session.scalar(
            select(EmailDelivery.id).where(EmailDelivery.dedupe_key == dedupe_key)):
        return None
    delivery = EmailDelivery(  # the id now, not at the flush: the caller may send it at once
        id=new_id(), dedupe_key=dedupe_key, purpose=purpose, profile_id=profile.id,
        match_run_id=match_run_id, introduction_id=introduction_id,
        to_address=profile.contact_email, message_id="",
    )
    delivery.message_id = message_id_for(delivery.id)
    if key_is_new:  # named after something this transaction created: nobody can hold it yet
        session.add(delivery)
        return delivery
    try:
        with session.begin_nested():
            session.add(delivery)
    except IntegrityError:  # a concurrent worker owed it first
        return None
    return delivery


def owe_confirmation(session: Session, profile: Profile,
                     policy: ConfirmationPolicy) -> EmailDelivery | None:
    """Owe a confirmation email when a profile's changed address has not been confirmed yet.

    Also records on the profile whether its new address is confirmed: until it is, the profile is
    not recommended to anyone. Raises ConfirmationLimitReached when the profile has had its day's
    confirmations. (A new profile's confirmation is decided before it is written:
    `confirmation_for_new_profile`.)
    """
    contact = session.get(ContactAddress, profile.contact_email)
    if contact is None:
        contact = ContactAddress(email=profile.contact_email)
        session.add(contact)
        if not policy.required:
            contact.confirmed_at = utcnow()
    profile.contact_confirmed = contact.confirmed_at is not None
    if contact.confirmed_at is not None or profile.demo:
        return None
    key = confirmation_key(profile.id, profile.contact_email)
    if session.scalar(select(EmailDelivery.id).where(EmailDelivery.dedupe_key == key)):
        return None  # owed already for this address: nothing new to count
    if not _count_confirmation(session, profile, policy):
        return None
    return _owe(session, key, "confirmation", profile)


@dataclass(frozen=True)
class AddressState:
    """What a new profile's confirmation depends on, read before anything is written."""

    known: bool  # a ContactAddress row exists
    confirmed: bool
    counted: int  # confirmations counted against the address in the cap window, up to the cap


def address_state_query() -> Select:
    """One SELECT of an address's AddressState (known, confirmed, counted), for the parameters
    of `address_state_parameters`; more columns may be added to it. The count stops at the cap:
    beyond it the number does not matter."""
    address = bindparam("address", type_=String)
    counted = select(literal(1)).select_from(ConfirmationSent).where(
        ConfirmationSent.address_key == bindparam("address_key", type_=String),
        ConfirmationSent.created_at >= bindparam("since", type_=ConfirmationSent.created_at.type),
    ).limit(bindparam("cap", type_=Integer)).subquery()
    return select(
        select(func.count()).select_from(ContactAddress)
        .where(ContactAddress.email == address).scalar_subquery(),
        select(func.count()).select_from(ContactAddress)
        .where(ContactAddress.email == address, ContactAddress.confirmed_at.is_not(None))
        .scalar_subquery(),
        select(func.count()).select_from(counted).scalar_subquery(),
    )


def address_state_parameters(policy: ConfirmationPolicy, address: str) -> dict:
    """The parameters of `address_state_query` for an address."""
    return {"address": address, "address_key": _keyed(policy, "address", address.lower()),
            "since": utcnow() - CAP_WINDOW, "cap": max(policy.per_address, 0)}


def address_state(row) -> AddressState:
    """The AddressState from the first three columns of a row of `address_state_query`."""
    return AddressState(known=bool(row[0]), confirmed=bool(row[1]), counted=int(row[2]))


@dataclass(frozen=True)
class NewProfileConfirmation:
    """What a new profile owes for its address, as rows to insert with it (None: nothing)."""

    confirmed: bool  # the address counts as confirmed: no email
    contact: dict | None  # the ContactAddress, for an address not known before
    counted: dict | None  # the ConfirmationSent counting the email against the caps
    delivery: dict | None  # the EmailDelivery of the confirmation


def confirmation_for_new_profile(policy: ConfirmationPolicy, profile_id: str, address: str,
                                 demo: bool, state: AddressState) -> NewProfileConfirmation:
    """Decide what a new profile owes its address, by the rules of owe_confirmation.

    Rows, not objects: the caller writes them with the profile in one round trip. An address row
    another request adds meanwhile is no conflict (the caller skips it if taken).
    """
    now = utcnow()
    contact = None
    confirmed = state.confirmed
    if not state.known:
        contact = {"email": address, "confirmed_at": None if policy.required else now,
                   "unsubscribed_at": None, "created_at": now}
        confirmed = not policy.required
    if confirmed or demo or is_example_address(address):
        return NewProfileConfirmation(confirmed, contact, None, None)
    if policy.per_profile <= 0 or state.counted >= policy.per_address:
        return NewProfileConfirmation(confirmed, contact, None, None)
    counted = {"address_key": _keyed(policy, "address", address.lower()),
               "profile_key": _keyed(policy, "profile", profile_id), "created_at": now}
    delivery_id = new_id()
    delivery = {
        "id": delivery_id, "dedupe_key": confirmation_key(profile_id, address),
        "purpose": "confirmation", "profile_id": profile_id, "to_address": address,
        "message_id": message_id_for(delivery_id), "status": DeliveryStatus.PENDING,
        "attempts": 0, "created_at": now, "next_attempt_at": now,
    }
    return NewProfileConfirmation(confirmed, contact, counted, delivery)


def _keyed(policy: ConfirmationPolicy, kind: str, value: str) -> str:
    message = f"{kind}:{value}".encode()
    return hmac.new(policy.secret_key.encode(), message, hashlib.sha256).hexdigest()


def _count_confirmation(session: Session, profile: Profile, policy: ConfirmationPolicy,
                        refuse: bool = True) -> bool:
    """Count a confirmation against the caps; False when over one (an error, if `refuse`, when
    over the profile's)."""
    if is_example_address(profile.contact_email):
        return False
    address_key = _keyed(policy, "address", profile.contact_email.lower())
    profile_key = _keyed(policy, "profile", profile.id)
    since = utcnow() - CAP_WINDOW
    for column, value, cap in ((ConfirmationSent.profile_key, profile_key, policy.per_profile),
                               (ConfirmationSent.address_key, address_key, policy.per_address)):
        sent = session.scalar(select(func.count()).select_from(ConfirmationSent)
                              .where(column == value, ConfirmationSent.created_at >= since))
        if sent >= cap:
            if refuse and column is ConfirmationSent.profile_key:
                raise ConfirmationLimitReached(profile.id)
            return False
    session.add(ConfirmationSent(address_key=address_key, profile_key=profile_key))
    return True


def owe_recommendations(session: Session, profile: Profile, run: MatchRun,
                        new_run: bool = False,
                        locked: dict[str, ContactAddress] | None = None) -> EmailDelivery | None:
    """Owe the recommendation email for a match run, if the address is confirmed and opted in.

    `new_run` says the run was created in this transaction, so no email can be owed for it yet.
    The address row is locked: a confirmation committing meanwhile either waits for this
    transaction (and then finds the run) or is seen by it, so the email is never lost between
    the two (PostgreSQL; SQLite's writers are serial anyway). `locked` holds addresses this
    transaction has locked and read already (lock_contacts), for a batch of matches.
    """
    if locked is not None:
        contact = locked.get(profile.contact_email)
    else:
        contact = session.get(ContactAddress, profile.contact_email, with_for_update=True,
                              populate_existing=True)
    if contact is None or contact.confirmed_at is None or contact.unsubscribed_at is not None:
        return None
    if run.status != RunStatus.READY or run.profile_version != profile.version:
        return None
    return _owe(session, f"recommendations:{run.id}", "recommendations", profile, run.id,
                key_is_new=new_run)


def lock_contacts(session: Session, addresses: set[str]) -> dict[str, ContactAddress]:
    """Lock and read several addresses at once, as owe_recommendations does one (in address
    order, so that two batches cannot deadlock); an address with no row is left out."""
    rows = session.scalars(
        select(ContactAddress).where(ContactAddress.email.in_(sorted(addresses)))
        .order_by(ContactAddress.email).with_for_update()
        .execution_options(populate_existing=True))
    return {row.email: row for row in rows}


def owe_new_partner(session: Session, profile: Profile, run: MatchRun) -> EmailDelivery | None:
    """Owe the email saying a strong new partner entered a profile's recommendations.

    At most one a day for each council (or supplier profile), whichever partner arrives: the
    dedupe key names the council and the day, so later arrivals that day refresh the stored
    recommendations without another email. Only to confirmed addresses that did not unsubscribe.
    """
    if not is_reachable(session, profile) or run.profile_version != profile.version:
        return None
    day = utcnow().strftime("%Y%m%d")
    return _owe(session, f"new-partner:{profile.gss_code or profile.id}:{day}", "new_partner",
                profile, run.id)


def record_confirmed(session: Session, address: str) -> list[Profile]:
    """Mark an address confirmed by its owner; return the profiles this makes candidates.

    What else a confirmation sets off (refreshes, the recommendations waiting for the address)
    is partnermatch.shared.recommendations.confirmation's.
    """
    contact = session.get(ContactAddress, address)
    if contact is None:
        contact = ContactAddress(email=address)
        session.add(contact)
    if contact.confirmed_at is None:
        contact.confirmed_at = utcnow()
    return mark_confirmed(session, address)


def is_reachable(session: Session, profile: Profile) -> bool:
    """Say whether we may email a profile's contact about something it did not ask for."""
    if profile.demo or is_example_address(profile.contact_email):
        return False
    contact = session.get(ContactAddress, profile.contact_email)
    return bool(contact and contact.confirmed_at and contact.unsubscribed_at is None)


def request_profile_links(session: Session, address: str) -> LinkRequest:
    """Record that someone asked for links to an address's profiles, for a worker to look up.

    The same single insert whether or not the address has profiles, so the time the request
    takes says nothing about the address (the lookup, and any email, happen in the worker).
    """
    link_request = LinkRequest(email=address)
    session.add(link_request)
    return link_request


def answer_link_request(session: Session, request_id: str,
                        policy: ConfirmationPolicy) -> EmailDelivery | None:
    """Look up a link request's address, owe what it is due, and forget the request."""
    link_request = session.get(LinkRequest, request_id)
    if link_request is None:
        return None  # answered already, or purged
    session.delete(link_request)
    return owe_profile_links(session, link_request.email, policy)


def owe_profile_links(session: Session, address: str,
                      policy: ConfirmationPolicy) -> EmailDelivery | None:
    """Owe an email with a link to each profile of an address: at most one an hour.

    An unconfirmed address gets its confirmation again instead (within the daily caps), since
    nothing else may be sent to it; an unknown address gets nothing.
    """
    profile = session.scalar(select(Profile)
                             .where(func.lower(Profile.contact_email) == address.lower())
                             .order_by(Profile.updated_at.desc()).limit(1))
    if profile is None:
        return None
    address = profile.contact_email
    hour = utcnow().strftime("%Y%m%d%H")
    key = hashlib.sha256(address.encode()).hexdigest()[:32]
    contact = session.get(ContactAddress, address)
    if contact is None or contact.confirmed_at is None:
        again = f"confirm-again:{key}:{hour}"
        if session.scalar(select(EmailDelivery.id).where(EmailDelivery.dedupe_key == again)):
            return None
        if not _count_confirmation(session, profile, policy, refuse=False):
            return None
        return _owe(session, again, "confirmation", profile)
    return _owe(session, f"link:{key}:{hour}", "link", profile)


def owe_introduction(session: Session, introduction: Introduction,
                     partner: Profile) -> EmailDelivery | None:
    """Owe the email asking a partner to accept or decline an introduction."""
    return _owe(session, f"introduction:{introduction.id}", "introduction", partner,
                introduction_id=introduction.id)


def owe_introduction_accepted(session: Session, introduction: Introduction,
                              requester: Profile) -> EmailDelivery | None:
    """Owe the email giving the requester the contact details of a partner that accepted.

    Only to a confirmed address that has not unsubscribed: the details are the partner's.
    """
    if not is_reachable(session, requester):
        return None
    return _owe(session, f"introduction-accepted:{introduction.id}", "introduction_accepted",
                requester, introduction_id=introduction.id)


def unsubscribe(session: Session, address: str) -> None:
    """Stop recommendation emails to an address, including any not yet sent."""
    contact = session.get(ContactAddress, address)
    if contact is None:
        return
    if contact.unsubscribed_at is None:
        contact.unsubscribed_at = utcnow()
    session.execute(
        update(EmailDelivery)
        .where(EmailDelivery.to_address == address, EmailDelivery.status == DeliveryStatus.PENDING,
               EmailDelivery.purpose.in_(("recommendations", "new_partner", "introduction",
                                          "introduction_accepted")))
        .values(status=DeliveryStatus.CANCELLED)
    )
