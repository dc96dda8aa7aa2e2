"""What a recommendations email says about each partner beyond its ranking, read in one statement.

The contact details a partner shares, whether an introduction can be asked for and the website of
a council that has not joined: the same answers as shared_contacts, contact_options and
partner_websites, which read the partners three times (and their addresses and introductions
besides); an email is composed on the way to the SMTP server, so here it is one round trip.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import Session

from partnermatch.shared.db.models import ContactAddress, CouncilCode, Introduction, Profile
from partnermatch.shared.notifications.owed import is_example_address
from partnermatch.shared.recommendations.introductions import option_of
from partnermatch.shared.reference.addresses import may_share_contact
from partnermatch.shared.reference.records import NeedMatches
from partnermatch.shared.reference.websites import FINDER, Website, websites_of


@dataclass(frozen=True)
class PartnerDetails:
    """What an email shows of its partners besides their ranking, by partner profile id."""

    contacts: dict[str, tuple[str, str]]  # as shared_contacts
    options: dict[str, str]  # as contact_options
    websites: dict[str, Website]  # as partner_websites


# A row per partner, or per code its council is known by (a council from public data): the
# partner, its address's standing, the introduction the requester asked for, and the code.
_DETAILS = (
    select(Profile.id, Profile.kind, Profile.gss_code, Profile.demo, Profile.fields,
           Profile.contact_email, Profile.contact_confirmed, Profile.address_status,
           ContactAddress.confirmed_at, ContactAddress.unsubscribed_at,
           select(Introduction.status)
           .where(Introduction.requester_profile_id == bindparam("requester"),
                  Introduction.partner_profile_id == Profile.id)
           .scalar_subquery().label("asked"),
           CouncilCode.code)
    .outerjoin(ContactAddress, ContactAddress.email == Profile.contact_email)
    .outerjoin(CouncilCode, and_(CouncilCode.gss_code == Profile.gss_code,
                                 Profile.demo.is_(True), Profile.kind == "council"))
    .where(Profile.id.in_(bindparam("ids", expanding=True)))
)


def partner_details(session: Session, requester: Profile, needs: Iterable[NeedMatches],
                    data_dir: str | Path | None) -> PartnerDetails:
    """Read what an email shows of the partners of `needs` besides their ranking.

    Read on the session's connection, without a flush: nothing read here (partners, addresses,
    introductions) is written by a transaction that composes an email.
    """
    needs = list(needs)
    ids = {p.profile_id for need in needs for p in need.partners}
    councils = {p.profile_id for need in needs for p in need.partners if p.kind == "council"}
    partners, codes = {}, {}
    for row in session.connection().execute(_DETAILS, {"requester": requester.id,
                                                       "ids": sorted(ids)}):
        partners[row.id] = row
        if row.code is not None:
            codes.setdefault(row.gss_code, [row.gss_code]).append(row.code)
    contacts = {
        p.id: (p.fields["contact_name"], p.contact_email)
        for p in partners.values()
        if not p.demo and p.fields.get("share_contact") and may_share_contact(p)
    }
    options = {pid: option_of(partners.get(pid), _asked(partners.get(pid)),
                              lambda pid=pid: _reachable(partners[pid]))
               for pid in ids}
    public = [p for pid, p in partners.items()
              if pid in councils and p.demo and p.kind == "council"]
    sites = websites_of(data_dir, {p.gss_code: codes.get(p.gss_code, [p.gss_code])
                                   for p in public if p.gss_code})
    websites = {p.id: sites.get(p.gss_code, FINDER) for p in public}
    return PartnerDetails(contacts, options, websites)


def _asked(row) -> str | None:
    return row.asked if row is not None else None


def _reachable(row) -> bool:
    """As is_reachable, from a row holding the partner's address's standing."""
    if row.demo or is_example_address(row.contact_email):
        return False
    return bool(row.confirmed_at and row.unsubscribed_at is None)
