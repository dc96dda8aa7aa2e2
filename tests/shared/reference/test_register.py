"""The council register in the database, loaded from the shipped public data: every current
council once, its former codes pointing at it, and loading again changing nothing."""

from __future__ import annotations

from sqlalchemy import select

from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import Council, CouncilCode, Profile
from partnermatch.shared.reference.readers import read_councils
from partnermatch.shared.reference.register import (
    load_register,
    ofsted_history,
    place_of,
    register_size,
)
from tests.shared.examples import council


def test_the_register_holds_the_current_councils_as_the_public_data_describes_them(
        sessions, reference_dir):
    with sessions() as session:
        assert register_size(session) == len(read_councils(reference_dir)) > 380
        leeds = session.get(Council, "E08000035")
        assert (leeds.name, leeds.code, leeds.council_type) == ("Leeds", "LDS", "MD")
        assert leeds.web_domains == ["leeds.gov.uk"]
        place = place_of(leeds)
        assert (place.name, place.region) == ("Leeds", "Yorkshire and The Humber")
        history = ofsted_history(leeds)
        assert history  # Leeds has been inspected
        assert [j.published for j in history] == sorted((j.published for j in history),
                                                        reverse=True)  # newest first


def test_a_former_code_points_at_the_council_that_replaced_it(sessions):
    with sessions() as session:
        assert session.get(CouncilCode, "E10000002").gss_code == "E06000060"  # Buckinghamshire
        assert session.get(CouncilCode, "E06000060").gss_code == "E06000060"


def test_loading_again_changes_nothing_and_rechecks_unverified_addresses(
        sessions, reference_dir):
    with transaction(sessions) as session:
        leeds = council(session, email="sam.officer@leeds.gov.uk")
        leeds.address_status = "unverified"  # as if checked before Leeds's domain was known
        codes_before = session.scalar(select(CouncilCode.code).where(
            CouncilCode.gss_code == "E06000060").order_by(CouncilCode.code).limit(1))
        leeds_id = leeds.id
    with transaction(sessions) as session:
        loaded = load_register(session, reference_dir)
    with sessions() as session:
        assert register_size(session) == loaded == len(read_councils(reference_dir))
        assert session.scalar(select(CouncilCode.code).where(
            CouncilCode.gss_code == "E06000060").order_by(CouncilCode.code).limit(1)) \
            == codes_before
        assert session.get(Profile, leeds_id).address_status == "council_domain"
