"""What the confirmation and profile pages show about matching: progress, then recommendations."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from partnermatch.services.api.web.common import settings
from partnermatch.shared.db.models import Profile
from partnermatch.shared.db.statuses import RunStatus
from partnermatch.shared.notifications.delivery import display_name, shared_contacts
from partnermatch.shared.profiles.store import is_confirmed
from partnermatch.shared.recommendations.introductions import contact_options
from partnermatch.shared.recommendations.runs import latest_run, needs_of
from partnermatch.shared.reference.websites import partner_websites

PARTNERS_PER_NEED_ON_PAGE = 10
REFRESH_SECONDS = 3


def match_status(db: Session, profile: Profile) -> str:
    """Return pending, ready or failed for the profile's current version."""
    run = latest_run(db, profile)
    return run.status if run else RunStatus.PENDING


def progress(db: Session, profile: Profile) -> dict[str, Any]:
    """Return what a page needs to show a profile's matching progress and recommendations."""
    run = latest_run(db, profile)
    status = run.status if run else RunStatus.PENDING
    needs = needs_of(db, run, PARTNERS_PER_NEED_ON_PAGE) if status == RunStatus.READY else []
    confirmed = is_confirmed(db, profile.contact_email)
    # Contact details and introductions only once the address is proven to be the person's own.
    contacts = shared_contacts(db, needs) if confirmed else {}
    options = contact_options(db, profile, needs) if confirmed else {}
    # Councils recommended from public data have not joined: their public website instead.
    websites = partner_websites(db, settings().REFERENCE_DATA_DIR, needs)
    return {
        "profile": profile, "name": display_name(profile), "status": status, "needs": needs,
        "confirmed": confirmed, "contacts": contacts, "options": options, "websites": websites,
        "refresh_seconds": REFRESH_SECONDS,
    }
