"""Validating a form's answers with the API's schemas, and showing them back as a summary list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from partnermatch.services.api.web.common import settings
from partnermatch.services.api.web.forms import REGION_CHOICES, field_errors
from partnermatch.shared.db.models import Council
from partnermatch.shared.profiles import store as profiles
from partnermatch.shared.profiles.schemas import SCHEMAS, flatten_errors
from partnermatch.shared.reference.taxonomy import COUNCIL_TYPES, SERVICE_AREAS, areas_delivered_by

RATING_WORDS = {1: "struggling", 2: "struggling", 3: "fair", 4: "strong", 5: "strong"}
CAPACITY = {"available": "Yes, we have capacity to help others",
            "limited": "A little: we could help now and then",
            "none": "Not at the moment"}
SEEKING = {"council": "Councils", "supplier": "Suppliers"}


def validate(db: Session, document: dict[str, Any]) -> tuple[dict[str, Any] | None, dict]:
    """Load a profile document as the API does; return (fields, {}) or (None, errors by path)."""
    try:
        fields = SCHEMAS[document["kind"]]().load(document)
        profiles.check_profile(db, fields, settings().ALLOWED_EMAIL_DOMAINS)
    except ValidationError as error:
        return None, form_errors(error)
    return fields, {}


def form_errors(error: ValidationError) -> dict[str, str]:
    """Return a ValidationError's messages as the form shows them: one per field path."""
    return field_errors(flatten_errors(error.messages))


def councils(db: Session) -> list[Council]:
    """Return the register, by name."""
    return list(db.scalars(select(Council).order_by(Council.name)))


def offered_areas(council: Council | None) -> list[str]:
    """Return the service areas a council may rate (all of them for a supplier)."""
    if council is None:
        return list(SERVICE_AREAS)
    delivered = areas_delivered_by(council.council_type)
    return [area for area in SERVICE_AREAS if area in delivered]


def council_label(council: Council) -> str:
    """Name a council with its type, e.g. "Leeds (Metropolitan borough)"."""
    return f"{council.name} ({COUNCIL_TYPES.get(council.council_type, 'Council')})"


def summary_rows(answers: dict[str, Any], council: Council | None,
                 change: Callable[[str], str]) -> list[dict[str, Any]]:
    """Return summary-list rows for a profile's answers; `change(field)` gives each Change link."""
    rows = []
    if council is not None:
        rows.append(_row("Council", council_label(council), change("gss_code"), "council"))
    else:
        rows.append(_row("Organisation", answers.get("name", ""), change("name"), "name"))
    for area, rating in answers.get("ratings", {}).items():
        rows.append(_row(SERVICE_AREAS.get(area, area), f"{rating} ({RATING_WORDS.get(rating)})",
                         change(f"ratings-{area}"), f"rating for {SERVICE_AREAS.get(area, area)}"))
    for field, label in _text_fields(council is not None):
        rows.append(_row(label, answers.get(field) or "Not given", change(field), label))
    rows += extra_rows(answers, council is not None, change)
    rows.append(_row("Your name", answers.get("contact_name", ""), change("contact_name"),
                     "your name"))
    rows.append(_row("Email address", answers.get("contact_email", ""), change("contact_email"),
                     "email address"))
    rows.append(_row("Share your contact details", "Yes" if answers.get("share_contact") else "No",
                     change("share_contact"), "whether to share your contact details"))
    return rows


def _text_fields(council: bool) -> list[tuple[str, str]]:
    if council:
        return [("needs_text", "What you struggle with"), ("strengths_text", "What you do well")]
    return [("description", "Description"), ("evidence_text", "Evidence")]


def extra_rows(answers: dict[str, Any], council: bool,
               change: Callable[[str], str]) -> list[dict[str, Any]]:
    """Return the rows for the choices that are not free text."""
    if council:
        seeking = " and ".join(SEEKING[k] for k in answers.get("seeking", []) if k in SEEKING)
        capacity = CAPACITY.get(answers.get("capacity_to_support") or "none")
        return [_row("Looking for", seeking, change("seeking"), "what you are looking for"),
                _row("Can you support others", capacity, change("capacity_to_support"),
                     "whether you can support others")]
    regions = [r for r in answers.get("regions_served", []) if r in REGION_CHOICES]
    return [_row("Regions served", ", ".join(regions) or "None given", change("regions_served"),
                 "regions served"),
            _row("Company number", answers.get("company_number") or "Not given",
                 change("company_number"), "company number")]


def _row(key: str, value: str, href: str | None, hidden: str) -> dict[str, Any]:
    row: dict[str, Any] = {"key": {"text": key}, "value": {"text": value}}
    if href:
        row["actions"] = {"items": [{"href": href, "text": "Change",
                                     "visuallyHiddenText": hidden}]}
    return row
