"""The Spatial implementation over the shipped demo layers, without a database."""

from __future__ import annotations

import pytest

from incidents.spatial import DistrictRef, Spatial
from maps.analysis.plume import hazard_zone
from maps.analysis.spatial import LayerSpatial, demo_spatial

COKING_PLANT = (37.1030, 114.6210)  # xt-hs-001 in config/rules.toml


@pytest.fixture(scope="module")
def spatial() -> LayerSpatial:
    return demo_spatial()


def test_it_is_the_spatial_protocol(spatial: LayerSpatial) -> None:
    implementation: Spatial = spatial
    assert implementation.district_of(37.07, 114.50) == DistrictRef(
        code="130502", name_zh="襄都区", name_en="Xiangdu District")
    assert implementation.district_of(39.9073, 116.3913) is None


def test_facilities_near_a_hazardous_site(spatial: LayerSpatial) -> None:
    found = spatial.facilities_near(*COKING_PLANT, 2000.0, kinds=["hazardous_site"])
    assert [f.id for f in found] == ["xt-hs-001"]
    assert found[0].distance_m == 0.0 and found[0].layer == "demo_facilities"
    assert found[0].properties["synthetic"] is True
    cameras = spatial.facilities_near(*COKING_PLANT, 700.0, kinds=["camera"])
    assert len(cameras) >= 2 and all("direction" in c.properties for c in cameras)
    everything = spatial.facilities_near(*COKING_PLANT, 3000.0)
    assert [f.distance_m for f in everything] == sorted(f.distance_m for f in everything)


def test_gauges_are_facilities_too(spatial: LayerSpatial) -> None:
    (gauge,) = spatial.facilities_near(37.0466, 114.5301, 100.0, kinds=["river_gauge"])
    assert gauge.id == "xt-wl-qilihe-01" and gauge.properties["warning_m"] == 63.8


def test_population_grows_with_the_radius_and_is_densest_downtown(
        spatial: LayerSpatial) -> None:
    downtown = [spatial.population_within(37.07, 114.50, r) for r in (500, 1000, 3000)]
    assert 0 < downtown[0] < downtown[1] < downtown[2]
    countryside = spatial.population_within(37.35, 115.10, 1000)
    assert downtown[1] > 5 * countryside > 0


def test_facilities_and_people_in_a_hazard_zone(spatial: LayerSpatial) -> None:
    zone = hazard_zone(*COKING_PLANT, wind_from_deg=90.0, wind_speed_ms=2.0, isolation_m=500.0,
                       protective_m=5000.0)  # an east wind carries it west, to the city
    inside = spatial.facilities_in(zone.zone, origin=COKING_PLANT)
    assert inside and all(zone.contains(f.lat, f.lon) for f in inside)
    assert inside[0].id == "xt-hs-001"
    assert spatial.population_in(zone.zone) > spatial.population_within(*COKING_PLANT, 500.0)
