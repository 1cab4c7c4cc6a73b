"""The rules' sensitive areas: device alarms inside them, watched vehicles entering them."""

from __future__ import annotations

import pytest

from incidents.model import AlarmState, Kind, Level, Position
from ingest.rules import (
    Change,
    OpenIncident,
    Outcome,
    Rule,
    RulesError,
    UpdateIncident,
    parse_rules,
)
from tests.support.rules import (
    FIRE,
    OFFICE,
    PARK,
    SCHOOL,
    START,
    TEST_RULES,
    Rig,
    envelope,
    next_id,
    offset,
    only,
)

# --- sensitive areas ----------------------------------------------------------------------

def test_an_alarm_inside_a_sensitive_area_opens_an_incident(rig: Rig) -> None:
    opened = only(rig.alarm(), OpenIncident)
    assert (opened.key, opened.type, opened.level, opened.rule) == (
        "area:xt-sa-school-01:smoke", "fire", Level.III, Rule.SENSITIVE_AREA)
    assert opened.title_zh == "示范中学烟感报警"
    assert "smoke-0012" in opened.note_zh and "3楼走廊" in opened.note_zh


def test_an_alarm_outside_every_area_or_a_test_raises_nothing(rig: Rig) -> None:
    assert rig.alarm(at=offset(SCHOOL, north_m=400)) == []
    assert rig.alarm(state=AlarmState.TEST) == []


def test_a_cleared_alarm_opens_nothing_and_clears_the_incident_it_raised(rig: Rig) -> None:
    assert rig.alarm(state=AlarmState.CLEARED) == []
    only(rig.alarm(), OpenIncident)
    assert rig.alarm() == []  # the same device repeating itself
    assert only(rig.alarm(device="smoke-0013"), UpdateIncident).change is Change.ANOTHER_DEVICE
    assert rig.alarm(state=AlarmState.CLEARED) == []
    cleared = only(rig.alarm(device="smoke-0013", state=AlarmState.CLEARED), UpdateIncident)
    assert cleared.change is Change.CLEARED
    assert only(rig.alarm(), UpdateIncident).change is Change.BREACHED_AGAIN


def test_closing_an_area_incident_during_alarms_reopens_only_for_a_new_device(
        rig: Rig) -> None:
    only(rig.alarm(), OpenIncident)
    rig.engine.forget("area:xt-sa-school-01:smoke")
    assert rig.alarm() == []  # the device that was alarming: the operator has seen it
    assert only(rig.alarm(device="smoke-0013"), OpenIncident).level is Level.III
    rig.engine.forget("area:xt-sa-school-01:smoke")
    assert rig.alarm(state=AlarmState.CLEARED) == []
    assert rig.alarm(device="smoke-0013", state=AlarmState.CLEARED) == []
    only(rig.alarm(), OpenIncident)  # everything cleared in between: a new alarm


def test_overlapping_areas_raise_the_most_severe_and_other_types_keep_their_own(
        rig: Rig) -> None:
    opened = only(rig.alarm(at=OFFICE), OpenIncident)
    assert (opened.key, opened.level) == ("area:xt-sa-chempark-01:smoke", Level.II)
    unlisted = only(rig.alarm(at=PARK, type="intrusion", device="door-7"), OpenIncident)
    assert (unlisted.key, unlisted.type) == ("area:xt-sa-chempark-01:intrusion", "intrusion")



# --- watched vehicles in sensitive areas ----------------------------------------------------

def drive(rig: Rig, at: tuple[float, float], unit_type: str = "hazmat_truck",
          unit: str = "ji-e-12345") -> list[Outcome]:
    fix = Position(id=next_id(unit), ts=rig.clock.now, unit=unit, unit_type=unit_type,
                   lat=at[0], lon=at[1])
    return rig.engine.evaluate(envelope("safety", Kind.POSITION, rig.clock.now), fix)


def test_a_hazmat_truck_entering_a_school_opens_escalates_on_dwell_and_is_seen_leaving(
        rig: Rig) -> None:
    assert drive(rig, FIRE) == []  # outside every area
    opened = only(drive(rig, SCHOOL), OpenIncident)
    assert (opened.key, opened.type, opened.level, opened.rule) == (
        "fence:hazmat:ji-e-12345:xt-sa-school-01", "intrusion", Level.IV, Rule.GEOFENCE)
    assert opened.title_zh == "危化品运输车辆驶入敏感区域：ji-e-12345 驶入示范中学"
    rig.clock.advance(minutes=5)
    assert drive(rig, SCHOOL) == []  # inside, not yet too long
    rig.clock.advance(minutes=6)
    dwell = only(drive(rig, SCHOOL), UpdateIncident)
    assert (dwell.change, dwell.level) == (Change.DWELL, Level.III)
    rig.clock.advance(minutes=5)
    assert drive(rig, SCHOOL) == []  # escalated once
    left = only(drive(rig, FIRE), UpdateIncident)
    assert left.change is Change.CLEARED and "驶离" in left.note_zh


def test_ordinary_units_and_other_area_kinds_raise_nothing(rig: Rig) -> None:
    assert drive(rig, SCHOOL, unit_type="patrol_car") == []
    assert drive(rig, OFFICE) == []  # an office area: not watched by this rule
    assert rig.engine.watches(Position(id="p", ts=START, unit="u", lat=0, lon=0,
                                       unit_type="hazmat_truck"))
    assert not rig.engine.watches(Position(id="q", ts=START, unit="u", lat=0, lon=0))


def test_geofence_rules_must_name_existing_area_kinds() -> None:
    bad = TEST_RULES.replace('area_kinds = ["school"]', 'area_kinds = ["stadium"]')
    with pytest.raises(RulesError,
                       match=r"geofence\[0\] \(hazmat\): no \[\[area\]\] of kind stadium"):
        parse_rules(bad, "bad.toml")
