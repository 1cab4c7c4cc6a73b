"""The rule set compiled for lookups: watches by sensor and gas, area polygons, report specs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from incidents.geo import haversine_m
from incidents.model import Level
from incidents.outcomes import Rule, gauge_key, site_key
from ingest.rules.config import (
    AlarmType,
    Area,
    Gas,
    GasLimit,
    GeofenceRule,
    RuleSet,
    Site,
    area_polygon,
    severity,
    unit_key,
)
from maps.analysis.geofence import Fence, FenceIndex


@dataclass(frozen=True, slots=True)
class Rung:
    """One threshold of a watch: above `limit`, the incident is at least `level`."""

    limit: float
    level: Level
    name_zh: str
    name_en: str


@dataclass(frozen=True, slots=True)
class Watch:
    """A threshold rule bound to one incident key: a gauge, or one gas at one site."""

    key: str
    rule: Rule
    type: str
    lat: float
    lon: float
    rungs: tuple[Rung, ...]
    """Ascending limits."""
    step: float
    """Rise over the last reported maximum that is worth an update."""
    place_zh: str
    place_en: str
    what_zh: str
    """What is measured, as it reads before 超 in a title (empty for a gauge)."""
    what_en: str
    unit: str

    def rung_for(self, value: float) -> Rung | None:
        """The highest threshold `value` is above, if any."""
        crossed = None
        for rung in self.rungs:
            if value > rung.limit:
                crossed = rung
        return crossed


@dataclass(frozen=True, slots=True)
class ReportSpec:
    """How reports of one type are correlated and named."""

    type: str
    name_zh: str
    name_en: str
    radius_m: float
    window: timedelta
    level: Level
    correlate: bool


class RuleIndex:
    """Lookups over an immutable RuleSet, built once and shared by engine forks."""

    __slots__ = ("_alarm_types", "_area_index", "_areas", "_fences", "_gases", "_gauges",
                 "_report_specs", "_reports_default", "_sites", "rules")

    def __init__(self, rules: RuleSet) -> None:
        """Compile `rules`, which load_rules has already checked."""
        self.rules = rules
        river = rules.river
        self._gauges = {
            g.sensor: Watch(
                key=gauge_key(g.sensor), rule=Rule.RIVER_GAUGE, type=river.type, lat=g.lat,
                lon=g.lon, step=river.new_max_step_m, unit=river.unit,
                place_zh=f"{g.station}（{g.river}）", place_en=f"{g.station_en} ({g.river_en})",
                what_zh="", what_en="water level",
                rungs=(Rung(g.warning_m, g.warning_level or river.warning_level,
                            "警戒水位", "warning level"),
                       Rung(g.guarantee_m, g.guarantee_level or river.guarantee_level,
                            "保证水位", "guarantee level")),
            )
            for g in rules.river.gauges
        }
        self._gases = {(g.quantity, unit_key(g.unit)): g for g in rules.gases}
        gases = {g.id: g for g in rules.gases}
        self._sites: dict[str, list[tuple[Site, Watch]]] = {}
        for site in rules.sites:
            for limit in site.limits:
                gas = gases[limit.gas]
                self._sites.setdefault(gas.id, []).append((site, _site_watch(site, gas, limit)))
        # Most severe first, so the first area that contains a point is the one to raise.
        self._areas: tuple[Area, ...] = tuple(
            sorted(rules.areas, key=lambda a: -severity(a.level)))
        # The maps' fence index (a grid over the fences, prepared geometries at the edges)
        # answers point-in-area; only its read-only `fences_containing` is used, so engine
        # forks share it safely. Fence ids are positions in self._areas.
        self._area_index = FenceIndex([
            Fence(id=str(n), name=a.name, geometry=area_polygon(a.ring), kind=a.kind)
            for n, a in enumerate(self._areas)])
        self._alarm_types = {a.alarm: a for a in rules.alarms}
        self._fences: dict[str, tuple[GeofenceRule, ...]] = {}
        for fence in rules.geofences:
            for unit_type in fence.unit_types:
                self._fences[unit_type] = (*self._fences.get(unit_type, ()), fence)
        reports = rules.reports
        self._report_specs = {
            t.type: ReportSpec(
                type=t.type, name_zh=t.name_zh, name_en=t.name_en,
                radius_m=t.radius_m or reports.radius_m,
                window=timedelta(minutes=t.window_min or reports.window_min),
                level=t.level or reports.level, correlate=t.correlate)
            for t in reports.types
        }
        self._reports_default = (reports.radius_m, timedelta(minutes=reports.window_min),
                                 reports.level)

    def gauge(self, sensor: str, quantity: str, unit: str) -> Watch | None:
        """The watch of a gauge reading, if the sensor is a gauge and the reading a level."""
        river = self.rules.river
        if quantity != river.quantity or unit_key(unit) != unit_key(river.unit):
            return None
        return self._gauges.get(sensor)

    def gas(self, quantity: str, unit: str) -> Gas | None:
        """The gas a reading measures, if its quantity and unit are configured."""
        return self._gases.get((quantity, unit_key(unit)))

    def site_watch(self, gas: Gas, lat: float, lon: float) -> Watch | None:
        """The watch of the nearest site with a limit for `gas` within its radius of a point."""
        best: tuple[float, Watch] | None = None
        for site, watch in self._sites.get(gas.id, ()):
            distance = haversine_m(lat, lon, site.lat, site.lon)
            if distance <= site.radius_m and (best is None or distance < best[0]):
                best = (distance, watch)
        return None if best is None else best[1]

    def area_at(self, lat: float, lon: float) -> Area | None:
        """The most severe sensitive area containing the point (its boundary included)."""
        found = self._area_index.fences_containing(lat, lon)  # in fence order: most severe first
        return self._areas[int(found[0].id)] if found else None

    def fence_rules(self, unit_type: str | None) -> tuple[GeofenceRule, ...]:
        """The geofence rules that watch vehicles of this kind (usually none)."""
        return self._fences.get(unit_type or "", ())

    def alarm_type(self, alarm: str) -> AlarmType:
        """Names and incident type of an alarm type; unlisted types raise their own type."""
        found = self._alarm_types.get(alarm)
        return found or AlarmType(alarm=alarm, incident=alarm, name_zh=alarm, name_en=alarm)

    def report_spec(self, report_type: str) -> ReportSpec:
        """Correlation settings of a report type; unlisted types take the defaults."""
        found = self._report_specs.get(report_type)
        if found is None:
            radius, window, level = self._reports_default
            found = ReportSpec(type=report_type, name_zh=report_type, name_en=report_type,
                               radius_m=radius, window=window, level=level, correlate=True)
        return found


def _site_watch(site: Site, gas: Gas, limit: GasLimit) -> Watch:
    rungs = [Rung(limit.alarm, gas.alarm_level, "一级报警值", "alarm limit")]
    if limit.danger is not None:
        rungs.append(Rung(limit.danger, gas.danger_level, "二级报警值", "danger limit"))
    return Watch(key=site_key(site.id, gas.id), rule=Rule.HAZARDOUS_SITE, type=gas.type,
                 lat=site.lat, lon=site.lon, rungs=tuple(rungs), step=gas.new_max_step,
                 place_zh=site.name, place_en=site.name_en, what_zh=f"{gas.name_zh}浓度",
                 what_en=gas.name_en, unit=gas.unit)
