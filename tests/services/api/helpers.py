"""Request bodies and small helpers for the API tests."""

from __future__ import annotations

from typing import Any

LEEDS = "E08000035"  # metropolitan borough: runs every service
CAMBRIDGE = "E07000008"  # district council: no social care


def council_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "council",
        "gss_code": LEEDS,
        "contact_name": "Sam Officer",
        "contact_email": "sam.officer@leeds.gov.uk",
        "ratings": {"adult_social_care": 2, "childrens_services": 1, "waste": 5},
        "needs_text": "Care leavers in suitable accommodation; recruiting social workers.",
        "strengths_text": "Recycling rates and kerbside collection.",
        "seeking": ["council", "supplier"],
        "capacity_to_support": "limited",
        "share_contact": True,
    }
    body.update(overrides)
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def create(client, **overrides: Any) -> dict[str, Any]:
    response = client.post("/api/v1/profiles", json=council_body(**overrides))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def assert_envelope(response, code: int) -> dict[str, Any]:
    assert response.status_code == code, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"code", "status", "message", "errors"}
    assert body["code"] == code and isinstance(body["errors"], dict) and body["message"]
    return body
