"""The one great-circle distance: properties and a known distance."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from incidents.geo import KM_PER_DEGREE, METRES_PER_DEGREE, TINY_DEGREES, haversine_m, snap_degrees

lats = st.floats(min_value=-90.0, max_value=90.0, allow_nan=False)
lons = st.floats(min_value=-180.0, max_value=180.0, allow_nan=False)


@given(lats, lons, lats, lons)
def test_distance_is_symmetric_and_bounded(lat1: float, lon1: float, lat2: float,
                                           lon2: float) -> None:
    there = haversine_m(lat1, lon1, lat2, lon2)
    assert there == pytest.approx(haversine_m(lat2, lon2, lat1, lon1), abs=1e-3)
    # Never more than half the way round the sphere.
    assert 0.0 <= there <= 180.0 * METRES_PER_DEGREE * (1 + 1e-12)


@given(lats, lons)
def test_distance_to_itself_is_zero(lat: float, lon: float) -> None:
    assert haversine_m(lat, lon, lat, lon) == 0.0


@given(lats, lons, lats, lons, lats, lons)
def test_triangle_inequality(lat1: float, lon1: float, lat2: float, lon2: float, lat3: float,
                             lon3: float) -> None:
    direct = haversine_m(lat1, lon1, lat3, lon3)
    assert direct <= haversine_m(lat1, lon1, lat2, lon2) + haversine_m(
        lat2, lon2, lat3, lon3) + 1.0  # asin loses ~0.1 m near antipodes


def test_beijing_to_shanghai_is_about_1067_km() -> None:
    # Tian'anmen to People's Square; published great-circle figures give 1,067 km.
    assert haversine_m(39.9042, 116.4074, 31.2304, 121.4737) == pytest.approx(1_067_000,
                                                                            rel=0.003)


def test_a_tenth_of_a_degree_of_latitude() -> None:
    assert haversine_m(37.0, 114.5, 37.1, 114.5) == pytest.approx(11_119.5, rel=1e-3)
    assert KM_PER_DEGREE == pytest.approx(111.195, rel=1e-5)


@given(lats)
def test_snapping_only_zeroes_what_the_ground_cannot_tell_from_zero(lat: float) -> None:
    snapped = snap_degrees(lat)
    assert snapped == (0.0 if abs(lat) < TINY_DEGREES else lat)
    assert snapped == 0.0 or abs(snapped) >= TINY_DEGREES


def test_subnormal_coordinates_snap_to_zero() -> None:
    assert snap_degrees(-5e-324) == 0.0 and snap_degrees(5e-324) == 0.0
    assert snap_degrees(37.06) == 37.06 and snap_degrees(-1e-9) == -1e-9
