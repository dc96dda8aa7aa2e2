"""Service areas and which types of council deliver them: one dated definition used everywhere.

Which tier runs which service is law, not data, and it changes with reorganisations, so the rules
are kept as dated entries. The facts come from ``shared/reference_data/README.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

SERVICE_AREAS: dict[str, str] = {
    "adult_social_care": "Adult social care",
    "childrens_services": "Children's services",
    "education_send": "Education and SEND",
    "public_health": "Public health",
    "housing": "Housing",
    "highways_transport": "Highways and transport",
    "waste": "Waste",
    "environmental_regulatory": "Environmental and regulatory services",
    "planning": "Planning",
    "economic_development": "Economic development",
    "culture_leisure": "Culture and leisure",
    "revenues_benefits": "Revenues and benefits",
    "customer_digital": "Customer services and digital",
    "corporate_back_office": "Corporate and back office",
}

COUNCIL_TYPES: dict[str, str] = {
    "CTY": "County council",
    "NMD": "District council",
    "UA": "Unitary authority",
    "MD": "Metropolitan borough",
    "LBO": "London borough",
    "CC": "City corporation",
    "SCO": "Scottish council",
    "WPA": "Welsh council",
    "NID": "Northern Ireland district council",
}

_ALL = frozenset(SERVICE_AREAS)
_COUNTY = frozenset({
    "adult_social_care", "childrens_services", "education_send", "public_health",
    "highways_transport", "waste", "environmental_regulatory", "planning",
    "economic_development", "culture_leisure", "customer_digital", "corporate_back_office",
})
_DISTRICT = frozenset({
    "housing", "waste", "planning", "revenues_benefits", "culture_leisure",
    "environmental_regulatory", "economic_development", "customer_digital",
    "corporate_back_office",
})
_NI_DISTRICT = _ALL - {
    "adult_social_care", "childrens_services", "education_send", "highways_transport",
    "housing", "public_health", "revenues_benefits",
}


@dataclass(frozen=True)
class DeliveryRules:
    """Which council types deliver which service areas, from a given date."""

    effective_from: date
    source: str
    areas_by_type: dict[str, frozenset[str]]


DELIVERY_RULES: tuple[DeliveryRules, ...] = (
    DeliveryRules(
        effective_from=date(2023, 4, 1),
        source=(
            "England two-tier split (county: social care, education, highways, waste disposal, "
            "public health, libraries, trading standards, minerals and waste planning; district: "
            "housing, waste collection, planning, council tax and benefits, leisure, environmental "
            "health, licensing); unitaries, metropolitan and London boroughs run all; in Scotland "
            "and Wales public health is an NHS function; NI councils run no social care, "
            "education, roads, housing, public health or benefits."
        ),
        areas_by_type={
            "CTY": _COUNTY,
            "NMD": _DISTRICT,
            "UA": _ALL,
            "MD": _ALL,
            "LBO": _ALL,
            "CC": _ALL,
            "SCO": _ALL - {"public_health"},
            "WPA": _ALL - {"public_health"},
            "NID": _NI_DISTRICT,
        },
    ),
)


def rules_on(day: date | None = None) -> DeliveryRules:
    """Return the delivery rules in force on a day (today by default)."""
    day = day or date.today()
    in_force = [r for r in DELIVERY_RULES if r.effective_from <= day]
    return max(in_force, key=lambda r: r.effective_from) if in_force else DELIVERY_RULES[0]


def areas_delivered_by(council_type: str, day: date | None = None) -> frozenset[str]:
    """Return the service areas a type of council delivers."""
    return rules_on(day).areas_by_type.get(council_type, frozenset())


def delivers(council_type: str, service_area: str, day: date | None = None) -> bool:
    """Say whether a type of council delivers a service area."""
    return service_area in areas_delivered_by(council_type, day)


def types_delivering(service_area: str, day: date | None = None) -> list[str]:
    """Return the council types that deliver a service area, in a stable order."""
    rules = rules_on(day).areas_by_type
    return [t for t in COUNCIL_TYPES if service_area in rules.get(t, ())]


def same_tier(a_type: str, b_type: str, day: date | None = None) -> bool:
    """Say whether two types of council are in the same tier: both run children's services
    (county and unitary councils), or neither does (district councils)."""
    tier_area = "childrens_services"
    return delivers(a_type, tier_area, day) == delivers(b_type, tier_area, day)


NATION_REGIONS = frozenset({"Scotland", "Wales", "Northern Ireland"})  # else England


def nation_of(region: str | None) -> str | None:
    """Return the nation of a council's region (the register's English regions are England)."""
    if not region:
        return None
    return region if region in NATION_REGIONS else "England"


STRUGGLING_MAX = 2
STRONG_MIN = 4
