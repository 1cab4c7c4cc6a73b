"""Incident rows and their append-only journal: shared by every write path."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg

from incidents.model import Incident, IncidentStatus, Level

INCIDENT_COLUMNS = (
    "id, type, level, status, title, lat, lon, agency, source_report, reported_at, updated_at"
)


async def insert_incident(conn: asyncpg.Connection, incident: Incident) -> None:
    """Insert a new incident row."""
    await conn.execute(
        f"INSERT INTO incidents ({INCIDENT_COLUMNS}) VALUES"
        " ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        uuid.UUID(incident.id), incident.type, incident.level.value, incident.status.value,
        incident.title, incident.lat, incident.lon, incident.agency, incident.source_report,
        incident.reported_at, incident.updated_at,
    )


async def journal(conn: asyncpg.Connection, incident_id: str, actor: str, action: str,
                  data: dict[str, Any]) -> None:
    """Append one event to an incident's journal."""
    await conn.execute(
        "INSERT INTO incident_events (incident_id, actor, action, data)"
        " VALUES ($1, $2, $3, $4::jsonb)",
        uuid.UUID(incident_id), actor, action, json.dumps(data, ensure_ascii=False),
    )


async def journal_many(conn: asyncpg.Connection, incident_ids: Sequence[uuid.UUID], actor: str,
                       action: str, data: Sequence[dict[str, Any]]) -> None:
    """Append one event per incident, in one statement."""
    await conn.execute(
        "INSERT INTO incident_events (incident_id, actor, action, data)"
        " SELECT i, $2, $3, d FROM unnest($1::uuid[], $4::jsonb[]) AS x(i, d)",
        list(incident_ids), actor, action,
        [json.dumps(d, ensure_ascii=False) for d in data],
    )


def incident_from_row(r: asyncpg.Record) -> Incident:
    """An incident from a row with INCIDENT_COLUMNS."""
    return Incident(
        id=str(r["id"]), type=r["type"], level=Level(r["level"]),
        status=IncidentStatus(r["status"]), title=r["title"], lat=r["lat"], lon=r["lon"],
        reported_at=r["reported_at"], updated_at=r["updated_at"], agency=r["agency"],
        source_report=r["source_report"],
    )
