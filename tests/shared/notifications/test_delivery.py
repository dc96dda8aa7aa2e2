"""A delivery is claimed once before it is sent; a second claim finds it taken."""

from __future__ import annotations

from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import EmailDelivery
from partnermatch.shared.notifications.delivery import claim


def test_a_pending_delivery_is_claimed_once_with_its_attempt_counted(sessions):
    with transaction(sessions) as session:
        delivery = EmailDelivery(dedupe_key="k", purpose="link", to_address="a@b.gov.uk",
                                 message_id="")
        session.add(delivery)
    with transaction(sessions) as session:
        claimed = claim(session, delivery.id)
        assert (claimed.status, claimed.attempts) == ("sending", 1)
        assert claimed.claimed_at is not None
    with transaction(sessions) as session:
        assert claim(session, delivery.id) is None
