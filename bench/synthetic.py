"""Synthetic candidate profiles drawn to resemble real ones, for the scale benchmark.

Councils are the real councils of the register (a council may hold many profiles: one per
service or officer), each profile rating 1 to 6 of the areas its tier delivers, with texts built
from the lines the demo seeding writes from public data. One profile in twenty is a supplier
rating 1 to 3 areas 4 or 5 and working in some regions. Everything is drawn from a seeded
generator, so a size always gives the same profiles.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from partnermatch.shared.profiles.demo import SUPPLIERS, TEXT_MEASURES
from partnermatch.shared.reference.records import Candidate, MatchRequest, Place
from partnermatch.shared.reference.taxonomy import SERVICE_AREAS, areas_delivered_by

RATINGS = np.array([1, 2, 3, 4, 5])
RATING_SHARES = np.array([0.10, 0.20, 0.30, 0.25, 0.15])
CAPACITIES = ("available", "limited", "none")
CAPACITY_SHARES = (0.5, 0.35, 0.15)
SUPPLIER_SHARE = 0.05
REGIONS = ("North East", "North West", "Yorkshire and The Humber", "East Midlands",
           "West Midlands", "East of England", "London", "South East", "South West", "Scotland",
           "Wales", "Northern Ireland")
_GRADES = ("outstanding", "good", "requires improvement", "inadequate")
_SUBJECTS = ("impact of leaders", "help and protection of children",
             "experiences of children in care", "experiences of care leavers")


def text_lines() -> tuple[str, ...]:
    """Return lines like those the demo seeding writes, plus the demo suppliers' evidence."""
    lines = [f"{label}: {where} quartile nationally" for label in TEXT_MEASURES.values()
             for where in ("top", "bottom", "lowest", "highest")]
    lines += [f"Ofsted ({year}): {subject} judged {grade}" for year in (2019, 2022, 2024)
              for subject in _SUBJECTS for grade in _GRADES]
    lines += [s.evidence for s in SUPPLIERS] + [s.description for s in SUPPLIERS]
    return tuple(lines)


@dataclass
class Profiles:
    """A seeded stream of synthetic profiles over the real councils' places."""

    places: Sequence[Place]
    seed: int = 0

    def __post_init__(self) -> None:
        self._lines = np.array(text_lines())
        self._areas = {p.council_type: sorted(areas_delivered_by(p.council_type))
                       for p in self.places}

    def candidates(self, count: int, place_rows: np.ndarray | None = None,
                   prefix: str = "") -> Iterator[Candidate]:
        """Yield ``count`` profiles; ``place_rows[i]`` gets the place of profile i (-1: none)."""
        rng = np.random.default_rng(self.seed)
        for i in range(count):
            if rng.random() < SUPPLIER_SHARE:
                if place_rows is not None:
                    place_rows[i] = -1
                yield self._supplier(rng, f"{prefix}{i}")
            else:
                row = int(rng.integers(len(self.places)))
                if place_rows is not None:
                    place_rows[i] = row
                yield self._council(rng, self.places[row])

    def _id(self, rng: np.random.Generator) -> str:
        return str(uuid.UUID(int=int(rng.integers(2**63)) << 64 | int(rng.integers(2**63))))

    def _text(self, rng: np.random.Generator, low: int, high: int) -> str:
        return "\n".join(rng.choice(self._lines, int(rng.integers(low, high + 1))))

    def _council(self, rng: np.random.Generator, place: Place) -> Candidate:
        areas = self._areas[place.council_type]
        rated = rng.choice(areas, min(len(areas), int(rng.integers(1, 7))), replace=False)
        return Candidate(
            profile_id=self._id(rng), kind="council", name=place.name,
            ratings={str(a): int(r) for a, r in zip(
                rated, rng.choice(RATINGS, len(rated), p=RATING_SHARES), strict=True)},
            strengths_text=self._text(rng, 1, 4), needs_text=self._text(rng, 1, 3),
            capacity_to_support=str(rng.choice(CAPACITIES, p=CAPACITY_SHARES)),
            gss_code=place.gss_code, council_type=place.council_type,
            improved=("childrens_services",) if rng.random() < 0.05 else ())

    def _supplier(self, rng: np.random.Generator, number: str) -> Candidate:
        areas = rng.choice(list(SERVICE_AREAS), int(rng.integers(1, 4)), replace=False)
        regions = () if rng.random() < 0.3 else tuple(
            rng.choice(REGIONS, int(rng.integers(1, 5)), replace=False).tolist())
        return Candidate(
            profile_id=self._id(rng), kind="supplier", name=f"Synthetic supplier {number}",
            ratings={str(a): int(rng.integers(4, 6)) for a in areas},
            strengths_text=self._text(rng, 1, 4), regions_served=regions,
            capacity_to_support=str(rng.choice(CAPACITIES[:2])), approved=rng.random() < 0.9)

    def requests(self, count: int, seed: int = 99) -> list[MatchRequest]:
        """Return council requests struggling in 1 to 3 areas, strong in some others."""
        rng = np.random.default_rng(seed)
        found = []
        for i in range(count):
            place = self.places[int(rng.integers(len(self.places)))]
            areas = rng.choice(self._areas[place.council_type], 5, replace=False)
            weak = int(rng.integers(1, 4))
            ratings = {str(a): int(rng.integers(1, 3)) for a in areas[:weak]}
            ratings |= {str(a): int(rng.integers(3, 6)) for a in areas[weak:]}
            found.append(MatchRequest(
                profile_id=f"request-{i}", kind="council", ratings=ratings,
                needs_text=self._text(rng, 1, 3), gss_code=place.gss_code,
                council_type=place.council_type, region=place.region))
        return found
