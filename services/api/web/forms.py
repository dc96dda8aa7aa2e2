"""From a posted form to the JSON the shared schemas load, and from their errors to the page.

The web form is validated by exactly the schemas the API uses: this module only turns form
strings into JSON types (leaving anything odd as it is, for the schema to refuse) and words the
schemas' generic messages the way the GOV.UK Design System asks ("Enter your full name").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from werkzeug.datastructures import MultiDict

from partnermatch.shared.profiles.schemas import MAX_TEXT, REGIONS
from partnermatch.shared.reference.taxonomy import SERVICE_AREAS

COUNCIL_FIELDS = ("ratings", "needs_text", "strengths_text", "seeking", "capacity_to_support",
                  "contact_name", "contact_email", "share_contact")
SUPPLIER_FIELDS = ("name", "ratings", "regions_served", "description", "evidence_text",
                   "company_number", "contact_name", "contact_email", "share_contact")
TEXT_LABELS = {
    "needs_text": "What you struggle with", "strengths_text": "What you do well",
    "description": "Your description", "evidence_text": "Your evidence",
}
# Said when a field is missing, empty or of the wrong type; other schema messages are shown as
# they are, since they already say what to do.
FRIENDLY = {
    "gss_code": "Select your council from the list",
    "contact_name": "Enter your full name",
    "contact_email": "Enter your email address",
    "ratings": "Rate at least one service area from 1 to 5",
    "seeking": "Select whether you are looking for councils, suppliers or both",
    "capacity_to_support": "Select whether you can support other councils",
    "share_contact": "Select whether to share your contact details",
    "name": "Enter the name of your organisation",
    "regions_served": "Select regions from the list",
}
_GENERIC = ("Missing data for required field", "Field may not be null", "Must not be blank",
            "Not a valid", "Shorter than minimum length", "Must be one of", "Must be equal to",
            "Must be greater than or equal", "Unknown field", "Length must be")


def rating_value(raw: str) -> Any:
    """Return a rating as an int when it is a digit, else as posted (for the schema to refuse)."""
    return int(raw) if len(raw) == 1 and raw.isdigit() else raw


def details_answers(kind: str, form: MultiDict) -> dict[str, Any]:
    """Read the details page of a council or supplier form into JSON-typed answers."""
    answers: dict[str, Any] = {
        "ratings": {area: rating_value(form[f"ratings-{area}"])
                    for area in SERVICE_AREAS if form.get(f"ratings-{area}")},
        "contact_name": form.get("contact_name", ""),
        "contact_email": form.get("contact_email", "").strip(),
        "share_contact": _checkbox(form.get("share_contact")),
    }
    if kind == "council":
        answers.update(
            needs_text=form.get("needs_text", ""),
            strengths_text=form.get("strengths_text", ""),
            seeking=form.getlist("seeking"),
            capacity_to_support=form.get("capacity_to_support") or None,
        )
    else:
        answers.update(
            name=form.get("name", ""),
            regions_served=form.getlist("regions_served"),
            description=form.get("description", ""),
            evidence_text=form.get("evidence_text", ""),
            company_number=form.get("company_number", "").strip().upper() or None,
        )
    return answers


def _checkbox(value: str | None) -> Any:
    if value is None:
        return False
    return True if value == "yes" else value


def field_errors(messages: Mapping[str, list[str]]) -> dict[str, str]:
    """Return one message per field path, in the Design System's words for generic ones."""
    return {path: _friendly(path, texts[0]) for path, texts in messages.items() if texts}


def _friendly(path: str, text: str) -> str:
    field = path.split(".", 1)[0]
    if text.startswith("Longer than maximum length"):
        label = TEXT_LABELS.get(field, "This answer")
        limit = MAX_TEXT if field in TEXT_LABELS else 200
        return f"{label} must be {limit:,} characters or fewer"
    if not text.startswith(_GENERIC):
        return text
    if path.startswith("ratings."):
        area = SERVICE_AREAS.get(path.split(".", 1)[1], "this service area")
        return f"Rate {area.lower()} from 1 to 5, or choose Not rated"
    return FRIENDLY.get(field, text)


def error_summary(errors: Mapping[str, str], order: Iterable[str],
                  areas: Iterable[str]) -> list[dict[str, str]]:
    """Return the error summary's items, in page order, each linking to its field."""
    areas = list(areas)
    rank = {name: i for i, name in enumerate(order)}

    def position(path: str) -> tuple[int, int]:
        field, _, area = path.partition(".")
        return rank.get(field, len(rank)), areas.index(area) if area in areas else -1

    return [{"text": errors[path], "href": "#" + anchor(path, areas)}
            for path in sorted(errors, key=position)]


def anchor(path: str, areas: list[str]) -> str:
    """Return the id of the element an error about a field path should move focus to."""
    if path == "ratings":
        return f"ratings-{areas[0]}" if areas else "main-content"
    if path.startswith("ratings."):
        return "ratings-" + path.split(".", 1)[1]
    if path.split(".", 1)[0] in (*COUNCIL_FIELDS, *SUPPLIER_FIELDS, "gss_code"):
        return path.split(".", 1)[0]
    return "main-content"


REGION_CHOICES = REGIONS
