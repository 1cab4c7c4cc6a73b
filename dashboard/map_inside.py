"""Draw-to-query (框选查询): what lies inside a polygon or circle drawn on the map.

`parse_inside` validates the body of POST /api/analysis/inside once, at the edge: a GeoJSON
Polygon or MultiPolygon (WGS-84 [lon, lat] positions, closed rings), or a circle as
``{"center": {"lat", "lon"}, "radius_m"}``. `inside` then answers from the spatial indexes of
the stored layers (facilities, population) and the live units and incidents. No I/O here.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Final, Literal

import msgspec
import numpy as np
import shapely
from msgspec import Meta

from dashboard.geojson import is_online
from incidents.model import Incident, UnitState
from incidents.spatial import Facility
from maps.analysis.geodesy import area_m2, circle, haversine_array_m
from maps.analysis.spatial import LayerSpatial

MAX_RADIUS_M: Final = 200_000.0
"""Largest circle accepted: the whole municipality fits in 150 km."""
MAX_POSITIONS: Final = 20_000
"""Most vertices a drawn zone may have."""
MAX_LISTED: Final = 500
"""Most facilities listed one by one (the counts cover all of them)."""

Lat = Annotated[float, Meta(ge=-90, le=90)]
Lon = Annotated[float, Meta(ge=-180, le=180)]
Position = Annotated[list[float], Meta(min_length=2, max_length=3)]
Ring = Annotated[list[Position], Meta(min_length=4)]


class LatLon(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A WGS-84 point."""

    lat: Lat
    """Latitude, degrees north."""
    lon: Lon
    """Longitude, degrees east."""


class CircleZone(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A circle as the map draws it."""

    center: LatLon
    """Centre of the circle."""
    radius_m: Annotated[float, Meta(gt=0, le=MAX_RADIUS_M)]
    """Radius in metres."""


class PolygonGeometry(msgspec.Struct, frozen=True, forbid_unknown_fields=True,
                      tag_field="type", tag="Polygon"):
    """A GeoJSON Polygon: an outer ring and holes, each closed."""

    coordinates: Annotated[list[Ring], Meta(min_length=1)]
    """Rings of [lon, lat] positions."""


class MultiPolygonGeometry(msgspec.Struct, frozen=True, forbid_unknown_fields=True,
                           tag_field="type", tag="MultiPolygon"):
    """A GeoJSON MultiPolygon."""

    coordinates: Annotated[list[Annotated[list[Ring], Meta(min_length=1)]], Meta(min_length=1)]
    """Polygons, each a list of rings of [lon, lat] positions."""


class InsideRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The body of POST /api/analysis/inside."""

    geometry: dict[str, Any]
    """A GeoJSON Polygon / MultiPolygon, or ``{"center": {"lat", "lon"}, "radius_m"}``."""
    kinds: list[str] | None = None
    """Only facilities of these kinds (hospital, school, …); all kinds when absent."""


class InvalidZone(ValueError):
    """The drawn zone cannot be analysed; the message says why (in English, then Chinese)."""

    def __init__(self, en: str, zh: str) -> None:
        super().__init__(en)
        self.en = en
        self.zh = zh


@dataclass(frozen=True, slots=True)
class Zone:
    """A validated zone, ready for the analysis."""

    shape: shapely.Geometry
    """Polygonal WGS-84 geometry (a 64-gon for circles, for display only)."""
    center: tuple[float, float]
    """(lat, lon): the circle's centre, or a point inside the polygon; distances start here."""
    radius_m: float | None
    """The circle's radius; None for polygons."""
    kinds: tuple[str, ...] | None
    """Facility kinds asked for; None for all."""


def _polygon(rings: Sequence[Sequence[Sequence[float]]]) -> shapely.Polygon:
    for ring in rings:
        if list(ring[0][:2]) != list(ring[-1][:2]):
            raise InvalidZone("every ring must be closed: its last position repeats the first",
                              "多边形的每个环须闭合（末点与首点相同）")
        for position in ring:
            lon, lat = position[0], position[1]
            if not (-180 <= lon <= 180 and -90 <= lat <= 90) or not math.isfinite(lon + lat):
                raise InvalidZone(f"position {list(position)} is not a [lon, lat] in degrees",
                                  f"坐标 {list(position)} 不是以度为单位的 [经度, 纬度]")
    shell, *holes = ([(p[0], p[1]) for p in ring] for ring in rings)
    return shapely.Polygon(shell, holes)


def _polygonal(geometry: shapely.Geometry) -> shapely.Geometry:
    """The areas of a possibly invalid polygon (a bow-tie becomes two triangles)."""
    repaired = shapely.make_valid(geometry) if not geometry.is_valid else geometry
    parts = [g for g in shapely.get_parts(repaired) if g.geom_type in ("Polygon", "MultiPolygon")]
    merged = shapely.union_all(parts) if parts else shapely.Polygon()
    if merged.is_empty or merged.area <= 0:
        raise InvalidZone("the zone encloses no area", "所画范围没有面积")
    return merged


def zone_from_request(request: InsideRequest) -> Zone:
    """Check the geometry of a decoded request; raise InvalidZone with the reason."""
    kinds = tuple(request.kinds) if request.kinds else None
    geometry = request.geometry
    if "center" in geometry or "radius_m" in geometry:
        try:
            drawn = msgspec.convert(geometry, CircleZone)
        except msgspec.ValidationError as exc:
            raise InvalidZone(f"invalid circle: {exc}", f"圆形范围不合法：{exc}") from exc
        lat, lon = drawn.center.lat, drawn.center.lon
        return Zone(circle(lat, lon, drawn.radius_m), (lat, lon), drawn.radius_m, kinds)
    try:
        parsed = msgspec.convert(geometry, PolygonGeometry | MultiPolygonGeometry)
    except msgspec.ValidationError as exc:
        raise InvalidZone(f"invalid geometry: {exc}; send a GeoJSON Polygon or MultiPolygon,"
                          " or a circle as {center: {lat, lon}, radius_m}",
                          f"范围不合法：{exc}；请发送 GeoJSON 多边形，或圆形"
                          " {center: {lat, lon}, radius_m}") from exc
    polygons = ([parsed.coordinates] if isinstance(parsed, PolygonGeometry)
                else parsed.coordinates)
    if sum(len(ring) for rings in polygons for ring in rings) > MAX_POSITIONS:
        raise InvalidZone(f"the zone has more than {MAX_POSITIONS} vertices",
                          f"范围的顶点超过 {MAX_POSITIONS} 个")
    shape = _polygonal(shapely.MultiPolygon([_polygon(rings) for rings in polygons]))
    point = shape.representative_point() if not shape.centroid.within(shape) else shape.centroid
    return Zone(shape, (float(point.y), float(point.x)), None, kinds)


def parse_inside(body: bytes) -> Zone:
    """Decode and check a request body; raise InvalidZone (or msgspec errors) on bad input."""
    try:
        request = msgspec.json.decode(body, type=InsideRequest)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise InvalidZone(f"invalid request: {exc}", f"请求不合法：{exc}") from exc
    return zone_from_request(request)


class InsideUnit(msgspec.Struct, frozen=True, kw_only=True):
    """A unit inside the zone."""

    unit: str
    """Call sign."""
    agency: str
    """Owning agency code."""
    unit_type: str | None
    """Kind of unit, when known."""
    lat: float
    """Latitude of its last fix."""
    lon: float
    """Longitude of its last fix."""
    ts: datetime
    """Time of its last fix."""
    online: bool
    """True when the last fix is recent."""
    distance_m: float
    """Distance from the zone's centre."""


class InsideIncident(msgspec.Struct, frozen=True, kw_only=True):
    """An open incident inside the zone."""

    id: str
    """Incident id."""
    type: str
    """Incident type code."""
    level: str
    """Severity level I–IV."""
    status: str
    """Life-cycle status."""
    title: str
    """Title as reported."""
    lat: float
    """Latitude."""
    lon: float
    """Longitude."""
    distance_m: float
    """Distance from the zone's centre."""


class InsideResult(msgspec.Struct, frozen=True, kw_only=True):
    """What lies inside a drawn zone."""

    shape: Literal["polygon", "circle"]
    """What was drawn."""
    center: LatLon
    """Where distances are measured from."""
    radius_m: float | None
    """The circle's radius; None for polygons."""
    area_km2: float
    """Area of the zone."""
    population: int
    """Estimated residents (population grid cells counted by the share of their area)."""
    facility_counts: dict[str, int]
    """Facilities (and cameras) inside, per kind."""
    facilities_total: int
    """All facilities inside (the list may be shorter)."""
    facilities: list[Facility]
    """Facilities inside, nearest the centre first, at most MAX_LISTED."""
    live: bool
    """False when the live state could not be read: units and incidents are then null."""
    units: list[InsideUnit] | None
    """Units whose last fix is inside, nearest first."""
    incidents: list[InsideIncident] | None
    """Open incidents inside, nearest first."""


def _inside_mask(zone: Zone, lats: Sequence[float], lons: Sequence[float]) -> tuple[
        np.ndarray[Any, np.dtype[np.bool_]], np.ndarray[Any, np.dtype[np.float64]]]:
    lat0, lon0 = zone.center
    if not lats:
        return np.zeros(0, dtype=np.bool_), np.zeros(0, dtype=np.float64)
    distances = haversine_array_m(lat0, lon0, np.asarray(lats), np.asarray(lons))
    if zone.radius_m is not None:
        return distances <= zone.radius_m, distances
    shapely.prepare(zone.shape)
    return shapely.contains_xy(zone.shape, np.asarray(lons), np.asarray(lats)), distances


def units_inside(zone: Zone, units: Iterable[UnitState], now: datetime,
                 online_s: int) -> list[InsideUnit]:
    """Units whose last fix lies inside the zone, nearest the centre first."""
    found = list(units)
    mask, distances = _inside_mask(zone, [u.lat for u in found], [u.lon for u in found])
    hits = sorted((float(distances[i]), u.unit, u) for i, u in enumerate(found) if mask[i])
    return [InsideUnit(unit=u.unit, agency=u.agency, unit_type=u.unit_type, lat=u.lat,
                       lon=u.lon, ts=u.ts, online=is_online(u, now, online_s),
                       distance_m=round(d, 1)) for d, _, u in hits]


def incidents_inside(zone: Zone, incidents: Iterable[Incident]) -> list[InsideIncident]:
    """Open incidents inside the zone, nearest the centre first."""
    found = list(incidents)
    mask, distances = _inside_mask(zone, [i.lat for i in found], [i.lon for i in found])
    hits = sorted((float(distances[k]), i.id, i) for k, i in enumerate(found) if mask[k])
    return [InsideIncident(id=i.id, type=i.type, level=i.level.value, status=i.status.value,
                           title=i.title, lat=i.lat, lon=i.lon, distance_m=round(d, 1))
            for d, _, i in hits]


def inside(zone: Zone, spatial: LayerSpatial,
           live: tuple[Sequence[UnitState], Sequence[Incident]] | None, now: datetime,
           online_s: int) -> InsideResult:
    """Facilities, population, units and incidents inside the zone.

    ``live`` is None when the live state could not be read; the answer then says so.
    """
    lat, lon = zone.center
    if zone.radius_m is not None:
        facilities = spatial.facilities_near(lat, lon, zone.radius_m, zone.kinds)
        population = spatial.population_within(lat, lon, zone.radius_m)
        area_km2 = math.pi * zone.radius_m ** 2 / 1e6
    else:
        facilities = spatial.facilities_in(zone.shape, zone.kinds, origin=zone.center)
        population = spatial.population_in(zone.shape)
        area_km2 = area_m2(zone.shape) / 1e6
    counts = Counter(f.kind for f in facilities)
    return InsideResult(
        shape="circle" if zone.radius_m is not None else "polygon",
        center=LatLon(lat=round(lat, 6), lon=round(lon, 6)), radius_m=zone.radius_m,
        area_km2=round(area_km2, 3), population=population,
        facility_counts=dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        facilities_total=len(facilities), facilities=facilities[:MAX_LISTED],
        live=live is not None,
        units=None if live is None else units_inside(zone, live[0], now, online_s),
        incidents=None if live is None else incidents_inside(zone, live[1]),
    )
