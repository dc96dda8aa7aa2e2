"""The reasons a council reads beside each recommended partner: plain English it can check."""

from __future__ import annotations

from partnermatch.shared.matching.reasons import (
    FICTIONAL,
    PUBLIC_DATA,
    SELF_RATED,
    capacity_reason,
    rating_reason,
    reciprocity_reason,
    region_reasons,
)


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
