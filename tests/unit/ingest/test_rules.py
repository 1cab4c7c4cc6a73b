"""The rules: thresholds with hysteresis, hazardous sites, sensitive areas, report correlation."""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidents.model import (
    Alarm,
    AlarmState,
    Envelope,
    FieldMessage,
    Kind,
    Level,
    Observation,
    Position,
    Report,
)
from ingest.rules import (
    Change,
    Correlated,
    KeyedIncident,
    OpenIncident,
    Outcome,
    Rule,
    RuleEngine,
    RulesError,
    RuleSet,
    UpdateIncident,
    load_rules,
    parse_rules,
)

OutcomeT = TypeVar("OutcomeT", OpenIncident, UpdateIncident, Correlated)

START = datetime(2026, 7, 20, 6, 0, tzinfo=UTC)
QILIHE = (37.0466, 114.5301)
SEWAGE_WORKS = (37.0330, 114.5600)
GATE_STATION = (37.0990, 114.4310)
SCHOOL = (37.0655, 114.5060)
PARK = (37.1012, 114.6233)
OFFICE = (37.1012, 114.6240)
FIRE = (37.0613, 114.4921)

TEST_RULES = """
[river]
warning_level = "IV"
guarantee_level = "II"
new_max_step_m = 0.10

[[river.gauge]]
sensor = "xt-wl-qilihe-01"
river = "七里河"
river_en = "Qili River"
station = "七里河水文站"
station_en = "Qilihe station"
lat = 37.0466
lon = 114.5301
warning_m = 63.80
guarantee_m = 64.60

[[river.gauge]]
sensor = "xt-wl-fuyang-01"
river = "滏阳河"
river_en = "Fuyang River"
station = "任泽水位站"
station_en = "Renze gauge"
lat = 37.18
lon = 114.77
warning_m = 33.20
guarantee_m = 34.50
warning_level = "III"

[[gas]]
id = "H2S"
name_zh = "硫化氢"
name_en = "hydrogen sulphide"
quantity = "h2s"
unit = "ppm"
type = "chemical_leak"
new_max_step = 5.0

[[gas]]
id = "CH4"
name_zh = "甲烷"
name_en = "methane"
quantity = "ch4"
unit = "%LEL"
type = "gas_leak"

[[site]]
id = "xt-hs-003"
name = "示范污水处理厂"
name_en = "Demo wastewater treatment plant"
lat = 37.0330
lon = 114.5600
radius_m = 500
limit = [{ gas = "H2S", alarm = 10.0, danger = 20.0 }]

[[site]]
id = "xt-hs-004"
name = "示范天然气门站"
name_en = "Demo gas gate station"
lat = 37.0990
lon = 114.4310
radius_m = 400
limit = [{ gas = "CH4", alarm = 25.0 }]

[[alarm]]
alarm = "smoke"
incident = "fire"
name_zh = "烟感报警"
name_en = "smoke alarm"

[[area]]
id = "xt-sa-school-01"
kind = "school"
name = "示范中学"
name_en = "Demo middle school"
level = "III"
ring = [[37.0641, 114.5043], [37.0641, 114.5077], [37.0669, 114.5077], [37.0669, 114.5043],
        [37.0641, 114.5043]]

[[area]]
id = "xt-sa-office-01"
kind = "office"
name = "园区管委会"
name_en = "Park administration"
level = "IV"
ring = [[37.1005, 114.6230], [37.1005, 114.6250], [37.1020, 114.6250], [37.1020, 114.6230],
        [37.1005, 114.6230]]

[[area]]
id = "xt-sa-chempark-01"
kind = "chemical_park"
name = "示范化工园区"
name_en = "Demo chemical park"
level = "II"
ring = [[37.0950, 114.6140], [37.0955, 114.6320], [37.1040, 114.6345], [37.1085, 114.6280],
        [37.1078, 114.6150], [37.0950, 114.6140]]

[reports]
radius_m = 500
window_min = 15
level = "IV"

[[reports.type]]
type = "fire"
name_zh = "火灾"
name_en = "Fire"

[[reports.type]]
type = "traffic_accident"
name_zh = "交通事故"
name_en = "Traffic accident"
radius_m = 300
level = "III"

[[reports.type]]
type = "medical"
name_zh = "急救"
name_en = "Medical emergency"
correlate = false

[[geofence]]
id = "hazmat"
unit_types = ["hazmat_truck"]
area_kinds = ["school"]
type = "intrusion"
name_zh = "危化品运输车辆驶入敏感区域"
name_en = "Hazardous-goods vehicle in a sensitive area"
level = "IV"
dwell_min = 10
dwell_level = "III"
"""


class FakeClock:
    """The engine's clock, moved by the test."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


_ids = itertools.count(1)


def next_id(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


def offset(point: tuple[float, float], north_m: float = 0.0,
           east_m: float = 0.0) -> tuple[float, float]:
    """A point `north_m` north and `east_m` east of `point`."""
    lat, lon = point
    return (lat + north_m / 111_195.0,
            lon + east_m / (111_195.0 * math.cos(math.radians(lat))))


def envelope(agency: str, kind: Kind, at: datetime, source: str = "gw") -> Envelope:
    return Envelope(topic=f"sitroom/v1/{agency}/{kind}/{source}", agency=agency, kind=kind,
                    source=source, received_at=at)


@dataclass
class Rig:
    """An engine on the test rules, with its clock and message builders."""

    engine: RuleEngine
    clock: FakeClock

    def level(self, value: float, sensor: str = "xt-wl-qilihe-01", unit: str = "m",
              quantity: str = "water_level", ts: datetime | None = None) -> list[Outcome]:
        obs = Observation(id=next_id(sensor), ts=ts or self.clock.now, sensor=sensor,
                          quantity=quantity, value=value, unit=unit, lat=QILIHE[0],
                          lon=QILIHE[1])
        return self.engine.evaluate(envelope("water", Kind.OBSERVATION, self.clock.now), obs)

    def gas(self, value: float, at: tuple[float, float] = SEWAGE_WORKS, quantity: str = "h2s",
            unit: str = "ppm", sensor: str = "xt-gas-0042") -> list[Outcome]:
        obs = Observation(id=next_id(sensor), ts=self.clock.now, sensor=sensor,
                          quantity=quantity, value=value, unit=unit, lat=at[0], lon=at[1])
        return self.engine.evaluate(envelope("safety", Kind.OBSERVATION, self.clock.now), obs)

    def alarm(self, at: tuple[float, float] = SCHOOL, device: str = "smoke-0012",
              state: AlarmState = AlarmState.ACTIVE, type: str = "smoke") -> list[Outcome]:
        alarm = Alarm(id=next_id(device), ts=self.clock.now, device=device, type=type,
                      state=state, lat=at[0], lon=at[1], text="3楼走廊")
        return self.engine.evaluate(envelope("fire", Kind.ALARM, self.clock.now), alarm)

    def report(self, at: tuple[float, float] = FIRE, type: str = "fire",
               level: Level | None = None) -> tuple[str, list[Outcome]]:
        report = Report(id=next_id("c119"), ts=self.clock.now, type=type, lat=at[0],
                        lon=at[1], text="居民楼三层起火，有浓烟", level=level,
                        reporter="119-seat-04")
        return report.id, self.engine.evaluate(
            envelope("fire", Kind.REPORT, self.clock.now), report)


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return parse_rules(TEST_RULES, "test_rules.toml")


@pytest.fixture
def rig(rules: RuleSet) -> Rig:
    clock = FakeClock()
    return Rig(RuleEngine(rules, clock), clock)


def only(outcomes: list[Outcome], kind: type[OutcomeT]) -> OutcomeT:
    assert len(outcomes) == 1, outcomes
    assert isinstance(outcomes[0], kind), outcomes
    return outcomes[0]


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


# --- report correlation -------------------------------------------------------------------

def test_three_close_fire_reports_are_one_incident_and_a_later_one_opens_another(
        rig: Rig) -> None:
    first, outcomes = rig.report()
    opened = only(outcomes, OpenIncident)
    assert (opened.key, opened.type, opened.level, opened.rule) == (
        f"reports:fire:{first}", "fire", Level.IV, Rule.REPORT)
    assert opened.title_zh.startswith("火灾：居民楼")
    rig.clock.advance(minutes=4)
    second, outcomes = rig.report(at=offset(FIRE, north_m=200, east_m=150))
    assert outcomes == [Correlated(key=opened.key, report_id=second)]
    rig.clock.advance(minutes=6)
    third, outcomes = rig.report(at=offset(FIRE, east_m=-280))
    assert outcomes == [Correlated(key=opened.key, report_id=third)]
    rig.clock.advance(minutes=20)
    fourth, outcomes = rig.report()
    assert only(outcomes, OpenIncident).key == f"reports:fire:{fourth}"


def test_reports_far_apart_or_of_different_types_are_separate_incidents(rig: Rig) -> None:
    _, fire = rig.report()
    _, far = rig.report(at=offset(FIRE, north_m=2000))
    _, accident = rig.report(type="traffic_accident")
    keys = {only(fire, OpenIncident).key, only(far, OpenIncident).key,
            only(accident, OpenIncident).key}
    assert len(keys) == 3


def test_per_type_settings_radius_level_and_no_correlation(rig: Rig) -> None:
    _, outcomes = rig.report(type="traffic_accident")
    assert only(outcomes, OpenIncident).level is Level.III
    _, outcomes = rig.report(at=offset(FIRE, north_m=400), type="traffic_accident")
    only(outcomes, OpenIncident)  # 400 m: beyond the accidents' 300 m
    only(rig.report(type="medical")[1], OpenIncident)
    only(rig.report(type="medical")[1], OpenIncident)  # every 120 call is its own patient
    _, outcomes = rig.report(type="gas_explosion", level=Level.II)
    opened = only(outcomes, OpenIncident)
    assert (opened.level, opened.title_en.split(":")[0]) == (Level.II, "gas_explosion")


def test_a_report_joins_the_nearest_incident_of_its_type(rig: Rig) -> None:
    _, west = rig.report(at=offset(FIRE, east_m=-300))
    _, east = rig.report(at=offset(FIRE, east_m=300))
    _, outcomes = rig.report(at=offset(FIRE, east_m=100))
    assert only(outcomes, Correlated).key == only(east, OpenIncident).key != only(
        west, OpenIncident).key


def test_a_forgotten_report_incident_takes_no_more_reports(rig: Rig) -> None:
    _, outcomes = rig.report()
    rig.engine.forget(only(outcomes, OpenIncident).key)
    only(rig.report()[1], OpenIncident)


def test_restored_report_incidents_correlate_while_their_window_lasts(rules: RuleSet) -> None:
    clock = FakeClock()
    engine = RuleEngine(rules, clock)
    engine.restore([
        KeyedIncident(key="reports:fire:c119-0042", level=Level.III, lat=FIRE[0], lon=FIRE[1],
                      opened_at=START - timedelta(minutes=30),
                      last_report_at=START - timedelta(minutes=5)),
        KeyedIncident(key="reports:fire:c119-0001", level=Level.IV, lat=FIRE[0], lon=FIRE[1],
                      opened_at=START - timedelta(hours=3)),
    ])
    assert engine.open_keys() == {"reports:fire:c119-0042"}
    report_id, outcomes = Rig(engine, clock).report()
    assert outcomes == [Correlated(key="reports:fire:c119-0042", report_id=report_id)]
    with pytest.raises(ValueError, match="not a rule key"):
        engine.restore([KeyedIncident(key="c119-0042", level=Level.IV, lat=0, lon=0,
                                      opened_at=START)])


# --- engine plumbing ----------------------------------------------------------------------

def test_a_fork_takes_a_batch_and_leaves_the_engine_as_it_was(rig: Rig) -> None:
    only(rig.level(64.0), OpenIncident)
    fork = Rig(rig.engine.fork(), rig.clock)
    assert only(fork.level(64.7), UpdateIncident).change is Change.ESCALATED
    only(fork.report()[1], OpenIncident)
    assert only(rig.level(64.7), UpdateIncident).change is Change.ESCALATED  # as if uncommitted
    assert rig.engine.open_keys() == {"gauge:xt-wl-qilihe-01"}


def test_positions_and_other_kinds_raise_nothing(rig: Rig) -> None:
    fix = Position(id="p-1", ts=START, unit="xt-110-001", lat=SCHOOL[0], lon=SCHOOL[1])
    assert rig.engine.evaluate(envelope("police", Kind.POSITION, START), fix) == []


def test_outcomes_round_trip_as_tagged_json(rig: Rig) -> None:
    outcomes = [*rig.level(64.0), *rig.level(64.7), *rig.report()[1]]
    encoded = msgspec.json.encode(outcomes)
    assert b'"outcome":"open"' in encoded and b'"outcome":"update"' in encoded
    assert msgspec.json.decode(encoded, type=list[Outcome]) == outcomes


def test_the_clock_must_be_timezone_aware(rules: RuleSet) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        RuleEngine(rules, lambda: datetime(2026, 7, 20, 6, 0))  # naive, on purpose


# --- configuration ------------------------------------------------------------------------

def test_the_shipped_rules_load_and_raise_on_the_documented_gauge() -> None:
    shipped = load_rules()
    assert {g.sensor for g in shipped.river.gauges} >= {"xt-wl-qilihe-01"}
    assert {s.id for s in shipped.sites} >= {"xt-hs-003"}
    clock = FakeClock()
    rig = Rig(RuleEngine(shipped, clock), clock)
    assert rig.level(63.42) == []  # the example reading in docs/feeds.md
    assert only(rig.level(99.0), OpenIncident).key == "gauge:xt-wl-qilihe-01"


def test_load_rules_reads_a_file_and_names_it_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(TEST_RULES, "utf-8")
    assert load_rules(path) == parse_rules(TEST_RULES)
    with pytest.raises(RulesError, match="missing.toml: cannot read"):
        load_rules(tmp_path / "missing.toml")


def broken(old: str, new: str) -> str:
    assert old in TEST_RULES
    return TEST_RULES.replace(old, new, 1)


@pytest.mark.parametrize(("text", "expected"), [
    (broken("radius_m = 500\nlimit", "radius = 500\nlimit"),
     r"unknown field `radius` - at `\$\.site\[0\]`"),
    (broken("radius_m = 500\nlimit", "radius_m = -50\nlimit"),
     r"Expected `float` > 0\.0 - at `\$\.site\[0\]\.radius_m`"),
    (broken("[37.0669, 114.5043],\n        [37.0641, 114.5043]]", "[37.0669, 114.5043]]"),
     r"\$\.area\[0\]\.ring \(xt-sa-school-01\): polygon not closed: the last point "
     r"\[37\.0669, 114\.5043\] must repeat the first \[37\.0641, 114\.5043\]"),
    (broken("[37.0669, 114.5077], [37.0669, 114.5043]", "[37.0669, 114.5043], [37.0669, 114.5077]"),
     r"\$\.area\[0\]\.ring \(xt-sa-school-01\): not a simple polygon: Self-intersection"),
    (broken("guarantee_m = 64.60", "guarantee_m = 63.00"),
     r"\$\.river\.gauge\[0\] \(xt-wl-qilihe-01\): guarantee_m 63\.0 must be above "
     r"warning_m 63\.8"),
    (broken('gas = "H2S", alarm = 10.0, danger = 20.0', 'gas = "SO2", alarm = 1.0'),
     r"\$\.site\[0\]\.limit\[0\] \(xt-hs-003 SO2\): unknown gas 'SO2'"),
    (broken('gas = "H2S", alarm = 10.0, danger = 20.0', 'gas = "H2S", alarm = 10.0, danger = 5.0'),
     r"danger 5\.0 must be above alarm 10\.0"),
    (broken('id = "xt-hs-004"', 'id = "xt-hs-003"'), r"\$\.site: id 'xt-hs-003' appears more"),
    (broken('id = "xt-hs-004"', 'id = "xt-hs:004"'), r"\$\.site\[1\]\.id"),
    (broken('level = "III"\nring', 'level = "V"\nring'), r"Invalid enum value 'V'"),
    (broken("[reports]", "[reports"), r"not valid TOML"),
    (broken("warning_m = 63.80", "warning_m = nan"), r"Expected `float` >= -500\.0"),
    (broken("alarm = 25.0 }", "alarm = inf }"), r"Expected `float` <= 1000000\.0"),
])
def test_configuration_errors_say_what_to_fix_and_where(text: str, expected: str) -> None:
    with pytest.raises(RulesError, match=r"^test_rules\.toml: .*" + expected):
        parse_rules(text, "test_rules.toml")


# --- properties ---------------------------------------------------------------------------

ANCHORS = {"observation": [QILIHE, SEWAGE_WORKS, GATE_STATION], "alarm": [SCHOOL, PARK, OFFICE],
           "report": [FIRE], "position": [FIRE]}
KEY = re.compile(r"^(gauge:[^:]+|site:[^:]+:[^:]+|area:[^:]+:[^:]+|reports:[a-z0-9_]+:.+)\Z")


@st.composite
def places(draw: st.DrawFn, kind: str) -> tuple[float, float]:
    """Mostly near the places where `kind` has rules, sometimes anywhere on Earth."""
    if draw(st.integers(0, 4)) == 0:
        return (draw(st.floats(-90, 90)), draw(st.floats(-180, 180)))
    anchor = draw(st.sampled_from(ANCHORS[kind]))
    spread = draw(st.sampled_from([100.0, 800.0]))
    return offset(anchor, draw(st.floats(-spread, spread)), draw(st.floats(-spread, spread)))


@st.composite
def messages(draw: st.DrawFn, number: int, now: datetime) -> FieldMessage:
    ts = now + timedelta(seconds=draw(st.integers(-600, 60) | st.integers(-7200, 7200)))
    kind = draw(st.sampled_from(["observation", "alarm", "report", "position"]))
    lat, lon = draw(places(kind))
    message_id = f"m-{number}"
    if kind == "observation":
        quantity, unit = draw(st.sampled_from(
            [("water_level", "m"), ("h2s", "ppm"), ("ch4", "%LEL"), ("h2s", "mg/m3"),
             ("rainfall", "mm")]))
        return Observation(
            id=message_id, ts=ts, quantity=quantity, unit=unit, lat=lat, lon=lon,
            sensor=draw(st.sampled_from(["xt-wl-qilihe-01", "xt-wl-fuyang-01", "s1", "s2"])),
            value=draw(st.floats(62, 66) | st.floats(0, 60) | st.floats()))
    if kind == "alarm":
        return Alarm(id=message_id, ts=ts, lat=lat, lon=lon,
                     device=draw(st.sampled_from(["d1", "d2", "d3"])),
                     type=draw(st.sampled_from(["smoke", "intrusion"])),
                     state=draw(st.sampled_from(AlarmState)), text=draw(st.none() | st.text()))
    if kind == "report":
        return Report(id=message_id, ts=ts, lat=lat, lon=lon, text=draw(st.text(max_size=200)),
                      type=draw(st.sampled_from(["fire", "traffic_accident", "medical", "x"])),
                      level=draw(st.none() | st.sampled_from(Level)))
    return Position(id=message_id, ts=ts, unit="u1", lat=lat, lon=lon)


@st.composite
def scenarios(draw: st.DrawFn) -> list[tuple[float, FieldMessage | None]]:
    """Steps of (minutes the clock moves, a message or None to close the latest incident)."""
    steps: list[tuple[float, FieldMessage | None]] = []
    now = START
    for number in range(draw(st.integers(1, 40))):
        minutes = draw(st.floats(0, 5) | st.floats(0, 90))
        now += timedelta(minutes=minutes)
        closing = draw(st.integers(0, 9)) == 0
        steps.append((minutes, None if closing else draw(messages(number, now))))
    return steps


def run(rules: RuleSet, steps: list[tuple[float, FieldMessage | None]]) -> list[list[Outcome]]:
    clock = FakeClock()
    engine = RuleEngine(rules, clock)
    opened: list[str] = []
    results: list[list[Outcome]] = []
    for minutes, message in steps:
        clock.advance(minutes=minutes)
        if message is None:
            if opened:
                engine.forget(opened.pop())
            results.append([])
            continue
        outcomes = engine.evaluate(envelope("water", Kind.OBSERVATION, clock.now), message)
        for outcome in outcomes:
            assert KEY.match(outcome.key), outcome.key
            if isinstance(outcome, OpenIncident):
                assert outcome.key not in opened  # one open incident per key
                assert outcome.evidence == (message.id,)
                opened.append(outcome.key)
            else:
                assert outcome.key in opened  # only incidents still open are updated
        if isinstance(message, Report):  # a report opens an incident or joins one
            assert len(outcomes) == 1 and isinstance(outcomes[0], OpenIncident | Correlated)
        results.append(outcomes)
    return results


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=scenarios())
def test_evaluate_never_raises_and_its_keys_are_stable(
        steps: list[tuple[float, FieldMessage | None]]) -> None:
    rules = parse_rules(TEST_RULES)
    assert run(rules, steps) == run(rules, steps)  # same messages, same outcomes and keys


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


# --- what ingest may keep out of the rules' transaction ---------------------------------------

def _state(engine: RuleEngine) -> tuple[object, ...]:
    return (engine._tracked, engine._clusters, engine._last_at, engine._inside)  # noqa: SLF001


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=scenarios())
def test_a_message_the_rules_do_not_concern_changes_nothing(
        steps: list[tuple[float, FieldMessage | None]]) -> None:
    clock = FakeClock()
    engine = RuleEngine(parse_rules(TEST_RULES), clock)
    for minutes, message in steps:
        clock.advance(minutes=minutes)
        if message is None:
            continue
        concerned = engine.concerns(message)
        before = _state(engine.fork())
        outcomes = engine.evaluate(envelope("water", Kind.OBSERVATION, clock.now), message)
        if not concerned:
            assert outcomes == [] and _state(engine) == before, message


def test_what_the_rules_concern(rig: Rig) -> None:
    engine = rig.engine
    now = rig.clock.now

    def obs(sensor: str, quantity: str, unit: str, value: float = 1.0,
            at: tuple[float, float] = QILIHE) -> Observation:
        return Observation(id=next_id(sensor), ts=now, sensor=sensor, quantity=quantity,
                           unit=unit, value=value, lat=at[0], lon=at[1])

    def alarm(at: tuple[float, float], state: AlarmState = AlarmState.ACTIVE) -> Alarm:
        return Alarm(id=next_id("d"), ts=now, device="d", type="smoke", state=state,
                     lat=at[0], lon=at[1])

    assert engine.concerns(obs("xt-wl-qilihe-01", "water_level", "m"))  # a watched gauge
    assert not engine.concerns(obs("xt-wl-qilihe-01", "water_level", "m", math.nan))
    assert not engine.concerns(obs("xt-rain-001", "rainfall", "mm"))  # no rule on rainfall
    assert engine.concerns(obs("s1", "h2s", "ppm", at=SEWAGE_WORKS))  # gas at a site
    assert not engine.concerns(obs("s1", "h2s", "ppm", at=FIRE))  # gas far from every site
    assert engine.concerns(alarm(SCHOOL))
    assert not engine.concerns(alarm(SCHOOL, AlarmState.TEST))
    assert not engine.concerns(alarm(offset(SCHOOL, north_m=400)))
    assert engine.concerns(Report(id="r", ts=now, type="medical", lat=FIRE[0], lon=FIRE[1],
                                  text="120"))
    truck = Position(id="p", ts=now, unit="t", unit_type="hazmat_truck", lat=1.0, lon=1.0)
    assert engine.concerns(truck)
    assert not engine.concerns(msgspec.structs.replace(truck, unit_type="patrol_car"))
