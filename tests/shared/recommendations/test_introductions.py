"""Introductions: a council asks to meet a recommended partner that kept its contact details to
itself; the partner is emailed, and only if it accepts do its details go to the council."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import EmailDelivery, Introduction, Profile
from partnermatch.shared.db.statuses import IntroductionStatus
from partnermatch.shared.recommendations.confirmation import confirm_address
from partnermatch.shared.recommendations.introductions import (
    AVAILABLE,
    SHARED,
    UNREACHABLE,
    IntroductionRefused,
    areas_asked_about,
    contact_options,
    decide,
    request_introduction,
)
from partnermatch.shared.recommendations.runs import latest_run, needs_of
from partnermatch.shared.reference.records import NeedMatches
from tests.shared.examples import BRADFORD, council, partner, recommend, supplier

KIRKLEES, WAKEFIELD = "E08000034", "E08000036"
SAM, JO = "sam.officer@leeds.gov.uk", "jo.lead@bradford.gov.uk"


@pytest.fixture
def matched(sessions) -> dict[str, str]:
    """Leeds was recommended, for children's services: Bradford (keeps its contact to itself), a
    supplier (shares it), Kirklees (an address nobody has checked). Wakefield was not."""
    with transaction(sessions) as session:
        leeds = council(session)
        bradford = council(session, BRADFORD, JO, {"childrens_services": 5}, share_contact=False)
        care = supplier(session)
        kirklees = council(session, KIRKLEES, "kim@gmail.com", {"childrens_services": 4},
                           share_contact=False)
        wakefield = council(session, WAKEFIELD, "ali@wakefield.gov.uk", share_contact=False)
        recommend(session, leeds, NeedMatches("childrens_services", 1, (
            partner(bradford, "Bradford", 5, 0.81), partner(care, "Example Care Ltd", 4, 0.64),
            partner(kirklees, "Kirklees", 4, 0.52))))
        for address in (SAM, JO, care.contact_email, "kim@gmail.com", "ali@wakefield.gov.uk"):
            confirm_address(session, address)
        return {"leeds": leeds.id, "bradford": bradford.id, "care": care.id,
                "kirklees": kirklees.id, "wakefield": wakefield.id}


def emails(session, purpose: str) -> list[str]:
    return session.scalars(select(EmailDelivery.to_address)
                           .where(EmailDelivery.purpose == purpose)).all()


def test_each_partner_is_shown_as_shared_askable_or_unreachable(sessions, matched):
    with sessions() as session:
        leeds = session.get(Profile, matched["leeds"])
        run_needs = needs_of(session, latest_run(session, leeds))
        options = contact_options(session, leeds, run_needs)
    assert options == {matched["bradford"]: AVAILABLE, matched["care"]: SHARED,
                       matched["kirklees"]: UNREACHABLE}


def test_asking_emails_the_partner_once_however_often_it_is_pressed(sessions, matched):
    with transaction(sessions) as session:
        leeds = session.get(Profile, matched["leeds"])
        first = request_introduction(session, leeds, matched["bradford"])
        again = request_introduction(session, leeds, matched["bradford"])
        assert again.id == first.id and first.status == IntroductionStatus.REQUESTED
        assert emails(session, "introduction") == [JO]
        assert areas_asked_about(session, first) == ["childrens_services"]


@pytest.mark.parametrize("who", ["care", "kirklees", "wakefield", "nobody"])
def test_only_a_recommended_partner_that_can_be_asked_is_asked(sessions, matched, who):
    with transaction(sessions) as session:
        leeds = session.get(Profile, matched["leeds"])
        with pytest.raises(IntroductionRefused):
            request_introduction(session, leeds, matched.get(who, "no-such-profile"))
        assert session.scalars(select(Introduction)).all() == []


def test_a_council_that_has_not_confirmed_its_address_cannot_ask(sessions, matched):
    with transaction(sessions) as session:
        stranger = council(session, WAKEFIELD, "new.officer@wakefield.gov.uk")
        with pytest.raises(IntroductionRefused, match="Confirm your email address first"):
            request_introduction(session, stranger, matched["bradford"])


def test_accepting_sends_the_details_to_the_council_and_the_answer_stands(sessions, matched):
    with transaction(sessions) as session:
        introduction = request_introduction(session, session.get(Profile, matched["leeds"]),
                                            matched["bradford"])
        assert decide(session, introduction, accept=True)
        assert not decide(session, introduction, accept=False)
        assert introduction.status == IntroductionStatus.ACCEPTED
        assert introduction.decided_at is not None
        assert emails(session, "introduction_accepted") == [SAM]


def test_declining_sends_nothing_to_the_council(sessions, matched):
    with transaction(sessions) as session:
        introduction = request_introduction(session, session.get(Profile, matched["leeds"]),
                                            matched["bradford"])
        assert decide(session, introduction, accept=False)
        assert introduction.status == IntroductionStatus.DECLINED
        assert emails(session, "introduction_accepted") == []
