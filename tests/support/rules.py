"""The rule engine's test rig: the test rules, a clock the test moves, message builders."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from incidents.model import Alarm, AlarmState, Envelope, Kind, Level, Observation, Report
from ingest.rules import Correlated, OpenIncident, Outcome, RuleEngine, UpdateIncident

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
    """A message id unique in the test run, e.g. ``c119-7``."""
    return f"{prefix}-{next(_ids)}"


def offset(point: tuple[float, float], north_m: float = 0.0,
           east_m: float = 0.0) -> tuple[float, float]:
    """A point `north_m` north and `east_m` east of `point`."""
    lat, lon = point
    return (lat + north_m / 111_195.0,
            lon + east_m / (111_195.0 * math.cos(math.radians(lat))))


def envelope(agency: str, kind: Kind, at: datetime, source: str = "gw") -> Envelope:
    """The envelope of a message of `kind` from `agency`, received `at`."""
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


def only(outcomes: list[Outcome], kind: type[OutcomeT]) -> OutcomeT:
    """The one outcome, checked to be of `kind`."""
    assert len(outcomes) == 1, outcomes
    assert isinstance(outcomes[0], kind), outcomes
    return outcomes[0]
