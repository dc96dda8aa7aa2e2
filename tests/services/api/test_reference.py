"""Public reference endpoints, health checks and the OpenAPI document."""

from __future__ import annotations

from openapi_spec_validator import validate

from tests.services.api.helpers import CAMBRIDGE, LEEDS, assert_envelope

CARDIFF = "W06000015"


def test_service_areas_say_who_delivers_them(client):
    items = {i["key"]: i for i in client.get("/api/v1/service-areas").get_json()["items"]}
    assert len(items) == 14
    assert "NMD" not in items["adult_social_care"]["delivered_by"]
    assert {"CTY", "NMD", "UA"} <= set(items["waste"]["delivered_by"])


def test_council_search_finds_by_name_and_code(client):
    by_name = client.get("/api/v1/councils?q=cambridge").get_json()["items"]
    assert CAMBRIDGE in [c["gss_code"] for c in by_name]
    by_code = client.get(f"/api/v1/councils?q={LEEDS.lower()}").get_json()["items"]
    assert by_code == [{"gss_code": LEEDS, "name": "Leeds", "council_type": "MD",
                        "region": "Yorkshire and The Humber"}]


def test_council_search_without_query_lists_the_register(client):
    items = client.get("/api/v1/councils").get_json()["items"]
    assert len(items) > 350
    assert not any(c["council_type"] in ("COMB", "SRA") for c in items)


def test_similar_councils_exclude_itself_and_explain(client):
    response = client.get(f"/api/v1/councils/{LEEDS}/similar?limit=5")
    items = response.get_json()["items"]
    assert len(items) == 5 and LEEDS not in [i["gss_code"] for i in items]
    assert all(0 <= i["similarity"] <= 1 and i["reasons"] for i in items)
    assert items == sorted(items, key=lambda i: -i["similarity"])


def test_similar_for_a_service_area_lists_only_councils_that_deliver_it(client):
    items = client.get(
        f"/api/v1/councils/{LEEDS}/similar?service_area=adult_social_care&limit=50"
    ).get_json()["items"]
    types = {c["gss_code"]: c["council_type"] for c in
             client.get("/api/v1/councils").get_json()["items"]}
    assert items and all(types[i["gss_code"]] != "NMD" for i in items)


def test_similar_without_a_service_area_lists_councils_of_the_same_tier_and_nation(client):
    types = {c["gss_code"]: c["council_type"] for c in
             client.get("/api/v1/councils").get_json()["items"]}
    upper = client.get(f"/api/v1/councils/{LEEDS}/similar?limit=50").get_json()["items"]
    assert len(upper) == 50
    assert all(types[i["gss_code"]] in ("MD", "UA", "LBO", "CTY", "CC") for i in upper)
    lower = client.get(f"/api/v1/councils/{CAMBRIDGE}/similar?limit=50").get_json()["items"]
    assert len(lower) == 50 and all(types[i["gss_code"]] == "NMD" for i in lower)
    welsh = client.get(f"/api/v1/councils/{CARDIFF}/similar?limit=30").get_json()["items"]
    assert len(welsh) == 21 and all(types[i["gss_code"]] == "WPA" for i in welsh)


def test_similar_for_an_unknown_council_is_404(client):
    assert_envelope(client.get("/api/v1/councils/E99999999/similar"), 404)


def test_similar_with_an_unknown_service_area_is_422(client):
    assert_envelope(client.get(f"/api/v1/councils/{LEEDS}/similar?service_area=bins"), 422)


def test_health_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["database"] == "ok"


def test_unknown_path_is_404_in_the_envelope(client):
    assert_envelope(client.get("/api/v1/nothing-here"), 404)


def test_openapi_document_is_valid_and_describes_every_endpoint(client):
    spec = client.get("/openapi.json").get_json()
    validate(spec)
    paths = spec["paths"]
    expected = {
        "/api/v1/profiles": {"post"},
        "/api/v1/profiles/{profile_id}": {"get", "put", "delete"},
        "/api/v1/profiles/{profile_id}/token": {"post"},
        "/api/v1/profiles/{profile_id}/matches": {"get"},
        "/api/v1/service-areas": {"get"},
        "/api/v1/councils": {"get"},
        "/api/v1/councils/{gss_code}/similar": {"get"},
        "/healthz": {"get"},
        "/readyz": {"get"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
    post = paths["/api/v1/profiles"]["post"]["responses"]
    assert {"201", "400", "409", "413", "415", "422", "503"} <= set(post)
    assert "ErrorSchema" in spec["components"]["schemas"]


def test_rendered_api_docs_are_served(client):
    response = client.get("/api/docs")
    assert response.status_code == 200 and b"redoc" in response.data.lower()


def test_database_down_is_503_with_retry_after_and_not_ready(app_config):
    from partnermatch.services.api.app import create_app
    from partnermatch.services.embedded import free_port
    from tests.services.api.helpers import council_body

    down = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere"
    client = create_app({**app_config, "DATABASE_URL": down}).test_client()
    response = client.post("/api/v1/profiles", json=council_body())
    assert_envelope(response, 503)
    assert response.headers["Retry-After"] == "5"
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["status"] == "unready"
    assert client.get("/healthz").status_code == 200


def test_council_search_with_control_characters_is_422_not_a_database_error(client):
    assert_envelope(client.get("/api/v1/councils?q=le%00eds"), 422)
