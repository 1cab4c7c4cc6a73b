"""Incident rows and their append-only journal: shared by every write path."""

from __future__ import annotations

import uuid

import asyncpg

from incidents.geo import snap_degrees
from incidents.model import Incident, IncidentStatus, Level

INCIDENT_COLUMNS = (
    "id, type, level, status, title, lat, lon, agency, source_report, reported_at, updated_at"
)


async def insert_incident(conn: asyncpg.Connection, incident: Incident) -> None:
    """Insert a new incident row (coordinates within a hair of 0 stored as 0: snap_degrees)."""
    await conn.execute(
        f"INSERT INTO incidents ({INCIDENT_COLUMNS}) VALUES"
        " ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        uuid.UUID(incident.id), incident.type, incident.level.value, incident.status.value,
        incident.title, snap_degrees(incident.lat), snap_degrees(incident.lon),
        incident.agency, incident.source_report, incident.reported_at, incident.updated_at,
    )


def incident_from_row(r: asyncpg.Record) -> Incident:
    """An incident from a row with INCIDENT_COLUMNS."""
    return Incident(
        id=str(r["id"]), type=r["type"], level=Level(r["level"]),
        status=IncidentStatus(r["status"]), title=r["title"], lat=r["lat"], lon=r["lon"],
        reported_at=r["reported_at"], updated_at=r["updated_at"], agency=r["agency"],
        source_report=r["source_report"],
    )
