"""Security headers, the Content Security Policy, HTTPS, trusted hosts and forwarded headers."""

from __future__ import annotations

import re

import pytest
from flask import request

PUBLIC = "https://partnermatch.example.gov.uk"


def csp(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] for part in policy.split("; ")}


def test_every_page_gets_a_fresh_nonce_that_its_inline_script_carries(client):
    nonces = []
    for _ in range(2):
        response = client.get("/")
        policy = csp(response)
        nonce = re.search(r"'nonce-([^']+)'", policy["script-src"]).group(1)
        inline = re.findall(r"<script nonce=\"([^\"]+)\">", response.get_data(as_text=True))
        assert inline == [nonce]
        nonces.append(nonce)
    assert nonces[0] != nonces[1]


def test_the_policy_allows_only_this_sites_scripts_styles_and_forms(client):
    policy = csp(client.get("/council/new"))
    assert policy["default-src"] == "'self'" and policy["object-src"] == "'none'"
    assert policy["script-src"].startswith("'self' 'nonce-")
    assert policy["style-src"].startswith("'self' 'nonce-")
    assert "unsafe-inline" not in policy["script-src"] + policy["style-src"]
    assert policy["form-action"] == "'self'" and policy["frame-ancestors"] == "'none'"
    assert policy["base-uri"] == "'none'"


def test_page_scripts_and_stylesheets_come_from_the_apps_own_static_folder(client):
    page = client.get("/council/new").get_data(as_text=True)
    sources = re.findall(r'<script[^>]* src="([^"]+)"', page)
    sheets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page)
    assert sources and sheets
    assert all(url.startswith("/static/") for url in sources + sheets)
    assert not re.search(r"\son[a-z]+=", page)  # no inline event handlers
    assert ' style="' not in page


@pytest.mark.parametrize("path", ["/", "/api/v1/service-areas", "/healthz", "/ops/login",
                                  "/no-such-page"])
def test_every_response_carries_the_security_headers(client, path):
    headers = client.get(path).headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "Content-Security-Policy" in headers
    assert "Strict-Transport-Security" not in headers  # FORCE_HTTPS is off


def test_the_ops_pages_have_no_inline_styles_only_the_sites_own_stylesheets(client):
    response = client.get("/ops/login")
    html = response.get_data(as_text=True)
    assert "<style" not in html and " style=" not in html
    sheets = re.findall(r'<link[^>]* rel="stylesheet"[^>]* href="([^"]+)"', html)
    assert sheets and all(url.startswith("/static/") for url in sheets), sheets


def test_the_api_docs_have_the_same_policy_as_every_page_and_load_only_their_own_files(client):
    response = client.get("/api/docs")
    nonce = re.search(r"'nonce-([^']+)'", csp(response)["script-src"]).group(1)
    docs, page = csp(response), csp(client.get("/council/new"))
    assert {name: value.replace(nonce, "") for name, value in docs.items()} == {
        name: re.sub(r"'nonce-[^']+'", "'nonce-'", value) for name, value in page.items()}
    html = response.get_data(as_text=True)
    sources = re.findall(r'<(?:script|link)[^>]* (?:src|href)="([^"]+)"', html)
    assert "/static/vendor/redoc/redoc.standalone.js" in sources
    assert all(url.startswith("/static/") for url in sources), sources
    assert "https://" not in html and "http://" not in html


def test_force_https_redirects_plain_http_and_sends_hsts(make_app):
    client = make_app(FORCE_HTTPS="true").test_client()
    response = client.get("/council/new?x=1")
    assert response.status_code in (301, 302)
    assert response.headers["Location"] == "https://localhost/council/new?x=1"
    secure = client.get("/", base_url="https://localhost")
    assert secure.status_code == 200
    max_age = re.match(r"max-age=(\d+)", secure.headers["Strict-Transport-Security"]).group(1)
    assert int(max_age) >= 365 * 24 * 3600


def test_force_https_leaves_the_internal_probes_on_plain_http(make_app):
    client = make_app(FORCE_HTTPS="true").test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_the_session_cookie_is_secure_under_force_https(make_app):
    client = make_app(FORCE_HTTPS="true").test_client()
    response = client.get("/council/new", base_url="https://localhost")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_in_production_only_the_public_host_and_loopback_are_served(make_app):
    app = make_app(PARTNERMATCH_ENV="production", PUBLIC_BASE_URL=PUBLIC)
    client = app.test_client()
    assert client.get("/", headers={"Host": "partnermatch.example.gov.uk"}).status_code == 200
    assert client.get("/readyz", headers={"Host": "127.0.0.1:8000"}).status_code == 200
    for host in ("evil.example", "partnermatch.example.gov.uk.evil.example", "evil.example:443"):
        response = client.get("/", headers={"Host": host})
        assert response.status_code == 400, host
    refused = client.post("/api/v1/profiles", json={}, headers={"Host": "evil.example"})
    assert refused.status_code == 400 and refused.get_json()["code"] == 400


def test_allowed_hosts_can_be_set_explicitly(make_app):
    client = make_app(ALLOWED_HOSTS="a.example,.b.example").test_client()
    assert client.get("/healthz", headers={"Host": "a.example"}).status_code == 200
    assert client.get("/healthz", headers={"Host": "www.b.example"}).status_code == 200
    assert client.get("/healthz", headers={"Host": "c.example"}).status_code == 400


def test_in_development_any_host_is_served(client):
    assert client.get("/healthz", headers={"Host": "anything.example"}).status_code == 200


def _seen_by_app(app, headers: dict[str, str]) -> tuple[str, str, str]:
    seen = {}

    @app.get("/_whoami")
    def whoami():
        seen.update(addr=request.remote_addr, scheme=request.scheme, host=request.host)
        return "ok"

    app.test_client().get("/_whoami", headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    return seen["addr"], seen["scheme"], seen["host"]


FORWARDED = {"X-Forwarded-For": "6.6.6.6, 203.0.113.7", "X-Forwarded-Proto": "https",
             "X-Forwarded-Host": "evil.example"}


def test_forwarded_headers_are_ignored_without_a_trusted_proxy(make_app):
    assert _seen_by_app(make_app(), FORWARDED) == ("10.0.0.9", "http", "localhost")


def test_with_one_trusted_proxy_only_the_address_it_added_is_believed(make_app):
    app = make_app(TRUSTED_PROXY_COUNT="1")
    assert _seen_by_app(app, FORWARDED) == ("203.0.113.7", "https", "evil.example")


def test_with_two_trusted_proxies_the_second_last_address_is_the_client(make_app):
    app = make_app(TRUSTED_PROXY_COUNT="2")
    assert _seen_by_app(app, {"X-Forwarded-For": "6.6.6.6, 198.51.100.1, 203.0.113.7"})[0] \
        == "198.51.100.1"


def test_redirects_never_leave_the_site_whatever_next_says(client, app):
    """Open redirects: no page follows a next= parameter or the Host header off the site."""
    paths = [rule.rule for rule in app.url_map.iter_rules()
             if "GET" in rule.methods and not rule.arguments]
    assert len(paths) > 15
    for path in paths:
        for trick in ("//evil.example", "https://evil.example/", "/\\evil.example"):
            response = client.get(path, query_string={"next": trick},
                                  headers={"Host": "evil.example", "Accept": "text/html"})
            location = response.headers.get("Location")
            if location is not None:
                assert location.startswith("/") and not location.startswith(("//", "/\\")), \
                    (path, location)
