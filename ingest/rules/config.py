"""The rules' configuration (config/rules.toml): frozen typed structs, checked once at load."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import Annotated, Final

import msgspec
import shapely
from shapely.validation import explain_validity

from incidents.model import Code, Latitude, Level, Longitude, UnitId

RULES_PACKAGE: Final = "config"
RULES_FILE: Final = "rules.toml"

RuleId = Annotated[str, msgspec.Meta(min_length=1, max_length=64,
                                     pattern=r"^[a-z0-9][a-z0-9._\-]*\Z")]
"""Id of a site or an area: lower case, digits, `.`, `_`, `-` (never `:`, the key separator)."""
GasId = Annotated[str, msgspec.Meta(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9]+\Z")]
"""Short chemical name of a gas, e.g. H2S, NH3, Cl2, CH4."""
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
UnitName = Annotated[str, msgspec.Meta(min_length=1, max_length=16)]
Metres = Annotated[float, msgspec.Meta(gt=0, le=100_000)]
Minutes = Annotated[float, msgspec.Meta(gt=0, le=7 * 24 * 60)]
Step = Annotated[float, msgspec.Meta(ge=0, le=1e6)]
Stage = Annotated[float, msgspec.Meta(ge=-500, le=9000)]
"""A water level (stage elevation) in metres; finite."""
Limit = Annotated[float, msgspec.Meta(gt=0, le=1e6)]
"""A gas limit in its unit; finite."""
Point = tuple[Latitude, Longitude]


class Gauge(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A river gauge (水位站) and its 警戒水位 / 保证水位."""

    sensor: UnitId
    """The sensor id its observations carry."""
    river: Name
    """River name, e.g. 七里河."""
    river_en: Name
    """River name in English."""
    station: Name
    """Station name, e.g. 七里河水文站."""
    station_en: Name
    """Station name in English."""
    lat: Latitude
    """Where the incident is placed, WGS-84."""
    lon: Longitude
    warning_m: Stage
    """警戒水位, metres (same datum as the readings)."""
    guarantee_m: Stage
    """保证水位, metres; above the warning level."""
    warning_level: Level | None = None
    """Level raised above the warning level; the [river] default when unset."""
    guarantee_level: Level | None = None
    """Level raised above the guarantee level; the [river] default when unset."""


class RiverRules(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Water levels against the gauges' warning and guarantee levels."""

    quantity: Code = "water_level"
    """Observation quantity of a water level."""
    unit: UnitName = "m"
    """Unit the gauges report in; readings in another unit are not compared."""
    type: Code = "flood"
    """Incident type raised."""
    warning_level: Level = Level.IV
    guarantee_level: Level = Level.II
    new_max_step_m: Step = 0.1
    """While above, a rise of this much over the last reported maximum updates the incident."""
    gauges: tuple[Gauge, ...] = msgspec.field(default=(), name="gauge")


class Gas(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A gas that hazardous sites measure, and what its breach raises."""

    id: GasId
    name_zh: Name
    name_en: Name
    quantity: Code
    """Observation quantity that carries it, e.g. h2s."""
    unit: UnitName
    """Unit of its limits; readings in another unit are not compared (ppm, %LEL, mg/m3 …)."""
    type: Code
    """Incident type raised, e.g. chemical_leak, gas_leak."""
    alarm_level: Level = Level.III
    """Level raised above a site's alarm limit (一级报警)."""
    danger_level: Level = Level.II
    """Level raised above a site's danger limit (二级报警)."""
    new_max_step: Step = 0.0
    """While above, a rise of this much over the last reported maximum updates the incident."""


class GasLimit(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A site's limits for one gas."""

    gas: GasId
    """Id of a [[gas]] entry."""
    alarm: Limit
    """一级报警值, in the gas's unit."""
    danger: Limit | None = None
    """二级报警值, above `alarm`; none means the alarm level is the only one."""


class Site(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A registered hazardous site (重大危险源)."""

    id: RuleId
    name: Name
    name_en: Name
    lat: Latitude
    lon: Longitude
    radius_m: Metres
    """Readings within this distance of the site are its readings."""
    limits: tuple[GasLimit, ...] = msgspec.field(name="limit")


class AlarmType(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How a device alarm type is named and which incident type it raises."""

    alarm: Code
    """Alarm type, e.g. smoke."""
    incident: Code
    """Incident type raised, e.g. fire."""
    name_zh: Name
    name_en: Name


class Area(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A sensitive area (敏感区域): school, hospital, dam, chemical park …"""

    id: RuleId
    kind: Code
    """school, hospital, reservoir_dam, chemical_park … (for display)."""
    name: Name
    name_en: Name
    level: Level
    """Level raised by an alarm inside."""
    ring: Annotated[tuple[Point, ...], msgspec.Meta(min_length=4)]
    """Outer boundary as [lat, lon] points, closed: the last point repeats the first."""


class ReportType(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Correlation settings of one report type; unset values take the [reports] defaults."""

    type: Code
    name_zh: Name
    name_en: Name
    radius_m: Metres | None = None
    window_min: Minutes | None = None
    level: Level | None = None
    correlate: bool = True
    """False: every report opens its own incident (e.g. medical calls)."""


class ReportRules(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Reports of one type close in space and time become one incident."""

    radius_m: Metres = 500.0
    """Greatest distance from the incident's first report."""
    window_min: Minutes = 15.0
    """Greatest time from the incident's latest report."""
    level: Level = Level.IV
    """Level of a new incident when the reporter gives none."""
    types: tuple[ReportType, ...] = msgspec.field(default=(), name="type")


class GeofenceRule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Vehicles of some kinds that must not enter sensitive areas of some kinds."""

    id: RuleId
    """Stable id of the rule (part of its incidents' keys)."""
    unit_types: Annotated[tuple[Code, ...], msgspec.Meta(min_length=1)]
    """Watched vehicle kinds (positions' unit_type), e.g. hazmat_truck."""
    area_kinds: Annotated[tuple[Code, ...], msgspec.Meta(min_length=1)]
    """Kinds of [[area]] they must stay out of, e.g. school."""
    type: Code
    """Incident type raised."""
    name_zh: Name
    """What happened, in Chinese (the incident's title starts with it)."""
    name_en: Name
    """What happened, in English."""
    level: Level = Level.IV
    """Level on entering."""
    dwell_min: Minutes
    """Minutes inside after which the incident escalates."""
    dwell_level: Level = Level.III
    """Level after `dwell_min` inside."""


class RuleSet(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything the rule engine needs, as loaded from config/rules.toml."""

    river: RiverRules = RiverRules()
    gases: tuple[Gas, ...] = msgspec.field(default=(), name="gas")
    sites: tuple[Site, ...] = msgspec.field(default=(), name="site")
    alarms: tuple[AlarmType, ...] = msgspec.field(default=(), name="alarm")
    areas: tuple[Area, ...] = msgspec.field(default=(), name="area")
    reports: ReportRules = ReportRules()
    geofences: tuple[GeofenceRule, ...] = msgspec.field(default=(), name="geofence")


class RulesError(ValueError):
    """The rules file is unreadable or inconsistent; the message says what to fix and where."""


def load_rules(path: Path | None = None) -> RuleSet:
    """Load and check `path`, or the rules shipped in config/rules.toml."""
    if path is None:
        resource = resources.files(RULES_PACKAGE) / RULES_FILE
        return parse_rules(resource.read_text("utf-8"), f"{RULES_PACKAGE}/{RULES_FILE}")
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"{path}: cannot read the rules file: {exc}") from exc
    return parse_rules(text, str(path))


def parse_rules(text: str, source: str = "<rules>") -> RuleSet:
    """Parse and check the TOML text of a rules file; `source` names it in errors."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{source}: not valid TOML: {exc}") from exc
    try:
        rules = msgspec.convert(raw, RuleSet)
    except msgspec.ValidationError as exc:
        raise RulesError(f"{source}: {exc}{_hint(str(exc))}") from exc
    problems = list(_problems(rules))
    if problems:
        raise RulesError(f"{source}: " + "; ".join(problems))
    return rules


def _hint(error: str) -> str:
    """What to do about a type error msgspec reports, where the message alone is terse."""
    if "unknown field" in error:
        return " (misspelt, or not a key there: see ingest/rules/config.py for the keys)"
    if "matching regex" in error:
        return " (ids and codes: lower-case letters, digits, '.', '_', '-'; never ':')"
    if "enum value" in error:
        return " (levels are I, II, III, IV)" if "level" in error else ""
    return ""


_SEVERITY: Final = {Level.IV: 1, Level.III: 2, Level.II: 3, Level.I: 4}


def unit_key(unit: str) -> str:
    """A unit as compared: case and surrounding spaces ignored (%LEL = %lel)."""
    return unit.strip().casefold()


def severity(level: Level) -> int:
    """Rank of a level: higher is more severe (I is 4)."""
    return _SEVERITY[level]


def _problems(rules: RuleSet) -> Iterator[str]:
    """Every inconsistency msgspec's types cannot express, each with where it is."""
    river = rules.river
    yield from _duplicates("$.river.gauge", "sensor", (g.sensor for g in river.gauges))
    for i, gauge in enumerate(river.gauges):
        where = f"$.river.gauge[{i}] ({gauge.sensor})"
        if gauge.guarantee_m <= gauge.warning_m:
            yield (f"{where}: guarantee_m {gauge.guarantee_m} must be above "
                   f"warning_m {gauge.warning_m}")
        warning = gauge.warning_level or river.warning_level
        guarantee = gauge.guarantee_level or river.guarantee_level
        if severity(guarantee) < severity(warning):
            yield (f"{where}: guarantee level {guarantee} must be at least as severe as "
                   f"warning level {warning}")
    yield from _duplicates("$.gas", "id", (g.id for g in rules.gases))
    yield from _duplicates("$.gas", "quantity and unit",
                           (f"{g.quantity} {unit_key(g.unit)}" for g in rules.gases))
    for i, gas in enumerate(rules.gases):
        if severity(gas.danger_level) < severity(gas.alarm_level):
            yield (f"$.gas[{i}] ({gas.id}): danger_level {gas.danger_level} must be at least "
                   f"as severe as alarm_level {gas.alarm_level}")
    gases = {g.id for g in rules.gases}
    yield from _duplicates("$.site", "id", (s.id for s in rules.sites))
    for i, site in enumerate(rules.sites):
        yield from _duplicates(f"$.site[{i}].limit", "gas", (lim.gas for lim in site.limits))
        for j, limit in enumerate(site.limits):
            where = f"$.site[{i}].limit[{j}] ({site.id} {limit.gas})"
            if limit.gas not in gases:
                yield (f"{where}: unknown gas {limit.gas!r}; add a [[gas]] entry with "
                       f"id = {limit.gas!r} or use one of {sorted(gases)}")
            if limit.danger is not None and limit.danger <= limit.alarm:
                yield f"{where}: danger {limit.danger} must be above alarm {limit.alarm}"
    yield from _duplicates("$.alarm", "alarm", (a.alarm for a in rules.alarms))
    yield from _duplicates("$.area", "id", (a.id for a in rules.areas))
    for i, area in enumerate(rules.areas):
        yield from _ring_problems(f"$.area[{i}].ring ({area.id})", area.ring)
    yield from _duplicates("$.reports.type", "type", (t.type for t in rules.reports.types))
    yield from _duplicates("$.geofence", "id", (g.id for g in rules.geofences))
    area_kinds = {a.kind for a in rules.areas}
    for i, fence in enumerate(rules.geofences):
        unknown = sorted(set(fence.area_kinds) - area_kinds)
        if unknown:
            yield (f"$.geofence[{i}] ({fence.id}): no [[area]] of kind {', '.join(unknown)};"
                   f" areas have kinds {sorted(area_kinds)}")
        if severity(fence.dwell_level) < severity(fence.level):
            yield (f"$.geofence[{i}] ({fence.id}): dwell_level {fence.dwell_level} must be at"
                   f" least as severe as level {fence.level}")


def _duplicates(where: str, what: str, values: Iterable[str]) -> Iterator[str]:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            yield f"{where}: {what} {value!r} appears more than once"
        seen.add(value)


def _ring_problems(where: str, ring: tuple[Point, ...]) -> Iterator[str]:
    if ring[0] != ring[-1]:
        yield (f"{where}: polygon not closed: the last point {list(ring[-1])} must repeat "
               f"the first {list(ring[0])}")
        return
    polygon = area_polygon(ring)
    if not polygon.is_valid:
        yield f"{where}: not a simple polygon: {explain_validity(polygon)} (as lon/lat)"


def area_polygon(ring: tuple[Point, ...]) -> shapely.Polygon:
    """The polygon of an [lat, lon] ring, in shapely's (x=lon, y=lat) order."""
    return shapely.Polygon([(lon, lat) for lat, lon in ring])
