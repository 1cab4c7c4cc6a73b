"""Facilities and population near a point or in a zone, on tiny hand-made layers."""

from __future__ import annotations

import math
from typing import Any

import pytest
import shapely

from maps.analysis.geodesy import EARTH_RADIUS_M, METRES_PER_DEGREE, circle
from maps.analysis.nearby import FacilityIndex, PopulationGrid

ORIGIN = (37.0, 114.5)
NORTH_1KM = 1000.0 / METRES_PER_DEGREE
"""Degrees of latitude in exactly 1 km along a meridian."""


def point(fid: str, kind: str, lat: float, lon: float, **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "id": fid, "properties": {"kind": kind, "name": fid, **props},
            "geometry": {"type": "Point", "coordinates": [lon, lat]}}


def east_of(metres: float) -> float:
    """Longitude of the point due east of ORIGIN at this great-circle distance (small)."""
    lat = math.radians(ORIGIN[0])
    # On a sphere, along a parallel: d = 2R asin(cos(lat) sin(dlon / 2)).
    dlon = 2.0 * math.asin(math.sin(metres / (2.0 * EARTH_RADIUS_M)) / math.cos(lat))
    return ORIGIN[1] + math.degrees(dlon)


@pytest.fixture
def facilities() -> FacilityIndex:
    lat, lon = ORIGIN
    collection = {"type": "FeatureCollection", "features": [
        point("hospital-1km-n", "hospital", lat + NORTH_1KM, lon, beds=300),
        point("school-2km-n", "school", lat + 2 * NORTH_1KM, lon),
        point("shelter-1.5km-e", "shelter", lat, east_of(1500.0), capacity=2000),
        point("hospital-5km-s", "hospital", lat - 5 * NORTH_1KM, lon),
        {"type": "Feature", "id": "school-area", "properties": {"kind": "school", "name": "x"},
         "geometry": {"type": "Polygon", "coordinates": [[
             [lon - 0.001, lat - 0.001], [lon + 0.001, lat - 0.001],
             [lon + 0.001, lat + 0.001], [lon - 0.001, lat + 0.001], [lon - 0.001, lat - 0.001]]]}},
    ]}
    return FacilityIndex.from_feature_collections([("demo", collection)])


def test_facilities_within_a_radius_nearest_first(facilities: FacilityIndex) -> None:
    found = facilities.near(*ORIGIN, 2100.0)
    assert [f.id for f in found] == ["school-area", "hospital-1km-n", "shelter-1.5km-e",
                                     "school-2km-n"]
    assert [f.distance_m for f in found[1:]] == [pytest.approx(1000.0, abs=0.1),
                                                 pytest.approx(1500.0, abs=0.1),
                                                 pytest.approx(2000.0, abs=0.1)]
    assert found[1].layer == "demo" and found[1].properties == {"beds": 300}
    assert found[2].properties == {"capacity": 2000}


def test_radius_edge_and_kind_filter(facilities: FacilityIndex) -> None:
    assert [f.id for f in facilities.near(*ORIGIN, 1499.0, kinds=["shelter"])] == []
    assert [f.id for f in facilities.near(*ORIGIN, 1501.0, kinds=["shelter"])] == [
        "shelter-1.5km-e"]
    assert [f.id for f in facilities.near(*ORIGIN, 10_000.0, kinds={"hospital"})] == [
        "hospital-1km-n", "hospital-5km-s"]
    assert facilities.near(*ORIGIN, 10_000.0, kinds=[]) == []


def test_facilities_inside_a_zone_nearest_to_the_origin(facilities: FacilityIndex) -> None:
    lat, lon = ORIGIN
    north_strip = shapely.box(lon - 0.01, lat + 0.005, lon + 0.01, lat + 0.03)
    found = facilities.within(north_strip, origin=ORIGIN)
    assert [f.id for f in found] == ["hospital-1km-n", "school-2km-n"]
    assert found[0].distance_m == pytest.approx(1000.0, abs=0.1)
    assert facilities.within(north_strip, kinds=["school"])[0].id == "school-2km-n"


def square(lat: float, lon: float, size: float) -> shapely.Polygon:
    return shapely.box(lon, lat, lon + size, lat + size)


@pytest.fixture
def grid() -> PopulationGrid:
    lat, lon = ORIGIN
    # Four 0.01° cells of 1,000 people each, meeting at ORIGIN.
    cells = [square(lat + dy, lon + dx, 0.01) for dy in (-0.01, 0.0) for dx in (-0.01, 0.0)]
    return PopulationGrid(cells, [1000.0] * 4)


def test_population_of_a_circle_inside_one_cell_is_its_area_share(grid: PopulationGrid) -> None:
    lat, lon = ORIGIN
    centre = (lat + 0.005, lon + 0.005)
    radius = 300.0
    cell_m2 = (0.01 * METRES_PER_DEGREE) ** 2 * math.cos(math.radians(centre[0]))
    expected = 1000.0 * math.pi * radius**2 / cell_m2
    assert grid.within_radius(*centre, radius) == pytest.approx(expected, rel=0.01)


def test_population_of_a_circle_covering_the_whole_grid(grid: PopulationGrid) -> None:
    assert grid.within_radius(*ORIGIN, 5_000.0) == 4000 == grid.total


def test_population_of_a_circle_at_the_corner_takes_a_quarter_of_each_cell(
        grid: PopulationGrid) -> None:
    radius = 400.0
    cell_m2 = (0.01 * METRES_PER_DEGREE) ** 2 * math.cos(math.radians(ORIGIN[0]))
    assert grid.within_radius(*ORIGIN, radius) == pytest.approx(
        1000.0 * math.pi * radius**2 / cell_m2, rel=0.01)


def test_population_of_a_zone(grid: PopulationGrid) -> None:
    lat, lon = ORIGIN
    west_half = shapely.box(lon - 0.01, lat - 0.01, lon, lat + 0.01)
    assert grid.within(west_half) == 2000
    assert grid.within(shapely.box(lon + 1, lat + 1, lon + 2, lat + 2)) == 0
    assert grid.within(circle(lat + 0.5, lon, 100.0)) == 0
    assert grid.within_radius(*ORIGIN, 0.0) == 0


def test_population_layer_from_geojson() -> None:
    cell = square(*ORIGIN, 0.01)
    collection = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"population": 500},
         "geometry": shapely.geometry.mapping(cell)},
        {"type": "Feature", "properties": {"population": None},
         "geometry": shapely.geometry.mapping(cell)},
    ]}
    grid = PopulationGrid.from_feature_collection(collection)
    assert grid.total == 500
    assert grid.within(cell) == 500
