"""What a recommendations email shows of its partners, read in one statement, says what the three
readers of the profile page say: shared contacts, who can be asked, websites of public councils."""

from __future__ import annotations

from sqlalchemy import event

from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import Introduction, Profile
from partnermatch.shared.db.statuses import IntroductionStatus
from partnermatch.shared.notifications.delivery import shared_contacts
from partnermatch.shared.notifications.owed import unsubscribe
from partnermatch.shared.profiles.demo import demo_id, seed_demo
from partnermatch.shared.recommendations.confirmation import confirm_address
from partnermatch.shared.recommendations.introductions import (
    AVAILABLE,
    SHARED,
    UNREACHABLE,
    contact_options,
)
from partnermatch.shared.recommendations.partners import partner_details
from partnermatch.shared.reference.records import NeedMatches, Partner
from partnermatch.shared.reference.websites import partner_websites
from tests.conftest import REFERENCE_DATA_DIR
from tests.shared.examples import BRADFORD, council, partner, supplier

KIRKLEES, WAKEFIELD, CALDERDALE = "E08000034", "E08000036", "E08000033"
KENT, BARNSLEY = "E10000016", "E08000016"


def test_one_read_says_what_the_three_readers_say(sessions, engine):
    with transaction(sessions) as session:
        seed_demo(session)  # councils from public data: Kent, and Barnsley known by a newer code
        leeds = council(session)
        bradford = council(session, BRADFORD, "jo.lead@bradford.gov.uk", {"childrens_services": 5},
                           share_contact=False)  # to be asked already
        care = supplier(session)  # shares its contact
        kirklees = council(session, KIRKLEES, "kim@gmail.com", share_contact=False)  # unverified
        wakefield = council(session, WAKEFIELD, "ali@wakefield.gov.uk", share_contact=False)
        calderdale = council(session, CALDERDALE, "cal@calderdale.gov.uk", share_contact=False)
        for profile in (leeds, bradford, care, kirklees, wakefield, calderdale):
            confirm_address(session, profile.contact_email)
        unsubscribe(session, calderdale.contact_email)  # cannot be asked: takes no email
        session.add(Introduction(requester_profile_id=leeds.id, partner_profile_id=bradford.id))
        partners = [partner(p, name, 4, 0.5) for p, name in (
            (bradford, "Bradford"), (care, "Example Care Ltd"), (kirklees, "Kirklees"),
            (wakefield, "Wakefield"), (calderdale, "Calderdale"))]
        public = [Partner(demo_id(f"council:{gss}"), name, "council", gss, 0.9, 5, ())
                  for gss, name in ((KENT, "Kent"), (BARNSLEY, "Barnsley"))]
        fictional = Partner(demo_id("supplier:example-care-partnerships"), "Example (demo)",
                            "supplier", None, 0.5, 5, ())
        needs = [NeedMatches("childrens_services", 1, (*partners[:3], public[0])),
                 NeedMatches("adult_social_care", 2, (*partners[3:], public[1], fictional,
                                                      Partner("gone", "Gone", "council", None,
                                                              0.4, 4, ())))]
        leeds_id = leeds.id
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with sessions() as session:
        leeds = session.get(Profile, leeds_id)
        statements.clear()
        details = partner_details(session, leeds, needs, REFERENCE_DATA_DIR)
        assert len(statements) == 1
        assert details.contacts == shared_contacts(session, needs)
        assert details.options == contact_options(session, leeds, needs)
        assert details.websites == partner_websites(session, REFERENCE_DATA_DIR, needs)
    assert details.contacts == {care.id: ("Pat Jones", care.contact_email)}
    assert details.options == {
        bradford.id: IntroductionStatus.REQUESTED, care.id: SHARED, kirklees.id: UNREACHABLE,
        wakefield.id: AVAILABLE, calderdale.id: UNREACHABLE, public[0].profile_id: UNREACHABLE,
        public[1].profile_id: UNREACHABLE, fictional.profile_id: UNREACHABLE,
        "gone": UNREACHABLE}
    assert {pid: site.url for pid, site in details.websites.items()} == {
        public[0].profile_id: "https://www.kent.gov.uk",
        public[1].profile_id: "https://www.barnsley.gov.uk"}
