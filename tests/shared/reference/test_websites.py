"""Where a council that has not joined can be reached: its website from the public data."""

from __future__ import annotations

from partnermatch.shared.db.engine import transaction
from partnermatch.shared.profiles.demo import demo_id, seed_demo
from partnermatch.shared.reference.records import NeedMatches, Partner
from partnermatch.shared.reference.websites import (
    FIND_YOUR_COUNCIL,
    council_websites,
    partner_websites,
    read_domains,
)
from tests.conftest import REFERENCE_DATA_DIR

KENT, WALTHAM_FOREST, BARNSLEY, SUFFOLK, LEEDS = (
    "E10000016", "E09000031", "E08000016", "E10000029", "E08000035")
CAMBRIDGE = "E07000008"  # a district: not in the lookup of councils running children's services


def test_a_councils_website_is_its_govuk_listed_homepage_over_https(sessions):
    with sessions() as session:
        sites = council_websites(session, REFERENCE_DATA_DIR,
                                 [KENT, WALTHAM_FOREST, BARNSLEY, SUFFOLK, CAMBRIDGE, None])
    assert sites[KENT].url == "https://www.kent.gov.uk" and sites[KENT].own  # listed as http
    assert sites[KENT].text == "www.kent.gov.uk"
    assert sites[WALTHAM_FOREST].url == "https://www.walthamforest.gov.uk"
    assert sites[BARNSLEY].url == "https://www.barnsley.gov.uk"
    # Suffolk's Ofsted row names an analytics company; GOV.UK's list has the council's own site
    assert SUFFOLK not in read_domains(REFERENCE_DATA_DIR)
    assert sites[SUFFOLK].url == "https://www.suffolk.gov.uk"
    assert sites[CAMBRIDGE].url == "https://www.cambridge.gov.uk"  # a district: not in Ofsted's
    assert set(sites) == {KENT, WALTHAM_FOREST, BARNSLEY, SUFFOLK, CAMBRIDGE}


def test_without_the_public_data_gov_uk_finds_the_council(sessions, tmp_path):
    with sessions() as session:
        nothing = council_websites(session, None, [KENT])
        empty = council_websites(session, tmp_path, [KENT])
    for site in (nothing[KENT], empty[KENT]):
        assert site.url == FIND_YOUR_COUNCIL and not site.own


def test_only_councils_recommended_from_public_data_get_a_website(sessions):
    with transaction(sessions) as session:
        seed_demo(session)
    public = demo_id(f"council:{KENT}")
    fictional = demo_id("supplier:example-care-partnerships")
    need = NeedMatches("childrens_services", 1, (
        Partner(public, "Kent", "council", KENT, 0.9, 5, ()),
        Partner(fictional, "Example Care Partnerships (demo)", "supplier", None, 0.5, 5, ()),
        Partner("joined-profile-id", "Leeds", "council", LEEDS, 0.8, 5, ()),
    ))
    with sessions() as session:
        sites = partner_websites(session, REFERENCE_DATA_DIR, [need])
    assert {pid: site.url for pid, site in sites.items()} == {public: "https://www.kent.gov.uk"}
