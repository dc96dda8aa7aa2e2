"""An address confirmed: its profiles join the candidates, and what waited for it is owed."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from partnermatch.shared.db.models import EmailDelivery, Profile
from partnermatch.shared.notifications.owed import owe_recommendations, record_confirmed
from partnermatch.shared.recommendations.refresh import owe_refresh
from partnermatch.shared.recommendations.runs import latest_run


def confirm_address(session: Session, address: str) -> list[EmailDelivery]:
    """Mark an address confirmed and owe the recommendations already waiting for it.

    Its profiles become candidates now, so councils each could help are re-ranked (a refresh).
    """
    for profile in record_confirmed(session, address):
        owe_refresh(session, profile)
    session.flush()
    owed = []
    for profile in session.scalars(select(Profile).where(Profile.contact_email == address)):
        run = latest_run(session, profile)
        delivery = owe_recommendations(session, profile, run) if run else None
        if delivery is not None:
            owed.append(delivery)
    return owed
