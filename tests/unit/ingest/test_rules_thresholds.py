"""The rules' thresholds: river gauges with hysteresis, gas limits at hazardous sites."""

from __future__ import annotations

import math

from incidents.model import Level
from ingest.rules import (
    Change,
    KeyedIncident,
    OpenIncident,
    Rule,
    RuleEngine,
    RuleSet,
    UpdateIncident,
)
from tests.support.rules import (
    GATE_STATION,
    QILIHE,
    SEWAGE_WORKS,
    START,
    FakeClock,
    Rig,
    offset,
    only,
)

# --- river gauges -------------------------------------------------------------------------

def test_a_gauge_below_its_warning_level_raises_nothing(rig: Rig) -> None:
    assert rig.level(63.42) == []
    assert rig.level(63.80) == []  # at the warning level is not above it


def test_crossing_the_warning_level_opens_a_flood_incident_at_the_configured_level(
        rig: Rig) -> None:
    rig.level(63.5)
    opened = only(rig.level(63.85), OpenIncident)
    assert (opened.key, opened.type, opened.level, opened.rule) == (
        "gauge:xt-wl-qilihe-01", "flood", Level.IV, Rule.RIVER_GAUGE)
    assert opened.title_zh == "七里河水文站（七里河）超警戒水位"
    assert "warning level" in opened.title_en
    assert "63.85" in opened.note_zh and "63.8" in opened.note_en
    assert (opened.lat, opened.lon) == QILIHE
    assert len(opened.evidence) == 1


def test_a_gauge_may_raise_its_own_warning_level(rig: Rig) -> None:
    opened = only(rig.level(33.3, sensor="xt-wl-fuyang-01"), OpenIncident)
    assert opened.level is Level.III and opened.key == "gauge:xt-wl-fuyang-01"


def test_staying_above_updates_only_on_a_new_maximum_worth_a_step(rig: Rig) -> None:
    only(rig.level(63.90), OpenIncident)
    assert rig.level(63.90) == []
    assert rig.level(63.95) == []  # 5 cm over the reported maximum: less than the 10 cm step
    assert rig.level(63.85) == []
    update = only(rig.level(64.00), UpdateIncident)
    assert (update.change, update.level) == (Change.NEW_MAXIMUM, Level.IV)
    assert "64" in update.note_zh
    assert rig.level(64.05) == []  # the step counts from 64.00, the last reported


def test_crossing_the_guarantee_level_escalates_the_same_incident(rig: Rig) -> None:
    only(rig.level(64.0), OpenIncident)
    update = only(rig.level(64.7), UpdateIncident)
    assert (update.key, update.change, update.level) == (
        "gauge:xt-wl-qilihe-01", Change.ESCALATED, Level.II)
    assert "保证水位" in update.note_zh and "guarantee level" in update.note_en
    assert rig.level(64.2) == []  # back between the levels: rules never de-escalate


def test_falling_below_clears_the_breach_and_a_new_crossing_updates_the_open_incident(
        rig: Rig) -> None:
    only(rig.level(64.0), OpenIncident)
    cleared = only(rig.level(63.5), UpdateIncident)
    assert (cleared.change, cleared.level) == (Change.CLEARED, Level.IV)
    assert rig.level(63.4) == []
    again = only(rig.level(63.9), UpdateIncident)
    assert again.change is Change.BREACHED_AGAIN and again.key == "gauge:xt-wl-qilihe-01"


def test_a_crossing_after_the_incident_is_closed_opens_a_new_one(rig: Rig) -> None:
    only(rig.level(64.0), OpenIncident)
    only(rig.level(63.5), UpdateIncident)
    rig.engine.forget("gauge:xt-wl-qilihe-01")
    assert only(rig.level(63.9), OpenIncident).key == "gauge:xt-wl-qilihe-01"


def test_closing_during_a_breach_waits_for_it_to_clear_or_to_get_worse(rig: Rig) -> None:
    only(rig.level(64.0), OpenIncident)
    rig.engine.forget("gauge:xt-wl-qilihe-01")
    assert rig.level(64.3) == []  # the operator closed it: no reopening at every reading
    assert rig.level(63.5) == []  # clears quietly: there is no incident to tell
    only(rig.level(63.9), OpenIncident)
    rig.engine.forget("gauge:xt-wl-qilihe-01")
    assert only(rig.level(64.8), OpenIncident).level is Level.II  # worse than what was closed


def test_a_late_older_reading_does_not_undo_a_newer_one(rig: Rig) -> None:
    earlier = rig.clock.now
    rig.clock.advance(minutes=5)
    only(rig.level(64.0), OpenIncident)
    assert rig.level(63.0, ts=earlier) == []  # delivered late by an outbox: stale


def test_readings_in_another_unit_or_quantity_or_not_finite_are_not_compared(
        rig: Rig) -> None:
    assert rig.level(6400.0, unit="cm") == []
    assert rig.level(70.0, quantity="rainfall", unit="m") == []
    assert rig.level(math.nan) == []
    assert rig.level(math.inf) == []
    assert rig.level(70.0, sensor="xt-wl-unknown-01") == []


def test_a_restored_gauge_incident_is_updated_not_reopened(rules: RuleSet) -> None:
    clock = FakeClock()
    engine = RuleEngine(rules, clock)
    engine.restore([KeyedIncident(key="gauge:xt-wl-qilihe-01", level=Level.IV,
                                  lat=QILIHE[0], lon=QILIHE[1], opened_at=START)])
    rig = Rig(engine, clock)
    assert rig.level(64.0) == []  # still above, as before the restart
    assert only(rig.level(64.7), UpdateIncident).change is Change.ESCALATED
    assert only(rig.level(63.0), UpdateIncident).change is Change.CLEARED


# --- hazardous sites ----------------------------------------------------------------------

def test_gas_above_the_limit_at_a_site_opens_an_incident_named_after_the_site(
        rig: Rig) -> None:
    assert rig.gas(6.0) == []
    opened = only(rig.gas(14.0, at=offset(SEWAGE_WORKS, north_m=300)), OpenIncident)
    assert (opened.key, opened.type, opened.level, opened.rule) == (
        "site:xt-hs-003:H2S", "chemical_leak", Level.III, Rule.HAZARDOUS_SITE)
    assert opened.title_zh == "示范污水处理厂硫化氢浓度超一级报警值"
    assert opened.title_en.startswith("Demo wastewater treatment plant: hydrogen sulphide")
    assert (opened.lat, opened.lon) == SEWAGE_WORKS
    escalated = only(rig.gas(25.0), UpdateIncident)
    assert (escalated.change, escalated.level) == (Change.ESCALATED, Level.II)


def test_gas_far_from_any_site_or_in_another_unit_raises_nothing(rig: Rig) -> None:
    assert rig.gas(500.0, at=offset(SEWAGE_WORKS, east_m=800)) == []
    assert rig.gas(500.0, unit="mg/m3") == []
    assert rig.gas(500.0, quantity="so2") == []
    assert rig.gas(90.0, at=SEWAGE_WORKS, quantity="ch4", unit="%LEL") == []  # not its gas


def test_a_site_gas_with_one_limit_only_opens_at_that_level(rig: Rig) -> None:
    opened = only(rig.gas(60.0, at=GATE_STATION, quantity="ch4", unit="%lel"), OpenIncident)
    assert (opened.key, opened.level, opened.type) == ("site:xt-hs-004:CH4", Level.III,
                                                       "gas_leak")
    assert rig.gas(99.0, at=GATE_STATION, quantity="ch4", unit="%LEL") != []  # new maximum


def test_a_site_clears_only_when_every_sensor_above_the_limit_is_back_below(
        rig: Rig) -> None:
    only(rig.gas(12.0, sensor="a"), OpenIncident)
    assert rig.gas(13.0, sensor="b") == []
    assert rig.gas(2.0, sensor="a") == []
    assert only(rig.gas(1.0, sensor="b"), UpdateIncident).change is Change.CLEARED
