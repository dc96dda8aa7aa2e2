"""The reference data loader, read against the shipped public data."""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from partnermatch.config.settings import SHIPPED_REFERENCE_DIR
from partnermatch.shared.reference.readers import (
    ASC,
    ASC_POLARITY,
    GRADES,
    HOMEPAGES,
    LAIT,
    LAIT_NEED_MEASURES,
    REGISTER,
    read_alias_map,
    read_councils,
    registrable_domain,
)
from partnermatch.shared.reference.records import CouncilRecord
from partnermatch.shared.reference.taxonomy import COUNCIL_TYPES

DATA_DIR = Path(os.environ.get("REFERENCE_DATA_DIR") or SHIPPED_REFERENCE_DIR)


def _csv(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def councils() -> list[CouncilRecord]:
    return read_councils(DATA_DIR)


@pytest.fixture(scope="module")
def council(councils: list[CouncilRecord]) -> Callable[[str], CouncilRecord]:
    by_name = {record.place.name: record for record in councils}
    return by_name.__getitem__


def _asc_row(gss: str, code: str) -> dict[str, str]:
    rows = [r for r in _csv(ASC) if r["Local authority code"] == gss and r["Code"] == code]
    return max((r for r in rows if r["MADs_from_median"]), key=lambda r: r["Financial year"])


def test_reads_every_current_council_and_no_combined_or_strategic_authority(councils):
    register = _csv(REGISTER)
    current = [r for r in register if r["current-authority"] == "True"]
    expected = {r["gss-code"] for r in current if r["local-authority-type"] in COUNCIL_TYPES}
    assert len(current) == 397
    assert len(councils) == 382
    assert {c.place.gss_code for c in councils} == expected
    assert not {c.code for c in councils} & {"GLA", "WMCA", "GMCA", "NTCA", "NECA"}


def test_barnsley_and_sheffield_accept_the_newer_codes_ofsted_uses(council):
    barnsley, sheffield = council("Barnsley"), council("Sheffield")
    assert (barnsley.place.gss_code, barnsley.alias_gss_codes) == ("E08000016", ("E08000038",))
    assert (sheffield.place.gss_code, sheffield.alias_gss_codes) == ("E08000019", ("E08000039",))
    assert barnsley.dfe_la_number == 370
    assert barnsley.ofsted_latest is not None
    assert barnsley.ofsted_latest.overall in GRADES


def test_only_barnsley_and_sheffield_have_aliases(councils):
    assert {c.code for c in councils if c.alias_gss_codes} == {"BNS", "SHF"}


def test_leeds_is_a_large_metropolitan_borough_in_yorkshire(council):
    place = council("Leeds").place
    assert (place.council_type, place.region) == ("MD", "Yorkshire and The Humber")
    assert place.population > 700_000
    assert place.imd_quintile in range(1, 6)
    assert place.rurality and place.density and place.lat and place.lon


def test_kent_has_its_dfe_number_adult_social_care_and_needs(council):
    kent = council("Kent")
    assert (kent.place.council_type, kent.dfe_la_number) == ("CTY", 886)
    assert {f"asc:{code}" for code in ASC_POLARITY} <= set(kent.outcome_indicators)
    assert any(key.startswith("lait:") for key in kent.outcome_indicators)
    assert set(kent.place.need_indicators) == set(LAIT_NEED_MEASURES)
    assert kent.ofsted_latest is not None


def test_district_has_no_childrens_or_adult_social_care_data(councils, council):
    maidstone = council("Maidstone")
    assert maidstone.place.council_type == "NMD"
    assert maidstone.place.population and maidstone.place.imd_score is not None
    for district in (c for c in councils if c.place.council_type == "NMD"):
        assert district.dfe_la_number is None
        assert district.ofsted_latest is None and district.ofsted_history == ()
        assert district.outcome_indicators == {} and district.place.need_indicators == {}


def test_every_english_upper_tier_council_has_a_dfe_number_and_ofsted(councils):
    upper = [c for c in councils if c.nation == "England" and c.place.council_type != "NMD"]
    assert len(upper) == 153
    assert all(c.dfe_la_number and c.ofsted_latest for c in upper)


def test_dfe_numbers_agree_with_the_lait_names(councils):
    by_name = {c.place.name: c.dfe_la_number for c in councils}
    rows = _csv(LAIT)
    listed = {r["la_name"]: int(r["la_number"]) for r in rows if r["la_name"] in by_name}
    assert len(listed) > 140
    assert listed == {name: by_name[name] for name in listed}


def test_workforce_turnover_is_negated_so_higher_is_better(council):
    kent = council("Kent")
    raw = _asc_row(kent.place.gss_code, "ASC7")
    assert raw["rank_order"] == "None"
    assert kent.outcome_indicators["asc:ASC7"] == pytest.approx(-float(raw["MADs_from_median"]))


def test_higher_is_better_asc_measure_is_kept_as_is(council):
    leeds = council("Leeds")
    raw = _asc_row(leeds.place.gss_code, "ASC2")
    assert raw["rank_order"].lower() == "desc"
    assert leeds.outcome_indicators["asc:ASC2"] == pytest.approx(float(raw["MADs_from_median"]))


def test_ambiguous_asc_measure_is_left_out(councils):
    assert "ASC6" not in ASC_POLARITY
    assert not any("asc:ASC6" in c.outcome_indicators for c in councils)


def test_north_yorkshire_inherits_its_former_countys_adult_social_care(council):
    north_yorkshire = council("North Yorkshire")
    assert "E10000023" in north_yorkshire.former_gss_codes
    raw = _asc_row("E10000023", "ASC2")
    assert north_yorkshire.outcome_indicators["asc:ASC2"] == pytest.approx(
        float(raw["MADs_from_median"])
    )


def test_cumbrias_successors_inherit_nothing_from_the_split_county(council):
    for name in ("Cumberland", "Westmorland and Furness"):
        successor = council(name)
        assert "E10000006" not in successor.former_gss_codes
        assert not any(key.startswith("asc:") for key in successor.outcome_indicators)


def test_lait_low_polarity_measure_is_flipped_so_higher_is_better(councils):
    raw = {
        int(r["la_number"]): float(r["value_num"])
        for r in _csv(LAIT)
        if r["measure_short"] == "ReReferral"
    }
    scored = [c for c in councils if "lait:ReReferral" in c.outcome_indicators]
    worst = max(scored, key=lambda c: raw[c.dfe_la_number])
    assert worst.outcome_indicators["lait:ReReferral"] == min(
        c.outcome_indicators["lait:ReReferral"] for c in scored
    )


def test_outcomes_leave_out_needs_and_england_and_regional_totals(councils):
    keys = {key for c in councils for key in c.outcome_indicators}
    assert not {f"lait:{measure}" for measure in LAIT_NEED_MEASURES} & keys
    assert {c.dfe_la_number for c in councils if c.outcome_indicators} <= set(range(200, 970))


def test_sefton_history_runs_newest_first_from_inadequate_to_good(council):
    history = council("Sefton").ofsted_history
    assert [j.overall for j in history] == ["good", "inadequate"]
    assert [j.published for j in history] == ["2025-08-12", "2022-05-09"]
    assert council("Sefton").ofsted_latest == history[0]


def test_ofsted_grades_and_dates_are_normalised(councils):
    judgements = [j for c in councils for j in c.ofsted_history]
    grades = {
        grade
        for j in judgements
        for grade in (j.overall, j.leaders, j.help_and_protection, j.in_care, j.care_leavers)
    }
    assert grades <= {*GRADES, None}
    assert all(re.fullmatch(r"20\d\d-\d\d-\d\d", j.published or "") for j in judgements)
    for c in councils:
        dates = [j.published for j in c.ofsted_history]
        assert dates == sorted(dates, reverse=True)


def test_post_reform_inspection_has_no_overall_grade_but_keeps_sub_judgements(council):
    latest = council("Blackpool").ofsted_latest
    assert latest.overall is None
    assert latest.in_care == "outstanding"


def test_alias_map_resolves_current_former_alias_and_predecessor_codes(councils):
    aliases = read_alias_map(councils)
    assert aliases["E08000020"] == "E08000037"  # Gateshead's former code
    assert aliases["E08000038"] == "E08000016"  # Barnsley in Ofsted's files
    assert aliases["E10000023"] == "E06000065"  # North Yorkshire County Council
    assert aliases["E08000035"] == "E08000035"
    assert "E10000006" not in aliases  # Cumbria was split in two


def test_county_is_placed_among_its_districts(council):
    lancashire, preston = council("Lancashire").place, council("Preston").place
    assert abs(lancashire.lat - preston.lat) < 0.5 and abs(lancashire.lon - preston.lon) < 0.5


def test_missing_register_names_the_setting_to_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="REFERENCE_DATA_DIR"):
        read_councils(tmp_path)


def test_every_current_council_has_its_own_web_domain_from_its_govuk_homepage(councils):
    homepages = {row["gss"]: row["homepage_url"] for row in _csv(HOMEPAGES)}
    for record in councils:  # by its current code or a former one (Fife's is S12000015 there)
        codes = (record.place.gss_code, *record.former_gss_codes, *record.alias_gss_codes)
        (homepage,) = [homepages[code] for code in codes if code in homepages]
        assert record.web_domains and record.web_domains[0] in homepage, record.place.name


@pytest.mark.parametrize(("name", "domains"), [
    ("Leeds", ("leeds.gov.uk",)),
    ("Devon", ("devon.gov.uk",)),  # homepage new.devon.gov.uk: the body's domain, not the host
    ("Kingston upon Hull", ("hull.gov.uk", "hullcc.gov.uk")),  # Ofsted's domain is added
    ("Birmingham", ("birmingham.gov.uk",)),  # but not Ofsted's children's trust (a company)
    ("Gwynedd", ("gwynedd.llyw.cymru",)),
    ("Worthing", ("adur-worthing.gov.uk",)),  # councils sharing a homepage share a domain
    ("Derry City and Strabane", ("derrystrabane.com",)),
])
def test_web_domains_are_derived_from_homepage_addresses_when_read(council, name, domains):
    assert council(name).web_domains == domains


@pytest.mark.parametrize(("host", "domain"), [
    ("www.birmingham.gov.uk", "birmingham.gov.uk"), ("my.northtyneside.gov.uk",
                                                     "northtyneside.gov.uk"),
    ("www.carmarthenshire.gov.wales", "carmarthenshire.gov.wales"),
    ("www.midulstercouncil.org", "midulstercouncil.org"), ("WWW.Leeds.GOV.UK.", "leeds.gov.uk"),
    ("www.brighterfutures.org.uk", "brighterfutures.org.uk"),
])
def test_registrable_domain(host, domain):
    assert registrable_domain(host) == domain
