"""WGS-84 / GCJ-02 / BD-09 conversion against published vectors and by round trips."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from maps.crs import (
    Crs,
    bd09_to_gcj02,
    bd09_to_gcj02_array,
    bd09_to_wgs84,
    bd09_to_wgs84_array,
    from_wgs84,
    gcj02_to_bd09,
    gcj02_to_bd09_array,
    gcj02_to_wgs84,
    gcj02_to_wgs84_array,
    out_of_china,
    to_wgs84,
    to_wgs84_array,
    wgs84_to_bd09,
    wgs84_to_gcj02,
    wgs84_to_gcj02_array,
)

EXACT_DEG = 1e-9
"""Agreement expected where the reference uses the same closed-form formula."""


def metres_apart(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Equirectangular distance between two (lon, lat) points, good to 0.1 % at these scales."""
    mean_lat = math.radians((a[1] + b[1]) / 2.0)
    dx = math.radians(a[0] - b[0]) * math.cos(mean_lat)
    dy = math.radians(a[1] - b[1])
    return 6371008.8 * math.hypot(dx, dy)


def assert_close(actual: tuple[float, float], expected: tuple[float, float], tol: float) -> None:
    assert actual[0] == pytest.approx(expected[0], abs=tol)
    assert actual[1] == pytest.approx(expected[1], abs=tol)


# googollee/eviltransform's test vectors: (WGS-84 lon, lat) -> (GCJ-02 lon, lat).
EVILTRANSFORM_WGS_GCJ = [
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),  # Shanghai
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),  # Shenzhen
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),  # Beijing
]


@pytest.mark.parametrize(("wgs", "gcj"), EVILTRANSFORM_WGS_GCJ)
def test_wgs84_to_gcj02_matches_eviltransform(
    wgs: tuple[float, float], gcj: tuple[float, float]
) -> None:
    assert_close(wgs84_to_gcj02(*wgs), gcj, EXACT_DEG)


@pytest.mark.parametrize(("wgs", "gcj"), EVILTRANSFORM_WGS_GCJ)
def test_gcj02_to_wgs84_inverts_eviltransform_vectors_within_a_centimetre(
    wgs: tuple[float, float], gcj: tuple[float, float]
) -> None:
    assert metres_apart(gcj02_to_wgs84(*gcj), wgs) < 0.01


def test_wgs84_to_gcj02_matches_coordtransform() -> None:
    # wandergis/coordtransform's README example.
    assert_close(wgs84_to_gcj02(116.404, 39.915), (116.41024449916938, 39.91640428150164), 1e-9)


def test_gcj02_to_bd09_matches_coordtransform() -> None:
    assert_close(gcj02_to_bd09(116.404, 39.915), (116.41036949371029, 39.92133699351022), 1e-9)


def test_bd09_to_gcj02_agrees_with_the_closed_form_reference() -> None:
    # coordtransform inverts BD-09 in one closed-form step, itself off by up to ~0.2 m;
    # ours iterates, so the two agree to about 5 cm here.
    expected = (116.39762729119315, 39.90865673957631)
    assert metres_apart(bd09_to_gcj02(116.404, 39.915), expected) < 0.1


def test_gcj02_to_wgs84_agrees_with_the_one_step_reference_and_beats_it() -> None:
    # coordtransform's one-step approximate inverse of (116.404, 39.915).
    one_step = (116.39775550083061, 39.91359571849836)
    ours = gcj02_to_wgs84(116.404, 39.915)
    assert metres_apart(ours, one_step) < 1.0
    error_ours = metres_apart(wgs84_to_gcj02(*ours), (116.404, 39.915))
    error_one_step = metres_apart(wgs84_to_gcj02(*one_step), (116.404, 39.915))
    assert error_ours < 0.001 < error_one_step


def test_bd09_to_wgs84_agrees_with_hutool() -> None:
    # Hutool's CoordinateUtilTest (one-step inverses, so within a metre).
    expected = (116.3913836995125, 39.907253214522164)
    assert metres_apart(bd09_to_wgs84(116.404, 39.915), expected) < 1.0


def test_tiananmen_amap_poi_shifts_by_a_few_hundred_metres_south_west() -> None:
    # AMap gives Tiananmen as (116.397455, 39.909187): a GCJ-02 coordinate.
    gcj = (116.397455, 39.909187)
    wgs = gcj02_to_wgs84(*gcj)
    assert wgs[0] < gcj[0] and wgs[1] < gcj[1]
    assert 300.0 < metres_apart(wgs, gcj) < 800.0
    assert metres_apart(wgs84_to_gcj02(*wgs), gcj) < 0.001


@pytest.mark.parametrize(
    "point",
    [(-0.1276, 51.5072), (-74.006, 40.7128), (151.2093, -33.8688), (69.0, 35.0), (130.0, 56.0)],
    ids=["london", "new-york", "sydney", "west-of-box", "north-of-box"],
)
def test_gcj02_is_wgs84_outside_china(point: tuple[float, float]) -> None:
    assert out_of_china(*point)
    assert wgs84_to_gcj02(*point) == point
    assert gcj02_to_wgs84(*point) == point
    assert to_wgs84(Crs.GCJ02, *point) == point


def test_bd09_is_offset_everywhere() -> None:
    london = (-0.1276, 51.5072)
    assert metres_apart(wgs84_to_bd09(*london), london) > 100.0
    assert metres_apart(bd09_to_wgs84(*wgs84_to_bd09(*london)), london) < 0.001


china_lons = st.floats(min_value=73.5, max_value=135.0, allow_nan=False)
china_lats = st.floats(min_value=18.0, max_value=53.5, allow_nan=False)


@given(china_lons, china_lats)
def test_wgs84_gcj02_round_trip_within_half_a_metre(lon: float, lat: float) -> None:
    assert metres_apart(gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat)), (lon, lat)) < 0.5
    assert metres_apart(wgs84_to_gcj02(*gcj02_to_wgs84(lon, lat)), (lon, lat)) < 0.5


@given(china_lons, china_lats)
def test_gcj02_bd09_round_trip_within_half_a_metre(lon: float, lat: float) -> None:
    assert metres_apart(bd09_to_gcj02(*gcj02_to_bd09(lon, lat)), (lon, lat)) < 0.5
    assert metres_apart(gcj02_to_bd09(*bd09_to_gcj02(lon, lat)), (lon, lat)) < 0.5


@given(china_lons, china_lats)
def test_wgs84_bd09_round_trip_within_half_a_metre(lon: float, lat: float) -> None:
    assert metres_apart(bd09_to_wgs84(*wgs84_to_bd09(lon, lat)), (lon, lat)) < 0.5


@given(china_lons, china_lats)
def test_gcj02_offset_is_bounded(lon: float, lat: float) -> None:
    assert metres_apart(wgs84_to_gcj02(lon, lat), (lon, lat)) < 1000.0


def test_array_forms_agree_with_scalars_and_keep_shape() -> None:
    rng = np.random.default_rng(2260)
    lons = rng.uniform(73.5, 135.0, size=(4, 5))
    lats = rng.uniform(18.0, 53.5, size=(4, 5))
    lons[0, 0], lats[0, 0] = -0.1276, 51.5072  # one point outside China
    pairs = [
        (wgs84_to_gcj02_array, wgs84_to_gcj02),
        (gcj02_to_wgs84_array, gcj02_to_wgs84),
        (gcj02_to_bd09_array, gcj02_to_bd09),
        (bd09_to_gcj02_array, bd09_to_gcj02),
        (bd09_to_wgs84_array, bd09_to_wgs84),
    ]
    for vectorised, scalar in pairs:
        out_lon, out_lat = vectorised(lons, lats)
        assert out_lon.shape == out_lat.shape == (4, 5)
        for i, j in np.ndindex(lons.shape):
            expected = scalar(float(lons[i, j]), float(lats[i, j]))
            assert_close((float(out_lon[i, j]), float(out_lat[i, j])), expected, 1e-8)


def test_array_forms_accept_empty_arrays() -> None:
    out_lon, out_lat = gcj02_to_wgs84_array(np.array([]), np.array([]))
    assert out_lon.size == out_lat.size == 0


@pytest.mark.parametrize("crs", list(Crs))
def test_to_wgs84_inverts_from_wgs84(crs: Crs) -> None:
    xingtai = (114.50, 37.07)
    assert metres_apart(to_wgs84(crs, *from_wgs84(crs, *xingtai)), xingtai) < 0.001
    lon, lat = to_wgs84_array(crs, [xingtai[0]], [xingtai[1]])
    assert metres_apart((float(lon[0]), float(lat[0])), to_wgs84(crs, *xingtai)) < 1e-6


def test_crs_parses_from_its_value() -> None:
    assert Crs("gcj02") is Crs.GCJ02
    assert to_wgs84(Crs("wgs84"), 114.5, 37.07) == (114.5, 37.07)
    assert_close(to_wgs84(Crs.BD09, *wgs84_to_bd09(114.5, 37.07)), (114.5, 37.07), 1e-9)
