"""The reasons a council reads beside each recommended partner: plain English it can check."""

from __future__ import annotations

from partnermatch.shared.matching.reasons import (
    FICTIONAL,
    NOT_JOINED,
    PUBLIC_DATA,
    SELF_RATED,
    capacity_reason,
    partner_reasons,
    rating_reason,
    reciprocity_reason,
    region_reasons,
)
from partnermatch.shared.matching.scoring import AREA


def test_a_rating_says_who_gives_it():
    assert rating_reason(SELF_RATED, 5, "adult_social_care") == (
        "Rates itself 5 out of 5 for Adult social care")
    assert rating_reason(PUBLIC_DATA, 4, "childrens_services") == (
        "Rated 4 out of 5 for Children's services from public data")
    assert rating_reason(FICTIONAL, 5, "waste") == (
        "Demo rating 5 out of 5 for Waste (fictional supplier)")


def test_capacity_is_only_mentioned_when_the_partner_said_it_has_some():
    assert capacity_reason("available") == "Has capacity to support other councils"
    assert capacity_reason("limited") == "Has limited capacity to support other councils"
    assert capacity_reason("none") is None


def test_what_the_requester_could_offer_in_return_reads_as_a_sentence():
    assert reciprocity_reason([]) is None
    assert reciprocity_reason(["housing"]) == "You could help them with housing"
    assert reciprocity_reason(["housing", "waste"]) == "You could help them with housing and waste"
    assert reciprocity_reason(["childrens_services", "housing", "planning"]) == (
        "You could help them with children's services, housing and planning")


def test_a_supplier_is_said_to_work_where_the_requester_is():
    assert region_reasons(["North West", "Yorkshire and The Humber"], "Yorkshire and The Humber") \
        == ["Works in Yorkshire and The Humber"]
    assert region_reasons(["North West"], "London") == []
    assert region_reasons([], "London") == ["Works in all regions"]
    assert region_reasons([], None) == ["Works in all regions"]


def test_a_council_from_public_data_says_so_first_and_offers_no_capacity():
    assert partner_reasons(area="waste", kind="council", source="public_data", rating=5,
                           capacity="unknown", alike=("Both mostly rural",)) == (
        NOT_JOINED, "Rated 5 out of 5 for Waste from public data", "Both mostly rural")


def test_a_council_that_joined_gives_evidence_likeness_capacity_then_reciprocity():
    helpable = 1 << AREA["housing"] | 1 << AREA["adult_social_care"]
    assert partner_reasons(area="waste", kind="council", source="self", rating=4,
                           capacity="limited", helpable=helpable,
                           evidence=("Top recycling rate",), alike=("Similar population",)) == (
        "Rates itself 4 out of 5 for Waste", "Top recycling rate", "Similar population",
        "Has limited capacity to support other councils",
        "You could help them with adult social care and housing")


def test_a_supplier_says_where_it_works_when_that_is_the_requesters_region():
    assert partner_reasons(area="waste", kind="supplier", source="fictional", rating=5,
                           capacity="available", served=("Wales", "North West"),
                           region="North West") == (
        "Demo rating 5 out of 5 for Waste (fictional supplier)",
        "Has capacity to support other councils", "Works in North West")
    assert partner_reasons(area="waste", kind="supplier", source="self", rating=5,
                           capacity="available", region="Wales")[-1] == "Works in all regions"
    elsewhere = partner_reasons(area="waste", kind="supplier", source="self", rating=5,
                                capacity="available", served=("Wales",), region="London")
    assert elsewhere[-1] == "Has capacity to support other councils"
