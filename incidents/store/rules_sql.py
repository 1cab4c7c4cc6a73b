"""Applying rule outcomes: incidents opened, updated or joined by the rules, with the journal."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from incidents.journal import Event
from incidents.model import Incident, IncidentStatus, Level
from incidents.outcomes import Correlated, OpenIncident, Outcome, Rule, UpdateIncident
from incidents.store.incident_sql import (
    INCIDENT_COLUMNS,
    incident_from_row,
)

_ACTOR = "rules"
_SEVERITY = {Level.I: 0, Level.II: 1, Level.III: 2, Level.IV: 3}


async def apply_outcomes(conn: asyncpg.Connection, outcomes: Sequence[Outcome],
                         events: list[Event]) -> list[Incident]:
    """Apply outcomes in order; return the incidents changed; journal events go to `events`."""
    # Opens first, all in one statement (a busy batch can open hundreds): an update or a
    # correlation in the same batch always follows the open of its key, so it finds it.
    opens = [o for o in outcomes if isinstance(o, OpenIncident)]
    changed: dict[str, Incident] = {i.id: i for i in await _open_all(conn, opens, events)}
    for outcome in outcomes:
        incident: Incident | None
        if isinstance(outcome, UpdateIncident):
            incident = await _update(conn, outcome, events)
        elif isinstance(outcome, Correlated):
            incident = await _correlate(conn, outcome, events)
        else:
            continue
        if incident is not None:
            changed[incident.id] = incident
    return list(changed.values())


def opened(opens: Sequence[OpenIncident], now: datetime
           ) -> tuple[list[Incident], list[Event]]:
    """The incidents `opens` create and their journal events (nothing written yet)."""
    incidents = [
        Incident(id=str(uuid.uuid4()), type=o.type, level=o.level,
                 status=IncidentStatus.REPORTED, title=o.title_zh[:120], lat=o.lat, lon=o.lon,
                 reported_at=now, updated_at=now, agency=_ACTOR,
                 source_report=o.evidence[0] if o.evidence else None)
        for o in opens
    ]
    events = [Event(i.id, _ACTOR, "reported", {
        "rule": o.rule.value, "key": o.key, "title_en": o.title_en, "note_zh": o.note_zh,
        "note_en": o.note_en, "evidence": list(o.evidence), "level": o.level.value,
    }) for o, i in zip(opens, incidents, strict=True)]
    return incidents, events


def incident_arrays(incidents: Sequence[Incident], opens: Sequence[OpenIncident]
                    ) -> tuple[list[Any], ...]:
    """The columns of INCIDENT_COLUMNS, rule_key, rule as arrays, for `unnest`."""
    now = [i.reported_at for i in incidents]
    return ([uuid.UUID(i.id) for i in incidents], [i.type for i in incidents],
            [i.level.value for i in incidents], [i.status.value for i in incidents],
            [i.title for i in incidents], [i.lat for i in incidents],
            [i.lon for i in incidents], [i.agency for i in incidents],
            [i.source_report for i in incidents], now, now,
            [o.key for o in opens], [o.rule.value for o in opens])


INCIDENT_ROWS = (
    f"INSERT INTO incidents ({INCIDENT_COLUMNS}, rule_key, rule) SELECT * FROM unnest("
    "${0}::uuid[], ${1}::text[], ${2}::text[], ${3}::text[], ${4}::text[], ${5}::float8[],"
    " ${6}::float8[], ${7}::text[], ${8}::text[], ${9}::timestamptz[], ${10}::timestamptz[],"
    " ${11}::text[], ${12}::text[])")
"""Inserts incidents from `incident_arrays`; format with the first parameter's number
(`INCIDENT_ROWS.format(*range(n, n + 13))`)."""


async def _open_all(conn: asyncpg.Connection, opens: list[OpenIncident],
                    events: list[Event]) -> list[Incident]:
    if not opens:
        return []
    incidents, opened_events = opened(opens, datetime.now(UTC))
    ids = [uuid.UUID(i.id) for i in incidents]
    links = [(report, incident_id) for o, incident_id in zip(opens, ids, strict=True)
             if o.rule is Rule.REPORT for report in o.evidence]
    # One round trip: the incidents, and their first reports linked to them (the foreign
    # key is checked at the end of the statement, when the inserted rows are there).
    await conn.execute(
        f"WITH opened AS ({INCIDENT_ROWS.format(*range(1, 14))})"
        " UPDATE reports SET incident_id = x.incident FROM unnest($14::text[], $15::uuid[])"
        " AS x(report, incident) WHERE reports.id = x.report",
        *incident_arrays(incidents, opens), [r for r, _ in links], [i for _, i in links])
    events.extend(opened_events)
    return incidents


async def _open_by_key(conn: asyncpg.Connection, key: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {INCIDENT_COLUMNS} FROM incidents WHERE rule_key = $1 AND status <> 'closed'",
        key)
    return row


async def _update(conn: asyncpg.Connection, outcome: UpdateIncident,
                  events: list[Event]) -> Incident | None:
    row = await _open_by_key(conn, outcome.key)
    if row is None:
        return None  # closed meanwhile by a person: the rules engine is told to forget it
    current = Level(row["level"])
    # Rules only ever raise the level: a leader may have escalated further by hand.
    level = outcome.level if _SEVERITY[outcome.level] < _SEVERITY[current] else current
    updated = await conn.fetchrow(
        f"UPDATE incidents SET level = $2, updated_at = now() WHERE id = $1"
        f" RETURNING {INCIDENT_COLUMNS}", row["id"], level.value)
    events.append(Event(str(row["id"]), _ACTOR, "rule_update", {
        "key": outcome.key, "change": outcome.change.value, "level": level.value,
        "note_zh": outcome.note_zh, "note_en": outcome.note_en,
        "evidence": list(outcome.evidence),
    }))
    return incident_from_row(updated)


async def _correlate(conn: asyncpg.Connection, outcome: Correlated,
                     events: list[Event]) -> Incident | None:
    row = await _open_by_key(conn, outcome.key)
    if row is None:
        return None
    await conn.execute("UPDATE reports SET incident_id = $1 WHERE id = $2", row["id"],
                       outcome.report_id)
    events.append(Event(str(row["id"]), _ACTOR, "correlated", {"report": outcome.report_id}))
    return incident_from_row(row)
