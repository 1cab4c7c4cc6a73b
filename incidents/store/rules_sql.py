"""Applying rule outcomes: incidents opened, updated or joined by the rules, with the journal."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg

from incidents.model import Incident, IncidentStatus, Level
from incidents.outcomes import Correlated, OpenIncident, Outcome, Rule, UpdateIncident
from incidents.store.incident_sql import (
    INCIDENT_COLUMNS,
    incident_from_row,
    insert_incident,
    journal,
)

_ACTOR = "rules"
_SEVERITY = {Level.I: 0, Level.II: 1, Level.III: 2, Level.IV: 3}


async def apply_outcomes(conn: asyncpg.Connection,
                         outcomes: Sequence[Outcome]) -> list[Incident]:
    """Apply outcomes in order; return the incidents they opened or changed."""
    changed: dict[str, Incident] = {}
    for outcome in outcomes:
        incident: Incident | None
        if isinstance(outcome, OpenIncident):
            incident = await _open(conn, outcome)
        elif isinstance(outcome, UpdateIncident):
            incident = await _update(conn, outcome)
        else:
            incident = await _correlate(conn, outcome)
        if incident is not None:
            changed[incident.id] = incident
    return list(changed.values())


async def _open(conn: asyncpg.Connection, outcome: OpenIncident) -> Incident:
    now = datetime.now(UTC)
    incident = Incident(
        id=str(uuid.uuid4()), type=outcome.type, level=outcome.level,
        status=IncidentStatus.REPORTED, title=outcome.title_zh[:120], lat=outcome.lat,
        lon=outcome.lon, reported_at=now, updated_at=now, agency=_ACTOR,
        source_report=outcome.evidence[0] if outcome.evidence else None,
    )
    await insert_incident(conn, incident)
    await conn.execute("UPDATE incidents SET rule_key = $1, rule = $2 WHERE id = $3",
                       outcome.key, outcome.rule.value, uuid.UUID(incident.id))
    if outcome.rule is Rule.REPORT:
        await conn.execute("UPDATE reports SET incident_id = $1 WHERE id = ANY($2::text[])",
                           uuid.UUID(incident.id), list(outcome.evidence))
    await journal(conn, incident.id, _ACTOR, "reported", {
        "rule": outcome.rule.value, "key": outcome.key, "title_en": outcome.title_en,
        "note_zh": outcome.note_zh, "note_en": outcome.note_en,
        "evidence": list(outcome.evidence), "level": outcome.level.value,
    })
    return incident


async def _open_by_key(conn: asyncpg.Connection, key: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {INCIDENT_COLUMNS} FROM incidents WHERE rule_key = $1 AND status <> 'closed'",
        key)
    return row


async def _update(conn: asyncpg.Connection, outcome: UpdateIncident) -> Incident | None:
    row = await _open_by_key(conn, outcome.key)
    if row is None:
        return None  # closed meanwhile by a person: the rules engine is told to forget it
    current = Level(row["level"])
    # Rules only ever raise the level: a leader may have escalated further by hand.
    level = outcome.level if _SEVERITY[outcome.level] < _SEVERITY[current] else current
    updated = await conn.fetchrow(
        f"UPDATE incidents SET level = $2, updated_at = now() WHERE id = $1"
        f" RETURNING {INCIDENT_COLUMNS}", row["id"], level.value)
    await journal(conn, str(row["id"]), _ACTOR, "rule_update", {
        "key": outcome.key, "change": outcome.change.value, "level": level.value,
        "note_zh": outcome.note_zh, "note_en": outcome.note_en,
        "evidence": list(outcome.evidence),
    })
    return incident_from_row(updated)


async def _correlate(conn: asyncpg.Connection, outcome: Correlated) -> Incident | None:
    row = await _open_by_key(conn, outcome.key)
    if row is None:
        return None
    await conn.execute("UPDATE reports SET incident_id = $1 WHERE id = $2", row["id"],
                       outcome.report_id)
    await journal(conn, str(row["id"]), _ACTOR, "correlated", {"report": outcome.report_id})
    return incident_from_row(row)
