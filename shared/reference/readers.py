"""Read the public reference data about UK councils (shared/reference_data/) into records."""

from __future__ import annotations

import csv
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from statistics import median
from urllib.parse import urlsplit

from partnermatch.shared.reference.census import (
    CENSUS,
    COUNT_TABLES,
    aggregate,
    aggregate_counts,
    district_councils,
)
from partnermatch.shared.reference.records import CouncilRecord, OfstedJudgement, Place
from partnermatch.shared.reference.taxonomy import COUNCIL_TYPES

REGISTER = "uk_local_authority_names_and_codes/uk_local_authorities_current.csv"
NAMES = "uk_local_authority_names_and_codes/lookup_name_to_registry.csv"
IMD = "composite_uk_imd/la_imd.csv"
RURALITY = "local-authority-similarity/ruc_distance/la_labels.csv"
LAIT = "local-authority-interactive-tool/DERIVED_lait_latest_period_by_la.csv"
ASC = "oflog-automated-text/ASC_data.csv"
OFSTED_LOOKUP = "ofsted-ilacs-scrape-tool/Provider_data_lookup.csv"
OFSTED_HISTORY = "ofsted-ilacs-scrape-tool/ofsted_csc_ilacs_history.csv"
OFSTED_OVERVIEW = "ofsted-ilacs-scrape-tool/ofsted_csc_ilacs_overview.csv"
HOMEPAGES = "local-links-manager/local-authorities.csv"

# Second-level names under which a registrable domain has three labels, not two (the few the
# councils' homepages and Ofsted's domains use); government suffixes keep the body's name too.
GOVERNMENT_DOMAINS = (".gov.uk", ".gov.scot", ".gov.wales", ".llyw.cymru")
THREE_LABEL_SUFFIXES = ("gov.uk", "gov.scot", "gov.wales", "llyw.cymru", "org.uk", "co.uk")

GRADES = ("outstanding", "good", "requires improvement", "inadequate")

# rank_order in ASC_data.csv is desc/DESC for ASC1-5 and the text "None" for ASC6 and ASC7 (it is
# blank only where the value is missing). ASC6, "requests resulting in a service", is left out: a
# high share may mean good access or a narrow front door.
ASC_POLARITY: dict[str, int] = {
    "ASC1": 1,  # carer-reported quality of life
    "ASC2": 1,  # social care-related quality of life
    "ASC3": 1,  # ease of finding information about services: service users
    "ASC4": 1,  # ease of finding information about support: carers
    "ASC5": 1,  # outcome of short-term services: no or lower-level support afterwards
    "ASC7": -1,  # workforce turnover rate: lower is better
}

# Children's need (raw values, latest period), present for 150+ of the 153 English LAs. Only the
# circumstances (child poverty and free school meals,
# ``partnermatch.shared.matching.context.CHILD_POVERTY``) describe the place; the rates of children
# in need, on plans and looked after, and SEN, are the service's own activity: they are kept on the
# place for the record but the context model does not use them.
LAIT_NEED_MEASURES: dict[str, str] = {
    "CIN": "Children in need, rate per 10,000 children",
    "CPP_rate": "Children on a child protection plan, rate per 10,000 children",
    "LAC": "Children looked after, rate per 10,000 children",
    "ChildPov": "Children in low income families, %",
    "PriFSM": "Primary pupils eligible for free school meals, %",
    "SecFSM": "Secondary pupils eligible for free school meals, %",
    "SEN_TotStat": "Pupils with an EHC plan or statement, %",
    "SEN_TotSENSuP": "Pupils on SEN support, %",
}
# Outcomes are LAIT measures with a High/Low polarity held by at least LAIT_MIN_LAS real LAs,
# except these, which carry a polarity but describe circumstances or demand, not performance.
LAIT_NOT_OUTCOMES = frozenset(
    {*LAIT_NEED_MEASURES, "Ever6_FSM_Prim", "Ever6_FSM_Sec", "CINFSM", "CPP_Abuse_Rate"}
)
LAIT_POLARITY = {"High": 1, "Low": -1}
LAIT_MIN_LAS = 120

# A council inherits (as a former code) the GSS code of an abolished county or unitary that it
# alone replaced, if that was its only such predecessor: North Yorkshire, Somerset, Dorset and
# Buckinghamshire, whose last adult social care returns carry the old code. Splits (Cumbria,
# Northamptonshire) and mergers of two unitaries (Bournemouth and Poole) inherit nothing.
UPPER_TIER_PREDECESSOR_TYPES = frozenset({"CTY", "UA"})


@dataclass(frozen=True)
class _Joined:
    """The sources joined onto the register, each keyed as the source is."""

    dfe_numbers: dict[str, int]  # council code -> DfE LA number
    urns: dict[str, str]  # council code -> Ofsted URN
    lait: dict[int, dict[str, tuple[float, str]]]  # DfE number -> measure -> (value, polarity)
    lait_outcomes: dict[int, dict[str, float]]
    asc: dict[str, dict[str, float]]  # council code -> ASC scores
    history: dict[str, tuple[OfstedJudgement, ...]]  # URN -> judgements, newest first
    overview: dict[str, OfstedJudgement]  # URN -> latest judgement


def read_councils(data_dir: str | Path) -> list[CouncilRecord]:
    """Read every current UK council with its place, Ofsted judgements and indicators."""
    data_dir = Path(data_dir)
    register = _rows(data_dir, REGISTER)
    records = _base_records(data_dir, register)
    names = _names_index(data_dir, records)
    links = _provider_links(data_dir, records, names, _register_codes(register))
    records = [replace(r, alias_gss_codes=_alias(r, links.get(r.code))) for r in records]
    joined = _join(data_dir, records, links)
    domains = _web_domains(data_dir, records, links)
    return [replace(_finish(record, joined), web_domains=domains.get(record.code, ()))
            for record in records]


def read_alias_map(records: Iterable[CouncilRecord]) -> dict[str, str]:
    """Map every accepted GSS code (current, former, alias) to the council's current code."""
    return {code: r.place.gss_code for r in records for code in _accepted_codes(r)}


def _accepted_codes(record: CouncilRecord) -> tuple[str, ...]:
    """Return the GSS codes that mean this council, the current one last."""
    return (*record.former_gss_codes, *record.alias_gss_codes, record.place.gss_code)


def _rows(data_dir: Path, name: str) -> list[dict[str, str]]:
    """Read one CSV file of the reference data, naming the setting to fix if it is missing."""
    path = data_dir / name
    if not path.is_file():
        raise FileNotFoundError(
            f"Reference data file {path} not found: REFERENCE_DATA_DIR must name a folder laid "
            "out like the shipped copy (shared/reference_data), or be unset to use that copy"
        )
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _number(text: str | None) -> float | None:
    """Parse a number, treating blanks, 'NA' and NaN as missing."""
    try:
        value = float(text or "")
    except ValueError:
        return None
    return None if math.isnan(value) else value


def _codes(text: str) -> tuple[str, ...]:
    """Split a comma-separated list of codes."""
    return tuple(code.strip() for code in text.split(",") if code.strip())


def _name_key(name: str) -> str:
    """Normalise a council name for matching: lower case, '&' as 'and', no punctuation."""
    words = re.sub(r"[^a-z0-9 ]", " ", name.lower().replace("&", " and "))
    return " ".join(words.split())


def _is_current_council(row: dict[str, str]) -> bool:
    """Say whether a register row is a current council (not a combined or strategic authority)."""
    return row["current-authority"] == "True" and row["local-authority-type"] in COUNCIL_TYPES


def _register_codes(register: list[dict[str, str]]) -> set[str]:
    """Return every GSS code the register knows, current or abolished."""
    return {gss for row in register for gss in (row["gss-code"], *_codes(row["former-gss-codes"]))}


def _predecessors(register: list[dict[str, str]]) -> dict[str, tuple[str, ...]]:
    """Map a council code to the code of the sole upper-tier body it alone replaced."""
    found: dict[str, list[str]] = defaultdict(list)
    for row in register:
        successors = _codes(row["replaced-by"])
        if row["local-authority-type"] in UPPER_TIER_PREDECESSOR_TYPES and len(successors) == 1:
            found[successors[0]].append(row["gss-code"])
    return {code: tuple(gss) for code, gss in found.items() if len(gss) == 1}


def _base_records(data_dir: Path, register: list[dict[str, str]]) -> list[CouncilRecord]:
    """Build a record per current council from the register, deprivation and rurality."""
    imd = {row["local-authority-code"]: row for row in _rows(data_dir, IMD)}
    rurality = {row["local-authority-code"]: row["label"] for row in _rows(data_dir, RURALITY)}
    predecessors, centres = _predecessors(register), _county_centres(register)
    census = _census(data_dir, register)
    return [
        CouncilRecord(
            place=replace(
                _place(row, imd.get(row["local-authority-code"], {}), rurality, centres),
                census=census.get(row["local-authority-code"], {})),
            code=row["local-authority-code"],
            official_name=row["official-name"],
            nation=row["nation"],
            former_gss_codes=_codes(row["former-gss-codes"])
            + predecessors.get(row["local-authority-code"], ()),
        )
        for row in register
        if _is_current_council(row)
    ]


def _census(data_dir: Path, register: list[dict[str, str]]) -> dict[str, dict[str, float]]:
    """Return each council's Census 2021 indicators, aggregated from the 2021 districts."""
    current = {row["local-authority-code"]: _is_current_council(row) for row in register}
    owners = district_councils(register, current)
    found = aggregate(_rows(data_dir, CENSUS), owners)
    for table in COUNT_TABLES:
        for council, shares in aggregate_counts(table, _rows(data_dir, table.path), owners).items():
            found.setdefault(council, {}).update(shares)
    return found


def _county_centres(register: list[dict[str, str]]) -> dict[str, tuple[float, float]]:
    """Place each county at its districts' population-weighted centre.

    The register's own points for several counties lie outside them (Lancashire's is in
    Northamptonshire), while its district points are sound.
    """
    points: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for row in register:
        people, lat, lon = (_number(row[key]) for key in ("pop-2020", "lat", "long"))
        if _is_current_council(row) and row["county-la"] and None not in (people, lat, lon):
            points[row["county-la"]].append((people, people * lat, people * lon))
    return {county: _weighted_centre(weights) for county, weights in points.items()}


def _weighted_centre(points: list[tuple[float, float, float]]) -> tuple[float, float]:
    """Return the centre of (weight, weight x lat, weight x lon) points."""
    weight, lat, lon = (sum(column) for column in zip(*points, strict=True))
    return lat / weight, lon / weight


def _place(
    row: dict[str, str], imd: dict[str, str], rurality: dict[str, str],
    centres: dict[str, tuple[float, float]],
) -> Place:
    """Describe a council's circumstances from its register and deprivation rows."""
    code = row["local-authority-code"]
    population, area = _number(row["pop-2020"]), _number(row["area"])
    lat, lon = centres.get(code, (_number(row["lat"]), _number(row["long"])))
    density = _number(imd.get("density"))
    if density is None and population and area:
        density = population / area
    quintile = _number(imd.get("la-imd-pop-quintile"))
    return Place(
        gss_code=row["gss-code"], name=row["nice-name"], council_type=row["local-authority-type"],
        region=row["region"], population=population, area_km2=area, density=density,
        imd_score=_number(imd.get("la-deprivation-score")),
        imd_quintile=None if quintile is None else int(quintile),
        imd_high_share=_number(imd.get("high-deprivation")),
        imd_low_share=_number(imd.get("low-deprivation")),
        rurality=rurality.get(code), lat=lat, lon=lon,
    )


def _names_index(data_dir: Path, records: list[CouncilRecord]) -> dict[str, str]:
    """Map normalised names to council codes, dropping any name two councils share."""
    pairs = [(row["la-name"], row["local-authority-code"]) for row in _rows(data_dir, NAMES)]
    pairs += [(name, r.code) for r in records for name in (r.place.name, r.official_name)]
    councils = {r.code for r in records}
    found: dict[str, set[str]] = defaultdict(set)
    for name, code in pairs:
        if code in councils:
            found[_name_key(name)].add(code)
    return {name: codes.pop() for name, codes in found.items() if len(codes) == 1}


def _provider_links(
    data_dir: Path, records: list[CouncilRecord], names: dict[str, str], known: set[str]
) -> dict[str, dict[str, str]]:
    """Match Ofsted's provider rows to councils by GSS code, or by name if the code is new."""
    by_gss = {gss: r.code for r in records for gss in _accepted_codes(r)}
    links = {}
    for row in _rows(data_dir, OFSTED_LOOKUP):
        gss = row["la_code_new"]
        code = by_gss.get(gss)
        if code is None and gss not in known:  # e.g. Barnsley's E08000038; not abolished bodies
            code = names.get(_name_key(row["local_authority_ons_name"]))
        if code is not None:
            links[code] = row
    return links


def registrable_domain(host: str) -> str:
    """Return the domain an organisation registered, from a host name ("www.leeds.gov.uk")."""
    labels = host.lower().strip(".").split(".")
    keep = 3 if ".".join(labels[-2:]) in THREE_LABEL_SUFFIXES else 2
    return ".".join(labels[-keep:])


def _web_domains(
    data_dir: Path, records: list[CouncilRecord], links: dict[str, dict[str, str]]
) -> dict[str, tuple[str, ...]]:
    """Return each council's own web domains: its GOV.UK homepage's, and Ofsted's, if different.

    The homepages are keyed by GSS code (local-links-manager). Ofsted's lookup names the domain
    of each English upper-tier council's children's services (hullcc.gov.uk beside hull.gov.uk);
    only its government domains are taken, since some name a trust or a company instead.
    """
    by_gss = {gss: r.code for r in records for gss in _accepted_codes(r)}
    found: dict[str, list[str]] = defaultdict(list)
    for row in _rows(data_dir, HOMEPAGES):
        host = urlsplit(row["homepage_url"].strip()).hostname
        if host and row["gss"] in by_gss:
            found[by_gss[row["gss"]]].append(registrable_domain(host))
    for code, row in links.items():
        domain = registrable_domain(row.get("domain", "").strip())
        if domain.endswith(GOVERNMENT_DOMAINS):
            found[code].append(domain)
    return {code: tuple(dict.fromkeys(domains)) for code, domains in found.items()}


def _alias(record: CouncilRecord, link: dict[str, str] | None) -> tuple[str, ...]:
    """Return the newer GSS code Ofsted uses for a council, if it differs from the register's."""
    gss = (link or {}).get("la_code_new", "")
    return (gss,) if gss and gss not in _accepted_codes(record) else ()


def _join(
    data_dir: Path, records: list[CouncilRecord], links: dict[str, dict[str, str]]
) -> _Joined:
    """Read the indicator sources and key them for joining onto the councils."""
    numbers = {code: int(row["la_code"]) for code, row in links.items()}
    lait = _lait(data_dir)
    return _Joined(
        dfe_numbers=numbers,
        urns={code: row["urn"] for code, row in links.items()},
        lait=lait,
        lait_outcomes=_lait_outcomes(lait, set(numbers.values())),
        asc=_asc(data_dir, {gss: r.code for r in records for gss in _accepted_codes(r)}),
        history=_ofsted_history(data_dir),
        overview={row["urn"]: _judgement(row) for row in _rows(data_dir, OFSTED_OVERVIEW)},
    )


def _finish(record: CouncilRecord, joined: _Joined) -> CouncilRecord:
    """Attach a council's DfE number, Ofsted judgements, needs and outcomes."""
    number = joined.dfe_numbers.get(record.code)
    urn = joined.urns.get(record.code, "")
    history = joined.history.get(urn, ())
    measures = joined.lait.get(number, {}) if number else {}
    needs = {m: measures[m][0] for m in LAIT_NEED_MEASURES if m in measures}
    outcomes = joined.lait_outcomes.get(number, {}) if number else {}
    return replace(
        record,
        place=replace(record.place, need_indicators=needs),
        dfe_la_number=number,
        ofsted_latest=history[0] if history else joined.overview.get(urn),
        ofsted_history=history,
        outcome_indicators={**joined.asc.get(record.code, {}), **outcomes},
    )


def _lait(data_dir: Path) -> dict[int, dict[str, tuple[float, str]]]:
    """Read the latest value and polarity of each LAIT measure for each DfE LA number."""
    by_la: dict[int, dict[str, tuple[float, str]]] = defaultdict(dict)
    for row in _rows(data_dir, LAIT):
        value = _number(row["value_num"])
        if value is not None:
            by_la[int(row["la_number"])][row["measure_short"]] = (value, row["polarity"])
    return by_la


def _lait_outcomes(
    lait: dict[int, dict[str, tuple[float, str]]], la_numbers: set[int]
) -> dict[int, dict[str, float]]:
    """Score LAIT outcome measures as robust z (higher is better) across the councils' LAs only."""
    columns: dict[str, dict[int, float]] = defaultdict(dict)
    for number in la_numbers:
        for measure, (value, polarity) in lait.get(number, {}).items():
            if polarity in LAIT_POLARITY and measure not in LAIT_NOT_OUTCOMES:
                columns[measure][number] = LAIT_POLARITY[polarity] * value
    scores: dict[int, dict[str, float]] = defaultdict(dict)
    for measure, values in columns.items():
        if len(values) >= LAIT_MIN_LAS:
            for number, z in _robust_z(values).items():
                scores[number][f"lait:{measure}"] = z
    return scores


def _robust_z(values: dict[int, float]) -> dict[int, float]:
    """Return each value's distance from the median in median absolute deviations, as ASC does."""
    centre = median(values.values())
    spread = median(abs(value - centre) for value in values.values())
    return {key: (value - centre) / spread for key, value in values.items()} if spread else {}


def _asc(data_dir: Path, council_of: dict[str, str]) -> dict[str, dict[str, float]]:
    """Return each council's polarity-adjusted ASC z-scores from its latest year per measure."""
    latest: dict[tuple[str, str], tuple[str, float]] = {}
    for row in _rows(data_dir, ASC):
        code, measure = council_of.get(row["Local authority code"]), row["Code"]
        z = _number(row["MADs_from_median"])
        if code and measure in ASC_POLARITY and z is not None:
            key, found = (code, measure), (row["Financial year"], ASC_POLARITY[measure] * z)
            latest[key] = max(latest.get(key, found), found)  # "2022-23" sorts after "2021-22"
    scores: dict[str, dict[str, float]] = defaultdict(dict)
    for (code, measure), (_, z) in latest.items():
        scores[code][f"asc:{measure}"] = z
    return scores


def _iso(text: str) -> str | None:
    """Turn dd/mm/yy or dd/mm/yyyy into an ISO date; two-digit years are 20yy (data is 2012+)."""
    parts = text.strip().split("/")
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        return None
    day, month, year = (int(part) for part in parts)
    try:
        return date(year + 2000 if year < 100 else year, month, day).isoformat()
    except ValueError:
        return None


def _grade(text: str | None) -> str | None:
    """Normalise an Ofsted grade; unreadable, unreported or pre-judgement values are None."""
    words = (text or "").strip().lower()  # the scraper once read "to requires improvement"
    return next((g for g in GRADES if words == g or words.endswith(" " + g)), None)


def _judgement(row: dict[str, str]) -> OfstedJudgement:
    """Read one inspection from a row of Ofsted's history or overview file."""
    return OfstedJudgement(
        overall=_grade(row["overall_effectiveness_grade"]),
        published=_iso(row["publication_date"]),
        leaders=_grade(row["impact_of_leaders_grade"]),
        help_and_protection=_grade(row["help_and_protection_grade"]),
        in_care=_grade(row["in_care_grade"]),
        care_leavers=_grade(row["care_leavers_grade"]),
    )


def _has_grade(judgement: OfstedJudgement) -> bool:
    """Say whether any judgement in an inspection could be read."""
    return any((judgement.overall, judgement.leaders, judgement.help_and_protection,
                judgement.in_care, judgement.care_leavers))


def _ofsted_history(data_dir: Path) -> dict[str, tuple[OfstedJudgement, ...]]:
    """Return each URN's inspections with any readable grade, newest first."""
    dated: dict[str, list[tuple[str, str, OfstedJudgement]]] = defaultdict(list)
    for row in _rows(data_dir, OFSTED_HISTORY):
        judgement = _judgement(row)
        if _has_grade(judgement):
            ended = _iso(row["inspection_end_date"]) or ""
            dated[row["urn"]].append((judgement.published or "", ended, judgement))
    return {
        urn: tuple(j for *_, j in sorted(rows, key=lambda item: item[:2], reverse=True))
        for urn, rows in dated.items()
    }
