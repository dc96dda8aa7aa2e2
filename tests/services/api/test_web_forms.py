"""The council and supplier forms: the API's schemas, the error summary, one submission."""

from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import select

from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import EmailDelivery, FormDraft, OutboxEvent, Profile
from partnermatch.shared.profiles.demo import seed_demo
from tests.services.api.helpers import CAMBRIDGE, council_body
from tests.services.api.web_helpers import (
    csrf_token,
    fill_council_form,
    post_form,
    run_worker,
    submission_key,
    submit,
    text_part,
)


def test_choosing_no_council_shows_the_error_summary_linked_to_the_list(client):
    response = post_form(client, "/council/new", {"gss_code": ""})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "There is a problem" in page and 'href="#gss_code"' in page
    assert "<title>Error: " in page


def test_a_district_is_only_asked_about_the_services_it_delivers(client):
    post_form(client, "/council/new", {"gss_code": CAMBRIDGE})
    page = client.get("/council/details").get_data(as_text=True)
    assert 'name="ratings-waste"' in page and 'name="ratings-housing"' in page
    assert 'name="ratings-adult_social_care"' not in page
    assert 'name="ratings-childrens_services"' not in page


def test_a_tampered_rating_for_a_service_the_council_does_not_run_is_refused(count, client, app):
    response = fill_council_form(client, CAMBRIDGE, **{
        "ratings-adult_social_care": "1", "contact_email": "a.person@cambridge.gov.uk"})
    assert response.status_code == 400
    assert "Cambridge does not deliver adult social care" in response.get_data(as_text=True)
    assert count(Profile) == 0


@pytest.mark.parametrize(("overrides", "anchor", "message"), [
    ({"contact_name": "   "}, "contact_name", "Enter your full name"),
    ({"contact_name": None}, "contact_name", "Enter your full name"),
    ({"contact_email": ""}, "contact_email", "Enter an email address like"),
    ({"contact_email": "sam@gmail.com"}, "contact_email", "Use your council email address"),
    ({"contact_email": "a@leeds.gov.uk\r\nBcc: x@y.com"}, "contact_email", "Enter an email"),
    ({"ratings-adult_social_care": None, "ratings-childrens_services": None,
      "ratings-waste": None}, "ratings-adult_social_care", "Rate at least one service area"),
    ({"ratings-waste": "6"}, "ratings-waste", "Rate waste from 1 to 5"),
    ({"ratings-waste": "3.5"}, "ratings-waste", "Rate waste from 1 to 5"),
    ({"needs_text": "x" * 5001}, "needs_text", "must be 5,000 characters or fewer"),
    ({"seeking": None}, "seeking", "Select whether you are looking for councils"),
    ({"seeking": ["parish"]}, "seeking", "Select whether you are looking for councils"),
    ({"capacity_to_support": None}, "capacity_to_support", "Select whether you can support"),
    ({"share_contact": "maybe"}, "share_contact", "Select whether to share"),
])
def test_invalid_answers_are_linked_from_the_error_summary_and_nothing_is_stored(count,
    client, app, overrides, anchor, message
):
    response = fill_council_form(client, **overrides)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    start = page.index('class="govuk-error-summary')
    summary = page[start:page.index("</ul>", start)]
    assert f'href="#{anchor}"' in summary and message in summary
    assert f'id="{anchor}"' in page
    assert count(Profile) == 0 and count(OutboxEvent) == 0


def test_answers_are_kept_when_the_page_comes_back_with_errors(client):
    page = fill_council_form(client, contact_email="nope").get_data(as_text=True)
    assert 'value="Sam Officer"' in page
    assert re.search(r'name="ratings-childrens_services" type="radio" value="1"\s+checked', page)
    assert "Care leavers in suitable accommodation" in page


def test_check_answers_shows_everything_escaped_and_links_back_to_each_field(client):
    fill_council_form(client, needs_text='<script>alert(1)</script> {{7*7}}')
    page = client.get("/check").get_data(as_text=True)
    assert "Leeds (Metropolitan borough)" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; {{7*7}}" in page and "<script>alert" not in page
    assert 'href="/council/details#needs_text"' in page
    assert 'href="/council/new"' in page


def test_submitting_stores_one_profile_and_owes_the_confirmation(count, client, app):
    fill_council_form(client)
    response = submit(client)
    assert response.status_code == 303 and response.headers["Location"] == "/submitted"
    assert count(Profile) == 1 and count(OutboxEvent) == 1
    with app.extensions["partnermatch"].sessions() as session:
        delivery = session.scalars(select(EmailDelivery)).one()
        draft = session.scalars(select(FormDraft)).one()
    assert delivery.purpose == "confirmation"
    assert draft.answers == {} and draft.profile_id  # the personal data now lives in the profile
    assert "Profile sent" in client.get("/submitted").get_data(as_text=True)


def test_pressing_submit_twice_stores_one_profile_and_shows_the_same_page(count, client, app):
    fill_council_form(client)
    page = client.get("/check").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "submission_key": submission_key(client)}
    first, second = client.post("/check", data=data), client.post("/check", data=data)
    assert first.headers["Location"] == second.headers["Location"] == "/submitted"
    assert count(Profile) == 1 and count(OutboxEvent) == 1


def test_concurrent_double_submit_stores_one_profile(count, app):
    client = app.test_client()
    fill_council_form(client)
    page = client.get("/check").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "submission_key": submission_key(client)}
    cookie = client.get_cookie("partnermatch_session").value
    results = []

    def press():
        other = app.test_client()
        other.set_cookie("partnermatch_session", cookie)
        results.append(other.post("/check", data=data).status_code)

    threads = [threading.Thread(target=press) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [303] * 4
    assert count(Profile) == 1 and count(OutboxEvent) == 1


@pytest.mark.parametrize("token", [None, "", "forged"])
def test_a_missing_or_forged_csrf_token_is_refused_and_nothing_is_stored(count, client, app, token):
    fill_council_form(client)
    data = {"submission_key": submission_key(client)}
    if token is not None:
        data["csrf_token"] = token
    response = client.post("/check", data=data)
    assert response.status_code == 400
    assert "Your form has expired" in response.get_data(as_text=True)
    assert count(Profile) == 0


def test_another_browsers_csrf_token_is_refused(client, app):
    stranger = app.test_client()
    foreign = csrf_token(stranger.get("/council/new").get_data(as_text=True))
    response = client.post("/council/new", data={"csrf_token": foreign, "gss_code": "E08000035"})
    assert response.status_code == 400


def test_get_and_method_override_never_submit(count, client, app):
    fill_council_form(client)
    client.get("/check", headers={"X-HTTP-Method-Override": "POST"})
    client.get(f"/check?submission_key={submission_key(client)}")
    assert count(Profile) == 0
    assert client.delete("/check").status_code == 405


def test_the_supplier_form_needs_a_name_and_accepts_any_domain(client, app):
    form = {"name": "", "ratings-customer_digital": "5", "contact_name": "Ann Seller",
            "contact_email": "ann@acme-digital.co.uk", "description": "Digital services",
            "regions_served": "London", "share_contact": "yes"}
    response = post_form(client, "/supplier/details", form)
    assert response.status_code == 400 and 'href="#name"' in response.get_data(as_text=True)
    response = post_form(client, "/supplier/details", {**form, "name": "Acme Digital Ltd"})
    assert response.headers["Location"] == "/check"
    assert "Acme Digital Ltd" in client.get("/check").get_data(as_text=True)
    submit(client)
    with app.extensions["partnermatch"].sessions() as session:
        supplier = session.scalars(select(Profile)).one()
    assert supplier.kind == "supplier" and not supplier.approved
    assert supplier.fields["regions_served"] == ["London"]


def test_the_form_and_the_api_give_the_same_recommendations_and_email(client, app, tmp_path):
    with transaction(app.extensions["partnermatch"].sessions) as session:
        seed_demo(session)
    fill_council_form(client)
    submit(client)
    api_body = council_body(needs_text="Care leavers in suitable accommodation; recruiting "
                            "social workers.", contact_email="api.officer@leeds.gov.uk")
    assert client.post("/api/v1/profiles", json=api_body).status_code == 201
    with app.extensions["partnermatch"].sessions() as session:
        web, api = session.scalars(select(Profile).where(Profile.demo.is_(False))
                                   .order_by(Profile.created_at)).all()
    assert {k: v for k, v in web.fields.items() if k != "contact_email"} == \
        {k: v for k, v in api.fields.items() if k != "contact_email"}
    run_worker(app, tmp_path)
    for profile in (web, api):
        confirm_everything(app, profile.contact_email)
    emails = {m["To"].addresses[0].addr_spec: text_part(m) for m in run_worker(app, tmp_path)}
    web_text, api_text = (strip_links(emails[p.contact_email]) for p in (web, api))
    assert "Children's services" in web_text and web_text == api_text


def confirm_everything(app, address: str) -> None:
    from partnermatch.shared.recommendations.confirmation import confirm_address

    with transaction(app.extensions["partnermatch"].sessions) as session:
        confirm_address(session, address)


def strip_links(text: str) -> str:
    return re.sub(r"https?://\S+", "<link>", text)


def test_a_second_form_in_the_same_browser_starts_afresh(client, app):
    fill_council_form(client)
    submit(client)
    page = client.get("/council/new").get_data(as_text=True)
    assert 'selected' not in page.split('name="gss_code"')[1].split("</select>")[0]
    token = csrf_token(page)
    response = client.post("/council/details", data={"csrf_token": token, "contact_name": "x"})
    assert response.headers["Location"] == "/council/new"


@pytest.mark.parametrize(("typed", "shown"), [
    ("\u202eSam Officer", "Sam Officer"),
    ("Sam\u200b Officer", "Sam Officer"),
    ("Se\u0301verine", "S\u00e9verine"),  # NFD becomes NFC
])
def test_invisible_and_decomposed_characters_are_normalised(client, typed, shown):
    fill_council_form(client, contact_name=typed)
    page = client.get("/check").get_data(as_text=True)
    assert re.search(r'summary-list__value">\s*' + re.escape(shown) + r"\s*<", page)


def test_redirects_stay_on_this_site_whatever_the_host_header(client):
    response = client.get("/profile?next=//evil.example", headers={"Host": "evil.example"})
    assert response.headers["Location"] == "/profile/link?expired=1"


def test_a_get_to_a_state_changing_address_is_405(client):
    for path in ("/profile/introductions", "/profile/sign-out"):
        assert client.get(path).status_code == 405


@pytest.mark.parametrize("method, path, code", [
    ("get", "/no-such-page", 404), ("get", "/council/no/such/page", 404),
    ("post", "/privacy", 405),
])
def test_a_mistyped_page_or_a_wrong_method_gets_a_govuk_page_not_json(client, method, path, code):
    response = getattr(client, method)(path)
    assert response.status_code == code and response.mimetype == "text/html"
    text = response.get_data(as_text=True)
    assert "govuk-template" in text and "Page not found" in text
    if code == 405:
        assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize("method, path, code", [
    ("get", "/api/v1/no-such-thing", 404), ("post", "/healthz", 405),
    ("post", "/openapi.json", 405),
])
def test_the_api_and_machine_paths_keep_the_json_envelope(client, method, path, code):
    response = getattr(client, method)(path)
    assert response.status_code == code and response.mimetype == "application/json"
    assert response.get_json()["code"] == code
