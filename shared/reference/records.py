"""Plain records passed between the reference data, the matching model and the adapters."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class OfstedJudgement:
    """One Ofsted inspection of a council's children's services."""

    overall: str | None  # outstanding | good | requires improvement | inadequate | None
    published: str | None  # ISO date
    leaders: str | None = None
    help_and_protection: str | None = None
    in_care: str | None = None
    care_leavers: str | None = None


@dataclass(frozen=True)
class Place:
    """What a council's circumstances are, from public data (no outcomes)."""

    gss_code: str
    name: str
    council_type: str
    region: str
    population: float | None = None
    area_km2: float | None = None
    density: float | None = None
    imd_score: float | None = None
    imd_quintile: int | None = None  # 1 = most deprived fifth
    imd_high_share: float | None = None  # share of people in the most deprived areas (0..1)
    imd_low_share: float | None = None  # share of people in the least deprived areas (0..1)
    rurality: str | None = None  # mySociety rural-urban label, e.g. "Urban", "Sparse and rural"
    lat: float | None = None
    lon: float | None = None
    need_indicators: dict[str, float] = field(default_factory=dict)  # children's need (LAIT)
    # Census 2021 (England and Wales), aggregated to the council: shares in % and counts
    census: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class CouncilRecord:
    """One council from the register, joined with the public indicators."""

    place: Place
    code: str  # mySociety three-letter code
    official_name: str
    nation: str
    former_gss_codes: tuple[str, ...] = ()
    alias_gss_codes: tuple[str, ...] = ()  # newer codes used by other sources (Barnsley, Sheffield)
    dfe_la_number: int | None = None
    ofsted_latest: OfstedJudgement | None = None
    ofsted_history: tuple[OfstedJudgement, ...] = ()  # newest first
    outcome_indicators: dict[str, float] = field(default_factory=dict)  # polarity-adjusted z
    web_domains: tuple[str, ...] = ()  # the council's own web domains, e.g. ("leeds.gov.uk",)


@dataclass(frozen=True)
class Candidate:
    """A profile that may be recommended: a council or an approved supplier."""

    profile_id: str
    kind: str  # council | supplier
    name: str
    ratings: dict[str, int]
    strengths_text: str = ""
    needs_text: str = ""
    capacity_to_support: str = "available"  # none | limited | available | unknown (never said)
    gss_code: str | None = None
    council_type: str | None = None
    regions_served: tuple[str, ...] = ()
    # may be recommended at all: address confirmed (or a demo profile from public data), not
    # rejected by a person, and (suppliers) approved by operations staff
    approved: bool = True
    # checkable facts per service area: {"childrens_services": ("Rated outstanding by Ofsted",)}
    evidence: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # who set the ratings: "self" (the profile's owner), "public_data" (demo councils, rated from
    # Ofsted and outcome data) or "fictional" (demo suppliers); the reasons say which
    rating_source: str = "self"
    # areas where the partner recently improved from weak to strong (e.g. Ofsted inadequate to
    # good at its last inspection): it has made the journey the requester is making
    improved: tuple[str, ...] = ()


@dataclass(frozen=True)
class MatchRequest:
    """A profile asking for partners."""

    profile_id: str
    kind: str
    ratings: dict[str, int]
    needs_text: str = ""
    seeking: tuple[str, ...] = ("council", "supplier")
    gss_code: str | None = None
    council_type: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class Partner:
    """One recommended partner for one need."""

    profile_id: str
    name: str
    kind: str
    gss_code: str | None
    score: float  # 0..1
    strength_rating: int
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class NeedMatches:
    """The partners recommended for one service area the requester struggles with."""

    service_area: str
    rating: int
    partners: tuple[Partner, ...]
