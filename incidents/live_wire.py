"""The compact wire form of live changes: what the live state publishes and browsers receive.

Units and incidents travel as JSON arrays, not objects, so a delta of 10,000 moving units stays
near 700 kB: field names are not repeated per row, coordinates keep five decimals (about 1 m)
and times are epoch milliseconds. Pure encoding and decoding, no I/O.
"""

from __future__ import annotations

from typing import Final

import msgspec

from incidents.model import Incident, UnitState

UnitRow = tuple[str, str, str | None, float, float, float | None, int, float | None]
"""A unit: [id, agency, kind (unit type), lat, lon, heading°, ts (epoch ms), speed m/s]."""

IncidentRow = tuple[str, str, str, str, str, float, float, int, int, str]
"""An incident: [id, type, level, status, title, lat, lon, reported (ms), updated (ms),
agency]."""

UNIT_FIELDS: Final = ("id", "agency", "kind", "lat", "lon", "heading", "ts", "speed")
"""Names of the UnitRow positions, for documentation and the browser."""
INCIDENT_FIELDS: Final = ("id", "type", "level", "status", "title", "lat", "lon", "reported",
                          "updated", "agency")
"""Names of the IncidentRow positions."""

_COORD_DECIMALS = 5  # 1e-5 degree is about 1.1 m: finer is noise for a wall map


class LiveSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """The whole live state at one version."""

    version: int
    """The live state's change counter when it was read."""
    units: list[UnitRow]
    """Every unit's latest position, by id."""
    incidents: list[IncidentRow]
    """Every open incident."""


class LiveDelta(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One change of the live state, as the apply script publishes it."""

    v: int
    """The version this change produced: one more than the previous change's."""
    u: list[UnitRow] = []
    """Units whose position changed (older fixes are never published)."""
    i: list[IncidentRow] = []
    """Incidents opened or changed."""
    r: list[str] = []
    """Ids of incidents closed (removed from the live state)."""
    rebuilt: bool = False
    """True when the whole state was rebuilt from PostgreSQL: re-read the snapshot."""


def _ms(value: float) -> int:
    return int(round(value * 1000))


def unit_row(unit: UnitState) -> UnitRow:
    """A unit as its compact row."""
    heading = float(round(unit.heading)) if unit.heading is not None else None
    speed = round(unit.speed, 1) if unit.speed is not None else None
    return (unit.unit, unit.agency, unit.unit_type, round(unit.lat, _COORD_DECIMALS),
            round(unit.lon, _COORD_DECIMALS), heading, _ms(unit.ts.timestamp()), speed)


def incident_row(incident: Incident) -> IncidentRow:
    """An incident as its compact row."""
    return (incident.id, incident.type, incident.level.value, incident.status.value,
            incident.title, round(incident.lat, _COORD_DECIMALS),
            round(incident.lon, _COORD_DECIMALS), _ms(incident.reported_at.timestamp()),
            _ms(incident.updated_at.timestamp()), incident.agency)


_encoder = msgspec.json.Encoder()
_delta_decoder = msgspec.json.Decoder(LiveDelta)


def encode_row(row: UnitRow | IncidentRow | str) -> bytes:
    """One row (or a removed incident's id) as JSON, for the apply script to splice."""
    return _encoder.encode(row)


def encode_delta(delta: LiveDelta) -> bytes:
    """A delta as JSON (the apply script builds the same text itself)."""
    return _encoder.encode(delta)


def decode_delta(data: bytes | str) -> LiveDelta:
    """Read a published delta; raises msgspec.DecodeError / ValidationError when malformed."""
    return _delta_decoder.decode(data)
