"""Pure shaping of live state for the map: units and incidents to GeoJSON.

No I/O and no Dash here: domain objects in, plain JSON-ready dicts out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from incidents.lang import Lang
from incidents.model import Incident, Level, UnitState

Feature = dict[str, Any]
FeatureCollection = dict[str, Any]

OTHER_COLOUR = "#9aa4b2"
"""Colour of units of agencies without their own colour."""

AGENCY_COLOURS: Mapping[str, str] = {
    "police": "#3d8bfd",
    "fire": "#ff4d4f",
    "health": "#2ecc71",
}
"""Marker colour by agency: police blue, fire red, health green; the rest grey."""

_GREEN_UNIT_TYPES = frozenset({"ambulance"})
"""Unit types drawn green whatever their agency (an ambulance is an ambulance)."""


def agency_colour(agency: str, unit_type: str | None = None) -> str:
    """The marker colour of a unit of `agency` (and, optionally, of `unit_type`)."""
    if unit_type is not None and unit_type.lower() in _GREEN_UNIT_TYPES:
        return AGENCY_COLOURS["health"]
    return AGENCY_COLOURS.get(agency.lower(), OTHER_COLOUR)


def is_online(unit: UnitState, now: datetime, online_s: int) -> bool:
    """True when the unit's last fix is at most `online_s` seconds old (or in the future)."""
    return now - unit.ts <= timedelta(seconds=online_s)


def unit_feature(unit: UnitState, now: datetime, online_s: int) -> Feature:
    """One unit as a GeoJSON Point feature whose `id` is the call sign."""
    return {
        "type": "Feature",
        "id": unit.unit,
        "geometry": {"type": "Point", "coordinates": [unit.lon, unit.lat]},
        "properties": {
            "id": unit.unit,
            "unit": unit.unit,
            "agency": unit.agency,
            "unit_type": unit.unit_type,
            "ts": unit.ts.isoformat(),
            "speed": unit.speed,
            "heading": unit.heading,
            "online": is_online(unit, now, online_s),
            "colour": agency_colour(unit.agency, unit.unit_type),
        },
    }


def units_collection(units: Iterable[UnitState], now: datetime, online_s: int) -> FeatureCollection:
    """The units as a FeatureCollection, sorted by call sign so the output is stable."""
    ordered = sorted(units, key=lambda u: u.unit)
    return {"type": "FeatureCollection",
            "features": [unit_feature(u, now, online_s) for u in ordered]}


def incident_feature(incident: Incident) -> Feature:
    """One incident as a GeoJSON Point feature whose `id` is the incident id."""
    return {
        "type": "Feature",
        "id": incident.id,
        "geometry": {"type": "Point", "coordinates": [incident.lon, incident.lat]},
        "properties": {
            "id": incident.id,
            "type": incident.type,
            "level": incident.level.value,
            "level_colour": incident.level.colour,
            "level_zh": incident.level.label_zh,
            "status": incident.status.value,
            "title": incident.title,
            "reported_at": incident.reported_at.isoformat(),
            "agency": incident.agency,
        },
    }


_SEVERITY_ORDER = {level: rank for rank, level in enumerate(Level)}


def incidents_collection(incidents: Iterable[Incident]) -> FeatureCollection:
    """The incidents as a FeatureCollection, least severe first so level I is drawn on top."""
    ordered = sorted(incidents, key=lambda i: (-_SEVERITY_ORDER[i.level], i.reported_at, i.id))
    return {"type": "FeatureCollection", "features": [incident_feature(i) for i in ordered]}


def next_offline_at(units: Iterable[UnitState], now: datetime, online_s: int) -> datetime | None:
    """When the next online unit turns offline if nothing moves, or None if none is online.

    The map must redraw then even though the live state did not change.
    """
    window = timedelta(seconds=online_s)
    deadlines = [u.ts + window for u in units if is_online(u, now, online_s)]
    return min(deadlines) if deadlines else None


def district_labels(districts: Mapping[str, Any], lang: Lang | None = None
                    ) -> FeatureCollection:
    """Label points (the `label_lat`/`label_lon` of each district) for the names on the map:
    `name` in `lang` (no `name_en`), or both names for None (the wall shows both)."""
    features: list[Feature] = []
    for district in districts["features"]:
        props = district["properties"]
        zh, en = str(props["name"]), str(props.get("name_en") or "")
        names = {"name": zh, "name_en": en} if lang is None else {
            "name": (en or zh) if lang is Lang.EN else zh, "name_en": ""}
        features.append({
            "type": "Feature",
            "id": str(props["code"]),
            "geometry": {"type": "Point",
                         "coordinates": [float(props["label_lon"]), float(props["label_lat"])]},
            "properties": {"code": str(props["code"]), **names},
        })
    return {"type": "FeatureCollection", "features": features}
