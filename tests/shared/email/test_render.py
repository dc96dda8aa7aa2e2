"""Rendering: hostile names and reasons stay inert text, and the text part says everything."""

from __future__ import annotations

import pytest
from markupsafe import escape

from partnermatch.shared.email.render import (
    CONFIRMATION_SUBJECT,
    RenderedEmail,
    render_confirmation,
    render_recommendations,
)
from partnermatch.shared.reference.records import NeedMatches, Partner
from partnermatch.shared.reference.websites import FINDER, Website

HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=x>', "{{7*7}}", "{% raw %}"]
MATCHES_URL = "https://partnermatch.example/matches/abc"


def partner(profile_id: str, name: str, reasons: tuple[str, ...], kind: str = "council") -> Partner:
    """Return a recommended partner with the given name and reasons."""
    return Partner(profile_id, name, kind, None, 0.873, 5, reasons)


def recommendations(name: str = "Jane Smith", **partner_fields: str) -> RenderedEmail:
    """Render recommendations where a hostile string may appear in any user-supplied field."""
    kent = partner("kent", partner_fields.get("partner", "Kent County Council"),
                   ("Rated outstanding by Ofsted (2024)", partner_fields.get("reason", "Similar")))
    acme = partner("acme", "Acme Digital Ltd", ("Delivered for 12 councils",), kind="supplier")
    needs = [
        NeedMatches("childrens_services", 2, (kent, acme)),
        NeedMatches("housing", 1, ()),
    ]
    contacts = {"kent": (partner_fields.get("contact", "Bob Jones"), "bob.jones@kent.gov.uk")}
    return render_recommendations(
        name, partner_fields.get("subject", "Barnsley"), needs, MATCHES_URL, contacts,
        "https://partnermatch.example/unsubscribe/abc",
    )


@pytest.mark.parametrize("hostile", HOSTILE)
@pytest.mark.parametrize("field", ["name", "subject", "partner", "reason", "contact"])
def test_hostile_text_is_escaped_in_html_and_literal_in_text(field: str, hostile: str) -> None:
    rendered = recommendations(**{field: hostile})
    assert str(escape(hostile)) in rendered.html
    assert hostile in rendered.text
    assert "<script" not in rendered.html
    assert "<img" not in rendered.html


@pytest.mark.parametrize("field", ["name", "subject", "partner", "reason"])
def test_template_syntax_in_data_is_never_evaluated(field: str) -> None:
    rendered = recommendations(**{field: "{{7*7}} {{ config }}"})
    for part in (rendered.text, rendered.html):
        assert "{{7*7}} {{ config }}" in part
        assert "49" not in part


def test_text_part_lists_every_partner_reason_and_contact_choice() -> None:
    text = recommendations().text
    for expected in [
        "Children's services", "Housing", "Kent County Council", "Acme Digital Ltd",
        "Council, 87% match", "Supplier, 87% match", "Rated outstanding by Ofsted (2024)",
        "Similar", "Delivered for 12 councils", "Bob Jones, bob.jones@kent.gov.uk",
        "Contact details not shared", MATCHES_URL, "https://partnermatch.example/unsubscribe/abc",
    ]:
        assert expected in text


def test_contact_details_appear_only_for_partners_who_shared_them() -> None:
    html = recommendations().html
    assert 'href="mailto:bob.jones@kent.gov.uk"' in html
    assert html.count("Contact details not shared") == 1


def test_a_contact_address_cannot_add_query_parameters_to_the_mailto_link() -> None:
    kent = partner("kent", "Kent", ("Similar",))
    rendered = render_recommendations(
        "Jane", "Barnsley", [NeedMatches("housing", 1, (kent,))], MATCHES_URL,
        {"kent": ("Bob", "bob@kent.gov.uk?bcc=evil@example.com")}, None,
    )
    assert 'href="mailto:bob@kent.gov.uk%3Fbcc%3Devil@example.com"' in rendered.html


def test_a_need_without_partners_says_none_is_strong_yet_and_that_we_will_write() -> None:
    rendered = recommendations()
    promise = ("No partner is strong in this service area yet. We will email you when one joins "
               "partnermatch.")
    assert "Housing\n-------\n\nYou rated this service area 1 out of 5.\n\n" + promise \
        in rendered.text
    assert rendered.html.count(promise) == 1


def test_a_council_that_has_not_joined_is_reached_through_its_website() -> None:
    kent = partner("kent", "Kent", ("Not on partnermatch yet: recommended from public data",))
    york = partner("york", "York", ("Not on partnermatch yet: recommended from public data",))
    rendered = render_recommendations(
        "Jane", "Barnsley", [NeedMatches("housing", 1, (kent, york))], MATCHES_URL, {}, None,
        introducible=["kent", "york"],  # never offered for a council that has not joined
        websites={"kent": Website("https://www.kent.gov.uk", "www.kent.gov.uk", own=True),
                  "york": FINDER})
    assert ("Not on partnermatch yet, so we cannot introduce you.\n"
            "  You can contact them through their website: https://www.kent.gov.uk") \
        in rendered.text
    assert ("You can find their website with Find your local council on GOV.UK: "
            "https://www.gov.uk/find-local-council") in rendered.text
    assert 'href="https://www.kent.gov.uk"' in rendered.html
    assert 'href="https://www.gov.uk/find-local-council"' in rendered.html
    for part in (rendered.text, rendered.html):
        assert "introduction from" not in part and "Contact details not shared" not in part


def test_html_is_plain_accessible_and_self_contained() -> None:
    html = recommendations().html
    assert '<html lang="en-GB">' in html
    assert "font-family:Arial,Helvetica,sans-serif" in html
    assert "color:#0b0c0c" in html
    assert "<h1" in html and "<h2" in html and "<ul" in html
    for absent in ("<img", "<style", "<script", "<link", "class="):
        assert absent not in html


def test_names_are_shown_on_one_line_without_control_characters() -> None:
    rendered = recommendations(name="Jane\r\nBcc: x@y.com\x00\u202e")
    assert "Hello Jane Bcc: x@y.com," in rendered.text
    assert "\x00" not in rendered.text + rendered.html
    assert "\u202e" not in rendered.text + rendered.html


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,x", "//evil.example/x",
                                 "https://ok.example/\r\nx"])
def test_links_must_be_web_urls(url: str) -> None:
    with pytest.raises(ValueError):
        render_confirmation(url, "Barnsley")
    with pytest.raises(ValueError):
        render_recommendations("Jane", "Barnsley", [], url, {}, None)


def test_confirmation_names_the_profile_links_to_confirm_and_explains_if_it_was_not_you() -> None:
    url = "https://partnermatch.example/confirm?token=a&b=1"
    rendered = render_confirmation(url, "Barnsley Metropolitan Borough Council")
    assert rendered.subject == CONFIRMATION_SUBJECT
    for part in (rendered.text, rendered.html):
        assert "Barnsley Metropolitan Borough Council" in part
        assert "If this was not you" in part
    assert url in rendered.text
    assert 'href="https://partnermatch.example/confirm?token=a&amp;b=1"' in rendered.html


def test_a_suppliers_confirmation_names_no_one() -> None:
    """The address is unconfirmed: nothing the submitter typed may reach it."""
    rendered = render_confirmation("https://partnermatch.example/confirm/t", None)
    for part in (rendered.text, rendered.html):
        assert "A supplier profile was submitted" in part
        assert "Hello," in part
