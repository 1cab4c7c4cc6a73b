"""The downwind hazard zone: isolation circle plus a sector pointing where the wind goes."""

from __future__ import annotations

import pytest

from maps.analysis.geodesy import METRES_PER_DEGREE, area_m2
from maps.analysis.plume import (
    HAZARD_TABLE,
    HazardClass,
    ReleaseSize,
    hazard_zone,
    hazard_zone_for,
    sector_half_angle_deg,
)

SOURCE = (37.1540, 114.7450)  # the demo fertiliser plant's ammonia tanks


def north(metres: float) -> tuple[float, float]:
    return SOURCE[0] + metres / METRES_PER_DEGREE, SOURCE[1]


def south(metres: float) -> tuple[float, float]:
    return SOURCE[0] - metres / METRES_PER_DEGREE, SOURCE[1]


def test_a_north_wind_carries_the_hazard_south() -> None:
    zone = hazard_zone(*SOURCE, wind_from_deg=0.0, wind_speed_ms=3.0, isolation_m=300.0,
                       protective_m=2000.0)
    assert zone.downwind_deg == 180.0 and zone.half_angle_deg == 30.0
    assert zone.contains(*south(1500.0))  # downwind, inside the protective distance
    assert not zone.contains(*south(2100.0))  # beyond it
    assert not zone.contains(*north(500.0))  # upwind, beyond the isolation radius
    assert zone.contains(*north(250.0))  # upwind but inside the isolation circle
    assert zone.isolation.contains(zone.isolation.centroid)


def test_the_sector_follows_the_wind_and_its_width() -> None:
    # Wind from the west (270°): the gas goes east.
    zone = hazard_zone(*SOURCE, wind_from_deg=270.0, wind_speed_ms=6.0, isolation_m=100.0,
                       protective_m=3000.0)
    assert zone.downwind_deg == 90.0 and zone.half_angle_deg == 20.0
    east_2km = (SOURCE[0], SOURCE[1] + 2000.0 / (METRES_PER_DEGREE * 0.797))
    assert zone.contains(*east_2km)
    assert not zone.contains(*south(1000.0))  # 90° off the wind
    # A 20° half-angle sector of 3 km: 3,000² · π · 40/360 ≈ 3.14 km².
    assert area_m2(zone.zone) == pytest.approx(3.14e6, rel=0.03)


def test_calm_wind_gives_a_full_circle() -> None:
    zone = hazard_zone(*SOURCE, wind_from_deg=90.0, wind_speed_ms=0.2, isolation_m=100.0,
                       protective_m=1000.0)
    assert zone.half_angle_deg == 180.0
    assert zone.contains(*north(900.0)) and zone.contains(*south(900.0))


def test_half_angles_by_wind_speed() -> None:
    assert [sector_half_angle_deg(s) for s in (0.0, 1.0, 2.0, 5.0, 5.1)] == [
        180.0, 45.0, 30.0, 30.0, 20.0]
    with pytest.raises(ValueError):
        sector_half_angle_deg(-1.0)


def test_table_distances_grow_at_night_and_with_size() -> None:
    day = hazard_zone_for(*SOURCE, wind_from_deg=0, wind_speed_ms=3, hazard=HazardClass.MODERATE,
                          size=ReleaseSize.LARGE, night=False)
    night = hazard_zone_for(*SOURCE, wind_from_deg=0, wind_speed_ms=3,
                            hazard=HazardClass.MODERATE, size=ReleaseSize.LARGE, night=True)
    assert night.protective_m > day.protective_m
    assert night.zone.contains(day.zone.buffer(-1e-6))
    for hazard in HazardClass:
        small, large = HAZARD_TABLE[(hazard, ReleaseSize.SMALL)], HAZARD_TABLE[
            (hazard, ReleaseSize.LARGE)]
        assert small.isolation_m < large.isolation_m and small.day_m < large.day_m


def test_geojson_has_both_areas_with_bilingual_labels() -> None:
    zone = hazard_zone(*SOURCE, wind_from_deg=45.0, wind_speed_ms=1.0, isolation_m=200.0,
                       protective_m=1000.0)
    features = zone.geojson()["features"]
    assert [f["id"] for f in features] == ["protective_action", "isolation"]
    assert features[0]["properties"]["label"] == "防护行动区 / Protective action zone"
    assert features[1]["geometry"]["type"] == "Polygon"


def test_distances_must_be_positive() -> None:
    with pytest.raises(ValueError):
        hazard_zone(*SOURCE, wind_from_deg=0, wind_speed_ms=2, isolation_m=0, protective_m=10)
