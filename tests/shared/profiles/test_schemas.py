"""The one definition of a valid profile: what a council or supplier may send, tidied on the way in.

The API's answers to bad input are in tests/services/api (test_profiles, test_bad_input); these
are the schemas on their own.
"""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from partnermatch.shared.profiles.schemas import MAX_TEXT, ProfileSchema, flatten_errors


def council(**changes) -> dict:
    return {"kind": "council", "gss_code": "e08000035", "contact_name": "Sam Officer",
            "contact_email": "Sam.Officer@LEEDS.gov.uk",
            "ratings": {"childrens_services": 1, "waste": 5}, **changes}


def supplier(**changes) -> dict:
    return {"kind": "supplier", "name": "Example Care Ltd", "contact_name": "Pat Jones",
            "contact_email": "pat@example-care.co.uk", "ratings": {"adult_social_care": 5},
            **changes}


def errors(document) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as raised:
        ProfileSchema().load(document)
    return flatten_errors(raised.value.messages)


def test_a_council_is_tidied_and_given_the_defaults():
    loaded = ProfileSchema().load(council(needs_text="  Care leavers\r\nin housing  "))
    assert loaded["gss_code"] == "E08000035"
    assert loaded["contact_email"] == "Sam.Officer@leeds.gov.uk"  # the mailbox keeps its case
    assert loaded["needs_text"] == "Care leavers\nin housing"
    assert loaded["seeking"] == ["council", "supplier"]
    assert loaded["capacity_to_support"] == "none" and loaded["share_contact"] is False


def test_a_supplier_shares_its_contact_unless_it_says_not_to():
    assert ProfileSchema().load(supplier())["share_contact"] is True
    assert ProfileSchema().load(supplier(share_contact=False))["share_contact"] is False
    assert ProfileSchema().load(supplier())["regions_served"] == []


def test_invisible_characters_are_removed_and_control_characters_refused():
    loaded = ProfileSchema().load(council(contact_name="Sam\u200b Offi\u202ecer"))
    assert loaded["contact_name"] == "Sam Officer"
    assert errors(council(contact_name="Sam\x07")) == {
        "contact_name": ["Must not contain control characters."]}
    assert errors(council(contact_name="   ")) == {"contact_name": ["Must not be blank."]}


def test_names_are_composed_so_the_same_name_is_stored_the_same_way():
    assert ProfileSchema().load(council(contact_name="Zoe\u0301"))["contact_name"] == "Zoé"


@pytest.mark.parametrize("address", [
    "sam", "sam@leeds", "sam@127.0.0.1", "sam@[127.0.0.1]", "sam@leeds.gov.uk, eve@evil.example",
    "sam@leeds.gov.uk\nBcc: eve@evil.example", "a" * 250 + "@leeds.gov.uk"])
def test_an_address_must_be_one_mailbox_at_a_real_domain(address):
    assert list(errors(council(contact_email=address))) == ["contact_email"]


def test_ratings_are_whole_numbers_from_1_to_5_for_known_service_areas():
    assert errors(council(ratings={})) == {"ratings": ["Rate at least one service area."]}
    assert set(errors(council(ratings={"waste": 6}))) == {"ratings.waste"}
    assert set(errors(council(ratings={"waste": "5"}))) == {"ratings.waste"}
    assert set(errors(council(ratings={"waste": True}))) == {"ratings.waste"}
    assert set(errors(council(ratings={"waste": 3.5}))) == {"ratings.waste"}
    assert set(errors(council(ratings={"parking": 3}))) == {"ratings.parking"}


def test_free_text_has_a_ceiling():
    assert ProfileSchema().load(council(needs_text="x" * MAX_TEXT))["needs_text"]
    assert set(errors(council(needs_text="x" * (MAX_TEXT + 1)))) == {"needs_text"}


def test_each_kind_of_partner_is_sought_once():
    assert errors(council(seeking=["council", "council"])) == {
        "seeking": ["List each kind of partner once."]}


def test_what_is_not_a_profile_is_refused_by_what_is_wrong():
    assert errors(["a list"]) == {"_schema": ["Send a JSON object."]}
    assert errors(council(kind="charity")) == {"kind": ["Must be one of: council, supplier."]}
    assert errors(council(gss_code="Leeds")) == {"gss_code": ["Enter a GSS code like E08000035."]}
    assert errors(council(favourite_colour="blue")) == {"favourite_colour": ["Unknown field."]}
    assert errors(supplier(company_number="123")) == {
        "company_number": ["Enter an 8-character company number."]}


def test_nested_messages_flatten_to_dotted_paths():
    assert flatten_errors({"ratings": {"waste": {"value": ["Too big."]}}, "kind": ["Missing."]}) \
        == {"ratings.waste": ["Too big."], "kind": ["Missing."]}
    assert flatten_errors(["Send a JSON object."]) == {"_schema": ["Send a JSON object."]}
    assert flatten_errors("Broken.") == {"_schema": ["Broken."]}
