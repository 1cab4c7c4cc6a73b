"""Simulated callers' reports, event by event, consistent with the rules (no I/O).

SYNTHETIC. Each simulated event (a fire, a flooded underpass …) is reported once as new; later
callers about the same event are follow-ups, placed and timed so that the rules' report
correlation joins them to the event's incident instead of opening another. Levels, distances
and time windows are read from the rules (config/rules.toml), never copied here, so that the
simulator raises the level the rules would give that kind of report.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from incidents.geo import haversine_m
from incidents.model import Level, Report
from ingest.rules.config import RuleSet
from ingest.rules.index import ReportSpec, RuleIndex
from ingest.sim_units import Hub

REPORTS: Final = (
    ("fire", "fire", "{place}居民楼起火，有浓烟，疑似有人被困"),
    ("traffic_accident", "police", "{place}路口两车相撞，有人员受伤"),
    ("chemical_leak", "safety", "{place}化工企业储罐阀门泄漏，有刺激性气味"),
    ("flood", "water", "{place}低洼路段积水深约40厘米，车辆涉水熄火"),
    ("crowd", "police", "{place}商业广场人员聚集，秩序混乱"),
    ("medical", "health", "{place}一名老人晕倒，需要急救"),
)
"""(type, receiving agency, what a caller says): the Chinese text is what the call-taker types."""
FOLLOW_UP_SHARE: Final = 0.3
"""Share of reports that are another caller about an event already reported."""
SPREAD_DEG: Final = 0.02
"""How far from its district's centre an event may be (degrees, about 2 km)."""
_FOLLOW_UP_SPREAD: Final = 0.4
"""A follow-up caller stands within this share of the rules' correlation radius."""
_M_PER_DEG: Final = 111_320.0
_PLACEMENT_TRIES: Final = 10
"""Tries to place a new event apart from the events of its type still being reported."""


@dataclass(slots=True)
class SimEvent:
    """Something happening that callers report: one incident's worth."""

    id: str
    """Unique in this run (and across runs): the reports' ids start with it."""
    type: str
    """Report type, e.g. flood."""
    agency: str
    """Agency whose call centre takes the calls."""
    place: str
    """District name the callers mention."""
    text: str
    """What the first caller says."""
    lat: float
    """Where it happens, WGS-84."""
    lon: float
    """Where it happens, WGS-84."""
    level: Level
    """The level the rules give reports of this type."""
    last_at: datetime
    """When the latest report about it was made."""
    reports: int = 1
    """Reports made about it so far."""


class EventReports:
    """Makes callers' reports: a new event, or a follow-up about one still being reported."""

    def __init__(self, hubs: Sequence[Hub], rules: RuleSet, rng: random.Random, *,
                 new_id: Callable[[], str], follow_up_share: float = FOLLOW_UP_SHARE) -> None:
        if not hubs:
            raise ValueError("no hubs to place events at")
        self._hubs = list(hubs)
        self._index = RuleIndex(rules)
        self._rng = rng
        self._new_id = new_id
        self._follow_up_share = follow_up_share
        self.active: list[SimEvent] = []
        """Events that a follow-up would still join (inside the rules' time window)."""

    def spec(self, report_type: str) -> ReportSpec:
        """What the rules say about reports of `report_type` (level, radius, window)."""
        return self._index.report_spec(report_type)

    def next_report(self, now: datetime) -> tuple[str, Report] | None:
        """The next caller's report with the agency that takes it; None when none fits."""
        # The rules keep a report cluster while its latest report is at most `window` old.
        self.active = [e for e in self.active if now - e.last_at <= self.spec(e.type).window]
        joinable = [e for e in self.active if self.spec(e.type).correlate]
        if joinable and self._rng.random() < self._follow_up_share:
            return self._follow_up(self._rng.choice(joinable), now)
        event = self._new_event(now)
        if event is None:
            return self._follow_up(self._rng.choice(joinable), now) if joinable else None
        self.active.append(event)
        return event.agency, self._report(event, event.lat, event.lon, event.text, now)

    def _new_event(self, now: datetime) -> SimEvent | None:
        """A new event of a type and district not already being reported, if any is left."""
        taken = {(e.type, e.place) for e in self.active}
        choices = [(kind, hub) for kind in REPORTS for hub in self._hubs
                   if (kind[0], hub.name) not in taken]
        if not choices:
            return None
        (report_type, agency, text_zh), hub = self._rng.choices(
            choices, [hub.weight for _, hub in choices])[0]
        spec = self.spec(report_type)
        # Apart from the other events of its type by twice the correlation radius: its first
        # report opens its own incident, and its follow-ups cannot join a neighbour's.
        others = [(e.lat, e.lon) for e in self.active if e.type == report_type]
        for _ in range(_PLACEMENT_TRIES):
            lat = round(hub.lat + self._rng.uniform(-SPREAD_DEG, SPREAD_DEG), 6)
            lon = round(hub.lon + self._rng.uniform(-SPREAD_DEG, SPREAD_DEG), 6)
            if all(haversine_m(lat, lon, *other) > 2 * spec.radius_m for other in others):
                return SimEvent(id=f"sim-{self._new_id()}", type=report_type, agency=agency,
                                place=hub.name, text=text_zh.format(place=hub.name),
                                lat=lat, lon=lon, level=spec.level, last_at=now)
        return None  # crowded: this caller's event is left out

    def _follow_up(self, event: SimEvent, now: datetime) -> tuple[str, Report]:
        """Another caller near the event: close enough that the rules join the report."""
        event.reports += 1
        event.last_at = now
        reach = self.spec(event.type).radius_m * _FOLLOW_UP_SPREAD * self._rng.random()
        bearing = self._rng.uniform(0.0, 2.0 * math.pi)
        lat = event.lat + reach * math.cos(bearing) / _M_PER_DEG
        lon = event.lon + reach * math.sin(bearing) / (
            _M_PER_DEG * math.cos(math.radians(event.lat)))
        text = f"又有群众报警：{event.text}（第{event.reports}位报警人）"
        return event.agency, self._report(event, round(lat, 6), round(lon, 6), text, now)

    def _report(self, event: SimEvent, lat: float, lon: float, text: str,
                now: datetime) -> Report:
        # The id is the event's and the caller's number: the same call sent twice is one row.
        return Report(id=f"{event.id}-{event.reports}", ts=now, type=event.type, lat=lat,
                      lon=lon, text=text, level=event.level, reporter="simulator")
