"""Introductions: asking a recommended partner that did not share its contact details to meet.

The partner is emailed and accepts or declines; only on acceptance do its contact details go to
the requester. A requester can only ask about partners recommended to it in its current match.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, lazyload

from partnermatch.shared.db.models import ContactAddress, Introduction, Profile, utcnow
from partnermatch.shared.db.statuses import IntroductionStatus
from partnermatch.shared.notifications.owed import (
    is_reachable,
    owe_introduction,
    owe_introduction_accepted,
)
from partnermatch.shared.recommendations.runs import latest_run
from partnermatch.shared.reference.addresses import may_share_contact
from partnermatch.shared.reference.records import NeedMatches

# What the requester's page can offer for each recommended partner.
SHARED, AVAILABLE, UNREACHABLE = "shared", "available", "unreachable"


class IntroductionRefused(Exception):
    """The requester may not ask for this introduction."""


def contact_options(session: Session, requester: Profile,
                    needs: Iterable[NeedMatches]) -> dict[str, str]:
    """Return, for each recommended partner, whether its contact is shared or can be asked for."""
    ids = {p.profile_id for need in needs for p in need.partners}
    # Without their councils: each would bring the council's public data, unread here.
    query = select(Profile).where(Profile.id.in_(ids)).options(lazyload(Profile.council))
    partners = {p.id: p for p in session.scalars(query)}
    asked = {
        i.partner_profile_id: i.status
        for i in session.scalars(select(Introduction).where(
            Introduction.requester_profile_id == requester.id))
    }
    return {pid: _option(session, partners.get(pid), asked.get(pid)) for pid in ids}


def _option(session: Session, partner: Profile | None, asked: str | None) -> str:
    return option_of(partner, asked, lambda: is_reachable(session, partner))


def option_of(partner, asked: str | None, reachable: Callable[[], bool]) -> str:
    """Say what can be offered for a partner (a Profile, or a row with its columns), given the
    status of an introduction asked for, if any, and how to learn whether it may be emailed."""
    if partner is None or not may_share_contact(partner):  # demo, unconfirmed or unverified
        return UNREACHABLE
    if partner.fields.get("share_contact"):
        return SHARED
    if asked:
        return asked
    return AVAILABLE if reachable() else UNREACHABLE


def request_introduction(session: Session, requester: Profile, partner_id: str) -> Introduction:
    """Record a request to be introduced to a partner and owe the email asking it.

    Only from a confirmed address that still takes our emails: the email carries the requester's
    own words to the partner, and the partner's answer (names, contact details) goes back to that
    address.
    """
    _check_requester(session, requester)
    run = latest_run(session, requester)
    recommended = run is not None and any(
        r.partner_profile_id == partner_id for r in run.recommendations)
    partner = session.get(Profile, partner_id) if recommended else None
    if partner is None or _option(session, partner, None) != AVAILABLE:
        raise IntroductionRefused("This partner cannot be asked for an introduction.")
    existing = _existing(session, requester.id, partner.id)
    if existing is not None:
        return existing
    introduction = Introduction(requester_profile_id=requester.id, partner_profile_id=partner.id)
    try:
        with session.begin_nested():
            session.add(introduction)
    except IntegrityError:  # the same request, pressed twice at once
        return _existing(session, requester.id, partner.id)
    owe_introduction(session, introduction, partner)
    return introduction


def _check_requester(session: Session, requester: Profile) -> None:
    contact = session.get(ContactAddress, requester.contact_email)
    if requester.demo or contact is None or contact.confirmed_at is None:
        raise IntroductionRefused("Confirm your email address first: use the link in the email "
                                  "we sent you, then ask again.")
    if contact.unsubscribed_at is not None:
        raise IntroductionRefused("You unsubscribed from our emails, so we cannot send you a "
                                  "partner's contact details.")


def _existing(session: Session, requester_id: str, partner_id: str) -> Introduction | None:
    return session.scalar(select(Introduction).where(
        Introduction.requester_profile_id == requester_id,
        Introduction.partner_profile_id == partner_id))


def decide(session: Session, introduction: Introduction, accept: bool) -> bool:
    """Record the partner's answer once; False if it had already answered."""
    if introduction.status != IntroductionStatus.REQUESTED:
        return False
    introduction.status = (IntroductionStatus.ACCEPTED if accept
                           else IntroductionStatus.DECLINED)
    introduction.decided_at = utcnow()
    if accept:
        requester = session.get(Profile, introduction.requester_profile_id)
        owe_introduction_accepted(session, introduction, requester)
    return True


def areas_asked_about(session: Session, introduction: Introduction) -> list[str]:
    """Return the service areas for which the partner was recommended to the requester."""
    requester = session.get(Profile, introduction.requester_profile_id)
    run = latest_run(session, requester) if requester else None
    if run is None:
        return []
    areas = [r.service_area for r in run.recommendations
             if r.partner_profile_id == introduction.partner_profile_id]
    return list(dict.fromkeys(areas))
