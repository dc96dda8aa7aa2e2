"""A partner's reasons put together from its facts, on their own."""

from partnermatch.shared.matching.reasons import NOT_JOINED, partner_reasons
from partnermatch.shared.matching.scoring import AREA


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
