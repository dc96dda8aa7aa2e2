"""Which council delivers which service: the tiers of English local government, and the rules in
force on a day."""

from __future__ import annotations

from datetime import date

from partnermatch.shared.reference.taxonomy import (
    COUNCIL_TYPES,
    DELIVERY_RULES,
    SERVICE_AREAS,
    areas_delivered_by,
    delivers,
    rules_on,
    types_delivering,
)


def test_a_metropolitan_borough_delivers_every_service():
    assert areas_delivered_by("MD") == frozenset(SERVICE_AREAS)


def test_counties_and_districts_split_the_services_between_them():
    assert delivers("CTY", "childrens_services") and not delivers("NMD", "childrens_services")
    assert delivers("NMD", "waste") and delivers("NMD", "planning")
    assert delivers("NMD", "revenues_benefits") and not delivers("CTY", "revenues_benefits")


def test_an_unknown_type_of_council_delivers_nothing():
    assert areas_delivered_by("PARISH") == frozenset()
    assert not delivers("PARISH", "waste")


def test_the_types_delivering_a_service_come_in_a_stable_order():
    children = types_delivering("childrens_services")
    assert "CTY" in children and "NMD" not in children
    assert children == [t for t in COUNCIL_TYPES if t in children]


def test_the_rules_in_force_are_the_latest_that_had_started_on_the_day():
    earliest = min(rule.effective_from for rule in DELIVERY_RULES)
    assert rules_on(earliest) in DELIVERY_RULES
    assert rules_on(date(1900, 1, 1)) == DELIVERY_RULES[0]  # before any: the first
    assert rules_on(date(2999, 1, 1)) == max(DELIVERY_RULES, key=lambda r: r.effective_from)
