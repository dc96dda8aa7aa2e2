"""The plain-English reasons given for each recommended partner, each checkable by a person."""

from __future__ import annotations

from collections.abc import Sequence

from partnermatch.shared.reference.taxonomy import SERVICE_AREAS

SELF_RATED = "self"
PUBLIC_DATA = "public_data"
FICTIONAL = "fictional"
RATING_SOURCES = (SELF_RATED, PUBLIC_DATA, FICTIONAL)
# A council profile built from public data: the council has not joined and claimed nothing.
NOT_JOINED = "Not on partnermatch yet: recommended from public data"


def rating_reason(source: str, rating: int, area: str) -> str:
    """Say how strong the partner is in an area, and who says so."""
    name = SERVICE_AREAS[area]
    if source == PUBLIC_DATA:
        return f"Rated {rating} out of 5 for {name} from public data"
    if source == FICTIONAL:
        return f"Demo rating {rating} out of 5 for {name} (fictional supplier)"
    return f"Rates itself {rating} out of 5 for {name}"


def capacity_reason(capacity: str) -> str | None:
    """Say what the partner said it can offer; nothing if it never said (public data)."""
    if capacity == "limited":
        return "Has limited capacity to support other councils"
    if capacity == "available":
        return "Has capacity to support other councils"
    return None


def reciprocity_reason(areas: Sequence[str]) -> str | None:
    """Say what the requester could help the partner with in return, if anything."""
    if not areas:
        return None
    names = [SERVICE_AREAS[a][0].lower() + SERVICE_AREAS[a][1:] for a in areas]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"You could help them with {listed}"


def region_reasons(regions_served: Sequence[str], region: str | None) -> list[str]:
    """Say where a supplier works, when that is where the requester is."""
    if not regions_served:
        return ["Works in all regions"]
    if region in regions_served:
        return [f"Works in {region}"]
    return []
