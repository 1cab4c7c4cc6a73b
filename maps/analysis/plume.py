"""A first-minutes hazard zone for a toxic gas release: isolation circle plus downwind sector.

The model follows the idea of the emergency response guidebooks used by first responders
(the ERG's "initial isolation and protective action distances"), restated here:

* **Initial isolation zone (初始隔离区)** — a circle around the source, of radius
  ``isolation_m``, that everyone leaves or keeps out of whatever the wind does, because near the
  source the gas spreads in every direction and the wind may swing.
* **Protective action zone (防护行动区)** — the area downwind of the source, out to
  ``protective_m``, where people are sheltered in place or evacuated. Here it is a circular
  sector centred on the downwind bearing. Its half-angle widens as the wind weakens, since a
  light wind meanders: 20° above 5 m/s, 30° from 2 to 5 m/s, 45° below 2 m/s. Under 0.5 m/s
  the wind has no usable direction and the whole circle of radius ``protective_m`` is taken.

Wind direction is meteorological: the bearing the wind blows *from*, degrees clockwise from
north, so the gas travels towards ``wind_from_deg + 180``.

Distances come from the caller, or from ``HAZARD_TABLE`` by a coarse hazard class, release size
and day or night (night air is stabler, so a cloud travels farther before it dilutes). The table's
values are round, illustrative placeholders of the right order of magnitude, not the official
substance-by-substance figures: replace them with the table of the guide the command centre
adopts before operational use.

Limits, by design: no dispersion calculation (no concentrations, no Gaussian plume), flat ground
without buildings or valleys, one steady wind, no change over time, and nothing for fires or
explosions (thermal radiation and overpressure need other models). The zone supports the first
decisions; a dispersion model (e.g. ALOHA) and field measurements replace it as soon as
they are available.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import numpy as np
import shapely
from shapely.geometry import Polygon, mapping

from maps.analysis.geodesy import circle, to_lonlat

CALM_MS: Final = 0.5
"""Below this wind speed (m/s) the direction is unusable and the zone is a full circle."""


class HazardClass(StrEnum):
    """Coarse inhalation hazard of the substance released."""

    LOW = "low"
    """Irritant, low toxicity."""
    MODERATE = "moderate"
    """Toxic by inhalation (e.g. ammonia)."""
    HIGH = "high"
    """Highly toxic by inhalation (e.g. chlorine, hydrogen sulphide)."""


class ReleaseSize(StrEnum):
    """How much is released."""

    SMALL = "small"
    """A small container or a small leak."""
    LARGE = "large"
    """A tank, a tanker or several containers."""


@dataclass(frozen=True, slots=True)
class HazardDistances:
    """Isolation radius and protective action distances of one table row, metres."""

    isolation_m: float
    """Radius of the initial isolation circle."""
    day_m: float
    """Downwind protective action distance by day."""
    night_m: float
    """Downwind protective action distance at night."""


HAZARD_TABLE: Final[dict[tuple[HazardClass, ReleaseSize], HazardDistances]] = {
    (HazardClass.LOW, ReleaseSize.SMALL): HazardDistances(30, 100, 200),
    (HazardClass.LOW, ReleaseSize.LARGE): HazardDistances(100, 300, 800),
    (HazardClass.MODERATE, ReleaseSize.SMALL): HazardDistances(60, 300, 1_000),
    (HazardClass.MODERATE, ReleaseSize.LARGE): HazardDistances(300, 1_500, 4_000),
    (HazardClass.HIGH, ReleaseSize.SMALL): HazardDistances(100, 800, 2_500),
    (HazardClass.HIGH, ReleaseSize.LARGE): HazardDistances(600, 3_000, 8_000),
}
"""Illustrative placeholder distances (see the module docstring), not official values."""


def sector_half_angle_deg(wind_speed_ms: float) -> float:
    """Half-angle of the downwind sector for a wind speed; 180 (a full circle) when calm."""
    if wind_speed_ms < 0 or not math.isfinite(wind_speed_ms):
        raise ValueError(f"wind speed must be a non-negative number, not {wind_speed_ms}")
    if wind_speed_ms < CALM_MS:
        return 180.0
    if wind_speed_ms < 2.0:
        return 45.0
    if wind_speed_ms <= 5.0:
        return 30.0
    return 20.0


@dataclass(frozen=True, slots=True)
class HazardZone:
    """The isolation circle and the protective action area of one release, WGS-84."""

    lat: float
    """Source latitude."""
    lon: float
    """Source longitude."""
    downwind_deg: float
    """Bearing the gas travels towards, degrees clockwise from north."""
    half_angle_deg: float
    """Half-angle of the downwind sector (180 when the wind is calm)."""
    isolation_m: float
    """Radius of the initial isolation circle, metres."""
    protective_m: float
    """Downwind protective action distance, metres."""
    isolation: Polygon
    """The initial isolation circle."""
    zone: Polygon
    """The whole hazard zone: isolation circle united with the downwind sector."""

    def contains(self, lat: float, lon: float) -> bool:
        """Whether a point lies in the hazard zone (boundary included)."""
        return bool(shapely.intersects_xy(self.zone, lon, lat))

    def geojson(self) -> dict[str, Any]:
        """Both areas as a FeatureCollection with bilingual labels, zone first, isolation last."""
        common = {"downwind_deg": self.downwind_deg, "half_angle_deg": self.half_angle_deg,
                  "isolation_m": self.isolation_m, "protective_m": self.protective_m}
        return {"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": "protective_action",
             "properties": {**common, "area": "protective_action",
                            "label": "防护行动区 / Protective action zone"},
             "geometry": mapping(self.zone)},
            {"type": "Feature", "id": "isolation",
             "properties": {**common, "area": "isolation",
                            "label": "初始隔离区 / Initial isolation zone"},
             "geometry": mapping(self.isolation)},
        ]}


def hazard_zone(lat: float, lon: float, *, wind_from_deg: float, wind_speed_ms: float,
                isolation_m: float, protective_m: float) -> HazardZone:
    """The keyhole-shaped hazard zone for given distances and wind."""
    if isolation_m <= 0 or protective_m <= 0:
        raise ValueError("isolation and protective distances must be positive")
    half = sector_half_angle_deg(wind_speed_ms)
    downwind = (wind_from_deg + 180.0) % 360.0
    isolation = circle(lat, lon, isolation_m)
    if half >= 180.0:
        zone = circle(lat, lon, max(isolation_m, protective_m))
    else:
        zone = shapely.union(isolation, _sector(lat, lon, downwind, half, protective_m))
    if not isinstance(zone, Polygon):  # the sector always overlaps the circle at the source
        raise AssertionError(f"hazard zone is a {zone.geom_type}")
    return HazardZone(lat=lat, lon=lon, downwind_deg=downwind, half_angle_deg=half,
                      isolation_m=isolation_m, protective_m=protective_m,
                      isolation=isolation, zone=zone)


def hazard_zone_for(lat: float, lon: float, *, wind_from_deg: float, wind_speed_ms: float,
                    hazard: HazardClass, size: ReleaseSize, night: bool) -> HazardZone:
    """The hazard zone with distances from ``HAZARD_TABLE``."""
    row = HAZARD_TABLE[(hazard, size)]
    return hazard_zone(lat, lon, wind_from_deg=wind_from_deg, wind_speed_ms=wind_speed_ms,
                       isolation_m=row.isolation_m,
                       protective_m=row.night_m if night else row.day_m)


def _sector(lat: float, lon: float, bearing_deg: float, half_deg: float,
            radius_m: float) -> Polygon:
    """A circular sector from the point, centred on a bearing, as a WGS-84 polygon."""
    steps = max(8, int(half_deg))  # about one vertex per degree of arc each side
    bearings = np.radians(np.linspace(bearing_deg - half_deg, bearing_deg + half_deg, 2 * steps))
    arc = np.column_stack((radius_m * np.sin(bearings), radius_m * np.cos(bearings)))
    ring = np.vstack(([0.0, 0.0], arc))
    return shapely.Polygon(to_lonlat(lat, lon, ring))
