"""Hotspots: incidents counted per H3 hexagon inside a time window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import h3
import pytest
import shapely
from shapely.geometry import shape

from incidents.model import Incident, IncidentStatus, Level
from maps.analysis.geodesy import area_m2
from maps.analysis.hotspots import hexagon_counts, incident_hotspots

NOW = datetime(2025, 7, 1, 12, 0, tzinfo=UTC)


def incident(n: int, lat: float, lon: float, minutes_ago: float) -> Incident:
    at = NOW - timedelta(minutes=minutes_ago)
    return Incident(id=f"i{n}", type="fire", level=Level.IV, status=IncidentStatus.REPORTED,
                    title="火灾", lat=lat, lon=lon, reported_at=at, updated_at=at,
                    agency="fire")


def test_counts_per_hexagon_in_the_window() -> None:
    incidents = [
        incident(1, 37.0700, 114.5000, 10),
        incident(2, 37.0701, 114.5001, 20),  # same block, a few metres away
        incident(3, 37.0699, 114.4999, 30),
        incident(4, 37.1800, 114.7700, 40),  # Renze
        incident(5, 37.0700, 114.5000, 300),  # before the window
        incident(6, 37.0700, 114.5000, -5),  # after it
    ]
    collection = incident_hotspots(incidents, start=NOW - timedelta(hours=1), end=NOW)
    features = collection["features"]
    assert [f["properties"]["count"] for f in features] == [3, 1]
    assert [f["properties"]["intensity"] for f in features] == [1.0, pytest.approx(0.3333)]
    city = shape(features[0]["geometry"])
    assert city.contains(shapely.Point(114.5000, 37.0700))
    assert features[0]["id"] == h3.latlng_to_cell(37.07, 114.5, 8)
    ring = features[0]["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) == 7
    assert area_m2(city) == pytest.approx(h3.cell_area(features[0]["id"], "m^2"), rel=0.01)


def test_resolution_changes_the_grouping() -> None:
    points = [(37.07, 114.50, NOW), (37.08, 114.51, NOW)]  # about 1.4 km apart
    fine = hexagon_counts(points, start=NOW, end=NOW + timedelta(seconds=1), resolution=9)
    coarse = hexagon_counts(points, start=NOW, end=NOW + timedelta(seconds=1), resolution=5)
    assert sorted(fine.values()) == [1, 1]
    assert list(coarse.values()) == [2]
    with pytest.raises(ValueError, match="resolution"):
        hexagon_counts(points, start=NOW, end=NOW, resolution=16)


def test_no_incidents_no_features() -> None:
    assert incident_hotspots([], start=NOW, end=NOW) == {"type": "FeatureCollection",
                                                         "features": []}
