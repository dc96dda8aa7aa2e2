"""Where a council that has not joined can be reached: its website from the public data."""

from __future__ import annotations

from shared.db import transaction
from shared.demo import demo_id, seed_demo
from shared.records import NeedMatches, Partner
from shared.websites import FIND_YOUR_COUNCIL, council_websites, partner_websites, read_domains
from tests.conftest import REFERENCE_DATA_DIR

KENT, WALTHAM_FOREST, BARNSLEY, SUFFOLK, LEEDS = (
    "E10000016", "E09000031", "E08000016", "E10000029", "E08000035")
CAMBRIDGE = "E07000008"  # a district: not in the lookup of councils running children's services


def test_a_councils_website_comes_from_its_domain_in_the_public_data(sessions):
    with sessions() as session:
        sites = council_websites(session, REFERENCE_DATA_DIR,
                                 [KENT, WALTHAM_FOREST, BARNSLEY, None])
    assert sites[KENT].url == "https://www.kent.gov.uk" and sites[KENT].own
    assert sites[KENT].text == "www.kent.gov.uk"
    assert sites[WALTHAM_FOREST].url == "https://www.walthamforest.gov.uk"  # "Walthamforest"
    assert sites[BARNSLEY].url == "https://www.barnsley.gov.uk"  # listed under its newer code
    assert set(sites) == {KENT, WALTHAM_FOREST, BARNSLEY}


def test_without_a_council_domain_gov_uk_finds_the_council(sessions):
    with sessions() as session:
        sites = council_websites(session, REFERENCE_DATA_DIR, [SUFFOLK, CAMBRIDGE])
        nothing = council_websites(session, None, [KENT])
    # Suffolk's row names an analytics company, not the council: only .gov.uk is believed
    assert SUFFOLK not in read_domains(REFERENCE_DATA_DIR)
    for site in (sites[SUFFOLK], sites[CAMBRIDGE], nothing[KENT]):
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
