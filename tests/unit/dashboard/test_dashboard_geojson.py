"""The pure shaping of units and incidents into GeoJSON and KPI numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.geojson import (
    AGENCY_COLOURS,
    OTHER_COLOUR,
    agency_colour,
    district_labels,
    incident_feature,
    incidents_collection,
    is_online,
    next_offline_at,
    unit_feature,
    units_collection,
)
from incidents.model import Incident, IncidentStatus, Level, UnitState

NOW = datetime(2025, 6, 1, 8, 0, 0, tzinfo=UTC)
ONLINE_S = 300


def unit(name: str, agency: str = "police", age_s: float = 10.0, unit_type: str | None = None,
         lat: float = 37.07, lon: float = 114.5) -> UnitState:
    return UnitState(unit=name, agency=agency, lat=lat, lon=lon,
                     ts=NOW - timedelta(seconds=age_s), speed=12.5, heading=90.0,
                     unit_type=unit_type)


def incident(ident: str, level: Level, minutes_ago: int = 5, title: str = "起火") -> Incident:
    reported = NOW - timedelta(minutes=minutes_ago)
    return Incident(id=ident, type="fire", level=level, status=IncidentStatus.REPORTED,
                    title=title, lat=37.1, lon=114.6, reported_at=reported, updated_at=reported,
                    agency="fire")


@pytest.mark.parametrize(("agency", "unit_type", "colour"), [
    ("police", None, AGENCY_COLOURS["police"]),
    ("fire", "fire_engine", AGENCY_COLOURS["fire"]),
    ("health", None, AGENCY_COLOURS["health"]),
    ("FIRE", None, AGENCY_COLOURS["fire"]),
    ("safety", "ambulance", AGENCY_COLOURS["health"]),
    ("water", "pump", OTHER_COLOUR),
    ("civil_defence", None, OTHER_COLOUR),
])
def test_agency_colour(agency: str, unit_type: str | None, colour: str) -> None:
    assert agency_colour(agency, unit_type) == colour


def test_agency_colours_are_blue_red_green_and_grey() -> None:
    assert AGENCY_COLOURS["police"] == "#3d8bfd"
    assert AGENCY_COLOURS["fire"] == "#ff4d4f"
    assert AGENCY_COLOURS["health"] == "#2ecc71"
    assert OTHER_COLOUR == "#9aa4b2"


def test_online_window_is_inclusive_and_future_fixes_count_as_online() -> None:
    assert is_online(unit("a", age_s=ONLINE_S), NOW, ONLINE_S)
    assert not is_online(unit("a", age_s=ONLINE_S + 0.001), NOW, ONLINE_S)
    assert is_online(unit("a", age_s=-30), NOW, ONLINE_S)


def test_unit_feature_carries_position_id_and_properties() -> None:
    feature = unit_feature(unit("P-01", unit_type="patrol_car", lat=37.25, lon=114.75), NOW,
                           ONLINE_S)
    assert feature == {
        "type": "Feature",
        "id": "P-01",
        "geometry": {"type": "Point", "coordinates": [114.75, 37.25]},
        "properties": {
            "id": "P-01", "unit": "P-01", "agency": "police", "unit_type": "patrol_car",
            "ts": "2025-06-01T07:59:50+00:00", "speed": 12.5, "heading": 90.0,
            "online": True, "colour": "#3d8bfd",
        },
    }


def test_units_collection_is_sorted_and_marks_offline_units() -> None:
    collection = units_collection([unit("B", age_s=600), unit("A"), unit("C", agency="fire")],
                                  NOW, ONLINE_S)
    assert collection["type"] == "FeatureCollection"
    assert [f["id"] for f in collection["features"]] == ["A", "B", "C"]
    assert [f["properties"]["online"] for f in collection["features"]] == [True, False, True]
    assert collection["features"][2]["properties"]["colour"] == "#ff4d4f"


def test_incident_feature_has_level_colour_and_iso_times() -> None:
    feature = incident_feature(incident("inc-1", Level.II, title="仓库起火"))
    assert feature["id"] == "inc-1"
    assert feature["geometry"] == {"type": "Point", "coordinates": [114.6, 37.1]}
    assert feature["properties"] == {
        "id": "inc-1", "type": "fire", "level": "II", "level_colour": "#f07c00",
        "level_zh": "重大", "status": "reported", "title": "仓库起火",
        "reported_at": "2025-06-01T07:55:00+00:00", "agency": "fire",
    }


def test_incidents_are_drawn_least_severe_first() -> None:
    collection = incidents_collection([
        incident("a", Level.I), incident("b", Level.IV), incident("c", Level.II),
        incident("d", Level.IV, minutes_ago=60),
    ])
    assert [f["id"] for f in collection["features"]] == ["d", "b", "c", "a"]


def test_next_offline_at_is_the_earliest_deadline_of_online_units() -> None:
    units = [unit("a", age_s=10), unit("b", age_s=200), unit("c", age_s=900)]
    assert next_offline_at(units, NOW, ONLINE_S) == NOW + timedelta(seconds=100)
    assert next_offline_at([unit("c", age_s=900)], NOW, ONLINE_S) is None
    assert next_offline_at([], NOW, ONLINE_S) is None


def test_district_labels_are_points_at_the_label_position() -> None:
    districts = {"type": "FeatureCollection", "features": [{
        "type": "Feature",
        "properties": {"code": "130502", "name": "襄都区", "name_en": "Xiangdu District",
                       "label_lat": 37.06959, "label_lon": 114.55774},
        "geometry": {"type": "Polygon", "coordinates": []},
    }]}
    assert district_labels(districts) == {"type": "FeatureCollection", "features": [{
        "type": "Feature", "id": "130502",
        "geometry": {"type": "Point", "coordinates": [114.55774, 37.06959]},
        "properties": {"code": "130502", "name": "襄都区", "name_en": "Xiangdu District"},
    }]}
