"""Conversion between WGS-84, GCJ-02 and BD-09 longitude/latitude.

GCJ-02 (国测局坐标, used by AMap, Tencent and most Chinese web maps) is WGS-84 plus an
obfuscating offset of up to several hundred metres, applied only inside a bounding box
around China (the ``out_of_china`` rule every public implementation uses). BD-09 (Baidu)
is a further distortion of GCJ-02 that is applied everywhere.

The forward formulas are the de-facto standard ones (eviltransform, coordtransform). Neither
has a closed-form inverse, so GCJ-02 → WGS-84 and BD-09 → GCJ-02 are solved by fixed-point
iteration to about 1e-9 degree (0.1 mm), not by the common one-step approximation, which
is off by up to a few metres.

Every conversion comes as a scalar function on ``(lon, lat)`` floats and as an ``_array``
form on numpy arrays of any (matching) shape.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from enum import StrEnum
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
"""An array of longitudes or latitudes in degrees."""

_A: Final = 6378245.0  # semi-major axis of the Krasovsky 1940 ellipsoid, metres
_EE: Final = 0.00669342162296594323  # its first eccentricity squared
_X_PI: Final = math.pi * 3000.0 / 180.0
_BD_DLON: Final = 0.0065
_BD_DLAT: Final = 0.006

_CHINA_MIN_LON: Final = 72.004
_CHINA_MAX_LON: Final = 137.8347
_CHINA_MIN_LAT: Final = 0.8293
_CHINA_MAX_LAT: Final = 55.8271

_TOLERANCE_DEG: Final = 1e-9  # inverse iterations stop below this (about 0.1 mm)
_MAX_ITERATIONS: Final = 30  # each iteration gains roughly two orders of magnitude


class Crs(StrEnum):
    """Geographic coordinate systems met in Chinese map data and devices."""

    WGS84 = "wgs84"
    """GPS / international standard; what sitroom stores and draws."""
    GCJ02 = "gcj02"
    """China's obfuscated datum: AMap (高德), Tencent, Apple Maps in China."""
    BD09 = "bd09"
    """Baidu's further distortion of GCJ-02."""


Transform = Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]]


def _as_array(values: ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


def out_of_china_array(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """Whether each point lies outside the box in which GCJ-02 differs from WGS-84."""
    x, y = _as_array(lon), _as_array(lat)
    inside_lon = (x >= _CHINA_MIN_LON) & (x <= _CHINA_MAX_LON)
    inside_lat = (y >= _CHINA_MIN_LAT) & (y <= _CHINA_MAX_LAT)
    return np.logical_not(inside_lon & inside_lat)


def out_of_china(lon: float, lat: float) -> bool:
    """Whether the point lies outside the box in which GCJ-02 differs from WGS-84."""
    return not (_CHINA_MIN_LON <= lon <= _CHINA_MAX_LON and _CHINA_MIN_LAT <= lat <= _CHINA_MAX_LAT)


def _offset_lat(x: FloatArray, y: FloatArray) -> FloatArray:
    ret: FloatArray = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y
    ret += 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return ret


def _offset_lon(x: FloatArray, y: FloatArray) -> FloatArray:
    ret: FloatArray = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y
    ret += 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return ret


def _wgs84_to_gcj02(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    dlat = _offset_lat(lon - 105.0, lat - 35.0)
    dlon = _offset_lon(lon - 105.0, lat - 35.0)
    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    outside = out_of_china_array(lon, lat)
    return (
        np.where(outside, lon, lon + dlon),
        np.where(outside, lat, lat + dlat),
    )


def _gcj02_to_bd09(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + _BD_DLON, z * np.sin(theta) + _BD_DLAT


def _bd09_to_gcj02_closed_form(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    x = lon - _BD_DLON
    y = lat - _BD_DLAT
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def _invert(
    forward: Transform,
    lon: FloatArray,
    lat: FloatArray,
    guess_lon: FloatArray,
    guess_lat: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Solve ``forward(x) == (lon, lat)`` for x by fixed-point iteration from a guess."""
    x, y = guess_lon.copy(), guess_lat.copy()
    for _ in range(_MAX_ITERATIONS):
        fx, fy = forward(x, y)
        dx, dy = fx - lon, fy - lat
        x -= dx
        y -= dy
        if dx.size == 0 or float(np.max(np.abs(dx) + np.abs(dy))) < _TOLERANCE_DEG:
            break
    return x, y


def wgs84_to_gcj02_array(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert arrays of WGS-84 longitudes and latitudes to GCJ-02."""
    return _wgs84_to_gcj02(_as_array(lon), _as_array(lat))


def gcj02_to_wgs84_array(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert arrays of GCJ-02 longitudes and latitudes to WGS-84 (iterative inverse)."""
    x, y = _as_array(lon), _as_array(lat)
    return _invert(_wgs84_to_gcj02, x, y, x, y)


def gcj02_to_bd09_array(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert arrays of GCJ-02 longitudes and latitudes to BD-09."""
    return _gcj02_to_bd09(_as_array(lon), _as_array(lat))


def bd09_to_gcj02_array(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert arrays of BD-09 longitudes and latitudes to GCJ-02 (iterative inverse)."""
    x, y = _as_array(lon), _as_array(lat)
    guess_x, guess_y = _bd09_to_gcj02_closed_form(x, y)
    return _invert(_gcj02_to_bd09, x, y, guess_x, guess_y)


def wgs84_to_bd09_array(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert arrays of WGS-84 longitudes and latitudes to BD-09."""
    return gcj02_to_bd09_array(*wgs84_to_gcj02_array(lon, lat))


def bd09_to_wgs84_array(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert arrays of BD-09 longitudes and latitudes to WGS-84."""
    return gcj02_to_wgs84_array(*bd09_to_gcj02_array(lon, lat))


def _scalar(
    convert: Callable[[ArrayLike, ArrayLike], tuple[FloatArray, FloatArray]], lon: float, lat: float
) -> tuple[float, float]:
    x, y = convert(lon, lat)
    return float(x), float(y)


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """Convert a WGS-84 (lon, lat) to GCJ-02; unchanged outside China."""
    return _scalar(wgs84_to_gcj02_array, lon, lat)


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """Convert a GCJ-02 (lon, lat) to WGS-84 to within 1e-9 degree; unchanged outside China."""
    return _scalar(gcj02_to_wgs84_array, lon, lat)


def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    """Convert a GCJ-02 (lon, lat) to BD-09."""
    return _scalar(gcj02_to_bd09_array, lon, lat)


def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """Convert a BD-09 (lon, lat) to GCJ-02 to within 1e-9 degree."""
    return _scalar(bd09_to_gcj02_array, lon, lat)


def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    """Convert a WGS-84 (lon, lat) to BD-09."""
    return _scalar(wgs84_to_bd09_array, lon, lat)


def bd09_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """Convert a BD-09 (lon, lat) to WGS-84."""
    return _scalar(bd09_to_wgs84_array, lon, lat)


def _identity(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    return _as_array(lon), _as_array(lat)


_TO_WGS84: Final[dict[Crs, Callable[[ArrayLike, ArrayLike], tuple[FloatArray, FloatArray]]]] = {
    Crs.WGS84: _identity,
    Crs.GCJ02: gcj02_to_wgs84_array,
    Crs.BD09: bd09_to_wgs84_array,
}
_FROM_WGS84: Final[dict[Crs, Callable[[ArrayLike, ArrayLike], tuple[FloatArray, FloatArray]]]] = {
    Crs.WGS84: _identity,
    Crs.GCJ02: wgs84_to_gcj02_array,
    Crs.BD09: wgs84_to_bd09_array,
}


def to_wgs84_array(crs: Crs, lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert arrays of longitudes and latitudes given in ``crs`` to WGS-84."""
    return _TO_WGS84[crs](lon, lat)


def from_wgs84_array(crs: Crs, lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert arrays of WGS-84 longitudes and latitudes to ``crs``."""
    return _FROM_WGS84[crs](lon, lat)


def to_wgs84(crs: Crs, lon: float, lat: float) -> tuple[float, float]:
    """Convert a (lon, lat) given in ``crs`` to WGS-84."""
    return _scalar(_TO_WGS84[crs], lon, lat)


def from_wgs84(crs: Crs, lon: float, lat: float) -> tuple[float, float]:
    """Convert a WGS-84 (lon, lat) to ``crs``, e.g. to open a position in a Chinese web map."""
    return _scalar(_FROM_WGS84[crs], lon, lat)
