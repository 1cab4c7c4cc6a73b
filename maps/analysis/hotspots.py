"""Hotspots: incident density on H3 hexagons over a time window, as GeoJSON for the map.

H3 (h3 4.x) resolution 8 hexagons average 0.74 km² (about 0.55 km² at Xingtai), a few city
blocks; resolution 7 (seven times larger) suits a whole county. Each hexagon with at least one
incident becomes a feature with its count and its share of the busiest hexagon, which the map
uses for colour.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final

import h3

from incidents.model import Incident

DEFAULT_RESOLUTION: Final = 8
"""H3 resolution used when the caller does not choose one."""


def hexagon_counts(points: Iterable[tuple[float, float, datetime]], *, start: datetime,
                   end: datetime, resolution: int = DEFAULT_RESOLUTION) -> Counter[str]:
    """Count (lat, lon, time) points per H3 cell, for times in [start, end)."""
    if not 0 <= resolution <= 15:
        raise ValueError(f"H3 resolution must be 0..15, not {resolution}")
    counts: Counter[str] = Counter()
    for lat, lon, ts in points:
        if start <= ts < end:
            counts[h3.latlng_to_cell(lat, lon, resolution)] += 1
    return counts


def hexagons_geojson(counts: Counter[str]) -> dict[str, Any]:
    """A FeatureCollection of hexagon polygons with ``count`` and ``intensity`` (0..1]."""
    peak = max(counts.values(), default=0)
    features = []
    for cell, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        ring = [[round(lon, 6), round(lat, 6)] for lat, lon in h3.cell_to_boundary(cell)]
        ring.append(ring[0])
        lat, lon = h3.cell_to_latlng(cell)
        features.append({
            "type": "Feature",
            "id": cell,
            "properties": {"cell": cell, "count": count, "intensity": round(count / peak, 4),
                           "lat": round(lat, 6), "lon": round(lon, 6)},
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        })
    return {"type": "FeatureCollection", "features": features}


def incident_hotspots(incidents: Iterable[Incident], *, start: datetime, end: datetime,
                      resolution: int = DEFAULT_RESOLUTION) -> dict[str, Any]:
    """Hexagons of incidents reported in [start, end), as a GeoJSON FeatureCollection."""
    points = ((i.lat, i.lon, i.reported_at) for i in incidents)
    return hexagons_geojson(hexagon_counts(points, start=start, end=end, resolution=resolution))
