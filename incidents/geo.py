"""The one great-circle distance every package uses, pure math (no numpy, no GIS).

The haversine formula on a sphere of the mean Earth radius (IUGG, 6,371,008.8 m): against the
WGS-84 ellipsoid it errs by at most about 0.5 %, far below what a dispatch decision can see.
It lives in `incidents/` so that the domain, ingest's rules and the video server reach it
without importing `maps/` (shapely, numpy); `maps.analysis.geodesy` builds on it.
"""

from __future__ import annotations

import math
from typing import Final

EARTH_RADIUS_M: Final = 6_371_008.8
"""Mean Earth radius (IUGG), metres."""
METRES_PER_DEGREE: Final = math.pi * EARTH_RADIUS_M / 180.0
"""Length of one degree of latitude (and of longitude on the equator), metres."""
KM_PER_DEGREE: Final = METRES_PER_DEGREE / 1000.0
"""The same in kilometres."""
TINY_DEGREES: Final = 1e-9
"""Coordinates closer to 0 than this (about 0.1 mm on the ground) are stored as 0."""


def snap_degrees(value: float) -> float:
    """`value`, or 0.0 when it is within TINY_DEGREES of zero.

    PostgreSQL refuses float arithmetic whose nonzero inputs give 0 ("value out of range:
    underflow"); `ll_to_earth(lat, lon)`, which indexes incidents, takes radians of a
    subnormal such as 5e-324 and fails, so a valid latitude made inserts fail (issue #16).
    """
    return 0.0 if abs(value) < TINY_DEGREES else value


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance between two WGS-84 points, metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = math.sin((p2 - p1) / 2.0) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(
        math.radians(lon2 - lon1) / 2.0
    ) ** 2
    return 2.0 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))
