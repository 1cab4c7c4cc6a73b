"""Draw-to-query: the request is checked once at the edge (closed rings, degrees, circles with a
positive radius, no unknown fields), and the answer counts what lies inside."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import shapely

from dashboard.map_inside import (
    MAX_POSITIONS,
    InvalidZone,
    inside,
    parse_inside,
)
from incidents.model import Incident, IncidentStatus, Level, UnitState
from maps.analysis.spatial import LayerSpatial

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
SQUARE = [[114.48, 37.05], [114.50, 37.05], [114.50, 37.07], [114.48, 37.07], [114.48, 37.05]]


def body(geometry: Any, **extra: Any) -> bytes:
    return json.dumps({"geometry": geometry, **extra}).encode()


def polygon(*rings: list[Any]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": list(rings)}


def test_a_polygon_becomes_a_zone_with_a_centre_inside() -> None:
    zone = parse_inside(body(polygon(SQUARE), kinds=["hospital"]))
    assert zone.radius_m is None and zone.kinds == ("hospital",)
    assert zone.center == pytest.approx((37.06, 114.49))
    assert zone.shape.area == pytest.approx(0.0004)


def test_a_hole_is_left_out_and_an_l_shape_keeps_its_centre_inside() -> None:
    hole = [[114.485, 37.055], [114.495, 37.055], [114.495, 37.065], [114.485, 37.065],
            [114.485, 37.055]]
    assert parse_inside(body(polygon(SQUARE, hole))).shape.area == pytest.approx(0.0003)
    ell = [[0, 0], [2, 0], [2, 0.2], [0.2, 0.2], [0.2, 2], [0, 2], [0, 0]]
    zone = parse_inside(body(polygon(ell)))
    lat, lon = zone.center
    assert zone.shape.contains(shapely.Point(lon, lat))


def test_a_multipolygon_and_positions_with_altitude_are_accepted() -> None:
    second = [[p[0] + 0.1, p[1], 12.5] for p in SQUARE]
    zone = parse_inside(body({"type": "MultiPolygon", "coordinates": [[SQUARE], [second]]}))
    assert zone.shape.area == pytest.approx(0.0008)


def test_a_self_crossing_polygon_is_repaired_into_its_areas() -> None:
    bow_tie = [[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]
    zone = parse_inside(body(polygon(bow_tie)))
    assert zone.shape.area == pytest.approx(0.5)


def test_a_circle_keeps_its_centre_and_radius() -> None:
    zone = parse_inside(body({"center": {"lat": 37.06, "lon": 114.49}, "radius_m": 500}))
    assert (zone.center, zone.radius_m) == ((37.06, 114.49), 500)
    assert zone.shape.contains(shapely.Point(114.49, 37.06))


@pytest.mark.parametrize(("payload", "en", "zh"), [
    (body(polygon(SQUARE[:-1])), "must be closed", "闭合"),
    (body(polygon([[200, 37], [201, 37], [201, 38], [200, 37]])), "is not a [lon, lat]", "经度"),
    (body(polygon([[0, 0], [1, 1], [2, 2], [0, 0]])), "encloses no area", "没有面积"),
    (body(polygon([[0, 0], [1, 1], [0, 0]])), "length >= 4", "不合法"),
    (body({"center": {"lat": 37, "lon": 114}, "radius_m": -5}), "> 0", "圆形"),
    (body({"center": {"lat": 37, "lon": 114}, "radius_m": 5e6}), "<= 200000", "圆形"),
    (body({"center": [114, 37], "radius_m": 50}), "Expected `object`", "圆形"),
    (body({"type": "Point", "coordinates": [114.5, 37]}), "Polygon or MultiPolygon", "多边形"),
    (body(polygon(SQUARE), colour="red"), "unknown field `colour`", "请求不合法"),
    (b'{"kinds": ["school"]}', "missing required field `geometry`", "请求不合法"),
    (b"{not json", "invalid request", "请求不合法"),
])
def test_bad_requests_say_why_in_both_languages(payload: bytes, en: str, zh: str) -> None:
    with pytest.raises(InvalidZone) as caught:
        parse_inside(payload)
    assert en in caught.value.en and zh in caught.value.zh


def test_too_many_vertices_are_refused() -> None:
    ring = [[114 + i * 1e-6, 37 + (i % 2) * 1e-3] for i in range(MAX_POSITIONS)]
    ring.append(ring[0])
    with pytest.raises(InvalidZone, match="vertices"):
        parse_inside(body(polygon(ring)))


def feature(fid: str, kind: str, lat: float, lon: float) -> dict[str, Any]:
    return {"type": "Feature", "id": fid, "properties": {"kind": kind, "name": fid},
            "geometry": {"type": "Point", "coordinates": [lon, lat]}}


SPATIAL = LayerSpatial.from_feature_collections(
    facilities=[{"type": "FeatureCollection", "name": "f", "features": [
        feature("h1", "hospital", 37.060, 114.490), feature("s1", "school", 37.062, 114.495),
        feature("s2", "school", 37.064, 114.486), feature("far", "hospital", 37.3, 114.9)]}],
    population=[{"type": "FeatureCollection", "features": [{
        "type": "Feature", "id": "cell", "properties": {"population": 1000},
        "geometry": {"type": "Polygon", "coordinates": [SQUARE]}}]}])


def unit(name: str, lat: float, lon: float, age_s: float = 0) -> UnitState:
    return UnitState(unit=name, agency="police", lat=lat, lon=lon,
                     ts=NOW - timedelta(seconds=age_s))


def test_inside_a_polygon_counts_kinds_people_units_and_incidents() -> None:
    zone = parse_inside(body(polygon(SQUARE)))
    incident = Incident(id="i1", type="fire", level=Level.III, status=IncidentStatus.VERIFIED,
                        title="起火", lat=37.061, lon=114.491, reported_at=NOW, updated_at=NOW,
                        agency="fire")
    units = [unit("near", 37.0601, 114.4901), unit("old", 37.066, 114.49, age_s=3600),
             unit("out", 37.2, 114.49)]
    result = inside(zone, SPATIAL, (units, [incident]), NOW, online_s=300)
    assert result.facility_counts == {"school": 2, "hospital": 1}
    assert list(result.facility_counts) == ["school", "hospital"]  # most first
    assert result.facilities_total == 3 and result.population == 1000
    assert [u.unit for u in result.units or []] == ["near", "old"]
    assert [u.online for u in result.units or []] == [True, False]
    assert [i.id for i in result.incidents or []] == ["i1"]


def test_inside_a_circle_and_without_the_live_state() -> None:
    zone = parse_inside(body({"center": {"lat": 37.060, "lon": 114.490}, "radius_m": 300},
                             kinds=["school", "hospital"]))
    result = inside(zone, SPATIAL, None, NOW, online_s=300)
    assert [f.id for f in result.facilities] == ["h1"]  # s1 is 497 m away
    assert result.live is False and result.units is None and result.incidents is None
    assert result.shape == "circle" and result.radius_m == 300
