"""The profiles API on real SQLite and PostgreSQL databases."""

from __future__ import annotations

import json

import pytest
from markupsafe import escape as html_escape
from sqlalchemy import select

from partnermatch.services.api.runtime import Runtime
from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import IdempotencyKey, OutboxEvent, Profile, ProfileVersion
from partnermatch.shared.recommendations.confirmation import confirm_address
from tests.services.api.helpers import (
    CAMBRIDGE,
    LEEDS,
    assert_envelope,
    bearer,
    council_body,
    create,
)
from tests.services.api.web_helpers import html_part, run_worker, text_part


def test_post_council_profile_returns_id_token_and_location(client, app):
    response = client.post("/api/v1/profiles", json=council_body())
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "pending" and body["token"]
    assert response.headers["Location"].endswith(f"/api/v1/profiles/{body['id']}")
    assert body["links"]["matches"] == f"/api/v1/profiles/{body['id']}/matches"


def test_profile_and_its_outbox_event_are_stored_together(client, app):
    created = create(client)
    runtime: Runtime = app.extensions["partnermatch"]
    with runtime.sessions() as session:
        event = session.scalars(select(OutboxEvent)).one()
        versions = session.scalars(select(ProfileVersion)).all()
    assert (event.topic, event.profile_id, event.profile_version) == (
        "profile.submitted", created["id"], 1)
    assert [v.version for v in versions] == [1]


def test_get_with_token_returns_register_details(client):
    created = create(client)
    response = client.get(f"/api/v1/profiles/{created['id']}", headers=bearer(created["token"]))
    assert response.status_code == 200
    profile = response.get_json()
    assert profile["name"] == "Leeds" and profile["council_type"] == "MD"
    assert profile["region"] == "Yorkshire and The Humber"
    assert profile["population"] > 700_000
    assert profile["ratings"] == {"adult_social_care": 2, "childrens_services": 1, "waste": 5}
    assert profile["version"] == 1 and profile["email_confirmed"] is False
    assert "token" not in profile and "token_hash" not in profile


def test_get_without_token_is_401(client):
    created = create(client)
    response = client.get(f"/api/v1/profiles/{created['id']}")
    assert_envelope(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Basic abc", "Bearer " + "a" * 5000,
                                    "Bearer abc\u00e9defghijklmnopqrstuv"])
def test_malformed_credentials_are_401(client, header):
    created = create(client)
    response = client.get(f"/api/v1/profiles/{created['id']}",
                          headers={"Authorization": header.encode("utf-8").decode("latin-1")})
    assert_envelope(response, 401)


def test_another_profiles_token_is_404(client):
    mine = create(client)
    theirs = create(client, contact_email="other@leeds.gov.uk")
    response = client.get(f"/api/v1/profiles/{mine['id']}", headers=bearer(theirs["token"]))
    assert_envelope(response, 404)


def test_token_in_query_string_is_refused(client):
    created = create(client)
    response = client.get(f"/api/v1/profiles/{created['id']}?token={created['token']}",
                          headers=bearer(created["token"]))
    assert_envelope(response, 400)


@pytest.mark.parametrize("path", ["/api/v1/profiles/not-a-uuid", "/api/v1/profiles/..%2F..%2Fetc",
                                  "/api/v1/profiles/00000000-0000-0000-0000-000000000000"])
def test_guessed_or_malformed_ids_are_404(client, path):
    created = create(client)
    assert_envelope(client.get(path, headers=bearer(created["token"])), 404)


def test_district_rating_adult_social_care_is_422_and_stores_nothing(count, client, app):
    body = council_body(gss_code=CAMBRIDGE, contact_email="a.person@cambridge.gov.uk",
                        ratings={"adult_social_care": 2, "waste": 4})
    response = client.post("/api/v1/profiles", json=body)
    envelope = assert_envelope(response, 422)
    assert list(envelope["errors"]) == ["ratings.adult_social_care"]
    assert count(Profile) == 0 and count(OutboxEvent) == 0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"colour": "blue"}, "colour"),
        ({"contact_email": "not-an-email"}, "contact_email"),
        ({"contact_email": "a@b"}, "contact_email"),
        ({"contact_email": "a@[127.0.0.1]"}, "contact_email"),
        ({"contact_email": "a@leeds.gov.uk\r\nBcc: x@y.com"}, "contact_email"),
        ({"contact_email": "x" * 310 + "@leeds.gov.uk"}, "contact_email"),
        ({"contact_email": "someone@gmail.com"}, "contact_email"),
        ({"ratings": {"waste": 6}}, "ratings.waste"),
        ({"ratings": {"waste": 0}}, "ratings.waste"),
        ({"ratings": {"waste": 3.5}}, "ratings.waste"),
        ({"ratings": {"waste": "5"}}, "ratings.waste"),
        ({"ratings": {"waste": True}}, "ratings.waste"),
        ({"ratings": {"bins": 3}}, "ratings.bins"),
        ({"ratings": {}}, "ratings"),
        ({"contact_name": "   "}, "contact_name"),
        ({"contact_name": ["Sam"]}, "contact_name"),
        ({"contact_name": None}, "contact_name"),
        ({"contact_name": "Sam\x00Officer"}, "contact_name"),
        ({"needs_text": "x" * 5001}, "needs_text"),
        ({"seeking": []}, "seeking"),
        ({"seeking": ["council", "council"]}, "seeking"),
        ({"capacity_to_support": "lots"}, "capacity_to_support"),
        ({"share_contact": "yes"}, "share_contact"),
        ({"gss_code": "E99999999"}, "gss_code"),
        ({"gss_code": "../../etc"}, "gss_code"),
        ({"kind": "parish"}, "kind"),
    ],
)
def test_invalid_fields_are_422_with_the_field_path(count, client, app, overrides, field):
    response = client.post("/api/v1/profiles", json=council_body(**overrides))
    envelope = assert_envelope(response, 422)
    assert field in envelope["errors"], envelope
    assert count(Profile) == 0 and count(OutboxEvent) == 0


def test_text_at_the_maximum_length_is_accepted(client):
    create(client, needs_text="x" * 5000, contact_name="Ó" * 200)


def test_former_gss_code_is_accepted_and_stored_as_the_current_one(client):
    created = create(client, gss_code="E08000016", contact_email="a@barnsley.gov.uk",
                     ratings={"waste": 2})
    response = client.get(f"/api/v1/profiles/{created['id']}", headers=bearer(created["token"]))
    assert response.get_json()["name"] == "Barnsley"


def test_oversized_body_is_413(count, client, app):
    body = json.dumps(council_body(needs_text="x" * 70_000))
    response = client.post("/api/v1/profiles", data=body, content_type="application/json")
    assert_envelope(response, 413)
    assert count(Profile) == 0


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x"])
def test_wrong_content_type_is_415(count, client, app, content_type):
    response = client.post("/api/v1/profiles", data=json.dumps(council_body()),
                           content_type=content_type)
    assert_envelope(response, 415)
    assert count(Profile) == 0


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b'{"kind": "council", "kind": "council"}',
        b'{"contact_name": "\\ud800"}',
        b"\xff\xfe{}",
        b"[" * 100 + b"]" * 100,
        b'{"a": NaN}',
    ],
)
def test_malformed_json_is_400(count, client, app, raw):
    response = client.post("/api/v1/profiles", data=raw, content_type="application/json")
    assert_envelope(response, 400)
    assert count(Profile) == 0


def test_wrong_method_is_405(client):
    assert_envelope(client.patch("/api/v1/profiles"), 405)


def test_same_idempotency_key_and_body_replays_the_first_response(count, client, app):
    headers = {"Idempotency-Key": "form-42"}
    first = client.post("/api/v1/profiles", json=council_body(), headers=headers)
    reordered = dict(reversed(list(council_body().items())))
    second = client.post("/api/v1/profiles", json=reordered, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert second.headers["Location"] == first.headers["Location"]
    assert count(Profile) == 1 and count(OutboxEvent) == 1


def test_same_idempotency_key_with_another_body_is_422(count, client, app):
    headers = {"Idempotency-Key": "form-43"}
    client.post("/api/v1/profiles", json=council_body(), headers=headers)
    response = client.post("/api/v1/profiles", json=council_body(needs_text="other"),
                           headers=headers)
    assert_envelope(response, 422)
    assert count(Profile) == 1


def test_idempotency_key_still_in_progress_is_409(count, client, app):
    from partnermatch.services.api.idempotency import client_key, request_hash

    runtime: Runtime = app.extensions["partnermatch"]
    with runtime.sessions() as session, session.begin():  # the test client is 127.0.0.1
        session.add(IdempotencyKey(key=client_key("127.0.0.1", "busy"),
                                   request_hash=request_hash(council_body())))
    response = client.post("/api/v1/profiles", json=council_body(),
                           headers={"Idempotency-Key": "busy"})
    assert_envelope(response, 409)
    assert count(Profile) == 0


def test_idempotency_key_of_a_rejected_request_can_be_used_again(client):
    headers = {"Idempotency-Key": "retry-me"}
    bad = client.post("/api/v1/profiles", json=council_body(gss_code="E99999999"),
                      headers=headers)
    assert bad.status_code == 422
    assert client.post("/api/v1/profiles", json=council_body(), headers=headers).status_code == 201


def test_stored_idempotent_response_is_encrypted(client, app):
    body = client.post("/api/v1/profiles", json=council_body(),
                       headers={"Idempotency-Key": "secret"}).get_json()
    from partnermatch.services.api.idempotency import client_key

    runtime: Runtime = app.extensions["partnermatch"]
    with runtime.sessions() as session:
        stored = session.get(IdempotencyKey, client_key("127.0.0.1", "secret")).response
    assert body["token"].encode() not in stored


def test_put_replaces_fields_and_bumps_version(count, client, app):
    created = create(client)
    body = council_body(ratings={"waste": 1}, needs_text="Food waste collections")
    response = client.put(f"/api/v1/profiles/{created['id']}", json=body,
                          headers=bearer(created["token"]))
    assert response.status_code == 200
    assert response.get_json()["version"] == 2
    assert response.get_json()["ratings"] == {"waste": 1}
    assert count(OutboxEvent) == 2 and count(ProfileVersion) == 2


def test_put_cannot_change_the_council(client):
    created = create(client)
    body = council_body(gss_code="E08000016", contact_email="x@barnsley.gov.uk")
    response = client.put(f"/api/v1/profiles/{created['id']}", json=body,
                          headers=bearer(created["token"]))
    assert "gss_code" in assert_envelope(response, 422)["errors"]


def test_delete_erases_the_profile(count, client, app):
    created = create(client)
    url = f"/api/v1/profiles/{created['id']}"
    assert client.delete(url, headers=bearer(created["token"])).status_code == 204
    assert_envelope(client.get(url, headers=bearer(created["token"])), 404)
    assert count(Profile) == 0 and count(ProfileVersion) == 0


def test_rotated_token_replaces_the_old_one(client):
    created = create(client)
    url = f"/api/v1/profiles/{created['id']}"
    response = client.post(url + "/token", headers=bearer(created["token"]))
    new_token = response.get_json()["token"]
    assert new_token != created["token"]
    assert_envelope(client.get(url, headers=bearer(created["token"])), 404)
    assert client.get(url, headers=bearer(new_token)).status_code == 200


def test_matches_are_pending_until_matched(client):
    created = create(client)
    response = client.get(created["links"]["matches"], headers=bearer(created["token"]))
    assert response.status_code == 200
    assert response.get_json()["status"] == "pending"
    assert response.get_json()["profile_version"] == 1


def test_every_need_is_listed_even_before_any_partner_is_strong_in_it(client, app, tmp_path):
    created = create(client, ratings={"childrens_services": 1, "adult_social_care": 2,
                                      "waste": 2, "housing": 4})
    run_worker(app, tmp_path)  # nobody else has a profile: no partner anywhere
    response = client.get(created["links"]["matches"], headers=bearer(created["token"]))
    assert response.get_json()["status"] == "ready"
    assert response.get_json()["needs"] == [
        {"service_area": "childrens_services", "rating": 1, "partners": []},
        {"service_area": "adult_social_care", "rating": 2, "partners": []},
        {"service_area": "waste", "rating": 2, "partners": []},
    ]
    with transaction(app.extensions["partnermatch"].sessions) as session:
        confirm_address(session, "sam.officer@leeds.gov.uk")
    (email,) = run_worker(app, tmp_path)
    text, html = text_part(email), html_part(email)
    for area in ("Children's services", "Adult social care", "Waste"):
        assert f"{area}\n{'-' * len(area)}\n\nYou rated this service area" in text
        assert html.count(html_escape(area)) == 1
    no_partner = ("No partner is strong in this service area yet. We will email you when one "
                  "joins partnermatch.")
    assert text.count(no_partner) == 3 and html.count(no_partner) == 3


def test_a_need_without_partners_keeps_its_place_beside_one_with_partners(client, app,
                                                                          tmp_path):
    create(client, gss_code="E08000032", contact_email="pat.partner@bradford.gov.uk",
           ratings={"childrens_services": 5}, capacity_to_support="available")
    with transaction(app.extensions["partnermatch"].sessions) as session:
        confirm_address(session, "pat.partner@bradford.gov.uk")  # only confirmed take part
    created = create(client, ratings={"childrens_services": 1, "adult_social_care": 2})
    run_worker(app, tmp_path)
    needs = client.get(created["links"]["matches"],
                       headers=bearer(created["token"])).get_json()["needs"]
    assert [(n["service_area"], n["rating"]) for n in needs] == [
        ("childrens_services", 1), ("adult_social_care", 2)]
    assert [p["gss_code"] for p in needs[0]["partners"]] == ["E08000032"]
    assert needs[1]["partners"] == []


@pytest.mark.parametrize("limit", ["0", "51", "ten"])
def test_matches_limit_outside_1_to_50_is_422(client, limit):
    created = create(client)
    response = client.get(created["links"]["matches"] + f"?limit={limit}",
                          headers=bearer(created["token"]))
    assert "limit" in assert_envelope(response, 422)["errors"]


def test_supplier_profile_is_accepted_from_any_domain(client):
    body = {
        "kind": "supplier", "name": "Example Care Ltd", "contact_name": "Pat",
        "contact_email": "pat@example.com", "ratings": {"adult_social_care": 5},
        "regions_served": ["North West"], "evidence_text": "CQC outstanding", "company_number":
        "01234567",
    }
    response = client.post("/api/v1/profiles", json=body)
    assert response.status_code == 201
    profile = client.get(response.headers["Location"],
                         headers=bearer(response.get_json()["token"])).get_json()
    assert profile["name"] == "Example Care Ltd" and "gss_code" not in profile


def test_leeds_constant_is_a_metropolitan_borough(client):
    items = client.get("/api/v1/councils?q=leeds").get_json()["items"]
    assert [c["gss_code"] for c in items] == [LEEDS]
