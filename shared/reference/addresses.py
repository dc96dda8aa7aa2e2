"""Who an address belongs to: a council (its own domain), a shared service, or someone to check.

Anyone with any ``gov.uk`` address could otherwise say they speak for any council. A council
profile's address is on the council's own domain (from the register's public data: GOV.UK's
homepage address of each council, and Ofsted's council domain), on a known shared-service domain,
or it is *unverified*: still recommended, with a label, but its contact details are never shared
and operations staff verify or reject it on ``/ops``. Suppliers and demo profiles have no status.

Who takes part: a profile is a candidate only once its address is confirmed (demo profiles from
public data always are, and never share a contact), and never once its address is rejected.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from partnermatch.shared.db.models import Council, Profile, utcnow

COUNCIL_DOMAIN = "council_domain"  # on the council's own domain: no review needed
SHARED_SERVICE = "shared_service"  # on a known domain the council shares with others
UNVERIFIED = "unverified"  # on neither: recommended with a label, contact withheld, on /ops
VERIFIED = "verified"  # a person checked it belongs to the council
REJECTED = "rejected"  # a person found it does not: never a candidate
REVIEWED = (VERIFIED, REJECTED)
UNVERIFIED_REASON = ("Not yet verified: this contact's email address is not on the council's "
                     "own web domain, so we do not share it until we have checked it")

# The government domain suffixes under which a council's name is registered for it alone (the
# registrars of gov.uk, gov.scot, gov.wales and llyw.cymru only give a name to that public body):
# Welsh councils publish a .gov.wales or .llyw.cymru homepage and often still write from .gov.uk.
GOVERNMENT_SUFFIXES = ("gov.uk", "gov.scot", "gov.wales", "llyw.cymru")

# Councils whose officers write from a domain they share with another council, as of 2026-12.
# Councils sharing a homepage (Adur and Worthing, Lewes and Eastbourne, South Norfolk and
# Broadland) need no entry: the homepages in the reference data already name the shared domain.
SHARED_SERVICE_DOMAINS: dict[str, frozenset[str]] = {
    # Babergh and Mid Suffolk District Councils: one workforce since 2011; their public contact
    # address is customer.services@baberghmidsuffolk.gov.uk (the councils' announcements, 2020).
    "baberghmidsuffolk.gov.uk": frozenset({"E07000200", "E07000203"}),
    # Richmond upon Thames and Wandsworth: one Shared Staffing Arrangement since October 2016
    # (richmond.gov.uk, "Wandsworth shared staffing structure"); Ofsted's council lookup in the
    # reference data gives this domain for Wandsworth.
    "richmondandwandsworth.gov.uk": frozenset({"E09000027", "E09000032"}),
}


def domain_of(address: str) -> str:
    """Return the domain of an email address, in lower case."""
    return address.rsplit("@", 1)[-1].lower().rstrip(".")


def _within(domain: str, owner: str) -> bool:
    return domain == owner or domain.endswith("." + owner)


def _government_name(domain: str) -> tuple[str, str] | None:
    """Split a domain under a government suffix into the body's name and the suffix."""
    for suffix in GOVERNMENT_SUFFIXES:
        if domain.endswith("." + suffix):
            return domain.removesuffix("." + suffix).rsplit(".", 1)[-1], suffix
    return None


def on_council_domain(domain: str, council_domains: Iterable[str]) -> bool:
    """Say whether a domain is (under) one of the council's own, in any government suffix."""
    name = _government_name(domain)
    for owner in council_domains:
        if _within(domain, owner):
            return True
        owned = _government_name(owner)
        if name and owned and name[0] == owned[0]:  # the same body's name in another suffix
            return True
    return False


def status_for(council: Council | None, address: str) -> str:
    """Return the status of a council profile's address: own domain, shared service, unverified."""
    domain = domain_of(address)
    if council is not None and on_council_domain(domain, council.web_domains or ()):
        return COUNCIL_DOMAIN
    for shared, councils in SHARED_SERVICE_DOMAINS.items():
        if council is not None and council.gss_code in councils and _within(domain, shared):
            return SHARED_SERVICE
    return UNVERIFIED


def address_status(profile: Profile, council) -> str | None:
    """The status a new profile's address starts with, given its council (a Council, or any row
    with its gss_code and web_domains); None for suppliers and demo profiles."""
    if profile.kind != "council" or profile.demo:
        return None
    return status_for(council, profile.contact_email)


def check_address(profile: Profile, previous_address: str | None = None) -> None:
    """Set a profile's address status; a person's decision stands while the address is the same."""
    if profile.kind != "council" or profile.demo:
        profile.address_status = None
        return
    if profile.address_status in REVIEWED and previous_address == profile.contact_email:
        return
    profile.address_status = status_for(profile.council, profile.contact_email)


def recheck_addresses(session: Session) -> int:
    """Check unverified addresses again (the register's domains may have changed); return how many
    now need no review. Decisions made by a person are left alone."""
    changed = 0
    for profile in session.scalars(select(Profile).where(Profile.address_status == UNVERIFIED)):
        check_address(profile)
        if profile.address_status != UNVERIFIED:
            profile.updated_at = utcnow()  # worker indexes pick the change up by updated_at
            changed += 1
    return changed


def is_candidate(profile: Profile) -> bool:
    """Say whether a profile may be recommended to others at all."""
    return is_eligible(profile.approved, profile.demo, profile.contact_confirmed,
                       profile.address_status)


def is_eligible(approved: bool, demo: bool, contact_confirmed: bool,
                address_status: str | None) -> bool:
    """The rule of is_candidate, from the columns alone (for reading many profiles quickly)."""
    return bool(approved) and (bool(demo) or bool(contact_confirmed)) \
        and address_status != REJECTED


def may_share_contact(profile: Profile) -> bool:
    """Say whether a profile's contact details may go to others (if it agreed to share them)."""
    return (not profile.demo and bool(profile.contact_confirmed)
            and profile.address_status not in (UNVERIFIED, REJECTED))


def mark_confirmed(session: Session, address: str) -> list[Profile]:
    """Record that an address is confirmed on its profiles; return those it makes candidates."""
    waiting = list(session.scalars(select(Profile).where(
        Profile.contact_email == address, Profile.contact_confirmed.is_(False))))
    for profile in waiting:
        profile.contact_confirmed = True
        profile.updated_at = utcnow()  # worker indexes pick the change up by updated_at
    return [p for p in waiting if is_candidate(p)]
