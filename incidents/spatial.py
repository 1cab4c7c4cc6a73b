"""What the command service asks of spatial analysis, as a protocol `maps/` implements.

`incidents/` must not import `maps/` (maps depends on incidents); the command service takes
an implementation of `Spatial`, chosen once at start-up, and speaks only these structs.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

import msgspec


class UnitPoint(msgspec.Struct, frozen=True, kw_only=True):
    """A unit's latest known place and whether it can take a task."""

    unit: str
    """Unit id."""
    agency: str
    """Owning agency code."""
    unit_kind: str | None
    """Kind of unit (taxonomy unit kind code, e.g. fire_engine), if known."""
    lat: float
    """WGS-84 latitude."""
    lon: float
    """WGS-84 longitude."""
    available: bool
    """False when engaged, off duty or out of service."""


class UnitChanges(msgspec.Struct, frozen=True, kw_only=True):
    """Units changed since a watermark."""

    points: list[UnitPoint]
    """Changed units; `available` reflects their own status only."""
    last_seen: dict[str, datetime]
    """Time of each changed unit's latest position."""
    watermark: datetime | None
    """The latest row change seen: ask for changes after it (less a margin) next time."""


class NearUnit(msgspec.Struct, frozen=True, kw_only=True):
    """A unit found near a point, with its great-circle distance."""

    unit: UnitPoint
    """The unit."""
    distance_m: float
    """Distance from the query point in metres."""


class DistrictRef(msgspec.Struct, frozen=True, kw_only=True):
    """A county-level division (行政区) a point falls in."""

    code: str
    """GB/T 2260 code, e.g. 130502."""
    name_zh: str
    """Chinese name."""
    name_en: str
    """English name (pinyin)."""


class Facility(msgspec.Struct, frozen=True, kw_only=True):
    """A point of a facilities or cameras layer near a query point."""

    id: str
    """Feature id, unique within its layer."""
    layer: str
    """Layer name the feature came from."""
    kind: str
    """Facility kind: hospital, school, shelter, hazardous_site, camera, reservoir, …"""
    name: str
    """Display name (as the layer gives it)."""
    lat: float
    """WGS-84 latitude."""
    lon: float
    """WGS-84 longitude."""
    distance_m: float
    """Distance from the query point in metres."""
    properties: dict[str, str | int | float | bool | None] = msgspec.field(default_factory=dict)
    """The feature's other attributes (capacity, beds, direction of view …)."""


class DownwindZone(msgspec.Struct, frozen=True, kw_only=True):
    """Where a gas release drifts with the wind, and what is inside (decision support)."""

    wind_from_deg: float
    """Wind direction (where it blows from), degrees clockwise from north."""
    wind_speed_ms: float
    """Wind speed, m/s."""
    downwind_deg: float
    """Bearing the gas travels towards."""
    isolation_m: float
    """Radius of the initial isolation circle."""
    protective_m: float
    """Downwind protective action distance."""
    geojson: dict[str, Any]
    """The isolation circle and the protective action zone, as a FeatureCollection."""
    population: int
    """Estimated people inside the zone."""
    facilities: list[Facility]
    """Facilities inside the zone, nearest the source first."""


class Spatial(Protocol):
    """Spatial questions the command service asks; implemented in maps/."""

    def district_of(self, lat: float, lon: float) -> DistrictRef | None:
        """The district containing the point, or None outside the city."""
        ...

    def facilities_near(self, lat: float, lon: float, radius_m: float,
                        kinds: Iterable[str] | None = None) -> list[Facility]:
        """Facilities (and cameras) within `radius_m`, nearest first; all kinds when None."""
        ...

    def population_within(self, lat: float, lon: float, radius_m: float) -> int:
        """Estimated people living within `radius_m` of the point."""
        ...

    def downwind_zone(self, lat: float, lon: float, *, wind_from_deg: float,
                      wind_speed_ms: float, large: bool, night: bool) -> DownwindZone:
        """The hazard zone of a gas release at the point in this wind, and what is inside."""
        ...



class UnitIndex(Protocol):
    """Units by place, built once and updated as they move; answers nearest-unit queries."""

    def update(self, points: Iterable[UnitPoint]) -> None:
        """Insert or move these units (a unit id seen before is replaced)."""
        ...

    def remove(self, units: Iterable[str]) -> None:
        """Forget these unit ids; unknown ids are ignored."""
        ...

    def nearest(self, lat: float, lon: float, *, agency: str | None, unit_kind: str | None,
                k: int, available_only: bool = True) -> list[NearUnit]:
        """The `k` nearest matching units, nearest first."""
        ...
